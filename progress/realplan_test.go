package progress_test

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/internal/fakefarm"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runPlan runs the real balanced plan over ff (one zone, auto split) with
// obs watching, and returns the run's error.
func runPlan(t *testing.T, ff *fakefarm.Farm, obs event.Observer) error {
	t.Helper()
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(ff.Servers()), LoadBalancer: ff})
	require.NoError(t, err)
	p, err := steps.Balanced(f, steps.Config{
		Services: ff, Platform: ff, Prober: ff,
		Release:          drivers.Release{Version: "v2"},
		PollInterval:     time.Second,
		ProgressInterval: time.Second,
		// The expected times count a 2 s confirmation after each stop.
		ConfirmDelay: 2 * time.Second,
		// The strict order: the expected lines are the runbook's, one
		// step after the other.
		Plan: farm.PlanConfig{Observer: event.Observers(ff, obs), Seed: 1, StrictOrder: true},
	})
	require.NoError(t, err)
	_, err = p.Run(t.Context())
	return err
}

// busyFarm is a farm of four servers whose Updating server fe01 holds
// three connections that end one per load-balancer poll during the drain,
// and whose first attempt to stop fe02's Scheduler fails transiently.
func busyFarm() *fakefarm.Farm {
	ff := fakefarm.New("fe01", "fe02", "fe03", "fe04")
	ff.SetActive("fe01", 3)
	var failed atomic.Bool
	active := 3
	var mu sync.Mutex
	ff.OnCall(func(c fakefarm.Call) error {
		switch {
		case c.Op == "lb-status" && c.Step == steps.DrainUpdating:
			mu.Lock()
			defer mu.Unlock()
			if active > 0 && ff.MemberState("fe01") == drivers.Draining {
				active--
				ff.SetActive("fe01", active)
			}
		case c.Op == "stop-scheduler" && c.Target == "fe02" && failed.CompareAndSwap(false, true):
			return fmt.Errorf("winrm: connection refused: %w", drivers.ErrUnavailable)
		}
		return nil
	})
	return ff
}

// lines splits output into lines.
func lines(out string) []string { return strings.Split(strings.TrimSuffix(out, "\n"), "\n") }

// TestRealPlanPlain runs the real balanced plan and checks the key lines
// of the plain output: every step started and finished in order, the
// retry, the drain's progress, the summary, and no per-server line.
func TestRealPlanPlain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		term := progress.NewTerminal(&buf, progress.TerminalConfig{})
		require.NoError(t, runPlan(t, busyFarm(), term))
		require.NoError(t, term.Err())
		out := buf.String()
		assertReadable(t, out)
		ls := lines(out)

		assert.Equal(t, "[00:00:00] run started: 12 steps over 4 servers in 1 zones", ls[0])
		assert.Regexp(t, `^\[00:00:10\] run succeeded in 10.9s \(12 steps, 28 actions, 1 retry\)$`, ls[len(ls)-1])
		// Every step, in order, started then finished.
		next := 0
		for i, id := range steps.IDs() {
			started := fmt.Sprintf("step %d/12 %s: ", i+1, id)
			done := fmt.Sprintf("step %d/12 %s done in ", i+1, id)
			for next < len(ls) && !strings.Contains(ls[next], started) {
				next++
			}
			require.Less(t, next, len(ls), "no line %q in order:\n%s", started, out)
			for next < len(ls) && !strings.Contains(ls[next], done) {
				next++
			}
			require.Less(t, next, len(ls), "no line %q in order:\n%s", done, out)
		}
		assert.Regexp(t, `(?m)^\[00:00:00\]   retry fe02 \(attempt 1\): stop scheduler service: winrm: connection refused: unavailable; transient error, retrying in \d+ms$`, out)
		assert.Contains(t, out, "] step 2/12 stop-schedulers done in 2.9s (8 actions, 1 retry)\n")
		assert.Contains(t, out, "[00:00:02]   drain-updating zone default: 1/2 draining fe01 (2 active): 2 connections left\n")
		assert.Contains(t, out, "[00:00:03]   drain-updating zone default: 1/2 draining fe01 (1 active): 1 connections left\n")
		assert.Contains(t, out, "]   publish: deployment dep-1 running\n")
		assert.NotContains(t, out, "  ok ", "no line per successful action")
		assert.NotContains(t, out, "FAILED")
	})
}

// TestRealPlanHalted runs the real plan into a permanent load-balancer
// error and checks the failure is printed with step, zone and error, and
// the run ends with where it halted.
func TestRealPlanHalted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ff := fakefarm.New("fe01", "fe02", "fe03", "fe04")
		ff.OnCall(func(c fakefarm.Call) error {
			if c.Op == "lb-draining" && c.Target == "fe02" {
				return fmt.Errorf("haproxy: set server be/fe02 state drain: %w", drivers.ErrPermissionDenied)
			}
			return nil
		})
		var buf bytes.Buffer
		term := progress.NewTerminal(&buf, progress.TerminalConfig{})
		err := runPlan(t, ff, term)
		require.ErrorIs(t, err, farm.ErrHalted)
		out := buf.String()
		assertReadable(t, out)
		ls := lines(out)
		cause := "drain fe01, fe02: haproxy: set server be/fe02 state drain: permission denied"
		assert.Contains(t, out, "]   FAILED drain-updating zone default: "+cause+"\n")
		assert.Equal(t, 1, strings.Count(out, cause), "the error is printed once")
		assert.Contains(t, out, "] step 3/12 drain-updating FAILED after 0s (1 action, 1 failed)\n")
		assert.Equal(t, "[00:00:02] run halted at drain-updating after 2s (the failures above)", ls[len(ls)-1])
		assert.NotContains(t, out, "step 4/12")
	})
}

// TestRealPlanTerminalAndJSON runs the real plan with a terminal status
// block and JSON lines side by side: the block's last frame names the last
// step with its counts, and every event is one parseable JSON line.
func TestRealPlanTerminalAndJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		scr := &screen{}
		term := progress.NewTerminal(scr, progress.TerminalConfig{ForceTTY: true})
		var js bytes.Buffer
		jl := progress.NewJSONLines(&js)
		var events atomic.Int64
		count := event.ObserverFunc(func(event.Event) { events.Add(1) })
		require.NoError(t, runPlan(t, busyFarm(), event.Observers(term, jl, count)))
		require.NoError(t, term.Err())
		require.NoError(t, jl.Err())

		frame := scr.frame()
		require.Len(t, frame, 3, scr.raw.String())
		assert.Equal(t, "run succeeded: 12 of 12 steps done", frame[0], "the last frame says where the run ended")
		assert.Equal(t, "  elapsed 00:00:10 | 12 steps done | 28 actions | 1 retry", frame[1])
		assert.Equal(t, "[00:00:10] run succeeded in 10.9s (12 steps, 28 actions, 1 retry)", frame[2])
		assert.Contains(t, scr.text(), "] step 3/12 drain-updating done in 2s (1 action)\n")

		objs := decodeLines(t, js.String())
		require.Len(t, objs, int(events.Load()))
		assert.Equal(t, "run-started", objs[0]["kind"])
		assert.Equal(t, "run-finished", objs[len(objs)-1]["kind"])
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o["kind"].(string)]++
			assert.NotEmpty(t, o["time"])
		}
		assert.Equal(t, 12, kinds["step-started"])
		assert.Equal(t, 12, kinds["step-finished"])
		assert.Equal(t, 1, kinds["action-retry"])
		assert.Equal(t, kinds["action-started"], kinds["action-finished"])
		assert.Positive(t, kinds["progress"])
	})
}
