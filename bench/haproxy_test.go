package bench

import (
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/haproxytest"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/steps"
)

// BenchmarkHAProxyRun is the engine's one whole-run real-time figure: the
// balanced plan, every steps.Config default, over 8 internal/httpfarm
// backends behind a real haproxy (internal/haproxytest), with a publish of
// 1 ms and installs of 3 s. wall-s is the real time of plan.Run and
// ratio-physical its ratio to the physical critical path (publish + two
// installs: the drains are empty and the calls take a millisecond or so on
// loopback). It is a side note: a loaded machine adds its own delays to a
// real-time figure; BenchmarkEngine's simulated time does not move.
func BenchmarkHAProxyRun(b *testing.B) {
	const publish, install = time.Millisecond, 3 * time.Second
	var wall time.Duration
	for b.Loop() {
		b.StopTimer()
		hf := httpfarm.New(b, httpfarm.Config{Backends: 8, PublishDelay: publish, InstallDuration: install})
		h := haproxytest.Start(b, hf.Backends(), haproxytest.Options{})
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(hf.Servers()), LoadBalancer: h.Driver})
		if err != nil {
			b.Fatal(err)
		}
		plan, err := steps.Balanced(f, steps.Config{
			Services: hf.Services(), Platform: hf.Platform(), Prober: hf.Prober(),
			Release: drivers.Release{Version: "v2"},
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if _, err := plan.Run(b.Context()); err != nil {
			b.Fatalf("run: %v", err)
		}
		wall += time.Since(start)
	}
	mean := wall / time.Duration(b.N)
	b.ReportMetric(mean.Seconds(), "wall-s")
	b.ReportMetric(float64(mean)/float64(publish+2*install), "ratio-physical")
}
