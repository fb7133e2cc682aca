package timeline_test

import (
	"bytes"
	"os"
	"path/filepath"
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

// golden compares doc with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, doc []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, doc, 0o644))
		t.Logf("updated %s", path)
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./timeline -update to create it")
	assert.Equal(t, string(want), string(doc), "the picture changed; if on purpose, look at it and run go test ./timeline -update")
}

// TestGoldenSmallRun draws a small balanced deployment (two zones of two
// front-ends, light traffic) on a fixed seed. The simulation is
// deterministic, so the picture is too: it is drawn twice, and compared
// with testdata/small-run.svg.
func TestGoldenSmallRun(t *testing.T) {
	draw := func() []byte {
		var d deployment
		synctest.Test(t, func(t *testing.T) {
			cfg := simulate.Config{Zones: []simulate.ZoneConfig{{Name: "east", Servers: 2}, {Name: "west", Servers: 2}}, Seed: 3,
				Traffic: simulate.Traffic{Rate: 2}}
			// Steps one at a time: overlapping steps interleave their
			// driver calls in whatever order the goroutines run, which
			// shifts a request or two; the strict order is deterministic.
			d = deploy(t, cfg, 10*time.Second, func(_ *simulate.Sim, sc *steps.Config) { sc.Plan.StrictOrder = true })
		})
		require.NoError(t, d.err)
		require.Equal(t, farm.Succeeded, d.run.Outcome)
		var buf bytes.Buffer
		require.NoError(t, timeline.Write(&buf, d.sim, d.run, timeline.Options{Start: d.start}))
		return buf.Bytes()
	}
	doc := draw()
	require.Equal(t, string(doc), string(draw()), "the same seed draws the same picture")
	parseSVG(t, doc)
	assertSelfContained(t, doc)
	golden(t, "small-run.svg", doc)
}

// TestGoldenHalted draws a hand-made report with failed requests,
// violations, a failed step and a rollback, compared with
// testdata/halted.svg.
func TestGoldenHalted(t *testing.T) {
	sim, run := synthetic()
	run.Outcome, run.FailedStep, run.RollbackStarted = farm.RolledBack, "two", t0.Add(dur(80))
	run.Steps[1].Status, run.Steps[1].Finished = farm.StepFailed, t0.Add(dur(80))
	run.Steps[0].Status = farm.StepUndone
	var buf bytes.Buffer
	require.NoError(t, timeline.Write(&buf, sim, run, timeline.Options{Start: t0, Title: "Rolled back", Width: 900}))
	golden(t, "halted.svg", buf.Bytes())
}

// TestStepIDsDrawn checks the golden run's picture names every step.
func TestStepIDsDrawn(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("testdata", "small-run.svg"))
	require.NoError(t, err)
	els := parseSVG(t, doc)
	var ids []string
	for _, l := range find(els, func(e element) bool { return e.name == "line" && e.hasClass("step") }) {
		ids = append(ids, l.attrs["data-step"])
	}
	assert.Equal(t, steps.IDs(), ids)
}
