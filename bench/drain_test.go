package bench

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/haproxytest"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/steps"
)

// outRecorder wraps a load balancer and records when a Status call first
// returned every member it read as out: the moment the drain step's
// confirmation reports the member out.
type outRecorder struct {
	drivers.LoadBalancer
	mu    sync.Mutex
	outAt time.Time
}

func (o *outRecorder) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	sts, err := o.LoadBalancer.Status(ctx, members...)
	if err == nil && len(sts) > 0 && !slices.ContainsFunc(sts, func(s drivers.MemberStatus) bool { return s.State != drivers.Out }) {
		o.mu.Lock()
		if o.outAt.IsZero() {
			o.outAt = time.Now()
		}
		o.mu.Unlock()
	}
	return sts, err
}

func (o *outRecorder) reset() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	at := o.outAt
	o.outAt = time.Time{}
	return at
}

// BenchmarkDrainLag runs the drain-updating step of steps.Balanced through a
// real HAProxy while one request is held open on the Updating member, and
// measures the time from that request finishing (the backend lets it go) to
// the member read back out: drain-lag-ms (mean) and drain-lag-max-ms. The
// hold lasts 60 ms plus a random share of the poll interval, so that the
// release falls at any phase of the poll.
func BenchmarkDrainLag(b *testing.B) {
	for _, poll := range []time.Duration{steps.DefaultPollInterval, 25 * time.Millisecond} {
		b.Run("poll="+poll.String(), func(b *testing.B) {
			hf := httpfarm.New(b, httpfarm.Config{Backends: 2})
			h := haproxytest.Start(b, hf.Backends(), haproxytest.Options{})
			rec := &outRecorder{LoadBalancer: h.Driver}
			f, err := farm.New(farm.Config{Zones: farm.AutoSplit(hf.Servers()), LoadBalancer: rec})
			if err != nil {
				b.Fatal(err)
			}
			updating := f.Zones()[0].Updating.Members()
			if len(updating) != 1 {
				b.Fatalf("want one Updating member, got %v", updating)
			}
			member := updating[0]
			plan, err := steps.Balanced(f, steps.Config{
				Services: hf.Services(), Platform: hf.Platform(), Prober: hf.Prober(),
				Release: drivers.Release{Version: "v2"}, PollInterval: poll,
			})
			if err != nil {
				b.Fatal(err)
			}
			for _, id := range steps.IDs() {
				if id != steps.DrainUpdating {
					if err := plan.Remove(id); err != nil {
						b.Fatal(err)
					}
				}
			}
			ctx := b.Context()
			var total, worst time.Duration
			for b.Loop() {
				b.StopTimer()
				if err := h.Driver.SetState(ctx, drivers.Serving, member); err != nil {
					b.Fatal(err)
				}
				waitServing(b, h, member)
				release := h.Hold(b, hf, member)
				rec.reset()
				holdFor := 60*time.Millisecond + rand.N(poll)
				b.StartTimer()
				released := make(chan time.Time, 1)
				errc := make(chan error, 1)
				go func() {
					time.Sleep(holdFor)
					released <- time.Now()
					errc <- release()
				}()
				if _, err := plan.Run(ctx); err != nil {
					b.Fatalf("drain step: %v", err)
				}
				at := <-released
				if err := <-errc; err != nil {
					b.Fatalf("held request failed (drained too early?): %v", err)
				}
				out := rec.reset()
				if out.IsZero() || out.Before(at) {
					b.Fatalf("member reported out at %v, before its request finished at %v", out, at)
				}
				lag := out.Sub(at)
				total += lag
				worst = max(worst, lag)
			}
			b.ReportMetric(float64(total/time.Duration(b.N))/float64(time.Millisecond), "drain-lag-ms")
			b.ReportMetric(float64(worst)/float64(time.Millisecond), "drain-lag-max-ms")
		})
	}
}

// waitServing waits until HAProxy reads member serving and healthy.
func waitServing(b *testing.B, h *haproxytest.HAProxy, member string) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := h.Driver.Status(b.Context(), member)
		if err == nil && len(st) == 1 && st[0].State == drivers.Serving && st[0].Health == drivers.Healthy {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not serving and healthy after 5s: %v %v", member, st, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
