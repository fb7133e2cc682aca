package steps_test

import (
	"context"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// ExampleBalanced deploys release v2 with the balanced procedure on a
// simulated farm of four servers under live traffic. With real drivers
// (drivers/winrm, drivers/lifetime, drivers/httpprobe, a load balancer from
// lbdrivers) the code is the same.
func ExampleBalanced() {
	sim, err := simulate.New(simulate.Config{
		Seed: 1, PublishDuration: 50 * time.Millisecond, InstallDuration: 80 * time.Millisecond, InstallStagger: 5 * time.Millisecond,
		ServiceLatency: -1, HealthCheckDelay: 10 * time.Millisecond, Tick: 10 * time.Millisecond,
		Traffic: simulate.Traffic{Rate: 200, Duration: 5 * time.Millisecond},
	})
	if err != nil {
		panic(err)
	}
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	if err != nil {
		panic(err)
	}
	plan, err := steps.Balanced(f, steps.Config{
		Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
		Release: drivers.Release{Version: "v2"},
		// Scaled down for the example; the defaults suit real farms.
		PollInterval: 5 * time.Millisecond, DeployPollInterval: 10 * time.Millisecond, ConfirmDelay: time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := sim.Start(ctx); err != nil {
		panic(err)
	}
	report, err := plan.Run(ctx)
	sim.Stop()
	fmt.Println("outcome:", report.Outcome, err)
	fmt.Println("end state exact:", len(sim.CheckEndState(drivers.Release{Version: "v2"})) == 0)
	r := sim.Report()
	fmt.Println("failed requests:", r.Failed, "violations:", r.TotalViolations())
	// Output:
	// outcome: succeeded <nil>
	// end state exact: true
	// failed requests: 0 violations: 0
}

// ExampleConfig_probes deploys a release of two applications, probing each
// on every server at its own path: Portal deploys late on fe04, and the run
// waits for it there before fe04 takes traffic again. With httpprobe the
// probes are HTTP GETs of each server's probe URL plus each path.
func ExampleConfig_probes() {
	sim, err := simulate.New(simulate.Config{
		Seed: 1, PublishDuration: 50 * time.Millisecond, InstallDuration: 80 * time.Millisecond, InstallStagger: 5 * time.Millisecond,
		ServiceLatency: -1, HealthCheckDelay: 10 * time.Millisecond, Tick: 10 * time.Millisecond,
		Traffic: simulate.Traffic{Rate: 200, Duration: 5 * time.Millisecond},
	})
	if err != nil {
		panic(err)
	}
	if err := sim.DelayApplication("fe04", "Portal", 300*time.Millisecond); err != nil {
		panic(err)
	}
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	if err != nil {
		panic(err)
	}
	rel := drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Orders", Version: "4.2"}, {Name: "Portal", Version: "7.1"}}}
	plan, err := steps.Balanced(f, steps.Config{
		Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
		Release: rel,
		// Each application at its own path; an empty Version is the
		// application's in the release.
		Probes: []drivers.ApplicationProbe{
			{Application: "Orders", Path: "/Orders/rest/Health/Version"},
			{Application: "Portal", Path: "/Portal/rest/Health/Version"},
		},
		QuietPeriod:  20 * time.Millisecond,
		PollInterval: 5 * time.Millisecond, DeployPollInterval: 10 * time.Millisecond, ConfirmDelay: time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := sim.Start(ctx); err != nil {
		panic(err)
	}
	report, err := plan.Run(ctx)
	sim.Stop()
	fmt.Println("outcome:", report.Outcome, err)
	fmt.Println("every application at its version everywhere:", len(sim.CheckEndState(rel)) == 0)
	fmt.Println("violations:", sim.Report().TotalViolations())
	// Output:
	// outcome: succeeded <nil>
	// every application at its version everywhere: true
	// violations: 0
}
