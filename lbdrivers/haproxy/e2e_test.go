package haproxy_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// e2eRun is one deployment of v2 over six real backends behind a real
// HAProxy, under open-loop load.
type e2eRun struct {
	report *farm.Report
	runErr error
	load   httpfarm.Result
	farm   *httpfarm.Farm
	lb     *realHAProxy
	ended  time.Time // when the plan finished
}

// deploy runs steps.Balanced (edited by edit, if not nil) while the load
// generator sends 250 requests per second, each lasting 20-100ms.
func deploy(t *testing.T, edit func(*farm.Plan)) e2eRun {
	t.Helper()
	hf := httpfarm.New(t, httpfarm.Config{Backends: 6, PublishDelay: 300 * time.Millisecond, InstallDuration: time.Second})
	lb := startHAProxy(t, hf.Backends())
	fm, err := farm.New(farm.Config{Zones: farm.AutoSplit(hf.Servers()), LoadBalancer: lb.Driver})
	require.NoError(t, err)
	require.Len(t, fm.Zones()[0].Updating.Servers, 3)
	require.Len(t, fm.Zones()[0].Loaded.Servers, 3)
	plan, err := steps.Balanced(fm, httpfarm.Timings(steps.Config{
		Services: hf.Services(), Platform: hf.Platform(), Prober: hf.Prober(),
		Release: drivers.Release{Version: "v2"},
	}))
	require.NoError(t, err)
	if edit != nil {
		edit(plan)
	}
	load := httpfarm.StartLoad(t, httpfarm.LoadConfig{URL: lb.Frontend, Rate: 250, MinDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond})
	time.Sleep(300 * time.Millisecond) // steady load before the run
	report, runErr := plan.Run(t.Context())
	ended := time.Now()
	time.Sleep(500 * time.Millisecond) // and after it
	res := load.Stop()
	var buf bytes.Buffer
	if report != nil {
		_ = report.Write(&buf)
	}
	t.Logf("load: %s; install hits %d; run error %v\n%s", res, hf.InstallHits(), runErr, buf.String())
	return e2eRun{report: report, runErr: runErr, load: res, farm: hf, lb: lb, ended: ended}
}

// TestBalancedZeroDowntime deploys through a real HAProxy with the complete
// balanced plan and checks the safety invariants from the clients' side.
func TestBalancedZeroDowntime(t *testing.T) {
	r := deploy(t, nil)
	require.NoError(t, r.runErr)
	require.NotNil(t, r.report)
	assert.Equal(t, farm.Succeeded, r.report.Outcome)

	res := r.load
	assert.GreaterOrEqual(t, res.Rate(), 200.0, "the load must stay at >= 200 req/s")
	assert.Zero(t, res.Failed, "no request may fail: causes %v", res.Causes)
	assert.Zero(t, r.farm.InstallHits(), "no user request may reach a backend while it installs")
	assert.Greater(t, res.Versions["v1"], 0, "clients were served v1 before the switch")
	assert.Greater(t, res.Versions["v2"], 0, "clients are served v2 after the switch")
	assert.Empty(t, res.Regressions("v1", "v2"), "no client may go back from v2 to v1")
	for _, s := range res.Samples {
		if s.Start.After(r.ended) {
			assert.Equal(t, "v2", s.Version, "a request started after the run got %q from %s (%s)", s.Version, s.Backend, s.Err)
		}
	}
	for _, b := range r.farm.Backends() {
		assert.Equal(t, "v2", b.Version(), b.Name())
	}
	st, err := r.lb.Driver.Status(t.Context())
	require.NoError(t, err)
	for _, s := range st {
		assert.Equal(t, drivers.Serving, s.State, s.Member)
		assert.Equal(t, drivers.Healthy, s.Health, s.Member)
	}
}

// TestDeployWithoutDrainFails is the negative control: the same farm and
// load, with the drain-updating step removed, so the Updating servers
// install while HAProxy still sends them requests. The checks of
// TestBalancedZeroDowntime must see it.
func TestDeployWithoutDrainFails(t *testing.T) {
	r := deploy(t, func(p *farm.Plan) { require.NoError(t, p.Remove(steps.DrainUpdating)) })
	assert.Greater(t, r.load.Failed, 0, "without draining, requests must fail: %s", r.load)
	assert.Greater(t, r.farm.InstallHits(), int64(0), "without draining, user requests reach installing backends")
}
