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
	cfg, err := simulate.Config{
		Zones:   []simulate.ZoneConfig{{Servers: 4}},
		Seed:    1,
		Traffic: simulate.Traffic{Rate: 200},
	}.Scaled(0.002) // a 2-minute install takes 240 ms
	if err != nil {
		panic(err)
	}
	sim, err := simulate.New(cfg)
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
