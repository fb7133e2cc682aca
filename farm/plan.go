package farm

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/farm/lock"
)

// Step is one step of a [Plan]. A step starts as soon as the steps it Needs
// are done (in the plan's order when PlanConfig.StrictOrder is set); a step's Run acts on
// the farm through the drivers and confirms its postcondition by reading
// state back. Every step must be idempotent: running it again after it
// succeeded (or after a crash halfway) changes nothing it already did and
// finishes the rest.
type Step struct {
	// ID is the step's stable identifier ("drain-updating"). Hooks, the
	// report and the journal refer to it.
	ID string
	// Title is one line saying what the step does.
	Title string
	// Describe returns the lines that annotate the step for one zone, with
	// the real names of the servers, services and members it touches. Nil
	// means the step describes itself by Title only.
	Describe func(z *Zone) []string
	// Timeout bounds the step. Zero means PlanConfig.StepTimeout.
	Timeout time.Duration
	// Run performs the step.
	Run func(ctx context.Context, r *Run) error
	// Undo compensates the step when a run rolls back. Nil means the step
	// changed nothing that needs undoing.
	Undo func(ctx context.Context, r *Run) error
	// Excludable says that a server failing this step may be excluded from
	// the run (an Ask decision): once drained, such a server is harmless
	// even though the step did not finish on it. A step that must act on
	// a server for the farm to stay safe (stopping its Scheduler, taking it
	// out of traffic) is not excludable.
	Excludable bool
	// Guards are the states this step establishes that must hold until a
	// later step restores them: the engine registers them once the step is
	// done and re-checks them until their Until step starts (see [Guard]).
	Guards []Guard
	// Needs lists the IDs of the steps that must be done before this step
	// starts: the engine starts a step as soon as all of them are done, so
	// steps that do not need each other run at the same time. Every ID must
	// name a step earlier in the plan (the plan's order is always a valid
	// order to run it in). Nil means the step before it in the plan (the
	// strict order; NewPlan, InsertAfter and InsertBefore fill it in); a
	// non-nil empty slice means the step needs nothing and starts with the
	// run. Declare only what is genuinely independent: two steps that run at
	// once must be safe in either order and interleaved, and each must be
	// safe to undo while the other is in any state.
	Needs []string
	// Irreversible says that once this step has started, the run can no
	// longer be rolled back: a rollback is refused and the run halts in its
	// safe state instead. Such a step starts only once every step before it
	// in the plan is done and none is running, whatever its Needs: a step
	// beside it could otherwise fail when a rollback is no longer
	// possible (for the balanced plan: once the Loaded servers may install
	// the release, no group is sure to serve the previous one).
	Irreversible bool
}

// Hook is user code run before or after a step: a smoke test, an approval,
// a notification. A hook that returns an error fails the step.
type Hook struct {
	// Name identifies the hook in events, errors and the runbook.
	Name string
	// Func is the hook's code. r gives access to the farm, the captured
	// state and the event stream.
	Func func(ctx context.Context, r *Run) error
}

// PlanConfig tunes the engine. The zero value of every field means a
// sensible default.
type PlanConfig struct {
	// Concurrency is the most servers one fan-out ([Run.ForEachServer],
	// [Run.Each]) acts on at once: the goroutines it starts, a pool of
	// workers that take the servers in turn. It bounds the engine's own
	// resources; what the systems behind the drivers can take is bounded
	// per call by Limits. Zero means DefaultConcurrency.
	Concurrency int
	// Limits bound the driver calls in flight at once per host, per load
	// balancer and per platform, each held for one call only. The zero
	// value is the defaults (see [Limits]).
	Limits Limits
	// Retry says how transient (drivers.ErrUnavailable) errors are retried.
	Retry RetryPolicy
	// StepTimeout bounds every step that sets no Timeout of its own. Zero
	// means no limit beyond the context's.
	StepTimeout time.Duration
	// Observer receives the run's events. Nil means none.
	Observer event.Observer
	// Seed seeds the retry jitter. Zero means a seed derived from the
	// clock.
	Seed uint64
	// Label names what the plan deploys (steps.Balanced sets the release).
	// It is part of the plan's identity in the journal.
	Label string
	// Journal receives a record after every change of state, so that
	// [Plan.Resume] can continue a run that crashed. Nil means no journal
	// (and no default host lock).
	Journal journal.Journal
	// Locker refuses a second concurrent run on the same farm. Nil means a
	// [lock.File] in Lock.Dir when the plan has a journal or Lock.Dir is
	// set, and no host lock otherwise.
	Locker lock.Locker
	// Lock configures the host lock and the farm lease.
	Lock LockConfig
	// OnFailure is what the run does when a step fails. Empty means Halt.
	OnFailure FailurePolicy
	// Ask decides failures when OnFailure is Ask.
	Ask AskFunc
	// WatchInterval is how often the guards of the states the run has
	// established (Step.Guards) are re-checked during long waits (every
	// Run.Poll: drains, the platform deployment, installs), besides every
	// step boundary. Zero means 15 s; negative means at
	// step boundaries and explicit Run.CheckGuards calls only.
	WatchInterval time.Duration
	// StrictOrder runs the steps one at a time in the plan's order,
	// ignoring what each step Needs (the runbook's order, step after step).
	// False (the default) starts each step as soon as its Needs are done.
	StrictOrder bool
}

// DefaultConcurrency is the size of a fan-out's worker pool when
// PlanConfig.Concurrency is zero: farms of up to 1024 servers act on every
// server at once (a step's time then stays flat as the farm grows; see
// BENCHMARKS.md), larger ones in turns. Each worker is a goroutine of a few
// kilobytes. The systems behind the drivers are protected by
// PlanConfig.Limits, per call, not by this.
const DefaultConcurrency = 1024

// Plan is an ordered list of steps over a farm, with hooks, each step
// naming the steps it needs ([Step.Needs]). Build it with
// [NewPlan] (or steps.Balanced), adjust it with the Insert and hook methods,
// then [Plan.Run] it. A plan is not safe for concurrent modification; run it
// once at a time.
type Plan struct {
	farm   *Farm
	lim    *limiter
	cfg    PlanConfig
	steps  []Step
	before map[string][]Hook
	after  map[string][]Hook
}

// NewPlan returns a plan of the given steps over f. Step IDs must be unique
// and non-empty and every step needs a Run function.
func NewPlan(f *Farm, cfg PlanConfig, steps ...Step) (*Plan, error) {
	if f == nil {
		return nil, fmt.Errorf("%w: nil farm: want one built with farm.New", ErrInvalidFarm)
	}
	if cfg.Concurrency < 0 {
		return nil, fmt.Errorf("plan: concurrency %d: want 0 (default) or more", cfg.Concurrency)
	}
	for _, l := range []struct {
		name string
		v    int
	}{{"Host", cfg.Limits.Host}, {"LoadBalancer", cfg.Limits.LoadBalancer}, {"Platform", cfg.Limits.Platform}} {
		if l.v < 0 {
			return nil, fmt.Errorf("plan: Limits.%s %d: want 0 (default) or more", l.name, l.v)
		}
	}
	if err := cfg.Retry.validate(); err != nil {
		return nil, err
	}
	switch cfg.OnFailure {
	case "", Halt, Rollback:
	case Ask:
		if cfg.Ask == nil {
			return nil, fmt.Errorf("plan: failure policy ask: want PlanConfig.Ask set")
		}
	default:
		return nil, fmt.Errorf("plan: failure policy %q: want halt, rollback or ask", cfg.OnFailure)
	}
	lim := newLimiter(cfg.Limits)
	p := &Plan{farm: f.limited(lim), lim: lim, cfg: cfg, before: map[string][]Hook{}, after: map[string][]Hook{}}
	for _, s := range steps {
		if err := p.add(len(p.steps), s); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkNeeds checks that s's Needs name steps among the first at steps of
// the plan, once each.
func (p *Plan) checkNeeds(at int, s Step) error {
	seen := map[string]bool{}
	for _, id := range s.Needs {
		i := p.index(id)
		switch {
		case id == s.ID:
			return fmt.Errorf("plan: step %s needs itself: want the IDs of earlier steps", s.ID)
		case i < 0:
			return fmt.Errorf("%w: step %s needs %q: want one of %v", ErrUnknownStep, s.ID, id, p.StepIDs())
		case i >= at:
			return fmt.Errorf("plan: step %s needs %s, which comes after it: want the IDs of earlier steps (the plan's order must be one it can run in)", s.ID, id)
		case seen[id]:
			return fmt.Errorf("plan: step %s needs %s twice", s.ID, id)
		}
		seen[id] = true
	}
	return nil
}

func (p *Plan) add(at int, s Step) error {
	if s.ID == "" {
		return fmt.Errorf("plan: step with title %q has no ID: want a stable identifier", s.Title)
	}
	if s.Run == nil {
		return fmt.Errorf("plan: step %s has no Run function", s.ID)
	}
	if p.index(s.ID) >= 0 {
		return fmt.Errorf("plan: step ID %s is used twice: want unique IDs", s.ID)
	}
	if s.Needs == nil {
		// The strict order: after the step before it, and before every
		// later step that needed that one.
		prev := ""
		s.Needs = []string{}
		if at > 0 {
			prev = p.steps[at-1].ID
			s.Needs = []string{prev}
		}
		for j := at; j < len(p.steps); j++ {
			n := p.steps[j].Needs
			if (prev == "" && len(n) == 0) || (prev != "" && slices.Contains(n, prev)) {
				p.steps[j].Needs = append(slices.Clone(n), s.ID)
			}
		}
	} else {
		s.Needs = slices.Clone(s.Needs)
		if err := p.checkNeeds(at, s); err != nil {
			return err
		}
	}
	p.steps = slices.Insert(p.steps, at, s)
	return nil
}

func (p *Plan) index(id string) int {
	return slices.IndexFunc(p.steps, func(s Step) bool { return s.ID == id })
}

func (p *Plan) mustIndex(id string) (int, error) {
	i := p.index(id)
	if i < 0 {
		return -1, fmt.Errorf("%w: %q: want one of %v", ErrUnknownStep, id, p.StepIDs())
	}
	return i, nil
}

// Farm returns the farm the plan runs on: the one given to [NewPlan], with
// each zone's load balancer limited per call by PlanConfig.Limits.
func (p *Plan) Farm() *Farm { return p.farm }

// StepIDs returns the IDs of the plan's steps in order.
func (p *Plan) StepIDs() []string {
	ids := make([]string, len(p.steps))
	for i, s := range p.steps {
		ids[i] = s.ID
	}
	return ids
}

// Steps returns a copy of the plan's steps in order.
func (p *Plan) Steps() []Step { return slices.Clone(p.steps) }

// InsertBefore inserts s just before the step with ID before. When s.Needs
// is nil, s needs what that step needs, and that step needs s as well.
func (p *Plan) InsertBefore(before string, s Step) error {
	i, err := p.mustIndex(before)
	if err != nil {
		return err
	}
	if s.Needs == nil {
		s.Needs = slices.Clone(p.steps[i].Needs)
		if err := p.add(i, s); err != nil {
			return err
		}
		p.steps[i+1].Needs = append(slices.Clone(p.steps[i+1].Needs), s.ID)
		return nil
	}
	return p.add(i, s)
}

// InsertAfter inserts s just after the step with ID after. When s.Needs is
// nil, s needs that step, and every later step that needed it needs s as
// well.
func (p *Plan) InsertAfter(after string, s Step) error {
	i, err := p.mustIndex(after)
	if err != nil {
		return err
	}
	return p.add(i+1, s)
}

// Remove removes the step with the given ID. The balanced procedure is only
// safe whole; Remove exists for custom plans and for tests that prove each
// step necessary.
func (p *Plan) Remove(id string) error {
	i, err := p.mustIndex(id)
	if err != nil {
		return err
	}
	gone := p.steps[i]
	p.steps = slices.Delete(p.steps, i, i+1)
	for j := i; j < len(p.steps); j++ {
		// What needed the removed step needs what it needed.
		if k := slices.Index(p.steps[j].Needs, id); k >= 0 {
			n := slices.Delete(slices.Clone(p.steps[j].Needs), k, k+1)
			for _, g := range gone.Needs {
				if !slices.Contains(n, g) {
					n = append(n, g)
				}
			}
			p.steps[j].Needs = n
		}
	}
	return nil
}

// Move moves the step with ID id to just after the step with ID after (or to
// the front when after is empty), in the strict order there: it needs the
// step before it and the steps that needed that one need it (see
// [Plan.Remove] and [Plan.InsertAfter]). Like Remove, it exists for custom
// plans and for tests.
func (p *Plan) Move(id, after string) error {
	i, err := p.mustIndex(id)
	if err != nil {
		return err
	}
	if after != "" {
		if _, err := p.mustIndex(after); err != nil {
			return err
		}
	}
	s := p.steps[i]
	if err := p.Remove(id); err != nil {
		return err
	}
	s.Needs = nil
	if after == "" {
		return p.add(0, s)
	}
	return p.InsertAfter(after, s)
}

// Before adds a hook that runs before the step with ID step, after any hooks
// added earlier.
func (p *Plan) Before(step string, h Hook) error { return p.hook(p.before, step, h) }

// After adds a hook that runs after the step with ID step has succeeded,
// after any hooks added earlier.
func (p *Plan) After(step string, h Hook) error { return p.hook(p.after, step, h) }

func (p *Plan) hook(m map[string][]Hook, step string, h Hook) error {
	if _, err := p.mustIndex(step); err != nil {
		return err
	}
	if h.Name == "" || h.Func == nil {
		return fmt.Errorf("plan: hook on step %s: want a Name and a Func", step)
	}
	m[step] = append(m[step], h)
	return nil
}
