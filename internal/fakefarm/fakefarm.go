// Package fakefarm is a small, coherent in-memory farm for the engine's unit
// tests: services, load-balancer members with connection counts, a platform
// that installs on servers whose deployment service runs, and probes. It
// records every driver call with the step that was running (it is also an
// observer). Unlike package simulate it carries no traffic and checks no
// invariant: tests assert on the calls and the state it keeps.
package fakefarm

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// Call is one driver call the fake saw, with the step that was running.
type Call struct {
	Step   string
	Op     string
	Target string
}

// Farm implements drivers.ServiceController, drivers.LoadBalancer,
// drivers.PlatformClient, drivers.Prober and event.Observer. Its methods are
// safe for concurrent use.
type Farm struct {
	mu        sync.Mutex
	step      string
	calls     []Call
	services  map[string]map[drivers.Service]drivers.ServiceState
	version   map[string]string
	members   map[string]*drivers.MemberStatus
	published string // release the platform deployed, "" before
	polls     int    // status polls before the deployment finishes
	release   string
	// deployments counts StartDeployment calls: IDs are dep-1, dep-2, ...
	deployments int
	// hooks for tests
	onCall func(c Call) error
}

// New returns a farm of the named servers, every service running and
// automatic, every member serving and healthy, every server on "v1". The
// platform reports a deployment running for two status reads.
func New(names ...string) *Farm {
	f := &Farm{
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

// Servers returns the farm servers, sorted by name, spread over zones in
// turn; the first is the Deployment Controller.
func (f *Farm) Servers(zones ...string) []farm.Server {
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

// Observe tracks the running step, so that calls are recorded with it.
func (f *Farm) Observe(e event.Event) {
	if e.Kind == event.StepStarted {
		f.mu.Lock()
		f.step = e.Step
		f.mu.Unlock()
	}
}

func (f *Farm) record(op, target string) error {
	f.mu.Lock()
	c := Call{Step: f.step, Op: op, Target: target}
	f.calls = append(f.calls, c)
	hook := f.onCall
	f.mu.Unlock()
	if hook != nil {
		return hook(c)
	}
	return nil
}

// CallsIn returns the distinct "op target" pairs seen during step, sorted.
func (f *Farm) CallsIn(step string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if c.Step == step {
			s := c.Op + " " + c.Target
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ServiceController.

// service returns the services of t, or ErrNotFound for an unknown server
// or service, or the context's error. f.mu is held.
func (f *Farm) service(ctx context.Context, t drivers.Target, svc drivers.Service) (map[drivers.Service]drivers.ServiceState, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fakefarm: %s on %s: %w", svc, t.Name, err)
	}
	svcs, ok := f.services[t.Name]
	if !ok {
		return nil, fmt.Errorf("fakefarm: server %q: %w", t.Name, drivers.ErrNotFound)
	}
	if _, ok := svcs[svc]; !ok {
		return nil, fmt.Errorf("service %s on %s: %w", svc, t.Name, drivers.ErrNotFound)
	}
	return svcs, nil
}

// StopService stops and disables svc.
func (f *Farm) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	if err := f.record("stop-"+string(svc), t.Name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svcs, err := f.service(ctx, t, svc)
	if err != nil {
		return err
	}
	svcs[svc] = drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}
	return nil
}

// RestoreService sets svc to want; starting the Deployment service installs a published release.
func (f *Farm) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	if err := f.record("restore-"+string(svc), t.Name); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svcs, err := f.service(ctx, t, svc)
	if err != nil {
		return err
	}
	switch {
	case want.Run != drivers.Running && want.Run != drivers.Stopped:
		return fmt.Errorf("fakefarm: %w: run state %q for %s on %s: want running or stopped", drivers.ErrInvalidArgument, want.Run, svc, t.Name)
	case want.Startup != drivers.Automatic && want.Startup != drivers.AutomaticDelayedStart && want.Startup != drivers.Manual && want.Startup != drivers.Disabled:
		return fmt.Errorf("fakefarm: %w: startup type %q for %s on %s", drivers.ErrInvalidArgument, want.Startup, svc, t.Name)
	}
	svcs[svc] = want
	if svc == drivers.DeploymentService && want.Run == drivers.Running && f.published != "" {
		f.version[t.Name] = f.published
	}
	return nil
}

// ServiceState reads svc.
func (f *Farm) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	if err := f.record("read-"+string(svc), t.Name); err != nil {
		return drivers.ServiceState{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	svcs, err := f.service(ctx, t, svc)
	if err != nil {
		return drivers.ServiceState{}, err
	}
	return svcs[svc], nil
}

// LoadBalancer.

// SetState sets the members' state; an unknown member changes nothing.
func (f *Farm) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
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

// Status reads the members.
func (f *Farm) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
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

// SetActive sets a member's active connections.
func (f *Farm) SetActive(member string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.members[member].ActiveConnections = n
}

// MemberState returns a member's state.
func (f *Farm) MemberState(member string) drivers.MemberState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.members[member].State
}

// PlatformClient.

// StartDeployment starts deploying rel.
func (f *Farm) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	if err := f.record("deploy", rel.Version); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("fakefarm: start deployment: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.release = rel.Version
	f.deployments++
	return fmt.Sprintf("dep-%d", f.deployments), nil
}

// DeploymentStatus reports running for the configured number of reads, then publishes: every server whose Deployment service runs is on the release.
func (f *Farm) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	if err := f.record("deploy-status", id); err != nil {
		return drivers.DeploymentStatus{}, err
	}
	if err := ctx.Err(); err != nil {
		return drivers.DeploymentStatus{}, fmt.Errorf("fakefarm: deployment %s: %w", id, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var n int
	if _, err := fmt.Sscanf(id, "dep-%d", &n); err != nil || n < 1 || n > f.deployments || id != fmt.Sprintf("dep-%d", n) {
		return drivers.DeploymentStatus{}, fmt.Errorf("fakefarm: deployment %q: %w", id, drivers.ErrNotFound)
	}
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

// Probe reports the server healthy on its version.
func (f *Farm) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	if err := f.record("probe", t.Name); err != nil {
		return drivers.ProbeResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return drivers.ProbeResult{}, fmt.Errorf("fakefarm: probe %s: %w", t.Name, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.version[t.Name]
	if !ok {
		return drivers.ProbeResult{}, fmt.Errorf("fakefarm: probe: server %q: %w", t.Name, drivers.ErrNotFound)
	}
	return drivers.ProbeResult{Healthy: true, StatusCode: 200, Version: v}, nil
}

// Switching adds the drivers.Switcher capability to a Farm.
type Switching struct{ *Farm }

// Switch puts serve to serving and drain to draining at once.
func (f Switching) Switch(ctx context.Context, serve, drain []string) error {
	if err := f.record("lb-switch", fmt.Sprint(serve, drain)); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range serve {
		f.members[m].State = drivers.Serving
	}
	for _, m := range drain {
		f.members[m].State = drivers.Draining
	}
	return nil
}

// OnCall sets a function called at every driver call, before it takes
// effect; an error it returns is what the call returns, with no effect.
func (f *Farm) OnCall(fn func(c Call) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onCall = fn
}

// SetPolls sets how many status reads report the deployment running.
func (f *Farm) SetPolls(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.polls = n
}

// Calls returns every call recorded.
func (f *Farm) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Version returns the version a server runs.
func (f *Farm) Version(server string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.version[server]
}

// Service returns the state of a service on a server.
func (f *Farm) Service(server string, svc drivers.Service) drivers.ServiceState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.services[server][svc]
}

// Serving returns how many members are serving and the set of versions
// their servers run.
func (f *Farm) Serving() (int, map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, versions := 0, map[string]bool{}
	for name, m := range f.members {
		if m.State == drivers.Serving {
			n++
			versions[f.version[name]] = true
		}
	}
	return n, versions
}
