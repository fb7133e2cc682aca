package steps_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/farm/lock"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepOfCalls runs the plan once without faults and returns, for each driver
// call in order, the step that made it.
func stepOfCalls(t *testing.T, cfg simulate.Config) []string {
	var calls []string
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, cfg)
		sf.strict = true // one step at a time: each call belongs to the step running
		c := &crash{}
		var mu sync.Mutex
		var step string
		var last int64
		// Calls are attributed to the step running when the count moved.
		sf.observer = event.ObserverFunc(func(e event.Event) {
			mu.Lock()
			defer mu.Unlock()
			for n := c.calls.Load(); last < n; last++ {
				calls = append(calls, step)
			}
			if e.Kind == event.StepStarted {
				step = e.Step
			}
		})
		require.NoError(t, sf.sim.Start(t.Context()))
		rep, err := sf.plan(t, c, nil, farm.Halt, "v2").Run(t.Context())
		sf.sim.Stop()
		require.NoError(t, err)
		require.Equal(t, farm.Succeeded, rep.Outcome)
		mu.Lock()
		for n := c.calls.Load(); last < n; last++ {
			calls = append(calls, step)
		}
		mu.Unlock()
	})
	return calls
}

// TestCrashAndResume abandons a run at every step boundary and in the middle
// of every step (after some of its servers), then resumes it from its
// journal: the resumed run must end in the exact end state with no failed
// request and no violation.
func TestCrashAndResume(t *testing.T) {
	cfg := simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}, {Servers: 3}}, Seed: 3}
	calls := stepOfCalls(t, cfg)
	require.NotEmpty(t, calls)
	// Crash points: the first, middle and last call of every step.
	type point struct {
		at    int
		step  string
		where string
	}
	var points []point
	for _, id := range steps.IDs() {
		first, lastIdx := slices.Index(calls, id), -1
		for i, s := range calls {
			if s == id {
				lastIdx = i
			}
		}
		if first < 0 {
			continue
		}
		points = append(points,
			point{first + 1, id, "boundary"},
			point{(first+lastIdx)/2 + 1, id, "middle"},
			point{lastIdx + 1, id, "last call"})
	}
	require.GreaterOrEqual(t, len(points), 3*len(steps.IDs()), "every step makes driver calls")
	for _, pt := range points {
		t.Run(fmt.Sprintf("%s/%s/call%d", pt.step, pt.where, pt.at), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := newSimFarm(t, cfg)
				// The strict order places the crash in the step that made
				// the call (farm's TestResumeTwoStepsInFlight covers a
				// crash with steps running beside one another).
				sf.strict = true
				c := &crash{at: int64(pt.at)}
				j := &memJournal{crash: c}
				require.NoError(t, sf.sim.Start(t.Context()))
				_, err := sf.plan(t, c, j, farm.Halt, "v2").Run(t.Context())
				require.ErrorIs(t, err, errCrashed)
				st, err := journal.StateOf(j.records())
				require.NoError(t, err)
				// The journal never claims more than happened: the step
				// the crash hit is not recorded done.
				assert.NotContains(t, st.Done, pt.step)

				time.Sleep(30 * time.Second)         // the operator notices, then resumes
				j2 := &memJournal{recs: j.records()} // the new process appends to the same file
				rep, err := sf.plan(t, nil, j2, farm.Halt, "v2").Resume(t.Context(), j.records())
				require.NoError(t, err)
				assert.Equal(t, farm.Succeeded, rep.Outcome)
				assert.Equal(t, st.ResumeFrom, firstNotSkipped(rep))
				sf.endsExact(t, "v2")
			})
		})
	}
}

func firstNotSkipped(rep *farm.Report) string {
	for _, s := range rep.Steps {
		if s.Status != farm.StepAlreadyDone {
			return s.ID
		}
	}
	return ""
}

// TestEveryStepIsIdempotent runs each step twice in a row: the second run
// of a step changes nothing and the deployment still ends exact.
func TestEveryStepIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 5}}, Seed: 9})
		// In the strict order each copy runs right after its step: with
		// overlap a copy keeps the step's Needs and runs beside it (two
		// publishes racing to start one deployment), or beside the steps
		// that follow (a second preflight after stop-schedulers).
		sf.strict = true
		p := sf.plan(t, nil, nil, farm.Halt, "v2")
		for _, s := range p.Steps() {
			again := s
			again.ID = s.ID + "-again"
			require.NoError(t, p.InsertAfter(s.ID, again))
		}
		require.NoError(t, sf.sim.Start(t.Context()))
		rep, err := p.Run(t.Context())
		require.NoError(t, err)
		assert.Len(t, rep.Steps, 24)
		sf.endsExact(t, "v2")
		assert.Len(t, sf.sim.Actions(simulate.OpStartDeployment), 1, "the release is deployed once")
	})
}

// TestRollback fails a run before and after switch-traffic with the rollback
// policy: the farm ends on the previous release, exact, with no failed
// request.
func TestRollback(t *testing.T) {
	tests := []struct {
		name  string
		fault fault.Fault
		// refused is set where no rollback is possible: the run halts in
		// its safe state instead, having undone nothing.
		refused bool
	}{
		{"at block-loaded", fault.Fault{Op: simulate.OpStopService, Target: "fe04", Err: fmt.Errorf("access denied: %w", drivers.ErrPermissionDenied), After: 1, Times: 1}, false},
		{"at publish, failed install", fault.Fault{Op: simulate.OpInstall, Target: "fe02", Err: errors.New("disk full"), Times: 1}, false},
		{"at publish, platform failure", fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentFailed}, Times: 1}, false},
		{"at verify-updating", fault.Fault{Op: simulate.OpProbe, Target: "fe03", Err: fmt.Errorf("%w: TLS certificate expired", drivers.ErrPermissionDenied), After: 2, Times: 1}, false},
		{"after switch, at start-schedulers-updating", fault.Fault{Op: simulate.OpRestoreService, Target: "fe01", Err: fmt.Errorf("%w: service is marked for deletion", drivers.ErrInvalidArgument), Times: 1}, false},
		{"after switch, at unblock-loaded (refused)", fault.Fault{Op: simulate.OpRestoreService, Target: "fe05", Err: fmt.Errorf("%w: service is marked for deletion", drivers.ErrInvalidArgument), Times: 1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 5}}, Seed: 11})
				require.NoError(t, sf.sim.Inject(tc.fault))
				j := &memJournal{}
				require.NoError(t, sf.sim.Start(t.Context()))
				rep, err := sf.plan(t, nil, j, farm.Rollback, "v2").Run(t.Context())
				require.Error(t, err)
				time.Sleep(10 * time.Second)
				sf.sim.Stop()
				sf.sim.ClearFaults()
				r := sf.sim.Report()
				assert.Zero(t, r.Failed, r.String())
				assert.Empty(t, violationsBeyondRollback(r, rep), r.String())
				if tc.refused {
					require.ErrorIs(t, err, farm.ErrHalted, err.Error())
					assert.Contains(t, err.Error(), "no rollback: step unblock-loaded has started")
					assert.Equal(t, farm.Halted, rep.Outcome)
					assert.True(t, rep.RollbackStarted.IsZero(), "nothing was undone")
					assert.Empty(t, sf.sim.CheckSafeState())
					return
				}
				require.ErrorIs(t, err, farm.ErrRolledBack, err.Error())
				assert.Equal(t, farm.RolledBack, rep.Outcome)
				assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v1"}))
				_, err = sf.plan(t, nil, j, farm.Halt, "v2").Resume(t.Context(), j.records())
				assert.ErrorIs(t, err, farm.ErrNothingToResume)
			})
		})
	}
}

// TestSecondRunIsRefused checks the host lock a run with a file journal takes.
func TestSecondRunIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 5})
		sf.lockDir = "" // this test is about the default directory
		path := filepath.Join(t.TempDir(), "deploy.journal")
		j1, err := journal.Open(path)
		require.NoError(t, err)
		defer j1.Close()
		j2, err := journal.Open(path)
		require.NoError(t, err)
		defer j2.Close()
		require.NoError(t, sf.sim.Start(t.Context()))
		first := make(chan error)
		go func() {
			_, err := sf.plan(t, nil, j1, farm.Halt, "v2").Run(t.Context())
			first <- err
		}()
		time.Sleep(30 * time.Second) // the first run is publishing
		second := sf.plan(t, nil, j2, farm.Halt, "v2")
		_, err = second.Run(t.Context())
		select {
		case e := <-first:
			t.Fatalf("first ended: %v", e)
		default:
		}
		require.ErrorIs(t, err, lock.ErrLocked)
		host, _ := os.Hostname()
		assert.Contains(t, err.Error(), "host "+host)
		assert.Contains(t, err.Error(), fmt.Sprintf("process %d", os.Getpid()))
		assert.Contains(t, err.Error(), "since 2000-01-01T00:00:00Z", "when the holder took it (synctest's epoch)")
		assert.Contains(t, err.Error(), "lock file "+lock.DefaultDir())
		require.NoError(t, <-first)
		sf.sim.Stop()
		recs, err := journal.ReadFile(path)
		require.NoError(t, err)
		st, err := journal.StateOf(recs)
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, st.Outcome)
		assert.Equal(t, steps.IDs(), st.Done)
		lock, err := lock.File{}.Status(second.Farm().Identity())
		require.NoError(t, err)
		assert.False(t, lock.Held, "lock released")
	})
}

// outcome of one randomized run.
type outcome string

// TestRandomizedFaults runs many seeds of random faults: driver errors of
// every class, latency, crashed servers, failed installs, platform failures,
// flaky load balancers, drift behind the run's back (a Scheduler restarted
// before the deployment, a load-balancer reload during the long waits of
// publish and await-loaded, which the watch must repair in time) and
// orchestrator crashes followed by a resume. Every
// run must end succeeded with the exact end state, halted in the safe state,
// or rolled back to the exact previous state — never with a violation —
// and the release is never deployed twice (deploymentsOnce).
//
// A third of the seeds deploy on a two-stage platform (simulate.Config
// TwoStage) with the plan's prepare step (PrepareAtFullCapacity at its
// default, auto), and draw besides faults of that mode: the second stage
// failing or aborted once continued (simulate.OpApply), errors of
// ContinueDeployment and AbortDeployment, platform calls that take effect
// and still fail (continue, start, abort), the prepared deployment aborted
// by hand in the platform's console, and orchestrator crashes timed
// within prepare's first stage, the steps between prepare and publish
// (the deployment waiting prepared) and publish's second stage. A quarter
// of them run with PrepareAtFullCapacity off and ContinuePrepared (publish
// runs both stages; "prepare-off" among the faults). The histogram counts
// their outcomes apart ("two-stage:").
//
//	BALANCED_FAULT_SEEDS=3000 go test -run TestRandomizedFaults ./steps
func TestRandomizedFaults(t *testing.T) {
	seeds := 2000
	if testing.Short() {
		seeds = 200
	}
	if s := os.Getenv("BALANCED_FAULT_SEEDS"); s != "" {
		_, err := fmt.Sscan(s, &seeds)
		require.NoError(t, err, "BALANCED_FAULT_SEEDS must be a number of seeds")
	}
	var mu sync.Mutex
	hist := map[outcome]int{}
	faultKinds := map[string]int{}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				o, kinds, twoStage := randomRun(t, uint64(seed))
				mu.Lock()
				hist[o]++
				if twoStage {
					hist["two-stage:"+o]++
				}
				for _, k := range kinds {
					faultKinds[k]++
				}
				mu.Unlock()
			})
		})
	}
	keys := make([]string, 0, len(hist))
	for k, v := range hist {
		keys = append(keys, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(keys)
	t.Logf("%d seeds: %s; faults injected: %v", seeds, strings.Join(keys, " "), faultKinds)
	ran, twoStage := 0, 0
	for o, n := range hist {
		if strings.HasPrefix(string(o), "two-stage:") {
			twoStage += n
		} else {
			ran += n
		}
	}
	t.Logf("two-stage share: %d of %d seeds", twoStage, ran)
	if ran == seeds && seeds >= 100 { // every seed ran (no -run filter)
		for _, prefix := range []outcome{"", "two-stage:"} {
			resumed := 0
			for _, o := range []outcome{"succeeded", "halted", "rolled-back"} {
				assert.Positive(t, hist[prefix+o]+hist[prefix+o+"+resumed"], "outcome %s%s happens", prefix, o)
				resumed += hist[prefix+o+"+resumed"]
			}
			assert.Positive(t, resumed, "some %sruns crashed and were resumed", prefix)
		}
		assert.InDelta(t, seeds/3, twoStage, float64(seeds)/10, "a third of the seeds run on a two-stage platform")
	}
}

// deployment is one deployment the simulated platform started.
type deployment struct {
	id, version string
	state       drivers.DeploymentState
	prepared    bool
}

// deploymentsOf lists the deployments the platform started, in order: the
// simulator numbers them dep-1, dep-2, … and opens each one's log with
// "deployment of <version> started" (a start that failed after it took
// effect created one too).
func deploymentsOf(t *testing.T, sim *simulate.Sim) []deployment {
	t.Helper()
	var out []deployment
	for i := 1; ; i++ {
		d := deployment{id: fmt.Sprintf("dep-%d", i)}
		st, err := sim.Platform().DeploymentStatus(t.Context(), d.id)
		if errors.Is(err, drivers.ErrNotFound) {
			return out
		}
		require.NoError(t, err)
		require.NotEmpty(t, st.Log, d.id)
		_, err = fmt.Sscanf(st.Log[0].Message, "deployment of %s started", &d.version)
		require.NoError(t, err, "%s: %q", d.id, st.Log[0].Message)
		d.state, d.prepared = st.State, st.Prepared()
		out = append(out, d)
	}
}

// deploymentsOnce checks that the run deployed each release at most once:
// no release ends deployed twice (two successful deployments of it), and
// a run that ended (succeeded or rolled back) left no deployment waiting
// on the platform (prepared, or paused), which anyone could continue
// later: a resumed run continues a prepared deployment or undoes it. A
// halted run may leave one, its ID journaled for the resume to follow.
func deploymentsOnce(t *testing.T, deps []deployment, outcome farm.Outcome, msg string) {
	t.Helper()
	succeeded := map[string]int{}
	for _, d := range deps {
		if d.state.Succeeded() {
			succeeded[d.version]++
		}
		if outcome == farm.Succeeded || outcome == farm.RolledBack {
			assert.True(t, d.state.Done(), "%s: deployment %s of %s left %s (prepared %t) after the run %s: %+v", msg, d.id, d.version, d.state, d.prepared, outcome, deps)
		}
	}
	for v, n := range succeeded {
		assert.LessOrEqual(t, n, 1, "%s: %s deployed %d times: %+v", msg, v, n, deps)
	}
	if outcome == farm.Succeeded {
		assert.Equal(t, 1, succeeded["v2"], "%s: v2 deployed once: %+v", msg, deps)
	}
}

var classes = []error{drivers.ErrUnavailable, drivers.ErrNotFound, drivers.ErrPermissionDenied, drivers.ErrInvalidArgument, drivers.ErrUnimplemented}

var driverOps = []simulate.Op{simulate.OpStopService, simulate.OpRestoreService, simulate.OpServiceState, simulate.OpDeploymentIdle,
	simulate.OpSetState, simulate.OpStatus, simulate.OpSwitch, simulate.OpStartDeployment, simulate.OpDeploymentStatus,
	simulate.OpDeployedRelease, simulate.OpProbe}

// twoStageOps are the platform calls a two-stage run makes besides
// driverOps: prepare's deployment is continued in publish, and aborted by
// prepare's undo.
var twoStageOps = []simulate.Op{simulate.OpContinueDeployment, simulate.OpAbortDeployment}

// randomRun runs one seed and checks its outcome; twoStage says whether the
// seed deployed on a two-stage platform.
func randomRun(t *testing.T, seed uint64) (_ outcome, _ []string, twoStage bool) {
	rng := rand.New(rand.NewPCG(seed, 0xba1a))
	// The two-stage draws come from a stream of their own: the other
	// seeds run exactly the scenarios they ran before two-stage runs were
	// added.
	two := rand.New(rand.NewPCG(seed, 0x2057a9e))
	twoStage = two.IntN(3) == 0
	zones := []simulate.ZoneConfig{{Servers: 3 + rng.IntN(4)}}
	if rng.IntN(3) == 0 {
		zones = append(zones, simulate.ZoneConfig{Servers: 2 + rng.IntN(5)})
	}
	cfg := simulate.Config{Zones: zones, Seed: seed}
	// publishWait is how long publish waits for the deployment before the
	// Updating installs start: the whole deployment in one stage (the
	// harness's PublishDuration), the second stage only in two.
	publishWait := 20 * time.Second
	if twoStage {
		cfg.TwoStage = true
		cfg.ApplyDuration = 15*time.Second + time.Duration(two.IntN(15))*time.Second
		cfg.CatchUpDelay = time.Duration(two.IntN(10)) * time.Second
		publishWait = cfg.ApplyDuration
	}
	// A quarter of the two-stage seeds do not prepare at full capacity
	// (PrepareAtFullCapacity off, with ContinuePrepared): publish starts
	// the deployment and continues it, both stages at reduced capacity.
	prepareOff := twoStage && two.IntN(4) == 0
	if prepareOff {
		publishWait = 20*time.Second + cfg.ApplyDuration
	}
	sf := newSimFarm(t, cfg)
	if prepareOff {
		sf.tune = func(c *steps.Config) { c.PrepareAtFullCapacity, c.ContinuePrepared = steps.PrepareOff, true }
	}
	// Half the seeds move traffic in two steps (no Switcher), as ALB and
	// NGINX do: a failure between the moves must still leave one version.
	sf.plain = rng.IntN(2) == 0
	servers := sf.sim.Servers()
	pick := func() string { return servers[rng.IntN(len(servers))].Name }
	var kinds []string
	if twoStage {
		defer func() {
			t.Logf("seed %d: two-stage platform, second stage %v, catch-up %v, prepare off %t", seed, cfg.ApplyDuration, cfg.CatchUpDelay, prepareOff)
		}()
	}
	runDone := make(chan struct{})
	var crashes sync.WaitGroup
	var observers []event.Observer
	var c *crash // set below; a drift while the orchestrator is dead is not the run's to repair
	// A drift after the run has ended (halted, with the deployment left
	// running on the platform) is, like one while the orchestrator is dead,
	// not the run's to repair: nobody watches the farm then.
	var ended atomic.Bool
	alive := func() bool { return (c == nil || !c.dead.Load()) && !ended.Load() }
	// The watch re-checks every 2 s, so that it repairs a reload before an
	// install starts on a member the reload put back in traffic.
	sf.watchInterval = 2 * time.Second
	kindsDrawn, ops := 9, driverOps
	if twoStage {
		kindsDrawn, ops = 13, slices.Concat(driverOps, twoStageOps)
	}
	for range 1 + rng.IntN(3) {
		switch k := rng.IntN(kindsDrawn); k {
		case 0:
			class := classes[rng.IntN(len(classes))]
			op := ops[rng.IntN(len(ops))]
			server := pick()
			switch op {
			case simulate.OpStartDeployment, simulate.OpDeploymentStatus, simulate.OpDeployedRelease, simulate.OpContinueDeployment, simulate.OpAbortDeployment:
				server = "" // platform calls concern no server
			}
			require.NoError(t, sf.sim.Inject(fault.Fault{Op: op, Target: server, Err: fmt.Errorf("injected: %w", class), After: rng.IntN(4), Times: 1 + rng.IntN(3)}))
			kinds = append(kinds, "error:"+drivers.Class(class).Error())
		case 1:
			require.NoError(t, sf.sim.Inject(fault.Fault{Op: ops[rng.IntN(len(ops))], Latency: time.Duration(rng.IntN(5000)) * time.Millisecond}))
			kinds = append(kinds, "latency")
		case 2:
			// A crashed server: only where the zone keeps capacity above the
			// floor without it, so the crash alone breaks no invariant.
			if slices.Contains(kinds, "server-crash") {
				continue // two crashes at once could break the floor by themselves
			}
			var big []string
			for _, z := range sf.specs {
				if len(z.Updating)+len(z.Loaded) >= 6 {
					for _, s := range slices.Concat(z.Updating, z.Loaded) {
						big = append(big, s.Name)
					}
				}
			}
			if len(big) == 0 {
				continue
			}
			victim, at := big[rng.IntN(len(big))], time.Duration(rng.IntN(300))*time.Second
			crashes.Go(func() {
				select {
				case <-time.After(at):
					_ = sf.sim.Crash(victim, 20*time.Second)
				case <-runDone:
				}
			})
			kinds = append(kinds, "server-crash")
		case 3:
			require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpInstall, Target: pick(), Err: errors.New("injected: install failed"), Times: 1}))
			kinds = append(kinds, "failed-install")
		case 4:
			states := []fault.Fault{
				{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentFailed}, Times: 1},
				{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentNeedsUserIntervention, Info: "business_process_impact"}, Times: 1},
				{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentAborted}, Times: 1},
			}
			require.NoError(t, sf.sim.Inject(states[rng.IntN(len(states))]))
			kinds = append(kinds, "platform-failure")
		case 5:
			op := []simulate.Op{simulate.OpSetState, simulate.OpStatus, simulate.OpSwitch}[rng.IntN(3)]
			require.NoError(t, sf.sim.Inject(fault.Fault{Op: op, Err: fmt.Errorf("injected: %w", drivers.ErrUnavailable), Probability: 0.3}))
			kinds = append(kinds, "flaky-lb")
		case 6:
			kinds = append(kinds, "orchestrator-crash")
		case 7:
			// A Scheduler re-enabled and restarted between
			// stop-schedulers and the last read before the deployment
			// (a GPO, a colleague): during stop-schedulers'
			// confirmation (the step fails), as drain-updating or
			// block-loaded ends, or as publish starts (the guards put
			// it right). A restart after that last read is beyond any
			// check: it is the same as one once the deployment runs.
			victim := pick()
			restart := func() {
				if alive() {
					_ = sf.sim.SetServiceState(victim, drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic})
				}
			}
			switch rng.IntN(4) {
			case 0:
				observers = append(observers, atStepStart(steps.StopSchedulers, time.Duration(rng.IntN(int(steps.DefaultConfirmDelay/time.Millisecond)))*time.Millisecond, restart))
			case 1:
				observers = append(observers, atStepEnd(steps.DrainUpdating, restart))
			case 2:
				observers = append(observers, atStepEnd(steps.BlockLoaded, restart))
			default:
				observers = append(observers, atStepStart(steps.Publish, 0, restart))
			}
			kinds = append(kinds, "scheduler-restart")
		case 8:
			// A load-balancer reload during a long wait: publish's
			// deployment (before the installs) or the Loaded installs.
			// In publish the reload comes 7 s or more before the
			// installs start, as the watch needs to take the members out
			// again; in await-loaded once the Loaded installs have
			// started (after the catch-up) and the health checks see
			// them down. A reload in the instant before an install
			// starts is beyond the watch's reach (it checks every 2 s).
			step, at := steps.Publish, time.Duration(rng.IntN(int(publishWait/time.Millisecond)-7000))*time.Millisecond
			if rng.IntN(2) == 0 {
				step, at = steps.AwaitLoaded, 5*time.Second+cfg.CatchUpDelay+time.Duration(rng.IntN(20000))*time.Millisecond
			}
			zone := ""
			if !sf.plain && rng.IntN(2) == 0 {
				zone = sf.specs[rng.IntN(len(sf.specs))].Name
			}
			observers = append(observers, atStepStart(step, at, func() {
				if alive() {
					_ = sf.sim.ResetLoadBalancer(zone)
				}
			}))
			kinds = append(kinds, "lb-reset")
		case 9:
			// Two-stage: the second stage fails or is aborted once
			// publish continued the prepared deployment.
			outcomes := []error{
				simulate.PublishOutcome{State: drivers.DeploymentFailed},
				simulate.PublishOutcome{State: drivers.DeploymentAborted},
				errors.New("injected: SQL script failed"),
			}
			require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpApply, Err: outcomes[rng.IntN(len(outcomes))], Times: 1}))
			kinds = append(kinds, "apply-failure")
		case 10:
			// Two-stage: someone aborts the deployment in the platform's
			// console, during its first stage or while it waits prepared
			// (between prepare and publish's continue).
			step, at := steps.Prepare, time.Duration(rng.IntN(25000))*time.Millisecond
			if prepareOff {
				step = steps.Publish // the first stage runs there
			}
			if rng.IntN(2) == 0 {
				step, at = []string{steps.StopSchedulers, steps.DrainUpdating, steps.BlockLoaded}[rng.IntN(3)], time.Duration(rng.IntN(3000))*time.Millisecond
			}
			observers = append(observers, atStepStart(step, at, func() {
				ctx := context.Background()
				if id, found, err := sf.sim.Platform().FindDeployment(ctx, drivers.Release{Version: "v2"}); err == nil && found {
					_ = sf.sim.Platform().AbortDeployment(ctx, id)
				}
			}))
			kinds = append(kinds, "console-abort")
		case 11:
			// Two-stage: an orchestrator crash timed in the mode's own
			// stretch (below), as often as one at a random call.
			kinds = append(kinds, "orchestrator-crash")
		case 12:
			// Two-stage: a platform call that takes effect and still
			// fails (the connection drops after LifeTime committed it):
			// the continue, the start in prepare, or the abort of an undo.
			op := []simulate.Op{simulate.OpContinueDeployment, simulate.OpStartDeployment, simulate.OpAbortDeployment}[rng.IntN(3)]
			require.NoError(t, sf.sim.Inject(fault.Fault{Op: op, Err: errors.New("injected: connection reset after the request was sent"), AfterEffect: true, Times: 1}))
			kinds = append(kinds, "ambiguous:"+op)
		}
	}
	if slices.Contains(kinds, "lb-reset") && slices.Contains(kinds, "orchestrator-crash") {
		// A reload while no orchestrator runs (it crashed and is not
		// resumed yet) is out of the watch's reach: the installs then start
		// on members back in traffic. The resumed run's first boundary
		// repairs what is left, but not the harm done meanwhile.
		kinds = slices.DeleteFunc(kinds, func(k string) bool { return k == "orchestrator-crash" })
	}
	// returned is set once the first run returns: a timed crash after it
	// does not happen (nothing runs to crash).
	var (
		retMu    sync.Mutex
		returned bool
	)
	if twoStage && slices.Contains(kinds, "orchestrator-crash") && two.IntN(2) == 0 {
		// Within prepare's first stage (20 s), once the deployment is
		// prepared (the steps between prepare and publish), or in
		// publish's second stage and the Updating installs.
		c = &crash{}
		step, at := steps.Prepare, time.Duration(two.IntN(22000))*time.Millisecond
		switch two.IntN(3) {
		case 0:
			step, at = []string{steps.StopSchedulers, steps.DrainUpdating, steps.BlockLoaded}[two.IntN(3)], time.Duration(two.IntN(3000))*time.Millisecond
		case 1:
			step, at = steps.Publish, time.Duration(two.IntN(int((publishWait+35*time.Second)/time.Millisecond)))*time.Millisecond
		}
		if prepareOff && step == steps.Prepare {
			step = steps.Publish // its first stage runs there
		}
		observers = append(observers, atStepStart(step, at, func() {
			retMu.Lock()
			defer retMu.Unlock()
			if !returned {
				c.dead.Store(true)
			}
		}))
		kinds = append(kinds, "crash-in:"+step)
	}
	sf.observer = event.Observers(observers...)
	policy := farm.Halt
	if rng.IntN(2) == 0 {
		policy = farm.Rollback
	}
	if c == nil && slices.Contains(kinds, "orchestrator-crash") {
		c = &crash{at: int64(1 + rng.IntN(250))}
	}
	j := &memJournal{crash: c}
	require.NoError(t, sf.sim.Start(t.Context()))
	p := sf.plan(t, c, j, policy, "v2")
	assert.Equal(t, twoStage && !prepareOff, slices.Contains(p.StepIDs(), steps.Prepare), "two-stage runs prepare at full capacity unless it is off")
	if prepareOff {
		kinds = append(kinds, "prepare-off")
	}
	rep, err := p.Run(t.Context())
	retMu.Lock()
	returned = true
	retMu.Unlock()
	ended.Store(c == nil || !c.dead.Load())
	require.NotNil(t, rep, "seed %d %v: %v", seed, kinds, err)
	o := outcome(rep.Outcome)
	if c != nil && c.dead.Load() {
		// The orchestrator died: resume with a live one.
		time.Sleep(time.Minute)
		j2 := &memJournal{recs: j.records()}
		rep2, err2 := sf.plan(t, nil, j2, policy, "v2").Resume(t.Context(), j.records())
		if !errors.Is(err2, farm.ErrNothingToResume) {
			require.NotNil(t, rep2, "resume: %v", err2)
			rep, err = rep2, err2
			o = outcome(rep.Outcome) + "+resumed"
		}
	}
	close(runDone)
	crashes.Wait()
	time.Sleep(time.Minute) // let crashed servers recover and installs play out
	sf.sim.Stop()
	sf.sim.ClearFaults()
	switch rep.Outcome {
	case farm.Succeeded:
		require.NoError(t, err)
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}), "seed %d %v", seed, kinds)
	case farm.RolledBack:
		require.ErrorIs(t, err, farm.ErrRolledBack)
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v1"}), "seed %d %v", seed, kinds)
	default:
		require.ErrorIs(t, err, farm.ErrHalted)
		assert.NotEmpty(t, rep.ResumeFrom)
		assert.Empty(t, sf.sim.CheckSafeState(), "seed %d %v: %v", seed, kinds, err)
	}
	deploymentsOnce(t, deploymentsOf(t, sf.sim), rep.Outcome, fmt.Sprintf("seed %d %v policy %s outcome %s err %v", seed, kinds, policy, o, err))
	r := sf.sim.Report()
	assert.Empty(t, violationsBeyondRollback(r, rep), "seed %d %v policy %s outcome %s err %v\n%s", seed, kinds, policy, o, err, r.String())
	return o, kinds, twoStage
}

// violationsBeyondRollback returns every violation except a client going
// back to the previous version after a rollback began: that is what a
// rollback is for.
func violationsBeyondRollback(r simulate.Report, rep *farm.Report) []simulate.Violation {
	var out []simulate.Violation
	for _, v := range r.Violations {
		if v.Invariant == 5 && !rep.RollbackStarted.IsZero() && !v.Time.Before(rep.RollbackStarted) {
			continue
		}
		out = append(out, v)
	}
	return out
}

// TestNewRunOverUnfinishedRunIsRefused halts a run with a file journal, then
// checks that a new run is refused (it would capture the half-deployed farm
// as the state to restore) while resuming works.
func TestNewRunOverUnfinishedRunIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 61})
		// fe04's second stop-service call is block-loaded's in the strict
		// order (stop-schedulers and block-loaded run beside each other
		// otherwise, and either may call first).
		sf.strict = true
		path := filepath.Join(t.TempDir(), "deploy.journal")
		j, err := journal.Open(path)
		require.NoError(t, err)
		defer j.Close()
		require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpStopService, Target: "fe04", After: 1, Times: 1,
			Err: fmt.Errorf("access denied: %w", drivers.ErrPermissionDenied)}))
		require.NoError(t, sf.sim.Start(t.Context()))
		_, err = sf.plan(t, nil, j, farm.Halt, "v2").Run(t.Context())
		require.ErrorIs(t, err, farm.ErrHalted)

		_, err = sf.plan(t, nil, j, farm.Halt, "v2").Run(t.Context())
		require.ErrorIs(t, err, farm.ErrUnfinishedRun)
		assert.Contains(t, err.Error(), "halted (resume from block-loaded)")

		// Without a journal, preflight refuses the Schedulers the halted run disabled.
		_, err = sf.plan(t, nil, nil, farm.Halt, "v2").Run(t.Context())
		require.ErrorIs(t, err, farm.ErrHalted)
		assert.Contains(t, err.Error(), "the Scheduler service reads stopped/Disabled before the run")

		recs, err := journal.ReadFile(path)
		require.NoError(t, err)
		rep, err := sf.plan(t, nil, j, farm.Halt, "v2").Resume(t.Context(), recs)
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, rep.Outcome)
		time.Sleep(10 * time.Second)
		sf.sim.Stop()
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}))
		assert.Zero(t, sf.sim.Report().TotalViolations())
	})
}

// TestRollbackAfterIntervention rolls back a run whose deployment waits for
// user intervention: the deployment is aborted first, then the rollback
// completes (the platform deploys one release at a time).
func TestRollbackAfterIntervention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 71})
		require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentNeedsUserIntervention, Info: "business_process_impact"}, Times: 1}))
		require.NoError(t, sf.sim.Start(t.Context()))
		start := time.Now()
		rep, err := sf.plan(t, nil, nil, farm.Rollback, "v2").Run(t.Context())
		require.ErrorIs(t, err, farm.ErrRolledBack, "%v", err)
		assert.Less(t, time.Since(start), 5*time.Minute, "no wait for the publish timeout (virtual time)")
		assert.Len(t, sf.sim.Actions(simulate.OpAbortDeployment), 1)
		time.Sleep(10 * time.Second)
		sf.sim.Stop()
		assert.Equal(t, farm.RolledBack, rep.Outcome)
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v1"}))
		assert.Zero(t, sf.sim.Report().TotalViolations())
	})
}

// TestSecondStageFails: on a two-stage platform, the second stage of the
// deployment publish continued fails (finished_with_errors) or is aborted.
// With Halt the run halts in publish in the safe state, the failed
// deployment no longer recorded, and the resumed run starts one new
// deployment, continues it once and ends exact (two started, one
// succeeded). With Rollback the farm ends exact on v1 and no deployment of
// v1 is started: the failed one published nothing.
func TestSecondStageFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy farm.FailurePolicy
		end    drivers.DeploymentState
	}{
		{"failed/halt", farm.Halt, drivers.DeploymentFailed},
		{"failed/rollback", farm.Rollback, drivers.DeploymentFailed},
		{"aborted/halt", farm.Halt, drivers.DeploymentAborted},
		{"aborted/rollback", farm.Rollback, drivers.DeploymentAborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 81,
					TwoStage: true, ApplyDuration: 20 * time.Second})
				require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpApply, Err: simulate.PublishOutcome{State: tc.end}, Times: 1}))
				j := &memJournal{}
				require.NoError(t, sf.sim.Start(t.Context()))
				p := sf.plan(t, nil, j, tc.policy, "v2")
				require.Contains(t, p.StepIDs(), steps.Prepare)
				rep, err := p.Run(t.Context())
				require.Error(t, err)
				assert.Equal(t, steps.Publish, rep.FailedStep)
				assert.Contains(t, err.Error(), "deployment dep-1 ended "+string(tc.end))
				require.Len(t, sf.sim.Actions(simulate.OpContinueDeployment), 1)
				if tc.policy == farm.Rollback {
					require.ErrorIs(t, err, farm.ErrRolledBack)
					sf.endsExact(t, "v1")
					assert.Len(t, sf.sim.Actions(simulate.OpStartDeployment), 1, "nothing was published: no deployment of v1")
					deploymentsOnce(t, deploymentsOf(t, sf.sim), rep.Outcome, tc.name)
					return
				}
				require.ErrorIs(t, err, farm.ErrHalted)
				assert.Empty(t, sf.sim.CheckSafeState())
				st, err := journal.StateOf(j.records())
				require.NoError(t, err)
				assert.Equal(t, steps.Publish, st.ResumeFrom)
				_, recorded := st.Captured.Values[steps.CapturedDeploymentID]
				assert.False(t, recorded, "the failed deployment is not followed again")
				resumeToTheEnd(t, sf, j.records())
				deps := deploymentsOf(t, sf.sim)
				require.Len(t, deps, 2, "%+v", deps)
				assert.Equal(t, tc.end, deps[0].state)
				assert.Equal(t, drivers.DeploymentSucceeded, deps[1].state)
				assert.Len(t, sf.sim.Actions(simulate.OpContinueDeployment), 2, "the new deployment is continued once")
				deploymentsOnce(t, deps, farm.Succeeded, tc.name)
			})
		})
	}
}

// TestContinueRefusedWhilePrepared: the platform refuses the continue of
// the prepared deployment once (drivers.ErrInvalidArgument, which publish
// reads as "the state moved on") and the next read finds it still waiting
// prepared. The run halts in publish at once, naming the refusal, instead
// of waiting at reduced capacity until PublishTimeout for a second stage
// nobody started; the resumed run continues the same deployment once and
// ends exact.
//
// Before the fix the run waited the whole PublishTimeout (10 min here, 60
// by default) and halted on "did not finish within 10m0s (last state
// needs_user_intervention)".
func TestContinueRefusedWhilePrepared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 82,
			TwoStage: true, ApplyDuration: 20 * time.Second})
		require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpContinueDeployment, Times: 1,
			Err: fmt.Errorf("injected: deployment cannot be continued now: %w", drivers.ErrInvalidArgument)}))
		j := &memJournal{}
		require.NoError(t, sf.sim.Start(t.Context()))
		var publishAt time.Time
		sf.observer = event.ObserverFunc(func(e event.Event) {
			if e.Kind == event.StepStarted && e.Step == steps.Publish {
				publishAt = time.Now()
			}
		})
		rep, err := sf.plan(t, nil, j, farm.Halt, "v2").Run(t.Context())
		require.ErrorIs(t, err, farm.ErrHalted)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, "the refusal is the cause")
		assert.Equal(t, steps.Publish, rep.FailedStep)
		assert.Contains(t, err.Error(), "still waits prepared")
		assert.NotContains(t, err.Error(), "did not finish within")
		// One deploy poll after the refusal, not PublishTimeout.
		assert.Less(t, rep.Finished.Sub(publishAt), time.Minute, "halted %v after publish started", rep.Finished.Sub(publishAt))
		assert.Empty(t, sf.sim.CheckSafeState())
		st, err := sf.sim.Platform().DeploymentStatus(t.Context(), "dep-1")
		require.NoError(t, err)
		assert.True(t, st.Prepared(), "left prepared for the resume: %+v", st)

		resumeToTheEnd(t, sf, j.records())
		deps := deploymentsOf(t, sf.sim)
		require.Len(t, deps, 1, "the resume continues the same deployment: %+v", deps)
		deploymentsOnce(t, deps, farm.Succeeded, "resumed")
		assert.Len(t, sf.sim.Actions(simulate.OpContinueDeployment), 2, "refused once, then accepted")
	})
}
