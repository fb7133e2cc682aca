package steps_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// A platform whose deployments run in two stages (here the simulator's,
// TwoStage) gets the prepare step by default: its first stage runs while
// every server serves, and publish continues it once the Updating servers
// are out and the Loaded ones blocked. PrepareOff (or a one-stage
// platform) gives the one-stage plan.
func ExampleConfig_prepareAtFullCapacity() {
	sim, err := simulate.New(simulate.Config{
		Seed: 1, TwoStage: true, PublishDuration: 50 * time.Millisecond, ApplyDuration: 20 * time.Millisecond,
		InstallDuration: 40 * time.Millisecond, InstallStagger: 5 * time.Millisecond,
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
	rel := drivers.Release{Version: "v2"}
	plan, err := steps.Balanced(f, steps.Config{
		Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(), Release: rel,
		// PrepareAtFullCapacity: steps.PrepareAuto is the default.
		PollInterval: 5 * time.Millisecond, DeployPollInterval: 10 * time.Millisecond, ConfirmDelay: time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.Join(plan.StepIDs()[:3], ", "))
	ctx := context.Background()
	if err := sim.Start(ctx); err != nil {
		panic(err)
	}
	report, err := plan.Run(ctx)
	sim.Stop()
	fmt.Println("outcome:", report.Outcome, err)
	fmt.Println("continued once:", len(sim.Actions(simulate.OpContinueDeployment)) == 1)
	fmt.Println("violations:", sim.Report().TotalViolations())
	// Output:
	// preflight, prepare, stop-schedulers
	// outcome: succeeded <nil>
	// continued once: true
	// violations: 0
}
