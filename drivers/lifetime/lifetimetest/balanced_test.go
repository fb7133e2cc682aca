package lifetimetest_test

import (
	"context"
	"errors"
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

// throughLifeTime builds the balanced plan over a simulated farm whose
// platform is the real LifeTime client talking to the fake, itself backed
// by the simulator's platform.
func throughLifeTime(t *testing.T, sim *simulate.Sim, fake *lifetimetest.Fake, tune func(*steps.Config)) (*farm.Plan, drivers.Release) {
	t.Helper()
	return throughLifeTimeWith(t, sim, fake, nil, tune)
}

// throughLifeTimeWith is throughLifeTime with the client's Config tuned
// too.
func throughLifeTimeWith(t *testing.T, sim *simulate.Sim, fake *lifetimetest.Fake, tuneClient func(*lifetime.Config), tune func(*steps.Config)) (*farm.Plan, drivers.Release) {
	t.Helper()
	lc := lifetime.Config{
		BaseURL: lifetimetest.InProcessBaseURL, Token: drivers.NewSecret(token),
		SourceEnvironment: "Quality", TargetEnvironment: "Production",
		HTTPClient: &http.Client{Transport: fake.Transport()},
	}
	if tuneClient != nil {
		tuneClient(&lc)
	}
	client, err := lifetime.New(lc)
	require.NoError(t, err)
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	require.NoError(t, err)
	rel := drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Portal", Version: "v2"}}}
	cfg := steps.Config{
		Services: sim.Services(), Platform: client, Prober: sim.Prober(), Release: rel,
		// A host-lock directory of its own: simulated farms share farm
		// identities across tests and test processes.
		Plan: farm.PlanConfig{Seed: 1, Lock: farm.LockConfig{Dir: t.TempDir()}},
	}
	if tune != nil {
		tune(&cfg)
	}
	plan, err := steps.Balanced(f, cfg)
	require.NoError(t, err)
	return plan, rel
}

func simAndFake(t *testing.T, backend func(*simulate.Sim) lifetimetest.Backend) (*simulate.Sim, *lifetimetest.Fake) {
	t.Helper()
	sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 11})
	require.NoError(t, err)
	fake := lifetimetest.New(lifetimetest.Config{
		Token:        token,
		Backend:      backend(sim),
		Applications: []lifetimetest.Application{{Name: "Portal", Running: map[string]string{"Quality": "v2", "Production": "v1"}}},
	})
	return sim, fake
}

// TestFailedDeploymentSaysWhy fails the LifeTime deployment: LifeTime's log
// has no message types, and the run's error still quotes its last lines.
func TestFailedDeploymentSaysWhy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, fake := simAndFake(t, func(*simulate.Sim) lifetimetest.Backend {
			return lifetimetest.BackendFunc(func(ctx context.Context, rel drivers.Release, job *lifetimetest.Job) error {
				job.Log("Info", "Module Portal_Core: required entity Order is missing")
				return errors.New("compilation of Portal_Core failed")
			})
		})
		defer fake.Close()
		plan, rel := throughLifeTime(t, sim, fake, nil)
		_, err := sim.RunPlan(t.Context(), plan, rel, 10*time.Second)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "compilation of Portal_Core failed")
		assert.Contains(t, err.Error(), "required entity Order is missing")
	})
}

// TestBothPreparedSpellingsAreContinued pauses the deployment in each
// spelling of the prepared two-stage state: with ContinuePrepared the run
// continues it and succeeds.
func TestBothPreparedSpellingsAreContinued(t *testing.T) {
	for _, info := range []string{drivers.InfoDeployPrepared, drivers.InfoDeploymentPrepared} {
		t.Run(info, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, fake := simAndFake(t, func(sim *simulate.Sim) lifetimetest.Backend {
					return lifetimetest.PlatformBackend{Platform: sim.Platform(), PollInterval: time.Second}
				})
				defer fake.Close()
				fake.SetScript(lifetimetest.Script{PauseInfo: info})
				plan, rel := throughLifeTime(t, sim, fake, func(c *steps.Config) { c.ContinuePrepared = true })
				rep, err := sim.RunPlan(t.Context(), plan, rel, 10*time.Second)
				require.NoError(t, err)
				assert.Equal(t, farm.Succeeded, rep.Outcome)
				deps := fake.Deployments()
				require.Len(t, deps, 1)
				assert.Equal(t, 1, fake.Count(http.MethodPost, "/deployments/"+deps[0].Key+"/continue/"))
			})
		})
	}
}
