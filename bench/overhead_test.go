package bench

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/farm/journal"
)

// concurrencies are the engine settings the overhead benchmarks compare: the
// engine's default limit (farm.DefaultConcurrency), no effective limit (one slot per server),
// and one server at a time as the written runbook does.
func concurrencies(servers int) []struct {
	name string
	k    int
} {
	out := []struct {
		name string
		k    int
	}{{"default", 0}, {"all", servers}}
	if servers <= 100 {
		// One by one over 500 or 1000 servers takes minutes a run.
		out = append(out, struct {
			name string
			k    int
		}{"1", 1})
	}
	return out
}

// BenchmarkOverheadRatio runs the whole balanced plan on a fake farm whose
// every driver call takes 2 ms of real time (50 ms drains, 100 ms publish and
// installs) and reports the wall time over the critical-path bound of the
// same settings (criticalPath): overhead-ratio. ratio-with-polls divides by
// the bound plus the most the poll intervals can add (pollAllowance).
func BenchmarkOverheadRatio(b *testing.B) {
	for _, n := range []int{10, 100, 500, 1000} {
		for _, c := range concurrencies(n) {
			b.Run(fmt.Sprintf("servers=%d/conc=%s", n, c.name), func(b *testing.B) {
				s := defaultSettings(n, c.k)
				// The bound uses the fake's real round trip.
				sb := s
				sb.Latency = calibrate(s.Latency)
				bound, err := boundOf(sb)
				if err != nil {
					b.Fatal(err)
				}
				var wall time.Duration
				var calls int64
				for b.Loop() {
					res, err := runBalanced(b.Context(), s, nil)
					if err != nil {
						b.Fatalf("run: %v", err)
					}
					wall += res.Wall
					calls += res.Calls
				}
				mean := wall / time.Duration(b.N)
				b.ReportMetric(float64(mean)/float64(bound), "overhead-ratio")
				b.ReportMetric(float64(mean)/float64(bound+sb.pollAllowance()), "ratio-with-polls")
				b.ReportMetric(float64(sb.Latency)/float64(time.Millisecond), "latency-ms")
				b.ReportMetric(float64(mean)/float64(time.Millisecond), "wall-ms")
				b.ReportMetric(float64(bound)/float64(time.Millisecond), "bound-ms")
				b.ReportMetric(float64(calls)/float64(b.N), "driver-calls")
			})
		}
	}
}

// BenchmarkScaling runs the same plan on 10 and on 1000 servers, with the
// same settings, and reports wall(1000)/wall(10): scaling-1000/10. A run
// whose wall time does not grow with the farm scores 1.
func BenchmarkScaling(b *testing.B) {
	for _, c := range []struct {
		name string
		k    int
	}{{"default", 0}, {"all", 1000}} {
		b.Run("conc="+c.name, func(b *testing.B) {
			var small, large time.Duration
			for b.Loop() {
				for _, n := range []int{10, 1000} {
					k := c.k
					if k > n {
						k = n
					}
					res, err := runBalanced(b.Context(), defaultSettings(n, k), nil)
					if err != nil {
						b.Fatalf("run on %d servers: %v", n, err)
					}
					if n == 10 {
						small += res.Wall
					} else {
						large += res.Wall
					}
				}
			}
			b.ReportMetric(float64(large)/float64(small), "scaling-1000/10")
			b.ReportMetric(float64(small/time.Duration(b.N))/float64(time.Millisecond), "wall10-ms")
			b.ReportMetric(float64(large/time.Duration(b.N))/float64(time.Millisecond), "wall1000-ms")
		})
	}
}

// BenchmarkJournal is BenchmarkOverheadRatio with a journal.File in a
// temporary directory (synced to disk record by record), as production
// runs that can be resumed are configured: journal-ms is the wall time the
// journal adds over the same run without one (measured in the same
// iteration).
func BenchmarkJournal(b *testing.B) {
	for _, n := range []int{10, 100, 500} {
		b.Run(fmt.Sprintf("servers=%d", n), func(b *testing.B) {
			s := defaultSettings(n, 0)
			var with, without time.Duration
			for b.Loop() {
				res, err := runBalanced(b.Context(), s, nil)
				if err != nil {
					b.Fatalf("run: %v", err)
				}
				without += res.Wall
				j, err := journal.Open(filepath.Join(b.TempDir(), "journal.jsonl"))
				if err != nil {
					b.Fatal(err)
				}
				res, err = runBalancedJournal(b.Context(), s, j)
				_ = j.Close()
				if err != nil {
					b.Fatalf("run with a journal: %v", err)
				}
				with += res.Wall
			}
			b.ReportMetric(float64((with-without)/time.Duration(b.N))/float64(time.Millisecond), "journal-ms")
			b.ReportMetric(float64(with/time.Duration(b.N))/float64(time.Millisecond), "wall-ms")
		})
	}
}
