package simulate_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// TestHealthVerdictOfAnEndedStateIsDropped: an install shorter than the
// health-check delay ends before the checks could mark the server down, so
// the load balancer never reads it unhealthy (a real one needs several
// failed checks in a row; one that passes resets the count).
func TestHealthVerdictOfAnEndedStateIsDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}},
			HealthCheckDelay: time.Minute, InstallDuration: 20 * time.Second, PublishDuration: time.Second, InstallStagger: -1})
		require.NoError(t, err)
		_, err = sim.Platform().StartDeployment(t.Context(), drivers.Release{Version: "v2"})
		require.NoError(t, err)
		sawInstall := false
		for range 180 {
			time.Sleep(time.Second)
			st, err := sim.ServerState("fe01")
			require.NoError(t, err)
			sawInstall = sawInstall || st.Installing != ""
			require.Equal(t, drivers.Healthy, st.Member.Health, "at %v: %+v", time.Second, st)
		}
		assert.True(t, sawInstall)
		st, err := sim.ServerState("fe01")
		require.NoError(t, err)
		assert.Equal(t, "v2", st.Version)

		// A crash that outlasts the delay is seen, and so is the recovery.
		require.NoError(t, sim.Crash("fe02", 2*time.Minute))
		time.Sleep(time.Minute + time.Second)
		st, err = sim.ServerState("fe02")
		require.NoError(t, err)
		assert.Equal(t, drivers.Unhealthy, st.Member.Health)
		time.Sleep(2 * time.Minute)
		st, err = sim.ServerState("fe02")
		require.NoError(t, err)
		assert.Equal(t, drivers.Healthy, st.Member.Health)
	})
}

// TestInstallPassesChecksFor: with Config.InstallPassesChecksFor, an
// installing server reads healthy to the load balancer for that long,
// although its application answers 503.
func TestInstallPassesChecksFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}},
			HealthCheckDelay: 2 * time.Second, InstallDuration: time.Minute, InstallPassesChecksFor: 30 * time.Second,
			PublishDuration: time.Second, InstallStagger: -1})
		require.NoError(t, err)
		_, err = sim.Platform().StartDeployment(t.Context(), drivers.Release{Version: "v2"})
		require.NoError(t, err)
		time.Sleep(10 * time.Second) // installing for 9 s
		st, err := sim.ServerState("fe01")
		require.NoError(t, err)
		require.NotEmpty(t, st.Installing)
		assert.Equal(t, drivers.Healthy, st.Member.Health, "checks still pass")
		res, err := sim.Prober().Probe(t.Context(), drivers.Target{Name: "fe01"})
		require.NoError(t, err)
		assert.False(t, res.Healthy, "the application answers 503")
		time.Sleep(25 * time.Second) // 34 s: the checks failed 4 s ago, noticed 2 s later
		st, err = sim.ServerState("fe01")
		require.NoError(t, err)
		assert.Equal(t, drivers.Unhealthy, st.Member.Health)
	})
}

// TestRandomConfigurationSweep runs the unmodified balanced plan on random
// farm configurations, health-check delays longer and shorter than the
// installs among them: none may report a failed request or a violation.
// (Before the simulator dropped verdicts about states that had ended, 48 of
// these 160 configurations, 5 of the 24 of -short, every one with a delay
// longer than the install, reported failed requests a real load balancer
// would not cause.)
func TestRandomConfigurationSweep(t *testing.T) {
	n := 160
	if testing.Short() {
		n = 24
	}
	longer := 0
	for i := range n {
		rng := rand.New(rand.NewPCG(uint64(i), 0x5eed))
		install := time.Duration(5+rng.IntN(120)) * time.Second
		delay := time.Duration(1+rng.IntN(int(2*install/time.Second))) * time.Second
		if delay > install {
			longer++
		}
		cfg := simulate.Config{Seed: uint64(i) + 1,
			Zones:            []simulate.ZoneConfig{{Servers: 2 + rng.IntN(6)}},
			InstallDuration:  install,
			HealthCheckDelay: delay,
			PublishDuration:  time.Duration(5+rng.IntN(60)) * time.Second,
			InstallStagger:   time.Duration(rng.IntN(3000)) * time.Millisecond,
			RecheckAfterOut:  rng.IntN(3) == 0,
			Traffic:          simulate.Traffic{Rate: 10, Duration: 100 * time.Millisecond, MaxDuration: time.Duration(200+rng.IntN(3000)) * time.Millisecond},
		}
		if rng.IntN(2) == 0 {
			cfg.Zones = append(cfg.Zones, simulate.ZoneConfig{Servers: 2 + rng.IntN(4)})
		}
		lb := []int{zoneLBs, farmLB, plainLB}[rng.IntN(3)]
		t.Run(fmt.Sprintf("%d install=%v delay=%v lb=%d", i, install, delay, lb), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// The health wait must outlast the checks' delay, as an
				// operator sets it for a load balancer with slow checks.
				_, r, err := runBalanced(t, cfg, lb, func(_ *simulate.Sim, sc *steps.Config) { sc.HealthTimeout = 2*delay + time.Minute })
				require.NoError(t, err)
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
			})
		})
	}
	assert.Positive(t, longer, "some delays are longer than the install")
	assert.Less(t, longer, n, "some delays are shorter than the install")
}
