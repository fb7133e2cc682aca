package e2e_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/balanced-deploy/balanced/drivers"
)

// errorLog keeps the text of every error a driver returned to the engine,
// so that a test can check no secret is in any of them.
type errorLog struct {
	mu   sync.Mutex
	errs []string
}

// note records err (if any) under the driver's name and returns it.
func (l *errorLog) note(driver string, err error) error {
	if err != nil {
		l.mu.Lock()
		l.errs = append(l.errs, fmt.Sprintf("%s: %v", driver, err))
		l.mu.Unlock()
	}
	return err
}

// Errors returns the recorded error texts.
func (l *errorLog) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// recordServices passes every call to a ServiceController and records its
// errors.
type recordServices struct {
	next drivers.ServiceController
	log  *errorLog
}

var _ drivers.ServiceController = recordServices{}

func (r recordServices) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	return r.log.note("services", r.next.StopService(ctx, t, svc))
}

func (r recordServices) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	return r.log.note("services", r.next.RestoreService(ctx, t, svc, want))
}

func (r recordServices) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	st, err := r.next.ServiceState(ctx, t, svc)
	return st, r.log.note("services", err)
}

// platformClient is what the LifeTime client offers: the contract and its
// optional capabilities, which the recorder must keep visible to the steps.
type platformClient interface {
	drivers.PlatformClient
	drivers.DeployedReleaseReader
	drivers.DeploymentAborter
	drivers.DeploymentContinuer
}

// recordPlatform passes every call to a platform client and records its
// errors. It offers the same optional capabilities.
type recordPlatform struct {
	next platformClient
	log  *errorLog
}

var _ platformClient = recordPlatform{}

func (r recordPlatform) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	id, err := r.next.StartDeployment(ctx, rel)
	return id, r.log.note("platform", err)
}

func (r recordPlatform) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	st, err := r.next.DeploymentStatus(ctx, id)
	return st, r.log.note("platform", err)
}

func (r recordPlatform) DeployedRelease(ctx context.Context) (drivers.Release, error) {
	rel, err := r.next.DeployedRelease(ctx)
	return rel, r.log.note("platform", err)
}

func (r recordPlatform) AbortDeployment(ctx context.Context, id string) error {
	return r.log.note("platform", r.next.AbortDeployment(ctx, id))
}

func (r recordPlatform) ContinueDeployment(ctx context.Context, id string) error {
	return r.log.note("platform", r.next.ContinueDeployment(ctx, id))
}

// recordProber passes every probe on and records its errors.
type recordProber struct {
	next drivers.Prober
	log  *errorLog
}

var _ drivers.Prober = recordProber{}

func (r recordProber) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	res, err := r.next.Probe(ctx, t)
	return res, r.log.note("prober", err)
}

// switchingLB is a load balancer with the Switcher capability, as the
// HAProxy driver is.
type switchingLB interface {
	drivers.LoadBalancer
	drivers.Switcher
}

// recordLB passes every call to a load balancer and records its errors. It
// keeps the Switcher capability visible to the steps.
type recordLB struct {
	next switchingLB
	log  *errorLog
}

var _ switchingLB = recordLB{}

func (r recordLB) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	return r.log.note("load balancer", r.next.SetState(ctx, state, members...))
}

func (r recordLB) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	st, err := r.next.Status(ctx, members...)
	return st, r.log.note("load balancer", err)
}

func (r recordLB) Switch(ctx context.Context, serve, drain []string) error {
	return r.log.note("load balancer", r.next.Switch(ctx, serve, drain))
}
