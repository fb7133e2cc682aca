package farm

import (
	"context"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm/event"
)

// ObserveMembers returns lb reporting to obs, as [event.MembersSeen] events, the
// members as the run sees them: every status lb reads back
// (Status), and every state lb accepted (SetState, and Switch: the members
// to serve read serving, those to drain draining, health unknown). Tools
// draw a real run's load balancer from these events (package timeline).
// zoneOf maps each member to its zone (one load balancer may front several
// zones): each event holds the members of one zone, in the event's Zone field; members
// zoneOf does not name are reported with no zone.
//
// The result has lb's optional capabilities when lb has them:
// drivers.Switcher (the plan still moves traffic in one transaction) and
// drivers.Identifier (the farm's identity, which keys its lock, is the
// same). Nothing else changes: the calls, their arguments, results and
// errors are lb's own.
func ObserveMembers(lb drivers.LoadBalancer, zoneOf map[string]string, obs event.Observer) drivers.LoadBalancer {
	if lb == nil || obs == nil {
		return lb
	}
	base := &observedLB{lb: lb, zoneOf: zoneOf, obs: obs}
	return keepCapabilities(lb, base, func(sw drivers.Switcher) switchingLB {
		return &observedSwitcher{observedLB: base, sw: sw}
	})
}

type observedLB struct {
	lb     drivers.LoadBalancer
	zoneOf map[string]string
	obs    event.Observer
}

// seen sends one event per zone, zones in the order their members come.
func (o *observedLB) seen(ctx context.Context, sts []drivers.MemberStatus) {
	now := time.Now()
	var zones []string
	byZone := map[string][]drivers.MemberStatus{}
	for _, st := range sts {
		z := o.zoneOf[st.Member]
		if _, ok := byZone[z]; !ok {
			zones = append(zones, z)
		}
		byZone[z] = append(byZone[z], st)
	}
	for _, z := range zones {
		event.Send(ctx, o.obs, event.Event{Time: now, Kind: event.MembersSeen, Zone: z, Members: byZone[z]})
	}
}

func set(state drivers.MemberState, members []string) []drivers.MemberStatus {
	out := make([]drivers.MemberStatus, len(members))
	for i, m := range members {
		out[i] = drivers.MemberStatus{Member: m, State: state, Health: drivers.HealthUnknown}
	}
	return out
}

// SetState calls lb's, and reports the members in state once it accepted.
func (o *observedLB) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	err := o.lb.SetState(ctx, state, members...)
	if err == nil {
		o.seen(ctx, set(state, members))
	}
	return err
}

// Status calls lb's, and reports what it read.
func (o *observedLB) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	sts, err := o.lb.Status(ctx, members...)
	if err == nil {
		o.seen(ctx, append([]drivers.MemberStatus(nil), sts...))
	}
	return sts, err
}

type observedSwitcher struct {
	*observedLB
	sw drivers.Switcher
}

// Switch calls lb's, and reports serve serving and drain draining once it
// was accepted.
func (o *observedSwitcher) Switch(ctx context.Context, serve, drain []string) error {
	err := o.sw.Switch(ctx, serve, drain)
	if err == nil {
		o.seen(ctx, append(set(drivers.Serving, serve), set(drivers.Draining, drain)...))
	}
	return err
}
