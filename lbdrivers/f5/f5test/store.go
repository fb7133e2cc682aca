package f5test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/balanced-deploy/balanced/drivers"
)

// Member is the fake's view of one pool member.
type Member struct {
	// Name is the BIG-IP member name, "node:port".
	Name string
	// Disabled is session user-disabled: no new connections, active and
	// persistent ones go on.
	Disabled bool
	// ForcedOffline is state user-down: no new connections at all.
	ForcedOffline bool
	// Healthy is the monitor's verdict (state up or down).
	Healthy bool
	// CurConns is the serverside.curConns statistic.
	CurConns int
}

// Store holds the pool members the fake serves. [MemStore] is the
// in-memory default; [LoadBalancerStore] backs the fake with any
// [drivers.LoadBalancer] (for example the simulator's), so that a real
// driver talking to the fake changes the simulated farm.
type Store interface {
	// List returns every member of the pool.
	List(ctx context.Context) ([]Member, error)
	// Get returns one member; ok is false when there is no such member.
	Get(ctx context.Context, name string) (m Member, ok bool, err error)
	// Set changes a member's administrative flags. The member exists.
	Set(ctx context.Context, name string, disabled, forcedOffline bool) error
}

// MemStore is an in-memory [Store]. Its methods are safe for concurrent use.
type MemStore struct {
	mu      sync.Mutex
	members map[string]*Member
	order   []string
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns a store with the named members, enabled and healthy.
func NewMemStore(names ...string) *MemStore {
	s := &MemStore{members: map[string]*Member{}}
	for _, n := range names {
		s.Add(Member{Name: n, Healthy: true})
	}
	return s
}

// Add adds or replaces a member.
func (s *MemStore) Add(m Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.members[m.Name]; !ok {
		s.order = append(s.order, m.Name)
	}
	s.members[m.Name] = &m
}

// SetConns sets a member's current connection count (connections held
// open on it). It panics if the member does not exist.
func (s *MemStore) SetConns(name string, n int) { s.update(name, func(m *Member) { m.CurConns = n }) }

// SetHealthy sets the monitor's verdict on a member. It panics if the member
// does not exist.
func (s *MemStore) SetHealthy(name string, healthy bool) {
	s.update(name, func(m *Member) { m.Healthy = healthy })
}

// Member returns a copy of the named member.
func (s *MemStore) Member(name string) (Member, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[name]
	if !ok {
		return Member{}, false
	}
	return *m, true
}

func (s *MemStore) update(name string, f func(*Member)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[name]
	if !ok {
		panic(fmt.Sprintf("f5test: no member %q", name))
	}
	f(m)
}

// List implements [Store].
func (s *MemStore) List(context.Context) ([]Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Member, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, *s.members[n])
	}
	return out, nil
}

// Get implements [Store].
func (s *MemStore) Get(_ context.Context, name string) (Member, bool, error) {
	m, ok := s.Member(name)
	return m, ok, nil
}

// Set implements [Store].
func (s *MemStore) Set(_ context.Context, name string, disabled, forcedOffline bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[name]
	if !ok {
		return fmt.Errorf("f5test: no member %q", name)
	}
	m.Disabled, m.ForcedOffline = disabled, forcedOffline
	return nil
}

// LoadBalancerStore backs the fake with a [drivers.LoadBalancer]: Enabled is
// Serving, Disabled is Draining and Forced Offline is Out; health and
// connection counts are read from Status. BIG-IP member names are the load
// balancer's member identities with ":<port>" appended when port is not 0
// (so the simulator's "fe01" is the pool member "fe01:80"), and as they
// are when port is 0.
func LoadBalancerStore(lb drivers.LoadBalancer, port int) Store {
	suffix := ""
	if port != 0 {
		suffix = ":" + strconv.Itoa(port)
	}
	return lbStore{lb: lb, suffix: suffix}
}

type lbStore struct {
	lb     drivers.LoadBalancer
	suffix string
}

func (s lbStore) List(ctx context.Context) ([]Member, error) {
	st, err := s.lb.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Member, len(st))
	for i, m := range st {
		out[i] = fromStatus(m, s.suffix)
	}
	return out, nil
}

func (s lbStore) Get(ctx context.Context, name string) (Member, bool, error) {
	member, ok := strings.CutSuffix(name, s.suffix)
	if !ok {
		return Member{}, false, nil
	}
	st, err := s.lb.Status(ctx, member)
	if errors.Is(err, drivers.ErrNotFound) || errors.Is(err, drivers.ErrInvalidArgument) {
		return Member{}, false, nil
	}
	if err != nil || len(st) != 1 {
		return Member{}, false, fmt.Errorf("f5test: reading member %q: %w", member, err)
	}
	return fromStatus(st[0], s.suffix), true, nil
}

func (s lbStore) Set(ctx context.Context, name string, disabled, forcedOffline bool) error {
	return s.lb.SetState(ctx, lbState(disabled, forcedOffline), strings.TrimSuffix(name, s.suffix))
}

func fromStatus(st drivers.MemberStatus, suffix string) Member {
	return Member{
		Name:          st.Member + suffix,
		Disabled:      st.State != drivers.Serving,
		ForcedOffline: st.State == drivers.Out,
		Healthy:       st.Health != drivers.Unhealthy,
		CurConns:      st.ActiveConnections,
	}
}
