package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/require"
)

// Environment variables that size TestSimulatedRun. BenchmarkSimulator sets
// them and runs the test in a child process, since testing/synctest needs a
// *testing.T that a benchmark does not have.
const (
	envSimServers = "BENCH_SIM_SERVERS"
	envSimRate    = "BENCH_SIM_RATE"
	envSimOut     = "BENCH_SIM_OUT"
	simLinePrefix = "BENCHSIM "
)

func envInt(t testing.TB, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// simRun is what one simulated run measured.
type simRun struct {
	Wall      time.Duration // real time of the whole bubble
	Simulated time.Duration // simulated time the simulation covered
	Requests  int           // simulated requests
	// CPU and MaxRSS are the child process's CPU time (user + system)
	// and peak resident memory (set by BenchmarkSimulator only).
	CPU    time.Duration
	MaxRSS int64 // bytes
}

// TestSimulatedRun runs the whole balanced plan on a simulated farm under
// load in a synctest bubble (simulated time) with the simulator's realistic
// default timings, and checks the run succeeded with no failed request and
// no violation. By default it is small (20 servers, 200 requests/s); with
// BENCH_SIM_SERVERS and BENCH_SIM_RATE it is the simulator benchmark's run,
// and with BENCH_SIM_OUT=1 it prints its figures on one line.
func TestSimulatedRun(t *testing.T) {
	n := envInt(t, envSimServers, 20)
	rate := envInt(t, envSimRate, 200)
	var res simRun
	start := time.Now()
	synctest.Test(t, func(t *testing.T) {
		res = simulateBalanced(t, n, float64(rate))
	})
	res.Wall = time.Since(start)
	t.Logf("%d servers at %d req/s: %d simulated requests over %s simulated, in %s wall", n, rate, res.Requests, res.Simulated, res.Wall)
	if os.Getenv(envSimOut) == "1" {
		fmt.Printf("%swall_ns=%d sim_ns=%d requests=%d\n", simLinePrefix, res.Wall, res.Simulated, res.Requests)
	}
}

// simulateBalanced runs the plan on a one-zone simulated farm of n servers
// at rate requests/s; call it inside a synctest bubble.
func simulateBalanced(t *testing.T, n int, rate float64) simRun {
	sim, err := simulate.New(simulate.Config{
		Zones:   []simulate.ZoneConfig{{Servers: n}},
		Seed:    1,
		Traffic: simulate.Traffic{Rate: rate},
	})
	require.NoError(t, err)
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	require.NoError(t, err)
	release := drivers.Release{Version: "v2"}
	plan, err := steps.Balanced(f, steps.Config{
		Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(), Release: release,
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, sim.Start(ctx))
	rep, err := plan.Run(ctx)
	sim.Stop()
	require.NoError(t, err)
	require.Equal(t, farm.Succeeded, rep.Outcome)
	require.Empty(t, sim.CheckEndState(release))
	r := sim.Report()
	require.Zero(t, r.TotalViolations(), "%s", r)
	require.Zero(t, r.Failed, "%s", r)
	require.Positive(t, r.Requests)
	return simRun{Simulated: r.Elapsed, Requests: r.Requests}
}

// BenchmarkSimulator runs TestSimulatedRun in a child process (the test
// binary itself) on each farm size and simulated request rate and reports
// the wall time of the bubble (wall-s), the simulated requests per wall
// second (sim-req/s) and the simulated duration (sim-s), the child's CPU
// time (cpu-s) and peak memory (maxrss-MB). 1000 and 2000 servers at 1000
// requests/s show how the simulator's memory grows with the farm.
func BenchmarkSimulator(b *testing.B) {
	for _, c := range []struct{ servers, rate int }{{100, 1000}, {1000, 10000}, {1000, 1000}, {2000, 1000}} {
		b.Run(fmt.Sprintf("servers=%d/rate=%d", c.servers, c.rate), func(b *testing.B) {
			var total simRun
			for b.Loop() {
				r := runSimChild(b, c.servers, c.rate)
				total.Wall += r.Wall
				total.Simulated += r.Simulated
				total.Requests += r.Requests
				total.CPU += r.CPU
				total.MaxRSS = max(total.MaxRSS, r.MaxRSS)
			}
			b.ReportMetric(total.Wall.Seconds()/float64(b.N), "wall-s")
			b.ReportMetric(float64(total.Requests)/total.Wall.Seconds(), "sim-req/s")
			b.ReportMetric(total.Simulated.Seconds()/float64(b.N), "sim-s")
			b.ReportMetric(total.CPU.Seconds()/float64(b.N), "cpu-s")
			b.ReportMetric(float64(total.MaxRSS)/(1<<20), "maxrss-MB")
		})
	}
}

func runSimChild(b *testing.B, servers, rate int) simRun {
	b.Helper()
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^TestSimulatedRun$", "-test.count=1")
	cmd.Env = append(os.Environ(),
		envSimServers+"="+strconv.Itoa(servers), envSimRate+"="+strconv.Itoa(rate), envSimOut+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("simulated run: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte(simLinePrefix))
		if !ok {
			continue
		}
		var wall, sim int64
		var r simRun
		if _, err := fmt.Sscanf(string(line), "wall_ns=%d sim_ns=%d requests=%d", &wall, &sim, &r.Requests); err != nil {
			b.Fatalf("parse %q: %v", line, err)
		}
		r.Wall, r.Simulated = time.Duration(wall), time.Duration(sim)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			r.MaxRSS = ru.Maxrss << 10 // Linux reports kilobytes
		}
		return r
	}
	b.Fatalf("simulated run printed no %q line:\n%s", simLinePrefix, out)
	return simRun{}
}
