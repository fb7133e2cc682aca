package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The engine benchmarks run the balanced plan on the fake farm inside a
// testing/synctest bubble: every wait (driver latency, drains, installs,
// poll intervals, confirmation delays) passes in simulated time, so the run's
// duration is exact and the same on an idle laptop and on a loaded 2-core
// machine. What a loaded machine does change, the CPU time and the bytes the
// engine spends, is measured per server with the process's own counters.
//
// testing/synctest needs a *testing.T, which a benchmark has not, so
// BenchmarkEngine runs TestEngineRun in a child process (the test binary
// itself) with BENCH_ENGINE naming a scenario, and parses the one line it
// prints.
const (
	envEngine      = "BENCH_ENGINE"
	engineLinePref = "BENCHENGINE "
)

// scenario is one configuration of the engine benchmarks.
type scenario struct {
	Name string
	settings
	// Timeout makes every install outlast steps.Config.InstallTimeout
	// (this long): the run fails in publish with every Updating server
	// pending.
	Timeout time.Duration
	// Journal runs with a journal.File (a resumable production run).
	Journal bool
	// Target is what issue 15 asks of the scenario; BenchmarkEngine fails
	// when a run misses it.
	Target target
}

// target is the most a scenario may measure; a zero field is not checked.
type target struct {
	// RatioPhysical bounds the simulated run time over the physical
	// critical path (the critical path with overlap, without the
	// confirmation delays).
	RatioPhysical float64
	// AllocPerServer and RetainedPerServer bound the bytes allocated and
	// retained per server.
	AllocPerServer, RetainedPerServer float64
	// ErrorBytes bounds the length of the run's error text.
	ErrorBytes int
}

// check reports each bound r misses.
func (tg target) check(b *testing.B, r engineRun, servers int) {
	b.Helper()
	n := float64(servers)
	if ratio := float64(r.Sim) / float64(r.Physical); tg.RatioPhysical > 0 && ratio > tg.RatioPhysical {
		b.Errorf("run %s over a physical critical path of %s: %.3f, want at most %.2f", r.Sim, r.Physical, ratio, tg.RatioPhysical)
	}
	if per := float64(r.Alloc) / n; tg.AllocPerServer > 0 && per > tg.AllocPerServer {
		b.Errorf("%.0f B allocated per server, want at most %.0f", per, tg.AllocPerServer)
	}
	if per := float64(r.Retained) / n; tg.RetainedPerServer > 0 && per > tg.RetainedPerServer {
		b.Errorf("%.0f B retained per server, want at most %.0f", per, tg.RetainedPerServer)
	}
	if tg.ErrorBytes > 0 && r.ErrorBytes > tg.ErrorBytes {
		b.Errorf("the run's error is %d B, want at most %d", r.ErrorBytes, tg.ErrorBytes)
	}
}

// scenarios are the configurations BenchmarkEngine measures (issue 15's):
// "defaults" is every steps.Config default (250 ms and 2 s polls, 500 ms
// confirmation delays) with zero driver latency, 0 s drains, a publish of
// 0 s and installs of 3 s; "latency" adds 300 ms to every driver call (a
// WinRM call takes 200-500 ms); "journal" is "defaults" with a
// journal.File; "timeout" is the install timeout over 2000 pending
// servers.
func scenarios() []scenario {
	def := func(n int) settings {
		return settings{Servers: n, timings: timings{Install: 3 * time.Second}}
	}
	lat := def(1000)
	lat.Latency = 300 * time.Millisecond
	to := def(4000)
	to.Latency, to.Install, to.DeployPollInterval = 50*time.Millisecond, time.Hour, 10*time.Millisecond
	// Issue 15's targets.
	fast := target{RatioPhysical: 1.10}
	large := target{RatioPhysical: 1.10, AllocPerServer: 25 << 10, RetainedPerServer: 2 << 10}
	return []scenario{
		{Name: "defaults/servers=10", settings: def(10), Target: fast},
		{Name: "defaults/servers=1000", settings: def(1000), Target: fast},
		{Name: "defaults/servers=10000", settings: def(10000), Target: large},
		{Name: "latency/servers=1000", settings: lat, Target: target{RatioPhysical: 1.25}},
		{Name: "journal/servers=1000", settings: def(1000), Journal: true},
		{Name: "timeout/pending=2000", settings: to, Timeout: 10 * time.Second, Target: target{ErrorBytes: 1 << 20}},
	}
}

func scenarioNamed(name string) (scenario, bool) {
	for _, s := range scenarios() {
		if s.Name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// resolved returns s with the waits steps.Config uses when they are zero,
// so that the bound is computed from the values the plan runs with.
func (s settings) resolved() settings {
	if s.ConfirmDelay == 0 {
		s.ConfirmDelay = steps.DefaultConfirmDelay
	}
	if s.PollInterval == 0 {
		s.PollInterval = steps.DefaultPollInterval
	}
	if s.DeployPollInterval == 0 {
		s.DeployPollInterval = steps.DefaultDeployPollInterval
	}
	return s
}

// engineRun is what one run of a scenario measured.
type engineRun struct {
	// Sim is the simulated duration of plan.Run.
	Sim time.Duration `json:"sim_ns"`
	// Bound is the critical path of the plan (its steps chained through
	// what each needs, with their confirmation delays: criticalPath and
	// pathOf); Physical is
	// the same without the delays the engine imposes (ConfirmDelay), what
	// the farm itself needs: drains, publish, installs, dependent calls.
	Bound    time.Duration `json:"bound_ns"`
	Physical time.Duration `json:"physical_ns"`
	// CPU is the process's user+system CPU time spent in plan.Run.
	CPU time.Duration `json:"cpu_ns"`
	// Alloc is the bytes allocated during plan.Run; Retained the heap the
	// run left reachable (its report, captured state and limiter) after a
	// GC, with the plan and the fake farm built before it not counted.
	Alloc    uint64 `json:"alloc_b"`
	Retained int64  `json:"retained_b"`
	Calls    int64  `json:"calls"`
	// ErrorBytes is the length of the run's error text (0 on success).
	ErrorBytes int    `json:"error_b"`
	Outcome    string `json:"outcome"`
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapAfterGC() (heap, total uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.TotalAlloc
}

// runScenario runs sc once; call it inside a synctest bubble.
func runScenario(t *testing.T, sc scenario) engineRun {
	s := sc.resolved()
	var pc farm.PlanConfig
	if sc.Journal {
		j, err := journal.Open(filepath.Join(t.TempDir(), "journal.jsonl"))
		require.NoError(t, err)
		defer j.Close()
		pc.Journal = j
		pc.Lock.Dir = t.TempDir()
	}
	plan, ff, err := newPlan(s, pc, func(c *steps.Config) {
		if sc.Timeout > 0 {
			c.InstallTimeout = sc.Timeout
		}
	})
	require.NoError(t, err)
	var bound, physical time.Duration
	if sc.Timeout == 0 { // a run that fails has no critical path to compare with
		bound, err = planBound(plan, s)
		require.NoError(t, err)
		phys := s
		phys.ConfirmDelay = 0
		physical, err = planBound(plan, phys)
		require.NoError(t, err)
	}

	heap0, total0 := heapAfterGC()
	cpu0 := cpuTime()
	start := time.Now()
	rep, runErr := plan.Run(context.Background())
	sim := time.Since(start)
	cpu := cpuTime() - cpu0
	heap1, total1 := heapAfterGC()
	res := engineRun{
		Sim: sim, Bound: bound, Physical: physical, CPU: cpu,
		Alloc: total1 - total0, Retained: int64(heap1) - int64(heap0),
		Calls: ff.Calls(), Outcome: string(rep.Outcome),
	}
	runtime.KeepAlive(rep)
	runtime.KeepAlive(plan)
	if runErr != nil {
		res.ErrorBytes = len(runErr.Error())
	}
	if sc.Timeout == 0 {
		require.NoError(t, runErr)
		require.NoError(t, ff.checkEnd(benchRelease.Version))
	} else {
		require.Error(t, runErr)
	}
	return res
}

// planBound is the critical path of the plan's own steps, chained through
// what each needs (pathOf): every step of the plan must have a term (a step
// the bound does not know fails).
func planBound(plan *farm.Plan, s settings) (time.Duration, error) {
	return pathOf(criticalPath(s), plan.Steps(), s.Strict)
}

// TestEngineRun runs one scenario in a synctest bubble. By default it is
// the 10-server defaults scenario, and checks that the run takes at least
// its critical path (else the bound is wrong) and is within twice the
// physical one plus the poll allowance; with BENCH_ENGINE it runs the named
// scenario and prints its figures on one line, for BenchmarkEngine.
func TestEngineRun(t *testing.T) {
	name := os.Getenv(envEngine)
	if name == "" {
		name = "defaults/servers=10"
	}
	sc, ok := scenarioNamed(name)
	require.True(t, ok, "%s=%q: no such scenario", envEngine, name)
	var res engineRun
	synctest.Test(t, func(t *testing.T) { res = runScenario(t, sc) })
	t.Logf("%s: run %s (simulated), bound %s, physical %s, cpu %s, %d B allocated, %d B retained, %d calls",
		sc.Name, res.Sim, res.Bound, res.Physical, res.CPU, res.Alloc, res.Retained, res.Calls)
	if os.Getenv(envEngine) != "" {
		line, err := json.Marshal(res)
		require.NoError(t, err)
		fmt.Printf("%s%s\n", engineLinePref, line)
		return
	}
	s := sc.resolved()
	assert.GreaterOrEqual(t, res.Sim, res.Bound, describe(criticalPath(s)))
	assert.LessOrEqual(t, res.Sim, res.Bound+s.pollAllowance(), "each poll sees its condition at most one interval late")
}

// BenchmarkEngine runs each scenario in a child process (see
// TestEngineRun) and reports, per run: sim-s (simulated seconds of
// plan.Run), bound-s and physical-s (its critical paths), ratio (sim /
// bound) and ratio-physical (sim / physical), cpu-ns/server, B/server
// (allocated) and retained-B/server, and error-B (the run's error text).
func BenchmarkEngine(b *testing.B) {
	for _, sc := range scenarios() {
		b.Run(sc.Name, func(b *testing.B) {
			var sum engineRun
			for b.Loop() {
				r := runEngineChild(b, sc.Name)
				sc.Target.check(b, r, sc.Servers)
				sum.Sim += r.Sim
				sum.Bound, sum.Physical = r.Bound, r.Physical
				sum.CPU += r.CPU
				sum.Alloc += r.Alloc
				sum.Retained += r.Retained
				sum.ErrorBytes = max(sum.ErrorBytes, r.ErrorBytes)
			}
			n, per := float64(b.N), float64(b.N*sc.Servers)
			b.ReportMetric(sum.Sim.Seconds()/n, "sim-s")
			if sum.Bound > 0 {
				b.ReportMetric(sum.Bound.Seconds(), "bound-s")
				b.ReportMetric(sum.Physical.Seconds(), "physical-s")
				b.ReportMetric(float64(sum.Sim)/n/float64(sum.Bound), "ratio")
				b.ReportMetric(float64(sum.Sim)/n/float64(sum.Physical), "ratio-physical")
			}
			b.ReportMetric(float64(sum.CPU)/per, "cpu-ns/server")
			b.ReportMetric(float64(sum.Alloc)/per, "B/server")
			b.ReportMetric(float64(sum.Retained)/per, "retained-B/server")
			if sc.Timeout > 0 {
				b.ReportMetric(float64(sum.ErrorBytes), "error-B")
			}
		})
	}
}

func runEngineChild(b *testing.B, name string) engineRun {
	b.Helper()
	return runChild[engineRun](b, "TestEngineRun", envEngine, name, engineLinePref)
}

// runChild runs this test binary's test named test with env=name and
// returns the JSON its line starting with pref holds: each measured run in
// a process of its own, so that one run's memory does not count in the
// next one's.
func runChild[T any](b *testing.B, test, env, name, pref string) T {
	b.Helper()
	var r T
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", test, name, err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte(pref))
		if !ok {
			continue
		}
		if err := json.Unmarshal(line, &r); err != nil {
			b.Fatalf("parse %q: %v", line, err)
		}
		return r
	}
	b.Fatalf("%s %s printed no %q line:\n%s", test, name, pref, out)
	return r
}
