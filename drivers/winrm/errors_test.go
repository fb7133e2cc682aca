package winrm_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
)

func TestHostileServiceNamesCannotInject(t *testing.T) {
	names := []string{
		`x'; Stop-Computer -Force; '`,
		`x''; Remove-Item C:\ -Recurse; ''`,
		`$(Stop-Computer)`,
		"`$(Stop-Computer)`",
		`x" ; Stop-Computer ; "`,
		`a’; Stop-Computer; ‘b`, // typographic quotes are quotes to PowerShell
		`OutSystems\' OR Name LIKE '%`,
		`@(1) | % { Stop-Computer }`,
		`';exit 0;'`,
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, func(c *winrm.Config) {
				c.ServiceNames = map[drivers.Service]string{drivers.SchedulerService: name}
			})
			ctx := context.Background()

			// No service has that name: the name round-trips literally, the
			// lookup finds nothing, nothing else runs.
			err := f.drv.StopService(ctx, f.target, drivers.SchedulerService)
			require.ErrorIs(t, err, drivers.ErrNotFound)
			scripts := f.srv.Scripts()
			require.Len(t, scripts, 1)
			assert.True(t, scripts[0].Recognised, scripts[0].Reason)
			assert.Equal(t, name, scripts[0].Name, "the name must reach PowerShell literally")
			for _, key := range []string{"OutSystems Scheduler", "OutSystems Deployment Service"} {
				s, _ := f.svcs.Get(testHost, key)
				assert.Equal(t, drivers.Running, s.Run, "no other service may be touched")
			}

			// A service that really has the hostile display name is found
			// and stopped.
			f.svcs.Add(testHost, winrmtest.Service{Name: "hostile", DisplayName: name, Run: drivers.Running, Startup: drivers.Manual})
			require.NoError(t, f.drv.StopService(ctx, f.target, drivers.SchedulerService))
			s, _ := f.svcs.Get(testHost, "hostile")
			assert.Equal(t, drivers.Stopped, s.Run)
			f.assertOnlyRecognised(t)
		})
	}
}

func TestInvalidServiceNamesRefused(t *testing.T) {
	for _, name := range []string{
		"", " leading", "trailing ", "new\nline", "carriage\rreturn", "tab\there", "nul\x00", "del\x7f",
		"zero\u200bwidth", "bidi\u202eoverride", "line\u2028sep", "bad utf8 \xff", strings.Repeat("a", 257),
	} {
		_, err := winrm.New(winrm.Config{PlainHTTP: true, Username: "u", ServiceNames: map[drivers.Service]string{drivers.SchedulerService: name}})
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, "name %q", name)
		assert.Contains(t, err.Error(), "scheduler")
	}
}

func TestBadTargetsRefused(t *testing.T) {
	f := newFixture(t, nil)
	for _, host := range []string{"", "fe01/evil", "fe 01", "user@fe01", "fe01:0", "fe01:99999", "fe01:http", "fe01?x", "[::1"} {
		// Name is also invalid, so an empty Address cannot fall back to a
		// resolvable name (tests talk to loopback only).
		_, err := f.drv.ServiceState(context.Background(), drivers.Target{Name: "bad name", Address: host}, drivers.SchedulerService)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, "host %q", host)
	}
	_, err := f.drv.ServiceState(context.Background(), f.target, drivers.Service("web"))
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Contains(t, err.Error(), `"web"`)
	assert.Empty(t, f.srv.Scripts())
}

func TestIPv6Loopback(t *testing.T) {
	f := newFixture(t, nil)
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback on this machine:", err)
	}
	defer l.Close()
	// Forward [::1]:port to the fake, to check the driver's IPv6 URL.
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", f.srv.Addr())
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = copyConn(u, c) }()
				_, _ = copyConn(c, u)
			}()
		}
	}()
	st, err := f.drv.ServiceState(context.Background(), drivers.Target{Name: "v6", Address: l.Addr().String()}, drivers.SchedulerService)
	require.NoError(t, err)
	assert.Equal(t, drivers.Running, st.Run)
}

func copyConn(dst, src net.Conn) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if err != nil {
			return n, err
		}
	}
}

func TestMissingServiceIsNotFound(t *testing.T) {
	f := newFixture(t, func(c *winrm.Config) {
		c.ServiceNames = map[drivers.Service]string{drivers.DeploymentControllerService: "No Such Service"}
	})
	ctx := context.Background()
	_, err := f.drv.ServiceState(ctx, f.target, drivers.DeploymentControllerService)
	require.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), "No Such Service")
	require.ErrorIs(t, f.drv.StopService(ctx, f.target, drivers.DeploymentControllerService), drivers.ErrNotFound)
	require.ErrorIs(t, f.drv.RestoreService(ctx, f.target, drivers.DeploymentControllerService,
		drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}), drivers.ErrNotFound)
}

func TestAmbiguousNameRefused(t *testing.T) {
	f := newFixture(t, nil)
	// One service's key name equals another's display name.
	f.svcs.Add(testHost, winrmtest.Service{Name: "OutSystems Scheduler Service", DisplayName: "Something else", Run: drivers.Running, Startup: drivers.Manual})
	err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	s, _ := f.svcs.Get(testHost, "OutSystems Scheduler")
	assert.Equal(t, drivers.Running, s.Run)
}

func TestWrongPasswordIsPermissionDenied(t *testing.T) {
	f := newFixture(t, func(c *winrm.Config) { c.Password = drivers.NewSecret("wrong-password-42") })
	_, err := f.drv.ServiceState(context.Background(), f.target, drivers.SchedulerService)
	require.ErrorIs(t, err, drivers.ErrPermissionDenied)
	assert.NotErrorIs(t, err, drivers.ErrUnavailable)
	assert.Contains(t, err.Error(), "401")
	assert.NotContains(t, err.Error(), "wrong-password-42")
	assert.NotContains(t, f.logs.String(), "wrong-password-42")
	assert.Empty(t, f.srv.Scripts())
}

func TestAccessDeniedIsPermissionDenied(t *testing.T) {
	t.Run("from the service table", func(t *testing.T) {
		f := newFixture(t, nil)
		f.svcs.SetError(testHost, "OutSystems Scheduler", winrmtest.ErrAccessDenied)
		err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
		require.ErrorIs(t, err, drivers.ErrPermissionDenied)
		assert.Contains(t, err.Error(), "Access is denied")
	})
	t.Run("plain stderr", func(t *testing.T) {
		f := newFixture(t, nil)
		f.srv.AddFault(winrmtest.Fault{Action: winrmtest.ActionCommand, Stderr: "Stop-Service : Access is denied\r\n", ExitCode: 1})
		err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
		require.ErrorIs(t, err, drivers.ErrPermissionDenied)
	})
}

func TestScriptFailureReported(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.AddFault(winrmtest.Fault{Action: winrmtest.ActionCommand,
		Stderr: winrmtest.CLIXMLError("Service 'OutSystems Scheduler' cannot be stopped: a dependent service is running"), ExitCode: 1})
	err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
	require.Error(t, err)
	assert.Nil(t, drivers.Class(err), "a failure of the script itself is not classified: it may have changed something")
	assert.Contains(t, err.Error(), "exited with code 1")
	assert.Contains(t, err.Error(), "cannot be stopped: a dependent service is running", "CLIXML must be decoded")
	assert.NotContains(t, err.Error(), "_x000D_")
}

// lyingServices pretends to stop and restore but changes nothing.
type lyingServices struct{ *winrmtest.MapServices }

func (lyingServices) Stop(string, string) error                          { return nil }
func (lyingServices) Restore(string, string, drivers.ServiceState) error { return nil }
func (l lyingServices) Find(host, name string) ([]winrmtest.Service, error) {
	return l.MapServices.Find(host, name)
}

func TestStateIsCheckedAfterChange(t *testing.T) {
	svcs := &winrmtest.MapServices{}
	svcs.Add(testHost, winrmtest.Service{Name: "sched", DisplayName: "OutSystems Scheduler Service", Run: drivers.Running, Startup: drivers.Automatic})
	srv := winrmtest.NewServer(winrmtest.Config{Host: testHost, Services: lyingServices{svcs}})
	defer srv.Close()
	drv, err := winrm.New(winrm.Config{PlainHTTP: true, Username: "u", Timeout: 5 * time.Second})
	require.NoError(t, err)
	target := drivers.Target{Name: testHost, Address: srv.Addr()}

	err = drv.StopService(context.Background(), target, drivers.SchedulerService)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "running/Automatic")

	err = drv.RestoreService(context.Background(), target, drivers.SchedulerService, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Manual})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "want stopped/Manual")
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	drv, err := winrm.New(winrm.Config{PlainHTTP: true, Username: testUser, Password: drivers.NewSecret(testPassword), Timeout: 5 * time.Second})
	require.NoError(t, err)
	start := time.Now()
	err = drv.StopService(context.Background(), drivers.Target{Name: "gone", Address: addr}, drivers.SchedulerService)
	require.ErrorIs(t, err, drivers.ErrUnavailable)
	assert.True(t, drivers.IsRetryable(err))
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.NotContains(t, err.Error(), testPassword)
}

// TestTimeoutAfterCommandSentIsNotUnavailable checks promptness over a real
// loopback connection; timeout_test.go checks exact timings in virtual time.
func TestTimeoutAfterCommandSentIsNotUnavailable(t *testing.T) {
	f := newFixture(t, func(c *winrm.Config) { c.Timeout = 300 * time.Millisecond })
	f.srv.AddFault(winrmtest.Fault{Action: winrmtest.ActionReceive, Delay: time.Minute})
	start := time.Now()
	err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
	elapsed := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, drivers.ErrUnavailable, "the command was sent: it may have run")
	assert.Less(t, elapsed, 2*time.Second, "the call must return promptly after Config.Timeout")
	assert.Len(t, f.srv.Scripts(), 1)
}

func TestServerErrorsBeforeTheCommandAreUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault winrmtest.Fault
	}{
		{"create 500 fault", winrmtest.Fault{Action: winrmtest.ActionCreate, Status: http.StatusInternalServerError}},
		{"create 503 plain", winrmtest.Fault{Action: winrmtest.ActionCreate, Status: http.StatusServiceUnavailable}},
		{"command 500 fault", winrmtest.Fault{Action: winrmtest.ActionCommand, Status: http.StatusInternalServerError}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.srv.AddFault(tc.fault)
			err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
			require.ErrorIs(t, err, drivers.ErrUnavailable)
			s, _ := f.svcs.Get(testHost, "OutSystems Scheduler")
			assert.Equal(t, drivers.Running, s.Run, "the script must not have run")
		})
	}
}

func TestReceiveFailureIsNotUnavailable(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.AddFault(winrmtest.Fault{Action: winrmtest.ActionReceive, Status: http.StatusBadGateway})
	err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
	require.Error(t, err)
	assert.NotErrorIs(t, err, drivers.ErrUnavailable, "the command ran before the output was lost")
}

func TestConcurrentCalls(t *testing.T) {
	f := newFixture(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := []drivers.Service{drivers.SchedulerService, drivers.DeploymentService, drivers.DeploymentControllerService}[i%3]
			_, err := f.drv.ServiceState(context.Background(), f.target, svc)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, f.srv.Scripts(), 30)
	assert.Zero(t, f.srv.OpenShells())
}

func TestPasswordNeverLeaks(t *testing.T) {
	f := newFixture(t, func(c *winrm.Config) { c.Password = drivers.NewSecret(testPassword) })
	ctx := context.Background()
	var errs []error
	f.srv.AddFault(winrmtest.Fault{Action: winrmtest.ActionCreate, Status: http.StatusInternalServerError, Times: 1})
	_, err := f.drv.ServiceState(ctx, f.target, drivers.SchedulerService)
	errs = append(errs, err)
	_, err = f.drv.ServiceState(ctx, drivers.Target{Name: "bad", Address: "bad host"}, drivers.SchedulerService)
	errs = append(errs, err)
	require.NoError(t, f.drv.StopService(ctx, f.target, drivers.SchedulerService))
	for _, err := range errs {
		require.Error(t, err)
		assert.NotContains(t, err.Error(), testPassword)
	}
	assert.NotEmpty(t, f.logs.String())
	assert.NotContains(t, f.logs.String(), testPassword)
	assert.True(t, errors.Is(errs[1], drivers.ErrInvalidArgument))
}

func TestHTTPS(t *testing.T) {
	svcs := &winrmtest.MapServices{}
	svcs.Add(testHost, winrmtest.Service{Name: "sched", DisplayName: "OutSystems Scheduler Service", Run: drivers.Running, Startup: drivers.Automatic})
	srv := winrmtest.NewServer(winrmtest.Config{Host: testHost, Services: svcs, Username: testUser, Password: testPassword, TLS: true})
	defer srv.Close()
	target := drivers.Target{Name: testHost, Address: srv.Addr()}
	ctx := context.Background()

	t.Run("verified by default", func(t *testing.T) {
		drv, err := winrm.New(winrm.Config{Username: testUser, Password: drivers.NewSecret(testPassword), Timeout: 5 * time.Second})
		require.NoError(t, err)
		_, err = drv.ServiceState(ctx, target, drivers.SchedulerService)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "certificate")
		assert.NotErrorIs(t, err, drivers.ErrUnavailable, "an untrusted certificate is not transient")
		assert.Empty(t, srv.Scripts())
	})
	t.Run("CACert", func(t *testing.T) {
		drv, err := winrm.New(winrm.Config{Username: testUser, Password: drivers.NewSecret(testPassword), CACert: srv.CACertPEM(), Timeout: 5 * time.Second})
		require.NoError(t, err)
		st, err := drv.ServiceState(ctx, target, drivers.SchedulerService)
		require.NoError(t, err)
		assert.Equal(t, drivers.Running, st.Run)
	})
	t.Run("Insecure", func(t *testing.T) {
		drv, err := winrm.New(winrm.Config{Username: testUser, Password: drivers.NewSecret(testPassword), Insecure: true, Timeout: 5 * time.Second})
		require.NoError(t, err)
		require.NoError(t, drv.StopService(ctx, target, drivers.SchedulerService))
	})
}

func TestNTLMTransportIsUsed(t *testing.T) {
	// The NTLM transport (go-ntlmssp) first sends each request without
	// credentials and negotiates only when the server asks for NTLM; a
	// Basic-only server (like the fake) gets Basic on the retry. The
	// anonymous first attempts show the NTLM transport is in use.
	f := newFixture(t, func(c *winrm.Config) { c.Auth = winrm.AuthNTLM })
	_, err := f.drv.ServiceState(context.Background(), f.target, drivers.SchedulerService)
	require.NoError(t, err)
	assert.Positive(t, f.srv.Refused())

	b := newFixture(t, nil)
	_, err = b.drv.ServiceState(context.Background(), b.target, drivers.SchedulerService)
	require.NoError(t, err)
	assert.Zero(t, b.srv.Refused())
}
