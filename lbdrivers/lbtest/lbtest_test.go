package lbtest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/lbtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memLB is a minimal in-memory load balancer that follows the contract; it
// shows the suite passes a correct driver, and it is an example harness.
type memLB struct {
	mu     sync.Mutex
	states map[string]drivers.MemberState
	conns  map[string]int
	noConn bool
}

var _ drivers.LoadBalancer = (*memLB)(nil)
var _ drivers.Switcher = (*memLB)(nil)

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func newMem(members ...string) *memLB {
	lb := &memLB{states: map[string]drivers.MemberState{}, conns: map[string]int{}}
	for _, m := range members {
		lb.states[m] = drivers.Serving
	}
	return lb
}

func (lb *memLB) check(members []string) error {
	for _, m := range members {
		if !validName.MatchString(m) {
			return fmt.Errorf("%w: member %q: want letters, digits, '.', '_' or '-'", drivers.ErrInvalidArgument, m)
		}
		if _, ok := lb.states[m]; !ok {
			return fmt.Errorf("member %q: %w", m, drivers.ErrNotFound)
		}
	}
	return nil
}

func (lb *memLB) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("set state: %w", err)
	}
	if !state.Valid() {
		return fmt.Errorf("%w: state %q", drivers.ErrInvalidArgument, state)
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if err := lb.check(members); err != nil {
		return err
	}
	for _, m := range members {
		lb.states[m] = state
	}
	return nil
}

func (lb *memLB) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if len(members) == 0 {
		for m := range lb.states {
			members = append(members, m)
		}
	}
	if err := lb.check(members); err != nil {
		return nil, err
	}
	out := make([]drivers.MemberStatus, len(members))
	for i, m := range members {
		out[i] = drivers.MemberStatus{Member: m, State: lb.states[m], Health: drivers.Healthy, ActiveConnections: lb.conns[m], ConnectionsKnown: !lb.noConn}
	}
	return out, nil
}

func (lb *memLB) Switch(ctx context.Context, serve, drain []string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if err := lb.check(append(append([]string{}, serve...), drain...)); err != nil {
		return err
	}
	for _, a := range serve {
		for _, b := range drain {
			if a == b {
				return fmt.Errorf("%w: member %q is both served and drained", drivers.ErrInvalidArgument, a)
			}
		}
	}
	for _, m := range serve {
		lb.states[m] = drivers.Serving
	}
	for _, m := range drain {
		lb.states[m] = drivers.Draining
	}
	return nil
}

// hold simulates a request held open on a member.
func (lb *memLB) hold(member string) func() {
	lb.mu.Lock()
	lb.conns[member]++
	lb.mu.Unlock()
	return func() {
		lb.mu.Lock()
		lb.conns[member]--
		lb.mu.Unlock()
	}
}

// plainLB hides the Switcher capability.
type plainLB struct{ lb *memLB }

func (p plainLB) SetState(ctx context.Context, s drivers.MemberState, m ...string) error {
	return p.lb.SetState(ctx, s, m...)
}

func (p plainLB) Status(ctx context.Context, m ...string) ([]drivers.MemberStatus, error) {
	return p.lb.Status(ctx, m...)
}

// brokenLB breaks the contract: it applies known members before it notices an
// unknown one, ignores the context and counts no connections after a drain.
type brokenLB struct{ lb *memLB }

func (b brokenLB) SetState(ctx context.Context, s drivers.MemberState, members ...string) error {
	for _, m := range members {
		if err := b.lb.SetState(context.Background(), s, m); err != nil {
			return err
		}
	}
	return nil
}

func (b brokenLB) Status(ctx context.Context, m ...string) ([]drivers.MemberStatus, error) {
	return b.lb.Status(context.Background(), m...)
}

func TestConformanceMemory(t *testing.T) {
	members := []string{"fe1", "fe2", "fe3", "fe4"}
	var lb *memLB
	lbtest.Run(t, lbtest.Harness{
		New: func(t *testing.T) drivers.LoadBalancer {
			lb = newMem(members...)
			return lb
		},
		Members:               members,
		Hold:                  func(t *testing.T, m string) func() { return lb.hold(m) },
		UnknownChangesNothing: true,
	})
}

// TestConformanceWithoutCapabilities shows the capability subtests skip by
// name (see -v output: "unimplemented: ...").
func TestConformanceWithoutCapabilities(t *testing.T) {
	members := []string{"a", "b", "c"}
	lbtest.Run(t, lbtest.Harness{
		New: func(t *testing.T) drivers.LoadBalancer {
			m := newMem(members...)
			m.noConn = true
			return plainLB{m}
		},
		Members: members,
	})
}

// TestBrokenDriverHelper runs the suite against brokenLB; it only runs as the
// child process of TestSuiteCatchesBrokenDriver.
func TestBrokenDriverHelper(t *testing.T) {
	if os.Getenv("LBTEST_BROKEN") != "1" {
		t.Skip("runs only as a child of TestSuiteCatchesBrokenDriver")
	}
	members := []string{"a", "b", "c"}
	lbtest.Run(t, lbtest.Harness{
		New:                   func(t *testing.T) drivers.LoadBalancer { return brokenLB{newMem(members...)} },
		Members:               members,
		UnknownChangesNothing: true,
	})
}

// TestSuiteCatchesBrokenDriver checks that the suite can fail: run against a
// driver that breaks the contract, the named subtests fail.
func TestSuiteCatchesBrokenDriver(t *testing.T) {
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBrokenDriverHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "LBTEST_BROKEN=1")
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the suite must fail a broken driver; output:\n%s", out)
	for _, name := range []string{"UnknownMember", "ContextCanceled", "ContextDeadline"} {
		assert.Contains(t, string(out), "--- FAIL: TestBrokenDriverHelper/"+name+" ", "subtest %s must fail", name)
	}
	for _, name := range []string{"Transitions", "SeveralMembers", "InvalidState"} {
		assert.Contains(t, string(out), "--- PASS: TestBrokenDriverHelper/"+name+" ", "subtest %s must pass", name)
	}
	assert.Contains(t, string(out), "unimplemented: ")
}
