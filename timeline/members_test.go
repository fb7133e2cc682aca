package timeline_test

import (
	"bytes"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/balanced-deploy/balanced/timeline"
)

// TestInstallingInTrafficCountedOnce draws a failure run in which members
// install while the load balancer still sends them requests (the plan
// without its drain step): each 4-server zone has 4 members, not the
// serving plus the installing (which counted those members twice).
func TestInstallingInTrafficCountedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Name: "east", Servers: 4}, {Name: "west", Servers: 4}},
			Seed: 42, Traffic: simulate.Traffic{Rate: 20}})
		require.NoError(t, err)
		start := time.Now().Add(-sim.Elapsed())
		zones := farm.AutoSplit(sim.Servers())
		for i := range zones {
			zones[i].LoadBalancer = sim.LoadBalancer(zones[i].Name)
		}
		f, err := farm.New(farm.Config{Zones: zones})
		require.NoError(t, err)
		plan, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
			Release: drivers.Release{Version: "v2"}})
		require.NoError(t, err)
		require.NoError(t, plan.Remove(steps.DrainUpdating))
		require.NoError(t, sim.Start(t.Context()))
		time.Sleep(5 * time.Second)
		run, _ := plan.Run(t.Context())
		time.Sleep(5 * time.Second)
		sim.Stop()
		rep := sim.Report()

		inTraffic := false
		for _, z := range rep.Zones {
			for _, p := range z.Timeline {
				inTraffic = inTraffic || p.InstallingServing > 0
				assert.LessOrEqual(t, p.InstallingServing, min(p.Installing, p.Serving))
			}
		}
		require.True(t, inTraffic, "the run installed members still in traffic")
		require.NotZero(t, rep.Failed, "a failure run")

		var buf bytes.Buffer
		require.NoError(t, timeline.Write(&buf, rep, run, timeline.Options{Start: start}))
		svg := buf.String()
		assert.Equal(t, 2, strings.Count(svg, `data-members="4"`), "both zones have 4 members")
		assert.Equal(t, 2, strings.Count(svg, ">4 members</text>"))
		assert.False(t, strings.Contains(svg, "6 members"), "no zone of 6 members")
	})
}
