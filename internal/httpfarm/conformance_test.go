package httpfarm_test

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivertest"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
)

// TestConformance runs the service, platform and prober conformance suites
// against the farm's in-memory drivers over its real HTTP backends.
func TestConformance(t *testing.T) {
	cfg := httpfarm.Config{Backends: 3, PublishDelay: 20 * time.Millisecond, InstallDuration: 50 * time.Millisecond}
	t.Run("ServiceController", func(t *testing.T) {
		drivertest.RunServiceController(t, drivertest.ServiceControllerHarness{
			New:     func(t *testing.T) drivers.ServiceController { return httpfarm.New(t, cfg).Services() },
			Targets: []drivers.Target{{Name: "fe2"}, {Name: "fe3"}},
			Missing: drivers.DeploymentControllerService, // only fe1 has it
		})
	})
	t.Run("PlatformClient", func(t *testing.T) {
		drivertest.RunPlatformClient(t, drivertest.PlatformClientHarness{
			New:     func(t *testing.T) drivers.PlatformClient { return httpfarm.New(t, cfg).Platform() },
			Release: drivers.Release{Version: "v2"},
			Deploy:  10 * time.Second,
		})
	})
	t.Run("Prober", func(t *testing.T) {
		f := httpfarm.New(t, cfg)
		var healthy []drivers.Target
		for _, s := range f.Servers() {
			healthy = append(healthy, s.Target())
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		closed := "http://" + ln.Addr().String() + "/"
		require.NoError(t, ln.Close())
		drivertest.RunProber(t, drivertest.ProberHarness{
			New:     func(t *testing.T) drivers.Prober { return f.Prober() },
			Healthy: healthy,
			Version: "v1",
			Down:    drivers.Target{Name: "fe9", URL: closed},
		})
	})
}
