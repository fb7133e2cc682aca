package farm

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Outcome is how a run ended.
type Outcome string

// Outcomes.
const (
	// Succeeded: every step completed.
	Succeeded Outcome = "succeeded"
	// Halted: a step failed or the run was cancelled; the farm was left in
	// a safe state and the run can be resumed from Report.ResumeFrom.
	Halted Outcome = "halted"
	// RolledBack: a step failed and the completed steps were compensated.
	RolledBack Outcome = "rolled-back"
)

// StepStatus is where one step stands.
type StepStatus string

// Step statuses.
const (
	StepPending StepStatus = "pending"
	StepRunning StepStatus = "running"
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
	// StepSkippedDone: the step was confirmed done by an earlier run.
	StepSkippedDone StepStatus = "skipped"
	// StepUndone: the step was compensated by a rollback.
	StepUndone StepStatus = "undone"
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
		for _, a := range s.Actions {
			if a.Error != "" {
				ew.printf("      %s: %s\n", actionName(a), a.Error)
			}
		}
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
