package lifetimetest_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// simBacked returns a simulated farm, a fake LifeTime backed by its
// platform, and a client of the fake.
func simBacked(t *testing.T, tune func(*lifetime.Config)) (*simulate.Sim, *lifetimetest.Fake, *lifetime.Client) {
	t.Helper()
	sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, Seed: 3, PublishDuration: 10 * time.Minute})
	require.NoError(t, err)
	fake := lifetimetest.New(lifetimetest.Config{
		Token:        token,
		Backend:      lifetimetest.PlatformBackend{Platform: sim.Platform(), PollInterval: time.Second},
		Applications: []lifetimetest.Application{{Name: "Portal", Running: map[string]string{"Quality": "v2", "Production": "v1"}}},
	})
	cfg := lifetime.Config{
		BaseURL: lifetimetest.InProcessBaseURL, Token: drivers.NewSecret(token),
		SourceEnvironment: "Quality", TargetEnvironment: "Production",
		HTTPClient: &http.Client{Transport: fake.Transport()}, PollInterval: 5 * time.Second,
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := lifetime.New(cfg)
	require.NoError(t, err)
	return sim, fake, c
}

var relV2 = drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Portal", Version: "v2"}}}

func TestPlatformBackendAbortReachesThePlatform(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, fake, c := simBacked(t, nil)
		defer fake.Close()
		require.NoError(t, sim.Start(t.Context()))
		defer sim.Stop()
		id, err := c.StartDeployment(t.Context(), relV2)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		_, err = c.Wait(ctx, id)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		synctest.Wait()
		d, _ := fake.Deployment(id)
		assert.Equal(t, drivers.DeploymentAborted, d.State)
		assert.Len(t, sim.Actions(simulate.OpAbortDeployment), 1, "the abort reached the platform")
		st, err := sim.Platform().DeploymentStatus(t.Context(), "dep-1")
		require.NoError(t, err)
		assert.Equal(t, drivers.DeploymentAborted, st.State)
	})
}

func TestPlatformBackendMirrorsUserIntervention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, fake, c := simBacked(t, func(cfg *lifetime.Config) { cfg.ContinuePrepared = true })
		defer fake.Close()
		require.NoError(t, sim.InjectFault(simulate.Fault{Op: simulate.OpPublish, State: drivers.DeploymentNeedsUserIntervention, Info: lifetime.InfoDeploymentPrepared}))
		require.NoError(t, sim.Start(t.Context()))
		defer sim.Stop()
		id, err := c.StartDeployment(t.Context(), relV2)
		require.NoError(t, err)
		st, err := c.Wait(t.Context(), id)
		require.NoError(t, err)
		assert.True(t, st.State.Succeeded())
		assert.Equal(t, 1, fake.Count(http.MethodPost, "/deployments/"+id+"/continue/"))
		assert.Len(t, sim.Actions(simulate.OpContinueDeployment), 1, "the continue reached the platform")
		assert.Equal(t, "v2", fake.Running("Production", "Portal"))
	})
}

func TestPlatformBackendFailedPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, fake, c := simBacked(t, nil)
		defer fake.Close()
		require.NoError(t, sim.InjectFault(simulate.Fault{Op: simulate.OpPublish, State: drivers.DeploymentFailed}))
		require.NoError(t, sim.Start(t.Context()))
		defer sim.Stop()
		id, err := c.StartDeployment(t.Context(), relV2)
		require.NoError(t, err)
		st, err := c.Wait(t.Context(), id)
		require.ErrorIs(t, err, lifetime.ErrDeploymentFailed)
		assert.Equal(t, drivers.DeploymentFailed, st.State)
		assert.Contains(t, err.Error(), "platform deployment dep-1 ended finished_with_errors")
		assert.Equal(t, "v1", fake.Running("Production", "Portal"))
	})
}
