package lifetime_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/stretchr/testify/require"
)

// canary is the token every test uses; no error or log line may contain it.
const canary = "CANARY-tok-7f3a9c1e5b"

func fakeConfig(backend lifetimetest.Backend) lifetimetest.Config {
	return lifetimetest.Config{
		Token:   canary,
		Backend: backend,
		Applications: []lifetimetest.Application{
			{Name: "Portal", Versions: []string{"1.0", "2.0"}, Running: map[string]string{"Quality": "2.0", "Production": "1.0"}},
			{Name: "Backoffice", Versions: []string{"1.0", "2.0"}, Running: map[string]string{"Quality": "2.0", "Production": "1.0"}},
		},
	}
}

// release2 deploys version 2.0 of both applications.
var release2 = releaseOf("2.0", "Portal", "Backoffice")

// logBuffer is a concurrency-safe slog sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// inProcess returns a client that reaches f without a socket (for synctest).
func inProcess(t *testing.T, f *lifetimetest.Fake, mutate func(*lifetime.Config)) (*lifetime.Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := lifetime.Config{
		BaseURL:           lifetimetest.InProcessBaseURL,
		Token:             drivers.NewSecret(canary),
		SourceEnvironment: "Quality",
		TargetEnvironment: "Production",
		HTTPClient:        &http.Client{Transport: f.Transport()},
		Logger:            newLogger(logs),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := lifetime.New(cfg)
	require.NoError(t, err)
	return c, logs
}

// overLoopback returns a client that reaches s over a real socket.
func overLoopback(t *testing.T, s *lifetimetest.Server, mutate func(*lifetime.Config)) (*lifetime.Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := lifetime.Config{
		BaseURL:           s.URL,
		Token:             drivers.NewSecret(canary),
		SourceEnvironment: "Quality",
		TargetEnvironment: "Production",
		Logger:            newLogger(logs),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := lifetime.New(cfg)
	require.NoError(t, err)
	return c, logs
}

// waitDone polls the deployment's status until it has ended.
func waitDone(t *testing.T, c *lifetime.Client, id string) drivers.DeploymentStatus {
	t.Helper()
	for range 10_000 { // bounded: 50 s at most
		st, err := c.DeploymentStatus(t.Context(), id)
		require.NoError(t, err)
		if st.State.Done() {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
	require.FailNow(t, "deployment did not end", id)
	return drivers.DeploymentStatus{}
}
