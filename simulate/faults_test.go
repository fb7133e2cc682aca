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
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
)

var classes = []error{drivers.ErrUnavailable, drivers.ErrNotFound, drivers.ErrPermissionDenied, drivers.ErrInvalidArgument, drivers.ErrUnimplemented}

// TestFaultEveryClassEveryDriver injects each error class into one call of
// each driver and checks the class reaches the caller and the call changed
// nothing.
func TestFaultEveryClassEveryDriver(t *testing.T) {
	calls := []struct {
		op      simulate.Op
		call    func(ctx context.Context, sim *simulate.Sim) error
		changed func(sim *simulate.Sim) bool
	}{
		{simulate.OpStopService, func(ctx context.Context, sim *simulate.Sim) error {
			return sim.Services().StopService(ctx, target("fe01"), drivers.SchedulerService)
		}, func(sim *simulate.Sim) bool {
			st, _ := sim.ServerState("fe01")
			return st.Services[drivers.SchedulerService].Run != drivers.Running
		}},
		{simulate.OpSetState, func(ctx context.Context, sim *simulate.Sim) error {
			return sim.LoadBalancer("default").SetState(ctx, drivers.Out, "fe01")
		}, func(sim *simulate.Sim) bool {
			st, _ := sim.ServerState("fe01")
			return st.Member.State != drivers.Serving
		}},
		{simulate.OpSwitch, func(ctx context.Context, sim *simulate.Sim) error {
			return sim.LoadBalancer("default").Switch(ctx, []string{"fe01"}, []string{"fe02"})
		}, func(sim *simulate.Sim) bool {
			st, _ := sim.ServerState("fe02")
			return st.Member.State != drivers.Serving
		}},
		{simulate.OpStartDeployment, func(ctx context.Context, sim *simulate.Sim) error {
			_, err := sim.Platform().StartDeployment(ctx, rel2)
			return err
		}, func(sim *simulate.Sim) bool {
			_, err := sim.Platform().DeploymentStatus(context.Background(), "dep-1")
			return err == nil
		}},
		{simulate.OpProbe, func(ctx context.Context, sim *simulate.Sim) error {
			_, err := sim.Prober().Probe(ctx, target("fe01"))
			return err
		}, func(*simulate.Sim) bool { return false }},
	}
	for _, c := range calls {
		for _, class := range classes {
			t.Run(string(c.op)+"/"+class.Error(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					sim, err := simulate.New(simulate.Config{})
					require.NoError(t, err)
					server := "fe01"
					if c.op == simulate.OpStartDeployment {
						server = "" // the platform call names no server
					}
					require.NoError(t, sim.Inject(fault.Fault{Op: c.op, Target: server, Err: drivers.Classify(class, errors.New("boom"))}))
					err = c.call(t.Context(), sim)
					require.Error(t, err)
					assert.ErrorIs(t, err, class)
					assert.Equal(t, class, drivers.Class(err))
					assert.False(t, c.changed(sim), "a failed call must change nothing")
					acts := sim.Actions(c.op)
					require.NotEmpty(t, acts)
					assert.ErrorIs(t, acts[len(acts)-1].Err, class, "the action records the error")
				})
			})
		}
	}
}

func TestFaultAfterCallsAndTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{})
		require.NoError(t, err)
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpStatus, Err: drivers.ErrUnavailable, After: 2, Times: 3}))
		lb := sim.LoadBalancer("")
		var got []bool
		for range 7 {
			_, err := lb.Status(t.Context(), "fe01")
			got = append(got, err != nil)
		}
		assert.Equal(t, []bool{false, false, true, true, true, false, false}, got)
		sim.ClearFaults()
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpStatus, Target: "fe02", Err: drivers.ErrUnavailable}))
		_, err = lb.Status(t.Context(), "fe01")
		assert.NoError(t, err, "a fault for fe02 leaves fe01 alone")
		_, err = lb.Status(t.Context(), "fe01", "fe02")
		assert.ErrorIs(t, err, drivers.ErrUnavailable, "a call naming fe02 among others is hit")
	})
}

func TestFaultAfterEffect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{})
		require.NoError(t, err)
		timeout := errors.New("read timeout after commit")
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpSetState, Err: timeout, AfterEffect: true, Times: 1}))
		err = sim.LoadBalancer("").SetState(t.Context(), drivers.Draining, "fe01")
		assert.ErrorIs(t, err, timeout)
		st, err := sim.ServerState("fe01")
		require.NoError(t, err)
		assert.Equal(t, drivers.Draining, st.Member.State, "the change took effect")
		err = sim.Inject(fault.Fault{Op: simulate.OpSetState, Err: drivers.ErrUnavailable, AfterEffect: true})
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "ErrUnavailable promises no effect")
	})
}

func TestFaultLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{ServiceLatency: -1})
		require.NoError(t, err)
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpServiceState, Latency: 45 * time.Second}))
		start := time.Now()
		_, err = sim.Services().ServiceState(t.Context(), target("fe02"), drivers.DeploymentService)
		require.NoError(t, err)
		assert.Equal(t, 45*time.Second, time.Since(start))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err = sim.Services().ServiceState(ctx, target("fe02"), drivers.DeploymentService)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 55*time.Second, time.Since(start), "a cancelled call returns at the deadline")
	})
}

// TestFaultProbabilityDeterministic checks probabilistic faults hit about
// the asked share of calls, the same calls for the same seed.
func TestFaultProbabilityDeterministic(t *testing.T) {
	pattern := func(seed uint64) []bool {
		var out []bool
		synctest.Test(t, func(t *testing.T) {
			sim, err := simulate.New(simulate.Config{Seed: seed})
			require.NoError(t, err)
			require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpSetState, Err: drivers.ErrUnavailable, Probability: 0.3}))
			for i := range 400 {
				m := []string{"fe01", "fe02"}[i%2]
				out = append(out, sim.LoadBalancer("").SetState(t.Context(), drivers.Serving, m) != nil)
			}
		})
		return out
	}
	a, b, c := pattern(1), pattern(1), pattern(2)
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, c)
	hits := map[int]int{}
	for i, h := range a {
		if h {
			hits[i%2]++
		}
	}
	assert.InDelta(t, 60, hits[0], 25, "fe01: about 30 percent of 200 calls")
	assert.InDelta(t, 60, hits[1], 25, "fe02: about 30 percent of 200 calls")
}

func TestFaultValidation(t *testing.T) {
	sim, err := simulate.New(simulate.Config{})
	require.NoError(t, err)
	tests := []struct {
		f    fault.Fault
		want error
		text string
	}{
		{fault.Fault{Op: "Reboot"}, drivers.ErrInvalidArgument, `"Reboot"`},
		{fault.Fault{Op: simulate.OpProbe, Target: "fe99"}, drivers.ErrNotFound, `"fe99"`},
		{fault.Fault{Op: simulate.OpProbe, Probability: 1.5}, drivers.ErrInvalidArgument, "1.5"},
		{fault.Fault{Op: simulate.OpPublish}, drivers.ErrInvalidArgument, "publish fault"},
		{fault.Fault{Op: simulate.OpStartDeployment, Target: "fe01"}, drivers.ErrInvalidArgument, "platform operations concern no server"},
		{fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentSucceeded}}, drivers.ErrInvalidArgument, "finished_successful"},
	}
	for _, tc := range tests {
		err := sim.Inject(tc.f)
		assert.ErrorIs(t, err, tc.want)
		assert.ErrorContains(t, err, tc.text)
	}
}

func TestFaultCrashAndRecover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 3}}, Traffic: simulate.Traffic{Rate: 30, Duration: time.Second}})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		time.Sleep(10 * time.Second)
		require.NoError(t, sim.Crash("fe02", 30*time.Second))
		r, err := sim.Prober().Probe(t.Context(), target("fe02"))
		require.NoError(t, err)
		assert.False(t, r.Healthy)
		assert.Zero(t, r.StatusCode)
		time.Sleep(5 * time.Second)
		st, err := sim.LoadBalancer("").Status(t.Context(), "fe02")
		require.NoError(t, err)
		assert.Equal(t, drivers.Unhealthy, st[0].Health, "health checks noticed")
		time.Sleep(40 * time.Second)
		st, err = sim.LoadBalancer("").Status(t.Context(), "fe02")
		require.NoError(t, err)
		assert.Equal(t, drivers.Healthy, st[0].Health, "recovered")
		sim.Stop()
		rep := sim.Report()
		assert.Positive(t, rep.FailureCauses[simulate.CauseResetCrash]+rep.FailureCauses[simulate.CauseServerDown])
		assert.Zero(t, rep.FailureCauses[simulate.CauseNoServingMember])
		assert.Empty(t, rep.ViolationsOf(1), "failures from an injected crash are not the deployment's")
		assert.Positive(t, rep.Zones[0].ByServer["fe02"])
		assert.ErrorIs(t, sim.Crash("nope", 0), drivers.ErrNotFound)
		require.NoError(t, sim.Crash("fe03", 0))
		require.NoError(t, sim.Recover("fe03"))
		r, err = sim.Prober().Probe(t.Context(), target("fe03"))
		require.NoError(t, err)
		assert.True(t, r.Healthy)
	})
}

func TestFaultInstallFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}})
		require.NoError(t, err)
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpInstall, Target: "fe02", Err: errors.New("disk full"), Times: 1}))
		stopAll(t, sim, drivers.SchedulerService, "fe01", "fe02")
		id, err := sim.Platform().StartDeployment(t.Context(), rel2)
		require.NoError(t, err)
		time.Sleep(5 * time.Minute)
		ds, err := sim.Platform().DeploymentStatus(t.Context(), id)
		require.NoError(t, err)
		assert.Equal(t, drivers.DeploymentSucceeded, ds.State, "the platform's publish succeeded")
		st, err := sim.ServerState("fe02")
		require.NoError(t, err)
		assert.True(t, st.InstallFailed)
		assert.Equal(t, "v1", st.Version)
		r, err := sim.Prober().Probe(t.Context(), target("fe02"))
		require.NoError(t, err)
		assert.Equal(t, drivers.ProbeResult{StatusCode: 503, Detail: "application failed to install"}, r)
		idle, err := sim.Services().DeploymentIdle(t.Context(), target("fe02"))
		require.NoError(t, err)
		assert.True(t, idle)
		// A later deployment installs it.
		_, err = sim.Platform().StartDeployment(t.Context(), drivers.Release{Version: "v3"})
		require.NoError(t, err)
		time.Sleep(5 * time.Minute)
		st, err = sim.ServerState("fe02")
		require.NoError(t, err)
		assert.False(t, st.InstallFailed)
		assert.Equal(t, "v3", st.Version)
	})
}

func TestFaultPublishOutcomes(t *testing.T) {
	tests := []struct {
		name  string
		fault fault.Fault
		then  func(t *testing.T, sim *simulate.Sim, id string)
		want  drivers.DeploymentState
	}{
		{"failed", fault.Fault{Op: simulate.OpPublish, Err: errors.New("compilation error in module X")}, nil, drivers.DeploymentFailed},
		{"needs intervention then continue", fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentNeedsUserIntervention, Info: "deployment_prepared"}},
			func(t *testing.T, sim *simulate.Sim, id string) {
				ds, err := sim.Platform().DeploymentStatus(t.Context(), id)
				require.NoError(t, err)
				assert.Equal(t, "deployment_prepared", ds.Info)
				require.NoError(t, sim.Platform().ContinueDeployment(t.Context(), id))
				require.NoError(t, sim.Platform().ContinueDeployment(t.Context(), id), "continuing twice is a no-op")
			}, drivers.DeploymentSucceeded},
		{"needs intervention then abort", fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentNeedsUserIntervention, Info: "business_process_impact"}},
			func(t *testing.T, sim *simulate.Sim, id string) {
				require.NoError(t, sim.Platform().AbortDeployment(t.Context(), id))
				require.NoError(t, sim.Platform().AbortDeployment(t.Context(), id), "aborting twice is a no-op")
				assert.ErrorIs(t, sim.Platform().ContinueDeployment(t.Context(), id), drivers.ErrInvalidArgument)
			}, drivers.DeploymentAborted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}})
				require.NoError(t, err)
				require.NoError(t, sim.Inject(tc.fault))
				id, err := sim.Platform().StartDeployment(t.Context(), rel2)
				require.NoError(t, err)
				time.Sleep(2 * time.Minute)
				if tc.then != nil {
					tc.then(t, sim, id)
				}
				time.Sleep(4 * time.Minute)
				ds, err := sim.Platform().DeploymentStatus(t.Context(), id)
				require.NoError(t, err)
				assert.Equal(t, tc.want, ds.State)
				assert.NotEmpty(t, ds.Log)
				deployed, err := sim.Platform().DeployedRelease(t.Context())
				require.NoError(t, err)
				st, err := sim.ServerState("fe01")
				require.NoError(t, err)
				if tc.want.Succeeded() {
					assert.Equal(t, "v2", sim.Schema())
					assert.Equal(t, "v2", deployed.Version)
					assert.Equal(t, "v2", st.Version)
				} else {
					assert.Equal(t, "v1", sim.Schema(), "a failed publish leaves the schema")
					assert.Equal(t, "v1", deployed.Version)
					assert.Equal(t, "v1", st.Version, "and installs nothing")
				}
			})
		})
	}
}

// TestWatchdogRestartsScheduler has a watchdog restart a stopped Scheduler
// behind the procedure's back once the deployment has started: the
// simulator records invariant 3.
func TestWatchdogRestartsScheduler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		assert.ErrorIs(t, sim.SetServiceState("fe09", drivers.SchedulerService, running), drivers.ErrNotFound)
		assert.ErrorIs(t, sim.SetServiceState("fe01", drivers.SchedulerService, drivers.ServiceState{Run: "paused"}), drivers.ErrInvalidArgument)
		stopAll(t, sim, drivers.SchedulerService, "fe01", "fe02", "fe03", "fe04")
		_, err = sim.Platform().StartDeployment(t.Context(), rel2)
		require.NoError(t, err)
		require.NoError(t, sim.SetServiceState("fe04", drivers.SchedulerService, running))
		st, err := sim.Services().ServiceState(t.Context(), target("fe04"), drivers.SchedulerService)
		require.NoError(t, err)
		assert.Equal(t, running, st)
		v := sim.Report().ViolationsOf(3)
		require.Len(t, v, 1)
		assert.Equal(t, "fe04", v[0].Server)
		assert.Len(t, sim.Actions(simulate.OpRestoreService), 0, "not a driver call")
	})
}
