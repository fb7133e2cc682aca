package f5_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
	"github.com/balanced-deploy/balanced/lbdrivers/lbtest"
	"github.com/stretchr/testify/require"
)

var members = []string{"10.0.0.1:80", "10.0.0.2:80", "fe03.example.com:8080"}

// canary is a password that must never appear in a log line or an error.
const canary = "CANARY-pw-7f3a9c"

// env is a driver wired to a fake.
type env struct {
	fake  *f5test.Server
	store *f5test.MemStore
	lb    *f5.Driver
	logs  *bytes.Buffer
}

// newEnv builds a fake and a driver that reaches it in process (no
// socket), so it also works inside a synctest bubble. mod adjusts the
// driver's config.
func newEnv(t *testing.T, fcfg f5test.Config, mod func(*f5.Config)) *env {
	t.Helper()
	store := f5test.NewMemStore(members...)
	fcfg.Store = store
	if fcfg.Password == "" {
		fcfg.Password = canary
	}
	fake := f5test.New(fcfg)
	logs := &bytes.Buffer{}
	cfg := f5.Config{
		BaseURL:    "https://bigip.test",
		Username:   f5test.DefaultUsername,
		Password:   drivers.NewSecret(canary),
		Pool:       f5test.DefaultPool,
		HTTPClient: fake.Client(),
		Logger:     slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	lb, err := f5.New(cfg)
	require.NoError(t, err)
	return &env{fake: fake, store: store, lb: lb, logs: logs}
}

// noSecrets checks that neither the password nor any token issued by the
// fake appears in the logs or in the given errors.
func (e *env) noSecrets(t *testing.T, errs ...error) {
	t.Helper()
	secrets := append([]string{canary}, e.fake.IssuedTokens()...)
	for _, s := range secrets {
		require.NotContains(t, e.logs.String(), s, "a secret leaked into the logs")
		for _, err := range errs {
			if err != nil {
				require.NotContains(t, err.Error(), s, "a secret leaked into an error")
			}
		}
	}
}

// TestConformance runs the lbtest suite against the driver talking to the
// fake over a real TLS socket on loopback.
func TestConformance(t *testing.T) {
	lbtest.Run(t, lbtest.Harness{
		New: func(t *testing.T) drivers.LoadBalancer {
			store := f5test.NewMemStore(members...)
			fake := f5test.New(f5test.Config{Password: canary, Store: store})
			srv := httptest.NewTLSServer(fake)
			t.Cleanup(srv.Close)
			t.Cleanup(func() { holds.Delete(t.Name()) })
			holds.Store(t.Name(), store)
			lb, err := f5.New(f5.Config{
				BaseURL:    srv.URL,
				Username:   f5test.DefaultUsername,
				Password:   drivers.NewSecret(canary),
				Pool:       f5test.DefaultPool,
				HTTPClient: srv.Client(),
			})
			require.NoError(t, err)
			return lb
		},
		Members: members,
		// The fake holds "connections" by setting serverside.curConns on
		// the member, as a real pool member holding a request reports it.
		Hold: func(t *testing.T, member string) func() {
			v, ok := holds.Load(t.Name())
			require.True(t, ok)
			store := v.(*f5test.MemStore)
			store.SetConns(member, 1)
			return func() { store.SetConns(member, 0) }
		},
		UnknownChangesNothing: true,
	})
}

// TestConfigNeverShowsPassword prints and logs a Config every usual way.
func TestConfigNeverShowsPassword(t *testing.T) {
	cfg := f5.Config{BaseURL: "https://bigip", Username: "admin", Password: drivers.NewSecret(canary), Pool: "web"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "config", cfg, "password", cfg.Password)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "config", cfg, "password", cfg.Password)
	b, err := jsonMarshal(cfg)
	require.NoError(t, err)
	for _, out := range []string{
		buf.String(), string(b),
		sprintf("%v %+v %#v", cfg, cfg, cfg),
	} {
		require.NotContains(t, out, canary)
		require.NotContains(t, out, sprintf("%x", canary))
	}
	require.Contains(t, string(b), "[redacted]")
}

func TestExampleFlow(t *testing.T) {
	e := newEnv(t, f5test.Config{}, nil)
	ctx := context.Background()
	require.NoError(t, e.lb.SetState(ctx, drivers.Draining, members[0]))
	m, _ := e.store.Member(members[0])
	require.True(t, m.Disabled)
	require.False(t, m.ForcedOffline)
	require.NoError(t, e.lb.SetState(ctx, drivers.Out, members[0]))
	m, _ = e.store.Member(members[0])
	require.True(t, m.ForcedOffline)
	var puts []string
	for _, r := range e.fake.Requests() {
		if r.Method == "PUT" {
			puts = append(puts, strings.TrimSpace(r.Body))
		}
	}
	require.Equal(t, []string{
		`{"state":"unchecked","session":"user-disabled"}`,
		`{"state":"user-down","session":"user-disabled"}`,
	}, puts)
	e.noSecrets(t)
}
