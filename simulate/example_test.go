package simulate_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/fault"
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

// ExampleSim_Inject makes the second StopService call on fe03 fail
// with a transient error, once, as a flaky WinRM endpoint would.
func ExampleSim_Inject() {
	sim, err := simulate.New(simulate.Config{ServiceLatency: -1})
	if err != nil {
		panic(err)
	}
	err = sim.Inject(fault.Fault{
		Op: simulate.OpStopService, Target: "fe03",
		Err:   drivers.Classify(drivers.ErrUnavailable, errors.New("WinRM endpoint busy")),
		After: 1, Times: 1,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	fe03 := drivers.Target{Name: "fe03"}
	for _, svc := range []drivers.Service{drivers.SchedulerService, drivers.DeploymentService, drivers.DeploymentService} {
		err := sim.Services().StopService(ctx, fe03, svc)
		fmt.Printf("stop %s: retryable=%t err=%v\n", svc, drivers.IsRetryable(err), err)
	}
	for _, a := range sim.Actions(simulate.OpStopService) {
		fmt.Println(a.Op, a.Servers, a.Detail, a.Err != nil)
	}
	// Output:
	// stop scheduler: retryable=false err=<nil>
	// stop deployment: retryable=true err=simulate: injected fault on StopService fe03: unavailable: WinRM endpoint busy
	// stop deployment: retryable=false err=<nil>
	// StopService [fe03] svc=scheduler false
	// StopService [fe03] svc=deployment true
	// StopService [fe03] svc=deployment false
}
