package farm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	// ErrUnfinishedRun is returned by [Plan.Run] when the journal's
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

// MaxListedErrors is how many errors [FormatErrors] prints before it
// summarises the rest ("and 1,990 more servers"). The error value keeps
// every one (its Errors field), and a failed step's report lists every
// server's failure once (StepReport.Failures).
const MaxListedErrors = 10

// FormatErrors is the ErrorFormat the engine gives the errors it aggregates
// (a *multierror.Error of one *StepError per server or zone): go-multierror's
// list ("2 errors occurred:" then one "* " line each), cut after
// MaxListedErrors entries with one line saying how many more there are, so
// that the text of a step failing on 2000 servers stays a few kilobytes
// (the run's error, the report and the journal all hold that text). Steps
// that aggregate errors themselves set it too:
//
//	merr.ErrorFormat = farm.FormatErrors
func FormatErrors(es []error) string {
	if len(es) == 1 {
		return fmt.Sprintf("1 error occurred:\n\t* %s\n\n", es[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors occurred:", len(es))
	for _, err := range es[:min(len(es), MaxListedErrors)] {
		b.WriteString("\n\t* ")
		b.WriteString(err.Error())
	}
	if more := len(es) - MaxListedErrors; more > 0 {
		fmt.Fprintf(&b, "\n\t* and %s more %s", thousands(more), moreNoun(es[MaxListedErrors:]))
	}
	b.WriteString("\n\n")
	return b.String()
}

// thousands renders n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// moreNoun names what the unlisted rest of an error list is: "servers" when
// every one is a server's StepError, else "errors".
func moreNoun(rest []error) string {
	for _, err := range rest {
		if se, ok := err.(*StepError); !ok || se.Server == "" { //nolint:errorlint // the list's own entries, not what they wrap
			return "errors"
		}
	}
	return "servers"
}
