package farm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/hashicorp/go-multierror"
)

// Run is the state of one run of a plan, handed to steps and hooks. Its
// methods are safe for concurrent use.
type Run struct {
	plan     *Plan
	captured *Captured
	report   *Report
	obs      Observer
	retry    RetryPolicy
	sem      chan struct{}

	mu   sync.Mutex
	rnd  *rand.Rand
	step string
}

// Farm returns the farm being deployed.
func (r *Run) Farm() *Farm { return r.plan.farm }

// Captured returns the state captured before anything changed.
func (r *Run) Captured() *Captured { return r.captured }

// StepID returns the ID of the step being run.
func (r *Run) StepID() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.step
}

// Emit sends e to the run's observer, with Time and Step filled in when they
// are empty.
func (r *Run) Emit(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Step == "" {
		e.Step = r.StepID()
	}
	if r.obs != nil {
		r.obs.Observe(e)
	}
}

// Warn emits a [Warning] event.
func (r *Run) Warn(zone, server, format string, args ...any) {
	r.Emit(Event{Kind: Warning, Zone: zone, Server: server, Message: fmt.Sprintf(format, args...)})
}

// ForEachServer runs fn for every server, at most PlanConfig.Concurrency at
// once across the whole run, retrying each server's fn on transient errors.
// It waits for all of them and returns their errors aggregated (a
// *multierror.Error of *StepError), or nil.
func (r *Run) ForEachServer(ctx context.Context, servers []Server, fn func(ctx context.Context, s Server) error) error {
	return r.fanOut(len(servers), func(i int) error {
		s := servers[i]
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			return &StepError{Step: r.StepID(), Zone: s.Zone, Server: s.Name, Err: ctx.Err()}
		}
		defer func() { <-r.sem }()
		return r.Do(ctx, s.Zone, s.Name, func(ctx context.Context) error { return fn(ctx, s) })
	})
}

// ForEachZone runs fn for every zone of the farm concurrently (zones are
// independent), retrying each zone's fn on transient errors, and returns
// their errors aggregated, or nil.
func (r *Run) ForEachZone(ctx context.Context, fn func(ctx context.Context, z *Zone) error) error {
	zones := r.plan.farm.zones
	return r.fanOut(len(zones), func(i int) error {
		z := zones[i]
		return r.Do(ctx, z.Name, "", func(ctx context.Context) error { return fn(ctx, z) })
	})
}

// Each runs fn for every server within the run's concurrency limit, without
// retries and without recording actions in the report: it is for polls that
// are repeated many times (probes while waiting for installs). It returns
// the errors aggregated, or nil.
func (r *Run) Each(ctx context.Context, servers []Server, fn func(ctx context.Context, s Server) error) error {
	return r.fanOut(len(servers), func(i int) error {
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-r.sem }()
		return fn(ctx, servers[i])
	})
}

func (r *Run) fanOut(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	var merr *multierror.Error
	for _, err := range errs {
		if err != nil {
			merr = multierror.Append(merr, err)
		}
	}
	return merr.ErrorOrNil()
}

// Do runs one action of the current step for a zone and/or server, retrying
// it with backoff while it fails with drivers.ErrUnavailable, and records it
// in the report. The error it returns is a *StepError.
func (r *Run) Do(ctx context.Context, zone, server string, fn func(ctx context.Context) error) error {
	step := r.StepID()
	act := ActionReport{Zone: zone, Server: server, Started: time.Now()}
	r.Emit(Event{Kind: ActionStarted, Step: step, Zone: zone, Server: server})
	var err error
	for attempt := 1; ; attempt++ {
		act.Attempts = attempt
		err = fn(ctx)
		if err == nil || !drivers.IsRetryable(err) || attempt >= r.retry.MaxAttempts || ctx.Err() != nil {
			break
		}
		r.mu.Lock()
		wait := r.retry.jittered(r.retry.Backoff(attempt+1), r.rnd)
		r.mu.Unlock()
		r.Emit(Event{Kind: ActionRetry, Step: step, Zone: zone, Server: server, Attempt: attempt, Err: err,
			Message: fmt.Sprintf("transient error, retrying in %s", wait.Round(time.Millisecond))})
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (after %v)", ctx.Err(), err)
			break
		}
	}
	act.Finished = time.Now()
	if err != nil {
		err = &StepError{Step: step, Zone: zone, Server: server, Attempts: act.Attempts, Err: err}
		act.Error = err.Error()
	}
	r.report.update(step, func(s *StepReport) { s.Actions = append(s.Actions, act) })
	r.Emit(Event{Kind: ActionFinished, Step: step, Zone: zone, Server: server, Attempt: act.Attempts, Err: err})
	return err
}

// Poll calls check every interval until it reports done, returns an error,
// or ctx ends. It emits a Progress event with check's message at most every
// progressEvery (zero means every call). It is how steps wait for drains,
// deployments and installs without ever going silent.
func (r *Run) Poll(ctx context.Context, interval, progressEvery time.Duration, zone string, check func(ctx context.Context) (done bool, progress Event, err error)) error {
	var lastProgress time.Time
	for {
		done, ev, err := check(ctx)
		if err != nil || done {
			return err
		}
		if now := time.Now(); lastProgress.IsZero() || now.Sub(lastProgress) >= progressEvery {
			lastProgress = now
			ev.Kind = Progress
			if ev.Zone == "" {
				ev.Zone = zone
			}
			r.Emit(ev)
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// Run runs the plan's steps in order and returns the report. It stops at the
// first step that fails (or when ctx ends, between steps) and returns an
// error wrapping [ErrHalted] and the step's error; the farm is then left as
// the failed step left it, which every step of the balanced plan keeps safe.
func (p *Plan) Run(ctx context.Context) (*Report, error) {
	return p.RunFrom(ctx, "", nil)
}

// RunFrom runs the plan from the step with ID from (the first step when
// empty), with state captured by an earlier run (a fresh one when nil). It is
// the building block of resuming a run.
func (p *Plan) RunFrom(ctx context.Context, from string, captured *Captured) (*Report, error) {
	start := 0
	if from != "" {
		i, err := p.mustIndex(from)
		if err != nil {
			return nil, err
		}
		start = i
	}
	if captured == nil {
		captured = NewCaptured()
	}
	seed := p.cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	conc := p.cfg.Concurrency
	if conc == 0 {
		conc = DefaultConcurrency
	}
	r := &Run{
		plan:     p,
		captured: captured,
		report:   &Report{Started: time.Now()},
		obs:      p.cfg.Observer,
		retry:    p.cfg.Retry.withDefaults(),
		sem:      make(chan struct{}, conc),
		rnd:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	for i, s := range p.steps {
		st := StepPending
		if i < start {
			st = StepSkippedDone
		}
		r.report.Steps = append(r.report.Steps, StepReport{ID: s.ID, Status: st})
	}
	r.Emit(Event{Kind: RunStarted, Total: len(p.steps), Message: fmt.Sprintf("%d steps over %d servers in %d zones", len(p.steps), len(p.farm.byName), len(p.farm.zones))})
	var runErr error
	for i := start; i < len(p.steps); i++ {
		s := p.steps[i]
		if err := ctx.Err(); err != nil {
			runErr = fmt.Errorf("%w before step %s: %w", ErrHalted, s.ID, err)
			r.finish(s.ID, "", runErr)
			return r.report, runErr
		}
		if err := r.runStep(ctx, s, i); err != nil {
			runErr = fmt.Errorf("%w at step %s: %w", ErrHalted, s.ID, err)
			r.finish(s.ID, s.ID, runErr)
			return r.report, runErr
		}
	}
	r.finish("", "", nil)
	return r.report, nil
}

func (r *Run) finish(resumeFrom, failed string, err error) {
	r.report.mu.Lock()
	r.report.Finished = time.Now()
	r.report.ResumeFrom = resumeFrom
	r.report.FailedStep = failed
	if err != nil {
		r.report.Outcome = Halted
		r.report.Error = err.Error()
	} else {
		r.report.Outcome = Succeeded
	}
	r.report.mu.Unlock()
	r.Emit(Event{Kind: RunFinished, Step: failed, Err: err, Message: "run " + string(r.report.Outcome)})
}

// runStep runs one step with its hooks and timeout, and records it.
func (r *Run) runStep(ctx context.Context, s Step, index int) error {
	r.mu.Lock()
	r.step = s.ID
	r.mu.Unlock()
	started := time.Now()
	r.report.update(s.ID, func(sr *StepReport) { sr.Status, sr.Started = StepRunning, started })
	r.Emit(Event{Kind: StepStarted, Done: index, Total: len(r.plan.steps), Message: s.Title})

	timeout := s.Timeout
	if timeout == 0 {
		timeout = r.plan.cfg.StepTimeout
	}
	stepCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	err := r.runHooks(stepCtx, s.ID, "before", r.plan.before[s.ID])
	if err == nil {
		err = s.Run(stepCtx, r)
		if err != nil && timeout > 0 && errors.Is(stepCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("step %s timed out after %s: %w", s.ID, timeout, err)
		}
	}
	if err == nil {
		err = r.runHooks(stepCtx, s.ID, "after", r.plan.after[s.ID])
	}
	finished := time.Now()
	r.report.update(s.ID, func(sr *StepReport) {
		sr.Finished = finished
		sr.Status = StepDone
		if err != nil {
			sr.Status, sr.Error = StepFailed, err.Error()
		}
	})
	r.Emit(Event{Kind: StepFinished, Done: index + 1, Total: len(r.plan.steps), Err: err, Message: s.Title})
	return err
}

func (r *Run) runHooks(ctx context.Context, step, when string, hooks []Hook) error {
	for _, h := range hooks {
		r.Emit(Event{Kind: HookStarted, Message: when + " hook " + h.Name})
		if err := h.Func(ctx, r); err != nil {
			return &StepError{Step: step, Err: fmt.Errorf("%w: %s hook %q: %w", ErrHookFailed, when, h.Name, err)}
		}
	}
	return nil
}
