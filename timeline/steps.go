package timeline

import (
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
)

// span is one step (or mark) on the simulated timeline.
type span struct {
	id     string
	status string // farm.StepStatus, "mark" for a simulator mark, "rollback"
	start  time.Duration
	end    time.Duration // equal to start for a mark
}

// stepsOf returns the step spans to draw: the run's steps that started,
// placed with the origin start, or the simulator's marks when run is nil.
func stepsOf(sim simulate.Report, run *farm.Report, start time.Time) ([]span, error) {
	if run == nil {
		out := make([]span, 0, len(sim.Marks))
		for _, m := range sim.Marks {
			out = append(out, span{id: m.Label, status: "mark", start: m.Elapsed, end: m.Elapsed})
		}
		return out, nil
	}
	needed := !run.RollbackStarted.IsZero()
	for _, s := range run.Steps {
		needed = needed || !s.Started.IsZero()
	}
	if !needed {
		return nil, nil // nothing of the run to place
	}
	if start.IsZero() {
		var ok bool
		if start, ok = origin(sim, run); !ok {
			return nil, fmt.Errorf("timeline: cannot place the run's steps on the simulated timeline: Options.Start is zero and the simulate report has no violation or step mark to derive it from (expected Options.Start = time.Now().Add(-sim.Elapsed())): %w", drivers.ErrInvalidArgument)
		}
	}
	var out []span
	for _, s := range run.Steps {
		if s.Started.IsZero() {
			continue // pending, or done by an earlier run
		}
		sp := span{id: s.ID, status: string(s.Status), start: s.Started.Sub(start)}
		switch {
		case !s.Finished.IsZero():
			sp.end = s.Finished.Sub(start)
		case !run.Finished.IsZero():
			sp.end = run.Finished.Sub(start)
		default:
			sp.end = sim.Elapsed
		}
		sp.end = max(sp.end, sp.start)
		out = append(out, sp)
	}
	if !run.RollbackStarted.IsZero() {
		at := run.RollbackStarted.Sub(start)
		out = append(out, span{id: "rollback", status: "rollback", start: at, end: at})
	}
	return out, nil
}

// origin derives the instant the simulate report's Elapsed counts from:
// from a violation, which carries both, or from a mark labelled with the ID
// of a step of run (marks made when each step starts, as simulate.Sim.Mark
// suggests).
func origin(sim simulate.Report, run *farm.Report) (time.Time, bool) {
	for _, v := range sim.Violations {
		if !v.Time.IsZero() {
			return v.Time.Add(-v.Elapsed), true
		}
	}
	for _, s := range run.Steps {
		if s.Started.IsZero() {
			continue
		}
		for _, m := range sim.Marks {
			if m.Label == s.ID {
				return s.Started.Add(-m.Elapsed), true
			}
		}
	}
	return time.Time{}, false
}
