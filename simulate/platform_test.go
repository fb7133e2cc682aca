package simulate_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
)

// TestPlatformFindDeployment checks the simulated platform's
// drivers.DeploymentFinder: a deployment of the release is found while it
// runs or waits for user intervention, and not once it has ended.
func TestPlatformFindDeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, Seed: 1, PublishDuration: time.Minute})
		require.NoError(t, err)
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentNeedsUserIntervention, Info: drivers.InfoDeployPrepared}, Times: 1}))
		require.NoError(t, sim.Start(t.Context()))
		defer sim.Stop()
		p := sim.Platform()
		v2 := drivers.Release{Version: "v2"}

		_, found, err := p.FindDeployment(t.Context(), v2)
		require.NoError(t, err)
		assert.False(t, found)
		id, err := p.StartDeployment(t.Context(), v2)
		require.NoError(t, err)
		got, found, err := p.FindDeployment(t.Context(), v2)
		require.NoError(t, err)
		assert.True(t, found, "running")
		assert.Equal(t, id, got)
		_, found, err = p.FindDeployment(t.Context(), drivers.Release{Version: "v3"})
		require.NoError(t, err)
		assert.False(t, found, "another release")

		time.Sleep(2 * time.Minute)
		st, err := p.DeploymentStatus(t.Context(), id)
		require.NoError(t, err)
		require.True(t, st.Prepared())
		_, found, err = p.FindDeployment(t.Context(), v2)
		require.NoError(t, err)
		assert.True(t, found, "waiting for user intervention")

		require.NoError(t, p.ContinueDeployment(t.Context(), id))
		_, found, err = p.FindDeployment(t.Context(), v2)
		require.NoError(t, err)
		assert.False(t, found, "finished")
		assert.Len(t, sim.Actions(simulate.OpFindDeployment), 5, "each call is recorded")
	})
}
