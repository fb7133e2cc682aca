package steps_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The three drift cases of issue 18: each ends with the drift repaired (or
// the run halted safe) and no failed request the drift causes.

// atStepStart calls fn after d once step starts (in simulated time).
func atStepStart(step string, d time.Duration, fn func()) event.Observer {
	return onFirst(event.StepStarted, step, d, fn)
}

// atStepEnd calls fn once, as step first finishes (done or failed), on a
// goroutine of its own.
func atStepEnd(step string, fn func()) event.Observer {
	return onFirst(event.StepFinished, step, 0, fn)
}

// onFirst calls fn once, d after the first event of kind for step. Steps
// that overlap emit their events from goroutines of their own, so the
// observer may be called concurrently: sync.Once, not a flag.
func onFirst(kind event.Kind, step string, d time.Duration, fn func()) event.Observer {
	var once sync.Once
	return event.ObserverFunc(func(e event.Event) {
		if e.Kind == kind && e.Step == step {
			once.Do(func() { time.AfterFunc(d, fn) })
		}
	})
}

func driftsOf(rep *farm.Report, guard string) []farm.Drift {
	var out []farm.Drift
	for _, d := range rep.Drifts {
		if d.Guard == guard {
			out = append(out, d)
		}
	}
	return out
}

func restartScheduler(t *testing.T, sim *simulate.Sim, server string) {
	require.NoError(t, sim.SetServiceState(server, drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}))
}

// TestDriftSchedulerRestarted: a Scheduler restarted after stop-schedulers
// (a recovery action, a colleague, a GPO) is stopped and disabled again
// before the deployment starts, whether it restarts before a step boundary
// or just before the deployment itself.
func TestDriftSchedulerRestarted(t *testing.T) {
	for _, tc := range []struct {
		name, hookOn, server string
		seenIn               []string
		before               bool
	}{
		// drain-updating and block-loaded run beside stop-schedulers: the
		// drift is seen by their periodic check or at publish's boundary,
		// before the deployment starts either way.
		{"after stop-schedulers", steps.StopSchedulers, "fe03", []string{steps.DrainUpdating, steps.BlockLoaded, steps.Publish}, false},
		{"just before the deployment", steps.Publish, "fe04", []string{steps.Publish}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 101})
				p := sf.plan(t, nil, nil, farm.Halt, "v2")
				hook := farm.Hook{Name: "restart " + tc.server, Func: func(context.Context, *farm.Run) error {
					restartScheduler(t, sf.sim, tc.server)
					return nil
				}}
				if tc.before {
					require.NoError(t, p.Before(tc.hookOn, hook))
				} else {
					require.NoError(t, p.After(tc.hookOn, hook))
				}
				require.NoError(t, sf.sim.Start(t.Context()))
				rep, err := p.Run(t.Context())
				time.Sleep(time.Minute)
				sf.sim.Stop()
				require.NoError(t, err)
				assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}))
				r := sf.sim.Report()
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
				require.Len(t, rep.Drifts, 1, "%+v", rep.Drifts)
				d := rep.Drifts[0]
				assert.True(t, d.Repaired)
				assert.Equal(t, tc.server, d.Server)
				assert.Contains(t, tc.seenIn, d.Step)
				assert.Contains(t, d.What, "scheduler service read running/Automatic")
			})
		})
	}
}

// TestDriftLoadBalancerResetDuringPublish: a load-balancer reload during
// publish puts the Updating servers back in rotation: before their installs
// (they would install while serving) or while they install (they would
// serve the release next to the Loaded group's previous one). The watch
// takes them out again in time.
func TestDriftLoadBalancerResetDuringPublish(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   time.Duration // after publish starts; installs start ~21 s in
	}{{"before the installs", 2 * time.Second}, {"during the installs", 30 * time.Second}} {
		for _, plain := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, plain %v", tc.name, plain), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 102,
						Traffic: simulate.Traffic{Rate: 20, Duration: 200 * time.Millisecond, MaxDuration: 3 * time.Second}})
					sf.plain = plain
					sf.observer = atStepStart(steps.Publish, tc.at, func() { require.NoError(t, sf.sim.ResetLoadBalancer("")) })
					p := sf.plan(t, nil, nil, farm.Halt, "v2")
					require.NoError(t, sf.sim.Start(t.Context()))
					rep, err := p.Run(t.Context())
					time.Sleep(time.Minute)
					sf.sim.Stop()
					require.NoError(t, err)
					assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}))
					r := sf.sim.Report()
					assert.Zero(t, r.Failed, r.String())
					assert.Zero(t, r.TotalViolations(), r.String())
					if !plain {
						assert.Zero(t, r.Zones[0].MixedVersionWindow, "one transaction: never two versions at once\n%s", r.String())
					}
					ds := driftsOf(rep, steps.GuardUpdatingOut)
					require.Len(t, ds, 1, "%+v", rep.Drifts)
					assert.True(t, ds[0].Repaired)
					assert.Equal(t, steps.Publish, ds[0].Step)
					assert.Contains(t, ds[0].What, "fe01 (serving")
				})
			})
		}
	}
}

// TestDriftLoadedServerCrashesDuringPublish: a Loaded server crashing
// during publish leaves its zone below the capacity floor (1 of 4 serving,
// floor 2): the run cannot put that right, and halts (the failure policy)
// with the drift reported, instead of going on to switch.
func TestDriftLoadedServerCrashesDuringPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 103})
		sf.observer = atStepStart(steps.Publish, 5*time.Second, func() { require.NoError(t, sf.sim.Crash("fe03", time.Minute)) })
		p := sf.plan(t, nil, nil, farm.Halt, "v2")
		require.NoError(t, sf.sim.Start(t.Context()))
		rep, err := p.Run(t.Context())
		time.Sleep(2 * time.Minute) // fe03 recovers
		sf.sim.Stop()
		r := sf.sim.Report()
		t.Logf("below the floor for %s", r.Zones[0].BelowFloor)
		require.ErrorIs(t, err, farm.ErrHalted)
		require.ErrorIs(t, err, farm.ErrDrift)
		assert.Contains(t, err.Error(), "1 of 4 servers serving and healthy while the loaded group carries the zone alone (fe03 (serving, unhealthy)): want at least 2")
		assert.Equal(t, steps.Publish, rep.FailedStep)
		ds := driftsOf(rep, steps.GuardLoadedCarries)
		require.Len(t, ds, 1, "%+v", rep.Drifts)
		assert.False(t, ds[0].Repaired)
		assert.Empty(t, sf.sim.CheckSafeState())
		for cause := range r.FailureCauses {
			assert.Contains(t, []string{simulate.CauseServerDown, simulate.CauseResetCrash}, cause, "only the crash itself fails requests\n%s", r.String())
		}
		for _, v := range r.Violations {
			assert.Equal(t, 4, v.Invariant, "the crash itself breaks the floor, nothing else: %v", v)
		}
	})
}

// TestDriftLoadedDeploymentServiceRestarted: a Loaded server's Deployment
// service restarted after block-loaded would install the release while the
// server serves; it is stopped and disabled again before publish.
func TestDriftLoadedDeploymentServiceRestarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 104})
		p := sf.plan(t, nil, nil, farm.Halt, "v2")
		require.NoError(t, p.After(steps.BlockLoaded, farm.Hook{Name: "restart fe03's deployment service", Func: func(context.Context, *farm.Run) error {
			return sf.sim.SetServiceState("fe03", drivers.DeploymentService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
		}}))
		require.NoError(t, sf.sim.Start(t.Context()))
		rep, err := p.Run(t.Context())
		time.Sleep(time.Minute)
		sf.sim.Stop()
		require.NoError(t, err)
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}))
		r := sf.sim.Report()
		assert.Zero(t, r.Failed, r.String())
		assert.Zero(t, r.TotalViolations(), r.String())
		ds := driftsOf(rep, steps.GuardDeploymentStoppedLoaded)
		require.Len(t, ds, 1, "%+v", rep.Drifts)
		assert.True(t, ds[0].Repaired)
		assert.Equal(t, "fe03", ds[0].Server)
		assert.Equal(t, steps.Publish, ds[0].Step)
	})
}
