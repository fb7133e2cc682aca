package progress

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// stepState is what is known of the step being run.
type stepState struct {
	id, title    string
	number, of   int // 1-based position and plan length; 0 when unknown (undo)
	started      time.Time
	actions      int // actions started
	done, failed int // actions finished
	retries      int
	finished     bool
	err          error
	took         time.Duration
	// waits holds the latest Progress event per zone/server, in the order
	// they first reported.
	waits map[string]event.Event
	order []string
	// firstFailed maps the text of each action error seen in the step to
	// the server or zone it was first seen on, so that the same error is
	// printed once.
	firstFailed map[string]string
	// printed holds "where\x00generic text" of each failure printed.
	printed map[string]bool
	// started and ok hold the servers whose action started, and ended
	// well, in this step.
	serversStarted, serversOK map[string]bool
}

// allPrinted reports whether every failure err holds was printed as an
// action failure of the step already, so that the step's and the run's
// result need not say it again.
func (s *stepState) allPrinted(err error) bool {
	if s == nil || err == nil {
		return false
	}
	fs := Failures(err)
	if len(fs) == 0 {
		return false
	}
	for _, f := range fs {
		if !s.printedFailure(f) {
			return false
		}
	}
	return true
}

// printedFailure reports whether f, a failure of the step, was printed on
// every server or zone it names.
func (s *stepState) printedFailure(f Failure) bool {
	if s == nil || f.Step != s.id {
		return false
	}
	ws := f.Servers
	if len(ws) == 0 {
		ws = f.Zones
	}
	if len(ws) == 0 {
		return false
	}
	for _, w := range ws {
		if !s.printed[w+"\x00"+Generalize(strings.ReplaceAll(f.Error, Placeholder, w), w)] {
			return false
		}
	}
	return true
}

// inFlight is how many of the step's actions started and did not finish.
func (s *stepState) inFlight() int { return s.actions - s.done - s.failed }

// label is "step 3/12 drain-updating", or "step drain-updating" when the
// position is not known.
func (s *stepState) label() string {
	if s.of > 0 {
		return fmt.Sprintf("step %d/%d %s", s.number, s.of, oneLine(s.id))
	}
	return "step " + oneLine(s.id)
}

// runState follows a run through its events: every step that runs, each
// with its own state, since the engine runs a step as soon as the steps it
// needs are done and several may run at the same time. It is not safe for
// concurrent use; Terminal guards it with its mutex.
type runState struct {
	start, now time.Time
	begun      bool
	// step is the step last started or skipped: with the strict order,
	// the one running or the one that just ended.
	step *stepState
	// byID holds every step of the run by ID, each as its latest start
	// (a step started again, or undone, starts afresh).
	byID map[string]*stepState
	// live holds the steps started and not finished, in the order they
	// started.
	live      []*stepState
	steps     int // steps finished successfully
	actions   int
	retries   int
	warnings  int
	warning   string // the last warning
	warningAt time.Duration
	finished  bool
	// result is the RunFinished message ("run halted") and ended the step
	// it names.
	result, ended string
	// members holds, per zone, the load-balancer members as last seen
	// (MembersSeen events).
	members map[string]map[string]drivers.MemberStatus
	// completed are the lines saying the step's waits reached their end
	// (N/N), set by a successful StepFinished for the view to print.
	completed []string
}

// elapsed is the time from the run's start to t.
func (r *runState) elapsed(t time.Time) time.Duration { return t.Sub(r.start) }

// update folds e into the state. An event without a time is taken to have
// happened at the latest time seen.
func (r *runState) update(e event.Event) {
	if e.Time.IsZero() {
		e.Time = r.now
	}
	if !r.begun && !e.Time.IsZero() {
		r.begun, r.start = true, e.Time
	}
	if e.Time.After(r.now) {
		r.now = e.Time
	}
	// The event's own step; nil for an event of a step this run did not
	// start, which is counted for the run only.
	s := r.stepOf(e.Step)
	switch e.Kind {
	case event.RunStarted:
		// A new run (a Terminal may watch a run and then its resume).
		*r = runState{begun: true, start: e.Time, now: e.Time, members: r.members}
	case event.MembersSeen:
		if r.members == nil {
			r.members = map[string]map[string]drivers.MemberStatus{}
		}
		zone := e.Zone
		if zone == "" {
			zone = farm.DefaultZone
		}
		if r.members[zone] == nil {
			r.members[zone] = map[string]drivers.MemberStatus{}
		}
		for _, m := range e.Members {
			r.members[zone][m.Member] = m
		}
	case event.StepStarted:
		number := 0
		if e.Total > 0 {
			number = e.Done + 1
		}
		r.begin(&stepState{id: e.Step, title: e.Message, number: number, of: e.Total, started: e.Time, waits: map[string]event.Event{}})
	case event.StepSkipped:
		r.begin(&stepState{id: e.Step, number: e.Done, of: e.Total, started: e.Time, finished: true, waits: map[string]event.Event{}})
	case event.ActionStarted:
		if s != nil {
			s.actions++
			if e.Server != "" {
				if s.serversStarted == nil {
					s.serversStarted, s.serversOK = map[string]bool{}, map[string]bool{}
				}
				s.serversStarted[e.Server] = true
			}
		}
	case event.ActionRetry:
		r.retries++
		if s != nil {
			s.retries++
		}
	case event.ActionFinished:
		r.actions++
		if s != nil {
			if e.Err != nil {
				s.failed++
			} else {
				s.done++
				if e.Server != "" && s.serversOK != nil {
					s.serversOK[e.Server] = true
				}
			}
		}
	case event.Progress:
		if s != nil {
			key := e.Zone + "\x00" + e.Server
			if _, ok := s.waits[key]; !ok {
				s.order = append(s.order, key)
			}
			s.waits[key] = e
		}
	case event.Warning:
		r.warnings++
		r.warning = warningText(e)
		if r.crowded(e) {
			r.warning = oneLine(e.Step) + ": " + r.warning
		}
		r.warningAt = r.elapsed(e.Time)
	case event.StepFinished:
		r.completed = r.completed[:0]
		if s != nil {
			s.finished, s.err, s.took = true, e.Err, e.Time.Sub(s.started)
			if e.Err == nil {
				// A wait that ended well got to N/N, though its last
				// report may be older.
				for _, w := range s.waiting() {
					if w.Total > 0 && w.Done < w.Total {
						w.Done, w.Message = w.Total, "done"
						r.completed = append(r.completed, progressText(w, true))
					}
				}
			}
			clear(s.waits)
			s.order = s.order[:0]
			r.live = slices.DeleteFunc(r.live, func(l *stepState) bool { return l == s })
		}
		if e.Err == nil && e.Total > 0 { // not an undo
			r.steps++
		}
	case event.RunFinished:
		r.finished = true
		r.result, r.ended = e.Message, e.Step
	}
}

// stepOf returns the state of step id, or of the step last started when id
// is empty (an event that names no step); nil when the run did not start
// it.
func (r *runState) stepOf(id string) *stepState {
	if id == "" {
		return r.step
	}
	return r.byID[id]
}

// begin records s, just started (or skipped), as the step last started and
// the state of its ID; a step that is not finished joins the live steps.
func (r *runState) begin(s *stepState) {
	if r.byID == nil {
		r.byID = map[string]*stepState{}
	}
	if old := r.byID[s.id]; old != nil {
		r.live = slices.DeleteFunc(r.live, func(l *stepState) bool { return l == old })
	}
	r.byID[s.id] = s
	r.step = s
	if !s.finished {
		r.live = append(r.live, s)
	}
}

// running returns the steps started and not finished, in the plan's order
// (in the order they started when a position is unknown).
func (r *runState) running() []*stepState {
	out := slices.Clone(r.live)
	slices.SortStableFunc(out, func(a, b *stepState) int { return a.number - b.number })
	return out
}

// crowded reports whether e's line must name its step to be read right:
// a step other than e's is running (the steps overlap). With the strict
// order it never is.
func (r *runState) crowded(e event.Event) bool {
	if e.Step == "" {
		return false
	}
	for _, l := range r.live {
		if l.id != e.Step {
			return true
		}
	}
	return false
}

// allPrinted reports whether every failure err holds was printed already
// as an action failure of its own step, so that the run's result need not
// say it again.
func (r *runState) allPrinted(err error) bool {
	fs := Failures(err)
	if len(fs) == 0 {
		return false
	}
	for _, f := range fs {
		if !r.byID[f.Step].printedFailure(f) {
			return false
		}
	}
	return true
}

// waiting returns the latest Progress events of the step, oldest reporter
// first.
func (s *stepState) waiting() []event.Event {
	out := make([]event.Event, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, s.waits[k])
	}
	return slices.Clip(out)
}

// warningText is a Warning event without its stamp: "zone a: message: err".
func warningText(e event.Event) string {
	msg := oneLine(e.Message)
	if w := where(e.Server, e.Zone); w != "" {
		msg = w + ": " + msg
	}
	if e.Err != nil {
		msg += ": " + errText(e.Err)
	}
	return msg
}
