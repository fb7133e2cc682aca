package farm_test

import (
	"fmt"

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
