package steps_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// askPlan builds the plan over a simulated farm with the ask policy and the
// given decisions, and records every failure it was asked about.
func askPlan(t *testing.T, sf *simFarm, decide func(f farm.Failure) farm.Decision, asked *[]farm.Failure) *farm.Plan {
	t.Helper()
	f, err := farm.New(farm.Config{Zones: sf.specs, LoadBalancer: sf.sim.LoadBalancer("")})
	require.NoError(t, err)
	var mu sync.Mutex
	p, err := steps.Balanced(f, steps.Config{
		Services: sf.sim.Services(), Platform: sf.sim.Platform(), Prober: sf.sim.Prober(),
		Release: drivers.Release{Version: "v2"},
		Plan: farm.PlanConfig{Seed: 1, OnFailure: farm.Ask, Ask: func(ctx context.Context, f farm.Failure) farm.Decision {
			mu.Lock()
			*asked = append(*asked, f)
			mu.Unlock()
			return decide(f)
		}},
		PollInterval: time.Second, DeployPollInterval: 5 * time.Second, InstallTimeout: 10 * time.Minute,
	})
	require.NoError(t, err)
	return p
}

func TestAskPolicy(t *testing.T) {
	denied := fmt.Errorf("access denied: %w", drivers.ErrPermissionDenied)
	t.Run("retry", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 31})
			require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpStopService, Target: "fe01", Err: denied, Times: 1}))
			var asked []farm.Failure
			p := askPlan(t, sf, func(farm.Failure) farm.Decision { return farm.DecideRetry }, &asked)
			require.NoError(t, sf.sim.Start(t.Context()))
			rep, err := p.Run(t.Context())
			sf.sim.Stop()
			require.NoError(t, err)
			assert.Equal(t, farm.Succeeded, rep.Outcome)
			require.Len(t, asked, 1)
			assert.Equal(t, steps.StopSchedulers, asked[0].Step)
			assert.Equal(t, []string{"fe01"}, asked[0].Servers)
			assert.ErrorIs(t, asked[0].Err, drivers.ErrPermissionDenied)
			assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}))
			assert.Zero(t, sf.sim.Report().TotalViolations())
		})
	})
	t.Run("exclude", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 6}}, Seed: 32})
			// fe05 (Loaded) fails to install the release: exclude it.
			require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpInstall, Target: "fe05", Err: errors.New("disk full")}))
			var asked []farm.Failure
			p := askPlan(t, sf, func(farm.Failure) farm.Decision { return farm.DecideExclude }, &asked)
			require.NoError(t, sf.sim.Start(t.Context()))
			rep, err := p.Run(t.Context())
			time.Sleep(10 * time.Second)
			sf.sim.Stop()
			require.NoError(t, err)
			assert.Equal(t, []string{"fe05"}, rep.Excluded)
			require.Len(t, asked, 1)
			st, err := sf.sim.ServerState("fe05")
			require.NoError(t, err)
			assert.Equal(t, drivers.Out, st.Member.State, "an excluded server that was out stays out")
			assert.Equal(t, "v1", st.Version, "and left as it was")
			assert.Equal(t, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}, st.Services[drivers.SchedulerService], "its Scheduler stays stopped")
			for _, name := range []string{"fe01", "fe02", "fe03", "fe04", "fe06"} {
				st, err := sf.sim.ServerState(name)
				require.NoError(t, err)
				assert.Equal(t, "v2", st.Version, name)
				assert.Equal(t, drivers.Serving, st.Member.State, name)
			}
			r := sf.sim.Report()
			assert.Zero(t, r.Failed, r.String())
			assert.Zero(t, r.TotalViolations(), r.String())
		})
	})
	t.Run("exclude refused where the step must finish", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// A Scheduler that cannot be stopped would run against the new
			// schema: that server cannot be left behind.
			sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 6}}, Seed: 32})
			require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpStopService, Target: "fe05", Err: denied}))
			var asked []farm.Failure
			p := askPlan(t, sf, func(farm.Failure) farm.Decision { return farm.DecideExclude }, &asked)
			require.NoError(t, sf.sim.Start(t.Context()))
			rep, err := p.Run(t.Context())
			sf.sim.Stop()
			require.ErrorIs(t, err, farm.ErrHalted)
			assert.Contains(t, err.Error(), "servers failing step stop-schedulers cannot be excluded safely")
			assert.Empty(t, rep.Excluded)
			assert.Empty(t, sf.sim.CheckSafeState())
			assert.Zero(t, sf.sim.Report().TotalViolations())
		})
	})
	t.Run("exclude refused when a group would be empty", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			// Both Loaded servers fail to install: excluding them together
			// would leave the zone's Loaded group empty.
			sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 33})
			for _, s := range []string{"fe03", "fe04"} {
				require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpInstall, Target: s, Err: errors.New("disk full")}))
			}
			var asked []farm.Failure
			p := askPlan(t, sf, func(farm.Failure) farm.Decision { return farm.DecideExclude }, &asked)
			require.NoError(t, sf.sim.Start(t.Context()))
			rep, err := p.Run(t.Context())
			sf.sim.Stop()
			require.ErrorIs(t, err, farm.ErrHalted)
			require.Len(t, asked, 1)
			assert.ElementsMatch(t, []string{"fe03", "fe04"}, asked[0].Servers)
			assert.Contains(t, err.Error(), "excluding 2 server(s) would leave zone default's loaded group with 0 of the zone's 4 servers")
			assert.Empty(t, rep.Excluded)
			assert.Empty(t, sf.sim.CheckSafeState())
			assert.Zero(t, sf.sim.Report().TotalViolations())
		})
	})
	t.Run("abort and rollback", func(t *testing.T) {
		for _, d := range []farm.Decision{farm.DecideHalt, farm.DecideRollback} {
			synctest.Test(t, func(t *testing.T) {
				sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 34})
				require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpProbe, Target: "fe02", Err: denied, After: 2, Times: 1}))
				var asked []farm.Failure
				p := askPlan(t, sf, func(farm.Failure) farm.Decision { return d }, &asked)
				require.NoError(t, sf.sim.Start(t.Context()))
				rep, err := p.Run(t.Context())
				time.Sleep(10 * time.Second)
				sf.sim.Stop()
				require.Len(t, asked, 1, string(d))
				if d == farm.DecideHalt {
					assert.ErrorIs(t, err, farm.ErrHalted)
					assert.Equal(t, farm.Halted, rep.Outcome)
					assert.Empty(t, sf.sim.CheckSafeState())
				} else {
					assert.ErrorIs(t, err, farm.ErrRolledBack)
					assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v1"}))
				}
				assert.Zero(t, sf.sim.Report().TotalViolations())
			})
		}
	})
}

// TestHealthUnknownAfterOut runs the plan on an ALB-like load balancer: no
// one-transaction switch, and a member back from out reads health unknown
// and takes no traffic until its first health check. The switch must wait
// for the Updating members to read healthy before draining the Loaded ones.
func TestHealthUnknownAfterOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 41,
			RecheckAfterOut: true, HealthCheckDelay: 10 * time.Second,
			PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second,
			Traffic: simulate.Traffic{Rate: 20, Duration: 200 * time.Millisecond}})
		require.NoError(t, err)
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.PlainLoadBalancer("")})
		require.NoError(t, err)
		p, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
			Release: drivers.Release{Version: "v2"}, Plan: farm.PlanConfig{Seed: 1}})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		_, err = p.Run(t.Context())
		time.Sleep(20 * time.Second)
		sim.Stop()
		require.NoError(t, err)
		assert.Empty(t, sim.CheckEndState(drivers.Release{Version: "v2"}))
		r := sim.Report()
		assert.Zero(t, r.Failed, r.String())
		assert.Zero(t, r.TotalViolations(), r.String())
	})
}
