package farm_test

import (
	"context"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
)

// ExampleGuard declares the state a step establishes (fe03's Scheduler
// stopped) as a guard until a later step; something restarts the Scheduler
// behind the run's back, and the guard stops it again at the next step
// boundary, reporting the drift.
func ExampleGuard() {
	sim, _ := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, ServiceLatency: -1})
	f, _ := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	svc := sim.Services()
	fe03 := drivers.Target{Name: "fe03"}
	stopped := farm.Guard{Name: "fe03-scheduler-stopped", Until: "start", Check: func(ctx context.Context, r *farm.Run) error {
		st, err := svc.ServiceState(ctx, fe03, drivers.SchedulerService)
		if err != nil || st.Run == drivers.Stopped {
			return err
		}
		if err := svc.StopService(ctx, fe03, drivers.SchedulerService); err != nil {
			return fmt.Errorf("fe03's Scheduler runs and cannot be stopped: %w", err)
		}
		r.Drifted(farm.Drift{Guard: "fe03-scheduler-stopped", Server: "fe03", Repaired: true, What: "Scheduler was running: stopped again"})
		return nil
	}}
	plan, _ := farm.NewPlan(f, farm.PlanConfig{},
		farm.Step{ID: "stop", Guards: []farm.Guard{stopped}, Run: func(ctx context.Context, r *farm.Run) error {
			return svc.StopService(ctx, fe03, drivers.SchedulerService)
		}},
		farm.Step{ID: "work", Run: func(ctx context.Context, r *farm.Run) error {
			return nil
		}},
		farm.Step{ID: "start", Run: func(ctx context.Context, r *farm.Run) error {
			return svc.RestoreService(ctx, fe03, drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
		}},
	)
	_ = plan.After("stop", farm.Hook{Name: "a colleague restarts it", Func: func(context.Context, *farm.Run) error {
		return sim.SetServiceState("fe03", drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
	}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := plan.Run(ctx)
	fmt.Println(rep.Outcome, err)
	for _, d := range rep.Drifts {
		fmt.Printf("%s: %s %s (repaired %v): %s\n", d.Step, d.Guard, d.Server, d.Repaired, d.What)
	}
	// Output:
	// succeeded <nil>
	// work: fe03-scheduler-stopped fe03 (repaired true): Scheduler was running: stopped again
}
