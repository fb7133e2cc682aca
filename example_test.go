package balanced_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// Example deploys release v2 across a simulated farm of six front-ends:
// it prints the first lines of the runbook, runs it, and checks that no
// request failed. Replace the simulator's drivers with drivers/winrm,
// drivers/lifetime, drivers/httpprobe and a load balancer from lbdrivers for
// a real farm.
func Example() {
	sim, _ := simulate.New(simulate.Config{
		Zones: []simulate.ZoneConfig{{Servers: 6}}, Seed: 7,
		PublishDuration: 40 * time.Millisecond, InstallDuration: 60 * time.Millisecond, InstallStagger: 5 * time.Millisecond,
		ServiceLatency: -1, HealthCheckDelay: 10 * time.Millisecond, Tick: 10 * time.Millisecond,
		Traffic: simulate.Traffic{Rate: 100, Duration: 5 * time.Millisecond},
	})
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := steps.Balanced(f, steps.Config{
		Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
		Release:      drivers.Release{Version: "v2"},
		PollInterval: 5 * time.Millisecond, DeployPollInterval: 10 * time.Millisecond, ConfirmDelay: time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, z := range f.Zones() {
		fmt.Println("updating:", z.Updating.Names(), "loaded:", z.Loaded.Names())
	}
	ctx := context.Background()
	_ = sim.Start(ctx)
	report, err := plan.Run(ctx)
	sim.Stop()
	if err != nil {
		_ = report.Write(os.Stdout)
		return
	}
	r := sim.Report()
	fmt.Println(report.Outcome, "failed requests:", r.Failed, "violations:", r.TotalViolations())
	// Output:
	// updating: [fe01 fe02 fe03] loaded: [fe04 fe05 fe06]
	// succeeded failed requests: 0 violations: 0
}
