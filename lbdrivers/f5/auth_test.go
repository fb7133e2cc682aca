package f5_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Token tests run in a synctest bubble: the fake measures token lifetimes
// with time.Now, which is the bubble's virtual clock, and the driver reaches
// the fake in process (f5test.Server.Client), since sockets do not work in
// a bubble.

// count401 counts the 401 answers the fake gave.
func count401(fake *f5test.Server) int {
	n := 0
	for _, r := range fake.Requests() {
		if r.Status == http.StatusUnauthorized {
			n++
		}
	}
	return n
}

func TestTokenRenewedBeforeExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, f5test.Config{TokenLifetime: 100 * time.Second}, nil)
		ctx := context.Background()
		_, err := e.lb.Status(ctx, members[0])
		require.NoError(t, err)
		require.Equal(t, 1, e.fake.Logins())

		time.Sleep(80 * time.Second) // well within the lifetime: same token
		_, err = e.lb.Status(ctx, members[0])
		require.NoError(t, err)
		assert.Equal(t, 1, e.fake.Logins())

		// 95 s: within the renewal margin (a tenth of 100 s), so the
		// driver logs in again before the device would refuse the token.
		time.Sleep(15 * time.Second)
		_, err = e.lb.Status(ctx, members[0])
		require.NoError(t, err)
		assert.Equal(t, 2, e.fake.Logins())
		assert.Zero(t, count401(e.fake), "renewal must happen before the token expires")

		time.Sleep(time.Hour) // long idle: the token expired; a new login, no 401
		require.NoError(t, e.lb.SetState(ctx, drivers.Draining, members[1]))
		assert.Equal(t, 3, e.fake.Logins())
		assert.Zero(t, count401(e.fake))
		e.noSecrets(t)
	})
}

func TestTokenExtended(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, f5test.Config{TokenLifetime: 1200 * time.Second}, func(c *f5.Config) {
			c.TokenTimeout = 2 * time.Hour
		})
		ctx := context.Background()
		_, err := e.lb.Status(ctx)
		require.NoError(t, err)
		time.Sleep(90 * time.Minute) // past the default lifetime, within the extended one
		_, err = e.lb.Status(ctx)
		require.NoError(t, err)
		assert.Equal(t, 1, e.fake.Logins(), "the extended token must still be in use")
		assert.Zero(t, count401(e.fake))
		var patched bool
		for _, r := range e.fake.Requests() {
			if r.Method == http.MethodPatch && r.Status == http.StatusOK {
				patched = true
				assert.JSONEq(t, `{"timeout":7200}`, r.Body)
			}
		}
		assert.True(t, patched, "the driver must extend the token with PATCH")
		e.noSecrets(t)
	})
}

func TestTokenExtensionRefusedKeepsDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, f5test.Config{TokenLifetime: 1200 * time.Second}, func(c *f5.Config) {
			c.TokenTimeout = 2 * time.Hour
		})
		e.fake.Inject(fault.Fault{Op: http.MethodPatch, Target: "/authz/tokens/", Status: http.StatusForbidden, Times: 1})
		_, err := e.lb.Status(context.Background())
		require.NoError(t, err)
		assert.Contains(t, e.logs.String(), "could not extend the token lifetime")
		time.Sleep(1150 * time.Second) // inside the default lifetime's renewal margin
		_, err = e.lb.Status(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 2, e.fake.Logins(), "with the default lifetime the driver must renew on time")
		assert.Zero(t, count401(e.fake))
		e.noSecrets(t)
	})
}

func TestRevokedTokenReloginOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, f5test.Config{}, nil)
		ctx := context.Background()
		require.NoError(t, e.lb.SetState(ctx, drivers.Draining, members[0]))
		e.fake.RevokeTokens() // e.g. an admin cleared sessions mid-run
		require.NoError(t, e.lb.SetState(ctx, drivers.Out, members[0]))
		assert.Equal(t, 2, e.fake.Logins())
		assert.Equal(t, 1, count401(e.fake))
		m, _ := e.store.Member(members[0])
		assert.True(t, m.ForcedOffline)
		e.noSecrets(t)
	})
}

func TestSecond401IsPermissionDenied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, f5test.Config{}, nil)
		ctx := context.Background()
		_, err := e.lb.Status(ctx, members[0])
		require.NoError(t, err)
		// The token is refused, and refused again after the new login.
		e.fake.Inject(fault.Fault{Op: http.MethodGet, Target: "/members/", Status: http.StatusUnauthorized, Times: 2})
		_, err = e.lb.Status(ctx, members[0])
		require.ErrorIs(t, err, drivers.ErrPermissionDenied)
		assert.False(t, drivers.IsRetryable(err))
		assert.Equal(t, 2, e.fake.Logins(), "exactly one new login")
		e.noSecrets(t, err)
	})
}

func TestWrongPassword(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, f5test.Config{Password: "the-real-one"}, nil)
		err := e.lb.SetState(context.Background(), drivers.Out, members[0])
		require.ErrorIs(t, err, drivers.ErrPermissionDenied)
		assert.Contains(t, err.Error(), `login as "admin"`)
		m, _ := e.store.Member(members[0])
		assert.False(t, m.ForcedOffline)
		e.noSecrets(t, err)
	})
}

func TestConcurrentCallersLogInOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, f5test.Config{}, nil)
		errs := make(chan error, 8)
		for range 8 {
			go func() {
				_, err := e.lb.Status(context.Background())
				errs <- err
			}()
		}
		for range 8 {
			require.NoError(t, <-errs)
		}
		assert.Equal(t, 1, e.fake.Logins())
	})
}
