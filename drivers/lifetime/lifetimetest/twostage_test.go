package lifetimetest_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// twoStageFake is a fake whose Production environment runs deployments in
// two stages (a first stage of 4 min), backed by a simulated farm's
// one-stage platform: the second stage really installs there.
func twoStageFake(t *testing.T, sim *simulate.Sim, info string) *lifetimetest.Fake {
	t.Helper()
	return lifetimetest.New(lifetimetest.Config{
		Token:        token,
		Backend:      lifetimetest.PlatformBackend{Platform: sim.Platform(), PollInterval: time.Second},
		Environments: []lifetimetest.Environment{{Name: "Quality"}, {Name: "Production", TwoStage: true, PrepareDuration: 4 * time.Minute}},
		Applications: []lifetimetest.Application{{Name: "Portal", Running: map[string]string{"Quality": "v2", "Production": "v1"}}},
		PreparedInfo: info,
	})
}

// TestTwoStageEnvironment is the fake's two-stage flow through the real
// client: the deployment stops prepared after its first stage with nothing
// running changed (default Info deployment_prepared); continue runs the
// backend and changes the running version; a prepared deployment aborted
// ends aborted with nothing changed.
func TestTwoStageEnvironment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(lifetimetest.Config{
			Token:        token,
			Environments: []lifetimetest.Environment{{Name: "Quality"}, {Name: "Production", TwoStage: true, PrepareDuration: time.Minute}},
			Applications: []lifetimetest.Application{{Name: "Portal", Running: map[string]string{"Quality": "v2", "Production": "v1"}}},
		})
		defer f.Close()
		c, err := lifetime.New(lifetime.Config{BaseURL: lifetimetest.InProcessBaseURL, Token: drivers.NewSecret(token),
			SourceEnvironment: "Quality", TargetEnvironment: "Production", TwoStage: true,
			HTTPClient: &http.Client{Transport: f.Transport()}})
		require.NoError(t, err)
		assert.True(t, c.TwoStage())
		ctx := t.Context()
		rel := drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Portal", Version: "v2"}}}
		for _, abort := range []bool{true, false} { // abort first: v1 stays
			before := f.Running("Production", "Portal")
			id, err := c.StartDeployment(ctx, rel)
			require.NoError(t, err)
			st, err := c.DeploymentStatus(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, drivers.DeploymentRunning, st.State, "first stage")
			time.Sleep(time.Minute + time.Second)
			synctest.Wait()
			st, err = c.DeploymentStatus(ctx, id)
			require.NoError(t, err)
			assert.True(t, st.Prepared(), "%+v", st)
			assert.Equal(t, drivers.InfoDeploymentPrepared, st.Info)
			assert.Equal(t, before, f.Running("Production", "Portal"), "no changes in the running versions")
			if abort {
				require.NoError(t, c.AbortDeployment(ctx, id))
				synctest.Wait()
				st, err = c.DeploymentStatus(ctx, id)
				require.NoError(t, err)
				assert.Equal(t, drivers.DeploymentAborted, st.State)
				assert.Equal(t, before, f.Running("Production", "Portal"), "nothing running changed")
				continue
			}
			require.NoError(t, c.ContinueDeployment(ctx, id))
			synctest.Wait()
			st, err = c.DeploymentStatus(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, drivers.DeploymentSucceeded, st.State)
			assert.Equal(t, "v2", f.Running("Production", "Portal"))
			require.ErrorIs(t, c.ContinueDeployment(ctx, id), drivers.ErrInvalidArgument, "continue of a finished deployment: 400")
		}
	})
}

// TestBalancedPreparesThroughLifeTime runs the balanced plan through the
// real client on a two-stage environment of the fake, in each spelling of
// the prepared Info: the plan prepares at full capacity (the client
// declares TwoStage), continues the deployment once, and ends exact with
// no violation. With the client not told (a stock Config), the plan is
// the one-stage one and halts at the prepared deployment, asking for
// ContinuePrepared.
func TestBalancedPreparesThroughLifeTime(t *testing.T) {
	for _, info := range []string{drivers.InfoDeploymentPrepared, drivers.InfoDeployPrepared} {
		t.Run(info, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 11})
				require.NoError(t, err)
				fake := twoStageFake(t, sim, info)
				defer fake.Close()
				plan, rel := throughLifeTimeWith(t, sim, fake, func(c *lifetime.Config) { c.TwoStage = true }, nil)
				require.Equal(t, steps.Prepare, plan.StepIDs()[1])
				rep, err := sim.RunPlan(t.Context(), plan, rel, 10*time.Second)
				require.NoError(t, err)
				assert.Equal(t, farm.Succeeded, rep.Outcome)
				r := sim.Report()
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
				deps := fake.Deployments()
				require.Len(t, deps, 1)
				assert.Equal(t, 1, fake.Count(http.MethodPost, "/deployments/"+deps[0].Key+"/continue/"))
				assert.Equal(t, "v2", fake.Running("Production", "Portal"))
			})
		})
	}
	t.Run("client not told", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 11})
			require.NoError(t, err)
			fake := twoStageFake(t, sim, "")
			defer fake.Close()
			plan, rel := throughLifeTimeWith(t, sim, fake, nil, nil)
			assert.NotContains(t, plan.StepIDs(), steps.Prepare)
			_, err = sim.RunPlan(t.Context(), plan, rel, 10*time.Second)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "set ContinuePrepared")
			assert.Contains(t, err.Error(), "platform.two_stage")
			assert.Empty(t, sim.CheckSafeState())
		})
	})
}
