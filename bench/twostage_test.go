package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The two-stage benchmark (issue 15 item 1): how long the farm serves on
// part of its servers when LifeTime deploys in two stages, with the
// release prepared at full capacity (the prepare step) and without
// (PrepareAtFullCapacity off: publish runs both stages at reduced
// capacity). BenchmarkTwoStageWindow runs TestTwoStageWindow in a child
// process with BENCH_TWOSTAGE naming the plan, as BenchmarkEngine does.
const (
	envTwoStage      = "BENCH_TWOSTAGE"
	twoStageLinePref = "BENCHTWOSTAGE "
)

// twoStagePlans are the plans the benchmark compares: "prepared" is the
// default (PrepareAuto on a two-stage platform), "one-stage" the same
// platform with PrepareAtFullCapacity off; each with zero driver latency
// and with 300 ms a call (a WinRM call takes 200-500 ms).
var twoStagePlans = []string{"prepared/latency=0", "one-stage/latency=0", "prepared/latency=300ms", "one-stage/latency=300ms"}

// twoStageSettings is issue 15's scenario on the fake farm: a first stage
// (compile, SQL scripts, upload) of 10 min, a second (apply) of 3 min, a
// catch-up of 3 min (the Loaded servers' Deployment service, started
// again, begins the missed install 3 min later), installs of 1 s, so that
// the stages and the catch-up are what the window measures; 10 servers in
// one zone, 0 s drains, every steps.Config default, and the plan's latency.
func twoStageSettings(plan string) settings {
	s := settings{Servers: 10, PrepareOff: strings.HasPrefix(plan, "one-stage/"), timings: timings{
		Publish: 10 * time.Minute, Apply: 3 * time.Minute, CatchUp: 3 * time.Minute,
		Install: time.Second, TwoStage: true,
	}}
	if strings.HasSuffix(plan, "/latency=300ms") {
		s.Latency = 300 * time.Millisecond
	}
	return s.resolved()
}

// windowOf is the reduced-capacity window on the critical path of the
// plan: from the instant drain-updating's SetState draining takes effect
// (2L and the drain before its end) to the instant restore-traffic's
// SetState serving does (L before its end). Every step in between starts
// once what it needs is done, and none of them needs a step outside the
// window whose end could move it (stop-schedulers and block-loaded start
// with drain-updating and wait for nothing), so the window's own polls
// are all that can lengthen it (windowAllowance).
func windowOf(plan *farm.Plan, s settings) (time.Duration, error) {
	end, err := pathEnds(criticalPath(s), plan.Steps(), s.Strict)
	if err != nil {
		return 0, err
	}
	L := s.Latency
	opened := end[steps.DrainUpdating] - max(s.Drain, L) - 2*L
	closed := end[steps.RestoreTraffic] - L
	return closed - opened, nil
}

// windowAllowance is the most the waits inside the window can add to its
// critical path: each of the five of pollAllowance (drain-updating,
// switch-traffic, the deployment's end, the Updating and the Loaded
// installs), and one more deployment wait when publish runs both stages
// (the first stage's end), sees its condition up to one poll interval
// plus one round trip late, and up to one periodic check of the guards
// later (farm.PlanConfig.WatchInterval, 15 s by default: inside a long
// wait the guards are read again, one read of the services of both
// groups, two of the load balancer and one of the Loaded Deployment
// services, as at publish's boundary; a poll waits for a check in flight).
func windowAllowance(s settings) time.Duration {
	a, waits := s.pollAllowance(), 5
	if s.TwoStage && s.PrepareOff {
		a += s.DeployPollInterval + s.Latency
		waits++
	}
	nu, nl := s.groups()
	fan := func(n int) time.Duration {
		return time.Duration((n+s.concurrency()-1)/s.concurrency()) * s.Latency
	}
	check := fan(nu) + fan(nl) + 2*s.Latency + fan(nl)
	return a + time.Duration(waits)*check
}

// twoStageRun is what one run of a two-stage plan measured.
type twoStageRun struct {
	// Window is the fake farm's reduced-capacity window (fakeFarm.Reduced).
	Window time.Duration `json:"window_ns"`
	// WindowPath is the window on the plan's critical path (windowOf),
	// WindowBound the same plus windowAllowance: the window may not be
	// shorter than the first nor longer than the second.
	WindowPath  time.Duration `json:"window_path_ns"`
	WindowBound time.Duration `json:"window_bound_ns"`
	// Run is the simulated duration of plan.Run, Path its critical path.
	Run  time.Duration `json:"run_ns"`
	Path time.Duration `json:"path_ns"`
	// Prepared says the plan had the prepare step.
	Prepared bool `json:"prepared"`
}

// runTwoStage runs the named plan once; call it inside a synctest bubble.
func runTwoStage(t *testing.T, name string) twoStageRun {
	s := twoStageSettings(name)
	plan, ff, err := newPlan(s, farm.PlanConfig{}, nil)
	require.NoError(t, err)
	path, err := planBound(plan, s)
	require.NoError(t, err)
	window, err := windowOf(plan, s)
	require.NoError(t, err)
	start := time.Now()
	rep, err := plan.Run(context.Background())
	require.NoError(t, err)
	require.Equal(t, farm.Succeeded, rep.Outcome)
	require.NoError(t, ff.checkEnd(benchRelease.Version))
	return twoStageRun{
		Window: ff.Reduced(), WindowPath: window, WindowBound: window + windowAllowance(s),
		Run: time.Since(start), Path: path, Prepared: slices.Contains(plan.StepIDs(), steps.Prepare),
	}
}

// TestTwoStageWindow runs both plans of the two-stage scenario in
// simulated time and checks that each window lies between its critical
// path and its bound (else the bound is wrong), that the prepared plan has
// the prepare step and the other not, and that preparing at full capacity
// takes the first stage out of the window. With BENCH_TWOSTAGE it runs the
// named plan and prints its figures on one line, for
// BenchmarkTwoStageWindow.
func TestTwoStageWindow(t *testing.T) {
	names := twoStagePlans
	if n := os.Getenv(envTwoStage); n != "" {
		require.Contains(t, twoStagePlans, n, "%s=%q: no such plan", envTwoStage, n)
		names = []string{n}
	}
	runs := map[string]twoStageRun{}
	for _, name := range names {
		var res twoStageRun
		synctest.Test(t, func(t *testing.T) { res = runTwoStage(t, name) })
		runs[name] = res
		t.Logf("%s: window %s (path %s, bound %s), run %s (path %s)", name, res.Window, res.WindowPath, res.WindowBound, res.Run, res.Path)
		if os.Getenv(envTwoStage) != "" {
			line, err := json.Marshal(res)
			require.NoError(t, err)
			fmt.Printf("%s%s\n", twoStageLinePref, line)
			return
		}
		assert.Equal(t, strings.HasPrefix(name, "prepared/"), res.Prepared)
		assert.GreaterOrEqual(t, res.Window, res.WindowPath, "the window is at least its critical path")
		assert.LessOrEqual(t, res.Window, res.WindowBound)
		assert.GreaterOrEqual(t, res.Run, res.Path, "the run is at least its critical path")
	}
	for _, latency := range []string{"0", "300ms"} {
		prepared, oneStage := runs["prepared/latency="+latency], runs["one-stage/latency="+latency]
		s := twoStageSettings("prepared/latency=" + latency)
		// The first stage is what preparing takes out of the window.
		assert.GreaterOrEqual(t, oneStage.Window-prepared.Window, s.Publish, latency)
		assert.GreaterOrEqual(t, prepared.WindowPath, s.Apply+s.CatchUp, "the window holds the second stage and the catch-up")
	}
}

// BenchmarkTwoStageWindow reports, for each plan of the two-stage
// scenario (twoStageSettings), window-s (the reduced-capacity window in
// simulated seconds), window-path-s and window-bound-s (its critical path
// and the bound it must keep: the second stage, the catch-up and the
// plan's step overheads in the window, windowOf and windowAllowance),
// stages-s (the second stage plus the catch-up, the part no plan can
// avoid), run-s and path-s (the whole run and its critical path). It fails
// when a window exceeds its bound.
//
//	go test -run '^$' -bench TwoStageWindow -benchtime=1x -count=3 ./bench
func BenchmarkTwoStageWindow(b *testing.B) {
	for _, name := range twoStagePlans {
		b.Run(name, func(b *testing.B) {
			var last twoStageRun
			var window time.Duration
			for b.Loop() {
				last = runTwoStageChild(b, name)
				window += last.Window
				if last.Window > last.WindowBound {
					b.Fatalf("%s: reduced-capacity window %s exceeds its bound %s (critical path %s)", name, last.Window, last.WindowBound, last.WindowPath)
				}
			}
			s := twoStageSettings(name)
			b.ReportMetric(window.Seconds()/float64(b.N), "window-s")
			b.ReportMetric(last.WindowPath.Seconds(), "window-path-s")
			b.ReportMetric(last.WindowBound.Seconds(), "window-bound-s")
			b.ReportMetric((s.Apply + s.CatchUp).Seconds(), "stages-s")
			b.ReportMetric(last.Run.Seconds(), "run-s")
			b.ReportMetric(last.Path.Seconds(), "path-s")
		})
	}
}

func runTwoStageChild(b *testing.B, name string) twoStageRun {
	b.Helper()
	return runChild[twoStageRun](b, "TestTwoStageWindow", envTwoStage, name, twoStageLinePref)
}
