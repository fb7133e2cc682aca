package farm_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJournalFileRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	j, err := farm.OpenJournal(path)
	require.NoError(t, err)
	snap := farm.CapturedState{Services: map[string]map[drivers.Service]drivers.ServiceState{"fe01": {drivers.SchedulerService: {Run: drivers.Running, Startup: drivers.Manual}}}}
	recs := []farm.JournalRecord{
		{Kind: farm.RecordRunStarted, PlanID: "p1", Label: "release v2", Steps: []string{"a", "b", "c"}},
		{Kind: farm.RecordStepStarted, Step: "a"},
		{Kind: farm.RecordCaptured, Captured: &snap},
		{Kind: farm.RecordStepDone, Step: "a"},
		{Kind: farm.RecordStepStarted, Step: "b"},
		{Kind: farm.RecordAction, Step: "b", Server: "fe01", Attempts: 2, Error: "boom"},
	}
	for _, r := range recs {
		r.Time = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		require.NoError(t, j.Append(r))
	}
	require.NoError(t, j.Close())
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the journal is private to its owner")

	got, err := farm.ReadJournalFile(path)
	require.NoError(t, err)
	require.Len(t, got, len(recs))
	st, err := farm.StateOf(got)
	require.NoError(t, err)
	assert.Equal(t, "p1", st.PlanID)
	assert.Equal(t, []string{"a"}, st.Done)
	assert.Equal(t, "b", st.ResumeFrom)
	assert.Equal(t, farm.Outcome(""), st.Outcome, "crashed: no outcome")
	assert.Equal(t, drivers.Manual, st.Captured.Services["fe01"][drivers.SchedulerService].Startup)

	// A torn last line (crash mid-write) is ignored; a bad line elsewhere is not.
	data, _ := os.ReadFile(path)
	torn := append(bytes.Clone(data), []byte(`{"time":"2026-01-02T03:04:05Z","kind":"step-do`)...)
	got, err = farm.ReadJournal(bytes.NewReader(torn))
	require.NoError(t, err)
	assert.Len(t, got, len(recs))
	bad := strings.Replace(string(data), `"kind":"step-done"`, `"kind":"step-done","bogus":1`, 1)
	_, err = farm.ReadJournal(strings.NewReader(bad))
	assert.ErrorContains(t, err, "journal line 4")
}

func TestStateOfRollbackAndRestarts(t *testing.T) {
	steps := []string{"a", "b", "c", "d"}
	recs := []farm.JournalRecord{
		{Kind: farm.RecordRunStarted, PlanID: "old", Steps: steps},
		{Kind: farm.RecordRunFinished, Outcome: farm.Succeeded},
		// A new run of another plan starts the journal's current run.
		{Kind: farm.RecordRunStarted, PlanID: "p", Steps: steps},
		{Kind: farm.RecordStepStarted, Step: "a"}, {Kind: farm.RecordStepDone, Step: "a"},
		{Kind: farm.RecordStepStarted, Step: "b"}, {Kind: farm.RecordStepDone, Step: "b"},
		{Kind: farm.RecordStepStarted, Step: "c"}, {Kind: farm.RecordStepFailed, Step: "c", Error: "boom"},
		{Kind: farm.RecordRollbackStarted, Step: "c"},
		{Kind: farm.RecordStepUndone, Step: "c"},
	}
	st, err := farm.StateOf(recs)
	require.NoError(t, err)
	assert.Equal(t, "p", st.PlanID)
	assert.True(t, st.RollingBack)
	assert.Equal(t, []string{"b", "a"}, st.ToUndo, "c is undone; b then a remain")
	recs = append(recs, farm.JournalRecord{Kind: farm.RecordStepUndone, Step: "b"}, farm.JournalRecord{Kind: farm.RecordStepUndone, Step: "a"},
		farm.JournalRecord{Kind: farm.RecordRunFinished, Outcome: farm.RolledBack})
	st, err = farm.StateOf(recs)
	require.NoError(t, err)
	assert.False(t, st.RollingBack)
	assert.Equal(t, farm.RolledBack, st.Outcome)

	_, err = farm.StateOf(nil)
	assert.ErrorIs(t, err, farm.ErrNothingToResume)
}

// FuzzReadJournal checks the journal parser never panics on outside input
// and that what it accepts survives a round trip.
func FuzzReadJournal(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-02T03:04:05Z","kind":"run-started","plan_id":"p","steps":["a"]}` + "\n"))
	f.Add([]byte(`{"time":"2026-01-02T03:04:05Z","kind":"captured","captured":{"services":{"fe01":{"scheduler":{"run":"running","startup":"Automatic"}}}}}` + "\n"))
	f.Add([]byte("\n\n{\"kind\":\"step-done\",\"step\":\"a\"}\n{\"kind\":"))
	f.Add([]byte(`{"kind":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := farm.ReadJournal(bytes.NewReader(data))
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
		_, _ = farm.StateOf(recs)
	})
}

// TestTornTailThenAppend checks that reopening a journal whose last line a
// crash cut short drops that line, so that new records stay readable.
func TestTornTailThenAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.jsonl")
	full := `{"time":"2026-01-02T03:04:05Z","kind":"run-started","plan_id":"p","steps":["a"]}` + "\n"
	require.NoError(t, os.WriteFile(path, []byte(full+`{"time":"2026-01-02T03:04:05Z","kind":"step-st`), 0o600))
	j, err := farm.OpenJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.Append(farm.JournalRecord{Kind: farm.RecordStepStarted, Step: "a"}))
	require.NoError(t, j.Close())
	recs, err := farm.ReadJournalFile(path)
	require.NoError(t, err)
	require.Len(t, recs, 2)
	assert.Equal(t, farm.RecordStepStarted, recs[1].Kind)

	// A file that is one torn line becomes empty.
	require.NoError(t, os.WriteFile(path, []byte(`{"kind":"run-st`), 0o600))
	j, err = farm.OpenJournal(path)
	require.NoError(t, err)
	require.NoError(t, j.Close())
	data, _ := os.ReadFile(path)
	assert.Empty(t, data)
}

// TestStateOfLeavesRecordsAlone checks StateOf applies value records to a
// copy of the captured state, not to the records it was given.
func TestStateOfLeavesRecordsAlone(t *testing.T) {
	snap := farm.CapturedState{Values: map[string]string{"k": "v1"}}
	recs := []farm.JournalRecord{
		{Kind: farm.RecordRunStarted, PlanID: "p", Steps: []string{"a"}},
		{Kind: farm.RecordCaptured, Captured: &snap},
		{Kind: farm.RecordValue, Key: "k", Value: "v2"},
		{Kind: farm.RecordValue, Key: "gone", Deleted: true},
	}
	st, err := farm.StateOf(recs)
	require.NoError(t, err)
	assert.Equal(t, "v2", st.Captured.Values["k"])
	assert.Equal(t, "v1", snap.Values["k"], "the record read is unchanged")
}
