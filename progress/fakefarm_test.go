package progress_test

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
)

// call is one driver call the fake saw, with the step that was running.
type call struct {
	Step   string
	Op     string
	Target string
}

// This file is a copy of the steps package's fake farm (steps/fake_test.go),
// trimmed to what these tests use, so that they can run a real balanced
// plan under testing/synctest.

// fakeFarm is a small coherent farm for the engine's tests: services,
// members with connection counts, a platform that installs on servers whose
// deployment service runs, and probes. It records every call with the step
// running at the time (set by its observer).
type fakeFarm struct {
	mu        sync.Mutex
	step      string
	calls     []call
	services  map[string]map[drivers.Service]drivers.ServiceState
	version   map[string]string
	members   map[string]*drivers.MemberStatus
	published string // release the platform deployed, "" before
	polls     int    // status polls before the deployment finishes
	release   string
	// hooks for tests
	onCall func(c call) error
}

func newFakeFarm(names ...string) *fakeFarm {
	f := &fakeFarm{
		services: map[string]map[drivers.Service]drivers.ServiceState{},
		version:  map[string]string{},
		members:  map[string]*drivers.MemberStatus{},
		polls:    2,
	}
	for _, n := range names {
		f.services[n] = map[drivers.Service]drivers.ServiceState{
			drivers.SchedulerService:            {Run: drivers.Running, Startup: drivers.Automatic},
			drivers.DeploymentService:           {Run: drivers.Running, Startup: drivers.Automatic},
			drivers.DeploymentControllerService: {Run: drivers.Running, Startup: drivers.Automatic},
		}
		f.version[n] = "v1"
		f.members[n] = &drivers.MemberStatus{Member: n, State: drivers.Serving, Health: drivers.Healthy, ConnectionsKnown: true}
	}
	return f
}

func (f *fakeFarm) servers(zones ...string) []farm.Server {
	var out []farm.Server
	names := make([]string, 0, len(f.version))
	for n := range f.version {
		names = append(names, n)
	}
	slices.Sort(names)
	for i, n := range names {
		z := ""
		if len(zones) > 0 {
			z = zones[i%len(zones)]
		}
		out = append(out, farm.Server{Name: n, Zone: z, DeploymentController: i == 0, ProbeURL: "http://" + n + "/"})
	}
	return out
}

// Observe tracks the running step.
func (f *fakeFarm) Observe(e farm.Event) {
	if e.Kind == farm.StepStarted {
		f.mu.Lock()
		f.step = e.Step
		f.mu.Unlock()
	}
}

func (f *fakeFarm) record(op, target string) error {
	f.mu.Lock()
	c := call{Step: f.step, Op: op, Target: target}
	f.calls = append(f.calls, c)
	hook := f.onCall
	f.mu.Unlock()
	if hook != nil {
		return hook(c)
	}
	return nil
}

// ServiceController.

func (f *fakeFarm) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	if err := f.record("stop-"+string(svc), t.Name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services[t.Name][svc] = drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}
	return nil
}

func (f *fakeFarm) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	if err := f.record("restore-"+string(svc), t.Name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.services[t.Name][svc] = want
	if svc == drivers.DeploymentService && want.Run == drivers.Running && f.published != "" {
		f.version[t.Name] = f.published
	}
	return nil
}

func (f *fakeFarm) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	if err := f.record("read-"+string(svc), t.Name); err != nil {
		return drivers.ServiceState{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.services[t.Name][svc]
	if !ok {
		return st, fmt.Errorf("service %s on %s: %w", svc, t.Name, drivers.ErrNotFound)
	}
	return st, nil
}

// LoadBalancer.

func (f *fakeFarm) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	for _, m := range members {
		if err := f.record("lb-"+string(state), m); err != nil {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range members {
		if f.members[m] == nil {
			return fmt.Errorf("member %s: %w", m, drivers.ErrNotFound)
		}
	}
	for _, m := range members {
		f.members[m].State = state
	}
	return nil
}

func (f *fakeFarm) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	if err := f.record("lb-status", ""); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]drivers.MemberStatus, 0, len(members))
	for _, m := range members {
		st := f.members[m]
		if st == nil {
			return nil, fmt.Errorf("member %s: %w", m, drivers.ErrNotFound)
		}
		out = append(out, *st)
	}
	return out, nil
}

// setActive sets a member's active connections.
func (f *fakeFarm) setActive(member string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members[member].ActiveConnections = n
}

// PlatformClient.

func (f *fakeFarm) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	if err := f.record("deploy", rel.Version); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.release = rel.Version
	return "dep-1", nil
}

func (f *fakeFarm) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	if err := f.record("deploy-status", id); err != nil {
		return drivers.DeploymentStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.polls > 0 {
		f.polls--
		return drivers.DeploymentStatus{State: drivers.DeploymentRunning}, nil
	}
	if f.published == "" {
		f.published = f.release
		for n, svcs := range f.services {
			if svcs[drivers.DeploymentService].Run == drivers.Running {
				f.version[n] = f.published
			}
		}
	}
	return drivers.DeploymentStatus{State: drivers.DeploymentSucceeded}, nil
}

// Prober.

func (f *fakeFarm) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	if err := f.record("probe", t.Name); err != nil {
		return drivers.ProbeResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return drivers.ProbeResult{Healthy: true, StatusCode: 200, Version: f.version[t.Name]}, nil
}
