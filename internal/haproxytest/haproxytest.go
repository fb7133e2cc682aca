// Package haproxytest starts a real haproxy (the OS package) on loopback in
// front of internal/httpfarm backends, for the tests and benchmarks that run
// the balanced procedure through a real load balancer. Without the binary a
// test fails when CI=true and is skipped otherwise (httpfarm.Binary).
package haproxytest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/lbdrivers/haproxy"
)

// HeaderMember routes a request through the test haproxy to the named
// server (use-server), so that a test can hold a request open on a chosen
// member.
const HeaderMember = "X-Member"

// Options tune Start. The zero value is fine.
type Options struct {
	// ServerOptions appends options to named servers' lines; a server with
	// "disabled" is not waited for.
	ServerOptions map[string]string
	// Logger is the driver's logger. Nil discards.
	Logger *slog.Logger
}

// HAProxy is a haproxy process started by Start.
type HAProxy struct {
	// Socket is the admin socket's path.
	Socket string
	// TCP is the 127.0.0.1:port of a second admin socket, over TCP.
	TCP string
	// Operator is the path of a socket at level operator (no "set server").
	Operator string
	// Frontend is the http://127.0.0.1:port/ of the frontend.
	Frontend string
	// Backend is the backend's name ("app").
	Backend string
	// Driver is a haproxy driver on Socket.
	Driver *haproxy.Driver
}

// Start starts haproxy in the foreground (-db) with admin sockets in
// tb.TempDir() and one backend "app" whose servers are the given backends,
// named like them and health-checked every 100 ms. It waits until every
// server is up and kills haproxy when the test ends.
func Start(tb testing.TB, backends []*httpfarm.Backend, opts Options) *HAProxy {
	tb.Helper()
	bin := httpfarm.Binary(tb, "haproxy")
	dir := tb.TempDir()
	port := httpfarm.FreePort(tb)
	h := &HAProxy{
		Socket:   filepath.Join(dir, "admin.sock"),
		TCP:      fmt.Sprintf("127.0.0.1:%d", httpfarm.FreePort(tb)),
		Operator: filepath.Join(dir, "operator.sock"),
		Frontend: fmt.Sprintf("http://127.0.0.1:%d/", port),
		Backend:  "app",
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `global
    stats socket %s mode 600 level admin
    stats socket ipv4@%s level admin
    stats socket %s mode 600 level operator
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
`, h.Socket, h.TCP, h.Operator, port, httpfarm.HealthPath)
	for _, b := range backends {
		fmt.Fprintf(&cfg, "    use-server %s if { req.hdr(%s) -m str %s }\n", b.Name(), HeaderMember, b.Name())
	}
	for _, b := range backends {
		fmt.Fprintf(&cfg, "    server %s %s check inter 100ms fall 2 rise 1 %s\n", b.Name(), b.Addr(), opts.ServerOptions[b.Name()])
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	var out lockedBuffer
	cmd := exec.Command(bin, "-db", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	d, err := haproxy.New(haproxy.Config{Address: h.Socket, Backend: h.Backend, Timeout: 2 * time.Second, Logger: opts.Logger})
	if err != nil {
		tb.Fatal(err)
	}
	h.Driver = d
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := d.Status(context.Background())
		up := err == nil && len(st) == len(backends)
		for _, s := range st {
			up = up && (s.Health == drivers.Healthy || strings.Contains(opts.ServerOptions[s.Member], "disabled"))
		}
		if up {
			return h
		}
		select {
		case <-exited:
			tb.Fatalf("haproxy exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("haproxy not ready after 10s: %v %v; output: %s", st, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Hold starts a request through haproxy to member that its backend keeps
// open, and returns once the backend holds it. release lets it finish and
// returns its outcome (an error if it failed or did not finish in 5 s);
// calling it again returns the same outcome.
func (h *HAProxy) Hold(tb testing.TB, f *httpfarm.Farm, member string) (release func() error) {
	tb.Helper()
	b, ok := f.Backend(member)
	if !ok {
		tb.Fatalf("no backend %s", member)
	}
	tok := member + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	arrived, let := b.Hold(tok)
	done := make(chan error, 1)
	go func() {
		req, err := http.NewRequest(http.MethodGet, h.Frontend, nil)
		if err != nil {
			done <- err
			return
		}
		req.Header.Set(HeaderMember, member)
		req.Header.Set(httpfarm.HeaderHold, tok)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("held request: %s", resp.Status)
			}
		}
		done <- err
	}()
	select {
	case <-arrived:
	case err := <-done:
		tb.Fatalf("held request to %s ended before the backend held it: %v", member, err)
	case <-time.After(5 * time.Second):
		tb.Fatalf("held request to %s did not reach the backend in 5s", member)
	}
	var once sync.Once
	var outcome error
	return func() error {
		once.Do(func() {
			let()
			select {
			case outcome = <-done:
				if outcome != nil {
					outcome = fmt.Errorf("held request to %s: %w", member, outcome)
				}
			case <-time.After(5 * time.Second):
				outcome = fmt.Errorf("held request to %s did not finish 5s after release", member)
			}
		})
		return outcome
	}
}

// lockedBuffer is a bytes.Buffer safe for the process's concurrent writes.
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
