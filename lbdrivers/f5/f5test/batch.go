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

// SetAll implements [Batcher] for a store backed by a load balancer: the
// changes are grouped by target state; one group is one SetState call,
// and a group to serve with a group to drain is one Switch when the load
// balancer is a [drivers.Switcher]. Other mixes are applied group by group
// (not atomically).
func (s lbStore) SetAll(ctx context.Context, changes []Change) error {
	groups := map[drivers.MemberState][]string{}
	var order []drivers.MemberState
	for _, c := range changes {
		st := lbState(c.Disabled, c.ForcedOffline)
		if _, ok := groups[st]; !ok {
			order = append(order, st)
		}
		groups[st] = append(groups[st], strings.TrimSuffix(c.Name, s.suffix))
	}
	sw, canSwitch := s.lb.(drivers.Switcher)
	if len(order) == 2 && canSwitch && groups[drivers.Serving] != nil && groups[drivers.Draining] != nil {
		return sw.Switch(ctx, groups[drivers.Serving], groups[drivers.Draining])
	}
	for _, st := range order {
		if err := s.lb.SetState(ctx, st, groups[st]...); err != nil {
			return err
		}
	}
	return nil
}

// lbState maps BIG-IP flags to an administrative state.
func lbState(disabled, forcedOffline bool) drivers.MemberState {
	switch {
	case forcedOffline:
		return drivers.Out
	case disabled:
		return drivers.Draining
	}
	return drivers.Serving
}
