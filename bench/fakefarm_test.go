package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
)

// timings are the physical durations of the fake farm. Every one is real
// time: the overhead benchmarks measure the engine against a wall clock.
type timings struct {
	// Latency is how long every driver call takes (one round trip). The
	// call takes effect, or reads, at its end.
	Latency time.Duration
	// Drain is how long a member set draining keeps active connections.
	Drain time.Duration
	// Publish is how long the platform publishes before the deployment
	// reads finished and the installs begin: with Apply and TwoStage, how
	// long its first stage takes.
	Publish time.Duration
	// Apply is how long the second stage of a deployment takes (the SQL
	// scripts run, the running versions switch): right after the first in
	// one stage, once the deployment is continued with TwoStage. Zero:
	// none.
	Apply time.Duration
	// TwoStage makes the platform run deployments in two stages, as a
	// LifeTime environment with "Execute deployments in two stages" does
	// (OutSystems, "Deploy in a Short Deployment Window"): after its first
	// stage ("no changes in the running versions") a deployment reads
	// needs_user_intervention with Info deploy_prepared (the Deployment
	// API's spelling) until it is continued (POST
	// /deployments/{key}/continue/); the second stage then takes Apply.
	TwoStage bool
	// Install is how long one front-end installs (probes answer 503).
	Install time.Duration
	// CatchUp is how long a front-end's Deployment service, started again
	// (unblock-loaded), takes to begin installing a release it missed, as
	// simulate.Config.CatchUpDelay models it. Zero: at once.
	CatchUp time.Duration
}

// fakeFarm is a minimal farm implementing every driver contract the balanced
// plan uses, with exactly the timings above and nothing else: no traffic, no
// health-check lag, no jitter. The simulator models far more; here every
// wait has a known length, so the critical path can be computed exactly.
//
// State that changes with time (the end of a drain, a publish, an install) is
// settled lazily on each call from the instants recorded, so the fake runs no
// timers of its own.
type fakeFarm struct {
	tm    timings
	calls atomic.Int64

	mu      sync.Mutex
	servers map[string]*fakeServer
	// The deployment: started when id != "", its first stage done at
	// stageEnd; published at pubEnd once scheduled (at the start in one
	// stage, at the continue in two).
	id        string
	version   string
	stageEnd  time.Time
	pubEnd    time.Time
	scheduled bool
	published bool
	// The reduced-capacity window: out counts the members not serving;
	// while it is positive the farm serves on part of its servers, since
	// outSince. reduced sums those stretches.
	out      int
	outSince time.Time
	reduced  time.Duration
}

type fakeServer struct {
	version      string
	installing   string    // version being installed, from installStart until installEnd
	installStart time.Time //
	installEnd   time.Time //
	pending      string    // published version waiting for the Deployment service
	services     map[drivers.Service]drivers.ServiceState
	state        drivers.MemberState
	drainEnd     time.Time // a draining member holds connections until then
}

var (
	_ drivers.LoadBalancer        = (*fakeFarm)(nil)
	_ drivers.Switcher            = (*fakeFarm)(nil)
	_ drivers.ServiceController   = (*fakeFarm)(nil)
	_ drivers.IdleReporter        = (*fakeFarm)(nil)
	_ drivers.PlatformClient      = (*fakeFarm)(nil)
	_ drivers.DeploymentPreparer  = (*fakeFarm)(nil)
	_ drivers.DeploymentContinuer = (*fakeFarm)(nil)
	_ drivers.Prober              = (*fakeFarm)(nil)
)

// newFakeFarm builds n servers fe0001.. on version v1, every service
// Running/Automatic and every member serving.
func newFakeFarm(n int, tm timings) (*fakeFarm, []farm.Server) {
	f := &fakeFarm{tm: tm, servers: make(map[string]*fakeServer, n)}
	list := make([]farm.Server, n)
	for i := range n {
		name := "fe" + fmt.Sprintf("%04d", i+1)
		list[i] = farm.Server{Name: name, DeploymentController: i == 0}
		f.servers[name] = &fakeServer{
			version: "v1",
			state:   drivers.Serving,
			services: map[drivers.Service]drivers.ServiceState{
				drivers.SchedulerService:            {Run: drivers.Running, Startup: drivers.Automatic},
				drivers.DeploymentService:           {Run: drivers.Running, Startup: drivers.Automatic},
				drivers.DeploymentControllerService: {Run: drivers.Running, Startup: drivers.Automatic},
			},
		}
	}
	return f, list
}

// Calls returns how many driver calls the farm received.
func (f *fakeFarm) Calls() int64 { return f.calls.Load() }

// roundTrip waits one latency (or until ctx ends) and returns the instant
// the call takes effect.
func (f *fakeFarm) roundTrip(ctx context.Context) (time.Time, error) {
	f.calls.Add(1)
	if f.tm.Latency > 0 {
		t := time.NewTimer(f.tm.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return time.Time{}, drivers.Classify(drivers.ErrUnavailable, ctx.Err())
		}
	} else if err := ctx.Err(); err != nil {
		return time.Time{}, drivers.Classify(drivers.ErrUnavailable, err)
	}
	return time.Now(), nil
}

// server returns the settled server; f.mu must be held.
func (f *fakeFarm) server(name string, now time.Time) (*fakeServer, error) {
	s, ok := f.servers[name]
	if !ok {
		return nil, drivers.Classify(drivers.ErrNotFound, fmt.Errorf("no server %q", name))
	}
	if f.id != "" && f.scheduled && !f.published && !now.Before(f.pubEnd) {
		// The publish ended: every server whose Deployment service runs
		// installs from pubEnd; the others wait for it to start.
		f.published = true
		for _, x := range f.servers {
			if x.services[drivers.DeploymentService].Run == drivers.Running {
				x.installing, x.installStart, x.installEnd = f.version, f.pubEnd, f.pubEnd.Add(f.tm.Install)
			} else {
				x.pending = f.version
			}
		}
	}
	if s.installing != "" && !now.Before(s.installEnd) {
		s.version, s.installing = s.installing, ""
	}
	return s, nil
}

// SetState implements drivers.LoadBalancer.
func (f *fakeFarm) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range members {
		if _, ok := f.servers[m]; !ok {
			return drivers.Classify(drivers.ErrNotFound, fmt.Errorf("no member %q", m))
		}
	}
	for _, m := range members {
		f.setState(f.servers[m], state, now)
	}
	return nil
}

func (f *fakeFarm) setState(s *fakeServer, state drivers.MemberState, now time.Time) {
	if state == drivers.Draining && s.state != drivers.Draining {
		s.drainEnd = now.Add(f.tm.Drain)
	}
	switch was := s.state == drivers.Serving; {
	case was && state != drivers.Serving:
		if f.out == 0 {
			f.outSince = now
		}
		f.out++
	case !was && state == drivers.Serving:
		f.out--
		if f.out == 0 {
			f.reduced += now.Sub(f.outSince)
		}
	}
	s.state = state
}

// Reduced returns how long the farm served with some member not serving
// (the fake farm has one zone): the reduced-capacity window, as
// simulate.Report.ReducedCapacity measures it for a zone.
func (f *fakeFarm) Reduced() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.out > 0 {
		return f.reduced + time.Since(f.outSince)
	}
	return f.reduced
}

// Switch implements drivers.Switcher.
func (f *fakeFarm) Switch(ctx context.Context, serve, drain []string) error {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range append(append([]string(nil), serve...), drain...) {
		if _, ok := f.servers[m]; !ok {
			return drivers.Classify(drivers.ErrNotFound, fmt.Errorf("no member %q", m))
		}
	}
	for _, m := range serve {
		f.setState(f.servers[m], drivers.Serving, now)
	}
	for _, m := range drain {
		f.setState(f.servers[m], drivers.Draining, now)
	}
	return nil
}

// Status implements drivers.LoadBalancer.
func (f *fakeFarm) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]drivers.MemberStatus, 0, len(members))
	for _, m := range members {
		s, err := f.server(m, now)
		if err != nil {
			return nil, err
		}
		st := drivers.MemberStatus{Member: m, State: s.state, Health: drivers.Healthy, ConnectionsKnown: true}
		if s.installing != "" && !now.Before(s.installStart) {
			st.Health = drivers.Unhealthy
		}
		if s.state == drivers.Draining && now.Before(s.drainEnd) {
			st.ActiveConnections = 1
		}
		out = append(out, st)
	}
	return out, nil
}

// StopService implements drivers.ServiceController.
func (f *fakeFarm) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	return f.RestoreService(ctx, t, svc, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled})
}

// RestoreService implements drivers.ServiceController. Starting the
// Deployment service installs a published version that waits.
func (f *fakeFarm) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.server(t.Name, now)
	if err != nil {
		return err
	}
	s.services[svc] = want
	if svc == drivers.DeploymentService && want.Run == drivers.Running && s.pending != "" {
		start := now.Add(f.tm.CatchUp)
		s.installing, s.installStart, s.installEnd, s.pending = s.pending, start, start.Add(f.tm.Install), ""
	}
	return nil
}

// ServiceState implements drivers.ServiceController.
func (f *fakeFarm) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return drivers.ServiceState{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.server(t.Name, now)
	if err != nil {
		return drivers.ServiceState{}, err
	}
	return s.services[svc], nil
}

// DeploymentIdle implements drivers.IdleReporter.
func (f *fakeFarm) DeploymentIdle(ctx context.Context, t drivers.Target) (bool, error) {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.server(t.Name, now)
	if err != nil {
		return false, err
	}
	return s.installing == "" && s.pending == "", nil
}

// StartDeployment implements drivers.PlatformClient.
func (f *fakeFarm) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.id != "" && !f.published {
		return "", drivers.Classify(drivers.ErrUnavailable, fmt.Errorf("deployment %s is running", f.id))
	}
	f.id = "dep-" + strconv.FormatInt(now.UnixNano(), 36)
	f.version, f.stageEnd, f.published = rel.Version, now.Add(f.tm.Publish), false
	// One stage: the second follows the first at once.
	f.pubEnd, f.scheduled = f.stageEnd.Add(f.tm.Apply), !f.tm.TwoStage
	return f.id, nil
}

// TwoStage implements drivers.DeploymentPreparer: timings.TwoStage.
func (f *fakeFarm) TwoStage() bool { return f.tm.TwoStage }

// ContinueDeployment implements drivers.DeploymentContinuer: a prepared
// deployment runs its second stage (Apply) from the continue; continuing
// one that runs or is published changes nothing, as LifeTime's continue of
// a deployment that does not wait answers without effect (the simulator's
// Platform.ContinueDeployment does the same).
func (f *fakeFarm) ContinueDeployment(ctx context.Context, id string) error {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" || id != f.id {
		return drivers.Classify(drivers.ErrNotFound, fmt.Errorf("no deployment %q", id))
	}
	if !f.scheduled && !now.Before(f.stageEnd) {
		f.pubEnd, f.scheduled = now.Add(f.tm.Apply), true
	}
	return nil
}

// DeploymentStatus implements drivers.PlatformClient.
func (f *fakeFarm) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return drivers.DeploymentStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" || id != f.id {
		return drivers.DeploymentStatus{}, drivers.Classify(drivers.ErrNotFound, fmt.Errorf("no deployment %q", id))
	}
	switch {
	case !f.scheduled && now.Before(f.stageEnd), f.scheduled && now.Before(f.pubEnd):
		return drivers.DeploymentStatus{State: drivers.DeploymentRunning}, nil
	case !f.scheduled:
		return drivers.DeploymentStatus{State: drivers.DeploymentNeedsUserIntervention, Info: drivers.InfoDeployPrepared}, nil
	}
	return drivers.DeploymentStatus{State: drivers.DeploymentSucceeded}, nil
}

// Probe implements drivers.Prober.
func (f *fakeFarm) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	now, err := f.roundTrip(ctx)
	if err != nil {
		return drivers.ProbeResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.server(t.Name, now)
	if err != nil {
		return drivers.ProbeResult{}, err
	}
	if s.installing != "" && !now.Before(s.installStart) {
		return drivers.ProbeResult{StatusCode: 503, Detail: "installing"}, nil
	}
	return drivers.ProbeResult{Healthy: true, StatusCode: 200, Version: s.version}, nil
}

// checkEnd reports the first server not back to the end state of a
// successful deployment of version: serving, on version, nothing pending,
// every service Running/Automatic.
func (f *fakeFarm) checkEnd(version string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for name := range f.servers {
		s, _ := f.server(name, now)
		switch {
		case s.version != version || s.installing != "" || s.pending != "":
			return fmt.Errorf("%s: version %s, installing %q, pending %q: want %s", name, s.version, s.installing, s.pending, version)
		case s.state != drivers.Serving:
			return fmt.Errorf("%s: member %s, want serving", name, s.state)
		}
		for svc, st := range s.services {
			if st.Run != drivers.Running || st.Startup != drivers.Automatic {
				return fmt.Errorf("%s: %s service %s/%s, want running/Automatic", name, svc, st.Run, st.Startup)
			}
		}
	}
	return nil
}
