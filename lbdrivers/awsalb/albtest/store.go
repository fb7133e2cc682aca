package albtest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Target is a target's identity in the fake.
type Target struct {
	// ID is an instance id or IP address.
	ID string
	// Port is the target's port; 0 means the target group's port.
	Port int32
}

// TargetHealth is what DescribeTargetHealth reports for one target.
type TargetHealth struct {
	Target Target
	// State is initial, healthy, unhealthy, unused, draining,
	// unhealthy.draining or unavailable.
	State  string
	Reason string
}

// APIError is an ELBv2 error answer: the store returns it to make the fake
// answer with that code (for example InvalidTarget).
type APIError struct {
	Code    string
	Message string
	// Status is the HTTP status; 0 means 400.
	Status int
}

// Error returns "Code: Message".
func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Store holds the target group's targets. [MemStore] is the in-memory
// default, with ALB's timing (initial → healthy, draining → unused);
// [LoadBalancerStore] backs the fake with any [drivers.LoadBalancer], such
// as the farm simulator's.
type Store interface {
	// Register registers targets; unknown ones fail with InvalidTarget.
	Register(ctx context.Context, targets []Target) error
	// Deregister deregisters targets (they start draining).
	Deregister(ctx context.Context, targets []Target) error
	// Describe reports the named targets, in order, or every registered
	// (or draining) target when targets is empty.
	Describe(ctx context.Context, targets []Target) ([]TargetHealth, error)
	// DeregistrationDelay is the target group's
	// deregistration_delay.timeout_seconds.
	DeregistrationDelay() time.Duration
}

// MemConfig configures a [MemStore].
type MemConfig struct {
	// Targets are the ids that exist (instances or IPs in the VPC). Any
	// other id is answered with InvalidTarget.
	Targets []string
	// Port is the target group's port, used for targets registered
	// without one. Default 80.
	Port int32
	// DeregistrationDelay is how long a deregistered target stays
	// draining before it becomes unused. Default 300 s; negative means 0.
	DeregistrationDelay time.Duration
	// HealthCheckDelay is how long a newly registered target stays
	// initial before its health checks pass. Zero means it is healthy at
	// once.
	HealthCheckDelay time.Duration
	// RoutingLag is how long the load balancer keeps routing new requests
	// to a target after DeregisterTargets returned, although
	// DescribeTargetHealth already reads it draining: deregistration
	// reaches the load balancer's nodes asynchronously. Default
	// [DefaultRoutingLag]; negative means none.
	RoutingLag time.Duration
}

// DefaultRoutingLag is MemConfig.RoutingLag's default. AWS documents no
// figure ("the load balancer stops routing requests to a target as soon as
// it is deregistered", ALB User Guide, Deregistration delay), but users
// measure otherwise: kubernetes-sigs/aws-load-balancer-controller issue
// #1064 ("ALB sending requests to pods after ingress controller deregisters
// them": a 5 s wait was not enough, 25 s was) and #1719 ("ELB API
// propagation time: about 10s"). The fake's default is that 10 s.
const DefaultRoutingLag = 10 * time.Second

// MemStore is an in-memory [Store] whose states move with time.Now, so a
// testing/synctest bubble's virtual clock drives them. Its methods are safe
// for concurrent use.
type MemStore struct {
	cfg MemConfig

	mu        sync.Mutex
	known     map[string]bool
	unhealthy map[string]bool
	entries   map[Target]*entry
	order     []Target
}

// entry is a registered or draining target.
type entry struct {
	registeredAt   time.Time
	deregisteredAt time.Time
	draining       bool
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns a store with no target registered.
func NewMemStore(cfg MemConfig) *MemStore {
	if cfg.Port == 0 {
		cfg.Port = 80
	}
	if cfg.DeregistrationDelay == 0 {
		cfg.DeregistrationDelay = 300 * time.Second
	}
	cfg.DeregistrationDelay = max(cfg.DeregistrationDelay, 0)
	if cfg.RoutingLag == 0 {
		cfg.RoutingLag = DefaultRoutingLag
	}
	cfg.RoutingLag = max(cfg.RoutingLag, 0)
	s := &MemStore{cfg: cfg, known: map[string]bool{}, unhealthy: map[string]bool{}, entries: map[Target]*entry{}}
	for _, id := range cfg.Targets {
		s.known[id] = true
	}
	return s
}

// DeregistrationDelay implements [Store].
func (s *MemStore) DeregistrationDelay() time.Duration { return s.cfg.DeregistrationDelay }

// SetHealthy sets whether a target passes its health checks.
func (s *MemStore) SetHealthy(id string, healthy bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unhealthy[id] = !healthy
}

// resolve fills the default port and checks that the target exists.
func (s *MemStore) resolve(t Target) (Target, error) {
	if !s.known[t.ID] {
		return t, &APIError{Code: "InvalidTarget", Message: fmt.Sprintf("The following targets are not valid: %q", t.ID)}
	}
	if t.Port == 0 {
		t.Port = s.cfg.Port
	}
	return t, nil
}

// Register implements [Store].
func (s *MemStore) Register(_ context.Context, targets []Target) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range targets { // all or nothing
		t, err := s.resolve(t)
		if err != nil {
			return err
		}
		targets[i] = t
	}
	now := time.Now()
	for _, t := range targets {
		e, ok := s.entries[t]
		if ok && !e.draining && s.state(t, e, now) != "unused" {
			continue
		}
		if !ok {
			s.order = append(s.order, t)
		}
		s.entries[t] = &entry{registeredAt: now}
	}
	return nil
}

// Deregister implements [Store].
func (s *MemStore) Deregister(_ context.Context, targets []Target) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range targets {
		t, err := s.resolve(t)
		if err != nil {
			return err
		}
		targets[i] = t
	}
	now := time.Now()
	for _, t := range targets {
		if e, ok := s.entries[t]; ok && !e.draining {
			e.draining, e.deregisteredAt = true, now
		}
	}
	return nil
}

// Describe implements [Store].
func (s *MemStore) Describe(_ context.Context, targets []Target) ([]TargetHealth, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if len(targets) == 0 {
		var out []TargetHealth
		for _, t := range s.order {
			if e, ok := s.entries[t]; ok {
				if st := s.state(t, e, now); st != "unused" {
					out = append(out, TargetHealth{Target: t, State: st, Reason: reason(st)})
				}
			}
		}
		return out, nil
	}
	out := make([]TargetHealth, len(targets))
	for i, t := range targets {
		t, err := s.resolve(t)
		if err != nil {
			return nil, err
		}
		st := "unused"
		if e, ok := s.entries[t]; ok {
			st = s.state(t, e, now)
		}
		out[i] = TargetHealth{Target: t, State: st, Reason: reason(st)}
	}
	return out, nil
}

// Routes reports whether the load balancer would send a new request to the
// target now: it is registered and healthy, or it was deregistered less
// than MemConfig.RoutingLag ago (whatever DescribeTargetHealth says). A
// port of 0 means the target group's port. Tests use it to check that a
// driver reports a target out only once no new request can reach it.
func (s *MemStore) Routes(t Target) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.Port == 0 {
		t.Port = s.cfg.Port
	}
	e, ok := s.entries[t]
	if !ok {
		return false
	}
	now := time.Now()
	if e.draining {
		return now.Sub(e.deregisteredAt) < s.cfg.RoutingLag
	}
	return s.state(t, e, now) == "healthy"
}

// state computes a target's state at now.
func (s *MemStore) state(t Target, e *entry, now time.Time) string {
	switch {
	case e.draining && now.Sub(e.deregisteredAt) >= s.cfg.DeregistrationDelay:
		return "unused"
	case e.draining:
		return "draining"
	case now.Sub(e.registeredAt) < s.cfg.HealthCheckDelay:
		return "initial"
	case s.unhealthy[t.ID]:
		return "unhealthy"
	}
	return "healthy"
}

// reason returns the TargetHealth reason ALB gives for a state.
func reason(state string) string {
	switch state {
	case "initial":
		return "Elb.RegistrationInProgress"
	case "unhealthy":
		return "Target.FailedHealthChecks"
	case "draining":
		return "Target.DeregistrationInProgress"
	case "unused":
		return "Target.NotRegistered"
	}
	return ""
}
