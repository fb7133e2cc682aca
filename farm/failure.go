package farm

import (
	"context"
	"errors"

	"github.com/hashicorp/go-multierror"
)

// FailurePolicy says what a run does when a step fails.
type FailurePolicy string

// Failure policies.
const (
	// Halt stops the run and leaves the farm as the failed step left it,
	// which the balanced plan keeps safe: traffic only on verified servers.
	// The report and the journal say where to resume. The default.
	Halt FailurePolicy = "halt"
	// Rollback compensates the failed step and every completed step in
	// reverse order (each step's Undo), ending with the farm as it was.
	Rollback FailurePolicy = "rollback"
	// Ask calls PlanConfig.Ask, which decides: retry, exclude the failing
	// servers, roll back or halt.
	Ask FailurePolicy = "ask"
)

// Decision is what an ask callback decides about a failure.
type Decision string

// Decisions.
const (
	// DecideRetry runs the failed step again after the backoff of
	// PlanConfig.Retry (as for a transient driver error); the retries
	// count against its MaxAttempts, after which the run halts.
	DecideRetry Decision = "retry"
	// DecideExclude takes the failing servers out of the run (and out of
	// new traffic: their members are set draining, or left out if they
	// are out), then runs the step again
	// without them. The report lists them; the operator finishes them by
	// hand. It is refused on steps that are not Excludable, when a member
	// cannot be set draining, and when a group would be left empty or below
	// the capacity floor: the run then halts.
	DecideExclude Decision = "exclude"
	// DecideRollback rolls the run back as the Rollback policy does.
	DecideRollback Decision = "rollback"
	// DecideHalt halts the run, as the Halt policy does. Any decision
	// that is not one of the others halts too.
	DecideHalt Decision = "halt"

	// DecideAbort halts the run, as DecideHalt does (it never aborts a
	// platform deployment).
	//
	// Deprecated: use DecideHalt, whose name says what it does.
	DecideAbort Decision = "abort"
)

// Failure is what an ask callback is told.
type Failure struct {
	// Step is the ID of the step that failed.
	Step string
	// Err is the step's error.
	Err error
	// Servers lists the servers whose actions failed, if any.
	Servers []string
	// Attempt counts how many times the step has been tried in this run,
	// this try included (1 for the first failure). A DecideRetry at
	// PlanConfig.Retry.MaxAttempts is refused and the run halts.
	Attempt int
}

// AskFunc decides what to do about a failure. It may block (waiting for a
// person) and must return when ctx ends.
type AskFunc func(ctx context.Context, f Failure) Decision

// failedServers lists the servers named by the outermost StepErrors in err.
func failedServers(err error) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) { //nolint:errorlint // walks the error tree itself, one level at a time
		case nil:
		case *multierror.Error:
			for _, y := range x.Errors {
				walk(y)
			}
		case *StepError:
			if x.Server != "" && !seen[x.Server] {
				seen[x.Server] = true
				out = append(out, x.Server)
			}
		case interface{ Unwrap() []error }:
			for _, y := range x.Unwrap() {
				walk(y)
			}
		default:
			walk(errors.Unwrap(e))
		}
	}
	walk(err)
	return out
}
