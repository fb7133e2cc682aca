package winrm_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
	"github.com/balanced-deploy/balanced/fault"
)

// These tests run in a synctest bubble against the in-memory fake: delays and
// timeouts take virtual time, so durations are exact and the tests instant.

type memFixture struct {
	srv    *winrmtest.Server
	svcs   *winrmtest.MapServices
	drv    *winrm.Driver
	target drivers.Target
}

// newMemFixture must be called inside the bubble; the server is closed by
// the test (deferred), still inside the bubble.
func newMemFixture(t *testing.T, timeout time.Duration) *memFixture {
	t.Helper()
	svcs := &winrmtest.MapServices{}
	svcs.Add(testHost, winrmtest.Service{Name: "sched", DisplayName: "OutSystems Scheduler Service", Run: drivers.Running, Startup: drivers.Automatic})
	srv := winrmtest.NewInMemoryServer(winrmtest.Config{Host: testHost, Services: svcs, Username: testUser, Password: testPassword,
		// In-memory servers are plain HTTP and need Config.Dial, which the
		// encrypting transport cannot use: Basic over HTTP, enabled on purpose.
		AllowBasic: true, AllowUnencrypted: true})
	drv, err := winrm.New(winrm.Config{PlainHTTP: true, Auth: winrm.AuthBasic, Username: testUser, Password: drivers.NewSecret(testPassword), Timeout: timeout, Dial: srv.Dial})
	require.NoError(t, err)
	return &memFixture{srv: srv, svcs: svcs, drv: drv, target: drivers.Target{Name: testHost, Address: srv.Addr()}}
}

func TestVirtualTimeoutAfterCommandSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMemFixture(t, 30*time.Second)
		defer f.srv.Close()
		f.srv.Inject(fault.Fault{Op: winrmtest.ActionReceive, Latency: 10 * time.Minute})

		start := time.Now()
		err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
		assert.Equal(t, 30*time.Second, time.Since(start), "the call ends exactly at Config.Timeout")
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.NotErrorIs(t, err, drivers.ErrUnavailable)
		// The script did run: that is why the error must not be retryable.
		s, _ := f.svcs.Get(testHost, "sched")
		assert.Equal(t, drivers.Stopped, s.Run)
	})
}

func TestVirtualTimeoutBeforeCommandSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMemFixture(t, 30*time.Second)
		defer f.srv.Close()
		f.srv.Inject(fault.Fault{Op: winrmtest.ActionCreate, Latency: 40 * time.Second, Times: 1})

		start := time.Now()
		err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
		assert.Equal(t, 30*time.Second, time.Since(start))
		require.ErrorIs(t, err, drivers.ErrUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)

		// The shell is created late (at 40 s); the worker must not send the
		// command after the deadline.
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Empty(t, f.srv.Scripts())
		s, _ := f.svcs.Get(testHost, "sched")
		assert.Equal(t, drivers.Running, s.Run)
	})
}

func TestVirtualCallerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMemFixture(t, 0) // default Timeout, 2 minutes
		defer f.srv.Close()
		f.srv.Inject(fault.Fault{Op: winrmtest.ActionReceive, Latency: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()

		start := time.Now()
		_, err := f.drv.ServiceState(ctx, f.target, drivers.SchedulerService)
		assert.Equal(t, 5*time.Second, time.Since(start))
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

func TestVirtualCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMemFixture(t, time.Minute)
		defer f.srv.Close()
		f.srv.Inject(fault.Fault{Op: winrmtest.ActionReceive, Latency: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(3*time.Second, cancel)

		start := time.Now()
		err := f.drv.RestoreService(ctx, f.target, drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Manual})
		assert.Equal(t, 3*time.Second, time.Since(start))
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestVirtualSlowButInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMemFixture(t, 30*time.Second)
		defer f.srv.Close()
		f.srv.Inject(fault.Fault{Op: winrmtest.ActionReceive, Latency: 20 * time.Second, Times: 1})

		start := time.Now()
		require.NoError(t, f.drv.StopService(context.Background(), f.target, drivers.SchedulerService))
		assert.Equal(t, 20*time.Second, time.Since(start))
	})
}

func TestVirtualServerGoneIsUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newMemFixture(t, 30*time.Second)
		f.srv.Close()
		start := time.Now()
		_, err := f.drv.ServiceState(context.Background(), f.target, drivers.SchedulerService)
		require.ErrorIs(t, err, drivers.ErrUnavailable)
		assert.Zero(t, time.Since(start))
	})
}

func TestVirtualReceiveFaults(t *testing.T) {
	t.Run("operation timeout is polled again", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMemFixture(t, 30*time.Second)
			defer f.srv.Close()
			f.srv.Inject(fault.Fault{Op: winrmtest.ActionReceive, Status: 500, Code: "TimedOut", Times: 3})
			require.NoError(t, f.drv.StopService(context.Background(), f.target, drivers.SchedulerService))
			receives := 0
			for _, a := range f.srv.Actions() {
				if a == winrmtest.ActionReceive {
					receives++
				}
			}
			assert.Equal(t, 3+2, receives, "3 timed out, then the state line, then the Done answer")
		})
	})
	t.Run("other faults end the call at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newMemFixture(t, 30*time.Second)
			defer f.srv.Close()
			f.srv.Inject(fault.Fault{Op: winrmtest.ActionReceive, Status: 500, Code: "InvalidSelectors"})
			start := time.Now()
			err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "InvalidSelectors")
			assert.NotErrorIs(t, err, drivers.ErrUnavailable, "the command was sent")
			assert.Zero(t, time.Since(start), "no polling until the deadline")
		})
	})
}
