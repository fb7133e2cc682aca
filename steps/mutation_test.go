package steps_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mutant is the balanced plan with one step removed or two steps swapped,
// and the invariant (docs/safety.md) that must catch it.
type mutant struct {
	name   string
	mutate func(p *farm.Plan) error
	// crashAfterPublish crashes an Updating server once publish is done:
	// the fault the verification step exists to catch.
	crashAfterPublish bool
	// caughtBy is the invariant whose violation shows the mutant unsafe.
	caughtBy int
	// haltsAt is, for mutants caught by the end state (invariant 6), the
	// step where the run halts, or "" when it runs to the end: the end
	// state is then wrong only because of the missing step.
	haltsAt string
}

func remove(id string) func(p *farm.Plan) error {
	return func(p *farm.Plan) error { return p.Remove(id) }
}

func move(id, after string) func(p *farm.Plan) error {
	return func(p *farm.Plan) error { return p.Move(id, after) }
}

// mutants lists, for each of the runbook's eleven steps, the plan without
// it, and the key pairs swapped, with the invariant that catches each.
var mutants = []mutant{
	{name: "without stop-schedulers", mutate: remove(steps.StopSchedulers), caughtBy: 3},                          // a Scheduler runs while code and schema disagree
	{name: "without drain-updating", mutate: remove(steps.DrainUpdating), caughtBy: 2},                            // Updating servers install while serving
	{name: "without block-loaded", mutate: remove(steps.BlockLoaded), caughtBy: 2},                                // Loaded servers install while serving
	{name: "without publish", mutate: remove(steps.Publish), caughtBy: 6, haltsAt: steps.VerifyUpdating},          // nothing deployed: the end state is not the release
	{name: "without verify-updating", mutate: remove(steps.VerifyUpdating), crashAfterPublish: true, caughtBy: 4}, // traffic sent to a server that is down
	{name: "without switch-traffic", mutate: remove(steps.SwitchTraffic), caughtBy: 2},                            // Loaded servers unblocked while serving
	{name: "without start-schedulers-updating", mutate: remove(steps.StartSchedulersUpdating), caughtBy: 6},
	{name: "without unblock-loaded", mutate: remove(steps.UnblockLoaded), caughtBy: 6, haltsAt: steps.AwaitLoaded}, // Loaded servers never catch up
	{name: "without await-loaded", mutate: remove(steps.AwaitLoaded), caughtBy: 2},                                 // Loaded back in while installing
	{name: "without restore-traffic", mutate: remove(steps.RestoreTraffic), caughtBy: 6},
	{name: "without start-schedulers-loaded", mutate: remove(steps.StartSchedulersLoaded), caughtBy: 6},
	{name: "drain after publish", mutate: move(steps.DrainUpdating, steps.Publish), caughtBy: 2},
	{name: "switch before verify", mutate: move(steps.SwitchTraffic, steps.Publish), crashAfterPublish: true, caughtBy: 4},
}

// runMutant runs the (mutated) plan on a 4-server farm under load and
// returns the simulator's report with invariant 7 checked after a halt and
// invariant 6 after a success (after any run of a mutant).
//
// The health checks take 40 s to notice a change, longer than the 30 s
// installs: they never see an install through (its verdict is dropped), and
// they see a crash after publish only once the switch is done, which is
// what verify-updating's direct probe exists for.
func runMutant(t *testing.T, m mutant) (simulate.Report, *farm.Report, error) {
	sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 21, HealthCheckDelay: 40 * time.Second,
		Traffic: simulate.Traffic{Rate: 20, Duration: 200 * time.Millisecond, MaxDuration: 2 * time.Second}})
	p := sf.plan(t, nil, nil, farm.Halt, "v2")
	if m.mutate != nil {
		require.NoError(t, m.mutate(p))
	}
	if m.crashAfterPublish {
		require.NoError(t, p.After(steps.Publish, farm.Hook{Name: "crash fe02", Func: func(context.Context, *farm.Run) error {
			return sf.sim.Crash("fe02", 0)
		}}))
	}
	require.NoError(t, sf.sim.Start(t.Context()))
	time.Sleep(5 * time.Second)
	rep, err := p.Run(t.Context())
	time.Sleep(10 * time.Second)
	sf.sim.Stop()
	if err != nil {
		sf.sim.CheckSafeState()
	}
	if err == nil || m.mutate != nil {
		// A mutant that halts has still failed the runbook's purpose:
		// the farm does not end on the release.
		sf.sim.CheckEndState(drivers.Release{Version: "v2"})
	}
	return sf.sim.Report(), rep, err
}

// TestEveryStepIsNecessary runs each mutant of the plan and checks that the
// simulator reports the violation the missing or misplaced step exists to
// prevent, while the whole plan under the same conditions reports none.
func TestEveryStepIsNecessary(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("whole plan, crash after publish %v", crash), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, _, err := runMutant(t, mutant{crashAfterPublish: crash})
				if crash {
					require.Error(t, err, "verification catches the crashed server and halts")
					assert.Contains(t, err.Error(), "fe02")
				} else {
					require.NoError(t, err)
				}
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
			})
		})
	}
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r, rep, err := runMutant(t, m)
				assert.NotEmpty(t, r.ViolationsOf(m.caughtBy), "invariant %d must catch %q (run error: %v)\n%s", m.caughtBy, m.name, err, r.String())
				if m.caughtBy == 6 {
					// Caught for the right reason: the run went as far as the
					// missing step lets it, not halted early by something else.
					assert.Equal(t, m.haltsAt, rep.FailedStep, "run error: %v", err)
				}
			})
		})
	}
}

// TestLargeFarm runs the plan on 200 servers in two zones with 30 s drains
// (requests lasting up to 30 s) and 2 min installs, in virtual time. The
// wall time is logged, not asserted (BENCHMARKS.md has the measured
// figures).
func TestLargeFarm(t *testing.T) {
	start := time.Now()
	var simulated time.Duration
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 120}, {Servers: 80}}, Seed: 200,
			InstallDuration: 2 * time.Minute, PublishDuration: time.Minute,
			Traffic: simulate.Traffic{Rate: 50, Duration: 25 * time.Second, MaxDuration: 30 * time.Second}})
		p := sf.plan(t, nil, nil, farm.Halt, "v2")
		require.NoError(t, sf.sim.Start(t.Context()))
		time.Sleep(30 * time.Second)
		t0 := time.Now()
		rep, err := p.Run(t.Context())
		simulated = time.Since(t0)
		require.NoError(t, err)
		d, _ := rep.Step(steps.DrainUpdating)
		assert.GreaterOrEqual(t, d.Finished.Sub(d.Started), 25*time.Second, "the drain waits for 25-30 s requests")
		time.Sleep(30 * time.Second)
		sf.sim.Stop()
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}))
		r := sf.sim.Report()
		assert.Zero(t, r.Failed, r.String())
		assert.Zero(t, r.TotalViolations(), r.String())
		assert.Greater(t, r.Served, 10000)
	})
	t.Logf("200 servers: %s of simulated deployment in %s of wall time", simulated.Round(time.Second), time.Since(start).Round(time.Millisecond))
}
