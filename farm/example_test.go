package farm_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
)

// ExampleNew builds a farm from an explicit split and shows how a bad one is
// refused before any driver is called.
func ExampleNew() {
	sim, _ := simulate.New(simulate.Config{}) // stands in for a real load balancer
	lb := sim.LoadBalancer("")

	f, err := farm.New(farm.Config{
		LoadBalancer: lb,
		Zones: []farm.ZoneSpec{{
			Name:     "default",
			Updating: []farm.Server{{Name: "fe01", DeploymentController: true}, {Name: "fe02"}},
			Loaded:   []farm.Server{{Name: "fe03"}, {Name: "fe04"}},
		}},
	})
	fmt.Println(len(f.Servers()), err)

	_, err = farm.New(farm.Config{
		LoadBalancer: lb,
		Zones: []farm.ZoneSpec{{
			Updating: []farm.Server{{Name: "fe01"}},
			Loaded:   []farm.Server{{Name: "fe02", DeploymentController: true}},
		}},
	})
	fmt.Println(err)
	// Output:
	// 4 <nil>
	// invalid farm: zone default: server fe02 has the Deployment Controller role but is in the Loaded group: want it in the Updating group
}

// ExampleAutoSplit proposes the two groups of each zone.
func ExampleAutoSplit() {
	servers := []farm.Server{
		{Name: "fe01", Zone: "eu"}, {Name: "fe02", Zone: "eu", DeploymentController: true}, {Name: "fe03", Zone: "eu"},
		{Name: "fe04", Zone: "us"}, {Name: "fe05", Zone: "us"},
	}
	for _, z := range farm.AutoSplit(servers) {
		fmt.Printf("%s: updating %v, loaded %v\n", z.Name,
			farm.Group{Servers: z.Updating}.Names(), farm.Group{Servers: z.Loaded}.Names())
	}
	// Output:
	// eu: updating [fe02 fe01], loaded [fe03]
	// us: updating [fe04], loaded [fe05]
}

// ExampleRun_Call runs a custom step whose driver calls stay within the
// per-system limits: the services through Plan.LimitServices (two calls at
// once per host by default), a call to the platform through Run.Call.
func ExampleRun_Call() {
	sim, _ := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, ServiceLatency: time.Millisecond})
	f, _ := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	var mu sync.Mutex
	var lines []string
	var plan *farm.Plan
	plan, _ = farm.NewPlan(f, farm.PlanConfig{Limits: farm.Limits{Platform: 1}}, farm.Step{
		ID: "inventory", Title: "Read each server's Scheduler and the deployed release",
		Run: func(ctx context.Context, r *farm.Run) error {
			services := plan.LimitServices(sim.Services())
			err := r.ForEachServer(ctx, r.Farm().Servers(), func(ctx context.Context, s farm.Server) error {
				st, err := services.ServiceState(ctx, s.Target(), drivers.SchedulerService)
				mu.Lock()
				lines = append(lines, fmt.Sprintf("%s: scheduler %s", s.Name, st.Run))
				mu.Unlock()
				return err
			})
			if err != nil {
				return err
			}
			return r.Call(ctx, farm.Platform, func(ctx context.Context) error {
				rel, err := sim.Platform().DeployedRelease(ctx)
				lines = append(lines, "deployed: "+rel.Version)
				return err
			})
		},
	})
	rep, err := plan.Run(context.Background())
	slices.Sort(lines)
	fmt.Println(strings.Join(lines, "\n"))
	fmt.Println(rep.Outcome, err)
	// Output:
	// deployed: v1
	// fe01: scheduler running
	// fe02: scheduler running
	// fe03: scheduler running
	// fe04: scheduler running
	// succeeded <nil>
}
