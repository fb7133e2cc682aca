package farm

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/hashicorp/go-multierror"
)

// Run is the state of one run of a plan, handed to steps and hooks while
// [Plan.Run] or [Plan.Resume] executes the plan: its methods are the
// step-author API (see the package doc, "Writing steps"). Its methods are
// safe for concurrent use. Steps that run at the same time (see
// [Step.Needs]) each get their own Run over the same state, which knows
// the step it was given to ([Run.StepID]).
type Run struct {
	*runState
	// step is the step this view of the run was given to; empty for the
	// run's own view.
	step string
}

// runState is the state a run's views share.
type runState struct {
	plan     *Plan
	captured *Captured
	report   *Report
	obs      event.Observer
	retry    RetryPolicy
	conc     int

	mu       sync.Mutex
	rnd      *rand.Rand
	excluded map[string]bool

	jmu  sync.Mutex
	jerr error

	watch watch
}

// forStep returns the view of the run given to step id.
func (r *Run) forStep(id string) *Run { return &Run{runState: r.runState, step: id} }

// Excluded reports whether the server was excluded from the run (by an Ask
// decision).
func (r *Run) Excluded(server string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.excluded[server]
}

// Included returns the servers of servers that are still in the run:
// servers excluded by a DecideExclude are left out.
func (r *Run) Included(servers []Server) []Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Server, 0, len(servers))
	for _, s := range servers {
		if !r.excluded[s.Name] {
			out = append(out, s)
		}
	}
	return out
}

// IncludedMembers returns the load-balancer members ([Server.MemberID]) of
// the group's servers that are still in the run: servers excluded by a
// DecideExclude are left out. [Group.Members] lists them all.
func (r *Run) IncludedMembers(g Group) []string {
	return Group{Zone: g.Zone, Role: g.Role, Servers: r.Included(g.Servers)}.Members()
}

// Farm returns the farm being deployed.
func (r *Run) Farm() *Farm { return r.plan.farm }

// Captured returns the state captured before anything changed.
func (r *Run) Captured() *Captured { return r.captured }

// StepID returns the ID of the step this Run was given to (the step whose
// Run, Undo or hook is being called), or "" outside any step.
func (r *Run) StepID() string { return r.step }

// Emit sends e to the run's observer, with Time and Step filled in when they
// are empty.
func (r *Run) Emit(e event.Event) { r.EmitContext(context.Background(), e) }

// Warn emits an [event.Warning] event.
func (r *Run) Warn(zone, server, format string, args ...any) {
	r.Emit(event.Event{Kind: event.Warning, Zone: zone, Server: server, Message: fmt.Sprintf(format, args...)})
}

// ForEachServer runs fn for every server, at most PlanConfig.Concurrency at
// once (a pool of that many goroutines), retrying each server's fn on
// transient errors. The driver calls fn makes are limited per system, per
// call (PlanConfig.Limits), so a server waiting (a poll's sleep, a retry's
// backoff) holds no other server up.
// It waits for all of them and returns their errors aggregated (a
// *multierror.Error of *StepError), or nil.
//
// Servers excluded from the run are skipped.
func (r *Run) ForEachServer(ctx context.Context, servers []Server, fn func(ctx context.Context, s Server) error) error {
	servers = r.Included(servers)
	return r.fanOut(ctx, len(servers), func(i int) error {
		s := servers[i]
		return r.Do(ctx, s.Zone, s.Name, func(ctx context.Context) error { return fn(ctx, s) })
	})
}

// ForEachZone runs fn for every zone of the farm concurrently (zones are
// independent), retrying each zone's fn on transient errors, and returns
// their errors aggregated, or nil.
func (r *Run) ForEachZone(ctx context.Context, fn func(ctx context.Context, z *Zone) error) error {
	zones := r.plan.farm.zones
	return r.fanOutOn(ctx, len(zones), len(zones), func(i int) error {
		z := zones[i]
		return r.Do(ctx, z.Name, "", func(ctx context.Context) error { return fn(ctx, z) })
	})
}

// Each runs fn for every server, at most PlanConfig.Concurrency at once,
// without retries and without recording actions in the report: it is for
// polls that are repeated many times (probes while waiting for installs).
// It returns the errors aggregated, or nil.
func (r *Run) Each(ctx context.Context, servers []Server, fn func(ctx context.Context, s Server) error) error {
	servers = r.Included(servers)
	return r.fanOut(ctx, len(servers), func(i int) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(ctx, servers[i])
	})
}

// fanOut runs fn(0) to fn(n-1) on a pool of at most r.conc goroutines and
// returns their errors aggregated.
func (r *Run) fanOut(ctx context.Context, n int, fn func(i int) error) error {
	return r.fanOutOn(ctx, n, r.conc, fn)
}

// fanOutOn is fanOut on a pool of at most workers goroutines.
func (r *Run) fanOutOn(ctx context.Context, n, workers int, fn func(i int) error) error {
	errs := make([]error, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(n, workers) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				errs[i] = fn(i)
			}
		})
	}
	wg.Wait()
	return aggregate(ctx, errs)
}

// aggregate returns the errors that are not nil as one *multierror.Error
// printed by [FormatErrors], or nil. The context's own error, returned by
// every call that was still waiting when ctx ended, is kept once rather
// than once per server: each server's error stays its own, and the text
// grows with the number of servers that failed, not with its square.
func aggregate(ctx context.Context, errs []error) error {
	cerr := ctx.Err()
	var merr *multierror.Error
	seenCtx := false
	for _, err := range errs {
		if err == nil {
			continue
		}
		if cerr != nil && err == cerr { //nolint:errorlint // the context's own error value, not one that wraps it
			if seenCtx {
				continue
			}
			seenCtx = true
		}
		merr = multierror.Append(merr, err)
	}
	if merr == nil {
		return nil
	}
	merr.ErrorFormat = FormatErrors
	return merr
}

// Do runs one action of the current step for a zone and/or server, retrying
// it with backoff while it fails with drivers.ErrUnavailable, and records it
// in the report. The error it returns is a *StepError.
func (r *Run) Do(ctx context.Context, zone, server string, fn func(ctx context.Context) error) error {
	step := r.StepID()
	act := ActionReport{Zone: zone, Server: server, Started: time.Now()}
	ctx = r.EmitContext(ctx, event.Event{Kind: event.ActionStarted, Step: step, Zone: zone, Server: server})
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
		r.EmitContext(ctx, event.Event{Kind: event.ActionRetry, Step: step, Zone: zone, Server: server, Attempt: attempt, Err: err,
			Message: fmt.Sprintf("transient error, retrying in %s", wait.Round(time.Millisecond))})
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		if ctx.Err() != nil {
			// The end of ctx is the cause; the transient error is only said:
			// wrapped, it would make the stop read as retryable.
			err = fmt.Errorf("%w (after %v)", ctx.Err(), err) //nolint:errorlint // see above
			break
		}
	}
	act.Finished = time.Now()
	if err != nil {
		err = &StepError{Step: step, Zone: zone, Server: server, Attempts: act.Attempts, Err: err}
		act.Error = errorLine(err)
	}
	r.report.update(step, func(s *StepReport) { s.Actions = append(s.Actions, act) })
	r.record(journal.Record{Kind: journal.Action, Step: step, Zone: zone, Server: server, Attempts: act.Attempts, Error: act.Error})
	r.EmitContext(ctx, event.Event{Kind: event.ActionFinished, Step: step, Zone: zone, Server: server, Attempt: act.Attempts, Err: err})
	return err
}

// Poll calls check every interval until it reports done, returns an error,
// or ctx ends. It emits an [event.Progress] event with check's message at most every
// progressEvery (zero means every call). It is how steps wait for drains,
// deployments and installs without ever going silent.
func (r *Run) Poll(ctx context.Context, interval, progressEvery time.Duration, zone string, check func(ctx context.Context) (done bool, progress event.Event, err error)) error {
	var lastProgress time.Time
	for {
		done, ev, err := check(ctx)
		if err != nil || done {
			return err
		}
		if now := time.Now(); lastProgress.IsZero() || now.Sub(lastProgress) >= progressEvery {
			lastProgress = now
			ev.Kind = event.Progress
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
