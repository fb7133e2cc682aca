// Package httpfarm is test support for end-to-end tests of the balanced
// procedure through a real load balancer (HAProxy, NGINX): a farm of real Go
// HTTP backends on 127.0.0.1, in-memory implementations of the service,
// platform and prober contracts that act on those backends, an open-loop load
// generator that records every failure and the versions each client saw, and
// helpers to find the load-balancer binary and free loopback ports.
//
// It is not a simulator (package simulate is) and not for production use:
// durations are real time, scaled down for tests.
//
// # The model
//
// Each [Backend] serves a version (header X-Version). Its in-memory services
// start Running/Automatic. [Platform.StartDeployment] publishes a release
// after Config.PublishDelay: every backend whose Deployment service runs then
// installs it (answering 503 for Config.InstallDuration, and breaking the
// requests it holds), then serves the new version; a backend whose
// Deployment service is stopped installs when [Services.RestoreService]
// starts it. User requests (the load generator's, marked with X-Load) that
// reach an installing backend are counted by [Backend.InstallHits].
//
// Typical use:
//
//	f := httpfarm.New(t, httpfarm.Config{Backends: 6})
//	// start a load balancer in front of f.Backends() ...
//	load := httpfarm.StartLoad(t, httpfarm.LoadConfig{URL: lbURL, Rate: 250})
//	plan, _ := steps.Balanced(fm, steps.Config{Services: f.Services(), Platform: f.Platform(), Prober: f.Prober(), ...})
//	plan.Run(ctx)
//	res := load.Stop()
package httpfarm

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
)

// Config describes a test farm. The zero value of every field means the
// default next to it.
type Config struct {
	// Backends is the number of backends. Default 6.
	Backends int
	// Version is the version every backend serves at first. Default "v1".
	Version string
	// PublishDelay is how long the platform takes before the backends
	// start installing. Default 300ms.
	PublishDelay time.Duration
	// InstallDuration is how long a backend answers 503 while it installs.
	// Default 1s.
	InstallDuration time.Duration
	// Logger receives the farm's events. Nil discards them.
	Logger *slog.Logger
}

// Farm is a set of running backends and the drivers that act on them.
type Farm struct {
	cfg      Config
	backends []*Backend
	byName   map[string]*Backend

	mu          sync.Mutex
	services    map[string]map[drivers.Service]drivers.ServiceState
	pending     string // the version published, waiting on stopped backends
	deployments map[string]*deployment
}

type deployment struct {
	version string
	done    time.Time
}

// New starts cfg.Backends backends named fe1, fe2, ... on 127.0.0.1 and
// stops them when the test ends.
func New(t testing.TB, cfg Config) *Farm {
	t.Helper()
	if cfg.Backends == 0 {
		cfg.Backends = 6
	}
	if cfg.Backends < 0 {
		t.Fatalf("httpfarm: Backends %d: want a positive count", cfg.Backends)
	}
	if cfg.Version == "" {
		cfg.Version = "v1"
	}
	if cfg.PublishDelay == 0 {
		cfg.PublishDelay = 300 * time.Millisecond
	}
	if cfg.InstallDuration == 0 {
		cfg.InstallDuration = time.Second
	}
	f := &Farm{cfg: cfg, byName: map[string]*Backend{}, services: map[string]map[drivers.Service]drivers.ServiceState{}, deployments: map[string]*deployment{}}
	for i := range cfg.Backends {
		name := "fe" + strconv.Itoa(i+1)
		b := startBackend(t, f, name, cfg.Version)
		f.backends = append(f.backends, b)
		f.byName[name] = b
		f.services[name] = map[drivers.Service]drivers.ServiceState{}
		for _, svc := range []drivers.Service{drivers.SchedulerService, drivers.DeploymentService} {
			f.services[name][svc] = drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}
		}
	}
	if len(f.backends) > 0 {
		f.services[f.backends[0].name][drivers.DeploymentControllerService] = drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}
	}
	return f
}

func (f *Farm) logf(format string, args ...any) {
	if f.cfg.Logger != nil {
		f.cfg.Logger.Info(fmt.Sprintf(format, args...))
	}
}

// Backends returns the backends in name order (fe1 first).
func (f *Farm) Backends() []*Backend { return slices.Clone(f.backends) }

// Backend returns the backend with the given name.
func (f *Farm) Backend(name string) (*Backend, bool) {
	b, ok := f.byName[name]
	return b, ok
}

// Servers returns the farm's servers for farm.New: named like the
// backends, with their probe URL, the first one holding the Deployment
// Controller role.
func (f *Farm) Servers() []farm.Server {
	out := make([]farm.Server, len(f.backends))
	for i, b := range f.backends {
		out[i] = farm.Server{Name: b.name, ProbeURL: b.URL(), DeploymentController: i == 0}
	}
	return out
}

// InstallHits returns the user requests that reached any backend while it
// installed.
func (f *Farm) InstallHits() int64 {
	var n int64
	for _, b := range f.backends {
		n += b.InstallHits()
	}
	return n
}

// Services returns the farm's [drivers.ServiceController].
func (f *Farm) Services() *Services { return &Services{f: f} }

// Platform returns the farm's [drivers.PlatformClient].
func (f *Farm) Platform() *Platform { return &Platform{f: f} }

// Prober returns the farm's [drivers.Prober].
func (f *Farm) Prober() *Prober { return &Prober{f: f} }

func (f *Farm) backend(t drivers.Target) (*Backend, error) {
	b, ok := f.byName[t.Name]
	if !ok {
		return nil, fmt.Errorf("httpfarm: server %q: %w", t.Name, drivers.ErrNotFound)
	}
	return b, nil
}

// installed is called by a backend once it serves a new version.
func (f *Farm) installed(*Backend) {}

// publish makes every backend whose Deployment service runs install
// version, and remembers it for the others.
func (f *Farm) publish(version string) {
	f.mu.Lock()
	f.pending = version
	var run []*Backend
	for _, b := range f.backends {
		if f.services[b.name][drivers.DeploymentService].Run == drivers.Running {
			run = append(run, b)
		}
	}
	f.mu.Unlock()
	for _, b := range run {
		b.install(version, f.cfg.InstallDuration)
	}
}

func ctxErr(ctx context.Context, what string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("httpfarm: %s: %w", what, err)
	}
	return nil
}
