package progress_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// overlap is a hand-built run whose steps run at the same time, as the
// engine runs them without farm.PlanConfig.StrictOrder: its events, and
// the places (event counts) where a test looks at the status block.
type overlap struct {
	s     *seq
	marks []int
}

// on emits e as an event of step id (several steps run, so every event
// names its own).
func (o *overlap) on(id string, e event.Event) *overlap {
	e.Step = id
	o.s.emit(e)
	return o
}

func (o *overlap) start(id string, i int, title string) *overlap {
	return o.on(id, event.Event{Kind: event.StepStarted, Done: i - 1, Total: 12, Message: title})
}

func (o *overlap) finish(id string, i int, err error) *overlap {
	return o.on(id, event.Event{Kind: event.StepFinished, Done: i, Total: 12, Err: err})
}

func (o *overlap) started(id, zone string, servers ...string) *overlap {
	if len(servers) == 0 {
		return o.on(id, event.Event{Kind: event.ActionStarted, Zone: zone})
	}
	for _, sv := range servers {
		o.on(id, event.Event{Kind: event.ActionStarted, Zone: zone, Server: sv})
	}
	return o
}

func (o *overlap) ok(id, zone string, attempt int, servers ...string) *overlap {
	if len(servers) == 0 {
		return o.on(id, event.Event{Kind: event.ActionFinished, Zone: zone, Attempt: attempt})
	}
	for _, sv := range servers {
		o.on(id, event.Event{Kind: event.ActionFinished, Zone: zone, Server: sv, Attempt: attempt})
	}
	return o
}

// mark records a place where the status block is looked at.
func (o *overlap) mark() *overlap { o.marks = append(o.marks, len(o.s.events)); return o }

// threeAfterPreflight is preflight, then stop-schedulers, drain-updating
// and block-loaded all at once (the balanced plan's 2 || 3 || 4): a retry
// in stop-schedulers, the drain's progress, block-loaded finishing first
// (the last step started), then stop-schedulers, then the drain.
func threeAfterPreflight() *overlap {
	o := &overlap{s: newSeq()}
	o.s.emit(event.Event{Kind: event.RunStarted, Total: 12, Message: "12 steps over 4 servers in 1 zones"})
	o.start("preflight", 1, "Check every driver")
	o.started("preflight", "default", all...)
	o.s.wait(time.Second)
	o.ok("preflight", "default", 1, all...)
	o.finish("preflight", 1, nil)
	o.start("stop-schedulers", 2, "Stop the Scheduler service on every server")
	o.start("drain-updating", 3, "Take the Updating servers out of the load balancer")
	o.start("block-loaded", 4, "Stop the Deployment service on the Loaded servers")
	o.started("stop-schedulers", "default", all...)
	o.started("drain-updating", "default")
	o.started("block-loaded", "default", loaded...)
	o.s.wait(300 * time.Millisecond)
	o.on("stop-schedulers", event.Event{Kind: event.ActionRetry, Zone: "default", Server: "fe03", Attempt: 1,
		Err: fmt.Errorf("winrm: connection refused: %w", drivers.ErrUnavailable), Message: "transient error, retrying in 1s"})
	o.on("drain-updating", event.Event{Kind: event.Progress, Zone: "default", Done: 0, Total: 2, Message: "draining fe01 (3 active), fe02 (2 active): 5 connections left"})
	o.ok("block-loaded", "default", 1, loaded...)
	o.ok("stop-schedulers", "default", 1, "fe01", "fe02", "fe04")
	o.mark() // three steps running
	o.s.wait(700 * time.Millisecond)
	o.finish("block-loaded", 4, nil)
	o.mark() // two steps running, the last one started is done
	o.s.wait(time.Second)
	o.ok("stop-schedulers", "default", 2, "fe03")
	o.finish("stop-schedulers", 2, nil)
	o.on("drain-updating", event.Event{Kind: event.Progress, Zone: "default", Done: 1, Total: 2, Message: "draining fe02 (2 active): 2 connections left"})
	o.mark() // the drain alone
	o.s.wait(time.Second)
	o.ok("drain-updating", "default", 1)
	o.finish("drain-updating", 3, nil)
	return o
}

// firstStartedFails runs the same three steps after a resume that skips
// preflight; stop-schedulers, the first started, fails on two servers with
// the same error while block-loaded, the last started, runs and succeeds,
// and the drain ends after both: the run halts at stop-schedulers.
func firstStartedFails() *overlap {
	o := &overlap{s: newSeq()}
	o.s.emit(event.Event{Kind: event.RunStarted, Total: 12, Message: "12 steps over 4 servers in 1 zones"})
	o.on("preflight", event.Event{Kind: event.StepSkipped, Done: 1, Total: 12, Message: "done in an earlier run"})
	o.start("stop-schedulers", 2, "Stop the Scheduler service on every server")
	o.start("drain-updating", 3, "Take the Updating servers out of the load balancer")
	o.start("block-loaded", 4, "Stop the Deployment service on the Loaded servers")
	o.started("stop-schedulers", "default", all...)
	o.started("drain-updating", "default")
	o.started("block-loaded", "default", loaded...)
	o.s.wait(time.Second)
	cause := errors.New("winrm: 401 unauthorized")
	e1 := stepErr("stop-schedulers", "default", "fe01", 3, cause)
	e2 := stepErr("stop-schedulers", "default", "fe02", 3, cause)
	o.on("stop-schedulers", event.Event{Kind: event.ActionFinished, Zone: "default", Server: "fe01", Attempt: 3, Err: e1})
	o.on("stop-schedulers", event.Event{Kind: event.ActionFinished, Zone: "default", Server: "fe02", Attempt: 3, Err: e2})
	o.on("drain-updating", event.Event{Kind: event.Progress, Zone: "default", Done: 1, Total: 2, Message: "draining fe02 (1 active): 1 connections left"})
	o.ok("block-loaded", "default", 1, loaded...)
	o.mark() // three running, failures in the first
	o.finish("block-loaded", 4, nil)
	o.ok("stop-schedulers", "default", 1, "fe03", "fe04")
	stepFailed := multierror.Append(nil, e1, e2)
	o.finish("stop-schedulers", 2, stepFailed)
	o.mark() // the drain alone, its wait kept
	o.s.wait(time.Second)
	o.ok("drain-updating", "default", 1)
	o.finish("drain-updating", 3, nil)
	o.s.emit(event.Event{Kind: event.RunFinished, Step: "stop-schedulers", Message: "run halted",
		Err: fmt.Errorf("%w at step %s: %w", farm.ErrHalted, "stop-schedulers", stepFailed)})
	return o
}

// lastTwo is await-loaded, then restore-traffic and start-schedulers-loaded
// at once (the balanced plan's 11 || 12): a hook and warnings while both
// run name their step; once one is left, lines read as in the strict
// order.
func lastTwo() *overlap {
	o := &overlap{s: newSeq()}
	o.s.emit(event.Event{Kind: event.RunStarted, Total: 12, Message: "12 steps over 4 servers in 1 zones"})
	o.start("await-loaded", 10, "Wait until every Loaded server runs the release")
	o.on("await-loaded", event.Event{Kind: event.Progress, Done: 1, Total: 2, Message: "1 of 2 servers run v2"})
	o.s.wait(time.Second)
	o.finish("await-loaded", 10, nil)
	o.start("restore-traffic", 11, "Put the Loaded servers back in the load balancer")
	o.start("start-schedulers-loaded", 12, "Start the Scheduler service on the Loaded servers")
	o.on("start-schedulers-loaded", event.Event{Kind: event.HookStarted, Message: "before hook notify"})
	o.started("restore-traffic", "default")
	o.started("start-schedulers-loaded", "default", loaded...)
	o.on("restore-traffic", event.Event{Kind: event.Warning, Zone: "default", Message: "fe04 reads unhealthy; waiting for its health check"})
	o.on("restore-traffic", event.Event{Kind: event.Progress, Zone: "default", Done: 1, Total: 2, Message: "waiting for members: fe04 (ready, unhealthy)"})
	o.mark() // both running
	o.s.wait(500 * time.Millisecond)
	o.ok("restore-traffic", "default", 1)
	o.finish("restore-traffic", 11, nil)
	o.on("start-schedulers-loaded", event.Event{Kind: event.Warning, Server: "fe03", Message: "Scheduler took 40s to start"})
	o.ok("start-schedulers-loaded", "default", 1, loaded...)
	o.mark() // one left
	o.finish("start-schedulers-loaded", 12, nil)
	o.s.emit(event.Event{Kind: event.RunFinished, Message: "run succeeded"})
	return o
}

// TestPlainOverlappingSteps checks the plain lines of steps that run at the
// same time: each step's start and result name the right step with its own
// duration and counts, a failure is attributed to its step (the same error
// on a second server said once), a retry names its step, and a step's end
// says N/N of its own wait only.
func TestPlainOverlappingSteps(t *testing.T) {
	tests := []struct {
		name string
		run  *overlap
		want []string
	}{
		{"three after preflight", threeAfterPreflight(), []string{
			"[00:00:00] run started: 12 steps over 4 servers in 1 zones",
			"[00:00:00] step 1/12 preflight: Check every driver",
			"[00:00:01] step 1/12 preflight done in 1s (4 actions)",
			"[00:00:01] step 2/12 stop-schedulers: Stop the Scheduler service on every server",
			"[00:00:01] step 3/12 drain-updating: Take the Updating servers out of the load balancer",
			"[00:00:01] step 4/12 block-loaded: Stop the Deployment service on the Loaded servers",
			"[00:00:01]   retry stop-schedulers fe03 (attempt 1): winrm: connection refused: unavailable; transient error, retrying in 1s",
			"[00:00:01]   drain-updating zone default: 0/2 draining fe01 (3 active), fe02 (2 active): 5 connections left",
			"[00:00:02] step 4/12 block-loaded done in 1s (2 actions)",
			"[00:00:03] step 2/12 stop-schedulers done in 2s (4 actions, 1 retry)",
			"[00:00:03]   drain-updating zone default: 1/2 draining fe02 (2 active): 2 connections left",
			"[00:00:04]   drain-updating zone default: 2/2 done",
			"[00:00:04] step 3/12 drain-updating done in 3s (1 action)",
		}},
		{"the first started fails", firstStartedFails(), []string{
			"[00:00:00] run started: 12 steps over 4 servers in 1 zones",
			"[00:00:00] step 1/12 preflight skipped: done in an earlier run",
			"[00:00:00] step 2/12 stop-schedulers: Stop the Scheduler service on every server",
			"[00:00:00] step 3/12 drain-updating: Take the Updating servers out of the load balancer",
			"[00:00:00] step 4/12 block-loaded: Stop the Deployment service on the Loaded servers",
			"[00:00:01]   FAILED stop-schedulers fe01 (zone default, 3 attempts): winrm: 401 unauthorized",
			"[00:00:01]   FAILED stop-schedulers fe02: the same error as fe01",
			"[00:00:01]   drain-updating zone default: 1/2 draining fe02 (1 active): 1 connections left",
			"[00:00:01] step 4/12 block-loaded done in 1s (2 actions)",
			"[00:00:01] step 2/12 stop-schedulers FAILED after 1s (4 actions, 2 failed)",
			"[00:00:02]   drain-updating zone default: 2/2 done",
			"[00:00:02] step 3/12 drain-updating done in 2s (1 action)",
			"[00:00:02] run halted at stop-schedulers after 2s (the failures above)",
		}},
		{"hooks and warnings", lastTwo(), []string{
			"[00:00:00] run started: 12 steps over 4 servers in 1 zones",
			"[00:00:00] step 10/12 await-loaded: Wait until every Loaded server runs the release",
			"[00:00:00]   await-loaded: 1 of 2 servers run v2",
			"[00:00:01]   await-loaded: 2/2 done",
			"[00:00:01] step 10/12 await-loaded done in 1s",
			"[00:00:01] step 11/12 restore-traffic: Put the Loaded servers back in the load balancer",
			"[00:00:01] step 12/12 start-schedulers-loaded: Start the Scheduler service on the Loaded servers",
			"[00:00:01]   start-schedulers-loaded: before hook notify",
			"[00:00:01]   warning: restore-traffic: zone default: fe04 reads unhealthy; waiting for its health check",
			"[00:00:01]   restore-traffic zone default: 1/2 waiting for members: fe04 (ready, unhealthy)",
			"[00:00:01]   restore-traffic zone default: 2/2 done",
			"[00:00:01] step 11/12 restore-traffic done in 500ms (1 action)",
			"[00:00:01]   warning: fe03: Scheduler took 40s to start",
			"[00:00:01] step 12/12 start-schedulers-loaded done in 500ms (2 actions)",
			"[00:00:01] run succeeded in 1.5s (3 steps, 3 actions, 2 warnings)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, progress.TerminalConfig{}, tt.run.s.events)
			assertReadable(t, got)
			assert.Equal(t, tt.want, lines(got))
		})
	}
}

// TestTerminalOverlappingSteps checks the status block while steps run at
// the same time: one row per running step with its own actions, retries,
// failures and waits under it; a step that ends leaves the others' waits
// alone; a single step left running is drawn as in the strict order; and
// the last frame names the step the run halted at.
func TestTerminalOverlappingSteps(t *testing.T) {
	tests := []struct {
		name   string
		run    *overlap
		frames [][]string
		screen []string // the history printed above the block, when checked
	}{
		{"three after preflight", threeAfterPreflight(), [][]string{{
			"steps 2-4 of 12 running",
			"  elapsed 00:00:01 | actions 5 done, 2 running, 0 failed | retries 1",
			"  step 2/12 stop-schedulers: 3 done, 1 running, 1 retry",
			"  step 3/12 drain-updating: 0 done, 1 running",
			"    zone default: 0/2 draining fe01 (3 active), fe02 (2 active): 5 connection...",
			"  step 4/12 block-loaded: 2 done, 0 running",
		}, {
			"steps 2-3 of 12 running",
			"  elapsed 00:00:02 | actions 3 done, 2 running, 0 failed | retries 1",
			"  step 2/12 stop-schedulers: 3 done, 1 running, 1 retry",
			"  step 3/12 drain-updating: 0 done, 1 running",
			"    zone default: 0/2 draining fe01 (3 active), fe02 (2 active): 5 connection...",
		}, {
			"step 3/12 drain-updating: Take the Updating servers out of the load balancer",
			"  elapsed 00:00:03 | actions 0 done, 1 running, 0 failed | retries 0 (1 in run)",
			"  zone default: 1/2 draining fe02 (2 active): 2 connections left",
		}}, nil},
		{"the first started fails", firstStartedFails(), [][]string{{
			"steps 2-4 of 12 running",
			"  elapsed 00:00:01 | actions 2 done, 3 running, 2 failed | retries 0",
			"  step 2/12 stop-schedulers: 0 done, 2 running, 2 failed",
			"  step 3/12 drain-updating: 0 done, 1 running",
			"    zone default: 1/2 draining fe02 (1 active): 1 connections left",
			"  step 4/12 block-loaded: 2 done, 0 running",
		}, {
			"step 3/12 drain-updating: Take the Updating servers out of the load balancer",
			"  elapsed 00:00:01 | actions 0 done, 1 running, 0 failed | retries 0",
			"  zone default: 1/2 draining fe02 (1 active): 1 connections left",
		}}, []string{
			"[00:00:00] run started: 12 steps over 4 servers in 1 zones",
			"[00:00:00] step 1/12 preflight skipped: done in an earlier run",
			"[00:00:01]   FAILED stop-schedulers fe01 (zone default, 3 attempts): winrm: 401 unauthorized",
			"[00:00:01]   FAILED stop-schedulers fe02: the same error as fe01",
			"[00:00:01] step 4/12 block-loaded done in 1s (2 actions)",
			"[00:00:01] step 2/12 stop-schedulers FAILED after 1s (4 actions, 2 failed)",
			"[00:00:02]   drain-updating zone default: 2/2 done",
			"[00:00:02] step 3/12 drain-updating done in 2s (1 action)",
			"run halted at step 2/12 stop-schedulers",
			"  elapsed 00:00:02 | 2 steps done | 7 actions",
			"[00:00:02] run halted at stop-schedulers after 2s (the failures above)",
		}},
		{"hooks and warnings", lastTwo(), [][]string{{
			"steps 11-12 of 12 running",
			"  elapsed 00:00:01 | actions 0 done, 3 running, 0 failed | retries 0",
			"  step 11/12 restore-traffic: 0 done, 1 running",
			"    zone default: 1/2 waiting for members: fe04 (ready, unhealthy)",
			"  step 12/12 start-schedulers-loaded: 0 done, 2 running",
			"  last warning at 00:00:01: restore-traffic: zone default: fe04 reads unhealt...",
		}, {
			"step 12/12 start-schedulers-loaded: Start the Scheduler service on the Loaded...",
			"  elapsed 00:00:01 | actions 2 done, 0 running, 0 failed | retries 0",
			"  last warning at 00:00:01: fe03: Scheduler took 40s to start",
		}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				scr := &screen{}
				term := progress.NewTerminal(scr, progress.TerminalConfig{ForceTTY: true})
				events := tt.run.s.events
				require.Len(t, tt.frames, len(tt.run.marks))
				from := 0
				for i, m := range tt.run.marks {
					for _, e := range events[from:m] {
						term.Observe(e)
					}
					from = m
					time.Sleep(progress.DefaultRefreshInterval) // the throttled redraw
					synctest.Wait()
					assert.Equal(t, tt.frames[i], blockOnly(scr.frame()), "frame %d", i+1)
				}
				for _, e := range events[from:] {
					term.Observe(e)
				}
				require.NoError(t, term.Err())
				if tt.screen != nil {
					assert.Equal(t, tt.screen, lines(scr.text()))
				}
				for _, l := range lines(scr.text()) {
					if !strings.HasPrefix(l, "[") {
						assert.LessOrEqual(t, len([]rune(l)), progress.DefaultWidth, l)
					}
				}
			})
		})
	}
}

// blockOnly drops from a frame the history lines printed in the same
// redraw (they are stamped; the block's lines never are).
func blockOnly(frame []string) []string {
	var out []string
	for _, l := range frame {
		if !strings.HasPrefix(l, "[") {
			out = append(out, l)
		}
	}
	return out
}

// TestRealPlanOverlapInSimulator runs the real balanced plan (the steps
// overlapping, as by default) on the simulator with a terminal status
// block, plain lines and a recorder of the engine's own view side by side.
// Some redraw of the block shows stop-schedulers, drain-updating and
// block-loaded running at once (and restore-traffic with
// start-schedulers-loaded), when the events say they ran at once; every
// step's result line carries its own count of actions.
func TestRealPlanOverlapInSimulator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 6}}, Seed: 1})
		require.NoError(t, err)
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
		require.NoError(t, err)
		scr := &screen{}
		tty := progress.NewTerminal(scr, progress.TerminalConfig{ForceTTY: true, Farm: f})
		var plain bytes.Buffer
		pl := progress.NewTerminal(&plain, progress.TerminalConfig{})
		// The engine's view: which steps ran at the same time, and how
		// many actions each started.
		var mu sync.Mutex
		running, actions := map[string]bool{}, map[string]int{}
		together := map[string]bool{}
		rec := event.ObserverFunc(func(e event.Event) {
			mu.Lock()
			defer mu.Unlock()
			switch e.Kind {
			case event.StepStarted:
				running[e.Step] = true
				ids := slices.Sorted(maps.Keys(running))
				together[strings.Join(ids, " ")] = true
			case event.StepFinished:
				delete(running, e.Step)
			case event.ActionStarted:
				actions[e.Step]++
			}
		})
		rel := drivers.Release{Version: "v2"}
		plan, err := steps.Balanced(f, steps.Config{
			Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(), Release: rel,
			PrepareAtFullCapacity: steps.PrepareOff, // the twelve steps of the runbook
			Plan:                  farm.PlanConfig{Observer: event.Observers(tty, pl, rec)},
		})
		require.NoError(t, err)
		_, err = sim.RunPlan(t.Context(), plan, rel, time.Second)
		require.NoError(t, err)
		require.NoError(t, tty.Err())
		require.NoError(t, pl.Err())
		assert.Zero(t, sim.Report().TotalViolations())

		ids := plan.StepIDs()
		require.Len(t, ids, 12)
		require.True(t, together["block-loaded drain-updating stop-schedulers"], "the engine ran the three at once: %v", together)
		require.True(t, together["restore-traffic start-schedulers-loaded"], "the engine ran the two at once: %v", together)

		// Every status block drawn: one of them shows the three steps,
		// another the two.
		raw := scr.raw.String()
		var three, two bool
		for _, chunk := range strings.Split(raw, "\x1b[J") {
			frame := blockOnly(lines(chunk))
			has := func(prefix string) bool {
				return slices.ContainsFunc(frame, func(l string) bool { return strings.HasPrefix(l, prefix) })
			}
			three = three || has("steps 2-4 of 12 running") && has("  step 2/12 stop-schedulers: ") &&
				has("  step 3/12 drain-updating: ") && has("  step 4/12 block-loaded: ")
			two = two || has("steps 11-12 of 12 running") && has("  step 11/12 restore-traffic: ") &&
				has("  step 12/12 start-schedulers-loaded: ")
		}
		assert.True(t, three, "no block showed steps 2, 3 and 4 running:\n%s", scr.text())
		assert.True(t, two, "no block showed steps 11 and 12 running:\n%s", scr.text())
		assert.Equal(t, "run succeeded: 12 of 12 steps done", scr.frame()[0])

		// Each step's result line, on the terminal and in plain lines,
		// counts its own actions.
		out := plain.String()
		assertReadable(t, out)
		for i, id := range ids {
			want := fmt.Sprintf("] step %d/12 %s done in ", i+1, id)
			if n := actions[id]; n > 0 {
				want = regexp.QuoteMeta(want) + `\S+ \(` + regexp.QuoteMeta(fmt.Sprintf("%d action", n))
			} else {
				want = regexp.QuoteMeta(want) + `\S+\n`
			}
			assert.Regexp(t, want, out, "step %s", id)
			assert.Regexp(t, want, scr.text(), "step %s", id)
		}
		assert.Regexp(t, `\] run succeeded in \S+ \(12 steps, `, out)
	})
}

// TestTerminalOverlapBounded checks the block of many steps running at
// once (started in reverse order): in the plan's order, at most four steps
// with at most two waits each, the rest counted, and the rows per group
// saying how far each step got on the group's servers.
func TestTerminalOverlapBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
		f, err := farm.New(farm.Config{LoadBalancer: lb, Zones: []farm.ZoneSpec{
			{Name: "east", Updating: []farm.Server{{Name: "fe01"}, {Name: "fe02"}}, Loaded: []farm.Server{{Name: "fe03"}, {Name: "fe04"}}},
		}})
		require.NoError(t, err)
		scr := &screen{}
		term := progress.NewTerminal(scr, progress.TerminalConfig{ForceTTY: true, Farm: f})
		o := &overlap{s: newSeq()}
		o.s.emit(event.Event{Kind: event.RunStarted, Total: 8})
		for i := 7; i >= 2; i-- {
			o.on(fmt.Sprintf("s%d", i), event.Event{Kind: event.StepStarted, Done: i - 1, Total: 8, Message: "title"})
		}
		o.started("s2", "east", all...)
		o.ok("s2", "east", 1, "fe01", "fe03")
		o.started("s3", "east", loaded...)
		for i := 2; i <= 7; i++ {
			for _, z := range []string{"z1", "z2", "z3"} {
				o.on(fmt.Sprintf("s%d", i), event.Event{Kind: event.Progress, Zone: z, Done: 0, Total: 1, Message: "w"})
			}
		}
		for _, e := range o.s.events {
			term.Observe(e)
		}
		time.Sleep(progress.DefaultRefreshInterval)
		synctest.Wait()
		waits := []string{"    zone z1: 0/1 w", "    zone z2: 0/1 w", "    and 1 more waiting"}
		want := slices.Concat([]string{
			"steps 2-7 of 8 running",
			"  elapsed 00:00:00 | actions 2 done, 4 running, 0 failed | retries 0",
			"  east Updating 2 members | step 2 1/2 done",
			"  east Loaded   2 members | step 2 1/2, step 3 0/2 done",
			"  step 2/8 s2: 2 done, 2 running",
		}, waits, []string{"  step 3/8 s3: 0 done, 2 running"}, waits,
			[]string{"  step 4/8 s4: 0 done, 0 running"}, waits,
			[]string{"  step 5/8 s5: 0 done, 0 running"}, waits,
			[]string{"  and 2 more steps running"})
		assert.Equal(t, want, blockOnly(scr.frame()))
	})
}
