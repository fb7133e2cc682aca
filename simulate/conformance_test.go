package simulate_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/lbtest"
	"github.com/balanced-deploy/balanced/simulate"
)

// TestConformance runs the load-balancer conformance suite against the
// simulator's per-zone and farm-wide load balancers, in real time.
func TestConformance(t *testing.T) {
	for _, zone := range []string{"default", ""} {
		t.Run("zone="+zone, func(t *testing.T) {
			var sim *simulate.Sim
			lbtest.Run(t, lbtest.Harness{
				New: func(t *testing.T) drivers.LoadBalancer {
					var err error
					sim, err = simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 3}}})
					require.NoError(t, err)
					return sim.LoadBalancer(zone)
				},
				Members: []string{"fe01", "fe02", "fe03"},
				Hold: func(t *testing.T, member string) func() {
					release, err := sim.Hold(member)
					require.NoError(t, err)
					return release
				},
				UnknownChangesNothing: true,
			})
		})
	}
}
