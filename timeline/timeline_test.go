package timeline_test

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/timeline"
)

// t0 is the instant the synthetic simulations were built.
var t0 = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

// point is a shorthand for a timeline point.
func point(sec float64, installing int, versions map[string]int) simulate.TimelinePoint {
	n := 0
	for _, c := range versions {
		n += c
	}
	return simulate.TimelinePoint{Elapsed: dur(sec), Serving: n, Capacity: n, Installing: installing, Versions: versions}
}

func dur(sec float64) time.Duration { return time.Duration(sec * float64(time.Second)) }

// synthetic is a small hand-made report of a two-zone deployment: zone a
// trades v1 for v2, with failures at 30s; zone b keeps v1; one violation
// in zone a and one without a zone.
func synthetic() (simulate.Report, *farm.Report) {
	sim := simulate.Report{
		Elapsed: dur(100), Served: 900, Failed: 5, FailureCauses: map[string]int{simulate.CauseServerDown: 5},
		Zones: []simulate.ZoneReport{
			{Name: "a", Served: 500, Failed: 5, Timeline: []simulate.TimelinePoint{
				point(0, 0, map[string]int{"v1": 4}),
				point(10, 0, map[string]int{"v1": 2}),
				point(20, 2, map[string]int{"v1": 2}),
				point(60, 0, map[string]int{"v2": 2}),
				point(70, 2, map[string]int{"v2": 2}),
				point(90, 0, map[string]int{"v2": 4}),
			}, Traffic: []simulate.TrafficSample{{Elapsed: dur(29)}, {Elapsed: dur(30), Failed: 3}, {Elapsed: dur(31), Failed: 2}, {Elapsed: dur(32)}}},
			{Name: "b", Served: 400, Timeline: []simulate.TimelinePoint{point(0, 0, map[string]int{"v1": 3})}},
		},
		Violations: []simulate.Violation{
			{Time: t0.Add(dur(40)), Elapsed: dur(40), Zone: "a", Server: "fe01", Invariant: 4, Detail: "below the floor"},
			{Time: t0.Add(dur(50)), Elapsed: dur(50), Invariant: 3, Detail: "scheduler running"},
		},
		ViolationCounts: map[int]int{3: 1, 4: 1},
		Marks:           []simulate.Mark{{Elapsed: dur(5), Label: "one"}, {Elapsed: dur(60), Label: "two"}},
	}
	run := &farm.Report{Started: t0.Add(dur(5)), Finished: t0.Add(dur(95)), Outcome: farm.Succeeded, Steps: []farm.StepReport{
		{ID: "one", Status: farm.StepDone, Started: t0.Add(dur(5)), Finished: t0.Add(dur(60))},
		{ID: "two", Status: farm.StepDone, Started: t0.Add(dur(60)), Finished: t0.Add(dur(95))},
		{ID: "three", Status: farm.StepPending},
	}}
	return sim, run
}

// render writes the picture and parses it back.
func render(t *testing.T, sim simulate.Report, run *farm.Report, opts timeline.Options) ([]byte, []element) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, timeline.Write(&buf, sim, run, opts))
	doc := buf.Bytes()
	els := parseSVG(t, doc)
	assertSelfContained(t, doc)
	return doc, els
}

func TestSeriesStackVersionsAndInstalling(t *testing.T) {
	sim, run := synthetic()
	_, els := render(t, sim, run, timeline.Options{Start: t0})
	get := func(zone, class, attr string) string {
		t.Helper()
		found := find(els, func(e element) bool { return e.zone == zone && e.hasClass(class) })
		require.Len(t, found, 1, "%s in zone %s", class, zone)
		return found[0].attrs[attr]
	}
	assert.Equal(t, "0:4 10:2 60:0", get("a", "v1", "data-serving"))
	assert.Equal(t, "0:0 60:2 90:4", get("a", "v2", "data-serving"))
	assert.Equal(t, "0:0 20:2 60:0 70:2 90:0", get("a", "installing", "data-installing"))
	assert.Equal(t, "0:4 10:2 90:4", get("a", "serving-total", "data-total"))
	assert.Equal(t, "0:3", get("b", "v1", "data-serving"))
	assert.Equal(t, "0:0", get("b", "v2", "data-serving"), "every version has a series in every zone")
	assert.Equal(t, "4", get("a", "zone", "data-members"))
	assert.Equal(t, "3", get("b", "zone", "data-members"))
	assert.Empty(t, find(els, func(e element) bool { return e.hasClass("capacity") }), "capacity equals serving: not drawn")

	// The legend names the versions in the order they appeared.
	var legend []string
	for _, e := range find(els, func(e element) bool { return e.hasClass("legend-version") }) {
		legend = append(legend, e.attrs["fill"])
	}
	assert.Len(t, legend, 2)
	assert.NotEqual(t, legend[0], legend[1], "each version its own colour")
	assert.Equal(t, legend[0], get("a", "v1", "fill"))
	assert.Equal(t, legend[1], get("a", "v2", "fill"))
}

func TestCapacityBelowServingIsDrawn(t *testing.T) {
	sim, _ := synthetic()
	sim.Zones[1].Timeline = append(sim.Zones[1].Timeline, simulate.TimelinePoint{Elapsed: dur(50), Serving: 3, Capacity: 2, Versions: map[string]int{"v1": 3}})
	_, els := render(t, sim, nil, timeline.Options{})
	found := find(els, func(e element) bool { return e.zone == "b" && e.hasClass("capacity") })
	require.Len(t, found, 1)
	assert.Equal(t, "0:3 50:2", found[0].attrs["data-capacity"])
}

func TestFailuresAndViolations(t *testing.T) {
	sim, run := synthetic()
	_, els := render(t, sim, run, timeline.Options{Start: t0})
	failed := find(els, func(e element) bool { return e.hasClass("failed") })
	require.Len(t, failed, 2)
	total := 0
	for i, f := range failed {
		assert.Equal(t, "a", f.zone)
		assert.Equal(t, strconv.Itoa(30+i), f.attrs["data-elapsed"])
		n, err := strconv.Atoi(f.attrs["data-failed"])
		require.NoError(t, err)
		total += n
	}
	assert.Equal(t, sim.Failed, total, "every failed request marked")

	inv := func(zone string) []string {
		var out []string
		for _, v := range find(els, func(e element) bool { return e.zone == zone && e.hasClass("violation") }) {
			out = append(out, v.attrs["class"]+"@"+v.attrs["data-elapsed"])
		}
		return out
	}
	assert.Equal(t, []string{"violation inv-4@40", "violation inv-3@50"}, inv("a"))
	assert.Equal(t, []string{"violation inv-3@50"}, inv("b"), "a violation without a zone shows in every band")
}

func TestStepPlacement(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*simulate.Report, *farm.Report)
		start  time.Time
		nilRun bool
		want   []string // step@elapsed
	}{
		{"explicit start", func(s *simulate.Report, _ *farm.Report) { s.Violations, s.Marks = nil, nil }, t0, false, []string{"one@5", "two@60"}},
		{"start from a violation", func(s *simulate.Report, _ *farm.Report) { s.Marks = nil }, time.Time{}, false, []string{"one@5", "two@60"}},
		{"start from the marks", func(s *simulate.Report, _ *farm.Report) { s.Violations = nil }, time.Time{}, false, []string{"one@5", "two@60"}},
		{"start from the marks, steps later", func(s *simulate.Report, r *farm.Report) {
			s.Violations = nil
			s.Marks = []simulate.Mark{{Elapsed: dur(7), Label: "one"}}
		}, time.Time{}, false, []string{"one@7", "two@62"}},
		{"no run: the marks", nil, time.Time{}, true, []string{"one@5", "two@60"}},
		{"no step started: no start needed", func(s *simulate.Report, r *farm.Report) {
			s.Violations, s.Marks = nil, nil
			r.Steps = r.Steps[2:]
		}, time.Time{}, false, nil},
		{"rollback", func(_ *simulate.Report, r *farm.Report) {
			r.Outcome, r.RollbackStarted = farm.RolledBack, t0.Add(dur(80))
			r.Steps[1].Status, r.Steps[1].Finished = farm.StepFailed, t0.Add(dur(80))
		}, t0, false, []string{"one@5", "two@60", "rollback@80"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, run := synthetic()
			if tc.edit != nil {
				tc.edit(&sim, run)
			}
			if tc.nilRun {
				run = nil
			}
			doc, els := render(t, sim, run, timeline.Options{Start: tc.start})
			var got []string
			for _, l := range find(els, func(e element) bool { return e.name == "line" && e.hasClass("step") }) {
				got = append(got, l.attrs["data-step"]+"@"+l.attrs["data-elapsed"])
			}
			assert.Equal(t, tc.want, got)
			assert.NotContains(t, string(doc), "three", "a step that never started is not drawn")
		})
	}
}

func TestErrors(t *testing.T) {
	sim, run := synthetic()
	noWay := sim
	noWay.Violations, noWay.Marks = nil, nil
	tests := []struct {
		name string
		sim  simulate.Report
		run  *farm.Report
		opts timeline.Options
		want []string
	}{
		{"no zone", simulate.Report{}, nil, timeline.Options{}, []string{"no zone", "simulate.Sim.Report"}},
		{"too narrow", sim, nil, timeline.Options{Width: 100}, []string{"Options.Width 100", "at least 480"}},
		{"negative width", sim, nil, timeline.Options{Width: -5}, []string{"Options.Width -5"}},
		{"steps cannot be placed", noWay, run, timeline.Options{}, []string{"Options.Start", "time.Now().Add(-sim.Elapsed())"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := timeline.Write(&buf, tc.sim, tc.run, tc.opts)
			require.ErrorIs(t, err, drivers.ErrInvalidArgument)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Zero(t, buf.Len(), "nothing written")
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriterError(t *testing.T) {
	sim, run := synthetic()
	err := timeline.Write(failingWriter{}, sim, run, timeline.Options{Start: t0})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "disk full")
}

// TestHostileNames puts markup in every name that reaches the picture: the
// document stays well-formed, runs nothing, and keeps the exact names in
// its data attributes.
func TestHostileNames(t *testing.T) {
	const zone = `<script>alert("z")</script>`
	const version = `v2"><script src='http://x'>&amp;`
	const step = `a&b<c>"d'`
	sim, run := synthetic()
	sim.Zones[0].Name = zone
	sim.Zones[1].Name = "zone " + zone // the same id once sanitised
	for i := range sim.Zones[0].Timeline {
		p := &sim.Zones[0].Timeline[i]
		if n, ok := p.Versions["v2"]; ok {
			p.Versions = map[string]int{version: n}
		}
	}
	sim.Violations[0].Zone, sim.Violations[0].Detail = zone, `</title><script>`
	run.Steps[0].ID = step
	sim.Marks = nil
	doc, els := render(t, sim, run, timeline.Options{Start: t0, Title: `]]><script>`})
	assert.NotContains(t, strings.ToLower(string(doc)), "<script")

	zones := find(els, func(e element) bool { return e.hasClass("zone") })
	require.Len(t, zones, 2)
	assert.Equal(t, zone, zones[0].attrs["data-zone"])
	assert.Equal(t, "zone "+zone, zones[1].attrs["data-zone"])
	assert.Regexp(t, `^zone-[A-Za-z0-9_.-]+$`, zones[0].attrs["id"])
	assert.Regexp(t, `^zone-[A-Za-z0-9_.-]+$`, zones[1].attrs["id"])
	assert.NotEqual(t, zones[0].attrs["id"], zones[1].attrs["id"], "ids stay unique")

	v := find(els, func(e element) bool { return e.zone == zone && e.attrs["data-version"] == version })
	require.Len(t, v, 1)
	assert.Equal(t, "0:0 60:2 90:4", v[0].attrs["data-serving"])
	assert.NotContains(t, v[0].attrs["class"], `"`)

	lines := find(els, func(e element) bool { return e.name == "line" && e.hasClass("step") })
	require.NotEmpty(t, lines)
	assert.Equal(t, step, lines[0].attrs["data-step"])
	assert.Len(t, find(els, func(e element) bool { return e.zone == zone && e.hasClass("violation") }), 2)
}

// TestDeterministic renders the same reports many times: the bytes never
// change, whatever order the maps are iterated in.
func TestDeterministic(t *testing.T) {
	sim, run := synthetic()
	for i := range sim.Zones[0].Timeline {
		sim.Zones[0].Timeline[i].Versions["v9"] = 0
		sim.Zones[0].Timeline[i].Versions["a0"] = 0
	}
	var first []byte
	for range 20 {
		var buf bytes.Buffer
		require.NoError(t, timeline.Write(&buf, sim, run, timeline.Options{Start: t0}))
		if first == nil {
			first = buf.Bytes()
			continue
		}
		require.Equal(t, string(first), buf.String())
	}
}

func TestWidth(t *testing.T) {
	sim, run := synthetic()
	for _, w := range []int{0, timeline.MinWidth, 2000} {
		_, els := render(t, sim, run, timeline.Options{Start: t0, Width: w})
		want := w
		if w == 0 {
			want = timeline.DefaultWidth
		}
		assert.Equal(t, strconv.Itoa(want), els[0].attrs["width"])
		assert.True(t, strings.HasPrefix(els[0].attrs["viewBox"], "0 0 "+strconv.Itoa(want)+" "))
	}
}
