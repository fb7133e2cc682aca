package simulate_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// runBalanced runs steps.Balanced, unchanged, on a simulated farm under
// load and returns the engine's report and the simulator's, with invariants
// 6 and 7 checked at the end.
func runBalanced(t *testing.T, cfg simulate.Config, lbKind int, tune func(*simulate.Sim, *steps.Config), opts ...runOption) (*farm.Report, simulate.Report, error) {
	t.Helper()
	sim, err := simulate.New(cfg)
	require.NoError(t, err)
	fc := farm.Config{Zones: farm.AutoSplit(sim.Servers())}
	switch lbKind {
	case plainLB:
		fc.LoadBalancer = sim.PlainLoadBalancer("")
	case farmLB:
		fc.LoadBalancer = sim.LoadBalancer("")
	default:
		for i := range fc.Zones {
			fc.Zones[i].LoadBalancer = sim.LoadBalancer(fc.Zones[i].Name)
		}
	}
	f, err := farm.New(fc)
	require.NoError(t, err)
	rel := drivers.Release{Version: "v2"}
	sc := steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(), Release: rel,
		Plan: farm.PlanConfig{Seed: 1, Observer: event.ObserverFunc(func(e event.Event) {
			if e.Kind == event.StepStarted {
				sim.Mark(e.Step)
			}
		})}}
	if tune != nil {
		tune(sim, &sc)
	}
	plan, err := steps.Balanced(f, sc)
	require.NoError(t, err)
	for _, o := range opts {
		if o.stepIDs != nil {
			*o.stepIDs = plan.StepIDs()
		}
	}
	ctx := t.Context()
	require.NoError(t, sim.Start(ctx))
	time.Sleep(10 * time.Second)
	runCtx := ctx
	for _, o := range opts {
		if o.timeout > 0 {
			var cancel context.CancelFunc
			runCtx, cancel = context.WithTimeout(ctx, o.timeout)
			defer cancel()
		}
	}
	rep, runErr := plan.Run(runCtx)
	time.Sleep(10 * time.Second)
	sim.Stop()
	sim.CheckSafeState()
	if runErr == nil {
		sim.CheckEndState(rel)
	}
	return rep, sim.Report(), runErr
}

// Load balancer shapes for runBalanced.
const (
	zoneLBs = iota // one load balancer per zone
	farmLB         // one load balancer for the farm
	plainLB        // one load balancer for the farm, without Switcher
)

type runOption struct {
	timeout time.Duration
	stepIDs *[]string // receives the plan's step IDs
}

// withRunTimeout cancels the plan's run after d.
func withRunTimeout(d time.Duration) runOption { return runOption{timeout: d} }

// TestBalancedPlanIsSafe runs the engine's balanced plan on several farm
// shapes under load: zero failed requests and zero violations of any
// invariant is the assertion.
func TestBalancedPlanIsSafe(t *testing.T) {
	shapes := []struct {
		name   string
		cfg    simulate.Config
		lbKind int
	}{
		{"2 servers", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, Seed: 1}, zoneLBs},
		{"3 servers, one farm load balancer", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 3}}, Seed: 2}, farmLB},
		{"7 servers, long requests", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 7}}, Seed: 3,
			Traffic: simulate.Traffic{Rate: 60, Duration: 100 * time.Millisecond, MaxDuration: 30 * time.Second}}, zoneLBs},
		{"3 zones", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}, {Servers: 5, Rate: 80}, {Servers: 4}}, Seed: 4, Controller: "fe04"}, zoneLBs},
		{"2 zones, one farm load balancer", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}, {Servers: 3}}, Seed: 5}, farmLB},
		{"slow health checks", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 6, HealthCheckDelay: 15 * time.Second}, zoneLBs},
		{"services not in their defaults", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 8,
			InitialServices: map[drivers.Service]drivers.ServiceState{
				drivers.SchedulerService:  {Run: drivers.Running, Startup: drivers.AutomaticDelayedStart},
				drivers.DeploymentService: {Run: drivers.Running, Startup: drivers.Manual},
			}}, zoneLBs},
		{"no Switcher", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}, {Servers: 3}}, Seed: 10, LoadBalancerLatency: 300 * time.Millisecond}, plainLB},
		{"60 servers", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 40}, {Servers: 20}}, Seed: 7, Traffic: simulate.Traffic{Rate: 200}}, zoneLBs},
	}
	for _, tc := range shapes {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rep, r, err := runBalanced(t, tc.cfg, tc.lbKind, nil)
				require.NoError(t, err, r.String())
				assert.Equal(t, farm.Succeeded, rep.Outcome)
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
				assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7}, r.Checked)
				for _, z := range r.Zones {
					assert.Equal(t, tc.lbKind == plainLB, z.NonAtomic)
					if z.NonAtomic {
						assert.Positive(t, z.MixedVersionWindow, "two moves leave both versions serving a while")
					}
					t.Logf("zone %s: mixed-version window %v, stale after new %d", z.Name, z.MixedVersionWindow, z.StaleAfterNew)
				}
				assert.Positive(t, r.ServedByVersion["v1"])
				assert.Positive(t, r.ServedByVersion["v2"])
				var marks []string
				for i, m := range r.Marks {
					marks = append(marks, m.Label)
					if i > 0 {
						assert.GreaterOrEqual(t, m.Elapsed, r.Marks[i-1].Elapsed)
					}
				}
				// Steps that need nothing of each other start in any order.
				assert.ElementsMatch(t, steps.IDs(), marks, "every step marked on the timeline")
				t.Logf("simulated %v, %d requests served", r.Elapsed, r.Served)
			})
		})
	}
}

// TestBalancedPlanUnderFaults injects faults into the simulated farm and
// checks what the engine does with them: transient errors are retried and
// the run stays safe; a failed publish or install halts the run in a safe
// state (invariant 7) without failing a request.
func TestBalancedPlanUnderFaults(t *testing.T) {
	flaky := func(sim *simulate.Sim, _ *steps.Config) {
		for _, op := range []simulate.Op{simulate.OpStopService, simulate.OpRestoreService, simulate.OpSetState, simulate.OpSwitch, simulate.OpStatus, simulate.OpProbe} {
			require.NoError(t, sim.Inject(fault.Fault{Op: op, Err: drivers.ErrUnavailable, Probability: 0.2}))
		}
	}
	tests := []struct {
		name     string
		tune     func(*simulate.Sim, *steps.Config)
		outcome  farm.Outcome
		failedAt string
	}{
		{"transient errors everywhere", flaky, farm.Succeeded, ""},
		{"slow load balancer", func(sim *simulate.Sim, _ *steps.Config) {
			require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpSetState, Latency: 5 * time.Second}))
		}, farm.Succeeded, ""},
		{"publish fails", func(sim *simulate.Sim, _ *steps.Config) {
			require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpPublish, Err: errors.New("compilation failed")}))
		}, farm.Halted, steps.Publish},
		{"install fails on the controller", func(sim *simulate.Sim, _ *steps.Config) {
			require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpInstall, Target: "fe01", Err: errors.New("disk full")}))
		}, farm.Halted, steps.Publish},
		{"watchdog restarts a stopped scheduler", func(sim *simulate.Sim, sc *steps.Config) {
			sc.Plan.Observer = event.ObserverFunc(func(e event.Event) {
				if e.Kind == event.ActionFinished && e.Step == steps.StopSchedulers && e.Server == "fe03" && e.Err == nil {
					// Should the restart fail, the run succeeds and the test fails.
					time.AfterFunc(500*time.Millisecond, func() {
						_ = sim.SetServiceState("fe03", drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
					})
				}
			})
		}, farm.Halted, steps.StopSchedulers},
		{"prepared deployment continued", func(sim *simulate.Sim, sc *steps.Config) {
			require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentNeedsUserIntervention, Info: "deployment_prepared"}}))
			sc.ContinuePrepared = true
		}, farm.Succeeded, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 11}
				rep, r, err := runBalanced(t, cfg, zoneLBs, tc.tune)
				assert.Equal(t, tc.outcome, rep.Outcome, "%v", err)
				assert.Equal(t, tc.failedAt, rep.FailedStep)
				if tc.outcome == farm.Succeeded {
					require.NoError(t, err)
				} else {
					require.ErrorIs(t, err, farm.ErrHalted)
				}
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
			})
		})
	}
}

// TestBalancedPlanDeterministic runs the engine, with its concurrent
// fan-out and flaky drivers, twice on the same seed: the simulator's
// reports are identical.
func TestBalancedPlanDeterministic(t *testing.T) {
	run := func() simulate.Report {
		var r simulate.Report
		synctest.Test(t, func(t *testing.T) {
			cfg := simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 6}, {Servers: 4}}, Seed: 99,
				Traffic: simulate.Traffic{Rate: 50, Duration: 50 * time.Millisecond, MaxDuration: 8 * time.Second}}
			_, r, _ = runBalanced(t, cfg, zoneLBs, func(sim *simulate.Sim, sc *steps.Config) {
				// The engine draws retry jitter from one generator shared by
				// its concurrent actions, in whatever order they retry: turn
				// it off to compare the simulator alone.
				sc.Plan.Retry.Jitter = -1
				// Steps run beside each other interleave their calls as the
				// goroutines are scheduled, which ranks the calls (and draws
				// the faults below) differently: one step at a time.
				sc.Plan.StrictOrder = true
				require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpStatus, Err: drivers.ErrUnavailable, Probability: 0.3}))
				require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpStopService, Err: drivers.ErrUnavailable, Probability: 0.3}))
			})
		})
		return r
	}
	a, b := run(), run()
	assert.Equal(t, a, b)
	assert.Zero(t, a.TotalViolations(), a.String())
	assert.Positive(t, a.Served)
}

// TestBalancedPlanCancelledLeavesSafeState cancels the run inside every
// step (just after it starts and half-way through, timed from an
// uncancelled run of the same seed): wherever it stops, no request fails and
// the farm is in a safe state (invariant 7).
func TestBalancedPlanCancelledLeavesSafeState(t *testing.T) {
	cfg := simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 3}, {Servers: 4}}, Seed: 12,
		Traffic: simulate.Traffic{Rate: 30, Duration: 100 * time.Millisecond, MaxDuration: 5 * time.Second}}
	var cancelAt []time.Duration
	synctest.Test(t, func(t *testing.T) {
		rep, _, err := runBalanced(t, cfg, zoneLBs, nil)
		require.NoError(t, err)
		for _, st := range rep.Steps {
			from, to := st.Started.Sub(rep.Started), st.Finished.Sub(rep.Started)
			cancelAt = append(cancelAt, from+time.Millisecond, (from+to)/2)
		}
	})
	require.Len(t, cancelAt, 2*len(steps.IDs()))
	for _, after := range cancelAt {
		t.Run(after.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rep, r, err := runBalanced(t, cfg, zoneLBs, nil, withRunTimeout(after))
				if err == nil {
					t.Logf("finished before %v", after)
				} else {
					assert.Equal(t, farm.Halted, rep.Outcome, "%v", err)
					t.Logf("halted at %s, resume from %s", rep.FailedStep, rep.ResumeFrom)
				}
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
				assert.Contains(t, r.Checked, 7)
			})
		})
	}
}
