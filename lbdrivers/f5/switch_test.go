package f5_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
)

// flags reads the members' (Disabled, ForcedOffline) from the store.
func (e *env) flags(t *testing.T) [][2]bool {
	t.Helper()
	var out [][2]bool
	for _, m := range members {
		got, ok := e.store.Member(m)
		require.True(t, ok)
		out = append(out, [2]bool{got.Disabled, got.ForcedOffline})
	}
	return out
}

func TestSwitchIsOneTransaction(t *testing.T) {
	e := newEnv(t, f5test.Config{}, nil)
	ctx := context.Background()
	require.NoError(t, e.lb.SetState(ctx, drivers.Out, members[0]))
	require.NoError(t, e.lb.Switch(ctx, []string{members[0]}, []string{members[1], members[2]}))
	assert.Equal(t, [][2]bool{{false, false}, {true, false}, {true, false}}, e.flags(t))
	assert.Equal(t, 1, e.fake.Transactions())
	var queued int
	for _, r := range e.fake.Requests() {
		if r.Method == http.MethodPut {
			queued++
		}
	}
	assert.Equal(t, 1+3, queued, "one plain PUT, then three queued in the transaction")
	require.NoError(t, e.lb.Switch(ctx, []string{members[0]}, []string{members[1], members[2]}))
	assert.Equal(t, 1, e.fake.Transactions(), "nothing to change: no transaction")
	e.noSecrets(t)
}

func TestSwitchFailures(t *testing.T) {
	const commit = "/mgmt/tm/transaction/"
	tests := []struct {
		name    string
		fault   fault.Fault
		class   error
		applied bool
	}{
		{"commit refused", fault.Fault{Op: "PATCH", Target: commit, Status: 400, Times: 1}, drivers.ErrInvalidArgument, false},
		{"commit throttled", fault.Fault{Op: "PATCH", Target: commit, Status: 429, Times: 1}, drivers.ErrUnavailable, false},
		{"commit 500 before applying", fault.Fault{Op: "PATCH", Target: commit, Status: 500, Times: 1}, nil, false},
		{"commit 504 after applying", fault.Fault{Op: "PATCH", Target: commit, Status: 504, AfterEffect: true, Times: 1}, nil, true},
		{"queue 500", fault.Fault{Op: "PUT", Status: 500, Times: 1}, drivers.ErrUnavailable, false},
		{"start 503", fault.Fault{Op: "POST", Target: "/mgmt/tm/transaction", Status: 503, Times: 1}, drivers.ErrUnavailable, false},
		{"start 403", fault.Fault{Op: "POST", Target: "/mgmt/tm/transaction", Status: 403, Times: 1}, drivers.ErrPermissionDenied, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, f5test.Config{}, nil)
			ctx := context.Background()
			require.NoError(t, e.lb.SetState(ctx, drivers.Out, members[0]))
			before := e.flags(t)
			e.fake.Inject(tc.fault)
			err := e.lb.Switch(ctx, []string{members[0]}, []string{members[1]})
			if tc.applied {
				require.NoError(t, err)
				assert.Equal(t, [][2]bool{{false, false}, {true, false}, {false, false}}, e.flags(t))
				return
			}
			require.Error(t, err)
			assert.Equal(t, tc.class, drivers.Class(err), "class of %v", err)
			assert.Equal(t, before, e.flags(t), "a failed switch changes nothing")
			if tc.fault.Op == "PUT" {
				var deleted bool
				for _, r := range e.fake.Requests() {
					deleted = deleted || r.Method == http.MethodDelete
				}
				assert.True(t, deleted, "an abandoned transaction is deleted")
			}
		})
	}
}

func TestSwitchRefusesOverlapAndUnknown(t *testing.T) {
	e := newEnv(t, f5test.Config{}, nil)
	ctx := context.Background()
	err := e.lb.Switch(ctx, []string{members[0]}, []string{"10.0.0.1:80"})
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	err = e.lb.Switch(ctx, []string{members[0]}, []string{"10.9.9.9:80"})
	require.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), "10.9.9.9:80")
	err = e.lb.Switch(ctx, []string{"a/b:80"}, nil)
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Zero(t, e.fake.Transactions())
	for _, r := range e.fake.Requests() {
		assert.NotEqual(t, http.MethodPut, r.Method)
	}
}
