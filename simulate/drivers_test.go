package simulate_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
)

func TestServices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Controller: "fe02"})
		require.NoError(t, err)
		svc := sim.Services()
		ctx := t.Context()

		start := time.Now()
		st, err := svc.ServiceState(ctx, target("fe01"), drivers.SchedulerService)
		require.NoError(t, err)
		assert.Equal(t, running, st)
		assert.Equal(t, simulate.DefaultServiceLatency, time.Since(start), "each call takes ServiceLatency")

		_, err = svc.ServiceState(ctx, target("fe01"), drivers.DeploymentControllerService)
		assert.ErrorIs(t, err, drivers.ErrNotFound, "only the controller has the controller service")
		_, err = svc.ServiceState(ctx, target("fe02"), drivers.DeploymentControllerService)
		assert.NoError(t, err)
		_, err = svc.ServiceState(ctx, target("fe01'; Stop-Computer"), drivers.SchedulerService)
		assert.ErrorIs(t, err, drivers.ErrNotFound)
		assert.ErrorContains(t, err, "fe01'; Stop-Computer")

		require.NoError(t, svc.StopService(ctx, target("fe01"), drivers.SchedulerService))
		require.NoError(t, svc.StopService(ctx, target("fe01"), drivers.SchedulerService), "idempotent")
		st, err = svc.ServiceState(ctx, target("fe01"), drivers.SchedulerService)
		require.NoError(t, err)
		assert.Equal(t, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}, st)

		err = svc.RestoreService(ctx, target("fe01"), drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Disabled})
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "Windows refuses to start a disabled service")
		err = svc.RestoreService(ctx, target("fe01"), drivers.SchedulerService, drivers.ServiceState{Run: drivers.StartPending, Startup: drivers.Manual})
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
		err = svc.RestoreService(ctx, target("fe01"), drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: "Boot"})
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
		require.NoError(t, svc.RestoreService(ctx, target("fe01"), drivers.SchedulerService, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Manual}))
		st, err = svc.ServiceState(ctx, drivers.Target{Name: "x", URL: "sim://fe01/"}, drivers.SchedulerService)
		require.NoError(t, err, "a target is found by its sim:// URL too")
		assert.Equal(t, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Manual}, st)

		cctx, cancel := context.WithCancel(ctx)
		cancel()
		assert.ErrorIs(t, svc.StopService(cctx, target("fe03"), drivers.SchedulerService), context.Canceled)
		st, err = svc.ServiceState(ctx, target("fe03"), drivers.SchedulerService)
		require.NoError(t, err)
		assert.Equal(t, running, st, "a cancelled call changes nothing")
	})
}

func TestPlatformAndProber(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 3}}, Controller: "fe02",
			PublishDuration: 30 * time.Second, InstallDuration: time.Minute, InstallStagger: 5 * time.Second})
		require.NoError(t, err)
		ctx := t.Context()
		p, pr, svc := sim.Platform(), sim.Prober(), sim.Services()

		rel, err := p.DeployedRelease(ctx)
		require.NoError(t, err)
		assert.Equal(t, "v1", rel.Version)
		_, err = p.StartDeployment(ctx, drivers.Release{})
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
		_, err = p.DeploymentStatus(ctx, "dep-9")
		assert.ErrorIs(t, err, drivers.ErrNotFound)

		require.NoError(t, svc.StopService(ctx, target("fe02"), drivers.DeploymentControllerService))
		_, err = p.StartDeployment(ctx, rel2)
		assert.ErrorIs(t, err, drivers.ErrUnavailable, "no controller, nothing started")
		require.NoError(t, svc.RestoreService(ctx, target("fe02"), drivers.DeploymentControllerService, running))

		require.NoError(t, svc.StopService(ctx, target("fe03"), drivers.DeploymentService))
		id, err := p.StartDeployment(ctx, rel2)
		require.NoError(t, err)
		_, err = p.StartDeployment(ctx, drivers.Release{Version: "v3"})
		assert.ErrorIs(t, err, drivers.ErrUnavailable, "one deployment at a time")
		ds, err := p.DeploymentStatus(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, drivers.DeploymentRunning, ds.State)

		time.Sleep(30 * time.Second) // publish ends
		ds, err = p.DeploymentStatus(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, drivers.DeploymentSucceeded, ds.State)
		assert.ErrorIs(t, p.AbortDeployment(ctx, id), drivers.ErrInvalidArgument, "too late to abort")

		time.Sleep(5 * time.Second) // the controller installs first
		r, err := pr.Probe(ctx, target("fe02"))
		require.NoError(t, err)
		assert.Equal(t, drivers.ProbeResult{StatusCode: 503, Detail: "installing v2"}, r)
		r, err = pr.Probe(ctx, target("fe01"))
		require.NoError(t, err)
		assert.Equal(t, "v1", r.Version, "fe01 starts one stagger later")
		idle, err := svc.DeploymentIdle(ctx, target("fe03"))
		require.NoError(t, err)
		assert.False(t, idle, "fe03 has an install waiting for its deployment service")

		time.Sleep(2 * time.Minute)
		for _, s := range []string{"fe01", "fe02"} {
			r, err = pr.Probe(ctx, drivers.Target{URL: "sim://" + s + "/"})
			require.NoError(t, err)
			assert.Equal(t, drivers.ProbeResult{Healthy: true, StatusCode: 200, Version: "v2"}, r, s)
		}
		r, err = pr.Probe(ctx, target("fe03"))
		require.NoError(t, err)
		assert.Equal(t, "v1", r.Version, "blocked: still on v1")

		require.NoError(t, svc.RestoreService(ctx, target("fe03"), drivers.DeploymentService, running))
		time.Sleep(90 * time.Second)
		r, err = pr.Probe(ctx, target("fe03"))
		require.NoError(t, err)
		assert.Equal(t, "v2", r.Version, "installed once unblocked")
		idle, err = svc.DeploymentIdle(ctx, target("fe03"))
		require.NoError(t, err)
		assert.True(t, idle)
		_, err = pr.Probe(ctx, target("fe04"))
		assert.ErrorIs(t, err, drivers.ErrNotFound)
	})
}

func TestLoadBalancerZones(t *testing.T) {
	sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Name: "eu", Servers: 2}, {Name: "us", Servers: 2}}})
	require.NoError(t, err)
	ctx := t.Context()
	err = sim.LoadBalancer("eu").SetState(ctx, drivers.Draining, "fe01", "fe03")
	assert.ErrorIs(t, err, drivers.ErrNotFound, "fe03 is in zone us")
	assert.ErrorContains(t, err, `"fe03"`)
	st, err := sim.LoadBalancer("eu").Status(ctx)
	require.NoError(t, err)
	require.Len(t, st, 2)
	assert.Equal(t, drivers.Serving, st[0].State, "nothing changed")
	require.NoError(t, sim.LoadBalancer("").Switch(ctx, []string{"fe01"}, []string{"fe02", "fe04"}), "the farm-wide load balancer spans zones")
	st, err = sim.LoadBalancer("").Status(ctx)
	require.NoError(t, err)
	require.Len(t, st, 4)
	var states []drivers.MemberState
	for _, s := range st {
		states = append(states, s.State)
	}
	assert.Equal(t, []drivers.MemberState{drivers.Serving, drivers.Draining, drivers.Serving, drivers.Draining}, states)
	_, err = sim.LoadBalancer("asia").Status(ctx)
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	assert.ErrorContains(t, err, `"asia"`)
}

func TestActionsRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, f, err := newFarm(simulate.Config{Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		p := newProcedure(sim, f, "v2")
		require.NoError(t, p.run(t.Context()))
		stops := sim.Actions(simulate.OpStopService)
		require.Len(t, stops, 6, "4 schedulers, 2 loaded deployment services")
		for _, a := range stops[:4] {
			assert.Equal(t, "svc=scheduler", a.Detail)
			assert.NoError(t, a.Err)
		}
		assert.Equal(t, []string{"fe03"}, stops[4].Servers)
		assert.Equal(t, "svc=deployment", stops[4].Detail)
		sw := sim.Actions(simulate.OpSwitch)
		require.Len(t, sw, 1)
		assert.Equal(t, []string{"fe01", "fe02", "fe03", "fe04"}, sw[0].Servers)
		assert.Equal(t, "default", sw[0].Zone)
		assert.Greater(t, sw[0].Elapsed, sim.Actions(simulate.OpStartDeployment)[0].Elapsed)
		all := sim.Actions()
		for i := 1; i < len(all); i++ {
			assert.LessOrEqual(t, all[i-1].Elapsed, all[i].Elapsed, "time order")
		}
	})
}

func TestLoadBalancerRecheckAfterOut(t *testing.T) {
	health := func(t *testing.T, sim *simulate.Sim) drivers.Health {
		st, err := sim.LoadBalancer("").Status(t.Context(), "fe01")
		require.NoError(t, err)
		return st[0].Health
	}
	for _, recheck := range []bool{false, true} {
		t.Run(fmt.Sprint(recheck), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{RecheckAfterOut: recheck, HealthCheckDelay: 5 * time.Second})
				require.NoError(t, err)
				lb := sim.LoadBalancer("")
				require.NoError(t, lb.SetState(t.Context(), drivers.Out, "fe01"))
				want := drivers.Healthy
				if recheck {
					want = drivers.HealthUnknown
				}
				assert.Equal(t, want, health(t, sim), "while out")
				require.NoError(t, lb.SetState(t.Context(), drivers.Draining, "fe01"))
				require.NoError(t, lb.SetState(t.Context(), drivers.Serving, "fe01"))
				assert.Equal(t, want, health(t, sim), "back in, before the first check")
				_, err = sim.Hold("fe01")
				assert.Equal(t, recheck, err != nil, "no request to a member without a verdict")
				time.Sleep(5 * time.Second)
				assert.Equal(t, drivers.Healthy, health(t, sim), "after the first check")
			})
		})
	}
}
