package progress_test

import (
	"fmt"
	"os"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/progress"
)

// ExampleNewTerminal shows the plain lines an operator reads in a CI log.
// In a program, the Terminal is the plan's observer:
//
//	term := progress.NewTerminal(os.Stderr, progress.TerminalConfig{})
//	plan, err := steps.Balanced(f, steps.Config{..., Plan: farm.PlanConfig{Observer: term}})
//
// Here the engine's events are replayed by hand, with fixed times.
func ExampleNewTerminal() {
	term := progress.NewTerminal(os.Stdout, progress.TerminalConfig{Plain: true})

	start := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	s := time.Second
	for _, e := range []event.Event{
		{Time: at(0), Kind: event.RunStarted, Total: 12, Message: "12 steps over 4 servers in 1 zones"},
		{Time: at(3 * s), Kind: event.StepStarted, Step: "drain-updating", Done: 2, Total: 12, Message: "Take the Updating servers out of the load balancer"},
		{Time: at(3 * s), Kind: event.ActionStarted, Step: "drain-updating", Zone: "default"},
		{Time: at(5 * s), Kind: event.Progress, Step: "drain-updating", Zone: "default", Done: 1, Total: 2, Message: "draining fe02 (2 active): 2 connections left"},
		{Time: at(7 * s), Kind: event.ActionRetry, Step: "drain-updating", Zone: "default", Attempt: 1,
			Err: fmt.Errorf("read members: %w", drivers.ErrUnavailable), Message: "transient error, retrying in 1s"},
		{Time: at(9 * s), Kind: event.ActionFinished, Step: "drain-updating", Zone: "default", Attempt: 2},
		{Time: at(9 * s), Kind: event.StepFinished, Step: "drain-updating", Done: 3, Total: 12},
		{Time: at(62 * s), Kind: event.RunFinished, Message: "run succeeded"},
	} {
		term.Observe(e)
	}
	// Output:
	// [00:00:00] run started: 12 steps over 4 servers in 1 zones
	// [00:00:03] step 3/12 drain-updating: Take the Updating servers out of the load balancer
	// [00:00:05]   drain-updating zone default: 1/2 draining fe02 (2 active): 2 connections left
	// [00:00:07]   retry zone default (attempt 1): read members: unavailable; transient error, retrying in 1s
	// [00:00:09]   drain-updating zone default: 2/2 done
	// [00:00:09] step 3/12 drain-updating done in 6s (1 action, 1 retry)
	// [00:01:02] run succeeded in 1m2s (1 step, 1 action, 1 retry)
}

// ExampleNewJSONLines shows one event as a line of JSON.
func ExampleNewJSONLines() {
	jl := progress.NewJSONLines(os.Stdout)
	jl.Observe(event.Event{
		Time: time.Date(2026, 11, 27, 3, 0, 5, 0, time.UTC), Kind: event.Progress,
		Step: "drain-updating", Zone: "default", Done: 1, Total: 2,
		Message: "draining fe02 (2 active): 2 connections left",
	})
	// Output:
	// {"time":"2026-11-27T03:00:05Z","kind":"progress","step":"drain-updating","zone":"default","done":1,"total":2,"message":"draining fe02 (2 active): 2 connections left"}
}
