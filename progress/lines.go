package progress

import (
	"errors"
	"fmt"
	"strings"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// line returns the plain line for e (without its stamp or newline), after e
// was folded into r, and whether e deserves one. Successful actions get a
// line only when verbose; their count is in the step's summary.
func (r *runState) line(e event.Event, verbose bool) (string, bool) {
	step := oneLine(e.Step)
	switch e.Kind {
	case event.RunStarted:
		if e.Message == "" {
			return "run started", true
		}
		return "run started: " + oneLine(e.Message), true
	case event.StepStarted:
		return r.stepOf(e.Step).label() + ": " + oneLine(e.Message), true
	case event.StepSkipped:
		return r.stepOf(e.Step).label() + " skipped: " + oneLine(e.Message), true
	case event.HookStarted:
		if r.crowded(e) {
			return "  " + step + ": " + oneLine(e.Message), true
		}
		return "  " + oneLine(e.Message), true
	case event.ActionStarted, event.MembersSeen:
		return "", false
	case event.ActionRetry:
		what := orStep(where(e.Server, e.Zone), step)
		if r.crowded(e) && what != step {
			what = step + " " + what
		}
		msg := fmt.Sprintf("  retry %s (attempt %d): %s", what, e.Attempt, errText(e.Err))
		if e.Message != "" {
			msg += "; " + oneLine(e.Message)
		}
		return msg, true
	case event.ActionFinished:
		if e.Err != nil {
			return "  " + r.failureOnce(e), true
		}
		if !verbose {
			return "", false
		}
		msg := "  ok " + step
		if w := where(e.Server, e.Zone); w != "" {
			msg += " " + w
		}
		if e.Attempt > 1 {
			msg += fmt.Sprintf(" after %d attempts", e.Attempt)
		}
		return msg, true
	case event.Progress:
		return "  " + progressText(e, true), true
	case event.Warning:
		return "  warning: " + r.warning, true
	case event.StepFinished:
		return r.stepResult(e), true
	case event.RunFinished:
		return r.runResult(e), true
	}
	// A kind this version does not know: show it rather than hide it.
	msg := "  " + oneLine(string(e.Kind))
	if e.Message != "" {
		msg += ": " + oneLine(e.Message)
	}
	if e.Err != nil {
		msg += ": " + errText(e.Err)
	}
	return msg, true
}

func orStep(w, step string) string {
	if w != "" {
		return w
	}
	return step
}

// progressText is "drain-updating zone a: 1/3 draining fe02 (2 active): 2
// connections left"; withStep false leaves the step out (the terminal's
// status block names it already).
func progressText(e event.Event, withStep bool) string {
	var head []string
	if withStep && e.Step != "" {
		head = append(head, oneLine(e.Step))
	}
	if w := where(e.Server, e.Zone); w != "" {
		head = append(head, w)
	}
	msg := oneLine(e.Message)
	// "1/2 1 of 2 servers run v2" would say it twice.
	if e.Total > 0 && !strings.HasPrefix(msg, fmt.Sprintf("%d of %d ", e.Done, e.Total)) {
		msg = fmt.Sprintf("%d/%d %s", e.Done, e.Total, msg)
	}
	if len(head) == 0 {
		return msg
	}
	return strings.Join(head, " ") + ": " + msg
}

// counts is "3 actions, 1 retry", or "" when the step ran no action.
func (s *stepState) counts() string {
	var parts []string
	if s.actions > 0 {
		parts = append(parts, plural(s.actions, "action", "actions"))
	}
	if s.failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", s.failed))
	}
	if s.retries > 0 {
		parts = append(parts, plural(s.retries, "retry", "retries"))
	}
	return strings.Join(parts, ", ")
}

// stepResult is "step 3/12 drain-updating done in 6s (3 actions)" or
// "step 3/12 drain-updating FAILED after 6s (3 actions, 1 failed): err".
func (r *runState) stepResult(e event.Event) string {
	s := r.stepOf(e.Step)
	if s == nil || s.id != e.Step {
		// A StepFinished without its StepStarted: say what is known.
		s = &stepState{id: e.Step, number: e.Done, of: e.Total}
	}
	took, counts := duration(s.took), s.counts()
	if counts != "" {
		counts = " (" + counts + ")"
	}
	switch {
	case e.Err != nil && s.allPrinted(e.Err):
		return fmt.Sprintf("%s FAILED after %s%s", s.label(), took, counts)
	case e.Err != nil:
		return fmt.Sprintf("%s FAILED after %s%s: %s", s.label(), took, counts, errText(e.Err))
	case strings.HasPrefix(e.Message, "undone: "):
		return fmt.Sprintf("%s undone in %s%s", s.label(), took, counts)
	}
	return fmt.Sprintf("%s done in %s%s", s.label(), took, counts)
}

// runResult is "run succeeded in 1m2s (12 steps, 40 actions, 1 retry)" or
// "run halted at drain-updating after 6s: err".
func (r *runState) runResult(e event.Event) string {
	took := duration(r.elapsed(e.Time))
	head := oneLine(e.Message)
	if head == "" {
		head = "run finished"
	}
	if e.Err == nil {
		parts := []string{plural(r.steps, "step", "steps"), plural(r.actions, "action", "actions")}
		if r.retries > 0 {
			parts = append(parts, plural(r.retries, "retry", "retries"))
		}
		if r.warnings > 0 {
			parts = append(parts, plural(r.warnings, "warning", "warnings"))
		}
		return fmt.Sprintf("%s in %s (%s)", head, took, strings.Join(parts, ", "))
	}
	// The engine fills Step with the last step run even when the run
	// stopped after it succeeded (cancelled between steps): name the step
	// only when it did not succeed (an undo in a rollback does not count).
	// Several steps may have run at once: look the step up by its ID.
	s := r.byID[e.Step]
	succeeded := s != nil && s.finished && s.err == nil && s.of > 0
	if e.Step != "" && !succeeded {
		head += " at " + oneLine(e.Step)
	}
	if s != nil && r.allPrinted(e.Err) && errors.Is(e.Err, farm.ErrHalted) {
		return fmt.Sprintf("%s after %s (the failures above)", head, took)
	}
	// The engine's error repeats "run halted at step <id>: "; say it once.
	msg := strings.TrimPrefix(errText(e.Err), farm.ErrHalted.Error()+" at step "+oneLine(e.Step)+": ")
	return fmt.Sprintf("%s after %s: %s", head, took, msg)
}

// failureOnce is failure(e), except that an error already printed in this
// step (the same socket error on 20 servers) is named by where it was first
// seen instead of printed again.
func (r *runState) failureOnce(e event.Event) string {
	s := r.stepOf(e.Step)
	if s == nil || s.id != e.Step {
		return failure(e)
	}
	var se *farm.StepError
	text := errText(e.Err)
	if errors.As(e.Err, &se) {
		text = errText(se.Err)
	}
	w := where(e.Server, e.Zone)
	name := e.Server
	if name == "" {
		name = e.Zone
	}
	text = Generalize(text, name)
	if name != "" {
		if s.printed == nil {
			s.printed = map[string]bool{}
		}
		s.printed[name+"\x00"+text] = true
	}
	if first, ok := s.firstFailed[text]; ok && w != "" {
		return fmt.Sprintf("FAILED %s %s: the same error as %s", oneLine(e.Step), w, first)
	}
	if s.firstFailed == nil {
		s.firstFailed = map[string]string{}
	}
	if w != "" {
		s.firstFailed[text] = w
	}
	return failure(e)
}
