package spec_test

import (
	"context"
	"fmt"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/spec"
)

// ExampleParse reads a spec and builds the farm and the balanced plan. Here
// the drivers are a simulated farm's; s.Build(ctx) would construct the real
// ones the spec describes (HAProxy, WinRM, LifeTime, HTTP probe).
func ExampleParse() {
	doc := []byte(`
release: {version: "2.0"}
servers:
  - {name: fe01, controller: true}
  - {name: fe02}
  - {name: fe03}
  - {name: fe04}
zones:
  - name: east
    updating: [fe01, fe02]
    loaded: [fe03, fe04]
load_balancer: {kind: haproxy, address: /run/haproxy/admin.sock, backend: be_app}
services: {username: deploy, password: {env: WINRM_PASSWORD}}
platform:
  url: https://lifetime.example/lifetimeapi/rest/v2
  token: {env: LT_TOKEN}
  source_environment: QA
  target_environment: Production
`)
	env := map[string]string{"WINRM_PASSWORD": "example-only", "LT_TOKEN": "example-only"}
	s, err := spec.Parse(doc, spec.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("services password:", s.Services.Password.Value) // never the value

	sim, _ := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Name: "east", Servers: 4}}})
	f, plan, err := s.BuildWith(context.Background(), spec.Drivers{
		LoadBalancer: func(zone string) drivers.LoadBalancer { return sim.LoadBalancer(zone) },
		Services:     sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, z := range f.Zones() {
		fmt.Printf("zone %s: updating %v, loaded %v\n", z.Name, z.Updating.Names(), z.Loaded.Names())
	}
	fmt.Println(len(plan.StepIDs()), "steps, first", plan.StepIDs()[0])
	// Output:
	// services password: [redacted]
	// zone east: updating [fe01 fe02], loaded [fe03 fe04]
	// 12 steps, first preflight
}

// ExampleError shows an error of a spec: it names the line and column.
func ExampleError() {
	_, err := spec.Parse([]byte("release: {version: v2}\nservers:\n  - {name: fe01, adress: 10.0.0.1}\n"))
	fmt.Println(err)
	// Output:
	// spec:3:18: unknown field "adress"
}
