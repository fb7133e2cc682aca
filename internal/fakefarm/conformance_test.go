package fakefarm_test

import (
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivertest"
	"github.com/balanced-deploy/balanced/internal/fakefarm"
)

// TestConformance runs the service, platform and prober conformance suites
// against the fake farm, which implements the three contracts (and the load
// balancer's) in memory for the steps tests.
func TestConformance(t *testing.T) {
	t.Run("ServiceController", func(t *testing.T) {
		drivertest.RunServiceController(t, drivertest.ServiceControllerHarness{
			New:     func(t *testing.T) drivers.ServiceController { return fakefarm.New("fe01", "fe02") },
			Targets: []drivers.Target{{Name: "fe01"}, {Name: "fe02"}},
		})
	})
	t.Run("PlatformClient", func(t *testing.T) {
		drivertest.RunPlatformClient(t, drivertest.PlatformClientHarness{
			New:     func(t *testing.T) drivers.PlatformClient { return fakefarm.New("fe01", "fe02") },
			Release: drivers.Release{Version: "v2"},
		})
	})
	t.Run("Prober", func(t *testing.T) {
		drivertest.RunProber(t, drivertest.ProberHarness{
			New:     func(t *testing.T) drivers.Prober { return fakefarm.New("fe01", "fe02") },
			Healthy: []drivers.Target{{Name: "fe01"}, {Name: "fe02"}},
			Version: "v1",
		})
	})
}
