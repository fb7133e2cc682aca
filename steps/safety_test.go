package steps_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHealthyBeforeTrafficMovesOnEveryPath: a member back from out reads
// health unknown (and takes no traffic) until its first health check, as an
// ALB target reads "initial". On both paths of switch-traffic (one
// transaction, and two moves) the Updating members must read healthy before
// the Loaded ones stop taking new requests.
func TestHealthyBeforeTrafficMovesOnEveryPath(t *testing.T) {
	for _, plain := range []bool{false, true} {
		name := "one-transaction Switcher"
		if plain {
			name = "two moves"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 41,
					RecheckAfterOut: true, HealthCheckDelay: 10 * time.Second,
					PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second,
					Traffic: simulate.Traffic{Rate: 20, Duration: 200 * time.Millisecond}})
				require.NoError(t, err)
				var lb drivers.LoadBalancer = sim.LoadBalancer("")
				if plain {
					lb = sim.PlainLoadBalancer("")
				}
				f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: lb})
				require.NoError(t, err)
				p, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
					Release: drivers.Release{Version: "v2"}, Plan: farm.PlanConfig{Seed: 1}})
				require.NoError(t, err)
				require.NoError(t, sim.Start(t.Context()))
				_, err = p.Run(t.Context())
				time.Sleep(20 * time.Second)
				sim.Stop()
				require.NoError(t, err)
				assert.Empty(t, sim.CheckEndState(drivers.Release{Version: "v2"}))
				r := sim.Report()
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
			})
		})
	}
}

// awaitOneLoaded is await-loaded weakened to wait for one Loaded server
// only: the mutant the await-loaded step must be pinned against.
func awaitOneLoaded(sim *simulate.Sim) farm.Step {
	return farm.Step{ID: "await-one-loaded", Title: "wait for one Loaded server", Run: func(ctx context.Context, r *farm.Run) error {
		return r.Poll(ctx, 5*time.Second, time.Minute, "", func(ctx context.Context) (bool, event.Event, error) {
			for _, g := range r.Farm().Groups(farm.Loaded) {
				for _, s := range g.Servers {
					res, err := sim.Prober().Probe(ctx, s.Target())
					if err == nil && res.Healthy && res.Version == "v2" {
						return true, event.Event{}, nil
					}
				}
			}
			return false, event.Event{}, nil
		})
	}}
}

// TestAwaitLoadedIsPinnedByWhatItProtects: the load balancer's checks pass
// on an installing server (a static health page), and one Loaded server
// installs a minute longer than the other. Waiting for one Loaded server
// only would put the other back in traffic while it installs (invariant 2);
// the whole plan waits for every one.
func TestAwaitLoadedIsPinnedByWhatItProtects(t *testing.T) {
	for _, weakened := range []bool{false, true} {
		t.Run(fmt.Sprintf("weakened %v", weakened), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 81,
					InstallPassesChecksFor: time.Hour, Traffic: simulate.Traffic{Rate: 20, Duration: 200 * time.Millisecond}})
				require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpInstall, Target: "fe04", Latency: time.Minute}))
				p := sf.plan(t, nil, nil, farm.Halt, "v2")
				if weakened {
					require.NoError(t, p.Remove(steps.AwaitLoaded))
					require.NoError(t, p.InsertAfter(steps.UnblockLoaded, awaitOneLoaded(sf.sim)))
				}
				require.NoError(t, sf.sim.Start(t.Context()))
				_, err := p.Run(t.Context())
				time.Sleep(2 * time.Minute)
				sf.sim.Stop()
				r := sf.sim.Report()
				if weakened {
					assert.NotEmpty(t, r.ViolationsOf(2), "a still-installing Loaded server is back in traffic (run error %v)\n%s", err, r.String())
					return
				}
				require.NoError(t, err)
				assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}))
				assert.Zero(t, r.Failed, r.String())
				assert.Zero(t, r.TotalViolations(), r.String())
			})
		})
	}
}
