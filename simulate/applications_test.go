package simulate_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
)

// TestApplicationLagsOnOneServer: a release of two applications whose
// second one deploys two minutes late on fe02. Once fe02's install ends,
// its plain probe and its first application answer v2 while the second
// still answers its old version, healthy, and its Deployment service is not
// idle; two minutes later it answers v2 too. The late switch happens while
// fe02 serves, which breaks invariant 2.
func TestApplicationLagsOnOneServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, Seed: 1,
			PublishDuration: 10 * time.Second, InstallDuration: 20 * time.Second})
		require.NoError(t, err)
		require.NoError(t, sim.DelayApplication("fe02", "Portal", 2*time.Minute))
		require.NoError(t, sim.Start(t.Context()))
		defer sim.Stop()
		rel := drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Orders", Version: "4.2"}, {Name: "Portal", Version: "7.1"}}}
		pr := sim.Prober()
		probe := func(server, app string) drivers.ProbeResult {
			t.Helper()
			res, err := pr.ProbeApplication(t.Context(), drivers.Target{Name: server}, drivers.ApplicationProbe{Application: app, Path: "/" + app + "/"})
			require.NoError(t, err)
			return res
		}
		idle := func(server string) bool {
			t.Helper()
			ok, err := sim.Services().DeploymentIdle(t.Context(), drivers.Target{Name: server})
			require.NoError(t, err)
			return ok
		}
		assert.Equal(t, "v1", probe("fe02", "Portal").Version, "before any release listing it, an application answers the server's version")

		_, err = sim.Platform().StartDeployment(t.Context(), rel)
		require.NoError(t, err)
		time.Sleep(time.Minute) // publish 10 s, installs 20 s each, staggered
		for _, srv := range []string{"fe01", "fe02"} {
			res, err := pr.Probe(t.Context(), drivers.Target{Name: srv})
			require.NoError(t, err)
			assert.Equal(t, "v2", res.Version, "%s runs the release", srv)
			assert.Equal(t, "4.2", probe(srv, "Orders").Version)
		}
		assert.Equal(t, "7.1", probe("fe01", "Portal").Version)
		lag := probe("fe02", "Portal")
		assert.True(t, lag.Healthy, "the old version keeps answering while the new one deploys")
		assert.Equal(t, "v1", lag.Version)
		assert.True(t, idle("fe01"))
		assert.False(t, idle("fe02"), "fe02's Deployment service still deploys Portal")
		assert.NotEmpty(t, sim.CheckEndState(rel), "Portal still deploying on fe02 is not the end state")

		time.Sleep(2 * time.Minute)
		assert.Equal(t, "7.1", probe("fe02", "Portal").Version)
		assert.True(t, idle("fe02"))
		var late []string
		for _, v := range sim.Report().ViolationsOf(2) {
			if strings.Contains(v.Detail, "application Portal switched to 7.1") {
				late = append(late, v.Server)
			}
		}
		assert.Equal(t, []string{"fe02"}, late, "switching an application while serving is an install while serving")

		// A rollback to the initial release (no applications listed) puts
		// every application back on the server's version.
		_, err = sim.Platform().StartDeployment(t.Context(), drivers.Release{Version: "v1"})
		require.NoError(t, err)
		time.Sleep(time.Minute)
		assert.Equal(t, "v1", probe("fe02", "Portal").Version)
		assert.Equal(t, "v1", probe("fe01", "Orders").Version)
	})
}

func TestDelayApplicationRefusesBadInput(t *testing.T) {
	sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, Seed: 1})
	require.NoError(t, err)
	err = sim.DelayApplication("fe09", "Portal", time.Minute)
	require.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), `server "fe09"`)
	err = sim.DelayApplication("fe01", "", time.Minute)
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	err = sim.DelayApplication("fe01", "Portal", 0)
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "delay 0s for application Portal on fe01")
}
