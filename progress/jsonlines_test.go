package progress_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeLines parses every line of out as a JSON object.
func decodeLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &m), "line %q", sc.Text())
		objs = append(objs, m)
	}
	require.NoError(t, sc.Err())
	return objs
}

// TestJSONLinesFields checks that every event is one line of JSON with the
// expected fields, and that times round-trip at full precision.
func TestJSONLinesFields(t *testing.T) {
	var buf bytes.Buffer
	jl := progress.NewJSONLines(&buf)
	events := halted()
	for _, e := range events {
		jl.Observe(e)
	}
	require.NoError(t, jl.Err())
	objs := decodeLines(t, buf.String())
	require.Len(t, objs, len(events))

	for i, e := range events {
		var je progress.JSONEvent
		line, _ := json.Marshal(objs[i])
		require.NoError(t, json.Unmarshal(line, &je))
		assert.True(t, e.Time.Equal(je.Time), "time of event %d", i)
		assert.Equal(t, string(e.Kind), je.Kind)
		assert.Equal(t, e.Step, je.Step)
		assert.Equal(t, e.Zone, je.Zone)
		assert.Equal(t, e.Server, je.Server)
		assert.Equal(t, e.Attempt, je.Attempt)
		assert.Equal(t, e.Done, je.Done)
		assert.Equal(t, e.Total, je.Total)
		assert.Equal(t, e.Message, je.Message)
		if e.Err != nil {
			assert.Equal(t, progress.ErrorText(e.Err), je.Error)
			assert.NotContains(t, je.Error, "\n", "no go-multierror bullets in JSON lines")
			assert.NotContains(t, je.Error, "error occurred")
		} else {
			assert.NotContains(t, objs[i], "error")
		}
	}

	// One line checked field by field, as a CI tool would read it.
	find := func(kind string, n int) map[string]any {
		for _, o := range objs {
			if o["kind"] == kind {
				if n--; n == 0 {
					return o
				}
			}
		}
		t.Fatalf("no %s event number %d", kind, n)
		return nil
	}
	retry := find("action-retry", 1)
	assert.Equal(t, map[string]any{
		"time":    "2026-11-27T03:00:01.1Z",
		"kind":    "action-retry",
		"step":    "stop-schedulers",
		"zone":    "default",
		"server":  "fe03",
		"attempt": 1.0,
		"message": "transient error, retrying in 1.05s",
		"error":   "stop Scheduler on fe03: winrm: connection refused: unavailable",
	}, retry)
	assert.Equal(t, 0.0, find("progress", 1)["done"], "done is written when total is, even at 0")
	assert.NotContains(t, find("run-finished", 1), "done")
	drain := find("progress", 2)
	assert.Equal(t, 1.0, drain["done"])
	assert.Equal(t, 2.0, drain["total"])
}

// secretError is an error whose fields must never be written.
type secretError struct{ Password string }

func (secretError) Error() string { return "login refused" }

// TestJSONLinesWritesErrorTextOnly checks that an error is written as its
// Error() text, never marshalled with its fields.
func TestJSONLinesWritesErrorTextOnly(t *testing.T) {
	var buf bytes.Buffer
	jl := progress.NewJSONLines(&buf)
	jl.Observe(event.Event{Kind: event.ActionFinished, Time: t0, Server: "fe01", Err: fmt.Errorf("stop: %w", secretError{Password: "hunter2"})})
	assert.NotContains(t, buf.String(), "hunter2")
	assert.Equal(t, `{"time":"2026-11-27T03:00:00Z","kind":"action-finished","server":"fe01","error":"stop: login refused"}`+"\n", buf.String())
}

// TestJSONLinesConcurrent checks that lines from concurrent observers
// never interleave.
func TestJSONLinesConcurrent(t *testing.T) {
	var buf bytes.Buffer
	jl := progress.NewJSONLines(&lockedWriter{w: &buf})
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			for j := range 50 {
				jl.Observe(event.Event{Kind: event.Progress, Time: t0.Add(time.Duration(j)), Server: fmt.Sprintf("fe%02d", i),
					Done: j, Total: 50, Message: strings.Repeat("x", 200)})
			}
		})
	}
	wg.Wait()
	assert.Len(t, decodeLines(t, buf.String()), 1000)
}

// lockedWriter lets the race detector see that JSONLines serialises its
// writes even when the writer itself is not safe (it fails the test if
// two writes overlap).
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	if !l.mu.TryLock() {
		panic("concurrent Write")
	}
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestJSONLinesKeepsWriteError checks that a broken output is reported.
func TestJSONLinesKeepsWriteError(t *testing.T) {
	jl := progress.NewJSONLines(&failingWriter{n: 1})
	jl.Observe(event.Event{Kind: event.RunStarted, Time: t0})
	require.NoError(t, jl.Err())
	jl.Observe(event.Event{Kind: event.RunFinished, Time: t0})
	assert.ErrorIs(t, jl.Err(), assert.AnError)
}
