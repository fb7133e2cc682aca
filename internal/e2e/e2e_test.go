package e2e_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/httpprobe"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/internal/haproxytest"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Canary secrets: they must reach the fakes (which refuse anything else)
// and appear in no log line and no error.
const (
	winrmUser     = `FARM\deployer`
	canaryPW      = "canary-winrm-pw-7Qx2v9"
	canaryToken   = "canary-lifetime-token-K3m8Zr"
	portal        = "Portal"
	oldV, newV    = "v1", "v2"
	sourceEnv     = "Quality"
	targetEnv     = "Production"
	loadRate      = 250
	backendsCount = 6
)

// world is one deployment of v2 over six real backends behind a real
// HAProxy, under load, with every driver a real client over loopback.
type world struct {
	hf       *httpfarm.Farm
	lb       *haproxytest.HAProxy
	winrm    *winrm.Driver
	fakes    map[string]*winrmtest.Server // WinRM fake per server name
	lifetime *lifetimetest.Server
	servers  []farm.Server
	logs     *lockedBuffer
	errs     *errorLog

	report *farm.Report
	runErr error
	load   httpfarm.Result
	ended  time.Time // when the plan finished
}

// deployEveryDriver builds the world, runs steps.Balanced (edited by edit,
// if not nil) under load and returns what happened.
func deployEveryDriver(t *testing.T, edit func(*farm.Plan)) *world {
	t.Helper()
	w := &world{logs: &lockedBuffer{}, errs: &errorLog{}, fakes: map[string]*winrmtest.Server{}}
	logger := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	w.hf = httpfarm.New(t, httpfarm.Config{Backends: backendsCount, Version: oldV,
		PublishDelay: 300 * time.Millisecond, InstallDuration: time.Second,
		Logger: logger.With("component", "httpfarm")})
	w.lb = haproxytest.Start(t, w.hf.Backends(), haproxytest.Options{Logger: logger.With("driver", "haproxy")})

	// WinRM: one fake WS-Management server per front-end, over HTTPS, whose
	// services are the backends' own; the server's Address routes the
	// client to it.
	w.servers = w.hf.Servers()
	for i, s := range w.servers {
		srv := winrmtest.NewServer(winrmtest.Config{
			Host:     s.Name,
			Services: winrmtest.ControllerServices{Controller: w.hf.Services()},
			Username: winrmUser, Password: canaryPW, TLS: true,
		})
		t.Cleanup(srv.Close)
		w.fakes[s.Name] = srv
		w.servers[i].Address = srv.Addr()
	}
	var err error
	w.winrm, err = winrm.New(winrm.Config{
		CACert:   w.fakes[w.servers[0].Name].CACertPEM(),
		Username: winrmUser, Password: drivers.NewSecret(canaryPW),
		Timeout: 10 * time.Second, Logger: logger.With("driver", "winrm"),
	})
	require.NoError(t, err)

	// LifeTime: a fake over HTTPS whose deployments install on the backends.
	w.lifetime = lifetimetest.NewTLSServer(lifetimetest.Config{
		Token:   canaryToken,
		Backend: lifetimetest.PlatformBackend{Platform: w.hf.Platform(), PollInterval: 50 * time.Millisecond},
		Applications: []lifetimetest.Application{{
			Name: portal, Versions: []string{oldV, newV},
			Running: map[string]string{sourceEnv: newV, targetEnv: oldV},
		}},
	})
	t.Cleanup(w.lifetime.Close)
	lt, err := lifetime.New(lifetime.Config{
		BaseURL: w.lifetime.URL, CACert: w.lifetime.CACertPEM(), Token: drivers.NewSecret(canaryToken),
		SourceEnvironment: sourceEnv, TargetEnvironment: targetEnv, Applications: []string{portal},
		Timeout: 5 * time.Second, CleanupTimeout: 5 * time.Second,
		Logger: logger.With("driver", "lifetime"),
	})
	require.NoError(t, err)

	// Probes: straight to each backend, version in httpfarm's header.
	probe, err := httpprobe.New(httpprobe.Config{VersionHeader: httpfarm.HeaderVersion, Timeout: 2 * time.Second,
		Logger: logger.With("driver", "httpprobe")})
	require.NoError(t, err)

	// Transient faults, so that errors really pass through the drivers,
	// the engine's retries and the logs: the first shell on fe2 is refused
	// (nothing ran: retryable), and the first status read of the
	// deployment answers 503.
	w.fakes["fe2"].Inject(fault.Fault{Op: winrmtest.ActionCreate, Status: http.StatusInternalServerError, Times: 1})
	w.lifetime.Inject(fault.Fault{Op: http.MethodGet, Target: "/status/", Status: http.StatusServiceUnavailable, Times: 1})

	fm, err := farm.New(farm.Config{Zones: farm.AutoSplit(w.servers), LoadBalancer: recordLB{next: w.lb.Driver, log: w.errs}})
	require.NoError(t, err)
	require.Len(t, fm.Zones(), 1)
	require.Len(t, fm.Zones()[0].Updating.Servers, backendsCount/2)
	require.Len(t, fm.Zones()[0].Loaded.Servers, backendsCount/2)

	plan, err := steps.Balanced(fm, httpfarm.Timings(steps.Config{
		Services: recordServices{next: w.winrm, log: w.errs},
		Platform: recordPlatform{next: lt, log: w.errs},
		Prober:   recordProber{next: probe, log: w.errs},
		Release:  drivers.Release{Version: newV, Applications: []drivers.Application{{Name: portal, Version: newV}}, Notes: "CHG-1"},
		Plan: farm.PlanConfig{
			Observer: farm.SlogObserver(logger.With("component", "engine")),
			Retry:    farm.RetryPolicy{InitialBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
		},
	}))
	require.NoError(t, err)
	if edit != nil {
		edit(plan)
	}

	load := httpfarm.StartLoad(t, httpfarm.LoadConfig{URL: w.lb.Frontend, Rate: loadRate,
		MinDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond})
	time.Sleep(300 * time.Millisecond) // steady load before the run
	w.report, w.runErr = plan.Run(t.Context())
	w.ended = time.Now()
	time.Sleep(500 * time.Millisecond) // and after it
	w.load = load.Stop()

	var buf bytes.Buffer
	if w.report != nil {
		_ = w.report.Write(&buf)
	}
	t.Logf("load: %s; install hits %d; run error %v\n%s", w.load, w.hf.InstallHits(), w.runErr, buf.String())
	return w
}

// TestEveryDriverOverLoopback runs steps.Balanced with every driver a real
// client over loopback (WinRM, LifeTime, HTTP probes, HAProxy) under 250
// requests per second, and checks zero failed requests and the exact end
// state, read back through the drivers.
func TestEveryDriverOverLoopback(t *testing.T) {
	w := deployEveryDriver(t, nil)
	require.NoError(t, w.runErr)
	require.NotNil(t, w.report)
	assert.Equal(t, farm.Succeeded, w.report.Outcome)

	t.Run("load", func(t *testing.T) {
		res := w.load
		assert.GreaterOrEqual(t, res.Rate(), 200.0, "the load must stay at >= 200 req/s")
		assert.GreaterOrEqual(t, res.Duration, w.ended.Sub(w.report.Started), "the load covers the whole run")
		assert.Zero(t, res.Failed, "no request may fail: causes %v", res.Causes)
		assert.Zero(t, w.hf.InstallHits(), "no user request may reach a backend while it installs")
		assert.Positive(t, res.Versions[oldV], "clients were served v1 before the switch")
		assert.Positive(t, res.Versions[newV], "clients are served v2 after the switch")
		assert.Empty(t, res.Regressions(oldV, newV), "no client may go back from v2 to v1")
		for _, s := range res.Samples {
			if s.Start.After(w.ended) {
				assert.Equal(t, newV, s.Version, "a request started after the run got %q from %s (%s)", s.Version, s.Backend, s.Err)
			}
		}
	})

	t.Run("end state", func(t *testing.T) {
		ctx := t.Context()
		for _, b := range w.hf.Backends() {
			assert.Equal(t, newV, b.Version(), b.Name())
			assert.False(t, b.Installing(), b.Name())
		}
		st, err := w.lb.Driver.Status(ctx)
		require.NoError(t, err)
		require.Len(t, st, backendsCount)
		for _, s := range st {
			assert.Equal(t, drivers.Serving, s.State, s.Member)
			assert.Equal(t, drivers.Healthy, s.Health, s.Member)
		}
		want := drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}
		for _, s := range w.servers {
			svcs := []drivers.Service{drivers.SchedulerService, drivers.DeploymentService}
			if s.DeploymentController {
				svcs = append(svcs, drivers.DeploymentControllerService)
			}
			for _, svc := range svcs {
				got, err := w.winrm.ServiceState(ctx, s.Target(), svc)
				if assert.NoError(t, err, "%s %s", s.Name, svc) {
					assert.Equal(t, want, got, "%s %s through WinRM", s.Name, svc)
				}
			}
		}
	})

	t.Run("wire", func(t *testing.T) {
		// Every service call went through the WinRM fakes, authenticated,
		// as one of the driver's script shapes.
		for name, srv := range w.fakes {
			assert.NotEmpty(t, srv.Scripts(), "%s: no script reached the WinRM fake", name)
			assert.Empty(t, srv.Unrecognised(), "%s: unrecognised scripts", name)
			assert.Zero(t, srv.Refused(), "%s: requests refused 401", name)
			assert.Zero(t, srv.OpenShells(), "%s: shells left open", name)
		}
		stops := 0
		for _, sc := range w.fakes["fe4"].Scripts() { // a Loaded server
			if sc.Op == winrmtest.OpStop {
				stops++
			}
		}
		assert.Equal(t, 2, stops, "fe4: Scheduler and Deployment stopped through WinRM")

		// LifeTime saw one deployment plan created and started, with the
		// token on every request, and it ran on the backends.
		deps := w.lifetime.Deployments()
		require.Len(t, deps, 1, "one LifeTime deployment")
		d := deps[0]
		assert.Equal(t, drivers.DeploymentSucceeded, d.State)
		assert.Equal(t, sourceEnv, d.Source)
		assert.Equal(t, targetEnv, d.Target)
		assert.Equal(t, newV, d.Release.Version)
		assert.Equal(t, 1, w.lifetime.Count(http.MethodPost, "/deployments/"), "deployment created once")
		assert.Equal(t, 1, w.lifetime.Count(http.MethodPost, "/deployments/"+d.Key+"/start/"), "deployment started once")
		assert.Positive(t, w.lifetime.Count(http.MethodGet, "/deployments/"+d.Key+"/status/"))
		assert.Equal(t, newV, w.lifetime.Running(targetEnv, portal))
		for _, r := range w.lifetime.Requests() {
			assert.True(t, r.Authorized, "%s %s without the token", r.Method, r.Path)
		}
	})

	t.Run("secrets", func(t *testing.T) {
		logs := w.logs.String()
		// The capture really holds every driver's lines and the engine's.
		for _, src := range []string{`"driver":"winrm"`, `"driver":"lifetime"`, `"driver":"httpprobe"`, `"driver":"haproxy"`, `"component":"engine"`} {
			assert.Contains(t, logs, src, "no log line from %s", src)
		}
		// The injected faults produced errors, and the engine logged them.
		errs := w.errs.Errors()
		assert.True(t, containsAny(errs, "services:"), "the WinRM fault produced no error: %q", errs)
		assert.True(t, containsAny(errs, "platform:"), "the LifeTime fault produced no error: %q", errs)
		assert.Contains(t, logs, `"event":"action-retry"`, "the engine's retries are logged")

		everything := []string{logs, errString(w.runErr), reportJSON(t, w.report)}
		everything = append(everything, errs...)
		for _, secret := range secretForms() {
			for _, text := range everything {
				assert.NotContains(t, text, secret, "a secret leaked")
			}
		}
	})
}

// TestEveryDriverOverLoopbackNegative is the negative control: the same
// world with the drain-updating step removed, so the Updating servers install
// while HAProxy still sends them requests. The load checks of
// TestEveryDriverOverLoopback must see it.
func TestEveryDriverOverLoopbackNegative(t *testing.T) {
	w := deployEveryDriver(t, func(p *farm.Plan) { require.NoError(t, p.Remove(steps.DrainUpdating)) })
	assert.Greater(t, w.load.Failed, 0, "without draining, requests must fail: %s", w.load)
	assert.Positive(t, w.hf.InstallHits(), "without draining, user requests reach installing backends")
}

// secretForms returns the canary secrets as they could leak: as given, and
// as the Basic authorization header carries the password.
func secretForms() []string {
	return []string{
		canaryPW,
		canaryToken,
		base64.StdEncoding.EncodeToString([]byte(winrmUser + ":" + canaryPW)),
	}
}

func containsAny(texts []string, sub string) bool {
	for _, s := range texts {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func reportJSON(t *testing.T, r *farm.Report) string {
	t.Helper()
	if r == nil {
		return ""
	}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	var text bytes.Buffer
	require.NoError(t, r.Write(&text))
	return string(b) + "\n" + text.String()
}
