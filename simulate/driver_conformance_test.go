package simulate_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivertest"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
)

// TestConformanceDrivers runs the conformance suites of the service,
// platform and prober contracts against the simulator's drivers, each
// subtest in a synctest bubble (the simulator's latencies are simulated
// time).
func TestConformanceDrivers(t *testing.T) {
	newSim := func(t *testing.T) *simulate.Sim {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 1})
		require.NoError(t, err)
		return sim
	}
	// fe01 is the Deployment Controller: fe02 and fe03 have no Deployment
	// Controller service.
	targets := []drivers.Target{{Name: "fe02"}, {Name: "fe03"}}
	t.Run("ServiceController", func(t *testing.T) {
		drivertest.RunServiceController(t, drivertest.ServiceControllerHarness{
			New:     func(t *testing.T) drivers.ServiceController { return newSim(t).Services() },
			Targets: targets,
			Missing: drivers.DeploymentControllerService,
			Options: drivertest.Options{Bubble: synctest.Test},
		})
	})
	t.Run("PlatformClient", func(t *testing.T) {
		var sim *simulate.Sim
		drivertest.RunPlatformClient(t, drivertest.PlatformClientHarness{
			New: func(t *testing.T) drivers.PlatformClient {
				sim = newSim(t)
				return sim.Platform()
			},
			Release:   drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "App", Version: "v2"}}},
			Deploy:    time.Hour,
			Poll:      time.Second,
			Abortable: true, // a publish takes Config.PublishDuration
			Paused: func(t *testing.T, pc drivers.PlatformClient) string {
				require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentNeedsUserIntervention, Info: "deployment_prepared"}, Times: 1}))
				id, err := pc.StartDeployment(t.Context(), drivers.Release{Version: "v2"})
				require.NoError(t, err)
				return id
			},
			Options: drivertest.Options{Bubble: synctest.Test},
		})
	})
	t.Run("Prober", func(t *testing.T) {
		drivertest.RunProber(t, drivertest.ProberHarness{
			New: func(t *testing.T) drivers.Prober {
				sim := newSim(t)
				require.NoError(t, sim.Crash("fe04", time.Hour))
				return sim.Prober()
			},
			Healthy: []drivers.Target{{Name: "fe01"}, {Name: "fe02", URL: "sim://fe02/"}},
			Version: simulate.DefaultInitialVersion,
			Down:    drivers.Target{Name: "fe04"},
			Options: drivertest.Options{Bubble: synctest.Test},
		})
	})
}
