package e2e_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/lbdrivers/haproxy"
	"github.com/stretchr/testify/require"
)

// realHAProxy is a haproxy process started by a test on loopback.
type realHAProxy struct {
	Frontend string // http://127.0.0.1:port/
	Driver   *haproxy.Driver
}

// startHAProxy starts haproxy in the foreground (-db) with an admin socket
// in t.TempDir() and one backend "app" whose servers are the given backends,
// named like them and health-checked every 100ms. The driver logs to log.
// It waits until every server is up and kills haproxy when the test ends.
// Without the binary the test fails when CI=true and is skipped otherwise.
func startHAProxy(t *testing.T, backends []*httpfarm.Backend, log *slog.Logger) *realHAProxy {
	t.Helper()
	bin := httpfarm.Binary(t, "haproxy")
	dir := t.TempDir()
	socket := filepath.Join(dir, "admin.sock")
	port := httpfarm.FreePort(t)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `global
    stats socket %s mode 600 level admin
    stats timeout 2m
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    # Checks run every 100ms; a slow answer on a busy test machine must not
    # mark a healthy server down (the default check timeout is inter).
    timeout check 2s
frontend web
    bind 127.0.0.1:%d
    default_backend app
backend app
    balance roundrobin
    option httpchk GET %s
`, socket, port, httpfarm.HealthPath)
	for _, b := range backends {
		fmt.Fprintf(&cfg, "    server %s %s check inter 100ms fall 2 rise 1\n", b.Name(), b.Addr())
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg.String()), 0o600))

	out := &lockedBuffer{}
	cmd := exec.Command(bin, "-db", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	d, err := haproxy.New(haproxy.Config{Address: socket, Backend: "app", Timeout: 2 * time.Second, Logger: log})
	require.NoError(t, err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := d.Status(t.Context())
		up := err == nil && len(st) == len(backends)
		for _, s := range st {
			up = up && s.Health == drivers.Healthy
		}
		if up {
			return &realHAProxy{Frontend: fmt.Sprintf("http://127.0.0.1:%d/", port), Driver: d}
		}
		select {
		case <-exited:
			t.Fatalf("haproxy exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy not ready after 10s: %v %v; output: %s", st, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers (a process's
// output, a slog handler shared by every driver).
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
