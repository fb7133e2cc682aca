package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/spec"
	"github.com/balanced-deploy/balanced/steps"
)

// The tests here are about processes, so they run balancedctl in another
// process: the test binary itself, started with BALANCEDCTL_TEST_CHILD set,
// runs the real command (run(), with its signal handling) over a simulated
// farm whose StopService calls take an hour, so that the run stays in
// step 2 (stop-schedulers) until the test kills or signals it.

// anonLB is a simulated load balancer without an identity: the farm is then
// identified by its zones and server names, the same in two processes that
// each simulate the farm of one spec.
type anonLB struct{ lb *simulate.LoadBalancer }

func (a anonLB) SetState(ctx context.Context, s drivers.MemberState, m ...string) error {
	return a.lb.SetState(ctx, s, m...)
}
func (a anonLB) Status(ctx context.Context, m ...string) ([]drivers.MemberStatus, error) {
	return a.lb.Status(ctx, m...)
}
func (a anonLB) Switch(ctx context.Context, serve, drain []string) error {
	return a.lb.Switch(ctx, serve, drain)
}

func anonDrivers(sim *simulate.Sim) spec.Drivers {
	return spec.Drivers{
		LoadBalancer: func(zone string) drivers.LoadBalancer { return anonLB{sim.LoadBalancer(zone)} },
		Services:     sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("BALANCEDCTL_TEST_CHILD") != "" {
		os.Exit(childMain())
	}
	// A test process started with SIGHUP ignored (under nohup, as a long
	// test run often is) passes that on to the children it starts, which
	// then keep going on SIGHUP, as balancedctl does under nohup on
	// purpose (TestNohupKeepsSIGHUPIgnored): TestSignalsHaltSafe would
	// wait for its child forever. A signal this process catches is reset
	// to its default in a child at exec, so catching SIGHUP for the whole
	// test run gives every child a terminal's SIGHUP. (Notify un-ignores
	// it; Stop would ignore it again, so it is never stopped.)
	if signal.Ignored(syscall.SIGHUP) {
		signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)
	}
	os.Exit(m.Run())
}

// childMain is balancedctl's main over a simulated farm stuck in step 2.
func childMain() int {
	sim, err := simulate.New(simulate.Config{Seed: 7})
	if err != nil {
		fmt.Println("child:", err)
		return 99
	}
	if err := sim.Inject(fault.Fault{Op: simulate.OpStopService, Latency: time.Hour}); err != nil {
		fmt.Println("child:", err)
		return 99
	}
	ctx, stopper, stop := notifyStop(context.Background(), os.Stderr)
	defer stop()
	drv, err := childDrivers(sim)
	if err != nil {
		fmt.Println("child:", err)
		return 99
	}
	c := &cli{stdout: os.Stdout, stderr: os.Stderr, stdin: os.Stdin, stop: stopper, drivers: drv,
		lookupEnv: func(name string) (string, bool) { return "secret-of-" + name, true }}
	code := c.main(ctx, strings.Fields(os.Getenv("BALANCEDCTL_TEST_CHILD")))
	fmt.Printf("child: safe-state violations: %d\n", len(sim.CheckSafeState()))
	fmt.Printf("child: simulated actions: %d\n", len(sim.Actions()))
	return code
}

// child is a running balancedctl process.
type child struct {
	cmd    *exec.Cmd
	stderr *bufio.Reader
	out    *strings.Builder
	once   sync.Once
	err    error // of cmd.Wait
}

// reap waits for the child to end, once.
func (ch *child) reap() error {
	ch.once.Do(func() { ch.err = ch.cmd.Wait() })
	return ch.err
}

// startChild runs balancedctl args in a child process and waits until its
// run is in step 2, stop-schedulers.
func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	return startCmd(t, exec.Command(os.Args[0], "-test.run=^$"), args...)
}

// startCmd is startChild with the command that runs the test binary.
func startCmd(t *testing.T, cmd *exec.Cmd, args ...string) *child {
	t.Helper()
	cmd.Env = append(os.Environ(), "BALANCEDCTL_TEST_CHILD="+strings.Join(args, " "))
	errPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	ch := &child{cmd: cmd, stderr: bufio.NewReader(errPipe), out: &strings.Builder{}}
	cmd.Stdout = ch.out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = io.Copy(io.Discard, ch.stderr)
		_ = ch.reap()
	})
	ch.waitFor(t, "step 2/12 stop-schedulers")
	return ch
}

// waitFor reads the child's standard error up to a line containing s, or
// fails when the child ends first. It never waits on time: the child's
// output is the synchronisation.
func (ch *child) waitFor(t *testing.T, s string) string {
	t.Helper()
	// A child that never says s is killed after childPatience, so that
	// the test fails naming what it waited for instead of hanging until
	// the test binary's timeout.
	var killed atomic.Bool
	watchdog := time.AfterFunc(childPatience, func() {
		killed.Store(true)
		_ = ch.cmd.Process.Kill()
	})
	defer watchdog.Stop()
	var seen strings.Builder
	for {
		line, err := ch.stderr.ReadString('\n')
		seen.WriteString(line)
		if strings.Contains(line, s) {
			return seen.String()
		}
		if err != nil {
			_ = ch.reap()
			if killed.Load() {
				t.Fatalf("child said no %q within %s: killed\n%s%s", s, childPatience, seen.String(), ch.out.String())
			}
			t.Fatalf("child ended before %q: %v\n%s%s", s, err, seen.String(), ch.out.String())
		}
	}
}

// childPatience bounds each wait for a child's line. This package's tests,
// a dozen children among them, take 5-7 s in all on a 2-core machine: two
// minutes for one line is a hang, not a slow machine.
const childPatience = 2 * time.Minute

// wait returns the rest of the child's standard error and its exit code.
func (ch *child) wait(t *testing.T) (string, int) {
	t.Helper()
	rest, _ := io.ReadAll(ch.stderr)
	err := ch.reap()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return string(rest), code
}

// specCopy writes one copy of the farm's spec in its own directory, with
// its own journal, and the lock directory shared by the host's runs.
func specCopy(t *testing.T, locks string) (path, journalPath string) {
	dir := t.TempDir()
	return writeSpec(t, dir, "lock_dir: "+locks+"\n"), filepath.Join(dir, "deploy.journal")
}

// TestSecondProcessRefused runs two copies of one spec, with two journals,
// in two processes on one farm: the second is refused at once, naming the
// first.
func TestSecondProcessRefused(t *testing.T) {
	locks := t.TempDir()
	first, _ := specCopy(t, locks)
	second, journal2 := specCopy(t, locks)
	ch := startChild(t, "run", first, "--yes")

	host, _ := os.Hostname()
	var code int
	var errOut string
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Seed: 7})
		require.NoError(t, err)
		sf := newSimFarm(t)
		sf.sim, sf.cli.drivers = sim, anonDrivers(sim)
		code, _, errOut = sf.do(t, "run", second, "--yes")
		assert.Empty(t, sim.Actions(), "nothing was touched")
	})
	assert.Equal(t, exitLocked, code, errOut)
	assert.Contains(t, errOut, fmt.Sprintf("on host %s, process %d, since", host, ch.cmd.Process.Pid), "the holder is named")
	assert.Contains(t, errOut, "(release v2)")
	assert.NoFileExists(t, journal2, "the refused run wrote nothing")
}

// TestKill9ThenResume kills a run with SIGKILL in the middle of step 2 and
// resumes it with no file touched by hand: the kernel released the host
// lock with the process.
func TestKill9ThenResume(t *testing.T) {
	locks := t.TempDir()
	path, journalPath := specCopy(t, locks)
	ch := startChild(t, "run", path, "--yes")
	require.NoError(t, ch.cmd.Process.Kill())
	_, code := ch.wait(t)
	assert.Equal(t, -1, code, "killed by a signal")

	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Seed: 7, Traffic: simulate.Traffic{Rate: 5}})
		require.NoError(t, err)
		sf := newSimFarm(t)
		sf.sim, sf.cli.drivers = sim, anonDrivers(sim)
		require.NoError(t, sim.Start(t.Context()))

		code, out, errOut := sf.do(t, "status", path)
		assert.Equal(t, exitFailed, code, errOut)
		assert.Contains(t, out, "unfinished")
		assert.Contains(t, out, "resume from: stop-schedulers")
		assert.Contains(t, out, "host lock:   free: its last holder, run ")
		assert.Contains(t, out, fmt.Sprintf("process %d is not running (killed or crashed: the kernel released it)", ch.cmd.Process.Pid))

		code, _, errOut = sf.do(t, "run", path, "--yes")
		assert.Equal(t, exitUsage, code, "a new run over the killed one is refused")
		assert.Contains(t, errOut, "never finished at stop-schedulers: resume it with 'balancedctl resume "+path+"'")

		code, out, errOut = sf.do(t, "resume", path)
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, out, "succeeded")
		time.Sleep(10 * time.Second)
		sim.Stop()
		assert.Empty(t, sim.CheckEndState(drivers.Release{Version: "v2"}))
	})
	recs, err := journal.ReadLastRun(journalPath)
	require.NoError(t, err)
	st, ok, err := journal.LastRunOf(recs)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, farm.Succeeded, st.Outcome)
	assert.True(t, st.Resumed)
}

// TestSignalsHaltSafe sends SIGHUP (an SSH session dropping) and SIGTERM
// (a service manager stopping it) to a run in step 2: it says what it is
// finishing, halts at the next safe point, and leaves the farm safe and the
// run resumable.
func TestSignalsHaltSafe(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			path, journalPath := specCopy(t, t.TempDir())
			ch := startChild(t, "run", path, "--yes")
			require.NoError(t, ch.cmd.Process.Signal(sig))
			said := ch.waitFor(t, "stopping at the next safe point")
			assert.Contains(t, said, signalName(sig))
			// stop-schedulers, drain-updating and block-loaded start
			// together: those in progress are named ("step 3/12
			// drain-updating", "steps 2/12 stop-schedulers and 4/12
			// block-loaded at once").
			assert.Regexp(t, `steps? (2/12 stop-schedulers|3/12 drain-updating|4/12 block-loaded)`, said)
			assert.Contains(t, said, "balancedctl resume "+path)
			rest, code := ch.wait(t)
			assert.Equal(t, exitFailed, code, rest)
			assert.Contains(t, rest, "run halted")
			assert.Contains(t, ch.out.String(), "child: safe-state violations: 0")
			recs, err := journal.ReadLastRun(journalPath)
			require.NoError(t, err)
			st, _, err := journal.LastRunOf(recs)
			require.NoError(t, err)
			assert.Equal(t, farm.Halted, st.Outcome)
			assert.Equal(t, "stop-schedulers", st.ResumeFrom)
		})
	}
}

// TestSecondSignal checks what a second signal says.
func TestSecondSignal(t *testing.T) {
	var buf strings.Builder
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s := &stopper{cancel: cancel, stderr: &buf}
	sp := &spec.Spec{Source: "farm.yaml", Timeouts: spec.Timeouts{Drain: spec.Duration(90 * time.Second), Health: spec.Duration(30 * time.Second)}}
	s.watch(sp).Observe(event.Event{Kind: event.StepStarted, Step: "switch-traffic", Done: 6, Total: 12, Time: time.Now()})
	s.handle(syscall.SIGINT)
	assert.Error(t, ctx.Err(), "the first signal cancels the run")
	assert.Contains(t, buf.String(), "SIGINT (Ctrl-C): stopping at the next safe point: step 7/12 switch-traffic")
	assert.Contains(t, buf.String(), "both moves")
	assert.Contains(t, buf.String(), "up to the health timeout plus the drain timeout, 2m0s")
	buf.Reset()
	s.handle(syscall.SIGTERM)
	assert.Contains(t, buf.String(), "SIGTERM again: the run is already stopping")
	assert.Contains(t, buf.String(), "balancedctl resume farm.yaml")
}

// TestSignalDuringOverlappingSteps: a signal while stop-schedulers,
// drain-updating and block-loaded run at once names the three, says the
// drain is finished first and how long it may take; once the drain alone
// is left, it says only the drain.
func TestSignalDuringOverlappingSteps(t *testing.T) {
	now := time.Now()
	sp := &spec.Spec{Source: "farm.yaml", Timeouts: spec.Timeouts{Drain: spec.Duration(90 * time.Second)}}
	for _, tc := range []struct {
		name   string
		events []event.Event
		want   []string
		not    []string
	}{
		{
			name: "three at once",
			events: []event.Event{
				{Kind: event.StepStarted, Step: steps.StopSchedulers, Done: 1, Total: 12, Time: now},
				{Kind: event.StepStarted, Step: steps.BlockLoaded, Done: 3, Total: 12, Time: now},
				{Kind: event.StepStarted, Step: steps.DrainUpdating, Done: 2, Total: 12, Time: now},
			},
			want: []string{
				"stopping at the next safe point: steps 2/12 stop-schedulers, 3/12 drain-updating and 4/12 block-loaded at once",
				"drain-updating is finishing the drain it started (members are never left half-drained): up to the drain timeout, 1m30s",
				"stop-schedulers and block-loaded are finishing the driver calls in flight: a few seconds",
			},
		},
		{
			name: "the drain left",
			events: []event.Event{
				{Kind: event.StepStarted, Step: steps.StopSchedulers, Done: 1, Total: 12, Time: now},
				{Kind: event.StepStarted, Step: steps.DrainUpdating, Done: 2, Total: 12, Time: now},
				{Kind: event.StepStarted, Step: steps.BlockLoaded, Done: 3, Total: 12, Time: now},
				{Kind: event.StepFinished, Step: steps.StopSchedulers, Done: 2, Total: 12, Time: now},
				{Kind: event.StepFinished, Step: steps.BlockLoaded, Done: 4, Total: 12, Time: now},
			},
			want: []string{"stopping at the next safe point: step 3/12 drain-updating (running for", "is finishing the drain it started"},
			not:  []string{"stop-schedulers", "block-loaded", "a few seconds"},
		},
		{
			name: "between steps",
			events: []event.Event{
				{Kind: event.StepStarted, Step: steps.Preflight, Done: 0, Total: 12, Time: now},
				{Kind: event.StepFinished, Step: steps.Preflight, Done: 1, Total: 12, Time: now},
			},
			want: []string{"stopping at the next safe point: between steps, so nothing to finish; then the run halts"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf strings.Builder
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s := &stopper{cancel: cancel, stderr: &buf}
			obs := s.watch(sp)
			for _, e := range tc.events {
				obs.Observe(e)
			}
			s.handle(syscall.SIGTERM)
			require.Error(t, ctx.Err())
			for _, w := range tc.want {
				assert.Contains(t, buf.String(), w)
			}
			for _, n := range tc.not {
				assert.NotContains(t, buf.String(), n)
			}
		})
	}
}

// TestNohupKeepsSIGHUPIgnored starts a run with SIGHUP ignored, as nohup
// does, sends it SIGHUP, and checks it goes on; SIGTERM still stops it.
func TestNohupKeepsSIGHUPIgnored(t *testing.T) {
	path, _ := specCopy(t, t.TempDir())
	cmd := exec.Command("nohup", os.Args[0], "-test.run=^$")
	if _, err := exec.LookPath("nohup"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("nohup is missing")
		}
		t.Skip("nohup is missing")
	}
	ch := startCmd(t, cmd, "run", path, "--yes")
	require.NoError(t, ch.cmd.Process.Signal(syscall.SIGHUP))
	require.NoError(t, ch.cmd.Process.Signal(syscall.SIGTERM))
	said := ch.waitFor(t, "stopping at the next safe point")
	assert.Contains(t, said, "SIGTERM:", "the first signal it saw is SIGTERM: SIGHUP stayed ignored")
	assert.NotContains(t, said, "SIGHUP (the terminal")
	_, code := ch.wait(t)
	assert.Equal(t, exitFailed, code)
}
