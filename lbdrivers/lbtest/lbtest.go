// Package lbtest is the conformance suite for [drivers.LoadBalancer]
// implementations. Every load-balancer driver runs it from its own
// TestConformance, the way every gocloud.dev driver runs drivertest: the suite
// checks the rules of the drivers contract against the real system (or a
// faithful fake) behind the driver.
//
// It is not a fake load balancer and not a benchmark; application code never
// imports it.
//
// # Using it
//
// Write a [Harness] that gives the suite a fresh driver whose members all
// serve, the names of at least three members, and, where the system can hold a
// request open on a chosen member, a Hold function:
//
//	func TestConformance(t *testing.T) {
//		lbtest.Run(t, lbtest.Harness{
//			New: func(t *testing.T) drivers.LoadBalancer {
//				lb := startMyLoadBalancer(t) // every member serving
//				return mydriver.New(mydriver.Config{Address: lb.Addr})
//			},
//			Members: []string{"fe1", "fe2", "fe3"},
//			Hold: func(t *testing.T, member string) func() {
//				return lb.HoldRequestOn(t, member) // returns once the backend has it
//			},
//			UnknownChangesNothing: true,
//		})
//	}
//
// # What it checks
//
// Named subtests cover every state transition and back (checked with Status),
// idempotency, several members in one call, unknown members (ErrNotFound, and
// nothing changed where the driver promises that), hostile member names,
// invalid states (ErrInvalidArgument), the Status order and the no-argument
// listing, active connections while a request is held open and zero after it
// ends, cancelled and expired contexts, the optional [drivers.Switcher]
// capability and concurrent use (run the tests with -race).
//
// A capability the driver or harness cannot offer is never skipped silently:
// its subtest calls t.Skip with a message that starts "unimplemented:" and
// names what is missing, so `go test -v` lists it. The capabilities are: active
// connection counts (skipped when Status reports ConnectionsKnown=false or the
// harness has no Hold) and [drivers.Switcher] (skipped when the driver does not
// implement it).
package lbtest

import (
	"context"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/stretchr/testify/require"
)

// Harness is what a driver's test gives the suite.
type Harness struct {
	// New returns a fresh driver whose members (at least those in Members)
	// are all Serving. It is called once per subtest; register cleanup with
	// t.Cleanup. Required.
	New func(t *testing.T) drivers.LoadBalancer
	// Members names at least three members the driver manages, as the farm
	// names them (Server.Member). Required.
	Members []string
	// Hold starts a request that the load balancer routes to member and that
	// the backend keeps open; it returns once the backend holds the request,
	// and the returned release function lets the request finish and returns
	// once it has. Nil means the harness cannot hold requests open: the
	// connection subtests are skipped as unimplemented.
	Hold func(t *testing.T, member string) (release func())
	// UnknownChangesNothing is true when the driver promises that a call
	// naming an unknown member changes no member at all (the contract asks
	// for it "where the system allows it").
	UnknownChangesNothing bool
	// Settle is how long the suite waits for Status to reflect a change
	// that the load balancer applies asynchronously (connection counts).
	// Zero means 5 seconds.
	Settle time.Duration
	// Prompt is how soon a call with a cancelled or expired context must
	// return. Zero means 2 seconds.
	Prompt time.Duration
}

func (h Harness) settle() time.Duration {
	if h.Settle > 0 {
		return h.Settle
	}
	return 5 * time.Second
}

func (h Harness) prompt() time.Duration {
	if h.Prompt > 0 {
		return h.Prompt
	}
	return 2 * time.Second
}

// Run runs the conformance suite against the drivers h builds. Each check is
// a named subtest of t.
func Run(t *testing.T, h Harness) {
	t.Helper()
	require.NotNil(t, h.New, "lbtest: Harness.New is required")
	require.GreaterOrEqual(t, len(h.Members), 3, "lbtest: Harness.Members must name at least 3 members, got %q", h.Members)
	s := suite{h: h}
	t.Run("InitialStatus", s.initialStatus)
	t.Run("StatusOrder", s.statusOrder)
	t.Run("Transitions", s.transitions)
	t.Run("RoundTrip", s.roundTrip)
	t.Run("Idempotent", s.idempotent)
	t.Run("SeveralMembers", s.severalMembers)
	t.Run("NoMembers", s.noMembers)
	t.Run("UnknownMember", s.unknownMember)
	t.Run("UnknownMemberStatus", s.unknownMemberStatus)
	t.Run("HostileNames", s.hostileNames)
	t.Run("InvalidState", s.invalidState)
	t.Run("ActiveConnections", s.activeConnections)
	t.Run("ContextCanceled", s.contextCanceled)
	t.Run("ContextDeadline", s.contextDeadline)
	t.Run("Switcher", s.switcher)
	t.Run("SwitcherUnknownMember", s.switcherUnknown)
	t.Run("Concurrent", s.concurrent)
}

type suite struct{ h Harness }

// ctx returns a context for one driver call, cancelled at the end of the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// fresh builds a driver and checks that every member starts Serving.
func (s suite) fresh(t *testing.T) drivers.LoadBalancer {
	t.Helper()
	lb := s.h.New(t)
	require.NotNil(t, lb, "lbtest: Harness.New returned nil")
	s.want(t, lb, map[string]drivers.MemberState{
		s.h.Members[0]: drivers.Serving, s.h.Members[1]: drivers.Serving, s.h.Members[2]: drivers.Serving,
	}, "lbtest: Harness.New must return a driver whose members all serve")
	return lb
}

// want reads the members of states and checks each one's state.
func (s suite) want(t *testing.T, lb drivers.LoadBalancer, states map[string]drivers.MemberState, msg string) {
	t.Helper()
	members := make([]string, 0, len(states))
	for _, m := range s.h.Members {
		if _, ok := states[m]; ok {
			members = append(members, m)
		}
	}
	got, err := lb.Status(ctx(t), members...)
	require.NoError(t, err, "Status(%q)", members)
	require.Len(t, got, len(members), "Status(%q) must return one status per member", members)
	for i, st := range got {
		require.Equal(t, members[i], st.Member, "Status must return members in the order given")
		require.Equal(t, states[st.Member], st.State, "%s: member %s", msg, st.Member)
	}
}
