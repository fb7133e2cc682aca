package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/lbdrivers/haproxy"
)

// headerMember routes a request through the benchmark's HAProxy to the
// named server (use-server), so that a request can be held on a chosen
// member.
const headerMember = "X-Member"

// realHAProxy is a haproxy process on loopback in front of an httpfarm.
type realHAProxy struct {
	Frontend string
	Driver   *haproxy.Driver
}

// startHAProxy starts haproxy in the foreground with an admin socket in a
// temporary directory and one backend "app" over the given backends,
// health-checked every 100 ms, as lbdrivers/haproxy's tests do. It waits
// until every server is up and kills haproxy at cleanup. Without the binary
// it fails when CI=true and skips otherwise (httpfarm.Binary).
func startHAProxy(tb testing.TB, backends []*httpfarm.Backend) *realHAProxy {
	tb.Helper()
	bin := httpfarm.Binary(tb, "haproxy")
	dir := tb.TempDir()
	port := httpfarm.FreePort(tb)
	sock := filepath.Join(dir, "admin.sock")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, `global
    stats socket %s mode 600 level admin
    stats timeout 2m
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout check 2s
frontend web
    bind 127.0.0.1:%d
    default_backend app
backend app
    balance roundrobin
    option httpchk GET %s
`, sock, port, httpfarm.HealthPath)
	for _, b := range backends {
		fmt.Fprintf(&cfg, "    use-server %s if { req.hdr(%s) -m str %s }\n", b.Name(), headerMember, b.Name())
	}
	for _, b := range backends {
		fmt.Fprintf(&cfg, "    server %s %s check inter 100ms fall 2 rise 1\n", b.Name(), b.Addr())
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	var out bytes.Buffer
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
	d, err := haproxy.New(haproxy.Config{Address: sock, Backend: "app", Timeout: 2 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	h := &realHAProxy{Frontend: fmt.Sprintf("http://127.0.0.1:%d/", port), Driver: d}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := d.Status(context.Background())
		up := err == nil && len(st) == len(backends)
		for _, s := range st {
			up = up && s.Health == drivers.Healthy
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

// hold sends a request through HAProxy to member and returns once the
// backend holds it; the returned function lets it finish and waits for the
// reply.
func (h *realHAProxy) hold(tb testing.TB, f *httpfarm.Farm, member string) (release func() error) {
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
		req.Header.Set(headerMember, member)
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
	return func() error {
		let()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			return fmt.Errorf("held request to %s did not finish 5s after release", member)
		}
	}
}
