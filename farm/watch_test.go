package farm_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"
)

// guarded is a state a test step establishes ("stopped") and something
// else may change behind the run's back.
type guarded struct {
	mu      sync.Mutex
	stopped bool
	broken  bool // the state cannot be put back
	checks  []string
}

func (g *guarded) set(stopped bool) { g.mu.Lock(); g.stopped = stopped; g.mu.Unlock() }

func (g *guarded) guard(until string) farm.Guard {
	return farm.Guard{Name: "thing-stopped", Until: until, Check: func(ctx context.Context, r *farm.Run) error {
		g.mu.Lock()
		defer g.mu.Unlock()
		g.checks = append(g.checks, r.StepID())
		if g.stopped {
			return nil
		}
		if g.broken {
			r.Drifted(farm.Drift{Guard: "thing-stopped", Server: "fe01", What: "thing runs and cannot be stopped"})
			return errors.New("thing cannot be stopped")
		}
		g.stopped = true
		r.Drifted(farm.Drift{Guard: "thing-stopped", Server: "fe01", What: "thing was running: stopped again", Repaired: true})
		return nil
	}}
}

// watchPlan: "stop" establishes the state until "start"; "wait" polls for
// a minute in between.
func watchPlan(t *testing.T, g *guarded, cfg farm.PlanConfig, during func(elapsed time.Duration)) *farm.Plan {
	lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: lb})
	require.NoError(t, err)
	p, err := farm.NewPlan(f, cfg,
		farm.Step{ID: "stop", Guards: []farm.Guard{g.guard("start")}, Run: func(context.Context, *farm.Run) error {
			g.set(true)
			return nil
		}},
		farm.Step{ID: "wait", Run: func(ctx context.Context, r *farm.Run) error {
			start := time.Now()
			return r.Poll(ctx, time.Second, time.Minute, "", func(context.Context) (bool, event.Event, error) {
				if during != nil {
					during(time.Since(start))
				}
				return time.Since(start) >= time.Minute, event.Event{}, nil
			})
		}},
		farm.Step{ID: "start", Run: func(context.Context, *farm.Run) error {
			g.set(false)
			return nil
		}},
		farm.Step{ID: "after", Run: func(context.Context, *farm.Run) error { return nil }},
	)
	require.NoError(t, err)
	return p
}

func TestWatchRepairsDriftAtBoundariesAndDuringWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &guarded{}
		var warned []string
		flipped := map[time.Duration]bool{}
		p := watchPlan(t, g, farm.PlanConfig{WatchInterval: 10 * time.Second, Observer: event.ObserverFunc(func(e event.Event) {
			if e.Kind == event.Warning {
				warned = append(warned, e.Message)
			}
		})}, func(el time.Duration) {
			if el >= 30*time.Second && !flipped[30] {
				flipped[30] = true
				g.set(false) // restarted behind the run's back, mid-wait
			}
		})
		rep, err := p.Run(t.Context())
		require.NoError(t, err)
		require.Len(t, rep.Drifts, 1, "the mid-wait drift is seen and repaired")
		d := rep.Drifts[0]
		assert.True(t, d.Repaired)
		assert.Equal(t, "wait", d.Step)
		assert.Equal(t, "fe01", d.Server)
		assert.Contains(t, warned, "drift (thing-stopped, repaired): thing was running: stopped again")
		var out strings.Builder
		require.NoError(t, rep.Write(&out))
		assert.Contains(t, out.String(), "drifts:\n  wait thing-stopped fe01 (repaired): thing was running: stopped again\n")
		assert.Equal(t, "wait", g.checks[0], "checked at the boundary before wait")
		assert.NotContains(t, g.checks, "start", "the guard ends when start starts")
		assert.NotContains(t, g.checks, "after")
		// Periodically: a 60 s wait at a 10 s interval.
		n := 0
		for _, c := range g.checks {
			if c == "wait" {
				n++
			}
		}
		assert.GreaterOrEqual(t, n, 6)
		assert.LessOrEqual(t, n, 8)
	})
}

func TestWatchBoundaryCheckBeforeTheNextStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &guarded{}
		p := watchPlan(t, g, farm.PlanConfig{WatchInterval: -1}, nil)
		require.NoError(t, p.After("stop", farm.Hook{Name: "restart", Func: func(context.Context, *farm.Run) error {
			g.set(false) // after the step's own confirmation
			return nil
		}}))
		rep, err := p.Run(t.Context())
		require.NoError(t, err)
		require.Len(t, rep.Drifts, 1)
		assert.Equal(t, "wait", rep.Drifts[0].Step, "seen at the boundary before wait")
		assert.Equal(t, []string{"wait"}, g.checks, "no periodic check with a negative interval")
	})
}

func TestWatchUnrepairableDriftFollowsTheFailurePolicy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &guarded{broken: true}
		p := watchPlan(t, g, farm.PlanConfig{WatchInterval: 10 * time.Second}, func(el time.Duration) {
			if el >= 20*time.Second {
				g.set(false)
			}
		})
		rep, err := p.Run(t.Context())
		require.ErrorIs(t, err, farm.ErrHalted)
		require.ErrorIs(t, err, farm.ErrDrift)
		assert.Contains(t, err.Error(), "thing-stopped: thing cannot be stopped")
		assert.Equal(t, "wait", rep.FailedStep)
		require.Len(t, rep.Drifts, 1, "reported once")
		assert.False(t, rep.Drifts[0].Repaired)

	})
}

// TestWatchResumedRunRegistersTheGuardsOfDoneSteps: a run resumed after
// "stop" checks the state "stop" established at its first boundary.
func TestWatchResumedRunRegistersTheGuardsOfDoneSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &guarded{broken: true}
		j := &memJournal{}
		p := watchPlan(t, g, farm.PlanConfig{Journal: j, WatchInterval: 10 * time.Second}, func(el time.Duration) { g.set(false) })
		_, err := p.Run(t.Context())
		require.ErrorIs(t, err, farm.ErrDrift)
		g.mu.Lock()
		g.broken, g.checks = false, nil
		g.mu.Unlock()
		p2 := watchPlan(t, g, farm.PlanConfig{WatchInterval: -1}, nil)
		rep, err := p2.Resume(t.Context(), j.records())
		require.NoError(t, err)
		assert.Equal(t, []string{"wait"}, g.checks, "checked at the resumed run's first boundary")
		require.Len(t, rep.Drifts, 1)
		assert.True(t, rep.Drifts[0].Repaired)
	})
}

// TestWatchWakesAPollThatWaitsLonger: a Poll whose interval is longer than
// the watch interval still lets the guards be checked on time.
func TestWatchWakesAPollThatWaitsLonger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &guarded{}
		lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: lb})
		require.NoError(t, err)
		polls := 0
		p, err := farm.NewPlan(f, farm.PlanConfig{WatchInterval: 10 * time.Second},
			farm.Step{ID: "stop", Guards: []farm.Guard{g.guard("")}, Run: func(context.Context, *farm.Run) error { g.set(true); return nil }},
			farm.Step{ID: "wait", Run: func(ctx context.Context, r *farm.Run) error {
				start := time.Now()
				return r.Poll(ctx, time.Minute, time.Minute, "", func(context.Context) (bool, event.Event, error) {
					polls++
					return time.Since(start) >= 2*time.Minute, event.Event{}, nil
				})
			}})
		require.NoError(t, err)
		_, err = p.Run(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 3, polls, "the poll's own interval is kept")
		assert.Len(t, g.checks, 1+12, "the boundary, then every 10 s of the 2 min wait")
	})
}
