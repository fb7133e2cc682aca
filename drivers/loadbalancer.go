package drivers

import "context"

// MemberState is a load-balancer member's administrative state.
type MemberState string

// Administrative states.
const (
	// Serving: the member receives new requests when healthy.
	Serving MemberState = "serving"
	// Draining: the member receives no new requests but finishes the ones
	// (and the persistent sessions) it holds.
	Draining MemberState = "draining"
	// Out: the member receives no traffic at all.
	Out MemberState = "out"
)

// Valid reports whether s is one of the three states.
func (s MemberState) Valid() bool { return s == Serving || s == Draining || s == Out }

// Health is what the load balancer's own health checks say of a member.
type Health string

// Health values.
const (
	HealthUnknown Health = "unknown"
	Healthy       Health = "healthy"
	Unhealthy     Health = "unhealthy"
)

// MemberStatus is what a [LoadBalancer] reads back for one member.
type MemberStatus struct {
	// Member is the member identity as the caller named it.
	Member string `json:"member"`
	// State is the administrative state.
	State MemberState `json:"state"`
	// Health is the load balancer's health-check verdict.
	Health Health `json:"health"`
	// ActiveConnections is the number of connections or requests the
	// member holds now. It is meaningful only when ConnectionsKnown is true.
	ActiveConnections int `json:"active_connections"`
	// ConnectionsKnown is false when the load balancer cannot count
	// connections per member. A draining member is then reported Draining
	// for as long as the load balancer itself is still draining it (AWS
	// ALB during its deregistration delay) and Out once it has finished, or
	// at once when the load balancer cannot tell. The engine waits for Out
	// and at least its configured drain period.
	ConnectionsKnown bool `json:"connections_known"`
}

// LoadBalancer sets and reads the administrative state of pool members.
// Members are named by the identity the farm gives them (Server.Member); the
// driver maps that to its own naming.
type LoadBalancer interface {
	// SetState puts every named member in state. Drivers apply the change to
	// all members in one request where the system allows it. An unknown
	// member fails the call with [ErrNotFound] and, where the system allows
	// it, changes nothing.
	SetState(ctx context.Context, state MemberState, members ...string) error
	// Status reads the named members, in the order given. With no members
	// it returns every member the driver manages.
	Status(ctx context.Context, members ...string) ([]MemberStatus, error)
}

// Switcher is an optional capability of a [LoadBalancer]: it puts one set of
// members to [Serving] and another to [Draining] in a single transaction, so
// that no new request reaches the old set once any reached the new set.
type Switcher interface {
	Switch(ctx context.Context, serve, drain []string) error
}
