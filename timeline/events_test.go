package timeline_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/balanced-deploy/balanced/timeline"
)

// recordRun runs the balanced plan on a simulated farm of two zones with
// its load balancers observed, and returns the run's JSON-lines events.
func recordRun(t *testing.T, fault *fault.Fault) []byte {
	t.Helper()
	sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Name: "east", Servers: 4}, {Name: "west", Servers: 3}}, Seed: 5})
	require.NoError(t, err)
	if fault != nil {
		require.NoError(t, sim.Inject(*fault))
	}
	var events bytes.Buffer
	obs := progress.NewJSONLines(&events)
	zones := farm.AutoSplit(sim.Servers())
	zoneOf := map[string]string{}
	for _, z := range zones {
		for _, s := range append(append([]farm.Server(nil), z.Updating...), z.Loaded...) {
			zoneOf[s.MemberID()] = z.Name
		}
	}
	for i := range zones {
		zones[i].LoadBalancer = farm.ObserveMembers(sim.LoadBalancer(zones[i].Name), zoneOf, obs)
	}
	f, err := farm.New(farm.Config{Zones: zones})
	require.NoError(t, err)
	plan, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
		// The strict order: the tests' faults hit the step they name (a
		// Loaded server's second stop-service call is block-loaded's).
		Release: drivers.Release{Version: "v2"}, Plan: farm.PlanConfig{Observer: obs, StrictOrder: true}})
	require.NoError(t, err)
	require.NoError(t, sim.Start(t.Context()))
	_, _ = plan.Run(t.Context())
	time.Sleep(time.Second)
	sim.Stop()
	require.NoError(t, obs.Err())
	return events.Bytes()
}

// TestWriteEventsOfARealRun draws a run from its events alone: each zone's
// members serving the previous release go to zero as those serving the new
// one come up to the zone's size, with the steps.
func TestWriteEventsOfARealRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		events := recordRun(t, nil)
		require.Contains(t, string(events), `"kind":"members-seen"`)
		var svg bytes.Buffer
		require.NoError(t, timeline.WriteEvents(&svg, bytes.NewReader(events), timeline.Options{}))
		writeSVG(t, *svgPath, svg.Bytes())
		els := parseSVG(t, svg.Bytes())
		for zone, size := range map[string]int{"east": 4, "west": 3} {
			groups := find(els, func(e element) bool { return e.name == "g" && e.attrs["data-zone"] == zone })
			require.Len(t, groups, 1, zone)
			assert.Equal(t, string(rune('0'+size)), groups[0].attrs["data-members"], zone)
			prev := find(els, func(e element) bool {
				return e.zone == zone && e.hasClass("serving") && e.attrs["data-version"] == timeline.PreviousRelease
			})
			next := find(els, func(e element) bool {
				return e.zone == zone && e.hasClass("serving") && e.attrs["data-version"] == timeline.NewRelease
			})
			require.Len(t, prev, 1, zone)
			require.Len(t, next, 1, zone)
			p, n := changes(t, prev[0].attrs["data-serving"]), changes(t, next[0].attrs["data-serving"])
			assert.Equal(t, size, p[0].n, "%s: the previous release serves everything at first", zone)
			assert.Equal(t, 0, p[len(p)-1].n, "%s: and nothing at the end", zone)
			assert.Equal(t, size, n[len(n)-1].n, "%s: the new release serves everything at the end", zone)
			for _, c := range p {
				assert.Less(t, 0, c.n+at(n, c.at), "%s: never no member serving (at %s)", zone, c.at)
			}
		}
		for _, id := range steps.IDs() {
			assert.Contains(t, svg.String(), `data-step="`+id+`"`)
		}
		assert.Contains(t, svg.String(), "run succeeded")
		assert.NotContains(t, svg.String(), " served</text>", "a real run counts no requests")
	})
}

// TestWriteEventsOfAHaltedRun draws a run that halted at block-loaded: the
// Updating members stay out, the summary says where the run ended.
func TestWriteEventsOfAHaltedRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		events := recordRun(t, &fault.Fault{Op: simulate.OpStopService, Target: "fe03",
			Err: errors.New("access is denied: " + drivers.ErrPermissionDenied.Error()), After: 1, Times: 1})
		var svg bytes.Buffer
		require.NoError(t, timeline.WriteEvents(&svg, bytes.NewReader(events), timeline.Options{}))
		assert.Contains(t, svg.String(), "run halted at block-loaded")
		assert.NotContains(t, svg.String(), `data-version="new"`, "nothing served the new release")
	})
}

func TestWriteEventsRefusesBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"empty":      "",
		"not json":   "{\"time\":\"2026-11-27T03:00:00Z\",\"kind\":\"run-started\"}\nnot json\n",
		"no members": "{\"time\":\"2026-11-27T03:00:00Z\",\"kind\":\"run-started\"}\n",
		"no time":    "{\"kind\":\"run-started\"}\n",
	} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := timeline.WriteEvents(&out, strings.NewReader(in), timeline.Options{})
			require.ErrorIs(t, err, drivers.ErrInvalidArgument)
			assert.Zero(t, out.Len(), "nothing written")
			if name == "not json" {
				assert.Contains(t, err.Error(), "line 2")
			}
		})
	}
}
