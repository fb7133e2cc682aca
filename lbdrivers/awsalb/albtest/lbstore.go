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
// registering is Serving, deregistering is Draining until delay has passed
// since the deregistration, after which the store sets the member Out and
// reports it unused.
func LoadBalancerStore(lb drivers.LoadBalancer, delay time.Duration) Store {
	return &lbStore{lb: lb, delay: delay, since: map[string]time.Time{}}
}

type lbStore struct {
	lb    drivers.LoadBalancer
	delay time.Duration

	mu    sync.Mutex
	since map[string]time.Time // member -> deregistration time
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
	st, err := s.lb.Status(ctx, ids(targets)...)
	if err != nil {
		return apiErr(err)
	}
	var todo []string
	for _, m := range st {
		if m.State == drivers.Serving {
			todo = append(todo, m.Member)
		}
	}
	if err := s.lb.SetState(ctx, drivers.Draining, todo...); err != nil {
		return apiErr(err)
	}
	s.mu.Lock()
	for _, m := range todo {
		s.since[m] = time.Now()
	}
	s.mu.Unlock()
	return nil
}

func (s *lbStore) Describe(ctx context.Context, targets []Target) ([]TargetHealth, error) {
	st, err := s.lb.Status(ctx, ids(targets)...)
	if err != nil {
		return nil, apiErr(err)
	}
	out := make([]TargetHealth, 0, len(st))
	for _, m := range st {
		state := "unused"
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
			if !ok || time.Since(at) >= s.delay {
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
