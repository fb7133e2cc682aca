package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sizeJournal is a journal.Journal that keeps nothing but the size of the
// JSON lines a journal.File would write, and the largest record other than
// the captured state.
type sizeJournal struct {
	mu             sync.Mutex
	total, largest int
}

// LastRun reports no run: the journal keeps no records to tell of one.
func (j *sizeJournal) LastRun(context.Context) (journal.State, bool, error) {
	return journal.State{}, false, nil
}

func (j *sizeJournal) Append(rec journal.Record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.total += len(b) + 1
	if rec.Kind != journal.Captured {
		// The captured state, journaled after each step, grows with
		// the farm (one service state per server), once a step.
		j.largest = max(j.largest, len(b)+1)
	}
	return nil
}

// installTimeout runs the balanced plan on n servers whose installs never
// end within the install timeout (n/2 Updating servers pending when the
// publish step gives up), in simulated time, and returns the run's error,
// its report and the journal's sizes. Calls take 50 ms and the probes are
// polled every 10 ms, so the timeout falls while probes are in flight
// through the engine's concurrency limit (the case that made every server's
// error hold every other's: 67-82 MB at 2000 pending servers).
func installTimeout(t *testing.T, n int) (*farm.Report, *sizeJournal, error) {
	s := defaultSettings(n, 0)
	s.Latency, s.Install, s.DeployPollInterval = 50*time.Millisecond, time.Hour, 10*time.Millisecond
	j := &sizeJournal{}
	plan, _, err := newPlan(s, farm.PlanConfig{Journal: j}, func(c *steps.Config) {
		c.InstallTimeout = 10 * time.Second
	})
	require.NoError(t, err)
	rep, err := plan.Run(context.Background())
	return rep, j, err
}

// TestInstallTimeoutErrorIsLinear: an install timeout over 2000 pending
// servers gives an error under 1 MB (issue 15's target), a report and a
// journal that grow with the farm, not with its square, and still names
// every pending server once, with its own error, in the report.
func TestInstallTimeoutErrorIsLinear(t *testing.T) {
	if testing.Short() {
		t.Skip("4000 servers: about 10 s of CPU with -race")
	}
	synctest.Test(t, func(t *testing.T) {
		const servers, pending = 4000, 2000
		rep, j, err := installTimeout(t, servers)
		require.ErrorIs(t, err, farm.ErrHalted)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var text bytes.Buffer
		require.NoError(t, rep.Write(&text))
		js, jerr := json.Marshal(rep)
		require.NoError(t, jerr)
		st, ok := rep.Step(steps.Publish)
		require.True(t, ok)
		t.Logf("error %d B, report text %d B, report JSON %d B, journal %d B (largest record %d B), publish failures %d",
			len(err.Error()), text.Len(), len(js), j.total, j.largest, len(st.Failures))

		assert.Less(t, len(err.Error()), 1<<20, "the run's error")
		assert.Less(t, len(err.Error()), 16<<10, "the run's error lists %d servers, then a count", farm.MaxListedErrors)
		assert.Contains(t, err.Error(), "and 1,990 more servers")
		assert.Less(t, text.Len(), 64<<10, "the report's text")
		assert.Less(t, j.largest, 64<<10, "the largest journal record but the captured state")
		// Every pending server once, each with its own error only.
		require.Len(t, st.Failures, pending)
		seen := map[string]bool{}
		for _, f := range st.Failures {
			assert.False(t, seen[f.Server], "%s listed twice", f.Server)
			seen[f.Server] = true
			assert.Less(t, len(f.Error), 512, "%s's error holds only its own: %.300s", f.Server, f.Error)
		}
		var se *farm.StepError
		require.True(t, errors.As(err, &se))
		// Linear: the JSON report (every action of 4000 servers and
		// 2000 failures) stays within a few hundred bytes per record.
		actions := 0
		for _, s := range rep.Steps {
			actions += len(s.Actions)
		}
		assert.Less(t, len(js), 400*(actions+pending), "the JSON report grows with its %d actions and %d failures", actions, pending)
	})
}
