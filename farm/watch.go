package farm

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/farm/event"
)

// ErrDrift is wrapped by the error of a guard that found a state the run
// established changed behind its back, and could not put it back safely. The
// failure policy then applies, as for any failing step.
var ErrDrift = errors.New("drift")

// defaultWatchInterval is how often registered guards are re-checked during
// a long wait when PlanConfig.WatchInterval is zero.
const defaultWatchInterval = 15 * time.Second

// Guard is a state that a step establishes and that must hold until a later
// step restores it: a service stopped, members out of traffic, a group
// carrying its zone alone. The step declares it (Step.Guards, or
// [Run.Watch] while it runs); from the moment the step is done until the
// step named Until starts, the engine re-checks it:
//
//   - at every step boundary (before each step's hooks run),
//   - whenever a step asks for it ([Run.CheckGuards], as the balanced
//     plan's publish step does immediately before the platform deployment
//     starts),
//   - and every PlanConfig.WatchInterval while a step runs (a drain, the
//     platform deployment, an install wait), on a goroutine of its own.
//
// Check reads the live state. Drift it can put back safely it puts back,
// reporting it with [Run.Drifted] (Repaired set): the engine emits an
// [event.Warning] naming what changed and lists it in Report.Drifts. Drift it
// cannot put back it reports too, and returns an error: the check fails
// the step that was running (its context is cancelled with the guard's
// error as the cause) or about to run, wrapped in [ErrDrift], and the
// failure policy decides. A rollback drops every guard (the undo puts the
// states back).
//
// Since the periodic checks run beside the step, a guard must not touch
// what a step before its Until step changes: end it (Until) at the first
// step that changes the state it guards.
type Guard struct {
	// Name identifies the guard; registering a name again replaces the
	// guard of that name.
	Name string
	// Until is the ID of the step that restores the state: the guard is
	// dropped when that step starts. Empty means until the run ends.
	Until string
	// Check reads the state and repairs what it safely can.
	Check func(ctx context.Context, r *Run) error
}

// Drift is one change of an established state that a guard saw.
type Drift struct {
	// Time is when the guard saw it; Step is the step running then (or
	// about to run, at a step boundary).
	Time time.Time `json:"time"`
	Step string    `json:"step,omitempty"`
	// Guard is the name of the guard that saw it.
	Guard string `json:"guard"`
	// Zone and Server say where, when it concerns one.
	Zone   string `json:"zone,omitempty"`
	Server string `json:"server,omitempty"`
	// What says what changed, and what was done about it.
	What string `json:"what"`
	// Repaired says the guard put the state back.
	Repaired bool `json:"repaired"`
}

// watch is the run's set of guards.
type watch struct {
	mu     sync.Mutex
	guards []Guard
	seen   map[string]bool // unrepaired drifts already reported
	// checking is held (a token in it) while the guards are checked: a
	// periodic check started while one runs is skipped, a step boundary's
	// waits for it. A channel rather than a mutex: a step waiting for
	// another step's check is durably blocked (testing/synctest's time
	// goes on while it waits).
	checking chan struct{}
	running  bool      // a check is under way (guarded by mu)
	last     time.Time // when the last check started or ended
}

// tryCheck takes the right to check the guards if no check holds it.
func (w *watch) tryCheck() bool {
	select {
	case w.checking <- struct{}{}:
		return true
	default:
		return false
	}
}

// Watch registers g for the rest of the run, until the step g.Until
// starts. Steps usually declare their guards in Step.Guards instead, which
// the engine registers when the step is done (and again when a resumed run
// skips it).
func (r *Run) Watch(g Guard) {
	if g.Name == "" || g.Check == nil {
		return
	}
	r.watch.mu.Lock()
	defer r.watch.mu.Unlock()
	r.watch.guards = slices.DeleteFunc(r.watch.guards, func(o Guard) bool { return o.Name == g.Name })
	r.watch.guards = append(r.watch.guards, g)
}

// dropGuards removes the guards that end when step starts (every guard when
// step is empty).
func (r *Run) dropGuards(step string) {
	r.watch.mu.Lock()
	defer r.watch.mu.Unlock()
	r.watch.guards = slices.DeleteFunc(r.watch.guards, func(g Guard) bool { return step == "" || g.Until == step })
}

// CheckGuards checks every registered guard now, repairing what can be
// repaired, and returns the error of those that found drift they could not
// put back (wrapping [ErrDrift]), or nil. Call it immediately before an
// action that relies on the guarded states (the balanced plan's publish
// step calls it just before starting the platform deployment). It waits
// for a periodic check under way to end first. Do not call it from a
// guard's Check.
func (r *Run) CheckGuards(ctx context.Context) error {
	select {
	case r.watch.checking <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.checkGuards(ctx)
}

// checkGuards checks the guards; the caller holds r.watch.checking, which
// it releases.
func (r *Run) checkGuards(ctx context.Context) error {
	defer func() { <-r.watch.checking }()
	r.watch.mu.Lock()
	guards := slices.Clone(r.watch.guards)
	r.watch.last, r.watch.running = time.Now(), true
	r.watch.mu.Unlock()
	defer func() {
		r.watch.mu.Lock()
		r.watch.last, r.watch.running = time.Now(), false
		r.watch.mu.Unlock()
	}()
	var errs []error
	for _, g := range guards {
		if err := g.Check(ctx, r); err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, fmt.Errorf("%w: %s: %w", ErrDrift, g.Name, err))
		}
	}
	return errors.Join(errs...)
}

// watchInterval returns PlanConfig.WatchInterval with its default, and
// false when periodic checks are off.
func (r *Run) watchInterval() (time.Duration, bool) {
	iv := r.plan.cfg.WatchInterval
	if iv == 0 {
		iv = defaultWatchInterval
	}
	return iv, iv > 0
}

// watchWait returns how long until the guards are due for a periodic
// check, and false when there is none to make.
func (r *Run) watchWait() (time.Duration, bool) {
	iv, on := r.watchInterval()
	if !on {
		return 0, false
	}
	r.watch.mu.Lock()
	defer r.watch.mu.Unlock()
	if len(r.watch.guards) == 0 {
		return 0, false
	}
	if r.watch.running {
		return iv, true // the check under way counts as this one
	}
	return max(0, iv-time.Since(r.watch.last)), true
}

// watchDuring re-checks the guards every PlanConfig.WatchInterval while a
// step runs, on a goroutine of its own: a drain, the platform deployment,
// an install wait, whatever the step waits on. Drift it cannot put back
// cancels the step's context with the guard's error as its cause. The
// returned function stops it and waits for it.
func (r *Run) watchDuring(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	if _, on := r.watchInterval(); !on {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			wait, ok := r.watchWait()
			if !ok {
				wait = defaultWatchInterval // no guard yet: look again later
			}
			t := time.NewTimer(wait)
			select {
			case <-done:
				t.Stop()
				return
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if w, ok := r.watchWait(); !ok || w > 0 || !r.watch.tryCheck() {
				continue // not due (a check ran meanwhile), or one is under way
			}
			if err := r.checkGuards(ctx); err != nil && ctx.Err() == nil {
				cancel(err)
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// Drifted reports a drift a guard saw: an [event.Warning] event naming what changed,
// and an entry in Report.Drifts. An unrepaired drift is reported once,
// however many checks see it again. Time and Step are filled in when empty.
func (r *Run) Drifted(d Drift) {
	if d.Time.IsZero() {
		d.Time = time.Now()
	}
	if d.Step == "" {
		d.Step = r.StepID()
	}
	if !d.Repaired {
		key := d.Guard + "\x00" + d.Zone + "\x00" + d.Server + "\x00" + d.What
		r.watch.mu.Lock()
		if r.watch.seen == nil {
			r.watch.seen = map[string]bool{}
		}
		dup := r.watch.seen[key]
		r.watch.seen[key] = true
		r.watch.mu.Unlock()
		if dup {
			return
		}
	}
	r.report.mu.Lock()
	r.report.Drifts = append(r.report.Drifts, d)
	r.report.mu.Unlock()
	how := "not repaired"
	if d.Repaired {
		how = "repaired"
	}
	r.Emit(event.Event{Kind: event.Warning, Step: d.Step, Zone: d.Zone, Server: d.Server, Message: fmt.Sprintf("drift (%s, %s): %s", d.Guard, how, d.What)})
}

// registerDoneGuards registers the guards of the steps an earlier run
// completed (done[i]) whose Until step is not done.
func (r *Run) registerDoneGuards(done []bool) {
	for i, d := range done {
		if !d {
			continue
		}
		for _, g := range r.plan.steps[i].Guards {
			if u := r.plan.index(g.Until); g.Until == "" || (u >= 0 && !done[u]) {
				r.Watch(g)
			}
		}
	}
}
