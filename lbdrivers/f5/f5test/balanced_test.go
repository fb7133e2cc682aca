package f5test_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// TestBalancedThroughF5 runs steps.Balanced on a simulated farm under load
// whose load balancer is reached only through the real f5 driver and the
// fake iControl REST server, backed by the simulator's load balancer: every
// drain, forced offline and enable the engine asks for is a PUT the fake
// applies to the simulated farm, and every invariant is checked. Tokens
// expire (and are renewed) during the run.
func TestBalancedThroughF5(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 5})
		require.NoError(t, err)
		fake := f5test.New(f5test.Config{
			Password:      "pw",
			Store:         f5test.LoadBalancerStore(sim.LoadBalancer(""), 80),
			TokenLifetime: 5 * time.Minute, // shorter than the run
		})
		lb, err := f5.New(f5.Config{BaseURL: "https://bigip.test", Username: "admin", Password: drivers.NewSecret("pw"), Pool: "pool", HTTPClient: fake.Client()})
		require.NoError(t, err)

		servers := sim.Servers()
		for i := range servers {
			servers[i].Member = servers[i].Name + ":80"
		}
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers), LoadBalancer: lb})
		require.NoError(t, err)
		rel := drivers.Release{Version: "v2"}
		plan, err := steps.Balanced(f, steps.Config{
			Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(), Release: rel,
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

		puts := map[string]int{}
		for _, q := range fake.Requests() {
			if q.Method == http.MethodPut && q.Status == http.StatusOK {
				puts[q.Body]++
			}
			assert.NotEqual(t, http.StatusUnauthorized, q.Status, "tokens must be renewed before they expire")
		}
		for _, body := range []string{
			`{"state":"unchecked","session":"user-disabled"}`, // drain
			`{"state":"user-down","session":"user-disabled"}`, // out
			`{"state":"unchecked","session":"user-enabled"}`,  // back in
		} {
			assert.Positive(t, puts[body], "PUT %s: %v", body, puts)
		}
		assert.Greater(t, fake.Logins(), 1, "the run outlives a token")
		assert.Positive(t, fake.Transactions(), "switch-traffic uses one transaction")
		t.Logf("simulated %v, %d requests served, %d iControl requests, %d logins, PUT bodies %v", r.Elapsed, r.Served, len(fake.Requests()), fake.Logins(), puts)
	})
}
