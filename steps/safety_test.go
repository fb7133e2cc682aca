package steps_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHealthyBeforeTrafficMovesOnEveryPath: a member back from out reads
// health unknown (and takes no traffic) until its first health check, as an
// ALB target reads "initial". On both paths of switch-traffic (one
// transaction, and two moves) the Updating members must read healthy before
// the Loaded ones stop taking new requests.
func TestHealthyBeforeTrafficMovesOnEveryPath(t *testing.T) {
	for _, plain := range []bool{false, true} {
		name := "one-transaction Switcher"
		if plain {
			name = "two moves"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 41,
					RecheckAfterOut: true, HealthCheckDelay: 10 * time.Second,
					PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second,
					Traffic: simulate.Traffic{Rate: 20, Duration: 200 * time.Millisecond}})
				require.NoError(t, err)
				var lb drivers.LoadBalancer = sim.LoadBalancer("")
				if plain {
					lb = sim.PlainLoadBalancer("")
				}
				f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: lb})
				require.NoError(t, err)
				p, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
					Release: drivers.Release{Version: "v2"}, Plan: farm.PlanConfig{Seed: 1}})
				require.NoError(t, err)
				require.NoError(t, sim.Start(t.Context()))
				_, err = p.Run(t.Context())
				time.Sleep(20 * time.Second)
				sim.Stop()
				require.NoError(t, err)
				assert.Empty(t, sim.CheckEndState(drivers.Release{Version: "v2"}))
				r := sim.Report()
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
			})
		})
	}
}
