package simulate

import (
	"context"
	"fmt"
	"slices"

	"github.com/balanced-deploy/balanced/drivers"
)

// LoadBalancer is one simulated load balancer: a [drivers.LoadBalancer] and
// [drivers.Switcher] over the members of one zone, or of the whole farm. Get
// it with [Sim.LoadBalancer].
//
// Members are named by server name. New requests go round robin to members
// that are serving and healthy; draining members finish the requests they
// hold; putting a member out resets the requests it holds. Health is the
// health checks' verdict: unhealthy while the application is down (crash,
// install, failed install), noticed Config.HealthCheckDelay late; with
// Config.RecheckAfterOut, unknown while out and until the first check after
// it comes back. Active connections are counted exactly (ConnectionsKnown
// is true).
type LoadBalancer struct {
	s    *Sim
	zone string // "" = every zone
	err  error  // set for an unknown zone
}

var (
	_ drivers.LoadBalancer = (*LoadBalancer)(nil)
	_ drivers.Switcher     = (*LoadBalancer)(nil)
)

// LoadBalancer returns the load balancer of zone. An empty zone returns one
// load balancer over every zone's members (for a farm that has a single
// load balancer). Every call of a load balancer for a zone the farm does not
// have fails with [drivers.ErrNotFound].
func (s *Sim) LoadBalancer(zone string) *LoadBalancer {
	lb := &LoadBalancer{s: s, zone: zone}
	if zone != "" && !slices.Contains(s.Zones(), zone) {
		lb.err = fmt.Errorf("%w: zone %q: want one of %v", drivers.ErrNotFound, zone, s.Zones())
	}
	return lb
}

// PlainLoadBalancer returns the load balancer of zone (every zone when
// empty) without the [drivers.Switcher] capability, as a load balancer that
// cannot swap two groups in one transaction (AWS ALB, open-source NGINX).
// A zone driven through it is marked non-atomic: clients served the old
// version after the new one are counted and the mixed-version window is
// measured, but they are not violations of invariant 5.
func (s *Sim) PlainLoadBalancer(zone string) drivers.LoadBalancer {
	lb := s.LoadBalancer(zone)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, z := range s.zones {
		if zone == "" || z.name == zone {
			z.nonAtomic = true
		}
	}
	return plainLoadBalancer{lb: lb}
}

// plainLoadBalancer hides Switch.
type plainLoadBalancer struct{ lb *LoadBalancer }

func (p plainLoadBalancer) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	return p.lb.SetState(ctx, state, members...)
}

func (p plainLoadBalancer) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	return p.lb.Status(ctx, members...)
}

// members resolves names to servers of this load balancer. The caller holds
// s.mu.
func (lb *LoadBalancer) members(names []string) ([]*server, error) {
	if lb.err != nil {
		return nil, lb.err
	}
	out := make([]*server, 0, len(names))
	for _, n := range names {
		srv, ok := lb.s.byName[n]
		if !ok || (lb.zone != "" && srv.zone != lb.zone) {
			return nil, fmt.Errorf("%w: member %q: want a member of %s", drivers.ErrNotFound, n, lb.what())
		}
		out = append(out, srv)
	}
	return out, nil
}

func (lb *LoadBalancer) what() string {
	if lb.zone == "" {
		return "the farm's load balancer"
	}
	return "zone " + lb.zone + "'s load balancer"
}

// setMember applies one administrative state. The caller holds s.mu.
func (s *Sim) setMember(srv *server, state drivers.MemberState) {
	if srv.lbState == state {
		return
	}
	was := srv.lbState
	srv.lbState = state
	if state == drivers.Out {
		s.resetInflight(srv, CauseResetOut, true)
	}
	if !s.cfg.RecheckAfterOut {
		return
	}
	// No health checks while out; back in, no verdict until the first check.
	switch {
	case state == drivers.Out:
		srv.checkGen++
		srv.lbUnknown = true
	case was == drivers.Out:
		srv.checkGen++
		gen := srv.checkGen
		s.schedule(s.clock.Add(s.cfg.HealthCheckDelay), prioHealth, srv.name, func() {
			if srv.checkGen == gen && srv.lbUnknown {
				srv.lbUnknown = false
				s.zoneChanged(s.zoneOf(srv))
			}
		})
	}
}

// SetState puts every named member in state, all at once. An unknown member
// or state fails the call with nothing changed.
func (lb *LoadBalancer) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	s := lb.s
	return s.call(ctx, OpSetState, lb.zone, members, "state="+string(state), s.cfg.LoadBalancerLatency, func() error {
		if !state.Valid() {
			return fmt.Errorf("%w: member state %q: want serving, draining or out", drivers.ErrInvalidArgument, state)
		}
		srvs, err := lb.members(members)
		if err != nil {
			return err
		}
		for _, srv := range srvs {
			s.setMember(srv, state)
		}
		s.membersChanged(srvs)
		return nil
	})
}

// Switch puts serve to serving and drain to draining in one transaction: no
// new request reaches a drain member once any reached a serve member.
func (lb *LoadBalancer) Switch(ctx context.Context, serve, drain []string) error {
	s := lb.s
	all := slices.Concat(serve, drain)
	detail := fmt.Sprintf("serve=%v drain=%v", serve, drain)
	return s.call(ctx, OpSwitch, lb.zone, all, detail, s.cfg.LoadBalancerLatency, func() error {
		for _, n := range serve {
			if slices.Contains(drain, n) {
				return fmt.Errorf("%w: member %q is in both serve and drain: want each member in one list", drivers.ErrInvalidArgument, n)
			}
		}
		srvs, err := lb.members(all)
		if err != nil {
			return err
		}
		for i, srv := range srvs {
			if i < len(serve) {
				s.setMember(srv, drivers.Serving)
			} else {
				s.setMember(srv, drivers.Draining)
			}
		}
		s.membersChanged(srvs)
		return nil
	})
}

// membersChanged re-evaluates the zones of srvs. The caller holds s.mu.
func (s *Sim) membersChanged(srvs []*server) {
	for _, z := range s.zones {
		for _, srv := range srvs {
			if srv.zone == z.name {
				s.zoneChanged(z)
				break
			}
		}
	}
}

// Status reads the named members in order; with none, every member of this
// load balancer.
func (lb *LoadBalancer) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	s := lb.s
	var out []drivers.MemberStatus
	err := s.call(ctx, OpStatus, lb.zone, members, "", s.cfg.LoadBalancerLatency, func() error {
		var srvs []*server
		if len(members) == 0 {
			if lb.err != nil {
				return lb.err
			}
			for _, srv := range s.servers {
				if lb.zone == "" || srv.zone == lb.zone {
					srvs = append(srvs, srv)
				}
			}
		} else {
			var err error
			if srvs, err = lb.members(members); err != nil {
				return err
			}
		}
		for _, srv := range srvs {
			out = append(out, drivers.MemberStatus{
				Member: srv.name, State: srv.lbState, Health: srv.health(),
				ActiveConnections: len(srv.inflight), ConnectionsKnown: true,
			})
		}
		return nil
	})
	return out, err
}
