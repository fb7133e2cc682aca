package simulate_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
)

// Each test here provokes one invariant directly through the driver API and
// checks the simulator records it, with a control that records nothing.

func target(name string) drivers.Target { return drivers.Target{Name: name} }

var (
	running  = drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}
	rel2     = drivers.Release{Version: "v2"}
	longReqs = simulate.Traffic{Rate: 50, Duration: 5 * time.Second}
)

func stopAll(t *testing.T, sim *simulate.Sim, svc drivers.Service, servers ...string) {
	t.Helper()
	for _, s := range servers {
		require.NoError(t, sim.Services().StopService(t.Context(), target(s), svc))
	}
}

func TestInvariant1MemberOutWithRequests(t *testing.T) {
	tests := []struct {
		name    string
		drain   time.Duration // wait between draining and out
		wantBad bool
	}{
		{"out at once", 0, true},
		{"out after the drain", 6 * time.Second, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Traffic: longReqs})
				require.NoError(t, err)
				require.NoError(t, sim.Start(t.Context()))
				time.Sleep(10 * time.Second)
				lb := sim.LoadBalancer("default")
				require.NoError(t, lb.SetState(t.Context(), drivers.Draining, "fe01"))
				st, err := lb.Status(t.Context(), "fe01")
				require.NoError(t, err)
				assert.Positive(t, st[0].ActiveConnections, "a member under load holds requests")
				time.Sleep(tc.drain)
				require.NoError(t, lb.SetState(t.Context(), drivers.Out, "fe01"))
				time.Sleep(10 * time.Second)
				sim.Stop()
				r := sim.Report()
				if tc.wantBad {
					assert.Positive(t, r.FailureCauses[simulate.CauseResetOut])
					require.NotEmpty(t, r.ViolationsOf(1))
					assert.Equal(t, "fe01", r.ViolationsOf(1)[0].Server)
				} else {
					assert.Zero(t, r.Failed, r.String())
					assert.Zero(t, r.TotalViolations(), r.String())
				}
			})
		})
	}
}

func TestInvariant1And2InstallOnServingMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Traffic: longReqs})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		stopAll(t, sim, drivers.SchedulerService, "fe01", "fe02", "fe03", "fe04")
		_, err = sim.Platform().StartDeployment(t.Context(), rel2)
		require.NoError(t, err)
		time.Sleep(5 * time.Minute) // every front-end installs while serving
		sim.Stop()
		r := sim.Report()
		v2 := r.ViolationsOf(2)
		require.NotEmpty(t, v2, r.String())
		assert.Contains(t, v2[0].Detail, "install of v2 started while the member is serving")
		assert.Positive(t, r.FailureCauses[simulate.CauseResetInstall])
		assert.Positive(t, r.FailureCauses[simulate.CauseInstalling], "requests routed before the health checks noticed")
		assert.NotEmpty(t, r.ViolationsOf(1))
		assert.Empty(t, r.ViolationsOf(3), "schedulers were stopped")
	})
}

func TestInvariant3Schedulers(t *testing.T) {
	t.Run("running when the deployment starts", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sim, err := simulate.New(simulate.Config{Traffic: simulate.Traffic{Rate: -1}})
			require.NoError(t, err)
			stopAll(t, sim, drivers.SchedulerService, "fe01", "fe02", "fe03")
			_, err = sim.Platform().StartDeployment(t.Context(), rel2)
			require.NoError(t, err)
			r := sim.Report()
			require.Len(t, r.ViolationsOf(3), 1, r.String())
			assert.Equal(t, "fe04", r.ViolationsOf(3)[0].Server)
		})
	})
	t.Run("started on old code after the schema moved", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sim, err := simulate.New(simulate.Config{Traffic: simulate.Traffic{Rate: -1}})
			require.NoError(t, err)
			stopAll(t, sim, drivers.SchedulerService, "fe01", "fe02", "fe03", "fe04")
			stopAll(t, sim, drivers.DeploymentService, "fe03", "fe04")
			_, err = sim.Platform().StartDeployment(t.Context(), rel2)
			require.NoError(t, err)
			time.Sleep(4 * time.Minute)
			assert.Equal(t, "v2", sim.Schema())
			assert.Empty(t, sim.Report().ViolationsOf(3))
			// Correct for fe01 (runs v2), wrong for fe03 (still v1).
			require.NoError(t, sim.Services().RestoreService(t.Context(), target("fe01"), drivers.SchedulerService, running))
			require.NoError(t, sim.Services().RestoreService(t.Context(), target("fe03"), drivers.SchedulerService, running))
			time.Sleep(2 * time.Minute)
			r := sim.Report()
			assert.Positive(t, r.InconsistentTimerRuns)
			for _, v := range r.ViolationsOf(3) {
				assert.Equal(t, "fe03", v.Server, v.String())
			}
			details := []string{}
			for _, v := range r.ViolationsOf(3) {
				details = append(details, v.Detail)
			}
			assert.Contains(t, details, "Scheduler started while the server runs v1 and release v2 is being deployed")
			assert.Contains(t, details, "timer ran on code v1 against database schema v2")
			assert.NotEmpty(t, sim.CheckSafeState(), "invariant 7: a scheduler on old code is not a safe state")
		})
	})
}

func TestInvariant4Capacity(t *testing.T) {
	tests := []struct {
		name    string
		floor   float64
		drain   []string
		wantBad bool
	}{
		{"half drained", 0, []string{"fe01", "fe02", "fe03"}, false},
		{"two of six left", 0, []string{"fe01", "fe02", "fe03", "fe04"}, false},
		{"one of six left, below a third", 0, []string{"fe01", "fe02", "fe03", "fe04", "fe05"}, true},
		{"all drained", -1, []string{"fe01", "fe02", "fe03", "fe04", "fe05", "fe06"}, true},
		{"half drained, floor 0.6", 0.6, []string{"fe01", "fe02", "fe03"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 6}}, CapacityFloor: tc.floor})
				require.NoError(t, err)
				require.NoError(t, sim.LoadBalancer("").SetState(t.Context(), drivers.Draining, tc.drain...))
				r := sim.Report()
				if tc.wantBad {
					require.Len(t, r.ViolationsOf(4), 1, r.String())
					assert.Equal(t, "default", r.ViolationsOf(4)[0].Zone)
				} else {
					assert.Empty(t, r.ViolationsOf(4), r.String())
				}
			})
		})
	}
}

func TestInvariant4CrashCountsCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}})
		require.NoError(t, err)
		require.NoError(t, sim.LoadBalancer("").SetState(t.Context(), drivers.Out, "fe02"))
		assert.Empty(t, sim.Report().ViolationsOf(4))
		require.NoError(t, sim.Crash("fe01", time.Minute))
		assert.Len(t, sim.Report().ViolationsOf(4), 1, "a crashed last member leaves no capacity")
		time.Sleep(5 * time.Minute)
		assert.Equal(t, time.Minute+simulate.DefaultHealthCheckDelay, sim.Report().Zones[0].BelowFloor,
			"down a minute, then back once the health checks see it")
	})
}

func TestInvariant5AndMixedWindow(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain=%t", plain), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, Traffic: simulate.Traffic{Rate: 50}})
				require.NoError(t, err)
				ctx := t.Context()
				var lb drivers.LoadBalancer = sim.LoadBalancer("default")
				if plain {
					lb = sim.PlainLoadBalancer("default")
					_, isSwitcher := lb.(drivers.Switcher)
					assert.False(t, isSwitcher)
				}
				require.NoError(t, sim.Start(ctx))
				stopAll(t, sim, drivers.SchedulerService, "fe01", "fe02")
				require.NoError(t, lb.SetState(ctx, drivers.Draining, "fe01"))
				time.Sleep(time.Second)
				require.NoError(t, lb.SetState(ctx, drivers.Out, "fe01"))
				stopAll(t, sim, drivers.DeploymentService, "fe02")
				_, err = sim.Platform().StartDeployment(ctx, rel2)
				require.NoError(t, err)
				time.Sleep(4 * time.Minute)
				assert.Zero(t, sim.Report().TotalViolations())
				// Both versions serve for 30 s: clients flip between them.
				require.NoError(t, lb.SetState(ctx, drivers.Serving, "fe01"))
				time.Sleep(30 * time.Second)
				require.NoError(t, lb.SetState(ctx, drivers.Draining, "fe02"))
				time.Sleep(10 * time.Second)
				sim.Stop()
				r := sim.Report()
				assert.Positive(t, r.StaleAfterNew)
				assert.Equal(t, r.StaleAfterNew, r.Zones[0].StaleAfterNew)
				assert.Equal(t, plain, r.Zones[0].NonAtomic)
				if plain {
					assert.Empty(t, r.ViolationsOf(5), "measured, not a violation, without an atomic switch")
				} else {
					assert.NotEmpty(t, r.ViolationsOf(5))
				}
				assert.Equal(t, 30*time.Second, r.Zones[0].MixedVersionWindow)
				assert.Zero(t, r.Failed)
			})
		})
	}
}

func TestInvariant6EndState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}})
		require.NoError(t, err)
		assert.Empty(t, sim.CheckEndState(drivers.Release{Version: "v1"}), "the initial farm is its own end state")
		got := sim.CheckEndState(rel2)
		assert.Len(t, got, 3, "schema and two servers on the wrong version")
		require.NoError(t, sim.Services().StopService(t.Context(), target("fe02"), drivers.SchedulerService))
		require.NoError(t, sim.LoadBalancer("").SetState(t.Context(), drivers.Draining, "fe01"))
		got = sim.CheckEndState(drivers.Release{Version: "v1"})
		require.Len(t, got, 2)
		assert.Equal(t, "fe01", got[0].Server)
		assert.Contains(t, got[0].Detail, "member is draining")
		assert.Equal(t, "fe02", got[1].Server)
		assert.Contains(t, got[1].Detail, "service scheduler is stopped/Disabled: want running/Automatic")
		r := sim.Report()
		assert.Contains(t, r.Checked, 6)
		assert.Equal(t, 5, r.ViolationCounts[6])
	})
}

func TestInvariant7SafeState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		assert.Empty(t, sim.CheckSafeState())
		stopAll(t, sim, drivers.SchedulerService, "fe01", "fe02")
		_, err = sim.Platform().StartDeployment(t.Context(), rel2)
		require.NoError(t, err)
		time.Sleep(90 * time.Second) // fe01 and fe02 install while serving
		got := sim.CheckSafeState()
		require.Len(t, got, 2)
		for _, v := range got {
			assert.Equal(t, 7, v.Invariant)
			assert.Contains(t, v.Detail, "installing=true")
		}
		assert.Contains(t, sim.Report().Checked, 7)
	})
}
