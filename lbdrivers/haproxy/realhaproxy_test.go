package haproxy_test

import (
	"bytes"
	"fmt"
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
	"github.com/stretchr/testify/require"
)

// HeaderMember routes a request through the test HAProxy to the named
// server (use-server), so a test can hold a request open on a chosen member.
const HeaderMember = "X-Member"

// realHAProxy is a haproxy process started by a test on loopback.
type realHAProxy struct {
	Socket   string // admin socket path
	TCP      string // 127.0.0.1:port of a second admin socket, over TCP
	Operator string // path of a socket at level operator (no "set server")
	Frontend string // http://127.0.0.1:port/
	Backend  string
	Driver   *haproxy.Driver
}

// startHAProxy starts /usr/sbin/haproxy in the foreground (-db) with an admin
// socket in t.TempDir() and one backend "app" whose servers are the given
// backends, health-checked every 100ms. It waits until every server is up and
// kills haproxy when the test ends.
//
// serverOpts, if given, appends options to named servers' lines; a server
// with "disabled" is not waited for.
func startHAProxy(t *testing.T, backends []*httpfarm.Backend, serverOpts ...map[string]string) *realHAProxy {
	t.Helper()
	bin := httpfarm.Binary(t, "haproxy")
	dir := t.TempDir()
	port := httpfarm.FreePort(t)
	h := &realHAProxy{
		Socket:   filepath.Join(dir, "admin.sock"),
		TCP:      fmt.Sprintf("127.0.0.1:%d", httpfarm.FreePort(t)),
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
	opts := map[string]string{}
	for _, o := range serverOpts {
		for k, v := range o {
			opts[k] = v
		}
	}
	for _, b := range backends {
		fmt.Fprintf(&cfg, "    server %s %s check inter 100ms fall 2 rise 1 %s\n", b.Name(), b.Addr(), opts[b.Name()])
	}
	cfgPath := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg.String()), 0o600))
	var out bytes.Buffer
	cmd := exec.Command(bin, "-db", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	d, err := haproxy.New(haproxy.Config{Address: h.Socket, Backend: h.Backend, Timeout: 2 * time.Second})
	require.NoError(t, err)
	h.Driver = d
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := d.Status(t.Context())
		up := err == nil && len(st) == len(backends)
		for _, s := range st {
			up = up && (s.Health == drivers.Healthy || strings.Contains(opts[s.Member], "disabled"))
		}
		if up {
			return h
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

// hold starts a request through HAProxy to member that the backend keeps
// open; the returned function releases it and waits for the reply.
func (h *realHAProxy) hold(t *testing.T, f *httpfarm.Farm, member string) func() {
	t.Helper()
	b, ok := f.Backend(member)
	require.True(t, ok, "no backend %s", member)
	tok := member + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	arrived, release := b.Hold(tok)
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
		t.Fatalf("held request to %s ended before the backend held it: %v", member, err)
	case <-time.After(5 * time.Second):
		t.Fatalf("held request to %s did not reach the backend in 5s", member)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			release()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("held request to %s: %v", member, err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("held request to %s did not finish 5s after release", member)
			}
		})
	}
}

// TestRealSocketsAndErrors checks the driver over a TCP admin socket and the
// error classes a real HAProxy produces.
func TestRealSocketsAndErrors(t *testing.T) {
	f := httpfarm.New(t, httpfarm.Config{Backends: 3})
	h := startHAProxy(t, f.Backends())

	tcp, err := haproxy.New(haproxy.Config{Network: "tcp", Address: h.TCP, Backend: h.Backend})
	require.NoError(t, err)
	require.NoError(t, tcp.SetState(t.Context(), drivers.Draining, "fe2"))
	st, err := h.Driver.Status(t.Context(), "fe2", "fe1")
	require.NoError(t, err, "the unix socket sees what the TCP socket set")
	require.Equal(t, drivers.Draining, st[0].State)
	require.Equal(t, drivers.Serving, st[1].State)

	op, err := haproxy.New(haproxy.Config{Address: h.Operator, Backend: h.Backend})
	require.NoError(t, err)
	_, err = op.Status(t.Context(), "fe1")
	require.NoError(t, err, "an operator socket may read")
	err = op.SetState(t.Context(), drivers.Out, "fe1")
	require.ErrorIs(t, err, drivers.ErrPermissionDenied, "an operator socket may not set server state")
	require.False(t, drivers.IsRetryable(err))

	missing, err := haproxy.New(haproxy.Config{Address: h.Socket, Backend: "nope"})
	require.NoError(t, err)
	_, err = missing.Status(t.Context(), "fe1")
	require.ErrorIs(t, err, drivers.ErrNotFound, "unknown backend")
	require.ErrorIs(t, missing.SetState(t.Context(), drivers.Out, "fe1"), drivers.ErrNotFound)

	st, err = h.Driver.Status(t.Context())
	require.NoError(t, err)
	require.Len(t, st, 3)
	require.Equal(t, drivers.Serving, st[0].State, "fe1 unchanged by the refused calls")
}

// TestConfiguredDisabledServer checks a server marked "disabled" in the
// configuration reads out, and serves once set serving (its admin state then
// keeps the configuration bit 0x04).
func TestConfiguredDisabledServer(t *testing.T) {
	f := httpfarm.New(t, httpfarm.Config{Backends: 3})
	h := startHAProxy(t, f.Backends(), map[string]string{"fe3": "disabled"})
	st, err := h.Driver.Status(t.Context(), "fe3")
	require.NoError(t, err)
	require.Equal(t, drivers.Out, st[0].State)
	require.NoError(t, h.Driver.SetState(t.Context(), drivers.Serving, "fe3"))
	st, err = h.Driver.Status(t.Context(), "fe3")
	require.NoError(t, err)
	require.Equal(t, drivers.Serving, st[0].State)
	require.Eventually(t, func() bool {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, h.Frontend, nil)
		req.Header.Set(HeaderMember, "fe3")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.Header.Get(httpfarm.HeaderBackend) == "fe3"
	}, 5*time.Second, 50*time.Millisecond, "fe3 serves traffic once set serving")
}
