package lifetimetest_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBalancedThroughLifeTime runs steps.Balanced with the real LifeTime
// client against the fake, backed by a simulated farm's platform: the
// deployment plan the client creates really installs on the simulated
// servers, under load, with every invariant checked.
func TestBalancedThroughLifeTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 11})
		require.NoError(t, err)
		fake := lifetimetest.New(lifetimetest.Config{
			Token:   token,
			Backend: lifetimetest.PlatformBackend{Platform: sim.Platform(), PollInterval: time.Second},
			Applications: []lifetimetest.Application{
				{Name: "Portal", Running: map[string]string{"Quality": "v2", "Production": "v1"}},
			},
		})
		defer fake.Close()
		client, err := lifetime.New(lifetime.Config{
			BaseURL: lifetimetest.InProcessBaseURL, Token: drivers.NewSecret(token),
			SourceEnvironment: "Quality", TargetEnvironment: "Production",
			HTTPClient: &http.Client{Transport: fake.Transport()},
		})
		require.NoError(t, err)

		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
		require.NoError(t, err)
		rel := drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Portal", Version: "v2"}}}
		plan, err := steps.Balanced(f, steps.Config{
			Services: sim.Services(), Platform: client, Prober: sim.Prober(), Release: rel,
			Plan: farm.PlanConfig{Seed: 1},
		})
		require.NoError(t, err)
		ctx := t.Context()
		rep, runErr := sim.RunPlan(ctx, plan, rel, 10*time.Second)
		require.NoError(t, runErr)
		r := sim.Report()

		assert.Equal(t, farm.Succeeded, rep.Outcome)
		assert.Zero(t, r.Failed, r.String())
		assert.Zero(t, r.TotalViolations(), r.String())
		assert.Positive(t, r.ServedByVersion["v2"])

		deps := fake.Deployments()
		require.Len(t, deps, 1, "one LifeTime deployment")
		assert.Equal(t, drivers.DeploymentSucceeded, deps[0].State)
		assert.Equal(t, "v2", fake.Running("Production", "Portal"))
		assert.Positive(t, fake.Count(http.MethodGet, "/deployments/"+deps[0].Key+"/status/"))
		t.Logf("simulated %v, %d requests served, %d LifeTime requests", r.Elapsed, r.Served, len(fake.Requests()))
	})
}
