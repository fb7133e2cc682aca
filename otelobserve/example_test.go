package otelobserve_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/otelobserve"
	"github.com/balanced-deploy/balanced/simulate"
)

// Example traces a one-step plan. A real program would give the tracer
// provider an OTLP exporter instead of the in-memory one.
func Example() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	sim, _ := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 2}}, Seed: 1})
	f, _ := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer(""), CapacityFloor: -1})
	plan, _ := farm.NewPlan(f, farm.PlanConfig{Observer: otelobserve.New(otelobserve.Config{TracerProvider: tp})},
		farm.Step{ID: "hello", Title: "Say hello", Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachServer(ctx, f.Servers(), func(context.Context, farm.Server) error { return nil })
		}})
	if _, err := plan.Run(context.Background()); err != nil {
		fmt.Println(err)
	}
	for _, s := range exp.GetSpans() {
		fmt.Println(s.Name)
	}
	// Unordered output:
	// balanced.action hello
	// balanced.action hello
	// balanced.step hello
	// balanced.run
}
