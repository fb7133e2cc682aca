package httpprobe_test

import (
	"net"
	"net/http"
	"net/http/httptest"
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
			w.Header().Set(httpprobe.DefaultVersionHeader, "2.0")
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
		Healthy:   []drivers.Target{{Name: "fe01", URL: serve(http.StatusOK)}, {Name: "fe02", URL: serve(http.StatusOK)}},
		Version:   "2.0",
		Unhealthy: drivers.Target{Name: "fe03", URL: serve(http.StatusServiceUnavailable)},
		Down:      drivers.Target{Name: "fe04", URL: closed},
	})
}
