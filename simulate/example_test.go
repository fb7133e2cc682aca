package simulate_test

import (
	"context"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// Example runs the balanced deployment on a simulated farm of four
// front-ends under load, in real time with durations scaled down (under
// testing/synctest, keep the realistic defaults: they take no real time).
func Example() {
	sim, err := simulate.New(simulate.Config{
		Zones:           []simulate.ZoneConfig{{Servers: 4}},
		Seed:            1,
		PublishDuration: 200 * time.Millisecond, InstallDuration: 200 * time.Millisecond,
		InstallStagger: 10 * time.Millisecond, ServiceLatency: 2 * time.Millisecond,
		HealthCheckDelay: 30 * time.Millisecond, SchedulerInterval: time.Second,
		Tick:    50 * time.Millisecond,
		Traffic: simulate.Traffic{Rate: 200, Duration: 20 * time.Millisecond},
	})
	if err != nil {
		panic(err)
	}
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	if err != nil {
		panic(err)
	}
	release := drivers.Release{Version: "v2"}
	plan, err := steps.Balanced(f, steps.Config{
		Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(), Release: release,
		PollInterval: 10 * time.Millisecond, DeployPollInterval: 20 * time.Millisecond, ConfirmDelay: 10 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := sim.Start(ctx); err != nil {
		panic(err)
	}
	run, err := plan.Run(ctx)
	sim.Stop()
	if err != nil {
		panic(err)
	}
	sim.CheckEndState(release)
	report := sim.Report()
	fmt.Println("outcome:", run.Outcome)
	fmt.Println("failed requests:", report.Failed)
	fmt.Println("violations:", report.TotalViolations())
	fmt.Println("served v2:", report.ServedByVersion["v2"] > 0)
	// Output:
	// outcome: succeeded
	// failed requests: 0
	// violations: 0
	// served v2: true
}
