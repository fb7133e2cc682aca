package farm

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrHalted is wrapped by the error [Plan.Run] returns when a step failed
	// and the run stopped, leaving the farm in a safe state. The [Report]
	// says which step failed and where to resume.
	ErrHalted = errors.New("run halted")
	// ErrRolledBack is wrapped by the error [Plan.Run] returns when a step
	// failed and the run was rolled back (PlanConfig.OnFailure Rollback):
	// the farm is as it was before the run.
	ErrRolledBack = errors.New("run rolled back")
	// ErrUnfinishedRun is returned by [Plan.Run] when the file journal's
	// last run did not finish (it crashed, halted or was rolling back):
	// resume it with [Plan.Resume] instead.
	ErrUnfinishedRun = errors.New("the journal's last run did not finish")
	// ErrHookFailed is wrapped by errors that come from a hook.
	ErrHookFailed = errors.New("hook failed")
	// ErrUnknownStep is returned when a step ID names no step of the plan.
	ErrUnknownStep = errors.New("unknown step")
)

// StepError is an error of one step, and of one server or zone when the step
// acted on several. Errors of a fan-out are aggregated with
// github.com/hashicorp/go-multierror, each a *StepError.
type StepError struct {
	// Step is the step ID.
	Step string
	// Zone is the zone the failing action concerned, if any.
	Zone string
	// Server is the server the failing action concerned, if any.
	Server string
	// Attempts is how many times the action was tried.
	Attempts int
	// Err is the underlying error.
	Err error
}

// Error describes the failure with its step, zone and server.
func (e *StepError) Error() string {
	msg := "step " + e.Step
	if e.Zone != "" {
		msg += ": zone " + e.Zone
	}
	if e.Server != "" {
		msg += ": server " + e.Server
	}
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return msg + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *StepError) Unwrap() error { return e.Err }
