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
	// servers, roll back or abort.
	Ask FailurePolicy = "ask"
)

// Decision is what an ask callback decides about a failure.
type Decision string

// Decisions.
const (
	// Retry runs the failed step again.
	Retry Decision = "retry"
	// Exclude takes the failing servers out of the run (and out of
	// traffic: they are drained), then runs the step again without them.
	// The report lists them; the operator finishes them by hand.
	Exclude Decision = "exclude"
	// RollBack rolls the run back as the Rollback policy does.
	RollBack Decision = "rollback"
	// Abort halts, as the Halt policy does.
	Abort Decision = "abort"
)

// Failure is what an ask callback is told.
type Failure struct {
	// Step is the ID of the step that failed.
	Step string
	// Err is the step's error.
	Err error
	// Servers lists the servers whose actions failed, if any.
	Servers []string
	// Attempt counts how many times the step has been tried in this run.
	Attempt int
}

// AskFunc decides what to do about a failure. It may block (waiting for a
// person) and must return when ctx ends.
type AskFunc func(ctx context.Context, f Failure) Decision

// failedServers lists the servers named by the StepErrors in err.
func failedServers(err error) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		var merr *multierror.Error
		if errors.As(e, &merr) {
			for _, x := range merr.Errors {
				walk(x)
			}
			return
		}
		var se *StepError
		if errors.As(e, &se) && se.Server != "" && !seen[se.Server] {
			seen[se.Server] = true
			out = append(out, se.Server)
		}
	}
	walk(err)
	return out
}
