package farm

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/hashicorp/go-multierror"
)

// Outcome is how a run ended; the journal records it too
// ([journal.Outcome]).
type Outcome = journal.Outcome

// Outcomes.
const (
	// Succeeded: every step completed.
	Succeeded = journal.Succeeded
	// Halted: a step failed or the run was cancelled; the farm was left in
	// a safe state and the run can be resumed from Report.ResumeFrom.
	Halted = journal.Halted
	// RolledBack: a step failed and the completed steps were compensated.
	RolledBack = journal.RolledBack
)

// StepStatus is where one step stands.
type StepStatus string

// Step statuses.
const (
	StepPending StepStatus = "pending"
	StepRunning StepStatus = "running"
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
	// StepAlreadyDone ("skipped"): the step was confirmed done by an
	// earlier run, so this one skipped it (and emitted an [event.StepSkipped]
	// event).
	StepAlreadyDone StepStatus = "skipped"
	// StepUndone: the step was compensated by a rollback.
	StepUndone StepStatus = "undone"

	// StepSkippedDone is the former name of StepAlreadyDone.
	//
	// Deprecated: use StepAlreadyDone.
	StepSkippedDone = StepAlreadyDone
)

// ActionReport is the record of one action of a step: one server, or one
// zone for actions on a load balancer or the platform.
type ActionReport struct {
	Zone     string    `json:"zone,omitempty"`
	Server   string    `json:"server,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error,omitempty"`
}

// StepReport is the record of one step.
type StepReport struct {
	ID       string         `json:"id"`
	Status   StepStatus     `json:"status"`
	Started  time.Time      `json:"started,omitzero"`
	Finished time.Time      `json:"finished,omitzero"`
	Error    string         `json:"error,omitempty"`
	Actions  []ActionReport `json:"actions,omitempty"`
	// Failures lists, once each, the servers (or zones) the step's error
	// names, each with its own error: all of them, where Error's text
	// lists only the first [MaxListedErrors] (a step that times out
	// waiting for 2000 servers has 2000 failures, and an Error of a few
	// kilobytes). Empty when the step did not fail on named servers.
	Failures []ServerFailure `json:"failures,omitempty"`
}

// Report is the record of a run: every step and every action, and where the
// run stopped.
type Report struct {
	Started  time.Time    `json:"started"`
	Finished time.Time    `json:"finished"`
	Outcome  Outcome      `json:"outcome"`
	Steps    []StepReport `json:"steps"`
	// FailedStep is the ID of the step that failed, if any.
	FailedStep string `json:"failed_step,omitempty"`
	// ResumeFrom is the first step not confirmed done, empty after success.
	ResumeFrom string `json:"resume_from,omitempty"`
	// Error is the run's error text, empty after success.
	Error string `json:"error,omitempty"`
	// RollbackStarted is when the rollback began, zero when there was none.
	// From then on, clients are meant to go back to the previous version.
	RollbackStarted time.Time `json:"rollback_started,omitzero"`
	// Excluded lists servers taken out of the run by an Ask decision.
	Excluded []string `json:"excluded,omitempty"`
	// Drifts lists every change of an established state the run's guards
	// saw (Step.Guards), repaired or not.
	Drifts []Drift `json:"drifts,omitempty"`

	mu sync.Mutex
}

// Step returns the report of the step with the given ID.
func (r *Report) Step(id string) (StepReport, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return StepReport{}, false
}

func (r *Report) update(id string, f func(*StepReport)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			f(&r.Steps[i])
			return
		}
	}
}

// Write prints the report as plain text, one line per step, with each failed
// action underneath.
func (r *Report) Write(w io.Writer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ew := &errWriter{w: w}
	ew.printf("outcome: %s (%s)\n", r.Outcome, r.Finished.Sub(r.Started).Round(time.Millisecond))
	for _, s := range r.Steps {
		d := ""
		if !s.Started.IsZero() && !s.Finished.IsZero() {
			d = " " + s.Finished.Sub(s.Started).Round(time.Millisecond).String()
		}
		ew.printf("  %-26s %-8s%s\n", s.ID, s.Status, d)
		// Each failed action, then each failure no action names,
		// MaxListedErrors of them at most: the JSON has every one.
		type line struct{ name, msg string }
		var lines []line
		named := map[string]bool{}
		for _, a := range s.Actions {
			if a.Error != "" {
				lines = append(lines, line{actionName(a), a.Error})
				named[actionName(a)] = true
			}
		}
		for _, f := range s.Failures {
			if name := actionName(ActionReport{Zone: f.Zone, Server: f.Server}); !named[name] {
				lines = append(lines, line{name, f.Error})
			}
		}
		for _, l := range lines[:min(len(lines), MaxListedErrors)] {
			ew.printf("      %s: %s\n", l.name, l.msg)
		}
		if more := len(lines) - MaxListedErrors; more > 0 {
			ew.printf("      and %s more (every one is in the JSON report)\n", thousands(more))
		}
	}
	for i, d := range r.Drifts[:min(len(r.Drifts), MaxListedErrors)] {
		if i == 0 {
			ew.printf("drifts:\n")
		}
		how := "not repaired"
		if d.Repaired {
			how = "repaired"
		}
		where := d.Zone
		if d.Server != "" {
			where = d.Server
		}
		ew.printf("  %s %s %s (%s): %s\n", d.Step, d.Guard, where, how, d.What)
	}
	if more := len(r.Drifts) - MaxListedErrors; more > 0 {
		ew.printf("  and %s more (every one is in the JSON report)\n", thousands(more))
	}
	if r.Error != "" {
		ew.printf("error: %s\n", r.Error)
	}
	if r.ResumeFrom != "" {
		ew.printf("resume from: %s\n", r.ResumeFrom)
	}
	return ew.err
}

func actionName(a ActionReport) string {
	switch {
	case a.Server != "":
		return "server " + a.Server
	case a.Zone != "":
		return "zone " + a.Zone
	}
	return "action"
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// ServerFailure is one server's (or zone's) share of a failed step: the error of
// its own action or wait, without the other servers'.
type ServerFailure struct {
	Zone   string `json:"zone,omitempty"`
	Server string `json:"server,omitempty"`
	Error  string `json:"error"`
}

// failures lists the outermost StepErrors in err that name a server or a
// zone, once per server (or zone), in the order of err.
func failures(err error) []ServerFailure {
	var out []ServerFailure
	seen := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) { //nolint:errorlint // the walk unwraps itself, outermost StepError first
		case nil:
		case *multierror.Error:
			for _, y := range x.Errors {
				walk(y)
			}
		case *StepError:
			if x.Server == "" && x.Zone == "" {
				walk(x.Err)
				return
			}
			key := x.Zone + "\x00" + x.Server
			if !seen[key] {
				seen[key] = true
				out = append(out, ServerFailure{Zone: x.Zone, Server: x.Server, Error: errorLine(x)})
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
