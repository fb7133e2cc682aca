package lifetimetest_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/fault"
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
		HTTPClient: &http.Client{Transport: fake.Transport()},
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := lifetime.New(cfg)
	require.NoError(t, err)
	return sim, fake, c
}

var relV2 = drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Portal", Version: "v2"}}}

// follow reads the deployment's status every 5 s (virtual time) until stop
// says so, at most one simulated day.
func follow(t *testing.T, c *lifetime.Client, id string, stop func(drivers.DeploymentStatus) bool) drivers.DeploymentStatus {
	t.Helper()
	for range 24 * 720 {
		st, err := c.DeploymentStatus(t.Context(), id)
		require.NoError(t, err)
		if stop(st) {
			return st
		}
		time.Sleep(5 * time.Second)
	}
	require.FailNow(t, "the deployment never got there", id)
	return drivers.DeploymentStatus{}
}

func done(st drivers.DeploymentStatus) bool { return st.State.Done() }

func TestPlatformBackendAbortReachesThePlatform(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, fake, c := simBacked(t, nil)
		defer fake.Close()
		require.NoError(t, sim.Start(t.Context()))
		defer sim.Stop()
		id, err := c.StartDeployment(t.Context(), relV2)
		require.NoError(t, err)
		time.Sleep(2 * time.Minute)
		require.NoError(t, c.AbortDeployment(t.Context(), id))
		st := follow(t, c, id, done)
		assert.Equal(t, drivers.DeploymentAborted, st.State)
		assert.Len(t, sim.Actions(simulate.OpAbortDeployment), 1, "the abort reached the platform")
		pst, err := sim.Platform().DeploymentStatus(t.Context(), "dep-1")
		require.NoError(t, err)
		assert.Equal(t, drivers.DeploymentAborted, pst.State)
	})
}

func TestPlatformBackendMirrorsUserIntervention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, fake, c := simBacked(t, nil)
		defer fake.Close()
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentNeedsUserIntervention, Info: drivers.InfoDeploymentPrepared}}))
		require.NoError(t, sim.Start(t.Context()))
		defer sim.Stop()
		id, err := c.StartDeployment(t.Context(), relV2)
		require.NoError(t, err)
		st := follow(t, c, id, func(st drivers.DeploymentStatus) bool { return st.Prepared() || st.State.Done() })
		require.True(t, st.Prepared(), "%+v", st)
		require.NoError(t, c.ContinueDeployment(t.Context(), id))
		st = follow(t, c, id, done)
		assert.True(t, st.State.Succeeded())
		assert.Len(t, sim.Actions(simulate.OpContinueDeployment), 1, "the continue reached the platform")
		assert.Equal(t, "v2", fake.Running("Production", "Portal"))
	})
}

func TestPlatformBackendFailedPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, fake, c := simBacked(t, nil)
		defer fake.Close()
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentFailed}}))
		require.NoError(t, sim.Start(t.Context()))
		defer sim.Stop()
		id, err := c.StartDeployment(t.Context(), relV2)
		require.NoError(t, err)
		st := follow(t, c, id, done)
		assert.Equal(t, drivers.DeploymentFailed, st.State)
		assert.Contains(t, st.LastMessages(3), "platform deployment dep-1 ended finished_with_errors", "the reason is in the last lines, which have no type")
		assert.Equal(t, "v1", fake.Running("Production", "Portal"))
	})
}
