package albtest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// LoadBalancerStore backs the fake with a [drivers.LoadBalancer]: target
// ids are the load balancer's member identities (ports are ignored);
// registering is Serving. Deregistering reads draining at once, but the
// member keeps serving new requests for [DefaultRoutingLag] (the
// asynchronous deregistration of real ALB, see MemConfig.RoutingLag) before
// the store sets it Draining; the requests it accepted meanwhile get the
// deregistration delay to finish, so once lag plus delay has passed since
// the deregistration the store sets it Out and reports it unused. See [LoadBalancerStoreLag] to choose the lag.
func LoadBalancerStore(lb drivers.LoadBalancer, delay time.Duration) Store {
	return LoadBalancerStoreLag(lb, delay, DefaultRoutingLag)
}

// LoadBalancerStoreLag is [LoadBalancerStore] with a routing lag of lag
// (0 or negative: none). Its timers run on time.Now's clock, a
// testing/synctest bubble's virtual one when created inside a bubble.
func LoadBalancerStoreLag(lb drivers.LoadBalancer, delay, lag time.Duration) Store {
	return &lbStore{lb: lb, delay: delay, lag: max(lag, 0), since: map[string]time.Time{}, timers: map[string]*time.Timer{}}
}

type lbStore struct {
	lb         drivers.LoadBalancer
	delay, lag time.Duration
	// move serialises every operation and the end of each routing lag:
	// Describe reads a member's state and whether its lag runs as one view
	// (read apart, a lag ending in between made a deregistered target read
	// healthy for one call).
	move   sync.Mutex
	mu     sync.Mutex
	since  map[string]time.Time   // member -> deregistration time
	timers map[string]*time.Timer // member -> pending end of the routing lag
}

func ids(targets []Target) []string {
	out := make([]string, len(targets))
	for i, t := range targets {
		out[i] = t.ID
	}
	return out
}

// apiErr maps a driver error to an ELBv2 error answer.
func apiErr(err error) error {
	switch {
	case errors.Is(err, drivers.ErrNotFound), errors.Is(err, drivers.ErrInvalidArgument):
		return &APIError{Code: "InvalidTarget", Message: err.Error()}
	case errors.Is(err, drivers.ErrUnavailable):
		return &APIError{Code: "ServiceUnavailable", Message: err.Error(), Status: 503}
	}
	return err
}

func (s *lbStore) DeregistrationDelay() time.Duration { return s.delay }

func (s *lbStore) Register(ctx context.Context, targets []Target) error {
	s.move.Lock()
	defer s.move.Unlock()
	s.mu.Lock()
	for _, id := range ids(targets) {
		if tm, ok := s.timers[id]; ok {
			tm.Stop()
			delete(s.timers, id)
		}
	}
	s.mu.Unlock()
	if err := s.lb.SetState(ctx, drivers.Serving, ids(targets)...); err != nil {
		return apiErr(err)
	}
	s.mu.Lock()
	for _, id := range ids(targets) {
		delete(s.since, id)
	}
	s.mu.Unlock()
	return nil
}

func (s *lbStore) Deregister(ctx context.Context, targets []Target) error {
	s.move.Lock()
	defer s.move.Unlock()
	st, err := s.lb.Status(ctx, ids(targets)...)
	if err != nil {
		return apiErr(err)
	}
	var todo []string
	s.mu.Lock()
	for _, m := range st {
		if _, pending := s.timers[m.Member]; m.State == drivers.Serving && !pending {
			todo = append(todo, m.Member)
		}
	}
	s.mu.Unlock()
	if s.lag == 0 {
		if err := s.lb.SetState(ctx, drivers.Draining, todo...); err != nil {
			return apiErr(err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for _, m := range todo {
		s.since[m] = now
		if s.lag == 0 {
			continue
		}
		// The member keeps taking new requests for the lag.
		s.timers[m] = time.AfterFunc(s.lag, func() {
			s.move.Lock()
			defer s.move.Unlock()
			s.mu.Lock()
			_, still := s.timers[m]
			delete(s.timers, m)
			s.mu.Unlock()
			if still {
				_ = s.lb.SetState(context.Background(), drivers.Draining, m)
			}
		})
	}
	return nil
}

func (s *lbStore) Describe(ctx context.Context, targets []Target) ([]TargetHealth, error) {
	s.move.Lock()
	defer s.move.Unlock()
	st, err := s.lb.Status(ctx, ids(targets)...)
	if err != nil {
		return nil, apiErr(err)
	}
	out := make([]TargetHealth, 0, len(st))
	for _, m := range st {
		state := "unused"
		s.mu.Lock()
		_, lagging := s.timers[m.Member]
		s.mu.Unlock()
		if lagging {
			// Deregistered: reads draining while still routed to.
			m.State = drivers.Draining
		}
		switch m.State {
		case drivers.Serving:
			state = map[drivers.Health]string{drivers.Healthy: "healthy", drivers.Unhealthy: "unhealthy"}[m.Health]
			if state == "" {
				state = "initial"
			}
		case drivers.Draining:
			s.mu.Lock()
			at, ok := s.since[m.Member]
			s.mu.Unlock()
			state = "draining"
			if !lagging && (!ok || time.Since(at) >= s.lag+s.delay) {
				if err := s.lb.SetState(ctx, drivers.Out, m.Member); err != nil {
					return nil, apiErr(err)
				}
				state = "unused"
			}
		}
		if state == "unused" && len(targets) == 0 {
			continue
		}
		out = append(out, TargetHealth{Target: Target{ID: m.Member}, State: state, Reason: reason(state)})
	}
	if len(targets) > 0 && len(out) != len(targets) {
		return nil, fmt.Errorf("albtest: load balancer returned %d statuses for %d targets", len(out), len(targets))
	}
	return out, nil
}
