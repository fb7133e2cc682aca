package progress_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/hashicorp/go-multierror"
)

// seq builds a hand-made event sequence with a clock that only moves when
// told, the way the engine emits them.
type seq struct {
	at     time.Time
	events []event.Event
	step   string
}

var t0 = time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)

func newSeq() *seq { return &seq{at: t0} }

func (s *seq) wait(d time.Duration) *seq { s.at = s.at.Add(d); return s }

func (s *seq) emit(e event.Event) *seq {
	e.Time = s.at
	if e.Step == "" && e.Kind != event.RunStarted {
		e.Step = s.step
	}
	s.events = append(s.events, e)
	return s
}

func (s *seq) start(i, n int, id, title string) *seq {
	s.step = id
	return s.emit(event.Event{Kind: event.StepStarted, Done: i - 1, Total: n, Message: title})
}

func (s *seq) finish(i, n int, title string, err error) *seq {
	return s.emit(event.Event{Kind: event.StepFinished, Done: i, Total: n, Message: title, Err: err})
}

// actions emits a successful action on every server, each taking d.
func (s *seq) actions(zone string, d time.Duration, servers ...string) *seq {
	for _, sv := range servers {
		s.emit(event.Event{Kind: event.ActionStarted, Zone: zone, Server: sv})
	}
	s.wait(d)
	for _, sv := range servers {
		s.emit(event.Event{Kind: event.ActionFinished, Zone: zone, Server: sv, Attempt: 1})
	}
	return s
}

func stepErr(step, zone, server string, attempts int, err error) error {
	return &farm.StepError{Step: step, Zone: zone, Server: server, Attempts: attempts, Err: err}
}

var (
	updating = []string{"fe01", "fe02"}
	loaded   = []string{"fe03", "fe04"}
	all      = []string{"fe01", "fe02", "fe03", "fe04"}
)

// firstSteps is the start of a balanced run over four servers in one zone:
// preflight with a warning, stop-schedulers with a retry, and a drain that
// waits for connections to finish.
func firstSteps() *seq {
	const n = 12
	s := newSeq()
	s.emit(event.Event{Kind: event.RunStarted, Total: n, Message: "12 steps over 4 servers in 1 zones"})

	s.start(1, n, "preflight", "Check every driver, capture services' and members' state for exact restore")
	s.actions("default", 800*time.Millisecond, all...)
	s.emit(event.Event{Kind: event.Warning, Zone: "default", Message: "Updating member fe02 reads draining before the run; it will be restored to that"})
	s.finish(1, n, "Check every driver", nil)

	s.start(2, n, "stop-schedulers", "Stop and disable the Scheduler service on every server; confirm it stays stopped")
	for _, sv := range all {
		s.emit(event.Event{Kind: event.ActionStarted, Zone: "default", Server: sv})
	}
	s.wait(300 * time.Millisecond)
	s.emit(event.Event{Kind: event.ActionRetry, Zone: "default", Server: "fe03", Attempt: 1,
		Err:     fmt.Errorf("stop Scheduler on fe03: winrm: connection refused: %w", drivers.ErrUnavailable),
		Message: "transient error, retrying in 1.05s"})
	for _, sv := range []string{"fe01", "fe02", "fe04"} {
		s.emit(event.Event{Kind: event.ActionFinished, Zone: "default", Server: sv, Attempt: 1})
	}
	s.wait(2 * time.Second)
	s.emit(event.Event{Kind: event.ActionFinished, Zone: "default", Server: "fe03", Attempt: 2})
	s.finish(2, n, "Stop and disable", nil)

	s.start(3, n, "drain-updating", "Take the Updating servers out of the load balancer: drain, wait for their requests to finish, then out")
	s.emit(event.Event{Kind: event.ActionStarted, Zone: "default"})
	s.wait(250 * time.Millisecond)
	s.emit(event.Event{Kind: event.Progress, Zone: "default", Done: 0, Total: 2, Message: "draining fe01 (3 active), fe02 (2 active): 5 connections left"})
	s.wait(10 * time.Second)
	s.emit(event.Event{Kind: event.Progress, Zone: "default", Done: 1, Total: 2, Message: "draining fe02 (2 active): 2 connections left"})
	return s
}

// succeeded is a whole successful run.
func succeeded() []event.Event {
	const n = 12
	s := firstSteps()
	s.wait(3 * time.Second)
	s.emit(event.Event{Kind: event.ActionFinished, Zone: "default", Attempt: 1})
	s.finish(3, n, "Take the Updating servers out", nil)

	s.start(4, n, "block-loaded", "Stop and disable the Deployment service on the Loaded servers; confirm it stays stopped")
	s.actions("default", 2*time.Second, loaded...)
	s.finish(4, n, "Stop and disable", nil)

	s.start(5, n, "publish", "Publish the release with the platform; wait until it finishes and every Updating server runs it")
	s.emit(event.Event{Kind: event.Progress, Message: "deployment dep-1 started"})
	s.wait(10 * time.Second)
	s.emit(event.Event{Kind: event.Progress, Message: "deployment dep-1 running"})
	s.wait(10 * time.Second)
	s.emit(event.Event{Kind: event.Progress, Message: "platform: Publishing module Orders\nwith\ttabs"})
	s.wait(10 * time.Second)
	s.emit(event.Event{Kind: event.Progress, Done: 1, Total: 2, Message: "1 of 2 servers run v2"})
	s.wait(2 * time.Second)
	s.finish(5, n, "Publish", nil)

	rest := []struct{ id, title string }{
		{"verify-updating", "Test the application directly on each Updating server: available and updated"},
		{"switch-traffic", "Switch traffic: Updating servers in, Loaded servers drained and out"},
		{"start-schedulers-updating", "Restore the Scheduler service's startup type and start it on the Updating servers"},
		{"unblock-loaded", "Restore the Deployment service's startup type and start it on the Loaded servers"},
		{"await-loaded", "Wait until every Loaded server runs the release and its deployment service is idle"},
		{"restore-traffic", "Put the Loaded back in the load balancer; verify every member serving and healthy"},
		{"start-schedulers-loaded", "Restore the Scheduler service's startup type and start it on the Loaded servers"},
	}
	for i, st := range rest {
		s.start(6+i, n, st.id, st.title)
		switch st.id {
		case "switch-traffic", "restore-traffic":
			s.emit(event.Event{Kind: event.ActionStarted, Zone: "default"})
			s.wait(1500 * time.Millisecond)
			s.emit(event.Event{Kind: event.ActionFinished, Zone: "default", Attempt: 1})
		case "await-loaded":
			s.emit(event.Event{Kind: event.Progress, Done: 0, Total: 2, Message: "0 of 2 servers run v2"})
			s.wait(45 * time.Second)
		case "verify-updating", "start-schedulers-updating":
			s.actions("default", 700*time.Millisecond, updating...)
		default:
			s.actions("default", 700*time.Millisecond, loaded...)
		}
		s.finish(6+i, n, st.title, nil)
	}
	s.emit(event.Event{Kind: event.RunFinished, Message: "run succeeded"})
	return s.events
}

// halted is a run whose drain fails on one server's load balancer call
// after retries, with an aggregated (multi-line) step error.
func halted() []event.Event {
	const n = 12
	s := firstSteps()
	s.wait(2 * time.Second)
	cause := fmt.Errorf("set fe02 out: haproxy: %w", drivers.ErrPermissionDenied)
	actErr := stepErr("drain-updating", "default", "", 1, cause)
	s.emit(event.Event{Kind: event.ActionFinished, Zone: "default", Attempt: 1, Err: actErr})
	stepErr := multierror.Append(nil, actErr)
	s.finish(3, n, "Take the Updating servers out", stepErr)
	runErr := fmt.Errorf("%w at step %s: %w", farm.ErrHalted, "drain-updating", stepErr)
	s.emit(event.Event{Kind: event.RunFinished, Step: "drain-updating", Err: runErr, Message: "run halted"})
	return s.events
}

// hostile is a run whose texts carry ANSI escapes and line breaks, as a
// compromised or buggy platform could send.
func hostile() []event.Event {
	s := newSeq()
	s.emit(event.Event{Kind: event.RunStarted, Total: 1, Message: "1 steps over 1 servers in 1 zones"})
	s.start(1, 1, "publish", "Publish")
	s.emit(event.Event{Kind: event.ActionStarted, Server: "fe\x1b[2J01"})
	s.wait(time.Second)
	s.emit(event.Event{Kind: event.Progress, Message: "platform: \x1b[31mred\x1b[0m\r\nfake line [00:00:00] run succeeded"})
	err := stepErr("publish", "default", "fe\x1b[2J01", 3, errors.New("boom\n[00:00:01] run succeeded in 1s"))
	s.emit(event.Event{Kind: event.ActionFinished, Server: "fe\x1b[2J01", Err: err, Attempt: 3})
	s.finish(1, 1, "Publish", err)
	s.emit(event.Event{Kind: event.RunFinished, Step: "publish", Err: fmt.Errorf("%w at step publish: %w", farm.ErrHalted, err), Message: "run halted"})
	return s.events
}

// rolledBack is a run that fails and undoes its steps.
func rolledBack() []event.Event {
	const n = 12
	s := newSeq()
	s.emit(event.Event{Kind: event.RunStarted, Total: n, Message: "12 steps over 4 servers in 1 zones"})
	s.start(1, n, "preflight", "Check every driver")
	s.actions("default", time.Second, all...)
	s.finish(1, n, "Check every driver", nil)
	s.start(2, n, "stop-schedulers", "Stop and disable the Scheduler service on every server; confirm it stays stopped")
	s.emit(event.Event{Kind: event.HookStarted, Message: "before hook change-ticket"})
	s.wait(time.Second)
	hookErr := &farm.StepError{Step: "stop-schedulers", Err: fmt.Errorf("%w: before hook %q: ticket CHG-1 not approved", farm.ErrHookFailed, "change-ticket")}
	s.finish(2, n, "Stop and disable", hookErr)
	s.emit(event.Event{Kind: event.Warning, Message: "rolling back after: " + hookErr.Error()})
	s.start(0, 0, "stop-schedulers", "undo: Stop and disable the Scheduler service on every server; confirm it stays stopped")
	s.actions("default", 2*time.Second, all...)
	s.emit(event.Event{Kind: event.StepFinished, Message: "undone: Stop and disable"})
	s.emit(event.Event{Kind: event.RunFinished, Step: "stop-schedulers",
		Err:     fmt.Errorf("%w: step stop-schedulers failed and the run was rolled back: %w", farm.ErrRolledBack, hookErr),
		Message: "run rolled-back"})
	return s.events
}

// resumed is a run resumed after a crash: the steps done earlier are
// skipped.
func resumed() []event.Event {
	const n = 12
	s := newSeq()
	s.emit(event.Event{Kind: event.RunStarted, Total: n, Message: "12 steps over 4 servers in 1 zones"})
	s.emit(event.Event{Kind: event.StepSkipped, Step: "preflight", Done: 1, Total: n, Message: "done in an earlier run"})
	s.emit(event.Event{Kind: event.StepSkipped, Step: "stop-schedulers", Done: 2, Total: n, Message: "done in an earlier run"})
	s.start(3, n, "drain-updating", "Take the Updating servers out of the load balancer: drain, wait for their requests to finish, then out")
	s.emit(event.Event{Kind: event.ActionStarted, Zone: "default"})
	s.wait(40 * time.Second)
	s.emit(event.Event{Kind: event.Warning, Zone: "default", Message: "drain timed out after 40s; taking members out anyway: fe01 (1 active)"})
	s.emit(event.Event{Kind: event.ActionFinished, Zone: "default", Attempt: 1})
	s.finish(3, n, "Take the Updating servers out", nil)
	s.wait(time.Hour)
	// Cancelled between steps: the engine names no failed step, and fills
	// Step with the last step run, which succeeded.
	s.emit(event.Event{Kind: event.RunFinished, Err: fmt.Errorf("%w before step block-loaded: %w", farm.ErrHalted, context.Canceled), Message: "run halted"})
	return s.events
}
