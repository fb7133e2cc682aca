package httpprobe_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivertest"
	"github.com/balanced-deploy/balanced/drivers/httpprobe"
)

// TestConformance runs the Prober conformance suite against the prober over
// real HTTP on loopback: two front-ends answering 200 with their version in
// the default header, one answering 503, and an address nothing listens on.
func TestConformance(t *testing.T) {
	serve := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := "2.0"
			if strings.HasPrefix(r.URL.Path, "/Portal/") {
				v = "7.1" // an application of its own version, at its own path
			}
			w.Header().Set(httpprobe.DefaultVersionHeader, v)
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return srv.URL + "/"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + ln.Addr().String() + "/"
	require.NoError(t, ln.Close())
	drivertest.RunProber(t, drivertest.ProberHarness{
		New: func(t *testing.T) drivers.Prober {
			p, err := httpprobe.New(httpprobe.Config{Timeout: 10 * time.Second})
			require.NoError(t, err)
			return p
		},
		Healthy: []drivers.Target{{Name: "fe01", URL: serve(http.StatusOK)}, {Name: "fe02", URL: serve(http.StatusOK)}},
		Version: "2.0",
		Applications: []drivers.ApplicationProbe{
			{Application: "Orders", Path: "/Orders/health"},
			{Application: "Portal", Path: "/Portal/health?full=1", Version: "7.1"},
		},
		Unhealthy: drivers.Target{Name: "fe03", URL: serve(http.StatusServiceUnavailable)},
		Down:      drivers.Target{Name: "fe04", URL: closed},
	})
}
