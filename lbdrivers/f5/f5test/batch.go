package f5test

import (
	"context"
	"fmt"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// Change is one member's new administrative flags in a committed
// transaction.
type Change struct {
	Name          string
	Disabled      bool
	ForcedOffline bool
}

// Batcher is an optional capability of a [Store]: it applies the changes of
// a committed transaction at once, so that no reader sees some applied and
// others not. A store without it gets the changes one Set at a time.
type Batcher interface {
	SetAll(ctx context.Context, changes []Change) error
}

var _ Batcher = (*MemStore)(nil)

// SetAll implements [Batcher]: every member exists or nothing changes.
func (s *MemStore) SetAll(_ context.Context, changes []Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range changes {
		if _, ok := s.members[c.Name]; !ok {
			return fmt.Errorf("f5test: no member %q", c.Name)
		}
	}
	for _, c := range changes {
		m := s.members[c.Name]
		m.Disabled, m.ForcedOffline = c.Disabled, c.ForcedOffline
	}
	return nil
}

// SetAll implements [Batcher] for a store backed by a load balancer: when
// the changes only enable and disable members and the load balancer is a
// [drivers.Switcher], they are one Switch; otherwise they are applied one
// by one.
func (s lbStore) SetAll(ctx context.Context, changes []Change) error {
	sw, ok := s.lb.(drivers.Switcher)
	var serve, drain []string
	for _, c := range changes {
		name := strings.TrimSuffix(c.Name, s.suffix)
		switch {
		case c.ForcedOffline:
			ok = false
		case c.Disabled:
			drain = append(drain, name)
		default:
			serve = append(serve, name)
		}
	}
	if ok {
		return sw.Switch(ctx, serve, drain)
	}
	for _, c := range changes {
		if err := s.Set(ctx, c.Name, c.Disabled, c.ForcedOffline); err != nil {
			return err
		}
	}
	return nil
}
