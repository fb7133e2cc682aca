// Command quickstart runs a balanced deployment of a simulated farm (8
// front-ends in 2 zones, each zone with its own load balancer) under live
// traffic, in real time with scaled-down durations, and prints each step as it
// runs and a final report. Its last line is
//
//	served=<n> failed=<n> violations=<n>
//
// and it exits non-zero when a request failed or a safety invariant was
// violated. It also writes timeline.svg next to where it runs: per zone, the
// serving members and the versions they serve over time, with the step
// boundaries; open it in a browser to see the two groups trade traffic.
//
//	go run ./examples/quickstart
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/balanced-deploy/balanced/timeline"
)

// usage is what -h, -help and --help print.
const usage = `Usage: go run ./examples/quickstart

Runs a balanced deployment of release v2 over a simulated farm of 8
front-ends in 2 zones under live traffic (about 15 seconds), prints the
runbook, each step, a report ending in "served=<n> failed=<n> violations=<n>",
and writes timeline.svg in the current directory. It takes no argument.
Exit status: 0 clean, 1 a request failed or an invariant was violated,
2 the simulation could not run.
`

func main() {
	if code, done := args(os.Args[1:], os.Stdout, os.Stderr); done {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ok, err := run(ctx, os.Stdout, "timeline.svg")
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

// args handles the command line: help prints the usage and exits 0, any
// other argument is refused with exit code 2. done is false when the
// deployment should run.
func args(argv []string, stdout, stderr io.Writer) (code int, done bool) {
	if len(argv) == 0 {
		return 0, false
	}
	switch argv[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0, true
	}
	fmt.Fprintf(stderr, "quickstart: unexpected argument %q\n\n%s", argv[0], usage)
	return 2, true
}

// versions renders requests counted by version as "v1=433 v2=266",
// versions in order.
func versions(by map[string]int) string {
	keys := slices.Sorted(maps.Keys(by))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, by[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// run deploys release v2 on the simulated farm, reports, and writes the
// timeline picture to svgPath. It returns false when a request failed or an
// invariant was violated.
func run(ctx context.Context, out io.Writer, svgPath string) (bool, error) {
	sim, err := simulate.New(simulate.Config{
		Zones:             []simulate.ZoneConfig{{Name: "east", Servers: 4}, {Name: "west", Servers: 4}},
		Seed:              42,
		PublishDuration:   time.Second,
		InstallDuration:   1500 * time.Millisecond,
		InstallStagger:    100 * time.Millisecond,
		ServiceLatency:    20 * time.Millisecond,
		HealthCheckDelay:  200 * time.Millisecond,
		SchedulerInterval: 500 * time.Millisecond,
		Tick:              50 * time.Millisecond,
		Traffic:           simulate.Traffic{Rate: 100, Duration: 50 * time.Millisecond, MaxDuration: 300 * time.Millisecond, Clients: 40},
	})
	if err != nil {
		return false, err
	}
	simStart := time.Now().Add(-sim.Elapsed()) // the instant the simulation's clock counts from
	zones := farm.AutoSplit(sim.Servers())
	for i := range zones {
		zones[i].LoadBalancer = sim.LoadBalancer(zones[i].Name)
	}
	f, err := farm.New(farm.Config{Zones: zones})
	if err != nil {
		return false, err
	}
	release := drivers.Release{Version: "v2", Notes: "quickstart"}
	plan, err := steps.Balanced(f, steps.Config{
		Services: sim.Services(),
		Platform: sim.Platform(),
		Prober:   sim.Prober(),
		Release:  release,
		// A live status block on a terminal, one line per event otherwise.
		Plan: farm.PlanConfig{Observer: progress.NewTerminal(out, progress.TerminalConfig{})},

		PollInterval:       50 * time.Millisecond,
		DeployPollInterval: 100 * time.Millisecond,
		ProgressInterval:   time.Second,
		ConfirmDelay:       200 * time.Millisecond,
		DrainTimeout:       10 * time.Second,
		HealthTimeout:      10 * time.Second,
		PublishTimeout:     30 * time.Second,
		InstallTimeout:     30 * time.Second,
	})
	if err != nil {
		return false, err
	}
	fmt.Fprintln(out, "The runbook, annotated with this farm's names:")
	fmt.Fprintln(out)
	if err := plan.Describe(out); err != nil {
		return false, err
	}
	fmt.Fprintln(out)

	if err := sim.Start(ctx); err != nil {
		return false, err
	}
	time.Sleep(500 * time.Millisecond) // traffic before the deployment starts
	report, runErr := plan.Run(ctx)
	time.Sleep(500 * time.Millisecond) // and after it ends
	sim.Stop()

	end := sim.CheckEndState(release)
	if runErr != nil {
		sim.CheckSafeState()
	}
	fmt.Fprintln(out)
	if err := report.Write(out); err != nil {
		return false, err
	}
	res := sim.Report()
	fmt.Fprintln(out)
	for _, z := range res.Zones {
		fmt.Fprintf(out, "zone %-5s served=%d failed=%d by version: %s mixed-version window=%s\n",
			z.Name, z.Served, z.Failed, versions(z.ByVersion), z.MixedVersionWindow.Round(time.Millisecond))
	}
	fmt.Fprintf(out, "scheduler timer runs=%d inconsistent=%d; end state exact=%v\n", res.SchedulerRuns, res.InconsistentTimerRuns, len(end) == 0)
	for _, v := range res.Violations {
		fmt.Fprintln(out, "violation:", v)
	}
	if runErr != nil {
		fmt.Fprintln(out, "run error:", runErr)
	}
	var svg bytes.Buffer
	if err := timeline.Write(&svg, res, report, timeline.Options{Start: simStart, Title: "quickstart: balanced deployment of v2"}); err != nil {
		return false, err
	}
	if err := os.WriteFile(svgPath, svg.Bytes(), 0o644); err != nil {
		return false, err
	}
	fmt.Fprintln(out, "timeline written to", svgPath)
	fmt.Fprintf(out, "served=%d failed=%d violations=%d\n", res.Served, res.Failed, res.TotalViolations())
	return runErr == nil && res.Failed == 0 && res.TotalViolations() == 0, nil
}
