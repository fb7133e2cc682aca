package timeline_test

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/balanced-deploy/balanced/timeline"
)

// TestBalancedDeployment draws a real balanced deployment of two zones and
// reads the picture back: one group per zone in which the members serving
// v1 go to zero while those serving v2 come up, the members installing, and
// the twelve steps where they started.
func TestBalancedDeployment(t *testing.T) {
	var d deployment
	synctest.Test(t, func(t *testing.T) {
		cfg := simulate.Config{Zones: []simulate.ZoneConfig{{Name: "east", Servers: 4}, {Name: "west", Servers: 5}}, Seed: 7}
		d = deploy(t, cfg, 20*time.Second, nil)
	})
	require.NoError(t, d.err)
	require.Equal(t, farm.Succeeded, d.run.Outcome)
	require.Zero(t, d.sim.Failed, d.sim.String())

	var buf bytes.Buffer
	require.NoError(t, timeline.Write(&buf, d.sim, d.run, timeline.Options{Start: d.start}))
	doc := buf.Bytes()
	writeSVG(t, *svgPath, doc)
	els := parseSVG(t, doc)

	root := els[0]
	assert.Equal(t, "svg", root.name)
	assert.Equal(t, "http://www.w3.org/2000/svg", root.attrs["xmlns"])
	assert.Regexp(t, `^0 0 \d+ \d+(\.\d)?$`, root.attrs["viewBox"])
	assert.Equal(t, "sans-serif", root.attrs["font-family"])
	assertSelfContained(t, doc)

	zones := find(els, func(e element) bool { return e.hasClass("zone") })
	require.Len(t, zones, 2)
	assert.Equal(t, "zone-east", zones[0].attrs["id"])
	assert.Equal(t, "zone-west", zones[1].attrs["id"])
	for _, z := range []struct {
		name    string
		members int
	}{{"east", 4}, {"west", 5}} {
		t.Run(z.name, func(t *testing.T) {
			in := func(class string) []element {
				return find(els, func(e element) bool { return e.zone == z.name && e.hasClass(class) })
			}
			v1, v2, inst := in("v1"), in("v2"), in("installing")
			require.Len(t, v1, 1)
			require.Len(t, v2, 1)
			require.Len(t, inst, 1)
			c1, c2 := changes(t, v1[0].attrs["data-serving"]), changes(t, v2[0].attrs["data-serving"])
			require.NotEmpty(t, c1)
			require.NotEmpty(t, c2)

			// v1 starts with every member and ends with none; v2 the
			// other way round.
			assert.Equal(t, change{0, z.members}, c1[0], "v1 serves everything at first")
			assert.Equal(t, 0, c1[len(c1)-1].n, "v1 serves nothing at the end")
			assert.Equal(t, 0, c2[0].n, "v2 serves nothing at first")
			assert.Equal(t, z.members, c2[len(c2)-1].n, "v2 serves everything at the end")
			// The traffic is traded: v2 takes over in the same instant
			// v1 stops, and some v1 members kept serving while the
			// updating group was out.
			firstV2 := c2[1].at
			assert.Positive(t, firstV2)
			assert.Equal(t, 0, at(c1, firstV2), "v1 stops when v2 starts")
			assert.Positive(t, at(c1, firstV2-time.Nanosecond))
			assert.Less(t, at(c1, firstV2-time.Nanosecond), z.members, "the loaded group alone served v1 before the switch")
			// Members installed: first the updating group, then the
			// loaded one.
			ci := changes(t, inst[0].attrs["data-installing"])
			maxInst := 0
			for _, c := range ci {
				maxInst = max(maxInst, c.n)
			}
			assert.Positive(t, maxInst)
			assert.Less(t, maxInst, z.members, "never the whole zone installing at once")
		})
	}

	// One dashed line per step, in plan order, where each step started
	// (the simulator's marks say when).
	lines := find(els, func(e element) bool { return e.name == "line" && e.hasClass("step") })
	var ids []string
	var lastX float64
	for i, l := range lines {
		ids = append(ids, l.attrs["data-step"])
		x, err := strconv.ParseFloat(l.attrs["x1"], 64)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, x, lastX, "step %s left of the one before", l.attrs["data-step"])
		lastX = x
		el, err := strconv.ParseFloat(l.attrs["data-elapsed"], 64)
		require.NoError(t, err)
		require.Less(t, i, len(d.sim.Marks))
		// Steps that start at the same instant (run beside each other)
		// are drawn in any order among themselves.
		mark := slices.IndexFunc(d.sim.Marks, func(m simulate.Mark) bool { return m.Label == l.attrs["data-step"] })
		require.GreaterOrEqual(t, mark, 0, l.attrs["data-step"])
		assert.InDelta(t, d.sim.Marks[mark].Elapsed.Seconds(), el, 0.001, "step %s drawn where it started", l.attrs["data-step"])
	}
	assert.ElementsMatch(t, steps.IDs(), ids)
	labels := find(els, func(e element) bool { return e.hasClass("step-bar") })
	require.Len(t, labels, len(steps.IDs()))
	for _, id := range steps.IDs() {
		assert.Contains(t, string(doc), ">"+id+"</text>", "step %s labelled", id)
	}
	// No failed request: no failure marker.
	assert.Empty(t, find(els, func(e element) bool { return e.hasClass("failed") }))
}

// at returns the count in force at instant t.
func at(cs []change, t time.Duration) int {
	n := 0
	for _, c := range cs {
		if c.at > t {
			break
		}
		n = c.n
	}
	return n
}

// assertSelfContained checks the document needs nothing from elsewhere.
func assertSelfContained(t *testing.T, doc []byte) {
	t.Helper()
	s := strings.ToLower(string(doc))
	for _, bad := range []string{"<script", "href=", "url(http", "url(//", "@import", "@font-face", "<image", "<foreignobject", "javascript:", " on"} {
		if bad == " on" {
			assert.NotRegexp(t, `\son[a-z]+=`, s, "event handler attribute")
			continue
		}
		assert.NotContains(t, s, bad)
	}
	for _, f := range []string{`font-family="`} {
		for rest := s; strings.Contains(rest, f); {
			_, rest, _ = strings.Cut(rest, f)
			family, _, _ := strings.Cut(rest, `"`)
			assert.Contains(t, []string{"sans-serif", "serif", "monospace"}, family, "only generic font families")
		}
	}
}
