package drivertest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivertest"
)

// The in-memory drivers below follow the contracts; they show the suites
// pass a correct driver, and they are example harnesses.

type memServices struct {
	mu     sync.Mutex
	states map[string]map[drivers.Service]drivers.ServiceState
	leases map[string]drivers.Lease
}

var (
	_ drivers.ServiceController = (*memServices)(nil)
	_ drivers.IdleReporter      = (*memServices)(nil)
	_ drivers.FarmLeaser        = (*memServices)(nil)
)

func newServices(targets ...string) *memServices {
	m := &memServices{states: map[string]map[drivers.Service]drivers.ServiceState{}, leases: map[string]drivers.Lease{}}
	for _, tg := range targets {
		m.states[tg] = map[drivers.Service]drivers.ServiceState{
			drivers.SchedulerService:  {Run: drivers.Running, Startup: drivers.Automatic},
			drivers.DeploymentService: {Run: drivers.Running, Startup: drivers.Automatic},
		}
	}
	return m
}

func (m *memServices) lookup(ctx context.Context, t drivers.Target, svc drivers.Service) (map[drivers.Service]drivers.ServiceState, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mem: %w", err)
	}
	svcs, ok := m.states[t.Name]
	if !ok {
		return nil, fmt.Errorf("mem: server %q: %w", t.Name, drivers.ErrNotFound)
	}
	if _, ok := svcs[svc]; !ok {
		return nil, fmt.Errorf("mem: service %q on %s: %w", svc, t.Name, drivers.ErrNotFound)
	}
	return svcs, nil
}

func (m *memServices) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	svcs, err := m.lookup(ctx, t, svc)
	if err != nil {
		return err
	}
	svcs[svc] = drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}
	return nil
}

func (m *memServices) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	svcs, err := m.lookup(ctx, t, svc)
	if err != nil {
		return err
	}
	switch {
	case want.Run != drivers.Running && want.Run != drivers.Stopped:
		return fmt.Errorf("mem: %w: run state %q", drivers.ErrInvalidArgument, want.Run)
	case want.Startup != drivers.Automatic && want.Startup != drivers.AutomaticDelayedStart && want.Startup != drivers.Manual && want.Startup != drivers.Disabled:
		return fmt.Errorf("mem: %w: startup type %q", drivers.ErrInvalidArgument, want.Startup)
	}
	svcs[svc] = want
	return nil
}

func (m *memServices) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	svcs, err := m.lookup(ctx, t, svc)
	if err != nil {
		return drivers.ServiceState{}, err
	}
	return svcs[svc], nil
}

func (m *memServices) DeploymentIdle(ctx context.Context, t drivers.Target) (bool, error) {
	_, err := m.ServiceState(ctx, t, drivers.DeploymentService)
	return true, err
}

func (m *memServices) AcquireLease(ctx context.Context, t drivers.Target, req drivers.LeaseRequest) (drivers.Lease, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	cur, ok := m.leases[req.Farm]
	if ok && !cur.Expired(now) && cur.Holder.RunID != req.Holder.RunID && (!req.Force || req.ForceHolder != cur.Holder.RunID) {
		return drivers.Lease{}, &drivers.LeaseHeldError{Lease: cur}
	}
	l := drivers.Lease{Farm: req.Farm, Holder: req.Holder, Acquired: now, Renewed: now, Expires: now.Add(req.TTL)}
	m.leases[req.Farm] = l
	return l, nil
}

func (m *memServices) RenewLease(ctx context.Context, t drivers.Target, farm, runID string, ttl time.Duration) (drivers.Lease, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.leases[farm]
	switch {
	case !ok:
		return drivers.Lease{}, fmt.Errorf("mem: lease of %s: %w", farm, drivers.ErrNotFound)
	case cur.Holder.RunID != runID:
		return drivers.Lease{}, &drivers.LeaseHeldError{Lease: cur}
	}
	cur.Renewed, cur.Expires = time.Now(), time.Now().Add(ttl)
	m.leases[farm] = cur
	return cur, nil
}

func (m *memServices) ReleaseLease(ctx context.Context, t drivers.Target, farm, runID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.leases[farm]; ok && cur.Holder.RunID == runID {
		delete(m.leases, farm)
	}
	return nil
}

func (m *memServices) ReadLease(ctx context.Context, t drivers.Target, farm string) (drivers.Lease, bool, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Lease{}, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[farm]
	return l, ok, nil
}

// memPlatform finishes a deployment after it has been read three times.
type memPlatform struct {
	mu       sync.Mutex
	deps     map[string]*memDeployment
	deployed drivers.Release
	pause    bool
}

type memDeployment struct {
	rel   drivers.Release
	state drivers.DeploymentState
	reads int
}

var (
	_ drivers.DeployedReleaseReader = (*memPlatform)(nil)
	_ drivers.DeploymentAborter     = (*memPlatform)(nil)
	_ drivers.DeploymentContinuer   = (*memPlatform)(nil)
)

func newPlatform() *memPlatform {
	return &memPlatform{deps: map[string]*memDeployment{}, deployed: drivers.Release{Version: "1.0"}}
}

func (p *memPlatform) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	id := fmt.Sprintf("dep-%d", len(p.deps)+1)
	st := drivers.DeploymentRunning
	if p.pause {
		st = drivers.DeploymentNeedsUserIntervention
	}
	p.deps[id] = &memDeployment{rel: rel, state: st}
	return id, nil
}

func (p *memPlatform) get(ctx context.Context, id string) (*memDeployment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, ok := p.deps[id]
	if !ok {
		return nil, fmt.Errorf("mem: deployment %q: %w", id, drivers.ErrNotFound)
	}
	return d, nil
}

func (p *memPlatform) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, err := p.get(ctx, id)
	if err != nil {
		return drivers.DeploymentStatus{}, err
	}
	if d.state == drivers.DeploymentRunning {
		if d.reads++; d.reads >= 3 {
			d.state, p.deployed = drivers.DeploymentSucceeded, d.rel
		}
	}
	return drivers.DeploymentStatus{State: d.state, Log: []drivers.LogEntry{{Type: "Info", Message: "started"}}}, nil
}

func (p *memPlatform) DeployedRelease(ctx context.Context) (drivers.Release, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Release{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deployed, nil
}

func (p *memPlatform) AbortDeployment(ctx context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, err := p.get(ctx, id)
	if err != nil {
		return err
	}
	if !d.state.Done() {
		d.state = drivers.DeploymentAborted
	}
	return nil
}

func (p *memPlatform) ContinueDeployment(ctx context.Context, id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	d, err := p.get(ctx, id)
	if err != nil {
		return err
	}
	if d.state == drivers.DeploymentNeedsUserIntervention {
		d.state = drivers.DeploymentRunning
	}
	return nil
}

// memProber: "up" servers answer healthy at v2, "sick" 503, others nothing.
type memProber struct{}

func (memProber) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	if err := ctx.Err(); err != nil {
		return drivers.ProbeResult{}, err
	}
	switch t.Name {
	case "up1", "up2":
		return drivers.ProbeResult{Healthy: true, StatusCode: 200, Version: "v2"}, nil
	case "sick":
		return drivers.ProbeResult{StatusCode: 503, Detail: "status 503"}, nil
	}
	return drivers.ProbeResult{}, fmt.Errorf("mem: %s: connection refused: %w", t.Name, drivers.ErrUnavailable)
}

func servicesHarness(newSC func() drivers.ServiceController) drivertest.ServiceControllerHarness {
	return drivertest.ServiceControllerHarness{
		New:     func(t *testing.T) drivers.ServiceController { return newSC() },
		Targets: []drivers.Target{{Name: "fe01"}, {Name: "fe02"}},
		Missing: drivers.DeploymentControllerService,
	}
}

func platformHarness(newPC func() drivers.PlatformClient) drivertest.PlatformClientHarness {
	return drivertest.PlatformClientHarness{
		New:       func(t *testing.T) drivers.PlatformClient { return newPC() },
		Release:   drivers.Release{Version: "2.0"},
		Abortable: true,
		Paused: func(t *testing.T, pc drivers.PlatformClient) string {
			mp := pc.(*memPlatform)
			mp.mu.Lock()
			mp.pause = true
			mp.mu.Unlock()
			id, err := pc.StartDeployment(t.Context(), drivers.Release{Version: "2.0"})
			require.NoError(t, err)
			return id
		},
	}
}

func proberHarness(newP func() drivers.Prober) drivertest.ProberHarness {
	return drivertest.ProberHarness{
		New:       func(t *testing.T) drivers.Prober { return newP() },
		Healthy:   []drivers.Target{{Name: "up1"}, {Name: "up2"}},
		Version:   "v2",
		Unhealthy: drivers.Target{Name: "sick"},
		Down:      drivers.Target{Name: "gone"},
	}
}

func TestConformanceMemory(t *testing.T) {
	t.Run("services", func(t *testing.T) {
		drivertest.RunServiceController(t, servicesHarness(func() drivers.ServiceController { return newServices("fe01", "fe02") }))
	})
	t.Run("platform", func(t *testing.T) {
		drivertest.RunPlatformClient(t, platformHarness(func() drivers.PlatformClient { return newPlatform() }))
	})
	t.Run("prober", func(t *testing.T) {
		drivertest.RunProber(t, proberHarness(func() drivers.Prober { return memProber{} }))
	})
	t.Run("app-prober", func(t *testing.T) {
		drivertest.RunProber(t, appProberHarness(func() drivers.Prober { return memAppProber{} }))
	})
}

// TestConformanceInBubble runs the suites with each subtest in a synctest
// bubble, as a driver over a simulated clock does.
func TestConformanceInBubble(t *testing.T) {
	h := servicesHarness(func() drivers.ServiceController { return newServices("fe01", "fe02") })
	h.Bubble = synctest.Test
	t.Run("services", func(t *testing.T) { drivertest.RunServiceController(t, h) })
	p := proberHarness(func() drivers.Prober { return memProber{} })
	p.Bubble = synctest.Test
	t.Run("prober", func(t *testing.T) { drivertest.RunProber(t, p) })
}

// plainServices hides the optional capabilities.
type plainServices struct{ m *memServices }

func (p plainServices) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	return p.m.StopService(ctx, t, svc)
}

func (p plainServices) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	return p.m.RestoreService(ctx, t, svc, want)
}

func (p plainServices) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	return p.m.ServiceState(ctx, t, svc)
}

type plainPlatform struct{ p *memPlatform }

func (p plainPlatform) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	return p.p.StartDeployment(ctx, rel)
}

func (p plainPlatform) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	return p.p.DeploymentStatus(ctx, id)
}

// TestConformanceWithoutCapabilities shows the capability subtests skip by
// name (see -v output: "unimplemented: ...").
func TestConformanceWithoutCapabilities(t *testing.T) {
	h := servicesHarness(func() drivers.ServiceController { return plainServices{newServices("fe01", "fe02")} })
	h.Missing = ""
	t.Run("services", func(t *testing.T) { drivertest.RunServiceController(t, h) })
	t.Run("platform", func(t *testing.T) {
		drivertest.RunPlatformClient(t, drivertest.PlatformClientHarness{
			New:     func(t *testing.T) drivers.PlatformClient { return plainPlatform{newPlatform()} },
			Release: drivers.Release{Version: "2.0"},
		})
	})
	t.Run("prober", func(t *testing.T) {
		drivertest.RunProber(t, drivertest.ProberHarness{
			New: func(t *testing.T) drivers.Prober { return memProber{} }, Healthy: []drivers.Target{{Name: "up1"}}, Version: "v2",
		})
	})
}

// brokenServices breaks the contract: StopService stops but leaves the
// startup type (the Scheduler comes back at the next boot), and the context
// is ignored.
type brokenServices struct{ m *memServices }

func (b brokenServices) StopService(_ context.Context, t drivers.Target, svc drivers.Service) error {
	st, err := b.m.ServiceState(context.Background(), t, svc)
	if err != nil {
		return err
	}
	return b.m.RestoreService(context.Background(), t, svc, drivers.ServiceState{Run: drivers.Stopped, Startup: st.Startup})
}

func (b brokenServices) RestoreService(_ context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	return b.m.RestoreService(context.Background(), t, svc, want)
}

func (b brokenServices) ServiceState(_ context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	return b.m.ServiceState(context.Background(), t, svc)
}

// brokenPlatform answers an unknown deployment as unavailable (the engine
// would retry it forever) and ignores the context.
type brokenPlatform struct{ p *memPlatform }

func (b brokenPlatform) StartDeployment(_ context.Context, rel drivers.Release) (string, error) {
	return b.p.StartDeployment(context.Background(), rel)
}

func (b brokenPlatform) DeploymentStatus(_ context.Context, id string) (drivers.DeploymentStatus, error) {
	st, err := b.p.DeploymentStatus(context.Background(), id)
	if err != nil {
		return st, fmt.Errorf("broken: %s: %w", id, drivers.ErrUnavailable)
	}
	return st, nil
}

// brokenProber reports an unhealthy answer as an error.
// memAppProber is memProber with drivers.ApplicationProber: Portal answers
// its own version, 7.1; any other application the server's.
type memAppProber struct{ memProber }

func (m memAppProber) ProbeApplication(ctx context.Context, t drivers.Target, app drivers.ApplicationProbe) (drivers.ProbeResult, error) {
	res, err := m.Probe(ctx, t)
	if err == nil && res.Healthy && app.Application == "Portal" {
		res.Version = "7.1"
	}
	return res, err
}

// brokenAppProber ignores the application: every one answers the
// server's version, as if the release had one application.
type brokenAppProber struct{ memProber }

func (m brokenAppProber) ProbeApplication(ctx context.Context, t drivers.Target, _ drivers.ApplicationProbe) (drivers.ProbeResult, error) {
	return m.Probe(ctx, t)
}

func appProberHarness(newP func() drivers.Prober) drivertest.ProberHarness {
	h := proberHarness(newP)
	h.Applications = []drivers.ApplicationProbe{{Application: "Orders", Path: "/Orders/"}, {Application: "Portal", Path: "/Portal/", Version: "7.1"}}
	return h
}

type brokenProber struct{}

func (brokenProber) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	res, err := memProber{}.Probe(ctx, t)
	if err == nil && !res.Healthy {
		return res, fmt.Errorf("broken: %s answered %d", t.Name, res.StatusCode)
	}
	return res, err
}

// TestBrokenDriversHelper runs the suites against the broken drivers; it
// only runs as the child process of TestSuitesCatchBrokenDrivers.
func TestBrokenDriversHelper(t *testing.T) {
	if os.Getenv("DRIVERTEST_BROKEN") != "1" {
		t.Skip("runs only as a child of TestSuitesCatchBrokenDrivers")
	}
	t.Run("services", func(t *testing.T) {
		drivertest.RunServiceController(t, servicesHarness(func() drivers.ServiceController { return brokenServices{newServices("fe01", "fe02")} }))
	})
	t.Run("platform", func(t *testing.T) {
		drivertest.RunPlatformClient(t, drivertest.PlatformClientHarness{
			New:     func(t *testing.T) drivers.PlatformClient { return brokenPlatform{newPlatform()} },
			Release: drivers.Release{Version: "2.0"},
		})
	})
	t.Run("prober", func(t *testing.T) {
		drivertest.RunProber(t, proberHarness(func() drivers.Prober { return brokenProber{} }))
	})
	t.Run("app-prober", func(t *testing.T) {
		drivertest.RunProber(t, appProberHarness(func() drivers.Prober { return brokenAppProber{} }))
	})
}

// TestSuitesCatchBrokenDrivers checks that the suites can fail: run against
// drivers that break the contracts, the named subtests fail and the others
// pass.
func TestSuitesCatchBrokenDrivers(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenDriversHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "DRIVERTEST_BROKEN=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the suites must fail broken drivers; output:\n%s", out)
	for _, name := range []string{"services/Stop", "services/StopIdempotent", "services/Isolation", "services/ContextDone", "platform/UnknownDeployment", "platform/ContextDone", "prober/Unhealthy", "app-prober/Application"} {
		assert.Contains(t, string(out), "--- FAIL: TestBrokenDriversHelper/"+name+" ", "subtest %s must fail", name)
	}
	for _, name := range []string{"services/States", "services/Restore", "services/InvalidState", "platform/Deploy", "prober/Healthy", "prober/ContextDone", "app-prober/Healthy"} {
		assert.Contains(t, string(out), "--- PASS: TestBrokenDriversHelper/"+name+" ", "subtest %s must pass", name)
	}
	assert.Contains(t, string(out), "unimplemented: ")
}
