package steps_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// exampleFarm is a simulated farm of four servers, scaled down in time, and
// the balanced plan's configuration over it.
func exampleFarm(seed uint64) (*simulate.Sim, *farm.Farm, steps.Config) {
	sim, err := simulate.New(simulate.Config{
		Seed: seed, PublishDuration: 50 * time.Millisecond, InstallDuration: 80 * time.Millisecond, InstallStagger: 5 * time.Millisecond,
		ServiceLatency: -1, HealthCheckDelay: 10 * time.Millisecond, Tick: 10 * time.Millisecond,
	})
	if err != nil {
		panic(err)
	}
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	if err != nil {
		panic(err)
	}
	return sim, f, steps.Config{
		Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
		Release:      drivers.Release{Version: "v2"},
		PollInterval: 5 * time.Millisecond, DeployPollInterval: 10 * time.Millisecond, ConfirmDelay: time.Millisecond,
	}
}

// crashAfter is a journal that stops recording once a step is done and
// cancels the run: the orchestrator's process died right there.
type crashAfter struct {
	*journal.File
	step   string
	crash  context.CancelFunc
	halted bool
}

func (c *crashAfter) Append(rec journal.Record) error {
	if c.halted {
		return errors.New("the process is gone")
	}
	if err := c.File.Append(rec); err != nil {
		return err
	}
	if rec.Kind == journal.StepDone && rec.Step == c.step {
		c.halted = true
		c.crash()
	}
	return nil
}

// ExamplePlan_Resume_afterACrash runs the balanced plan with a file
// journal, "crashes" right after publish (the journal ends there, without
// an outcome), and resumes from the journal with a new plan, as a new
// process would: the steps done are skipped and the run ends exact.
func ExamplePlan_Resume_afterACrash() {
	sim, f, cfg := exampleFarm(2)
	dir, err := os.MkdirTemp("", "balanced-example")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "deploy.journal")
	ctx := context.Background()
	if err := sim.Start(ctx); err != nil {
		panic(err)
	}
	defer sim.Stop()

	j, err := journal.Open(path)
	if err != nil {
		panic(err)
	}
	crashCtx, crash := context.WithCancel(ctx)
	cfg.Plan = farm.PlanConfig{Journal: &crashAfter{File: j, step: steps.Publish, crash: crash}, Lock: farm.LockConfig{Dir: dir}}
	plan, err := steps.Balanced(f, cfg)
	if err != nil {
		panic(err)
	}
	_, _ = plan.Run(crashCtx) // the process dies after publish
	_ = j.Close()

	// A new process: read the journal, say where it stands, resume.
	recs, err := journal.ReadFile(path)
	if err != nil {
		panic(err)
	}
	st, err := journal.StateOf(recs)
	if err != nil {
		panic(err)
	}
	fmt.Printf("outcome recorded: %q, resume from: %s\n", st.Outcome, st.ResumeFrom)
	j, err = journal.Open(path)
	if err != nil {
		panic(err)
	}
	defer func() { _ = j.Close() }()
	cfg.Plan = farm.PlanConfig{Journal: j, Lock: farm.LockConfig{Dir: dir}}
	plan, err = steps.Balanced(f, cfg)
	if err != nil {
		panic(err)
	}
	report, err := plan.Resume(ctx, recs)
	fmt.Println("resumed:", report.Outcome, err)
	skipped := 0
	for _, s := range report.Steps {
		if s.Status == farm.StepAlreadyDone {
			skipped++
		}
	}
	fmt.Println("steps skipped:", skipped)
	fmt.Println("end state exact:", len(sim.CheckEndState(drivers.Release{Version: "v2"})) == 0)
	// Output:
	// outcome recorded: "", resume from: verify-updating
	// resumed: succeeded <nil>
	// steps skipped: 5
	// end state exact: true
}

// ExampleBalanced_rollback deploys a release the platform fails to publish,
// with the Rollback policy: the completed steps are undone in reverse and
// the farm ends as it was, on v1.
func ExampleBalanced_rollback() {
	sim, f, cfg := exampleFarm(3)
	if err := sim.Inject(fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentFailed}}); err != nil {
		panic(err)
	}
	cfg.Plan = farm.PlanConfig{OnFailure: farm.Rollback}
	plan, err := steps.Balanced(f, cfg)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	if err := sim.Start(ctx); err != nil {
		panic(err)
	}
	report, err := plan.Run(ctx)
	sim.Stop()
	fmt.Println("outcome:", report.Outcome, "at", report.FailedStep)
	fmt.Println("rolled back:", errors.Is(err, farm.ErrRolledBack))
	fmt.Println("back on v1 exactly:", len(sim.CheckEndState(drivers.Release{Version: "v1"})) == 0)
	// Output:
	// outcome: rolled-back at publish
	// rolled back: true
	// back on v1 exactly: true
}

// ExampleBalanced_ask decides failures as they come with the Ask policy: a
// server refuses to stop its Scheduler once; the callback (a person at a
// prompt, a chat bot) answers retry, and the run goes on.
func ExampleBalanced_ask() {
	sim, f, cfg := exampleFarm(4)
	// fe01 is an Updating server: the only service stopped on it is its
	// Scheduler (the Loaded servers' Deployment service is stopped beside).
	if err := sim.Inject(fault.Fault{Op: simulate.OpStopService, Target: "fe01",
		Err: fmt.Errorf("access is denied: %w", drivers.ErrPermissionDenied), Times: 1}); err != nil {
		panic(err)
	}
	cfg.Plan = farm.PlanConfig{OnFailure: farm.Ask, Ask: func(_ context.Context, fl farm.Failure) farm.Decision {
		fmt.Printf("asked: step %s failed on %v (try %d): retry\n", fl.Step, fl.Servers, fl.Attempt)
		return farm.DecideRetry
	}}
	plan, err := steps.Balanced(f, cfg)
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
	// Output:
	// asked: step stop-schedulers failed on [fe01] (try 1): retry
	// outcome: succeeded <nil>
}

// ExampleBalanced_customStep adds a step of your own to the balanced plan:
// warm the caches of each Updating server after it is verified and before
// it takes traffic. A step is an ID, a title for the runbook and a function;
// r.ForEachServer runs it per server with the engine's retries, concurrency
// and report.
func ExampleBalanced_customStep() {
	sim, f, cfg := exampleFarm(5)
	plan, err := steps.Balanced(f, cfg)
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex // ForEachServer calls the function on several servers at once
	warmed := map[string]bool{}
	warm := farm.Step{ID: "warm-caches", Title: "Warm the application caches on the Updating servers",
		Run: func(ctx context.Context, r *farm.Run) error {
			var updating []farm.Server
			for _, z := range r.Farm().Zones() {
				updating = append(updating, z.Updating.Servers...)
			}
			return r.ForEachServer(ctx, updating, func(ctx context.Context, s farm.Server) error {
				mu.Lock()
				defer mu.Unlock()
				warmed[s.Name] = true // a real step would call the server here
				return nil
			})
		}}
	if err := plan.InsertAfter(steps.VerifyUpdating, warm); err != nil {
		panic(err)
	}
	fmt.Println(plan.StepIDs()[4:7])
	ctx := context.Background()
	if err := sim.Start(ctx); err != nil {
		panic(err)
	}
	report, err := plan.Run(ctx)
	sim.Stop()
	fmt.Println("outcome:", report.Outcome, err, "warmed:", len(warmed))
	// Output:
	// [publish verify-updating warm-caches]
	// outcome: succeeded <nil> warmed: 2
}
