package nginx_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// e2eResult is what one balanced run under load measured.
type e2eResult struct {
	load   httpfarm.Result
	nginx  *realNginx
	report *farm.Report
	runErr error
	farm   *httpfarm.Farm
	hits   int64
}

const (
	e2eRate = 300 // requests per second: a margin over the 200/s asserted
	// e2eDrain is the drain period of both the driver and the engine: far
	// longer than a request (20-100 ms) even on a loaded test machine.
	e2eDrain = time.Second
)

// runBalanced starts six real backends behind a real NGINX, sends load
// through NGINX during a whole steps.Balanced run from v1 to v2, and returns
// what it measured. lbFor builds the load balancer the farm uses.
func runBalanced(t *testing.T, lbFor func(n *realNginx, members []nginx.Member) drivers.LoadBalancer) e2eResult {
	t.Helper()
	hf := httpfarm.New(t, httpfarm.Config{Backends: 6, PublishDelay: 200 * time.Millisecond, InstallDuration: time.Second})
	var members []nginx.Member
	for _, b := range hf.Backends() {
		members = append(members, nginx.Member{Name: b.Name(), Address: b.Addr()})
	}
	var lb drivers.LoadBalancer
	n := startNginx(t, func(n *realNginx) { lb = lbFor(n, members) })

	fm, err := farm.New(farm.Config{Zones: farm.AutoSplit(hf.Servers()), LoadBalancer: lb})
	require.NoError(t, err)
	plan, err := steps.Balanced(fm, steps.Config{
		Services: hf.Services(), Platform: hf.Platform(), Prober: hf.Prober(),
		Release:            drivers.Release{Version: "v2"},
		PollInterval:       25 * time.Millisecond,
		DeployPollInterval: 50 * time.Millisecond,
		DrainPeriod:        e2eDrain,
		ConfirmDelay:       50 * time.Millisecond,
		DrainTimeout:       10 * time.Second,
		HealthTimeout:      10 * time.Second,
		PublishTimeout:     30 * time.Second,
		InstallTimeout:     30 * time.Second,
	})
	require.NoError(t, err)

	load := httpfarm.StartLoad(t, httpfarm.LoadConfig{URL: "http://" + n.Addr + "/", Rate: e2eRate})
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	report, runErr := plan.Run(ctx)
	time.Sleep(300 * time.Millisecond)
	res := load.Stop()
	return e2eResult{load: res, nginx: n, report: report, runErr: runErr, farm: hf, hits: hf.InstallHits()}
}

// TestBalancedZeroDowntime runs the whole balanced procedure through a real
// NGINX driven by the open-source driver, with six real backends and 300
// requests per second, and asserts that no request failed.
func TestBalancedZeroDowntime(t *testing.T) {
	var d *nginx.OSS
	var driverLog bytes.Buffer
	r := runBalanced(t, func(n *realNginx, members []nginx.Member) drivers.LoadBalancer {
		cfg := n.ossConfig(members)
		cfg.DrainPeriod = e2eDrain
		cfg.Logger = slog.New(slog.NewTextHandler(&driverLog, nil))
		var err error
		d, err = nginx.NewOSS(cfg)
		require.NoError(t, err)
		require.NoError(t, d.Init(t.Context()))
		return d
	})
	require.NoError(t, r.runErr)
	require.Equal(t, farm.Succeeded, r.report.Outcome, "report: %+v", r.report)

	t.Logf("load: %s", r.load)
	t.Logf("mixed-version window: %d requests of clients that had seen v2 got v1 (NGINX cannot switch in one transaction)", len(r.load.Regressions("v1", "v2")))
	if !assert.Zero(t, r.load.Failed, "failed requests: %v", r.load.Causes) {
		for _, s := range r.load.Samples {
			if s.Err != "" {
				t.Logf("failed: client %d %s..%s backend %s: %s", s.Client, s.Start.Format("15:04:05.000"), s.End.Format("15:04:05.000"), s.Backend, s.Err)
			}
		}
		for _, st := range r.report.Steps {
			t.Logf("step %s: %s..%s %s", st.ID, st.Started.Format("15:04:05.000"), st.Finished.Format("15:04:05.000"), st.Status)
		}
		t.Logf("driver log:\n%s", driverLog.String())
		errLog, _ := os.ReadFile(r.nginx.ErrorLog)
		t.Logf("nginx error log:\n%s", errLog)
	}
	assert.Zero(t, r.hits, "user requests that reached an installing backend")
	assert.GreaterOrEqual(t, r.load.Rate(), 200.0, "the load must reach 200 requests/s over the whole run")
	assert.GreaterOrEqual(t, r.load.Duration, 2*time.Second, "the load must cover the run")
	assert.Equal(t, "v2", r.load.LastVersion())
	for _, b := range r.farm.Backends() {
		assert.Equal(t, "v2", b.Version(), b.Name())
		assert.Positive(t, b.Served(), "%s served user requests", b.Name())
	}
	sts, err := d.Status(t.Context())
	require.NoError(t, err)
	for _, st := range sts {
		assert.Equal(t, drivers.Serving, st.State, st.Member)
	}
}

// TestBalancedNegativeControl runs the same procedure with a load balancer
// that accepts every change and applies none, so traffic keeps reaching the
// servers while they install. The measurement must see the failures; if it
// did not, TestBalancedZeroDowntime would prove nothing.
func TestBalancedNegativeControl(t *testing.T) {
	r := runBalanced(t, func(n *realNginx, members []nginx.Member) drivers.LoadBalancer {
		d, err := nginx.NewOSS(n.ossConfig(members))
		require.NoError(t, err)
		require.NoError(t, d.Init(t.Context()))
		return &deafLB{states: map[string]drivers.MemberState{}}
	})
	require.NoError(t, r.runErr)
	t.Logf("load: %s", r.load)
	assert.Positive(t, r.load.Failed, "requests through a load balancer that never drains must fail")
	assert.Positive(t, r.hits, "user requests must reach installing backends")
	assert.Positive(t, r.load.Causes["status 503"], "causes: %v", r.load.Causes)
}

// deafLB records states and reports them back (a drain as already over)
// but never changes NGINX.
type deafLB struct {
	mu     sync.Mutex
	states map[string]drivers.MemberState
}

func (l *deafLB) SetState(_ context.Context, state drivers.MemberState, members ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range members {
		l.states[m] = state
	}
	return nil
}

func (l *deafLB) Status(_ context.Context, members ...string) ([]drivers.MemberStatus, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]drivers.MemberStatus, len(members))
	for i, m := range members {
		st := l.states[m]
		switch st {
		case "":
			st = drivers.Serving
		case drivers.Draining:
			st = drivers.Out // as the real driver reports once its drain period ends
		}
		out[i] = drivers.MemberStatus{Member: m, State: st, Health: drivers.HealthUnknown}
	}
	return out, nil
}
