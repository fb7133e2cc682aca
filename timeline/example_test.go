package timeline_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/balanced-deploy/balanced/timeline"
)

// ExampleWrite deploys release v2 with the balanced procedure on a
// simulated farm of two zones under live traffic (in real time, durations
// scaled down) and draws what happened. Save the bytes as timeline.svg and
// open it in a browser.
func ExampleWrite() {
	sim, err := simulate.New(simulate.Config{
		Zones: []simulate.ZoneConfig{{Name: "east", Servers: 4}, {Name: "west", Servers: 4}},
		Seed:  1, PublishDuration: 50 * time.Millisecond, InstallDuration: 80 * time.Millisecond,
		ServiceLatency: -1, HealthCheckDelay: 10 * time.Millisecond, Tick: 10 * time.Millisecond,
		InstallStagger: 5 * time.Millisecond, SampleInterval: 10 * time.Millisecond,
		Traffic: simulate.Traffic{Rate: 200, Duration: 5 * time.Millisecond},
	})
	if err != nil {
		panic(err)
	}
	// The instant the simulation's Elapsed counts from, to place the steps.
	start := time.Now().Add(-sim.Elapsed())

	zones := farm.AutoSplit(sim.Servers())
	for i := range zones {
		zones[i].LoadBalancer = sim.LoadBalancer(zones[i].Name)
	}
	f, err := farm.New(farm.Config{Zones: zones})
	if err != nil {
		panic(err)
	}
	plan, err := steps.Balanced(f, steps.Config{
		Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
		Release:      drivers.Release{Version: "v2"},
		PollInterval: 5 * time.Millisecond, DeployPollInterval: 10 * time.Millisecond, ConfirmDelay: time.Millisecond,
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

	var svg bytes.Buffer
	if err := timeline.Write(&svg, sim.Report(), run, timeline.Options{Start: start}); err != nil {
		panic(err)
	}
	// os.WriteFile("timeline.svg", svg.Bytes(), 0o644)
	doc := svg.String()
	fmt.Println(strings.HasPrefix(doc, `<svg xmlns="http://www.w3.org/2000/svg"`))
	fmt.Println(strings.Count(doc, `class="zone"`), "zones")
	fmt.Println(strings.Count(doc, `<line class="step done"`), "steps")
	// Output:
	// true
	// 2 zones
	// 12 steps
}
