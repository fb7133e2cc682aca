package canary

import (
	"context"
	"sync"

	"github.com/balanced-deploy/balanced/drivers"
)

// errs records every error a driver returns to the engine, per driver.
type errs struct {
	s  *sink
	mu sync.Mutex
	by map[string][]error
}

func newErrs(s *sink) *errs { return &errs{s: s, by: map[string][]error{}} }

func (e *errs) note(driver, call string, err error) error {
	if err != nil {
		e.s.addErr(driver+" "+call+" error", err)
		e.mu.Lock()
		e.by[driver] = append(e.by[driver], err)
		e.mu.Unlock()
	}
	return err
}

func (e *errs) of(driver string) []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.by[driver]...)
}

// services passes calls to a ServiceController and records its errors.
type services struct {
	next drivers.ServiceController
	name string
	e    *errs
}

var _ drivers.ServiceController = services{}

func (s services) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	return s.e.note(s.name, "StopService", s.next.StopService(ctx, t, svc))
}

func (s services) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	return s.e.note(s.name, "RestoreService", s.next.RestoreService(ctx, t, svc, want))
}

func (s services) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	st, err := s.next.ServiceState(ctx, t, svc)
	return st, s.e.note(s.name, "ServiceState", err)
}

// platform passes calls to a platform client with every optional capability
// (as the LifeTime client has) and records its errors.
type platform struct {
	next interface {
		drivers.PlatformClient
		drivers.DeployedReleaseReader
		drivers.DeploymentAborter
		drivers.DeploymentContinuer
	}
	name string
	e    *errs
}

var (
	_ drivers.PlatformClient        = platform{}
	_ drivers.DeployedReleaseReader = platform{}
	_ drivers.DeploymentAborter     = platform{}
	_ drivers.DeploymentContinuer   = platform{}
)

func (p platform) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	id, err := p.next.StartDeployment(ctx, rel)
	return id, p.e.note(p.name, "StartDeployment", err)
}

func (p platform) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	st, err := p.next.DeploymentStatus(ctx, id)
	return st, p.e.note(p.name, "DeploymentStatus", err)
}

func (p platform) DeployedRelease(ctx context.Context) (drivers.Release, error) {
	rel, err := p.next.DeployedRelease(ctx)
	return rel, p.e.note(p.name, "DeployedRelease", err)
}

func (p platform) AbortDeployment(ctx context.Context, id string) error {
	return p.e.note(p.name, "AbortDeployment", p.next.AbortDeployment(ctx, id))
}

func (p platform) ContinueDeployment(ctx context.Context, id string) error {
	return p.e.note(p.name, "ContinueDeployment", p.next.ContinueDeployment(ctx, id))
}

// balancer passes calls to a load balancer and records its errors. It has no
// Switch method, so it hides nothing from the engine only for drivers
// without one; switcher adds it.
type balancer struct {
	next drivers.LoadBalancer
	name string
	e    *errs
}

var _ drivers.LoadBalancer = balancer{}

func (b balancer) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	return b.e.note(b.name, "SetState", b.next.SetState(ctx, state, members...))
}

func (b balancer) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	st, err := b.next.Status(ctx, members...)
	return st, b.e.note(b.name, "Status", err)
}

// switcher is a balancer over a driver that also switches in one
// transaction.
type switcher struct {
	balancer
	sw drivers.Switcher
}

var _ drivers.Switcher = switcher{}

func (s switcher) Switch(ctx context.Context, serve, drain []string) error {
	return s.e.note(s.name, "Switch", s.sw.Switch(ctx, serve, drain))
}

// wrapLB records lb's errors, keeping its Switcher capability if it has one.
func wrapLB(lb drivers.LoadBalancer, name string, e *errs) drivers.LoadBalancer {
	b := balancer{next: lb, name: name, e: e}
	if sw, ok := lb.(drivers.Switcher); ok {
		return switcher{balancer: b, sw: sw}
	}
	return b
}
