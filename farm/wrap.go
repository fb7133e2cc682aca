package farm

import "github.com/balanced-deploy/balanced/drivers"

// switchingLB is a load balancer with the drivers.Switcher capability.
type switchingLB interface {
	drivers.LoadBalancer
	drivers.Switcher
}

// keepCapabilities returns base, a wrapper of lb, with the optional
// capabilities lb has: when lb is a drivers.Switcher, withSwitch(lb) (base
// with a Switch of its own) stands for base; when lb is a
// drivers.Identifier, its Identity is passed through (it calls nothing, and
// the farm's identity, which keys its lock, stays the same). Every wrapper
// of a load balancer goes through it, so none hides a capability.
func keepCapabilities(lb, base drivers.LoadBalancer, withSwitch func(drivers.Switcher) switchingLB) drivers.LoadBalancer {
	out := base
	var sw switchingLB
	if s, ok := lb.(drivers.Switcher); ok {
		sw = withSwitch(s)
		out = sw
	}
	id, ok := lb.(drivers.Identifier)
	switch {
	case !ok:
		return out
	case sw != nil:
		return identifiedSwitcher{sw, id}
	}
	return identifiedLB{base, id}
}

type identifiedLB struct {
	drivers.LoadBalancer
	drivers.Identifier
}

func (w identifiedLB) limitedByEngine() bool { return isLimited(w.LoadBalancer) }

type identifiedSwitcher struct {
	switchingLB
	drivers.Identifier
}

func (w identifiedSwitcher) limitedByEngine() bool { return isLimited(w.switchingLB) }
