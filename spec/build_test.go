package spec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/spec"
)

// simDrivers returns drivers that must never be called: building and
// describing a plan calls none.
func simDrivers() spec.Drivers {
	sim, err := simulate.New(simulate.Config{})
	if err != nil {
		panic(err)
	}
	return spec.Drivers{
		LoadBalancer: func(string) drivers.LoadBalancer { return sim.LoadBalancer("") },
		Services:     sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
	}
}

func TestBuildWithDescribe(t *testing.T) {
	s, err := parse(base)
	require.NoError(t, err)
	f, plan, err := s.BuildWith(t.Context(), simDrivers())
	require.NoError(t, err)
	assert.Equal(t, []string{"fe01", "fe02"}, f.Zones()[0].Updating.Names())
	var out bytes.Buffer
	require.NoError(t, plan.Describe(&out))
	for _, name := range []string{"Zone east", "fe01 (Deployment Controller)", "fe03", "fe04", "release 2.0"} {
		assert.Contains(t, out.String(), name)
	}
	assert.Contains(t, out.String(), "probe fe02 at https://10.0.0.2/", "default probe URL from the address")
}

// TestBuildRunsWithJournal runs the plan built from a spec over a simulated
// farm and checks the journal file and its lock.
func TestBuildRunsWithJournal(t *testing.T) {
	dir := t.TempDir()
	doc := strings.Replace(base, "journal: deploy.journal", "journal: "+dir+"/deploy.journal", 1) +
		"timeouts: {poll_interval: 1s, deploy_poll_interval: 5s}\n"
	doc = strings.Replace(doc, "timeouts:\n  drain: 2m\n", "", 1)
	s, err := parse(doc)
	require.NoError(t, err)
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Name: "east", Servers: 4}}, Seed: 1})
		require.NoError(t, err)
		var events atomic.Int64
		_, plan, err := s.BuildWith(t.Context(), spec.Drivers{
			LoadBalancer: func(z string) drivers.LoadBalancer { return sim.LoadBalancer(z) },
			Services:     sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
			Observer: event.ObserverFunc(func(event.Event) { events.Add(1) }),
		})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		rep, err := plan.Run(t.Context())
		time.Sleep(10 * time.Second)
		sim.Stop()
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, rep.Outcome)
		assert.Empty(t, sim.CheckEndState(drivers.Release{Version: "2.0"}))
		assert.Positive(t, events.Load())
	})
	recs, err := journal.ReadFile(dir + "/deploy.journal")
	require.NoError(t, err)
	st, err := journal.StateOf(recs)
	require.NoError(t, err)
	assert.Equal(t, farm.Succeeded, st.Outcome)
	assert.Contains(t, st.Label, "2.0")
	assert.NoFileExists(t, dir+"/deploy.journal.lock", "lock released")
}

// TestSecretsNeverPrinted prints a spec and the driver configurations built
// from it every way a program might, and looks for the secrets.
func TestSecretsNeverPrinted(t *testing.T) {
	doc := strings.Replace(base, "  kind: haproxy\n  address: 127.0.0.1:9999\n  network: tcp\n  backend: be_app\n",
		"  kind: f5\n  url: https://bigip.example\n  username: admin\n  password: f5-inline-secret\n  pool: web\n", 1) +
		"allow_inline_secrets: true\n"
	s, err := parse(doc, spec.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	secrets := []string{env["WINRM_PASSWORD"], env["LT_TOKEN"], "f5-inline-secret"}
	require.Equal(t, "f5-inline-secret", s.LoadBalancer.F5.Password.Value.Reveal())

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, *s), fmt.Sprintf(verb, *s.Services), fmt.Sprintf(verb, *s.LoadBalancer.F5))
	}
	js, err := json.Marshal(s)
	require.NoError(t, err)
	outputs = append(outputs, string(js))
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("spec", "spec", s, "services", s.Services)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("spec", "spec", *s)
	outputs = append(outputs, logged.String(), strings.Join(s.Warnings, "\n"))
	for _, cfg := range spec.DriverConfigs(s) {
		for _, verb := range []string{"%v", "%+v", "%#v"} {
			outputs = append(outputs, fmt.Sprintf(verb, cfg))
		}
		b, err := json.Marshal(cfg)
		if err == nil {
			outputs = append(outputs, string(b))
		}
	}
	for _, out := range outputs {
		for _, secret := range secrets {
			assert.NotContains(t, out, secret)
		}
	}
	assert.Contains(t, string(js), `"env":"WINRM_PASSWORD"`, "the reference itself is shown")
	assert.Contains(t, string(js), "[redacted]")
}

// TestSecretNotInErrors checks that decoding errors near an inline secret do
// not quote it (goccy's own messages carry a source excerpt; ours do not).
func TestSecretNotInErrors(t *testing.T) {
	for _, doc := range []string{
		strings.Replace(base, "password: {env: WINRM_PASSWORD}", "password: hunter2-inline\n  bogus: 1", 1),
		strings.Replace(base, "password: {env: WINRM_PASSWORD}", "password: hunter2-inline\n  port: x", 1),
		strings.Replace(base, "password: {env: WINRM_PASSWORD}", "password: hunter2-inline", 1),
		strings.Replace(base, "password: {env: WINRM_PASSWORD}", "password: [hunter2-inline]", 1),
		strings.Replace(base, "password: {env: WINRM_PASSWORD}", `password: "hunter2-inline`, 1),
		strings.Replace(base, "password: {env: WINRM_PASSWORD}", "password: hunter2-inline: y", 1),
		strings.Replace(base, "password: {env: WINRM_PASSWORD}", "password: &a hunter2-inline\n  port: *b", 1),
	} {
		_, err := parse(doc)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "hunter2")
	}
}

// TestNGINXPlusPassword checks that the NGINX Plus password reaches the API
// as basic authentication and never prints with the driver's config.
func TestNGINXPlusPassword(t *testing.T) {
	var gotAuth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		gotAuth.Store(u + ":" + p)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"peers":[{"id":0,"server":"10.0.0.1:80","state":"up","active":0}]}`)
	}))
	defer srv.Close()
	doc := strings.Replace(base, "  kind: haproxy\n  address: 127.0.0.1:9999\n  network: tcp\n  backend: be_app\n",
		"  kind: nginx-plus\n  endpoint: "+srv.URL+"/api\n  upstream: app\n  port: 80\n  username: admin\n  password: {env: F5_PASSWORD}\n", 1)
	s, err := parse(doc)
	require.NoError(t, err)
	f, _, err := s.BuildWith(t.Context(), spec.Drivers{Services: simDrivers().Services, Platform: simDrivers().Platform, Prober: simDrivers().Prober})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, _ = f.Zones()[0].LoadBalancer.Status(ctx, "fe01")
	assert.Equal(t, "admin:"+env["F5_PASSWORD"], gotAuth.Load())
	for _, cfg := range spec.DriverConfigs(s) {
		assert.NotContains(t, fmt.Sprintf("%+v", cfg), env["F5_PASSWORD"])
	}
}

// TestLockKeys checks lock_dir (relative to the spec file) and
// accept_disabled_schedulers reach the plan.
func TestLockKeys(t *testing.T) {
	dir := t.TempDir()
	sp, err := spec.Parse([]byte(base+"lock_dir: locks\naccept_disabled_schedulers: true\n"), spec.WithSource("farm.yaml", dir),
		spec.WithLookupEnv(func(string) (string, bool) { return "secret", true }))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "locks"), sp.LockDir)
	assert.True(t, sp.AcceptDisabledSchedulers)
}
