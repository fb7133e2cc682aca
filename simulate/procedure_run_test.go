package simulate_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
)

// runProcedure runs p (after optional tweaks) under load on a farm built
// from cfg and returns the report with invariants 6 and 7 checked.
func runProcedure(t *testing.T, cfg simulate.Config, tweak func(*procedure)) (simulate.Report, error) {
	t.Helper()
	sim, f, err := newFarm(cfg)
	require.NoError(t, err)
	ctx := t.Context()
	require.NoError(t, sim.Start(ctx))
	time.Sleep(10 * time.Second) // steady load before the deployment
	p := newProcedure(sim, f, "v2")
	if tweak != nil {
		tweak(p)
	}
	runErr := p.run(ctx)
	time.Sleep(10 * time.Second)
	sim.Stop()
	sim.CheckSafeState()
	if runErr == nil {
		sim.CheckEndState(p.release)
	}
	return sim.Report(), runErr
}

func TestSafeProcedureRecordsNoViolation(t *testing.T) {
	shapes := []struct {
		name string
		cfg  simulate.Config
	}{
		{"two servers", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}}},
		{"five servers", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 5}}, Seed: 7}},
		{"two zones", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 3}, {Servers: 4, Rate: 50}}, Seed: 3, Controller: "fe05"}},
		{"health unknown after out", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, RecheckAfterOut: true, HealthCheckDelay: 10 * time.Second}},
		{"long requests", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}},
			Traffic: simulate.Traffic{Rate: 40, Duration: time.Second, MaxDuration: 20 * time.Second}}},
	}
	for _, tc := range shapes {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, err := runProcedure(t, tc.cfg, nil)
				require.NoError(t, err)
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
				assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7}, r.Checked)
				assert.Greater(t, r.ServedByVersion["v1"], 100)
				assert.Greater(t, r.ServedByVersion["v2"], 100)
				assert.Equal(t, r.Requests, r.Served)
				for _, z := range r.Zones {
					assert.Zero(t, z.MixedVersionWindow, "zone %s", z.Name)
					assert.NotEmpty(t, z.Timeline)
				}
				assert.Contains(t, r.String(), "served=")
			})
		})
	}
}

// TestUnsafeProceduresAreCaught makes one step of the procedure unsafe at a
// time and checks the simulator reports the matching invariant.
func TestUnsafeProceduresAreCaught(t *testing.T) {
	long := simulate.Traffic{Rate: 40, Duration: 2 * time.Second, MaxDuration: 10 * time.Second}
	tests := []struct {
		name      string
		cfg       simulate.Config
		tweak     func(*procedure)
		invariant int
		cause     string
	}{
		{"members out without waiting for drain", simulate.Config{Traffic: long},
			func(p *procedure) { p.skipDrainWait = true }, 1, simulate.CauseResetOut},
		{"schedulers left running", simulate.Config{},
			func(p *procedure) { p.keepSchedulers = true }, 3, ""},
		{"loaded front-ends not blocked", simulate.Config{},
			func(p *procedure) { p.skipBlockLoaded = true }, 2, simulate.CauseResetInstall},
		{"switch before health checks pass", simulate.Config{HealthCheckDelay: 10 * time.Second, Traffic: long},
			func(p *procedure) { p.skipHealthWait = true }, 4, simulate.CauseNoServingMember},
		{"unknown health taken for healthy", simulate.Config{RecheckAfterOut: true, HealthCheckDelay: 10 * time.Second},
			func(p *procedure) { p.acceptUnknown = true }, 4, simulate.CauseNoServingMember},
		{"services restored to defaults, not to what was captured", simulate.Config{
			InitialServices: map[drivers.Service]drivers.ServiceState{drivers.SchedulerService: {Run: drivers.Running, Startup: drivers.Manual}}},
			nil, 6, ""},
		{"non-atomic switch", simulate.Config{},
			func(p *procedure) { p.nonAtomicSwitch = true }, 5, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, _ := runProcedure(t, tc.cfg, tc.tweak)
				assert.NotZero(t, r.ViolationCounts[tc.invariant], r.String())
				assert.NotEmpty(t, r.ViolationsOf(tc.invariant))
				if tc.cause != "" {
					assert.NotZero(t, r.FailureCauses[tc.cause], r.String())
				}
			})
		})
	}
}

func TestDeterministic(t *testing.T) {
	run := func(seed uint64) (simulate.Report, []simulate.Action) {
		var r simulate.Report
		var acts []simulate.Action
		synctest.Test(t, func(t *testing.T) {
			cfg := simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 3}, {Servers: 3}}, Seed: seed,
				Traffic: simulate.Traffic{Rate: 30, Duration: 100 * time.Millisecond, MaxDuration: 3 * time.Second}}
			sim, f, err := newFarm(cfg)
			require.NoError(t, err)
			require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpStatus, Err: context.DeadlineExceeded, Probability: 0.2}))
			require.NoError(t, sim.Start(t.Context()))
			p := newProcedure(sim, f, "v2")
			p.skipDrainWait = true // make failures happen, so there is something to compare
			_ = p.run(t.Context())
			sim.Stop()
			r, acts = sim.Report(), sim.Actions()
		})
		return r, acts
	}
	a, actsA := run(42)
	b, actsB := run(42)
	c, _ := run(43)
	assert.Equal(t, a, b)
	assert.Equal(t, a.String(), b.String())
	assert.Equal(t, len(actsA), len(actsB))
	assert.NotZero(t, a.Failed)
	assert.NotEqual(t, a.Requests, c.Requests, "another seed draws other arrivals")
}

func TestLargeFarmUnderSynctest(t *testing.T) {
	start := time.Now()
	synctest.Test(t, func(t *testing.T) {
		cfg := simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 120}, {Servers: 80}}, Seed: 5,
			Traffic: simulate.Traffic{Rate: 100}}
		r, err := runProcedure(t, cfg, nil)
		require.NoError(t, err)
		assert.Zero(t, r.Failed)
		assert.Zero(t, r.TotalViolations(), r.String())
		assert.Greater(t, r.Served, 50000)
		t.Logf("simulated %v, %d requests served, %d failed, %d violations", r.Elapsed, r.Served, r.Failed, r.TotalViolations())
	})
	t.Logf("200 servers, simulated deployment in %v of real time", time.Since(start))
}
