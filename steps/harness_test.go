package steps_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errCrashed is what every driver call returns once the orchestrator
// "crashed": the process is gone, nothing it asks for happens.
var errCrashed = errors.New("orchestrator crashed")

// crash simulates the orchestrator dying at its k-th driver call: that call
// and every later one fail without effect, and the journal keeps only what
// was appended before.
type crash struct {
	at    int64 // 0: never
	calls atomic.Int64
	dead  atomic.Bool
}

func (c *crash) call() error {
	if c == nil {
		return nil
	}
	if c.dead.Load() {
		return errCrashed
	}
	if n := c.calls.Add(1); c.at > 0 && n >= c.at {
		c.dead.Store(true)
		return errCrashed
	}
	return nil
}

// memJournal is an in-memory journal.Journal that stops recording once its
// crash has happened.
type memJournal struct {
	mu    sync.Mutex
	recs  []journal.Record
	crash *crash
}

func (j *memJournal) Append(rec journal.Record) error {
	if j.crash != nil && j.crash.dead.Load() {
		return errCrashed
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.recs = append(j.recs, rec)
	return nil
}

func (j *memJournal) LastRun(context.Context) (journal.State, bool, error) {
	return journal.LastRunOf(j.records())
}

func (j *memJournal) records() []journal.Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]journal.Record(nil), j.recs...)
}

// crashingDrivers wraps the simulator's drivers so that they die with c.
type crashingServices struct {
	*simulate.Services
	c *crash
}

func (s crashingServices) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	if err := s.c.call(); err != nil {
		return err
	}
	return s.Services.StopService(ctx, t, svc)
}

func (s crashingServices) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	if err := s.c.call(); err != nil {
		return err
	}
	return s.Services.RestoreService(ctx, t, svc, want)
}

func (s crashingServices) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	if err := s.c.call(); err != nil {
		return drivers.ServiceState{}, err
	}
	return s.Services.ServiceState(ctx, t, svc)
}

func (s crashingServices) DeploymentIdle(ctx context.Context, t drivers.Target) (bool, error) {
	if err := s.c.call(); err != nil {
		return false, err
	}
	return s.Services.DeploymentIdle(ctx, t)
}

type crashingLB struct {
	*simulate.LoadBalancer
	c *crash
}

func (l crashingLB) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	if err := l.c.call(); err != nil {
		return err
	}
	return l.LoadBalancer.SetState(ctx, state, members...)
}

func (l crashingLB) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	if err := l.c.call(); err != nil {
		return nil, err
	}
	return l.LoadBalancer.Status(ctx, members...)
}

func (l crashingLB) Switch(ctx context.Context, serve, drain []string) error {
	if err := l.c.call(); err != nil {
		return err
	}
	return l.LoadBalancer.Switch(ctx, serve, drain)
}

type crashingPlatform struct {
	*simulate.Platform
	c *crash
}

func (p crashingPlatform) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	if err := p.c.call(); err != nil {
		return "", err
	}
	return p.Platform.StartDeployment(ctx, rel)
}

func (p crashingPlatform) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	if err := p.c.call(); err != nil {
		return drivers.DeploymentStatus{}, err
	}
	return p.Platform.DeploymentStatus(ctx, id)
}

func (p crashingPlatform) DeployedRelease(ctx context.Context) (drivers.Release, error) {
	if err := p.c.call(); err != nil {
		return drivers.Release{}, err
	}
	return p.Platform.DeployedRelease(ctx)
}

func (p crashingPlatform) AbortDeployment(ctx context.Context, id string) error {
	if err := p.c.call(); err != nil {
		return err
	}
	return p.Platform.AbortDeployment(ctx, id)
}

func (p crashingPlatform) FindDeployment(ctx context.Context, rel drivers.Release) (string, bool, error) {
	if err := p.c.call(); err != nil {
		return "", false, err
	}
	return p.Platform.FindDeployment(ctx, rel)
}

func (p crashingPlatform) ContinueDeployment(ctx context.Context, id string) error {
	if err := p.c.call(); err != nil {
		return err
	}
	return p.Platform.ContinueDeployment(ctx, id)
}

type crashingProber struct {
	*simulate.Prober
	c *crash
}

func (p crashingProber) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	if err := p.c.call(); err != nil {
		return drivers.ProbeResult{}, err
	}
	return p.Prober.Probe(ctx, t)
}

// crashingPlainLB is crashingLB without the Switcher capability: traffic
// moves in two steps.
type crashingPlainLB struct {
	lb drivers.LoadBalancer
	c  *crash
}

func (l crashingPlainLB) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	if err := l.c.call(); err != nil {
		return err
	}
	return l.lb.SetState(ctx, state, members...)
}

func (l crashingPlainLB) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	if err := l.c.call(); err != nil {
		return nil, err
	}
	return l.lb.Status(ctx, members...)
}

// simFarm is a simulated farm with the balanced plan's configuration.
type simFarm struct {
	sim   *simulate.Sim
	specs []farm.ZoneSpec
	// plain makes the load balancers plain ones (no Switcher).
	plain bool
	// observer, when set, receives the plan's events.
	observer event.Observer
	// tune, when set, adjusts the steps.Config before the plan is built.
	tune func(*steps.Config)
	// platform, when set, wraps the platform driver the plan uses.
	platform func(drivers.PlatformClient) drivers.PlatformClient
	// lockDir is the plans' host-lock directory.
	lockDir string
	// watchInterval, when set, is the plan's PlanConfig.WatchInterval.
	watchInterval time.Duration
	// strict runs the plan in the strict runbook order
	// (farm.PlanConfig.StrictOrder).
	strict bool
}

func newSimFarm(t *testing.T, cfg simulate.Config) *simFarm {
	t.Helper()
	if cfg.PublishDuration == 0 {
		cfg.PublishDuration = 20 * time.Second
	}
	if cfg.InstallDuration == 0 {
		cfg.InstallDuration = 30 * time.Second
	}
	if cfg.Traffic.Rate == 0 {
		cfg.Traffic = simulate.Traffic{Rate: 5, Duration: 200 * time.Millisecond, MaxDuration: 3 * time.Second}
	}
	sim, err := simulate.New(cfg)
	require.NoError(t, err)
	// A host-lock directory of its own: simulated farms of different tests
	// (and of test processes running at once) share server names, hence
	// farm identities, and must not lock each other out.
	return &simFarm{sim: sim, specs: farm.AutoSplit(sim.Servers()), lockDir: t.TempDir()}
}

// endsExact lets the farm settle for 10 s (simulated), stops the
// simulator and checks the run left it exact on version: every server
// running it, services and members as before the run (CheckEndState), and
// no request failed and no invariant broken on the way.
func (sf *simFarm) endsExact(t *testing.T, version string, msgAndArgs ...any) {
	t.Helper()
	time.Sleep(10 * time.Second)
	sf.sim.Stop()
	assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: version}), msgAndArgs...)
	r := sf.sim.Report()
	assert.Zero(t, r.Failed, r.String())
	assert.Zero(t, r.TotalViolations(), r.String())
}

// plan builds the balanced plan over the simulated farm, with drivers that
// die with c (nil: never) and the given journal and policy.
func (sf *simFarm) plan(t *testing.T, c *crash, j journal.Journal, policy farm.FailurePolicy, release string) *farm.Plan {
	t.Helper()
	specs := make([]farm.ZoneSpec, len(sf.specs))
	copy(specs, sf.specs)
	for i := range specs {
		if sf.plain {
			specs[i].LoadBalancer = crashingPlainLB{sf.sim.PlainLoadBalancer(specs[i].Name), c}
		} else {
			specs[i].LoadBalancer = crashingLB{sf.sim.LoadBalancer(specs[i].Name), c}
		}
	}
	f, err := farm.New(farm.Config{Zones: specs})
	require.NoError(t, err)
	var platform drivers.PlatformClient = crashingPlatform{sf.sim.Platform(), c}
	if sf.platform != nil {
		platform = sf.platform(platform)
	}
	cfg := steps.Config{
		Services: crashingServices{sf.sim.Services(), c},
		Platform: platform,
		Prober:   crashingProber{sf.sim.Prober(), c},
		Release:  drivers.Release{Version: release},
		Plan: farm.PlanConfig{Seed: 1, Journal: j, OnFailure: policy, Observer: sf.observer, Lock: farm.LockConfig{Dir: sf.lockDir},
			WatchInterval: sf.watchInterval, StrictOrder: sf.strict,
			Retry: farm.RetryPolicy{MaxAttempts: 4}},
		PollInterval:       time.Second,
		DeployPollInterval: 5 * time.Second,
		ProgressInterval:   time.Minute,
		DrainTimeout:       2 * time.Minute,
		InstallTimeout:     10 * time.Minute,
		PublishTimeout:     10 * time.Minute,
	}
	if sf.tune != nil {
		sf.tune(&cfg)
	}
	p, err := steps.Balanced(f, cfg)
	require.NoError(t, err)
	return p
}
