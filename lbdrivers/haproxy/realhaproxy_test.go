package haproxy_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/haproxytest"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/lbdrivers/haproxy"
	"github.com/stretchr/testify/require"
)

// HeaderMember routes a request through the test HAProxy to the named
// server (use-server).
const HeaderMember = haproxytest.HeaderMember

// realHAProxy is a haproxy process started by a test on loopback.
type realHAProxy = haproxytest.HAProxy

// startHAProxy starts a real haproxy in front of the backends (see
// internal/haproxytest); serverOpts, if given, appends options to named
// servers' lines.
func startHAProxy(t *testing.T, backends []*httpfarm.Backend, serverOpts ...map[string]string) *realHAProxy {
	t.Helper()
	var o haproxytest.Options
	if len(serverOpts) > 0 {
		o.ServerOptions = serverOpts[0]
	}
	return haproxytest.Start(t, backends, o)
}

// hold holds a request open on member through h; the returned function
// releases it and reports a failed request as a test error.
func hold(t *testing.T, h *realHAProxy, f *httpfarm.Farm, member string) func() {
	t.Helper()
	release := h.Hold(t, f, member)
	return func() {
		if err := release(); err != nil {
			t.Error(err)
		}
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
