package farm

import (
	"context"
	"sync"

	"github.com/balanced-deploy/balanced/drivers"
)

// systemKind is the kind of system a driver call reaches.
type systemKind string

// Kinds of systems the engine limits separately.
const (
	// kindHost is one front-end server's host: its WinRM endpoint and the
	// application served on it (a service call and a probe of one server
	// reach the same machine).
	kindHost systemKind = "host"
	// kindLoadBalancer is one load balancer (one driver value: zones that
	// share a load balancer share its limit).
	kindLoadBalancer systemKind = "load-balancer"
	// kindPlatform is the deployment platform (LifeTime).
	kindPlatform systemKind = "platform"
)

// System names one system driver calls reach, for [Run.Call] and the
// limits of [Limits]: [Host] of a server's target, or [Platform]. (The
// engine limits the load balancers itself.)
type System struct {
	kind systemKind
	// name tells systems of one kind apart: the host's address (or the
	// server's name), the load balancer's zone. Empty for the platform.
	name string
}

// Host returns the system of a server's host: its Address, or its Name when
// the address is empty.
func Host(t drivers.Target) System {
	name := t.Address
	if name == "" {
		name = t.Name
	}
	return System{kind: kindHost, name: name}
}

// Platform is the deployment platform's system.
var Platform = System{kind: kindPlatform}

// Limits bound the driver calls in flight at once, per system: each limit
// is held for one call only, never across a server's chain of calls nor
// across the waits between them (a poll's sleep, a retry's backoff, a
// confirmation delay), so a slow host holds up only its own calls. The zero
// value of each field is its default.
type Limits struct {
	// Host is the most calls at once to one server's host (service calls
	// and probes; Windows' WinRM allows 30 shells per user by default, see
	// drivers/winrm). Zero means 2.
	Host int
	// LoadBalancer is the most calls at once to one load balancer, zones
	// sharing one included. Zero means 4.
	LoadBalancer int
	// Platform is the most calls at once to the platform made through
	// [Run.Call] with [Platform]. Zero means 8.
	Platform int
}

// Defaults of [Limits], as its fields document them.
const (
	defaultHostConcurrency         = 2
	defaultLoadBalancerConcurrency = 4
	defaultPlatformConcurrency     = 8
)

func (l Limits) withDefaults() Limits {
	if l.Host == 0 {
		l.Host = defaultHostConcurrency
	}
	if l.LoadBalancer == 0 {
		l.LoadBalancer = defaultLoadBalancerConcurrency
	}
	if l.Platform == 0 {
		l.Platform = defaultPlatformConcurrency
	}
	return l
}

func (l Limits) of(k systemKind) int {
	switch k {
	case kindHost:
		return l.Host
	case kindLoadBalancer:
		return l.LoadBalancer
	}
	return l.Platform
}

// limiter holds one semaphore per system, made on first use.
type limiter struct {
	limits Limits
	mu     sync.Mutex
	sems   map[System]chan struct{}
}

func newLimiter(l Limits) *limiter {
	return &limiter{limits: l.withDefaults(), sems: map[System]chan struct{}{}}
}

// do runs fn holding one of sys's slots, or returns ctx's error if ctx ends
// while it waits for one.
func (l *limiter) do(ctx context.Context, sys System, fn func() error) error {
	l.mu.Lock()
	sem, ok := l.sems[sys]
	if !ok {
		sem = make(chan struct{}, l.limits.of(sys.kind))
		l.sems[sys] = sem
	}
	l.mu.Unlock()
	// A free slot is taken even when ctx has ended: the call then sees
	// ctx itself, as it would without a limit (a select would pick at
	// random between the two).
	select {
	case sem <- struct{}{}:
	default:
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-sem }()
	return fn()
}

// Call runs one driver call, fn, within the limit of the system it reaches
// ([Limits]): it waits for a slot of sys, holds it for fn only, and returns
// fn's error (or ctx's, if ctx ends while it waits). Step authors wrap with
// it the calls their drivers do not make through [Plan.LimitServices],
// [Plan.LimitProber] or the farm's load balancers, which the engine limits
// itself. Do not nest Calls to one system: the inner call could wait for a
// slot its caller holds.
func (r *Run) Call(ctx context.Context, sys System, fn func(ctx context.Context) error) error {
	return r.plan.lim.do(ctx, sys, func() error { return fn(ctx) })
}

// LimitServices returns s limited per host ([Limits].Host, keyed by
// [Host] of each call's target), with the optional capabilities s has
// (drivers.IdleReporter, limited likewise; drivers.FarmLeaser, passed
// through unlimited, since a lease's renewal must not wait behind other
// calls). steps.Balanced limits its drivers with it; call it on drivers that
// custom steps call.
func (p *Plan) LimitServices(s drivers.ServiceController) drivers.ServiceController {
	if s == nil {
		return nil
	}
	if isLimited(s) {
		return s
	}
	base := &limitedServices{lim: p.lim, s: s}
	ir, idle := s.(drivers.IdleReporter)
	fl, lease := s.(drivers.FarmLeaser)
	switch {
	case idle && lease:
		return struct {
			*limitedServices
			limitedIdle
			drivers.FarmLeaser
		}{base, limitedIdle{p.lim, ir}, fl}
	case idle:
		return struct {
			*limitedServices
			limitedIdle
		}{base, limitedIdle{p.lim, ir}}
	case lease:
		return struct {
			*limitedServices
			drivers.FarmLeaser
		}{base, fl}
	}
	return base
}

// LimitProber returns pr limited per host ([Limits].Host, keyed by [Host]
// of each probe's target), with drivers.ApplicationProber, limited likewise,
// where pr has it.
func (p *Plan) LimitProber(pr drivers.Prober) drivers.Prober {
	if pr == nil {
		return nil
	}
	if isLimited(pr) {
		return pr
	}
	base := &limitedProber{lim: p.lim, p: pr}
	if ap, ok := pr.(drivers.ApplicationProber); ok {
		return struct {
			*limitedProber
			limitedAppProber
		}{base, limitedAppProber{p.lim, ap}}
	}
	return base
}

// limited marks the engine's wrappers, so that nothing is limited twice.
type limited interface{ limitedByEngine() bool }

// isLimited reports whether v is one of the engine's limiting wrappers.
func isLimited(v any) bool {
	l, ok := v.(limited)
	return ok && l.limitedByEngine()
}

type limitedServices struct {
	lim *limiter
	s   drivers.ServiceController
}

func (*limitedServices) limitedByEngine() bool { return true }

func (l *limitedServices) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	return l.lim.do(ctx, Host(t), func() error { return l.s.StopService(ctx, t, svc) })
}

func (l *limitedServices) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	return l.lim.do(ctx, Host(t), func() error { return l.s.RestoreService(ctx, t, svc, want) })
}

func (l *limitedServices) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (st drivers.ServiceState, err error) {
	err = l.lim.do(ctx, Host(t), func() error {
		st, err = l.s.ServiceState(ctx, t, svc)
		return err
	})
	return st, err
}

type limitedIdle struct {
	lim *limiter
	ir  drivers.IdleReporter
}

func (l limitedIdle) DeploymentIdle(ctx context.Context, t drivers.Target) (idle bool, err error) {
	err = l.lim.do(ctx, Host(t), func() error {
		idle, err = l.ir.DeploymentIdle(ctx, t)
		return err
	})
	return idle, err
}

type limitedProber struct {
	lim *limiter
	p   drivers.Prober
}

func (*limitedProber) limitedByEngine() bool { return true }

func (l *limitedProber) Probe(ctx context.Context, t drivers.Target) (res drivers.ProbeResult, err error) {
	err = l.lim.do(ctx, Host(t), func() error {
		res, err = l.p.Probe(ctx, t)
		return err
	})
	return res, err
}

type limitedAppProber struct {
	lim *limiter
	ap  drivers.ApplicationProber
}

func (l limitedAppProber) ProbeApplication(ctx context.Context, t drivers.Target, app drivers.ApplicationProbe) (res drivers.ProbeResult, err error) {
	err = l.lim.do(ctx, Host(t), func() error {
		res, err = l.ap.ProbeApplication(ctx, t, app)
		return err
	})
	return res, err
}

// limitLoadBalancer returns lb limited per load balancer ([Limits]
// .LoadBalancer), with the optional capabilities lb has: drivers.Switcher
// (limited likewise) and drivers.Identifier (passed through: it calls
// nothing). The engine gives the zones of the farm a run sees these
// wrappers (see [NewPlan]).
func limitLoadBalancer(lim *limiter, lb drivers.LoadBalancer, name string) drivers.LoadBalancer {
	base := &limitedLB{lim: lim, lb: lb, sys: System{kind: kindLoadBalancer, name: name}}
	return keepCapabilities(lb, base, func(sw drivers.Switcher) switchingLB {
		return &limitedSwitcher{limitedLB: base, sw: sw}
	})
}

type limitedLB struct {
	lim *limiter
	lb  drivers.LoadBalancer
	sys System
}

func (*limitedLB) limitedByEngine() bool { return true }

func (l *limitedLB) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	return l.lim.do(ctx, l.sys, func() error { return l.lb.SetState(ctx, state, members...) })
}

func (l *limitedLB) Status(ctx context.Context, members ...string) (sts []drivers.MemberStatus, err error) {
	err = l.lim.do(ctx, l.sys, func() error {
		sts, err = l.lb.Status(ctx, members...)
		return err
	})
	return sts, err
}

type limitedSwitcher struct {
	*limitedLB
	sw drivers.Switcher
}

func (l *limitedSwitcher) Switch(ctx context.Context, serve, drain []string) error {
	return l.lim.do(ctx, l.sys, func() error { return l.sw.Switch(ctx, serve, drain) })
}

// limited returns a copy of f whose zones' load balancers are limited by
// lim, one limit per distinct load balancer (named after the first zone it
// fronts).
func (f *Farm) limited(lim *limiter) *Farm {
	out := *f
	out.zones = make([]*Zone, len(f.zones))
	wrapped := map[drivers.LoadBalancer]drivers.LoadBalancer{}
	for i, z := range f.zones {
		nz := *z
		if !isLimited(z.LoadBalancer) {
			w, ok := wrapped[z.LoadBalancer]
			if !ok {
				w = limitLoadBalancer(lim, z.LoadBalancer, z.Name)
				wrapped[z.LoadBalancer] = w
			}
			nz.LoadBalancer = w
		}
		out.zones[i] = &nz
	}
	return &out
}
