package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// inStep builds a plan of one step over a fake farm of n servers (no
// latency) and runs body inside that step, where a *farm.Run exists.
func inStep(b *testing.B, n int, obs event.Observer, body func(ctx context.Context, r *farm.Run) error) {
	b.Helper()
	ff, servers := newFakeFarm(n, timings{})
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers), LoadBalancer: ff})
	if err != nil {
		b.Fatal(err)
	}
	plan, err := farm.NewPlan(f, farm.PlanConfig{Concurrency: n, Seed: 1, Observer: obs},
		farm.Step{ID: "bench", Title: "benchmark body", Run: body})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := plan.Run(b.Context()); err != nil {
		b.Fatal(err)
	}
}

// observers are the two cases of the hot-path benchmarks: no observer,
// and one that counts events (the cheapest real observer).
func observers() []struct {
	name string
	obs  event.Observer
} {
	var n atomic.Int64
	return []struct {
		name string
		obs  event.Observer
	}{
		{"none", nil},
		{"counting", event.ObserverFunc(func(event.Event) { n.Add(1) })},
	}
}

// mallocs returns the heap allocations made so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// BenchmarkDo measures one Run.Do of a no-op driver call: the engine's
// cost per action (events, report, journal record), in ns and allocs/op.
func BenchmarkDo(b *testing.B) {
	for _, o := range observers() {
		b.Run("observer="+o.name, func(b *testing.B) {
			b.ReportAllocs()
			noop := func(context.Context) error { return nil }
			inStep(b, 2, o.obs, func(ctx context.Context, r *farm.Run) error {
				b.ResetTimer()
				for range b.N {
					if err := r.Do(ctx, "default", "fe0001", noop); err != nil {
						return err
					}
				}
				b.StopTimer()
				return nil
			})
		})
	}
}

// BenchmarkForEachServer measures one ForEachServer over n servers with a
// no-op call; allocs/call is the allocations per server (driver call).
func BenchmarkForEachServer(b *testing.B) {
	for _, n := range []int{10, 1000} {
		for _, o := range observers() {
			b.Run(fmt.Sprintf("servers=%d/observer=%s", n, o.name), func(b *testing.B) {
				b.ReportAllocs()
				noop := func(context.Context, farm.Server) error { return nil }
				var allocs uint64
				inStep(b, n, o.obs, func(ctx context.Context, r *farm.Run) error {
					servers := r.Farm().Servers()
					b.ResetTimer()
					before := mallocs()
					for range b.N {
						if err := r.ForEachServer(ctx, servers, noop); err != nil {
							return err
						}
					}
					allocs = mallocs() - before
					b.StopTimer()
					return nil
				})
				b.ReportMetric(float64(allocs)/float64(b.N*n), "allocs/call")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/call")
			})
		}
	}
}

// BenchmarkEach measures one Run.Each over 1000 servers with a no-op call:
// the polling fan-out, which records no actions.
func BenchmarkEach(b *testing.B) {
	const n = 1000
	b.ReportAllocs()
	noop := func(context.Context, farm.Server) error { return nil }
	var allocs uint64
	inStep(b, n, nil, func(ctx context.Context, r *farm.Run) error {
		servers := r.Farm().Servers()
		b.ResetTimer()
		before := mallocs()
		for range b.N {
			if err := r.Each(ctx, servers, noop); err != nil {
				return err
			}
		}
		allocs = mallocs() - before
		b.StopTimer()
		return nil
	})
	b.ReportMetric(float64(allocs)/float64(b.N*n), "allocs/call")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/call")
}
