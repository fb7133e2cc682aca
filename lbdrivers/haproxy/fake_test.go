package haproxy_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/haproxy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeSocket is a Runtime API socket that records every request line and
// answers with reply(line). It exercises the driver's wire handling; the
// real HAProxy tests exercise its meaning.
type fakeSocket struct {
	path  string
	mu    sync.Mutex
	lines []string
	reply func(line string) string
}

func newFakeSocket(t *testing.T, reply func(string) string) *fakeSocket {
	f := &fakeSocket{path: filepath.Join(t.TempDir(), "admin.sock"), reply: reply}
	ln, err := net.Listen("unix", f.path)
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				line = strings.TrimSuffix(line, "\n")
				f.mu.Lock()
				f.lines = append(f.lines, line)
				f.mu.Unlock()
				_, _ = c.Write([]byte(f.reply(line)))
			}()
		}
	}()
	return f
}

func (f *fakeSocket) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

const stateHeader = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state\n"

// fakeHAProxy answers the commands the driver sends, for servers fe1..fe3 of
// backend app, all ready; "set server" replies come from setReply.
func fakeHAProxy(setReply func(cmd string) string) func(string) string {
	return func(line string) string {
		var out strings.Builder
		for cmd := range strings.SplitSeq(line, ";") {
			switch {
			case cmd == "show servers state app":
				out.WriteString(stateHeader)
				for i, s := range []string{"fe1", "fe2", "fe3"} {
					fmt.Fprintf(&out, "3 app %d %s 127.0.0.1 2 0 1 1 0 6 3 4 6\n", i+1, s)
				}
			case strings.HasPrefix(cmd, "show servers state "):
				out.WriteString("Can't find backend.\n")
			case cmd == "show stat app 4 -1":
				out.WriteString("# pxname,svname,scur,status,\napp,fe1,3,UP,\napp,fe2,0,UP,\napp,fe3,1,UP,\n")
			case strings.HasPrefix(cmd, "set server "):
				out.WriteString(setReply(cmd))
			default:
				out.WriteString("Unknown command.\n")
			}
			out.WriteString("\n")
		}
		return out.String()
	}
}

func newDriver(t *testing.T, f *fakeSocket, mod ...func(*haproxy.Config)) *haproxy.Driver {
	cfg := haproxy.Config{Address: f.path, Backend: "app", Timeout: 2 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	d, err := haproxy.New(cfg)
	require.NoError(t, err)
	return d
}

func TestSetStateWire(t *testing.T) {
	f := newFakeSocket(t, fakeHAProxy(func(string) string { return "" }))
	d := newDriver(t, f)
	require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe1", "fe3"))
	require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe2"))
	require.NoError(t, d.SetState(t.Context(), drivers.Serving, "fe2"))
	require.NoError(t, d.Switch(t.Context(), []string{"fe1"}, []string{"fe2", "fe3"}))
	assert.Equal(t, []string{
		"show servers state app",
		"set server app/fe1 state drain;set server app/fe3 state drain",
		"show servers state app",
		"set server app/fe2 state maint",
		"show servers state app",
		"set server app/fe2 state ready",
		"show servers state app",
		"set server app/fe1 state ready;set server app/fe2 state drain;set server app/fe3 state drain",
	}, f.sent())
}

func TestServerNameMapping(t *testing.T) {
	f := newFakeSocket(t, fakeHAProxy(func(string) string { return "" }))
	d := newDriver(t, f, func(c *haproxy.Config) {
		c.ServerName = haproxy.ServerMap(map[string]string{"web-a:80": "fe1", "web-b:80": "fe2"})
		c.Members = []string{"web-a:80", "web-b:80"}
	})
	require.NoError(t, d.SetState(t.Context(), drivers.Out, "web-b:80"))
	assert.Equal(t, "set server app/fe2 state maint", f.sent()[1])
	st, err := d.Status(t.Context())
	require.NoError(t, err)
	require.Len(t, st, 2)
	assert.Equal(t, drivers.MemberStatus{Member: "web-a:80", State: drivers.Serving, Health: drivers.Healthy, ActiveConnections: 3, ConnectionsKnown: true}, st[0])
	err = d.SetState(t.Context(), drivers.Out, "web-c:80")
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), "web-c:80")
}

func TestStatusWire(t *testing.T) {
	f := newFakeSocket(t, fakeHAProxy(nil))
	d := newDriver(t, f)
	st, err := d.Status(t.Context(), "fe3", "fe1")
	require.NoError(t, err)
	require.Len(t, st, 2)
	assert.Equal(t, "fe3", st[0].Member)
	assert.Equal(t, 1, st[0].ActiveConnections)
	assert.Equal(t, 3, st[1].ActiveConnections)
	assert.Equal(t, []string{"show servers state app;show stat app 4 -1"}, f.sent())
	all, err := d.Status(t.Context())
	require.NoError(t, err)
	assert.Len(t, all, 3, "no members and no Config.Members: every server of the backend")
}

func TestUnknownMemberSendsNoChange(t *testing.T) {
	f := newFakeSocket(t, fakeHAProxy(func(string) string { return "" }))
	d := newDriver(t, f)
	err := d.SetState(t.Context(), drivers.Out, "fe1", "ghost")
	require.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), `"ghost"`)
	for _, l := range f.sent() {
		assert.NotContains(t, l, "set server", "an unknown member must stop the call before any change")
	}
}

func TestReplyErrorsMapped(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		class error
	}{
		{"no such server", "No such server.\n", drivers.ErrNotFound},
		{"permission", "Permission denied\n", drivers.ErrPermissionDenied},
		{"unknown command", "Unknown command. Please enter one of the following commands only:\n  help\n", drivers.ErrUnimplemented},
		{"other", "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSocket(t, fakeHAProxy(func(cmd string) string {
				if strings.Contains(cmd, "fe2") {
					return tc.reply
				}
				return ""
			}))
			d := newDriver(t, f)
			err := d.SetState(t.Context(), drivers.Draining, "fe1", "fe2")
			require.Error(t, err)
			assert.Equal(t, tc.class, drivers.Class(err))
			assert.Contains(t, err.Error(), `member "fe2"`)
			assert.False(t, drivers.IsRetryable(err), "a refusal after sending is never retryable")
		})
	}
}

func TestUnknownBackend(t *testing.T) {
	f := newFakeSocket(t, fakeHAProxy(nil))
	d := newDriver(t, f, func(c *haproxy.Config) { c.Backend = "nope" })
	_, err := d.Status(t.Context(), "fe1")
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	err = d.SetState(t.Context(), drivers.Out, "fe1")
	assert.ErrorIs(t, err, drivers.ErrNotFound)
}

func TestShortReply(t *testing.T) {
	f := newFakeSocket(t, func(line string) string {
		if strings.HasPrefix(line, "show servers state") {
			return fakeHAProxy(nil)(line)
		}
		return "\n" // one reply for two commands
	})
	d := newDriver(t, f)
	err := d.SetState(t.Context(), drivers.Out, "fe1", "fe2")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "1 replies to 2 commands")
	assert.False(t, drivers.IsRetryable(err))
}

// TestLocalSocketMissingOrRefused: a unix socket that does not exist, or
// exists with no process listening, is a configuration error, reported at
// once with the path and the haproxy.cfg line it needs; retrying it as
// transient only delays the same failure.
func TestLocalSocketMissingOrRefused(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	require.NoError(t, err)
	ln.SetUnlinkOnClose(false)
	require.NoError(t, ln.Close()) // the file stays, nobody listens: ECONNREFUSED
	for _, tc := range []struct {
		name, path, why string
	}{
		{"missing", filepath.Join(dir, "missing.sock"), "no Runtime API socket at " + filepath.Join(dir, "missing.sock") + " (no such file or directory)"},
		{"missing directory", filepath.Join(dir, "nodir", "admin.sock"), "no Runtime API socket at"},
		{"refused", stale, "the socket " + stale + " refuses connections (connection refused)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := haproxy.New(haproxy.Config{Address: tc.path, Backend: "app"})
			require.NoError(t, err)
			for _, err := range []error{d.SetState(t.Context(), drivers.Out, "fe1"), func() error { _, err := d.Status(t.Context(), "fe1"); return err }()} {
				require.Error(t, err)
				assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
				assert.False(t, drivers.IsRetryable(err), "not transient: %v", err)
				assert.ErrorContains(t, err, tc.why)
				assert.ErrorContains(t, err, `"stats socket `+tc.path+` mode 600 level admin"`)
			}
		})
	}
}

func TestTCPRefusedIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	d, err := haproxy.New(haproxy.Config{Network: "tcp", Address: addr, Backend: "app"})
	require.NoError(t, err)
	_, err = d.Status(t.Context(), "fe1")
	assert.ErrorIs(t, err, drivers.ErrUnavailable, "connection refused")
	assert.True(t, drivers.IsRetryable(err))
}

func TestContextDeadlineOnSilentSocket(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	f := newFakeSocket(t, func(string) string { <-block; return "" })
	d := newDriver(t, f)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.Status(ctx, "fe1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second, "the fake socket never answers: only the deadline ends the call")

	ctx2, cancel2 := context.WithCancel(t.Context())
	time.AfterFunc(100*time.Millisecond, cancel2)
	start = time.Now()
	err = d.SetState(ctx2, drivers.Out, "fe1")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 5*time.Second, "the fake socket never answers: only the deadline ends the call")
}

func TestConfigTimeout(t *testing.T) {
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	f := newFakeSocket(t, func(string) string { <-block; return "" })
	d := newDriver(t, f, func(c *haproxy.Config) { c.Timeout = 100 * time.Millisecond })
	start := time.Now()
	_, err := d.Status(t.Context(), "fe1")
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "the fake socket never answers: only the deadline ends the call")
	var ne net.Error
	assert.True(t, errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()), "got %v", err)
}

func TestHostileNamesNeverReachSocket(t *testing.T) {
	f := newFakeSocket(t, fakeHAProxy(func(string) string { return "" }))
	d := newDriver(t, f)
	for _, name := range []string{"fe1;disable server app/fe2", "fe1 state maint", "fe1\nshow env", "fe\\1", "app/fe1", "", "fe1\x00", "$(id)"} {
		err := d.SetState(t.Context(), drivers.Out, name)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "%q", name)
		_, err = d.Status(t.Context(), name)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "%q", name)
		err = d.Switch(t.Context(), []string{"fe1"}, []string{name})
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "%q", name)
	}
	assert.Empty(t, f.sent(), "nothing may be sent for a hostile name")
	// A mapping that yields a hostile server name is refused too.
	d = newDriver(t, f, func(c *haproxy.Config) {
		c.ServerName = func(string) string { return "x;shutdown sessions server app/fe1" }
	})
	assert.ErrorIs(t, d.SetState(t.Context(), drivers.Out, "fe1"), drivers.ErrInvalidArgument)
	assert.Empty(t, f.sent())
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		cfg  haproxy.Config
		want string
	}{
		{haproxy.Config{Backend: "app"}, "empty address"},
		{haproxy.Config{Address: "/x", Backend: "a;b"}, `"a;b"`},
		{haproxy.Config{Address: "/x"}, "backend name"},
		{haproxy.Config{Address: "/x", Backend: "app", Network: "udp"}, `"udp"`},
		{haproxy.Config{Address: "/x", Backend: "app", Timeout: -1}, "timeout"},
	}
	for _, tc := range tests {
		_, err := haproxy.New(tc.cfg)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument)
		assert.Contains(t, err.Error(), tc.want)
	}
}
