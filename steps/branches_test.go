package steps_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The regression tests of this file pin one safety branch each: each fails
// when its branch is removed (the closing note of issue 18 records how).

// simPlan builds the balanced plan over sim with the given load balancer and
// service controller, collecting warnings.
func simPlan(t *testing.T, sim *simulate.Sim, lb drivers.LoadBalancer, svc drivers.ServiceController, tune func(*steps.Config)) (*farm.Plan, *warnings) {
	t.Helper()
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: lb})
	require.NoError(t, err)
	w := &warnings{}
	cfg := steps.Config{Services: svc, Platform: sim.Platform(), Prober: sim.Prober(),
		Release: drivers.Release{Version: "v2"}, Plan: farm.PlanConfig{Seed: 1, Observer: w},
		PollInterval: time.Second, DeployPollInterval: 5 * time.Second, DrainTimeout: 2 * time.Minute}
	if tune != nil {
		tune(&cfg)
	}
	p, err := steps.Balanced(f, cfg)
	require.NoError(t, err)
	return p, w
}

// warnings is an observer keeping the Warning events and step timings.
type warnings struct {
	mu      sync.Mutex
	list    []string
	started map[string]time.Time
}

func (w *warnings) Observe(e event.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch e.Kind {
	case event.Warning:
		w.list = append(w.list, e.Step+": "+e.Message)
	case event.StepStarted:
		if w.started == nil {
			w.started = map[string]time.Time{}
		}
		if _, ok := w.started[e.Step]; !ok {
			w.started[e.Step] = e.Time
		}
	}
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.list, "\n")
}

func (w *warnings) startOf(step string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started[step]
}

// TestPreflightRefusesALoadedMemberNotServingAndHealthy: the Loaded group
// carries its zone alone while the Updating group installs, so each of its
// members must serve and be healthy before anything is touched.
func TestPreflightRefusesALoadedMemberNotServingAndHealthy(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, sim *simulate.Sim)
		want  string
	}{
		{"draining", func(t *testing.T, sim *simulate.Sim) {
			require.NoError(t, sim.LoadBalancer("").SetState(t.Context(), drivers.Draining, "fe03"))
		}, "member fe03 of the Loaded group reads draining/healthy: want serving and healthy"},
		{"unhealthy", func(t *testing.T, sim *simulate.Sim) {
			// Down for 10 s, noticed 2 s late both ways: from 10 s the
			// application answers again, its member reads unhealthy to 12 s.
			require.NoError(t, sim.Crash("fe04", 10*time.Second))
			time.Sleep(10*time.Second + 500*time.Millisecond)
		}, "member fe04 of the Loaded group reads serving/unhealthy: want serving and healthy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 91})
				require.NoError(t, err)
				tc.setup(t, sim)
				p, _ := simPlan(t, sim, sim.LoadBalancer(""), sim.Services(), nil)
				before := len(sim.Actions(simulate.OpSetState, simulate.OpSwitch, simulate.OpStopService, simulate.OpStartDeployment))
				rep, err := p.Run(t.Context())
				require.ErrorIs(t, err, farm.ErrHalted)
				assert.Contains(t, err.Error(), tc.want)
				assert.Equal(t, steps.Preflight, rep.FailedStep)
				assert.Len(t, sim.Actions(simulate.OpSetState, simulate.OpSwitch, simulate.OpStopService, simulate.OpStartDeployment), before, "nothing touched")
			})
		})
	}
}

// busyServices reports the Deployment service of the Loaded servers busy
// for its first busyFor after they first run the release: the version
// endpoint already answers the release while the deployment service still
// works (another module of the release, a post-install task).
type busyServices struct {
	*simulate.Services
	sim     *simulate.Sim
	busyFor time.Duration

	mu       sync.Mutex
	onSince  map[string]time.Time
	lastBusy time.Time
}

func (b *busyServices) DeploymentIdle(ctx context.Context, t drivers.Target) (bool, error) {
	idle, err := b.Services.DeploymentIdle(ctx, t)
	if err != nil || !idle {
		return idle, err
	}
	st, err := b.sim.ServerState(t.Name)
	if err != nil {
		return false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.onSince == nil {
		b.onSince = map[string]time.Time{}
	}
	if st.Version != "v2" {
		return true, nil
	}
	if _, ok := b.onSince[t.Name]; !ok {
		b.onSince[t.Name] = time.Now()
	}
	if time.Since(b.onSince[t.Name]) < b.busyFor {
		b.lastBusy = time.Now()
		return false, nil
	}
	return true, nil
}

// TestAwaitLoadedWaitsForTheDeploymentServiceIdle: await-loaded does not end
// while a Loaded server's deployment service reports work left, even though
// the server answers the release.
func TestAwaitLoadedWaitsForTheDeploymentServiceIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 92,
			PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second})
		require.NoError(t, err)
		svc := &busyServices{Services: sim.Services(), sim: sim, busyFor: 90 * time.Second}
		p, w := simPlan(t, sim, sim.LoadBalancer(""), svc, nil)
		require.NoError(t, sim.Start(t.Context()))
		rep, err := p.Run(t.Context())
		sim.Stop()
		require.NoError(t, err)
		svc.mu.Lock()
		lastBusy := svc.lastBusy
		svc.mu.Unlock()
		require.False(t, lastBusy.IsZero(), "the deployment service was asked and answered busy")
		a, ok := rep.Step(steps.AwaitLoaded)
		require.True(t, ok)
		assert.False(t, a.Finished.Before(lastBusy), "await-loaded ended at %v, before the last busy answer at %v", a.Finished, lastBusy)
		assert.False(t, w.startOf(steps.RestoreTraffic).Before(lastBusy))
	})
}

// uncountedLB is a load balancer that cannot count connections per member
// nor tell when a drain is over: a draining member reads out at once.
type uncountedLB struct{ drivers.LoadBalancer }

func (u uncountedLB) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	sts, err := u.LoadBalancer.Status(ctx, members...)
	for i := range sts {
		sts[i].ConnectionsKnown, sts[i].ActiveConnections = false, 0
		if sts[i].State == drivers.Draining {
			sts[i].State = drivers.Out
		}
	}
	return sts, err
}

// TestDrainPeriodWhereConnectionsAreNotCounted: where the load balancer
// cannot count connections, a drain waits DrainPeriod before taking the
// members out, so that requests of up to 20 s finish.
func TestDrainPeriodWhereConnectionsAreNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 93,
			PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second,
			Traffic: simulate.Traffic{Rate: 10, Duration: 5 * time.Second, MaxDuration: 20 * time.Second}})
		require.NoError(t, err)
		p, _ := simPlan(t, sim, uncountedLB{sim.PlainLoadBalancer("")}, sim.Services(), func(c *steps.Config) { c.DrainPeriod = 30 * time.Second })
		require.NoError(t, sim.Start(t.Context()))
		time.Sleep(30 * time.Second)
		rep, err := p.Run(t.Context())
		time.Sleep(30 * time.Second)
		sim.Stop()
		require.NoError(t, err)
		d, _ := rep.Step(steps.DrainUpdating)
		assert.GreaterOrEqual(t, d.Finished.Sub(d.Started), 30*time.Second)
		r := sim.Report()
		assert.Zero(t, r.Failed, r.String())
		assert.Zero(t, r.TotalViolations(), r.String())
	})
}

// revertingLB puts fe01 back to serving a moment after the run sets it
// draining, as another operator (or a configuration push) would.
type revertingLB struct {
	*simulate.LoadBalancer
	once sync.Once
}

func (l *revertingLB) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	err := l.LoadBalancer.SetState(ctx, state, members...)
	if err == nil && state == drivers.Draining && fmt.Sprint(members) == "[fe01 fe02]" {
		l.once.Do(func() {
			time.AfterFunc(1500*time.Millisecond, func() {
				_ = l.LoadBalancer.SetState(context.Background(), drivers.Serving, "fe01")
			})
		})
	}
	return err
}

// TestDrainHaltsWhenAMemberReadsServing: a member that reads serving while
// the run drains it was changed by something else; the drain must not take
// it out from under its new requests, and the run halts.
func TestDrainHaltsWhenAMemberReadsServing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 94,
			Traffic: simulate.Traffic{Rate: 20, Duration: 2 * time.Second, MaxDuration: 10 * time.Second}})
		require.NoError(t, err)
		p, _ := simPlan(t, sim, &revertingLB{LoadBalancer: sim.LoadBalancer("")}, sim.Services(), nil)
		require.NoError(t, sim.Start(t.Context()))
		time.Sleep(20 * time.Second)
		rep, err := p.Run(t.Context())
		time.Sleep(20 * time.Second)
		sim.Stop()
		require.ErrorIs(t, err, farm.ErrHalted)
		assert.Contains(t, err.Error(), "member fe01 reads serving while draining")
		assert.Equal(t, steps.DrainUpdating, rep.FailedStep)
		assert.Empty(t, sim.CheckSafeState())
		r := sim.Report()
		assert.Zero(t, r.Failed, r.String())
		assert.Zero(t, r.TotalViolations(), r.String())
	})
}

// TestTwoMoveSwitchFallsBackToOneVersion: traffic moves in two moves (no
// Switcher); the Updating group is in and healthy, then draining the Loaded
// group fails. The Updating group is taken out again (unserve), so that one
// version serves.
func TestTwoMoveSwitchFallsBackToOneVersion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 95,
			PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second})
		require.NoError(t, err)
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpSetState, Target: "fe03",
			Err: fmt.Errorf("injected: %w", drivers.ErrPermissionDenied), Times: 1}))
		p, w := simPlan(t, sim, sim.PlainLoadBalancer(""), sim.Services(), nil)
		require.NoError(t, sim.Start(t.Context()))
		rep, err := p.Run(t.Context())
		time.Sleep(20 * time.Second)
		sim.Stop()
		require.ErrorIs(t, err, farm.ErrHalted)
		assert.Equal(t, steps.SwitchTraffic, rep.FailedStep)
		assert.Contains(t, w.all(), "traffic moved back to fe03, fe04")
		assert.Empty(t, sim.CheckSafeState(), "one version serves")
		for name, want := range map[string]drivers.MemberState{"fe01": drivers.Out, "fe02": drivers.Out, "fe03": drivers.Serving, "fe04": drivers.Serving} {
			st, err := sim.ServerState(name)
			require.NoError(t, err)
			assert.Equal(t, want, st.Member.State, name)
		}
		r := sim.Report()
		assert.Zero(t, r.Failed, r.String())
	})
}

// reenablingServices plays a configuration agent that puts one service
// back to Automatic and starts it again shortly after the run stops it on
// one server: the only kind of thing that can start a service the stop
// disabled (the Service Control Manager refuses to start a Disabled one).
type reenablingServices struct {
	*simulate.Services
	sim    *simulate.Sim
	server string
	svc    drivers.Service
	after  time.Duration
	// state is what the agent puts the service in; zero means
	// running/Automatic.
	state drivers.ServiceState

	mu   sync.Mutex
	done bool
	wg   sync.WaitGroup
}

func (r *reenablingServices) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	if err := r.Services.StopService(ctx, t, svc); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.Name != r.server || svc != r.svc || r.done {
		return nil
	}
	r.done = true
	st := r.state
	if st == (drivers.ServiceState{}) {
		st = drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}
	}
	r.wg.Go(func() {
		time.Sleep(r.after)
		_ = r.sim.SetServiceState(r.server, r.svc, st)
	})
	return nil
}

// TestConfirmationFailsAStopThatDoesNotStay: a service that reads running
// again ConfirmDelay after the stop fails its step before anything is
// deployed (the runbook's "confirm that the service stays stopped and
// disabled", steps 1 and 3), whatever else would repair it later: the run
// does not deploy while something on the farm fights it. It holds at the
// default ConfirmDelay, which the agent here beats by 400 ms.
func TestConfirmationFailsAStopThatDoesNotStay(t *testing.T) {
	for _, tc := range []struct {
		server string
		svc    drivers.Service
		step   string
		// The agent only re-enables it (Stopped/Automatic).
		enableOnly bool
	}{
		{server: "fe01", svc: drivers.SchedulerService, step: steps.StopSchedulers},
		{server: "fe04", svc: drivers.SchedulerService, step: steps.StopSchedulers},
		{server: "fe03", svc: drivers.DeploymentService, step: steps.BlockLoaded},
		{server: "fe02", svc: drivers.SchedulerService, step: steps.StopSchedulers, enableOnly: true},
	} {
		t.Run(fmt.Sprintf("%s/%s/enable-only=%t", tc.step, tc.server, tc.enableOnly), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7, ServiceLatency: time.Millisecond, Traffic: simulate.Traffic{Rate: -1}})
				require.NoError(t, err)
				svc := &reenablingServices{Services: sim.Services(), sim: sim, server: tc.server, svc: tc.svc, after: 100 * time.Millisecond}
				want := "running/Automatic"
				if tc.enableOnly {
					svc.state = drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Automatic}
					want = "stopped/Automatic"
				}
				p, _ := simPlan(t, sim, sim.LoadBalancer(""), svc, func(c *steps.Config) { c.ConfirmDelay = 0 })
				rep, err := p.Run(t.Context())
				svc.wg.Wait()
				require.ErrorIs(t, err, farm.ErrHalted)
				assert.Contains(t, err.Error(), string(tc.svc)+" service reads "+want+" after stop: want stopped/Disabled (is something restarting it?)")
				assert.Contains(t, err.Error(), tc.server)
				assert.Equal(t, tc.step, rep.FailedStep)
				assert.Empty(t, sim.Actions(simulate.OpStartDeployment), "nothing deployed")
				assert.Zero(t, sim.Report().TotalViolations(), sim.Report().String())
			})
		})
	}
}

// unreadableServices answers ServiceState for one server's service with
// drivers.ErrUnavailable from the moment blind is called until its
// duration has passed (a WinRM listener restarting, a network blip).
type unreadableServices struct {
	*simulate.Services
	server string
	svc    drivers.Service

	mu    sync.Mutex
	until time.Time
}

func (u *unreadableServices) blind(d time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.until = time.Now().Add(d)
}

func (u *unreadableServices) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	u.mu.Lock()
	blind := t.Name == u.server && svc == u.svc && time.Now().Before(u.until)
	u.mu.Unlock()
	if blind {
		return drivers.ServiceState{}, fmt.Errorf("winrm: connection refused: %w", drivers.ErrUnavailable)
	}
	return u.Services.ServiceState(ctx, t, svc)
}

// TestNoDeploymentOverAnUnreadableGuard: a Scheduler restarted after its
// confirmation, on a server whose service state cannot be read for 20 s.
// The check immediately before the deployment must read every guarded
// state: the deployment waits until fe01 can be read, its Scheduler is
// stopped again, and only then starts. Without the strict read (a
// transient read error passing as "read again at the next check") the
// deployment started at once with the Scheduler running (invariant 3).
func TestNoDeploymentOverAnUnreadableGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7, Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		svc := &unreadableServices{Services: sim.Services(), server: "fe01", svc: drivers.SchedulerService}
		p, _ := simPlan(t, sim, sim.LoadBalancer(""), svc, nil)
		var blindFrom time.Time
		require.NoError(t, p.After(steps.StopSchedulers, farm.Hook{Name: "an agent re-enables fe01's Scheduler; fe01 stops answering", Func: func(context.Context, *farm.Run) error {
			blindFrom = time.Now()
			svc.blind(20 * time.Second)
			return sim.SetServiceState("fe01", drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
		}}))
		rep, err := p.Run(t.Context())
		require.NoError(t, err)
		assert.Zero(t, sim.Report().TotalViolations(), sim.Report().String())
		starts := sim.Actions(simulate.OpStartDeployment)
		require.Len(t, starts, 1)
		assert.GreaterOrEqual(t, starts[0].Time.Sub(blindFrom), 20*time.Second, "the deployment waited for fe01 to be read")
		ds := driftsOf(rep, steps.GuardSchedulerStoppedUpdating)
		require.Len(t, ds, 1, "%+v", rep.Drifts)
		assert.True(t, ds[0].Repaired)
		assert.Equal(t, "fe01", ds[0].Server)
	})
}

// fightingServices plays an agent that, once armed, starts one server's
// Scheduler again shortly after every stop (100 ms, or delay): something
// the run cannot win against.
type fightingServices struct {
	*unreadableServices
	sim    *simulate.Sim
	server string
	delay  time.Duration

	mu    sync.Mutex
	armed bool
	wg    sync.WaitGroup
}

func (f *fightingServices) arm() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed = true
}

func (f *fightingServices) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	if err := f.unreadableServices.StopService(ctx, t, svc); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.armed && t.Name == f.server && svc == drivers.SchedulerService {
		d := f.delay
		if d == 0 {
			d = 100 * time.Millisecond
		}
		f.wg.Go(func() {
			time.Sleep(d)
			_ = f.sim.SetServiceState(f.server, drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
		})
	}
	return nil
}

// TestNoDeploymentWhileSomethingKeepsRestartingAService: after the
// confirmation, an agent restarts fe02's Scheduler 100 ms after every
// stop. The check before the deployment stops it, reads again
// ConfirmDelay later, finds it running again, and fails the step: no
// deployment starts. Without the second read the deployment started 100 ms
// before the agent restarted the Scheduler (invariant 3).
func TestNoDeploymentWhileSomethingKeepsRestartingAService(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7, Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		svc := &fightingServices{unreadableServices: &unreadableServices{Services: sim.Services()}, sim: sim, server: "fe02"}
		p, _ := simPlan(t, sim, sim.LoadBalancer(""), svc, nil)
		require.NoError(t, p.After(steps.StopSchedulers, farm.Hook{Name: "an agent starts fighting", Func: func(context.Context, *farm.Run) error {
			svc.arm()
			return sim.SetServiceState("fe02", drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
		}}))
		rep, err := p.Run(t.Context())
		svc.wg.Wait()
		require.ErrorIs(t, err, farm.ErrHalted)
		require.ErrorIs(t, err, farm.ErrDrift)
		assert.Contains(t, err.Error(), "before starting the deployment: drift: after putting states back once, the guards had to put back again: server fe02: scheduler service read running/Automatic (something restarted it): stopped and disabled again; something keeps undoing them")
		assert.Equal(t, steps.Publish, rep.FailedStep)
		assert.Empty(t, sim.Actions(simulate.OpStartDeployment), "nothing deployed")
		assert.Zero(t, sim.Report().TotalViolations(), sim.Report().String())
	})
}

// busyPlatform answers the first busy starts of a deployment (of version,
// or of any release when version is empty) with drivers.ErrUnavailable,
// calling onBusy after the first refusal, and onStart before the start
// that goes through.
type busyPlatform struct {
	*simulate.Platform
	version string
	busy    int
	onBusy  func()
	onStart func(ctx context.Context) error

	mu    sync.Mutex
	calls int
}

func (b *busyPlatform) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	if b.version != "" && rel.Version != b.version {
		return b.Platform.StartDeployment(ctx, rel)
	}
	b.mu.Lock()
	b.calls++
	n := b.calls
	b.mu.Unlock()
	if n <= b.busy {
		if n == 1 {
			b.onBusy()
		}
		return "", fmt.Errorf("lifetime: another deployment is running: %w", drivers.ErrUnavailable)
	}
	if b.onStart != nil {
		if err := b.onStart(ctx); err != nil {
			return "", err
		}
	}
	return b.Platform.StartDeployment(ctx, rel)
}

// TestTheChecksHoldAtEveryStartAttempt: the platform is busy for two
// attempts, and while it is, something restarts fe01's Scheduler. The
// guards are read again immediately before each attempt, so the Scheduler
// is stopped before the start that succeeds. With the check made once,
// before the first attempt, the deployment started with the Scheduler
// running (invariant 3).
func TestTheChecksHoldAtEveryStartAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7, Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		platform := &busyPlatform{Platform: sim.Platform(), busy: 2, onBusy: func() {
			_ = sim.SetServiceState("fe01", drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
		}}
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
		require.NoError(t, err)
		p, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: platform, Prober: sim.Prober(),
			Release: drivers.Release{Version: "v2"}, Plan: farm.PlanConfig{Seed: 1}})
		require.NoError(t, err)
		rep, err := p.Run(t.Context())
		require.NoError(t, err)
		assert.Equal(t, 3, platform.calls)
		assert.Zero(t, sim.Report().TotalViolations(), sim.Report().String())
		ds := driftsOf(rep, steps.GuardSchedulerStoppedUpdating)
		require.Len(t, ds, 1, "%+v", rep.Drifts)
		assert.True(t, ds[0].Repaired)
	})
}

// deniedStops refuses, once armed, to stop one server's Scheduler
// (drivers.ErrPermissionDenied): drift the guards cannot put back.
type deniedStops struct {
	*unreadableServices
	server string

	mu    sync.Mutex
	armed bool
}

func (d *deniedStops) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	d.mu.Lock()
	armed := d.armed
	d.mu.Unlock()
	if armed && t.Name == d.server && svc == drivers.SchedulerService {
		return fmt.Errorf("winrm: Stop-Service: access is denied: %w", drivers.ErrPermissionDenied)
	}
	return d.unreadableServices.StopService(ctx, t, svc)
}

// TestAnUnreadableStateDoesNotHoldBackAFailure: immediately before the
// deployment, fe01's Scheduler runs and cannot be stopped again, and
// fe02's cannot be read at all. The failure decides at once (farm.ErrDrift
// naming fe01), nothing is deployed; fe02's unreadable state must not
// turn it into "read again later", which kept the Updating group out of
// traffic for PublishTimeout (60 min) and then failed on the deadline.
func TestAnUnreadableStateDoesNotHoldBackAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7, Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		svc := &deniedStops{unreadableServices: &unreadableServices{Services: sim.Services(), server: "fe02", svc: drivers.SchedulerService}, server: "fe01"}
		p, _ := simPlan(t, sim, sim.LoadBalancer(""), svc, nil)
		var from time.Time
		require.NoError(t, p.Before(steps.Publish, farm.Hook{Name: "fe01's Scheduler restarted and locked; fe02 unreadable", Func: func(context.Context, *farm.Run) error {
			from = time.Now()
			svc.mu.Lock()
			svc.armed = true
			svc.mu.Unlock()
			svc.blind(time.Hour)
			return sim.SetServiceState("fe01", drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
		}}))
		rep, err := p.Run(t.Context())
		require.ErrorIs(t, err, farm.ErrHalted)
		require.ErrorIs(t, err, farm.ErrDrift)
		assert.ErrorIs(t, err, drivers.ErrPermissionDenied)
		assert.Contains(t, err.Error(), "server fe01: scheduler service reads running/Automatic and cannot be stopped again")
		assert.Equal(t, steps.Publish, rep.FailedStep)
		assert.Less(t, time.Since(from), time.Minute, "decided at once, not after PublishTimeout")
		assert.Empty(t, sim.Actions(simulate.OpStartDeployment), "nothing deployed")
	})
}

// TestPutBackAgainDecidesOverAnUnreadableState: an agent restarts fe02's
// Scheduler 100 ms after every stop while fe01's cannot be read. Put back
// twice, ConfirmDelay apart, fails the step at once: an unreadable state
// elsewhere must neither skip the second read nor turn the failure into
// "read again later" (which stopped and restarted fe02's Scheduler for
// PublishTimeout, then failed on the deadline without farm.ErrDrift).
func TestPutBackAgainDecidesOverAnUnreadableState(t *testing.T) {
	for _, delay := range []time.Duration{100 * time.Millisecond, 2 * time.Second} {
		t.Run(fmt.Sprint("agent-after-", delay), func(t *testing.T) { putBackAgainOverUnreadable(t, delay) })
	}
}

// putBackAgainOverUnreadable is TestPutBackAgainDecidesOverAnUnreadableState
// with an agent acting delay after each stop: within ConfirmDelay (the
// second read sees it), or after it and within a poll interval (the next
// attempt sees it: the attempts remember the first put-back).
func putBackAgainOverUnreadable(t *testing.T, delay time.Duration) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7, Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		svc := &fightingServices{unreadableServices: &unreadableServices{Services: sim.Services(), server: "fe01", svc: drivers.SchedulerService}, sim: sim, server: "fe02", delay: delay}
		p, _ := simPlan(t, sim, sim.LoadBalancer(""), svc, nil)
		var from time.Time
		require.NoError(t, p.Before(steps.Publish, farm.Hook{Name: "an agent fights fe02; fe01 unreadable", Func: func(context.Context, *farm.Run) error {
			from = time.Now()
			svc.arm()
			svc.blind(time.Hour)
			return sim.SetServiceState("fe02", drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
		}}))
		rep, err := p.Run(t.Context())
		svc.wg.Wait()
		require.ErrorIs(t, err, farm.ErrHalted)
		require.ErrorIs(t, err, farm.ErrDrift)
		assert.Contains(t, err.Error(), "the guards had to put back again: server fe02: scheduler service read running/Automatic")
		assert.NotContains(t, err.Error(), "not started within", "no timeout happened")
		assert.Equal(t, steps.Publish, rep.FailedStep)
		assert.Less(t, time.Since(from), time.Minute, "decided at once, not after PublishTimeout")
		assert.Empty(t, sim.Actions(simulate.OpStartDeployment), "nothing deployed")
		assert.Len(t, driftsOf(rep, steps.GuardSchedulerStoppedUpdating), 2, "put back twice, then stopped")
	})
}

// TestContinueWaitsForAnUnreadableGuard: on a two-stage platform the
// prepared deployment is continued only once every guarded state reads:
// fe01's Scheduler restarted before publish and its state unreadable for
// 20 s hold the continue back until fe01 reads, and is stopped again
// first. Continued at once, the second stage applied with the Scheduler
// running (invariant 3).
func TestContinueWaitsForAnUnreadableGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := twoStageFarm(t, 65)
		svc := &unreadableServices{Services: sf.sim.Services(), server: "fe01", svc: drivers.SchedulerService}
		sf.tune = func(c *steps.Config) { c.Services = svc }
		require.NoError(t, sf.sim.Start(t.Context()))
		p := sf.plan(t, nil, nil, farm.Halt, "v2")
		var from time.Time
		require.NoError(t, p.Before(steps.Publish, farm.Hook{Name: "fe01's Scheduler restarted; fe01 unreadable", Func: func(context.Context, *farm.Run) error {
			from = time.Now()
			svc.blind(20 * time.Second)
			return sf.sim.SetServiceState("fe01", drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
		}}))
		rep, err := p.Run(t.Context())
		require.NoError(t, err)
		sf.endsExact(t, "v2")
		cont := sf.sim.Actions(simulate.OpContinueDeployment)
		require.Len(t, cont, 1)
		assert.GreaterOrEqual(t, cont[0].Time.Sub(from), 20*time.Second, "continued once fe01 read")
		ds := driftsOf(rep, steps.GuardSchedulerStoppedUpdating)
		require.Len(t, ds, 1, "%+v", rep.Drifts)
		assert.True(t, ds[0].Repaired)
	})
}

// TestRollbackRedeploysOnlyOutOfTraffic: the rollback of a failed publish
// deploys the previous release on the Updating servers; the platform is
// busy for its first starts, and meanwhile a load-balancer reload puts
// every member back in traffic. The rollback has dropped the guards, so it
// takes the Updating members out again immediately before each start
// attempt: v1 starts with fe01 and fe02 out. Checked only once, before the
// first attempt, v1 started with both serving.
func TestRollbackRedeploysOnlyOutOfTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7, Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		// The Updating members that read in traffic when v1 starts.
		var inAtStart []string
		platform := &busyPlatform{Platform: sim.Platform(), version: "v1", busy: 3, onBusy: func() {
			time.AfterFunc(time.Second, func() { _ = sim.ResetLoadBalancer("") })
		}, onStart: func(ctx context.Context) error {
			sts, err := sim.LoadBalancer("").Status(ctx, "fe01", "fe02")
			for _, st := range sts {
				if st.State != drivers.Out {
					inAtStart = append(inAtStart, st.Member+" "+string(st.State))
				}
			}
			return err
		}}
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
		require.NoError(t, err)
		p, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: platform, Prober: sim.Prober(),
			Release: drivers.Release{Version: "v2"}, Plan: farm.PlanConfig{Seed: 1, OnFailure: farm.Rollback}})
		require.NoError(t, err)
		require.NoError(t, p.After(steps.Publish, farm.Hook{Name: "smoke test fails", Func: func(context.Context, *farm.Run) error {
			return errors.New("smoke test: checkout page answers 500")
		}}))
		_, err = p.Run(t.Context())
		require.ErrorIs(t, err, farm.ErrRolledBack)
		assert.Equal(t, 4, platform.calls, "three busy answers, then the start")
		assert.Empty(t, inAtStart, "Updating members in traffic when v1 started")
		assert.Zero(t, sim.Report().TotalViolations(), sim.Report().String())
	})
}

// blindLB answers Status with drivers.ErrUnavailable from the moment blind
// is called until its duration has passed.
type blindLB struct {
	*simulate.LoadBalancer

	mu    sync.Mutex
	until time.Time
}

func (l *blindLB) blind(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.until = time.Now().Add(d)
}

func (l *blindLB) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	l.mu.Lock()
	blind := time.Now().Before(l.until)
	l.mu.Unlock()
	if blind {
		return nil, fmt.Errorf("haproxy: dial unix /run/haproxy/admin.sock: connection refused: %w", drivers.ErrUnavailable)
	}
	return l.LoadBalancer.Status(ctx, members...)
}

// TestRollbackWaitsForAnUnreadableLoadBalancer: while the platform is busy
// with the rollback's start of v1, the load balancer cannot be read for
// 20 s (longer than a driver call's retries). The rollback reads it again
// before each attempt, as the forward check does with an unreadable
// state, and rolls back once it reads the Updating members out. Failing on
// the first unreadable read, it halted after one start attempt with the
// farm half rolled back.
func TestRollbackWaitsForAnUnreadableLoadBalancer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7, Traffic: simulate.Traffic{Rate: -1}})
		require.NoError(t, err)
		lb := &blindLB{LoadBalancer: sim.LoadBalancer("")}
		var blindFrom time.Time
		platform := &busyPlatform{Platform: sim.Platform(), version: "v1", busy: 15, onBusy: func() {
			blindFrom = time.Now()
			lb.blind(20 * time.Second)
		}}
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: lb})
		require.NoError(t, err)
		p, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: platform, Prober: sim.Prober(),
			Release: drivers.Release{Version: "v2"}, Plan: farm.PlanConfig{Seed: 1, OnFailure: farm.Rollback}})
		require.NoError(t, err)
		require.NoError(t, p.After(steps.Publish, farm.Hook{Name: "smoke test fails", Func: func(context.Context, *farm.Run) error {
			return errors.New("smoke test: checkout page answers 500")
		}}))
		_, err = p.Run(t.Context())
		require.ErrorIs(t, err, farm.ErrRolledBack)
		assert.Equal(t, 16, platform.calls, "fifteen busy answers, then the start")
		starts := sim.Actions(simulate.OpStartDeployment)
		require.Len(t, starts, 2, "v2, then the rollback's v1")
		assert.GreaterOrEqual(t, starts[1].Time.Sub(blindFrom), 20*time.Second, "v1 started once the load balancer read")
		assert.Empty(t, sim.CheckEndState(drivers.Release{Version: "v1"}))
		assert.Zero(t, sim.Report().TotalViolations(), sim.Report().String())
	})
}
