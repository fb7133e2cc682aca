package nginx_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeOSS builds a driver whose test and reload commands are shell snippets,
// so the file handling is tested without NGINX. Each command appends its
// name to a log file.
func fakeOSS(t *testing.T, testScript, reloadScript string, mutate ...func(*nginx.OSSConfig)) (*nginx.OSS, string, func() []string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	cfg := nginx.OSSConfig{
		File:          filepath.Join(dir, "upstream.conf"),
		Upstream:      "backend",
		Members:       []nginx.Member{{Name: "fe1", Address: "10.0.0.1:80"}, {Name: "fe2", Address: "10.0.0.2:80"}, {Name: "fe3"}},
		TestCommand:   []string{"/bin/sh", "-c", "echo test >> " + log + "; " + testScript},
		ReloadCommand: []string{"/bin/sh", "-c", "echo reload >> " + log + "; " + reloadScript},
		ReloadSettle:  time.Millisecond,
		DrainPeriod:   time.Minute,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	d, err := nginx.NewOSS(cfg)
	require.NoError(t, err)
	calls := func() []string {
		b, _ := os.ReadFile(log)
		return strings.Fields(string(b))
	}
	return d, cfg.File, calls
}

func states(t *testing.T, d *nginx.OSS) map[string]drivers.MemberState {
	t.Helper()
	all, err := d.Status(t.Context())
	require.NoError(t, err)
	out := map[string]drivers.MemberState{}
	for _, s := range all {
		assert.False(t, s.ConnectionsKnown, "open-source NGINX never knows connections")
		assert.Equal(t, drivers.HealthUnknown, s.Health)
		out[s.Member] = s.State
	}
	return out
}

func TestOSSInitAndSetState(t *testing.T) {
	d, file, calls := fakeOSS(t, "true", "true")
	require.NoError(t, d.Init(t.Context()))
	require.NoError(t, d.Init(t.Context()), "Init is idempotent")
	assert.Empty(t, calls(), "Init neither tests nor reloads")
	_, err := os.Stat(file + ".prev")
	assert.ErrorIs(t, err, os.ErrNotExist, "first write has no previous file")

	require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe2"))
	assert.Equal(t, []string{"test", "reload"}, calls())
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(text), "server 10.0.0.2:80 down; # member=fe2 state=out\n")
	assert.Contains(t, string(text), "server fe3; # member=fe3 state=serving\n", "an empty address means the member name")
	prev, err := os.ReadFile(file + ".prev")
	require.NoError(t, err)
	assert.Contains(t, string(prev), "server 10.0.0.2:80; # member=fe2 state=serving\n", "the previous file is kept")

	require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe2"))
	assert.Len(t, calls(), 2, "a state that already holds does not reload")
	assert.Equal(t, map[string]drivers.MemberState{"fe1": drivers.Serving, "fe2": drivers.Out, "fe3": drivers.Serving}, states(t, d))

	require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe2"))
	assert.Equal(t, drivers.Draining, states(t, d)["fe2"])
	require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe2"))
	assert.Equal(t, drivers.Out, states(t, d)["fe2"])
	assert.Len(t, calls(), 2, "out <-> draining writes the same directives: no test, no reload")

	// A new driver on the same file (a resumed run) reads the same states.
	d2, err := nginx.NewOSS(nginx.OSSConfig{File: file, Upstream: "backend", MainConfig: "/x",
		Members: []nginx.Member{{Name: "fe1", Address: "10.0.0.1:80"}, {Name: "fe2", Address: "10.0.0.2:80"}, {Name: "fe3"}}})
	require.NoError(t, err)
	assert.Equal(t, states(t, d), states(t, d2))
}

func TestOSSRollsBackRefusedFile(t *testing.T) {
	d, file, calls := fakeOSS(t, `echo 'nginx: [emerg] invalid value "x" in /etc/nginx/upstream.conf:3' >&2; exit 1`, "true")
	require.NoError(t, d.Init(t.Context()))
	before, err := os.ReadFile(file)
	require.NoError(t, err)

	err = d.SetState(t.Context(), drivers.Out, "fe1")
	require.Error(t, err)
	assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.False(t, drivers.IsRetryable(err))
	assert.Contains(t, err.Error(), `[emerg] invalid value "x"`, "the error carries nginx's message")
	assert.Equal(t, []string{"test"}, calls(), "no reload after a refused test")
	after, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "the previous file is restored")
	assert.Equal(t, drivers.Serving, states(t, d)["fe1"])
}

func TestOSSRollsBackFailedReload(t *testing.T) {
	d, file, _ := fakeOSS(t, "true", `echo 'nginx: [error] open() "/run/nginx.pid" failed' >&2; exit 1`)
	require.NoError(t, d.Init(t.Context()))
	before, _ := os.ReadFile(file)
	err := d.SetState(t.Context(), drivers.Draining, "fe1", "fe3")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nginx.pid")
	assert.ErrorIs(t, err, drivers.ErrUnavailable, "the reload command failed: nothing changed")
	after, _ := os.ReadFile(file)
	assert.Equal(t, string(before), string(after))
}

func TestOSSPIDFileReloadErrors(t *testing.T) {
	for name, pid := range map[string]string{"missing": "", "garbage": "12x\n", "no such process": "999999999\n"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "nginx.pid")
			if pid != "" {
				require.NoError(t, os.WriteFile(pidFile, []byte(pid), 0o644))
			}
			d, file, _ := fakeOSS(t, "true", "", func(c *nginx.OSSConfig) { c.ReloadCommand = nil; c.PIDFile = pidFile })
			require.NoError(t, d.Init(t.Context()))
			before, _ := os.ReadFile(file)
			err := d.SetState(t.Context(), drivers.Out, "fe1")
			assert.ErrorIs(t, err, drivers.ErrUnavailable, "nginx was not reloaded and the file is rolled back: safe to retry")
			after, _ := os.ReadFile(file)
			assert.Equal(t, string(before), string(after))
		})
	}
}

func TestOSSDrainPeriod(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, _, calls := fakeOSS(t, "true", "true")
		require.NoError(t, d.Init(t.Context()))
		require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe1"))
		assert.Equal(t, drivers.Draining, states(t, d)["fe1"])
		time.Sleep(59 * time.Second)
		require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe1"), "draining again keeps the start of the drain")
		assert.Equal(t, drivers.Draining, states(t, d)["fe1"])
		time.Sleep(time.Second)
		assert.Equal(t, drivers.Out, states(t, d)["fe1"], "after the drain period the member is out")
		n := len(calls())
		require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe1"))
		assert.Len(t, calls(), n, "a drain that has ended is already out: nothing to reload")
		require.NoError(t, d.SetState(t.Context(), drivers.Serving, "fe1"))
		assert.Equal(t, drivers.Serving, states(t, d)["fe1"])
	})
}

func TestOSSRefusesForeignFile(t *testing.T) {
	d, file, _ := fakeOSS(t, "true", "true")
	foreign := "upstream backend {\n    server 10.0.0.1:80;\n}\n"
	require.NoError(t, os.WriteFile(file, []byte(foreign), 0o644))
	assert.ErrorContains(t, d.Init(t.Context()), "not a file written by this driver")
	assert.Error(t, d.SetState(t.Context(), drivers.Out, "fe1"))
	_, err := d.Status(t.Context())
	assert.Error(t, err)
	got, _ := os.ReadFile(file)
	assert.Equal(t, foreign, string(got), "a foreign file is left alone")
}

func TestOSSCanceledContext(t *testing.T) {
	d, _, calls := fakeOSS(t, "true", "true")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, d.SetState(ctx, drivers.Out, "fe1"), context.Canceled)
	assert.ErrorIs(t, d.Init(ctx), context.Canceled)
	_, err := d.Status(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, calls())
}

func TestNewOSSRefusesBadConfig(t *testing.T) {
	good := func() nginx.OSSConfig {
		return nginx.OSSConfig{File: "/tmp/x.conf", Upstream: "u", MainConfig: "/etc/nginx/nginx.conf",
			Members: []nginx.Member{{Name: "fe1", Address: "10.0.0.1:80"}}}
	}
	_, err := nginx.NewOSS(good())
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		mutate func(*nginx.OSSConfig)
		want   string
	}{
		"no file":         {func(c *nginx.OSSConfig) { c.File = "" }, "File is empty"},
		"no main config":  {func(c *nginx.OSSConfig) { c.MainConfig = "" }, "MainConfig is empty"},
		"bad upstream":    {func(c *nginx.OSSConfig) { c.Upstream = "u;" }, `"u;"`},
		"no members":      {func(c *nginx.OSSConfig) { c.Members = nil }, "no members"},
		"bad member":      {func(c *nginx.OSSConfig) { c.Members[0].Name = "fe1\n" }, `"fe1\n"`},
		"bad address":     {func(c *nginx.OSSConfig) { c.Members[0].Address = "10.0.0.1:80; server evil" }, "10.0.0.1:80; server evil"},
		"bad directive":   {func(c *nginx.OSSConfig) { c.Directives = []string{"keepalive 1;"} }, `"keepalive 1;"`},
		"bad param":       {func(c *nginx.OSSConfig) { c.ServerParams = []string{"down"} }, `"down"`},
		"negative period": {func(c *nginx.OSSConfig) { c.DrainPeriod = -time.Second }, "negative"},
		"duplicate":       {func(c *nginx.OSSConfig) { c.Members = append(c.Members, c.Members[0]) }, "twice"},
	} {
		t.Run(name, func(t *testing.T) {
			c := good()
			tc.mutate(&c)
			_, err := nginx.NewOSS(c)
			assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

// TestOSSDrainCountsFromReload: on a busy host the test and reload may take
// longer than the drain period; the drain must still count from the moment
// the reload took effect, or the engine would take the member out while NGINX
// had only just stopped sending it requests.
func TestOSSDrainCountsFromReload(t *testing.T) {
	d, _, _ := fakeOSS(t, "true", "sleep 0.4", func(c *nginx.OSSConfig) { c.DrainPeriod = 300 * time.Millisecond })
	require.NoError(t, d.Init(t.Context()))
	require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe1"))
	assert.Equal(t, drivers.Draining, states(t, d)["fe1"], "the drain period starts when the slow reload returns")
	assert.Eventually(t, func() bool {
		st, err := d.Status(t.Context(), "fe1")
		return err == nil && st[0].State == drivers.Out
	}, 2*time.Second, 20*time.Millisecond)
}

func TestOSSStateFollowsMemberName(t *testing.T) {
	d, file, _ := fakeOSS(t, "true", "true")
	require.NoError(t, d.Init(t.Context()))
	require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe2"))

	moved, err := nginx.NewOSS(nginx.OSSConfig{File: file, Upstream: "backend", MainConfig: "/x",
		TestCommand: []string{"true"}, ReloadCommand: []string{"true"}, ReloadSettle: time.Millisecond,
		Members: []nginx.Member{{Name: "fe1", Address: "10.0.0.1:80"}, {Name: "fe2", Address: "10.0.0.22:80"}, {Name: "fe4", Address: "10.0.0.4:80"}}})
	require.NoError(t, err)
	assert.Equal(t, map[string]drivers.MemberState{"fe1": drivers.Serving, "fe2": drivers.Out, "fe4": drivers.Serving}, states(t, moved),
		"fe2 keeps its state at its new address; fe4 is new and serves; fe3 is no longer managed")
	require.NoError(t, moved.SetState(t.Context(), drivers.Draining, "fe1"))
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(text), "server 10.0.0.22:80 down; # member=fe2 state=out")
	assert.NotContains(t, string(text), "fe3")
}

// TestOSSKeepsFileOnceReloadRequested: once NGINX was asked to reload, it
// reads the file when it does, so the file must keep the new content even
// when the confirmation is cut short.
func TestOSSKeepsFileOnceReloadRequested(t *testing.T) {
	d, file, calls := fakeOSS(t, "true", "true", func(c *nginx.OSSConfig) { c.ReloadSettle = time.Minute })
	require.NoError(t, d.Init(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.SetState(ctx, drivers.Out, "fe1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, drivers.IsRetryable(err), "the change may have taken effect")
	assert.Less(t, time.Since(start), 5*time.Second, "returns promptly")
	assert.Equal(t, []string{"test", "reload"}, calls())
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Contains(t, string(text), "member=fe1 state=out")
	assert.Equal(t, drivers.Out, states(t, d)["fe1"])
}

func TestOSSInterruptedTestRollsBack(t *testing.T) {
	d, file, _ := fakeOSS(t, "sleep 5", "true")
	require.NoError(t, d.Init(t.Context()))
	before, _ := os.ReadFile(file)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := d.SetState(ctx, drivers.Out, "fe1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, drivers.ErrInvalidArgument, "an interrupted test is not a refused file")
	assert.Less(t, time.Since(start), 2*time.Second, "returns promptly")
	after, _ := os.ReadFile(file)
	assert.Equal(t, string(before), string(after))
}

func TestOSSWaitingForLockHonoursContext(t *testing.T) {
	d, _, _ := fakeOSS(t, "true", "sleep 3")
	require.NoError(t, d.Init(t.Context()))
	done := make(chan error, 1)
	go func() { done <- d.SetState(t.Context(), drivers.Out, "fe1") }()
	time.Sleep(time.Second) // the change now holds the lock, reloading for 3 s
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Status(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 1500*time.Millisecond, "Status gives up with its context, not when the change ends")
	require.NoError(t, <-done)
	assert.Equal(t, drivers.Out, states(t, d)["fe1"])
}
