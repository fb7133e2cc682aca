package lbtest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allStates = []drivers.MemberState{drivers.Serving, drivers.Draining, drivers.Out}

func (s suite) initialStatus(t *testing.T) {
	lb := s.fresh(t)
	all, err := lb.Status(ctx(t))
	require.NoError(t, err, "Status() with no members")
	listed := map[string]drivers.MemberStatus{}
	for _, st := range all {
		listed[st.Member] = st
	}
	for _, m := range s.h.Members {
		st, ok := listed[m]
		if assert.True(t, ok, "Status() must list every managed member; %s is missing from %v", m, all) {
			assert.Equal(t, drivers.Serving, st.State, "member %s", m)
			assert.Contains(t, []drivers.Health{drivers.HealthUnknown, drivers.Healthy, drivers.Unhealthy}, st.Health, "member %s: health", m)
			assert.GreaterOrEqual(t, st.ActiveConnections, 0, "member %s: active connections", m)
		}
	}
}

func (s suite) statusOrder(t *testing.T) {
	lb := s.fresh(t)
	order := []string{s.h.Members[2], s.h.Members[0], s.h.Members[1]}
	got, err := lb.Status(ctx(t), order...)
	require.NoError(t, err)
	names := make([]string, len(got))
	for i, st := range got {
		names[i] = st.Member
	}
	assert.Equal(t, order, names, "Status must return the members in the order given")
	one, err := lb.Status(ctx(t), s.h.Members[1])
	require.NoError(t, err)
	require.Len(t, one, 1)
	assert.Equal(t, s.h.Members[1], one[0].Member)
}

// transitions checks every pair from -> to on one member, the others
// untouched.
func (s suite) transitions(t *testing.T) {
	lb := s.fresh(t)
	m, other := s.h.Members[0], s.h.Members[1]
	for _, from := range allStates {
		for _, to := range allStates {
			t.Run(fmt.Sprintf("%s_to_%s", from, to), func(t *testing.T) {
				require.NoError(t, lb.SetState(ctx(t), from, m), "SetState(%s, %s)", from, m)
				s.want(t, lb, map[string]drivers.MemberState{m: from, other: drivers.Serving}, "after SetState("+string(from)+")")
				require.NoError(t, lb.SetState(ctx(t), to, m), "SetState(%s, %s) from %s", to, m, from)
				s.want(t, lb, map[string]drivers.MemberState{m: to, other: drivers.Serving}, "after SetState("+string(to)+") from "+string(from))
			})
		}
	}
}

// roundTrip walks the balanced procedure's path on one member.
func (s suite) roundTrip(t *testing.T) {
	lb := s.fresh(t)
	m := s.h.Members[1]
	for _, st := range []drivers.MemberState{drivers.Draining, drivers.Out, drivers.Serving, drivers.Out, drivers.Draining, drivers.Serving} {
		require.NoError(t, lb.SetState(ctx(t), st, m), "SetState(%s)", st)
		s.want(t, lb, map[string]drivers.MemberState{m: st}, "round trip")
	}
}

func (s suite) idempotent(t *testing.T) {
	lb := s.fresh(t)
	m := s.h.Members[0]
	for _, st := range allStates {
		t.Run(string(st), func(t *testing.T) {
			for range 3 {
				require.NoError(t, lb.SetState(ctx(t), st, m), "setting %s again must succeed", st)
				s.want(t, lb, map[string]drivers.MemberState{m: st}, "repeated SetState")
			}
			require.NoError(t, lb.SetState(ctx(t), st, m, m), "the same member twice in one call")
			s.want(t, lb, map[string]drivers.MemberState{m: st}, "member named twice")
		})
	}
}

func (s suite) severalMembers(t *testing.T) {
	lb := s.fresh(t)
	a, b, c := s.h.Members[0], s.h.Members[1], s.h.Members[2]
	require.NoError(t, lb.SetState(ctx(t), drivers.Draining, a, b))
	s.want(t, lb, map[string]drivers.MemberState{a: drivers.Draining, b: drivers.Draining, c: drivers.Serving}, "after draining two")
	require.NoError(t, lb.SetState(ctx(t), drivers.Out, a, b))
	s.want(t, lb, map[string]drivers.MemberState{a: drivers.Out, b: drivers.Out, c: drivers.Serving}, "after taking two out")
	// Mixed starting states converge.
	require.NoError(t, lb.SetState(ctx(t), drivers.Serving, a))
	require.NoError(t, lb.SetState(ctx(t), drivers.Draining, a, b, c))
	s.want(t, lb, map[string]drivers.MemberState{a: drivers.Draining, b: drivers.Draining, c: drivers.Draining}, "after draining all three")
	require.NoError(t, lb.SetState(ctx(t), drivers.Serving, s.h.Members...))
	s.want(t, lb, map[string]drivers.MemberState{a: drivers.Serving, b: drivers.Serving, c: drivers.Serving}, "after serving all")
}

func (s suite) noMembers(t *testing.T) {
	lb := s.fresh(t)
	require.NoError(t, lb.SetState(ctx(t), drivers.Out), "SetState with no members must be a no-op")
	s.want(t, lb, map[string]drivers.MemberState{s.h.Members[0]: drivers.Serving, s.h.Members[1]: drivers.Serving, s.h.Members[2]: drivers.Serving}, "after SetState with no members")
}

const unknownMember = "lbtest-no-such-member"

func (s suite) unknownMember(t *testing.T) {
	lb := s.fresh(t)
	a, b := s.h.Members[0], s.h.Members[1]
	for _, order := range [][]string{{unknownMember}, {a, unknownMember}, {unknownMember, b}} {
		err := lb.SetState(ctx(t), drivers.Out, order...)
		require.Error(t, err, "SetState(out, %q)", order)
		assert.ErrorIs(t, err, drivers.ErrNotFound, "SetState(out, %q)", order)
		assert.Contains(t, err.Error(), unknownMember, "the error must name the unknown member")
	}
	if !s.h.UnknownChangesNothing {
		t.Log("driver does not promise that an unknown member changes nothing; not checked")
		return
	}
	s.want(t, lb, map[string]drivers.MemberState{a: drivers.Serving, b: drivers.Serving, s.h.Members[2]: drivers.Serving}, "a call naming an unknown member must change nothing")
}

func (s suite) unknownMemberStatus(t *testing.T) {
	lb := s.fresh(t)
	_, err := lb.Status(ctx(t), s.h.Members[0], unknownMember)
	require.Error(t, err)
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), unknownMember, "the error must name the unknown member")
}

// hostileNames are member names that would inject commands into a socket
// protocol, a configuration file or a shell if passed through unchecked.
var hostileNames = []string{
	"",
	" ",
	"fe1;disable server x/y",
	"fe1 ",
	"fe1\nset server x/y state maint",
	"fe1\r\n",
	"fe1\x00",
	"fe1\\",
	"fe1'; Stop-Computer; '",
	"$(reboot)",
	"../../etc/passwd",
	"fe1}\nserver evil 10.0.0.1:80;",
}

func (s suite) hostileNames(t *testing.T) {
	lb := s.fresh(t)
	for _, name := range hostileNames {
		candidates := []string{name}
		if name != "" {
			candidates = append(candidates, s.h.Members[0]+name)
		}
		for _, m := range candidates {
			err := lb.SetState(ctx(t), drivers.Out, s.h.Members[0], m)
			assert.Error(t, err, "SetState(out, %q) must fail", m)
			_, err = lb.Status(ctx(t), m)
			assert.Error(t, err, "Status(%q) must fail", m)
		}
	}
	if s.h.UnknownChangesNothing {
		s.want(t, lb, map[string]drivers.MemberState{s.h.Members[0]: drivers.Serving, s.h.Members[1]: drivers.Serving, s.h.Members[2]: drivers.Serving}, "a hostile name must change nothing")
	}
}

func (s suite) invalidState(t *testing.T) {
	lb := s.fresh(t)
	for _, st := range []drivers.MemberState{"", "maint", "SERVING", "ready"} {
		err := lb.SetState(ctx(t), st, s.h.Members[0])
		require.Error(t, err, "SetState(%q)", st)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "SetState(%q)", st)
	}
	s.want(t, lb, map[string]drivers.MemberState{s.h.Members[0]: drivers.Serving}, "an invalid state must change nothing")
}

// activeConnections holds a request open on a member, drains the member and
// checks that the request is still counted, then releases it and waits for
// the count to reach zero.
func (s suite) activeConnections(t *testing.T) {
	lb := s.fresh(t)
	m := s.h.Members[0]
	st, err := lb.Status(ctx(t), m)
	require.NoError(t, err)
	if !st[0].ConnectionsKnown {
		t.Skip("unimplemented: the driver reports ConnectionsKnown=false")
	}
	if s.h.Hold == nil {
		t.Skip("unimplemented: the harness cannot hold a request open (Harness.Hold is nil)")
	}
	s.waitConns(t, lb, m, func(n int) bool { return n == 0 }, "no connection before the request")
	release := s.h.Hold(t, m)
	released := false
	defer func() {
		if !released {
			release()
		}
	}()
	s.waitConns(t, lb, m, func(n int) bool { return n >= 1 }, "a held request must be counted")
	require.NoError(t, lb.SetState(ctx(t), drivers.Draining, m))
	got, err := lb.Status(ctx(t), m)
	require.NoError(t, err)
	assert.Equal(t, drivers.Draining, got[0].State)
	assert.GreaterOrEqual(t, got[0].ActiveConnections, 1, "draining must keep the request in flight and counted")
	release()
	released = true
	s.waitConns(t, lb, m, func(n int) bool { return n == 0 }, "the count must return to zero after the request ends")
}

func (s suite) waitConns(t *testing.T, lb drivers.LoadBalancer, m string, ok func(int) bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(s.h.settle())
	for {
		st, err := lb.Status(ctx(t), m)
		require.NoError(t, err)
		require.True(t, st[0].ConnectionsKnown, "member %s: ConnectionsKnown changed to false", m)
		last := st[0].ActiveConnections
		if ok(last) {
			return
		}
		if time.Now().After(deadline) {
			require.Failf(t, msg, "member %s: %d active connections after %v", m, last, s.h.settle())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s suite) contextCanceled(t *testing.T) {
	lb := s.fresh(t)
	c, cancel := context.WithCancel(t.Context())
	cancel()
	s.checkCtx(t, lb, c, context.Canceled)
}

func (s suite) contextDeadline(t *testing.T) {
	lb := s.fresh(t)
	c, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	s.checkCtx(t, lb, c, context.DeadlineExceeded)
}

func (s suite) checkCtx(t *testing.T, lb drivers.LoadBalancer, c context.Context, want error) {
	t.Helper()
	m := s.h.Members[0]
	start := time.Now()
	err := lb.SetState(c, drivers.Out, m)
	assert.ErrorIs(t, err, want, "SetState with a done context")
	_, err = lb.Status(c, m)
	assert.ErrorIs(t, err, want, "Status with a done context")
	if sw, ok := lb.(drivers.Switcher); ok {
		assert.ErrorIs(t, sw.Switch(c, []string{m}, []string{s.h.Members[1]}), want, "Switch with a done context")
	}
	assert.Less(t, time.Since(start), s.h.prompt(), "calls with a done context must return promptly")
}

func (s suite) switcher(t *testing.T) {
	lb := s.fresh(t)
	sw, ok := lb.(drivers.Switcher)
	if !ok {
		t.Skipf("unimplemented: %T does not implement drivers.Switcher", lb)
	}
	a, b, c := s.h.Members[0], s.h.Members[1], s.h.Members[2]
	require.NoError(t, lb.SetState(ctx(t), drivers.Out, a))
	require.NoError(t, sw.Switch(ctx(t), []string{a}, []string{b, c}))
	s.want(t, lb, map[string]drivers.MemberState{a: drivers.Serving, b: drivers.Draining, c: drivers.Draining}, "after Switch(serve a, drain b c)")
	require.NoError(t, sw.Switch(ctx(t), []string{a}, []string{b, c}), "Switch must be idempotent")
	s.want(t, lb, map[string]drivers.MemberState{a: drivers.Serving, b: drivers.Draining, c: drivers.Draining}, "after the same Switch again")
	require.NoError(t, sw.Switch(ctx(t), []string{b, c}, []string{a}))
	s.want(t, lb, map[string]drivers.MemberState{a: drivers.Draining, b: drivers.Serving, c: drivers.Serving}, "after switching back")
	err := sw.Switch(ctx(t), []string{a}, []string{a})
	assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "a member both served and drained must be refused")
	s.want(t, lb, map[string]drivers.MemberState{a: drivers.Draining, b: drivers.Serving, c: drivers.Serving}, "a refused Switch must change nothing")
}

func (s suite) switcherUnknown(t *testing.T) {
	lb := s.fresh(t)
	sw, ok := lb.(drivers.Switcher)
	if !ok {
		t.Skipf("unimplemented: %T does not implement drivers.Switcher", lb)
	}
	a, b := s.h.Members[0], s.h.Members[1]
	require.NoError(t, lb.SetState(ctx(t), drivers.Out, a))
	err := sw.Switch(ctx(t), []string{a}, []string{b, unknownMember})
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	if s.h.UnknownChangesNothing {
		s.want(t, lb, map[string]drivers.MemberState{a: drivers.Out, b: drivers.Serving}, "a Switch naming an unknown member must change nothing")
	}
}

// concurrent runs SetState and Status from several goroutines, each on its
// own member, and checks the final states.
func (s suite) concurrent(t *testing.T) {
	lb := s.fresh(t)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	final := map[string]drivers.MemberState{}
	for i, m := range s.h.Members[:3] {
		seq := slices.Clone(allStates)
		for range i {
			seq = append(seq[1:], seq[0])
		}
		final[m] = seq[len(seq)-1]
		wg.Go(func() {
			for range 3 {
				for _, st := range seq {
					if err := lb.SetState(ctx(t), st, m); err != nil {
						errs <- fmt.Errorf("SetState(%s, %s): %w", st, m, err)
					}
					if _, err := lb.Status(ctx(t)); err != nil {
						errs <- fmt.Errorf("Status(): %w", err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	s.want(t, lb, final, "after concurrent calls")
}
