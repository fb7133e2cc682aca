package f5_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name  string
		fault fault.Fault
		call  string // "set" or "status"
		class error  // nil: unclassified
		// changed is whether the member ended Forced Offline (set only).
		changed bool
	}{
		{"PUT throttled", fault.Fault{Op: "PUT", Status: 429, Times: 1}, "set", drivers.ErrUnavailable, false},
		{"PUT device busy", fault.Fault{Op: "PUT", Status: 503, Times: 1}, "set", drivers.ErrUnavailable, false},
		{"PUT 500 before the change", fault.Fault{Op: "PUT", Status: 500, Times: 1}, "set", nil, false},
		{"PUT 504 after the change is read back", fault.Fault{Op: "PUT", Status: 504, AfterEffect: true, Times: 1}, "set", nil, true},
		{"PUT 400", fault.Fault{Op: "PUT", Status: 400, Times: 1}, "set", drivers.ErrInvalidArgument, false},
		{"PUT 403", fault.Fault{Op: "PUT", Status: 403, Times: 1}, "set", drivers.ErrPermissionDenied, false},
		{"GET 404", fault.Fault{Op: "GET", Status: 404, Times: 1}, "set", drivers.ErrNotFound, false},
		{"GET 500", fault.Fault{Op: "GET", Target: "/stats", Status: 500, Times: 1}, "status", drivers.ErrUnavailable, false},
		{"GET 502", fault.Fault{Op: "GET", Status: 502, Times: 1}, "status", drivers.ErrUnavailable, false},
		{"GET 429", fault.Fault{Op: "GET", Status: 429, Times: 1}, "status", drivers.ErrUnavailable, false},
		{"login busy", fault.Fault{Op: "POST", Target: "/authn/login", Status: 503, Times: 1}, "set", drivers.ErrUnavailable, false},
		{"login 500", fault.Fault{Op: "POST", Target: "/authn/login", Status: 500, Times: 1}, "set", drivers.ErrUnavailable, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, f5test.Config{}, nil)
			e.fake.Inject(tc.fault)
			var err error
			if tc.call == "set" {
				err = e.lb.SetState(context.Background(), drivers.Out, members[0])
			} else {
				_, err = e.lb.Status(context.Background(), members[0])
			}
			m, _ := e.store.Member(members[0])
			assert.Equal(t, tc.changed, m.ForcedOffline, "member changed")
			if tc.changed {
				require.NoError(t, err, "an ambiguous failure whose change is read back succeeds")
				assert.Contains(t, e.logs.String(), "took effect")
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.class, drivers.Class(err), "class of %v", err)
			assert.Contains(t, err.Error(), members[0])
			e.noSecrets(t, err)
		})
	}
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	lb, err := f5.New(f5.Config{BaseURL: url, Username: "admin", Password: drivers.NewSecret(canary), Pool: "pool", Timeout: 5 * time.Second})
	require.NoError(t, err)
	err = lb.SetState(context.Background(), drivers.Out, members[0])
	require.ErrorIs(t, err, drivers.ErrUnavailable)
	assert.NotContains(t, err.Error(), canary)
	_, err = lb.Status(context.Background())
	require.ErrorIs(t, err, drivers.ErrUnavailable)
}

// TestSeveralMembersAllOrNothing: several members change in one
// transaction, so a failure leaves every one as it was.
func TestSeveralMembersAllOrNothing(t *testing.T) {
	e := newEnv(t, f5test.Config{}, nil)
	e.fake.Inject(fault.Fault{Op: "PUT", Target: members[1], Status: 500, Times: 1})
	err := e.lb.SetState(context.Background(), drivers.Draining, members...)
	require.ErrorIs(t, err, drivers.ErrUnavailable, "nothing was applied: safe to retry")
	assert.Contains(t, err.Error(), members[1])
	for _, m := range members {
		got, _ := e.store.Member(m)
		assert.False(t, got.Disabled, "member %s must be unchanged", m)
	}
	require.NoError(t, e.lb.SetState(context.Background(), drivers.Draining, members...))
	for _, m := range members {
		got, _ := e.store.Member(m)
		assert.True(t, got.Disabled, "member %s", m)
	}
	assert.Equal(t, 1, e.fake.Transactions())
}

func TestUnknownMemberChangesNothing(t *testing.T) {
	e := newEnv(t, f5test.Config{}, nil)
	err := e.lb.SetState(context.Background(), drivers.Out, members[0], "10.9.9.9:80")
	require.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), "10.9.9.9:80")
	for _, r := range e.fake.Requests() {
		assert.NotEqual(t, "PUT", r.Method, "no PUT may be sent when a member is unknown")
	}
}

func TestHealthAndConnections(t *testing.T) {
	e := newEnv(t, f5test.Config{}, nil)
	e.store.SetHealthy(members[1], false)
	e.store.SetConns(members[2], 7)
	got, err := e.lb.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, drivers.MemberStatus{Member: members[0], State: drivers.Serving, Health: drivers.Healthy, ConnectionsKnown: true}, got[0])
	assert.Equal(t, drivers.Unhealthy, got[1].Health)
	assert.Equal(t, 7, got[2].ActiveConnections)
	// Forced offline: the monitor state says user-down; health comes from
	// the statistics' availability.
	require.NoError(t, e.lb.SetState(context.Background(), drivers.Out, members[1], members[2]))
	got, err = e.lb.Status(context.Background(), members[1], members[2])
	require.NoError(t, err)
	assert.Equal(t, drivers.Unhealthy, got[0].Health)
	assert.Equal(t, drivers.Healthy, got[1].Health)
	assert.Equal(t, drivers.Out, got[1].State)
	assert.Equal(t, 7, got[1].ActiveConnections, "forced offline lets existing connections finish")
}

func TestLegacyStatsKeysAndIPv6(t *testing.T) {
	e := newEnv(t, f5test.Config{LegacyStatsKeys: true}, nil)
	e.store.Add(f5test.Member{Name: "2001:db8::1.80", Healthy: true, CurConns: 2})
	got, err := e.lb.Status(context.Background(), "[2001:db8::1]:80")
	require.NoError(t, err)
	assert.Equal(t, 2, got[0].ActiveConnections)
	require.NoError(t, e.lb.SetState(context.Background(), drivers.Draining, "[2001:db8::1]:80"))
	all, err := e.lb.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "[2001:db8::1]:80", all[3].Member)
	assert.Equal(t, drivers.Draining, all[3].State)

	// A member this driver cannot address (route domain) is still listed.
	e.store.Add(f5test.Member{Name: "10.0.0.9%2:80", Healthy: true, CurConns: 1})
	all, err = e.lb.Status(context.Background())
	require.NoError(t, err)
	require.Len(t, all, 5)
	assert.Equal(t, drivers.MemberStatus{Member: "10.0.0.9%2:80", State: drivers.Serving, Health: drivers.Healthy, ActiveConnections: 1, ConnectionsKnown: true}, all[4])
}

// TestEchoedSecretsScrubbed makes the device echo the password and the
// current token in its error messages; neither may reach an error or a log.
func TestEchoedSecretsScrubbed(t *testing.T) {
	e := newEnv(t, f5test.Config{}, nil)
	ctx := context.Background()
	_, err := e.lb.Status(ctx, members[0])
	require.NoError(t, err)
	tok := e.fake.IssuedTokens()[0]
	e.fake.Inject(fault.Fault{Op: "PUT", Status: 400, Message: "bad request from admin/" + canary + " with token " + tok, Times: 1})
	err = e.lb.SetState(ctx, drivers.Out, members[0])
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "[redacted]")
	e.noSecrets(t, err)

	e2 := newEnv(t, f5test.Config{}, nil)
	e2.fake.Inject(fault.Fault{Op: "POST", Target: "/authn/login", Status: 401, Message: "login failed for password " + canary, Times: 1})
	err = e2.lb.SetState(ctx, drivers.Out, members[0])
	require.ErrorIs(t, err, drivers.ErrPermissionDenied)
	e2.noSecrets(t, err)
}
