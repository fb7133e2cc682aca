package winrm_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
	"github.com/balanced-deploy/balanced/fault"
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
		f.srv.Inject(fault.Fault{Op: winrmtest.ActionCommand, Err: winrmtest.CommandFailed{Stderr: "Stop-Service : Access is denied\r\n", ExitCode: 1}})
		err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
		require.ErrorIs(t, err, drivers.ErrPermissionDenied)
	})
}

func TestScriptFailureReported(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.Inject(fault.Fault{Op: winrmtest.ActionCommand,
		Err: winrmtest.CommandFailed{Stderr: winrmtest.CLIXMLError("Service 'OutSystems Scheduler' cannot be stopped: a dependent service is running"), ExitCode: 1}})
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
	srv := winrmtest.NewServer(winrmtest.Config{Host: testHost, Services: lyingServices{svcs}, Username: testUser, Password: testPassword})
	defer srv.Close()
	// Negotiate over plain HTTP: every message encrypted with NTLM.
	drv, err := winrm.New(winrm.Config{PlainHTTP: true, Username: testUser, Password: drivers.NewSecret(testPassword), Timeout: 5 * time.Second})
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
	f.srv.Inject(fault.Fault{Op: winrmtest.ActionReceive, Latency: time.Minute})
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
		fault fault.Fault
	}{
		{"create 500 fault", fault.Fault{Op: winrmtest.ActionCreate, Status: http.StatusInternalServerError}},
		{"create 503 plain", fault.Fault{Op: winrmtest.ActionCreate, Status: http.StatusServiceUnavailable}},
		{"command 500 fault", fault.Fault{Op: winrmtest.ActionCommand, Status: http.StatusInternalServerError}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			f.srv.Inject(tc.fault)
			err := f.drv.StopService(context.Background(), f.target, drivers.SchedulerService)
			require.ErrorIs(t, err, drivers.ErrUnavailable)
			s, _ := f.svcs.Get(testHost, "OutSystems Scheduler")
			assert.Equal(t, drivers.Running, s.Run, "the script must not have run")
		})
	}
}

func TestReceiveFailureIsNotUnavailable(t *testing.T) {
	f := newFixture(t, nil)
	f.srv.Inject(fault.Fault{Op: winrmtest.ActionReceive, Status: http.StatusBadGateway})
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
	f.srv.Inject(fault.Fault{Op: winrmtest.ActionCreate, Status: http.StatusInternalServerError, Times: 1})
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

// The authentication tests below run the driver against winrmtest servers
// configured as Windows hosts are ("Authentication for Remote Connections"
// and "Installation and configuration for Windows Remote Management",
// Microsoft docs): a stock host offers Negotiate only, refuses Basic, and
// over plain HTTP refuses messages not encrypted with NTLM.

func stockServer(t *testing.T, cfg winrmtest.Config) (*winrmtest.Server, drivers.Target) {
	t.Helper()
	svcs := &winrmtest.MapServices{}
	svcs.Add(testHost, winrmtest.Service{Name: "sched", DisplayName: "OutSystems Scheduler Service", Run: drivers.Running, Startup: drivers.Automatic})
	cfg.Host, cfg.Services = testHost, svcs
	if cfg.Username == "" {
		cfg.Username, cfg.Password = testUser, testPassword
	}
	srv := winrmtest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv, drivers.Target{Name: testHost, Address: srv.Addr()}
}

func TestDefaultIsNegotiateOverVerifiedHTTPS(t *testing.T) {
	srv, target := stockServer(t, winrmtest.Config{TLS: true})
	drv, err := winrm.New(winrm.Config{Username: testUser, Password: drivers.NewSecret(testPassword), CACert: srv.CACertPEM(), Timeout: 5 * time.Second})
	require.NoError(t, err)
	st, err := drv.ServiceState(context.Background(), target, drivers.SchedulerService)
	require.NoError(t, err)
	assert.Equal(t, drivers.Running, st.Run)
	for _, why := range srv.Refusals() {
		assert.NotContains(t, why, "Basic", "the default must not try Basic")
	}
	assert.Zero(t, srv.EncryptedRequests(), "HTTPS needs no message encryption")
}

func TestNegotiateOverPlainHTTPIsEncrypted(t *testing.T) {
	for _, user := range []string{testUser, `FARM\` + testUser, testUser + "@farm.example"} {
		t.Run(user, func(t *testing.T) {
			srv, target := stockServer(t, winrmtest.Config{Username: user, Password: testPassword})
			drv, err := winrm.New(winrm.Config{PlainHTTP: true, Username: user, Password: drivers.NewSecret(testPassword), Timeout: 5 * time.Second})
			require.NoError(t, err)
			require.NoError(t, drv.StopService(context.Background(), target, drivers.SchedulerService))
			assert.Positive(t, srv.EncryptedRequests(), "a stock host accepts only encrypted messages over HTTP")
			for _, why := range srv.Refusals() {
				assert.NotContains(t, why, "unencrypted SOAP")
			}
			assert.Len(t, srv.Scripts(), 1)
		})
	}
}

func TestBasicIsRefusedByAStockHost(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain HTTP %v", plain), func(t *testing.T) {
			srv, target := stockServer(t, winrmtest.Config{TLS: !plain})
			drv, err := winrm.New(winrm.Config{Auth: winrm.AuthBasic, PlainHTTP: plain, CACert: srv.CACertPEM(),
				Username: testUser, Password: drivers.NewSecret(testPassword), Timeout: 5 * time.Second})
			require.NoError(t, err)
			_, err = drv.ServiceState(context.Background(), target, drivers.SchedulerService)
			require.ErrorIs(t, err, drivers.ErrPermissionDenied)
			assert.Contains(t, err.Error(), "Basic=false", "the 401 must name the likely cause")
			assert.Contains(t, err.Error(), "local accounts")
			if plain {
				assert.Contains(t, err.Error(), "AllowUnencrypted")
			}
			assert.NotContains(t, err.Error(), testPassword)
			assert.Empty(t, srv.Scripts())
		})
	}
}

func TestBasicWhenTheHostAllowsIt(t *testing.T) {
	t.Run("https", func(t *testing.T) {
		srv, target := stockServer(t, winrmtest.Config{TLS: true, AllowBasic: true})
		drv, err := winrm.New(winrm.Config{Auth: winrm.AuthBasic, CACert: srv.CACertPEM(), Username: testUser, Password: drivers.NewSecret(testPassword)})
		require.NoError(t, err)
		_, err = drv.ServiceState(context.Background(), target, drivers.SchedulerService)
		require.NoError(t, err)
	})
	t.Run("plain HTTP needs AllowUnencrypted", func(t *testing.T) {
		srv, target := stockServer(t, winrmtest.Config{AllowBasic: true})
		drv, err := winrm.New(winrm.Config{Auth: winrm.AuthBasic, PlainHTTP: true, Username: testUser, Password: drivers.NewSecret(testPassword)})
		require.NoError(t, err)
		_, err = drv.ServiceState(context.Background(), target, drivers.SchedulerService)
		require.ErrorIs(t, err, drivers.ErrPermissionDenied)
		assert.Contains(t, err.Error(), "AllowUnencrypted=true")
		assert.Contains(t, strings.Join(srv.Refusals(), "\n"), "AllowUnencrypted")

		srv2, target2 := stockServer(t, winrmtest.Config{AllowBasic: true, AllowUnencrypted: true})
		_, err = drv.ServiceState(context.Background(), target2, drivers.SchedulerService)
		require.NoError(t, err)
		assert.Len(t, srv2.Scripts(), 1)
	})
	t.Run("domain accounts never", func(t *testing.T) {
		srv, target := stockServer(t, winrmtest.Config{TLS: true, AllowBasic: true, Username: `FARM\` + testUser, Password: testPassword})
		drv, err := winrm.New(winrm.Config{Auth: winrm.AuthBasic, CACert: srv.CACertPEM(), Username: `FARM\` + testUser, Password: drivers.NewSecret(testPassword)})
		require.NoError(t, err)
		_, err = drv.ServiceState(context.Background(), target, drivers.SchedulerService)
		require.ErrorIs(t, err, drivers.ErrPermissionDenied)
		assert.Contains(t, strings.Join(srv.Refusals(), "\n"), "local accounts")
	})
}

func TestWrongNTLMPasswordNamesTheCause(t *testing.T) {
	for _, plain := range []bool{false, true} {
		t.Run(fmt.Sprintf("plain HTTP %v", plain), func(t *testing.T) {
			srv, target := stockServer(t, winrmtest.Config{TLS: !plain})
			drv, err := winrm.New(winrm.Config{PlainHTTP: plain, CACert: srv.CACertPEM(), Username: testUser,
				Password: drivers.NewSecret("wrong-Pa55"), Timeout: 5 * time.Second})
			require.NoError(t, err)
			_, err = drv.ServiceState(context.Background(), target, drivers.SchedulerService)
			require.ErrorIs(t, err, drivers.ErrPermissionDenied)
			assert.Contains(t, err.Error(), `DOMAIN\user`)
			assert.Contains(t, strings.Join(srv.Refusals(), "\n"), "does not match the password")
			assert.Empty(t, srv.Scripts())
			if plain {
				assert.Contains(t, err.Error(), "AllowUnencrypted")
			}
		})
	}
}

func TestAuthConfigRefused(t *testing.T) {
	krb5 := filepath.Join(t.TempDir(), "krb5.conf")
	require.NoError(t, os.WriteFile(krb5, []byte("[libdefaults]\n default_realm = FARM.EXAMPLE\n"), 0o600))
	dial := func(string, string) (net.Conn, error) { return nil, errors.New("unused") }
	pw := drivers.NewSecret(testPassword)
	tests := []struct {
		name string
		cfg  winrm.Config
		want string
	}{
		{"encryption cannot dial", winrm.Config{PlainHTTP: true, Username: "u", Password: pw, Dial: dial}, "Config.Dial"},
		{"kerberos needs a realm", winrm.Config{Auth: winrm.AuthKerberos, Username: "u", Password: pw, Kerberos: winrm.Kerberos{ConfigPath: krb5}}, "Realm"},
		{"kerberos realm syntax", winrm.Config{Auth: winrm.AuthKerberos, Username: "u", Password: pw, Kerberos: winrm.Kerberos{Realm: "A B", ConfigPath: krb5}}, `"A B"`},
		{"kerberos needs HTTPS", winrm.Config{Auth: winrm.AuthKerberos, PlainHTTP: true, Username: "u", Password: pw, Kerberos: winrm.Kerberos{Realm: "FARM.EXAMPLE", ConfigPath: krb5}}, "plain HTTP"},
		{"kerberos cannot dial", winrm.Config{Auth: winrm.AuthKerberos, Username: "u", Password: pw, Dial: dial, Kerberos: winrm.Kerberos{Realm: "FARM.EXAMPLE", ConfigPath: krb5}}, "Config.Dial"},
		{"kerberos config file", winrm.Config{Auth: winrm.AuthKerberos, Username: "u", Password: pw, Kerberos: winrm.Kerberos{Realm: "FARM.EXAMPLE", ConfigPath: krb5 + ".missing"}}, "ConfigPath"},
		{"kerberos needs a secret", winrm.Config{Auth: winrm.AuthKerberos, Username: "u", Kerberos: winrm.Kerberos{Realm: "FARM.EXAMPLE", ConfigPath: krb5}}, "CCachePath"},
		{"kerberos settings without kerberos", winrm.Config{Username: "u", Password: pw, Kerberos: winrm.Kerberos{Realm: "FARM.EXAMPLE"}}, "Config.Kerberos"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := winrm.New(tt.cfg)
			require.ErrorIs(t, err, drivers.ErrInvalidArgument)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), testPassword)
		})
	}
	// A complete Kerberos configuration is accepted. Nothing beyond this is
	// tested: a Kerberos sign-in needs a KDC, which the tests do not have.
	_, err := winrm.New(winrm.Config{Auth: winrm.AuthKerberos, Username: `FARM\u`, Password: pw, Kerberos: winrm.Kerberos{Realm: "FARM.EXAMPLE", ConfigPath: krb5}})
	require.NoError(t, err)
}

// TestReceiveStreamsAndTimedOut runs a script whose output arrives over
// several Receive calls after two w:TimedOut answers (MS-WSMV 3.1.4.14: the
// server answers a Receive with that fault when the command printed nothing
// within the OperationTimeout, and the client asks again), through each
// transport the driver uses.
func TestReceiveStreamsAndTimedOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  winrmtest.Config
		cfg  func(*winrm.Config, *winrmtest.Server)
	}{
		{"negotiate over HTTPS", winrmtest.Config{TLS: true}, func(c *winrm.Config, s *winrmtest.Server) { c.CACert = s.CACertPEM() }},
		{"negotiate over HTTP, encrypted", winrmtest.Config{}, func(c *winrm.Config, _ *winrmtest.Server) { c.PlainHTTP = true }},
		{"basic over HTTPS", winrmtest.Config{TLS: true, AllowBasic: true}, func(c *winrm.Config, s *winrmtest.Server) {
			c.CACert, c.Auth = s.CACertPEM(), winrm.AuthBasic
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.srv.NoOutputReceives = 2
			srv, target := stockServer(t, tc.srv)
			cfg := winrm.Config{Username: testUser, Password: drivers.NewSecret(testPassword), Timeout: 5 * time.Second}
			tc.cfg(&cfg, srv)
			drv, err := winrm.New(cfg)
			require.NoError(t, err)
			require.NoError(t, drv.StopService(context.Background(), target, drivers.SchedulerService))
			assert.Equal(t, 2+2, srv.Receives(), "2 timed out, the state line, the Done answer")
			assert.Zero(t, srv.OpenShells())
		})
	}
}
