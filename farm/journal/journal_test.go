package journal_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJournalFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := journal.Open(path)
	require.NoError(t, err)
	snap := journal.CapturedState{Services: map[string]map[drivers.Service]drivers.ServiceState{"fe01": {drivers.SchedulerService: {Run: drivers.Running, Startup: drivers.Manual}}}}
	recs := []journal.Record{
		{Kind: journal.RunStarted, PlanID: "p1", Label: "release v2", Steps: []string{"a", "b", "c"}},
		{Kind: journal.StepStarted, Step: "a"},
		{Kind: journal.Captured, Captured: &snap},
		{Kind: journal.StepDone, Step: "a"},
		{Kind: journal.StepStarted, Step: "b"},
		{Kind: journal.Action, Step: "b", Server: "fe01", Attempts: 2, Error: "boom"},
	}
	for _, r := range recs {
		r.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		require.NoError(t, j.Append(r))
	}
	require.NoError(t, j.Close())
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the journal is private to its owner")

	got, err := journal.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, got, len(recs))
	st, err := journal.StateOf(got)
	require.NoError(t, err)
	assert.Equal(t, "p1", st.PlanID)
	assert.Equal(t, []string{"a"}, st.Done)
	assert.Equal(t, "b", st.ResumeFrom)
	assert.Equal(t, farm.Outcome(""), st.Outcome, "crashed: no outcome")
	assert.Equal(t, drivers.Manual, st.Captured.Services["fe01"][drivers.SchedulerService].Startup)

	// A torn last line (crash mid-write) is ignored; a bad line elsewhere is not.
	data, _ := os.ReadFile(path)
	torn := append(bytes.Clone(data), []byte(`{"time":"2026-01-02T03:04:05Z","kind":"step-do`)...)
	got, err = journal.Read(bytes.NewReader(torn))
	require.NoError(t, err)
	assert.Len(t, got, len(recs))
	// A field this version does not know (a newer writer's) is tolerated;
	// a record kind it does not know is refused, naming its line.
	newer := strings.Replace(string(data), `"kind":"step-done"`, `"kind":"step-done","bogus":1`, 1)
	got, err = journal.Read(strings.NewReader(newer))
	require.NoError(t, err)
	assert.Len(t, got, len(recs))
	bad := strings.Replace(string(data), `"kind":"step-done"`, `"kind":"step-paused"`, 1)
	_, err = journal.Read(strings.NewReader(bad))
	assert.ErrorContains(t, err, "journal line 4")
	assert.ErrorContains(t, err, `unknown record kind "step-paused"`)
}

func TestStateOfRollbackAndRestarts(t *testing.T) {
	steps := []string{"a", "b", "c", "d"}
	recs := []journal.Record{
		{Kind: journal.RunStarted, PlanID: "old", Steps: steps},
		{Kind: journal.RunFinished, Outcome: farm.Succeeded},
		// A new run of another plan starts the journal's current run.
		{Kind: journal.RunStarted, PlanID: "p", Steps: steps},
		{Kind: journal.StepStarted, Step: "a"}, {Kind: journal.StepDone, Step: "a"},
		{Kind: journal.StepStarted, Step: "b"}, {Kind: journal.StepDone, Step: "b"},
		{Kind: journal.StepStarted, Step: "c"}, {Kind: journal.StepFailed, Step: "c", Error: "boom"},
		{Kind: journal.RollbackStarted, Step: "c"},
		{Kind: journal.StepUndone, Step: "c"},
	}
	st, err := journal.StateOf(recs)
	require.NoError(t, err)
	assert.Equal(t, "p", st.PlanID)
	assert.True(t, st.RollingBack)
	assert.Equal(t, []string{"b", "a"}, st.ToUndo, "c is undone; b then a remain")
	recs = append(recs, journal.Record{Kind: journal.StepUndone, Step: "b"}, journal.Record{Kind: journal.StepUndone, Step: "a"},
		journal.Record{Kind: journal.RunFinished, Outcome: farm.RolledBack})
	st, err = journal.StateOf(recs)
	require.NoError(t, err)
	assert.False(t, st.RollingBack)
	assert.Equal(t, farm.RolledBack, st.Outcome)

	_, err = journal.StateOf(nil)
	assert.ErrorIs(t, err, journal.ErrNoRun)
}

// FuzzReadJournal checks the journal parser never panics on outside input
// and that what it accepts survives a round trip.
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-02T03:04:05Z","kind":"run-started","plan_id":"p","steps":["a"]}` + "\n"))
	f.Add([]byte(`{"time":"2026-01-02T03:04:05Z","kind":"captured","captured":{"services":{"fe01":{"scheduler":{"run":"running","startup":"Automatic"}}}}}` + "\n"))
	f.Add([]byte("\n\n{\"kind\":\"step-done\",\"step\":\"a\"}\n{\"kind\":"))
	f.Add([]byte(`{"kind":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := journal.Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, r := range recs {
			if r.Kind == "" {
				t.Fatalf("accepted a record without kind: %+v", r)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("accepted record does not marshal: %v", err)
			}
		}
		_, _ = journal.StateOf(recs)
	})
}

// TestTornTailThenAppend checks that reopening a journal whose last line a
// crash cut short drops that line, so that new records stay readable.
func TestTornTailThenAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	full := `{"time":"2026-01-02T03:04:05Z","kind":"run-started","plan_id":"p","steps":["a"]}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(full+`{"time":"2026-01-02T03:04:05Z","kind":"step-st`), 0o600))
	j, err := journal.Open(path)
	require.NoError(t, err)
	require.NoError(t, j.Append(journal.Record{Kind: journal.StepStarted, Step: "a"}))
	require.NoError(t, j.Close())
	recs, err := journal.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, journal.StepStarted, recs[1].Kind)

	// A file that is one torn line becomes empty.
	require.NoError(t, os.WriteFile(path, []byte(`{"kind":"run-st`), 0o600))
	j, err = journal.Open(path)
	require.NoError(t, err)
	require.NoError(t, j.Close())
	data, _ := os.ReadFile(path)
	assert.Empty(t, data)
}

// TestStateOfLeavesRecordsAlone checks StateOf applies value records to a
// copy of the captured state, not to the records it was given.
func TestStateOfLeavesRecordsAlone(t *testing.T) {
	snap := journal.CapturedState{Values: map[string]string{"k": "v1"}}
	recs := []journal.Record{
		{Kind: journal.RunStarted, PlanID: "p", Steps: []string{"a"}},
		{Kind: journal.Captured, Captured: &snap},
		{Kind: journal.Value, Key: "k", Value: "v2"},
		{Kind: journal.Value, Key: "gone", Deleted: true},
	}
	st, err := journal.StateOf(recs)
	require.NoError(t, err)
	assert.Equal(t, "v2", st.Captured.Values["k"])
	assert.Equal(t, "v1", snap.Values["k"], "the record read is unchanged")
}

// writeRuns appends n runs of a 1000-server plan to path: each run's
// records, with its actions and one captured state per step.
func writeRuns(t testing.TB, path string, n, servers int) {
	j, err := journal.Open(path)
	require.NoError(t, err)
	defer j.Close()
	snap := journal.CapturedState{Services: map[string]map[drivers.Service]drivers.ServiceState{}}
	for i := range servers {
		snap.Services[fmt.Sprintf("fe%04d", i)] = map[drivers.Service]drivers.ServiceState{drivers.SchedulerService: {Run: drivers.Running, Startup: drivers.Automatic}}
	}
	steps := []string{"a", "b", "c"}
	for run := range n {
		recs := []journal.Record{{Kind: journal.RunStarted, PlanID: "p", Label: fmt.Sprintf("release v%d", run), RunID: fmt.Sprintf("R%d", run), Steps: steps}}
		for _, s := range steps {
			recs = append(recs, journal.Record{Kind: journal.StepStarted, Step: s})
			for i := range servers {
				recs = append(recs, journal.Record{Kind: journal.Action, Step: s, Server: fmt.Sprintf("fe%04d", i), Attempts: 1})
			}
			recs = append(recs, journal.Record{Kind: journal.Captured, Captured: &snap}, journal.Record{Kind: journal.StepDone, Step: s})
		}
		recs = append(recs, journal.Record{Kind: journal.RunFinished, Outcome: farm.Succeeded})
		for _, r := range recs {
			r.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			require.NoError(t, j.Append(r))
		}
	}
}

// TestLastRunReadsOnlyTheLastRun checks that journal.File.LastRun and
// ReadLastRun agree with StateOf over the whole journal, through runs,
// resumes, a torn tail and records of fields they do not know.
func TestLastRunReadsOnlyTheLastRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := journal.Open(path)
	require.NoError(t, err)
	st, ok, err := j.LastRun(t.Context())
	require.NoError(t, err)
	assert.False(t, ok, "an empty journal holds no run")
	steps := []string{"a", "b"}
	recs := []journal.Record{
		{Kind: journal.RunStarted, PlanID: "p", RunID: "R1", Steps: steps},
		{Kind: journal.StepStarted, Step: "a"}, {Kind: journal.StepDone, Step: "a"},
		{Kind: journal.StepStarted, Step: "b"}, {Kind: journal.StepDone, Step: "b"},
		{Kind: journal.RunFinished, Outcome: farm.Succeeded},
		{Kind: journal.RunStarted, PlanID: "p", RunID: "R2", Steps: steps},
		{Kind: journal.StepStarted, Step: "a"}, {Kind: journal.StepDone, Step: "a"},
		{Kind: journal.StepStarted, Step: "b"}, {Kind: journal.StepFailed, Step: "b", Error: "boom"},
		{Kind: journal.RunFinished, Outcome: farm.Halted},
		{Kind: journal.RunStarted, PlanID: "p", RunID: "R2", Steps: steps, Resumed: true},
		{Kind: journal.StepStarted, Step: "b"},
	}
	for i, r := range recs {
		r.Time = time.Date(2026, 1, 2, 3, 4, i, 0, time.UTC)
		require.NoError(t, j.Append(r))
		all, err := journal.ReadFile(path)
		require.NoError(t, err)
		want, err := journal.StateOf(all)
		require.NoError(t, err)
		got, ok, err := j.LastRun(t.Context())
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, want, got, "after record %d", i)
	}
	st, _, err = j.LastRun(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "R2", st.RunID)
	assert.True(t, st.Resumed)
	assert.True(t, st.Unfinished())
	assert.Equal(t, "b", st.ResumeFrom)
	last, err := journal.ReadLastRun(path)
	require.NoError(t, err)
	require.Len(t, last, 8, "from R2's run-started, through its resume")
	assert.Equal(t, "R2", last[0].RunID)
	assert.False(t, last[0].Resumed)
	require.NoError(t, j.Close())

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// A torn final write is ignored; a field of a newer writer is tolerated.
	torn := strings.Replace(string(data), `"kind":"step-failed"`, `"kind":"step-failed","retry_after":"5s"`, 1) + `{"time":"2026-01-02T03:04:05Z","kind":"step-do`
	require.NoError(t, os.WriteFile(path, []byte(torn), 0o600))
	last2, err := journal.ReadLastRun(path)
	require.NoError(t, err)
	assert.Len(t, last2, 8)
	// A record kind this version does not know is refused.
	bad := strings.Replace(string(data), `"kind":"step-failed"`, `"kind":"step-paused"`, 1)
	require.NoError(t, os.WriteFile(path, []byte(bad), 0o600))
	_, err = journal.ReadLastRun(path)
	assert.ErrorContains(t, err, `unknown record kind "step-paused"`)

	_, err = journal.ReadLastRun(filepath.Join(t.TempDir(), "missing"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	j, err = journal.Open(filepath.Join(t.TempDir(), "k.jsonl"))
	require.NoError(t, err)
	defer j.Close()
	assert.ErrorContains(t, j.Append(journal.Record{Kind: "step-paused"}), `unknown record kind "step-paused"`, "the journal refuses kinds it does not know")
}

// BenchmarkJournalReopen measures what a new run reads of a journal holding
// earlier 1000-server runs to check that the last one finished: the whole
// file (full-read, what Plan.Run did before LastRun) or its last run only
// (last-run, journal.File.LastRun). full-read grows with the history;
// last-run does not.
//
//	go test ./farm -run '^$' -bench BenchmarkJournalReopen -benchtime 20x
func BenchmarkJournalReopen(b *testing.B) {
	for _, runs := range []int{1, 5, 20} {
		path := filepath.Join(b.TempDir(), "j.jsonl")
		writeRuns(b, path, runs, 1000)
		b.Run(fmt.Sprintf("runs=%d/full-read", runs), func(b *testing.B) {
			for b.Loop() {
				recs, err := journal.ReadFile(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := journal.StateOf(recs); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("runs=%d/last-run", runs), func(b *testing.B) {
			for b.Loop() {
				j, err := journal.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, ok, err := j.LastRun(b.Context()); err != nil || !ok {
					b.Fatal(err, ok)
				}
				_ = j.Close()
			}
		})
	}
}
