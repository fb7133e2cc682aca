package farm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowSystems is a service controller and a load balancer whose calls take
// a set time per host (or a default), and that records the most calls in
// flight at once per host and on the load balancer.
type slowSystems struct {
	latency map[string]time.Duration // by host; others take def
	def     time.Duration

	mu        sync.Mutex
	inFlight  map[string]int
	maxFlight map[string]int
}

func newSlowSystems(def time.Duration) *slowSystems {
	return &slowSystems{latency: map[string]time.Duration{}, def: def, inFlight: map[string]int{}, maxFlight: map[string]int{}}
}

func (s *slowSystems) call(ctx context.Context, key string) error {
	s.mu.Lock()
	s.inFlight[key]++
	s.maxFlight[key] = max(s.maxFlight[key], s.inFlight[key])
	d, ok := s.latency[key]
	s.mu.Unlock()
	if !ok {
		d = s.def
	}
	defer func() {
		s.mu.Lock()
		s.inFlight[key]--
		s.mu.Unlock()
	}()
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *slowSystems) max(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxFlight[key]
}

// host keys a target by its host, as farm.Host does: its address, or its
// name when the address is empty.
func host(t drivers.Target) string {
	if t.Address != "" {
		return t.Address
	}
	return t.Name
}

func (s *slowSystems) StopService(ctx context.Context, t drivers.Target, _ drivers.Service) error {
	return s.call(ctx, host(t))
}

func (s *slowSystems) RestoreService(ctx context.Context, t drivers.Target, _ drivers.Service, _ drivers.ServiceState) error {
	return s.call(ctx, host(t))
}

func (s *slowSystems) ServiceState(ctx context.Context, t drivers.Target, _ drivers.Service) (drivers.ServiceState, error) {
	return drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}, s.call(ctx, host(t))
}

func (s *slowSystems) SetState(ctx context.Context, _ drivers.MemberState, _ ...string) error {
	return s.call(ctx, "lb")
}

func (s *slowSystems) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	return nil, s.call(ctx, "lb")
}

// TestHostLimitIsPerHostAndPerCall: six servers on one host and fourteen
// on their own; one more host answers in 10 s a call. With Limits.Host 2,
// the shared host never has more than 2 calls at once, and every server on
// a fast host finishes its chain of three calls (with a 1 s wait between
// them, as a read-back poll does) in the time of its own chain: the slow
// host and the crowded one hold up only their own servers.
func TestHostLimitIsPerHostAndPerCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := newSlowSystems(100 * time.Millisecond)
		list := servers(21)
		for i := range 6 {
			list[i].Address = "shared"
		}
		list[20].Address = "slow"
		sys.latency["slow"] = 10 * time.Second
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(list), LoadBalancer: sys, CapacityFloor: -1})
		require.NoError(t, err)
		done := map[string]time.Duration{}
		var mu sync.Mutex
		var plan *farm.Plan
		plan, err = farm.NewPlan(f, farm.PlanConfig{Limits: farm.Limits{Host: 2}}, farm.Step{ID: "s", Title: "s", Run: func(ctx context.Context, r *farm.Run) error {
			svc := plan.LimitServices(sys)
			start := time.Now()
			return r.ForEachServer(ctx, r.Farm().Servers(), func(ctx context.Context, s farm.Server) error {
				for i := range 3 {
					if i > 0 {
						time.Sleep(time.Second)
					}
					if _, err := svc.ServiceState(ctx, s.Target(), drivers.SchedulerService); err != nil {
						return err
					}
				}
				mu.Lock()
				done[s.Name] = time.Since(start)
				mu.Unlock()
				return nil
			})
		}})
		require.NoError(t, err)
		_, err = plan.Run(context.Background())
		require.NoError(t, err)

		assert.Equal(t, 2, sys.max("shared"), "the shared host's limit")
		chain := 3*100*time.Millisecond + 2*time.Second
		for _, s := range list[6:20] {
			assert.Equal(t, chain, done[s.Name], "%s (own host) finished in its own chain's time", s.Name)
		}
		for _, s := range list[:6] {
			// 6 servers × 3 calls through 2 slots: at worst 9 calls of
			// 100 ms in turn, plus the two 1 s waits.
			assert.LessOrEqual(t, done[s.Name], chain+6*100*time.Millisecond, s.Name)
		}
		assert.Equal(t, 3*10*time.Second+2*time.Second, done[list[20].Name])
	})
}

// TestLoadBalancerLimitIsHeldPerCall: two zones share one load balancer
// limited to one call at a time. Zone a polls it for 10 s (one Status a
// second); zone b's single call goes through between two of a's polls
// instead of waiting for a's whole poll.
func TestLoadBalancerLimitIsHeldPerCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := newSlowSystems(100 * time.Millisecond)
		list := servers(8, "a", "b")
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(list), LoadBalancer: sys})
		require.NoError(t, err)
		var bDone time.Duration
		plan, err := farm.NewPlan(f, farm.PlanConfig{Limits: farm.Limits{LoadBalancer: 1}}, farm.Step{ID: "s", Title: "s", Run: func(ctx context.Context, r *farm.Run) error {
			start := time.Now()
			return r.ForEachZone(ctx, func(ctx context.Context, z *farm.Zone) error {
				if z.Name == "b" {
					time.Sleep(50 * time.Millisecond) // a's first poll is under way
					_, err := z.LoadBalancer.Status(ctx, z.Updating.Members()...)
					bDone = time.Since(start)
					return err
				}
				for range 10 {
					if _, err := z.LoadBalancer.Status(ctx, z.Updating.Members()...); err != nil {
						return err
					}
					time.Sleep(time.Second)
				}
				return nil
			})
		}})
		require.NoError(t, err)
		_, err = plan.Run(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, sys.max("lb"), "one call at a time")
		assert.Equal(t, 200*time.Millisecond, bDone, "zone b waited for one call of zone a, not its 10 s poll")
	})
}

// TestFanOutGoroutinesAreBounded: a fan-out over 1000 servers with a
// Concurrency of 8 runs at most 8 goroutines for them (a pool of workers,
// not one goroutine per server).
func TestFanOutGoroutinesAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sys := newSlowSystems(time.Millisecond)
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(1000)), LoadBalancer: sys})
		require.NoError(t, err)
		var most, base int
		var mu sync.Mutex
		plan, err := farm.NewPlan(f, farm.PlanConfig{Concurrency: 8}, farm.Step{ID: "s", Title: "s", Run: func(ctx context.Context, r *farm.Run) error {
			base = runtime.NumGoroutine()
			return r.Each(ctx, r.Farm().Servers(), func(ctx context.Context, s farm.Server) error {
				time.Sleep(time.Millisecond)
				mu.Lock()
				most = max(most, runtime.NumGoroutine())
				mu.Unlock()
				return nil
			})
		}})
		require.NoError(t, err)
		_, err = plan.Run(context.Background())
		require.NoError(t, err)
		assert.Equal(t, base+8, most, "the step's goroutine and 8 workers")
	})
}

func TestLimitsRefuseNegative(t *testing.T) {
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: newSlowSystems(0)})
	require.NoError(t, err)
	for _, l := range []farm.Limits{{Host: -1}, {LoadBalancer: -2}, {Platform: -3}} {
		_, err := farm.NewPlan(f, farm.PlanConfig{Limits: l})
		assert.ErrorContains(t, err, fmt.Sprintf("%d: want 0 (default) or more", min(l.Host, l.LoadBalancer, l.Platform)))
	}
}

// TestLimitServicesKeepsCapabilities: the limited services have exactly
// the optional capabilities of the driver they wrap.
func TestLimitServicesKeepsCapabilities(t *testing.T) {
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: newSlowSystems(0)})
	require.NoError(t, err)
	plan, err := farm.NewPlan(f, farm.PlanConfig{})
	require.NoError(t, err)
	plain := plan.LimitServices(newSlowSystems(0))
	_, idle := plain.(drivers.IdleReporter)
	_, lease := plain.(drivers.FarmLeaser)
	assert.False(t, idle)
	assert.False(t, lease)
	withIdle := plan.LimitServices(idleSystems{newSlowSystems(0)})
	_, idle = withIdle.(drivers.IdleReporter)
	assert.True(t, idle)
	assert.True(t, withIdle == plan.LimitServices(withIdle), "not limited twice")
	_, sw := plan.Farm().Zones()[0].LoadBalancer.(drivers.Switcher)
	assert.False(t, sw, "a load balancer without Switch gets none")
	both := plan.LimitServices(leaseSystems{idleSystems{newSlowSystems(0)}})
	_, idle = both.(drivers.IdleReporter)
	_, lease = both.(drivers.FarmLeaser)
	assert.True(t, idle && lease, "both capabilities kept")

	f2, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: switchSystems{newSlowSystems(0)}})
	require.NoError(t, err)
	plan2, err := farm.NewPlan(f2, farm.PlanConfig{})
	require.NoError(t, err)
	_, sw = plan2.Farm().Zones()[0].LoadBalancer.(drivers.Switcher)
	assert.True(t, sw, "Switch kept")

	f3, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: identSystems{switchSystems{newSlowSystems(0)}}})
	require.NoError(t, err)
	plan3, err := farm.NewPlan(f3, farm.PlanConfig{})
	require.NoError(t, err)
	lb := plan3.Farm().Zones()[0].LoadBalancer
	_, sw = lb.(drivers.Switcher)
	id, isID := lb.(drivers.Identifier)
	require.True(t, sw && isID, "Switch and Identity kept")
	assert.Equal(t, "lb-1", id.Identity())
	assert.Equal(t, f3.Identity(), plan3.Farm().Identity(), "the farm's identity is the one New computed")
}

// TestLimitProberKeepsApplicationProber: the limited prober probes an
// application at its own path where the driver can, and only there.
func TestLimitProberKeepsApplicationProber(t *testing.T) {
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: newSlowSystems(0)})
	require.NoError(t, err)
	plan, err := farm.NewPlan(f, farm.PlanConfig{})
	require.NoError(t, err)
	_, ok := plan.LimitProber(plainProber{}).(drivers.ApplicationProber)
	assert.False(t, ok, "a prober without ProbeApplication gets none")
	limited := plan.LimitProber(appProber{})
	ap, ok := limited.(drivers.ApplicationProber)
	require.True(t, ok, "ProbeApplication kept")
	res, err := ap.ProbeApplication(t.Context(), drivers.Target{Name: "fe01"}, drivers.ApplicationProbe{Application: "Orders", Path: "/Orders/"})
	require.NoError(t, err)
	assert.Equal(t, "Orders at /Orders/", res.Detail, "the call reaches the driver with its application")
	assert.True(t, limited == plan.LimitProber(limited), "not limited twice")
}

type plainProber struct{}

func (plainProber) Probe(context.Context, drivers.Target) (drivers.ProbeResult, error) {
	return drivers.ProbeResult{}, nil
}

type appProber struct{ plainProber }

func (appProber) ProbeApplication(_ context.Context, _ drivers.Target, app drivers.ApplicationProbe) (drivers.ProbeResult, error) {
	return drivers.ProbeResult{Detail: app.Application + " at " + app.Path}, nil
}

type identSystems struct{ switchSystems }

func (identSystems) Identity() string { return "lb-1" }

type switchSystems struct{ *slowSystems }

func (s switchSystems) Switch(ctx context.Context, _, _ []string) error { return s.call(ctx, "lb") }

type leaseSystems struct{ idleSystems }

func (leaseSystems) AcquireLease(context.Context, drivers.Target, drivers.LeaseRequest) (drivers.Lease, error) {
	return drivers.Lease{}, nil
}

func (leaseSystems) RenewLease(context.Context, drivers.Target, string, string, time.Duration) (drivers.Lease, error) {
	return drivers.Lease{}, nil
}

func (leaseSystems) ReleaseLease(context.Context, drivers.Target, string, string) error { return nil }

func (leaseSystems) ReadLease(context.Context, drivers.Target, string) (drivers.Lease, bool, error) {
	return drivers.Lease{}, false, nil
}

type idleSystems struct{ *slowSystems }

func (idleSystems) DeploymentIdle(context.Context, drivers.Target) (bool, error) { return true, nil }

// TestLimitWrappersCarryEveryCapability guards the wrappers: they keep the
// optional capabilities they know of (drivers/*.go's "X is an optional
// capability of a [Y]"). A capability added to drivers for a load balancer
// or a service controller must be added to the engine's wrappers (which
// would otherwise hide it from the steps' type assertions) and here.
func TestLimitWrappersCarryEveryCapability(t *testing.T) {
	carried := map[string][]string{
		"LoadBalancer":      {"Identifier", "Switcher"},
		"ServiceController": {"FarmLeaser", "IdleReporter"},
		"Prober":            {"ApplicationProber"},
	}
	re := regexp.MustCompile(`// (\w+) is an optional capability of an? \[(\w+)\](?: or an? \[(\w+)\])?`)
	files, err := filepath.Glob("../drivers/*.go")
	require.NoError(t, err)
	found := map[string][]string{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			for _, base := range m[2:] {
				if _, wrapped := carried[base]; wrapped {
					found[base] = append(found[base], m[1])
				}
			}
		}
	}
	for base := range carried {
		slices.Sort(found[base])
		assert.Equal(t, carried[base], found[base], "capabilities of drivers.%s: the engine's limited wrapper (farm/limit.go) must carry each", base)
	}
}
