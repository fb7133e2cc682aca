package steps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// twoStageFarm is a simulated farm whose platform runs deployments in two
// stages (a first stage of 5 min, a second of 1 min).
func twoStageFarm(t *testing.T, seed uint64) *simFarm {
	t.Helper()
	return newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: seed,
		TwoStage: true, PublishDuration: 5 * time.Minute, ApplyDuration: time.Minute})
}

// stepTimes records when each step started, in simulated time. Steps that
// run beside each other start on goroutines of their own: observe locks.
type stepTimes struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (s *stepTimes) observe(e event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Kind == event.StepStarted {
		if _, ok := s.at[e.Step]; !ok {
			s.at[e.Step] = time.Now()
		}
	}
}

// TestPrepareRunsTheFirstStageAtFullCapacity: on a two-stage platform the
// plan has prepare after preflight; the deployment starts there, before
// stop-schedulers, and is continued once, in publish, after block-loaded;
// the run ends exact with no failed request and no violation (invariant 3
// holds: the Schedulers are stopped before the second stage).
func TestPrepareRunsTheFirstStageAtFullCapacity(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := twoStageFarm(t, 61)
		times := &stepTimes{at: map[string]time.Time{}}
		sf.observer = event.ObserverFunc(times.observe)
		require.NoError(t, sf.sim.Start(t.Context()))
		p := sf.plan(t, nil, &memJournal{}, farm.Halt, "v2")
		ids := p.StepIDs()
		require.Len(t, ids, 13)
		assert.Equal(t, []string{steps.Preflight, steps.Prepare, steps.StopSchedulers}, ids[:3])
		rep, err := p.Run(t.Context())
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, rep.Outcome)
		sf.endsExact(t, "v2")

		starts := sf.sim.Actions(simulate.OpStartDeployment)
		require.Len(t, starts, 1)
		continues := sf.sim.Actions(simulate.OpContinueDeployment)
		require.Len(t, continues, 1)
		assert.True(t, starts[0].Time.Before(times.at[steps.StopSchedulers]), "started before stop-schedulers")
		assert.True(t, continues[0].Time.After(times.at[steps.Publish]), "continued in publish, after block-loaded")
		// The farm ran at reduced capacity only from drain-updating: the
		// first stage (5 min) is not in the window.
		r := sf.sim.Report()
		assert.Less(t, r.ReducedCapacity, rep.Finished.Sub(rep.Started)-5*time.Minute, r.String())
	})
}

// TestPrepareFailureChangesNothing: the platform's first stage fails; the
// run halts in prepare with the farm as it was (every server serving its
// version, Schedulers running: nothing was stopped), and a rollback has
// nothing to undo (no deployment to abort, none started to go back).
func TestPrepareFailureChangesNothing(t *testing.T) {
	for name, policy := range map[string]farm.FailurePolicy{"halt": farm.Halt, "rollback": farm.Rollback} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := twoStageFarm(t, 62)
				require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpPublish, Err: simulate.PublishOutcome{State: drivers.DeploymentFailed}, Times: 1}))
				j := &memJournal{}
				require.NoError(t, sf.sim.Start(t.Context()))
				rep, err := sf.plan(t, nil, j, policy, "v2").Run(t.Context())
				require.Error(t, err)
				assert.Equal(t, steps.Prepare, rep.FailedStep)
				assert.Contains(t, err.Error(), "ended finished_with_errors")
				sf.endsExact(t, "v1", "as before the run")
				assert.Len(t, sf.sim.Actions(simulate.OpStartDeployment), 1, "no rollback deployment")
				assert.Empty(t, sf.sim.Actions(simulate.OpAbortDeployment), "the failed deployment is over: nothing to abort")
				assert.Empty(t, sf.sim.Actions(simulate.OpStopService), "nothing on the farm was stopped")
			})
		})
	}
}

// TestRollbackBeforeContinueAbortsThePreparedDeployment: a step between
// prepare and the continue fails (block-loaded cannot stop a Deployment
// service) under the Rollback policy: the prepared deployment is aborted,
// and, since it never changed what runs, no deployment of the previous
// release is started; the farm ends exact on v1.
//
// Without the "prepared, not continued" branch of publish's undo, the
// rollback deployed v1 again (2 deployments started).
func TestRollbackBeforeContinueAbortsThePreparedDeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := twoStageFarm(t, 63)
		j := &memJournal{}
		require.NoError(t, sf.sim.Start(t.Context()))
		p := sf.plan(t, nil, j, farm.Rollback, "v2")
		require.NoError(t, p.Before(steps.Publish, farm.Hook{Name: "change freeze", Func: func(context.Context, *farm.Run) error {
			return errors.New("change freeze declared")
		}}))
		rep, err := p.Run(t.Context())
		require.ErrorIs(t, err, farm.ErrRolledBack, "%v", err)
		assert.Equal(t, farm.RolledBack, rep.Outcome)
		sf.endsExact(t, "v1")
		assert.Len(t, sf.sim.Actions(simulate.OpStartDeployment), 1, "the prepared deployment is aborted, not undone by another")
		assert.Len(t, sf.sim.Actions(simulate.OpAbortDeployment), 1)
		assert.Empty(t, sf.sim.Actions(simulate.OpContinueDeployment))
		st, err := sf.sim.Platform().DeploymentStatus(t.Context(), "dep-1")
		require.NoError(t, err)
		assert.Equal(t, drivers.DeploymentAborted, st.State)
	})
}

// TestCancelInPrepareThenResume cancels the run during the first stage,
// and TestCrashAfterPrepareThenResume during stop-schedulers, once the
// deployment is prepared: the deployment is left as it is, its ID
// journaled, and the resumed run follows that same deployment and
// continues it once (deployments started: 1).
func TestCancelInPrepareThenResume(t *testing.T) {
	for _, at := range []string{steps.Prepare, steps.StopSchedulers} {
		t.Run(at, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := twoStageFarm(t, 64)
				j := &memJournal{}
				require.NoError(t, sf.sim.Start(t.Context()))
				p := sf.plan(t, nil, j, farm.Halt, "v2")
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				require.NoError(t, p.Before(at, farm.Hook{Name: "cancel soon", Func: func(context.Context, *farm.Run) error {
					// A second into the first stage, or halfway through
					// stop-schedulers' confirmation.
					time.AfterFunc(map[string]time.Duration{steps.Prepare: time.Minute + time.Second, steps.StopSchedulers: steps.DefaultConfirmDelay / 2}[at], cancel)
					return nil
				}}))
				rep, err := p.Run(ctx)
				require.ErrorIs(t, err, context.Canceled)
				assert.Equal(t, at, rep.FailedStep)
				assert.Empty(t, sf.sim.CheckSafeState())
				st, err := sf.sim.Platform().DeploymentStatus(t.Context(), "dep-1")
				require.NoError(t, err)
				if at == steps.Prepare {
					assert.Equal(t, drivers.DeploymentRunning, st.State, "first stage still running")
				} else {
					assert.True(t, st.Prepared(), "prepared, waiting: %+v", st)
				}
				assert.Equal(t, []string{"dep-1"}, deploymentIDs(j.records()))
				assert.Empty(t, sf.sim.Actions(simulate.OpAbortDeployment))

				resumeToTheEnd(t, sf, j.records())
				assert.Len(t, sf.sim.Actions(simulate.OpStartDeployment), 1, "deployments started: 1")
				assert.Len(t, sf.sim.Actions(simulate.OpContinueDeployment), 1)
			})
		})
	}
}

// oneStageClaimingTwo is a platform client that says its target runs
// deployments in two stages while the simulated one does not.
type oneStageClaimingTwo struct{ drivers.PlatformClient }

func (oneStageClaimingTwo) TwoStage() bool { return true }

func (p oneStageClaimingTwo) ContinueDeployment(ctx context.Context, id string) error {
	return p.PlatformClient.(drivers.DeploymentContinuer).ContinueDeployment(ctx, id)
}

// TestPrepareDetectsAOneStagePlatform: a deployment that runs to its end
// in prepare (the client's TwoStage is wrong) fails the step wrapping
// steps.ErrNotTwoStage, naming what happened, and the rollback refuses to
// pretend it undid it.
func TestPrepareDetectsAOneStagePlatform(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 65})
		sf.platform = func(p drivers.PlatformClient) drivers.PlatformClient { return oneStageClaimingTwo{p} }
		require.NoError(t, sf.sim.Start(t.Context()))
		p := sf.plan(t, nil, &memJournal{}, farm.Rollback, "v2")
		require.Equal(t, steps.Prepare, p.StepIDs()[1])
		rep, err := p.Run(t.Context())
		require.ErrorIs(t, err, steps.ErrNotTwoStage)
		assert.Equal(t, steps.Prepare, rep.FailedStep)
		assert.Contains(t, err.Error(), "without stopping prepared")
		assert.Contains(t, err.Error(), "cannot be aborted")
		sf.sim.Stop()
	})
}

// TestPrepareModes: PrepareRequire refuses a platform that cannot prepare,
// naming why, before anything runs; PrepareOff and a platform that cannot
// give the one-stage plan; an unknown mode is refused naming it; the
// runbook says which mode runs.
func TestPrepareModes(t *testing.T) {
	tests := []struct {
		name     string
		twoStage bool
		mode     steps.PrepareMode
		err      string
		prepare  bool
		runbook  string
	}{
		{"auto, two-stage", true, steps.PrepareAuto, "", true, "two stages: the release was prepared at full capacity"},
		{"auto, one-stage", false, steps.PrepareAuto, "", false, "one stage, at reduced capacity: the platform's target does not run deployments in two stages"},
		{"off, two-stage", true, steps.PrepareOff, "", false, "one stage: preparing at full capacity is off"},
		{"require, one-stage", false, steps.PrepareRequire, `PrepareAtFullCapacity (spec: platform.prepare_at_full_capacity) "require": the platform's target does not run deployments in two stages`, false, ""},
		{"require, two-stage", true, steps.PrepareRequire, "", true, "two stages"},
		{"unknown", true, "always", `PrepareAtFullCapacity "always": want "" (the default`, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, err := simulate.New(simulate.Config{TwoStage: tc.twoStage})
			require.NoError(t, err)
			f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
			require.NoError(t, err)
			p, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
				Release: drivers.Release{Version: "v2"}, PrepareAtFullCapacity: tc.mode})
			if tc.err != "" {
				require.ErrorIs(t, err, steps.ErrInvalidConfig)
				assert.Contains(t, err.Error(), tc.err)
				assert.Empty(t, sim.Actions(), "no driver called")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.prepare, p.StepIDs()[1] == steps.Prepare, "%v", p.StepIDs())
			var b bytes.Buffer
			require.NoError(t, p.Describe(&b))
			assert.Contains(t, b.String(), tc.runbook)
			assert.Equal(t, tc.prepare, bytes.Contains(b.Bytes(), []byte("1. prepare: Prepare the release with the platform while every server serves")), b.String())
		})
	}
}

// TestPrepareGuardsCheckedBeforeTheContinue: a Scheduler restarted just
// before publish continues the prepared deployment is stopped and disabled
// again before the second stage switches the running versions.
//
// Without the guard check before the continue, the second stage started
// with fe04's Scheduler running (a violation of invariant 3).
func TestPrepareGuardsCheckedBeforeTheContinue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := twoStageFarm(t, 66)
		p := sf.plan(t, nil, nil, farm.Halt, "v2")
		require.NoError(t, p.Before(steps.Publish, farm.Hook{Name: "restart fe04", Func: func(context.Context, *farm.Run) error {
			restartScheduler(t, sf.sim, "fe04")
			return nil
		}}))
		require.NoError(t, sf.sim.Start(t.Context()))
		rep, err := p.Run(t.Context())
		time.Sleep(time.Minute)
		sf.sim.Stop()
		require.NoError(t, err)
		assert.Empty(t, sf.sim.CheckEndState(drivers.Release{Version: "v2"}))
		r := sf.sim.Report()
		assert.Zero(t, r.Failed, r.String())
		assert.Zero(t, r.TotalViolations(), r.String())
		require.Len(t, rep.Drifts, 1, "%+v", rep.Drifts)
		assert.True(t, rep.Drifts[0].Repaired)
		assert.Equal(t, "fe04", rep.Drifts[0].Server)
		assert.Equal(t, steps.Publish, rep.Drifts[0].Step)
	})
}

// TestCrashAndResumeTwoStage abandons a two-stage run at the first,
// middle and last driver call of prepare, of the steps between it and the
// continue, and of publish, then resumes it from its journal: the resumed
// run ends exact with no failed request and no violation, with one
// deployment started and continued (a crash losing the start's answer is
// followed through FindDeployment).
func TestCrashAndResumeTwoStage(t *testing.T) {
	cfg := simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 67, TwoStage: true,
		PublishDuration: 5 * time.Minute, ApplyDuration: time.Minute}
	calls := stepOfCalls(t, cfg)
	type point struct {
		at          int
		step, where string
	}
	var points []point
	for _, id := range []string{steps.Prepare, steps.StopSchedulers, steps.DrainUpdating, steps.BlockLoaded, steps.Publish} {
		first, last := slices.Index(calls, id), -1
		for i, s := range calls {
			if s == id {
				last = i
			}
		}
		require.GreaterOrEqual(t, first, 0, "%s makes driver calls", id)
		points = append(points, point{first + 1, id, "boundary"}, point{(first+last)/2 + 1, id, "middle"}, point{last + 1, id, "last call"})
	}
	for _, pt := range points {
		t.Run(fmt.Sprintf("%s/%s/call%d", pt.step, pt.where, pt.at), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sf := newSimFarm(t, cfg)
				c := &crash{at: int64(pt.at)}
				j := &memJournal{crash: c}
				require.NoError(t, sf.sim.Start(t.Context()))
				_, err := sf.plan(t, c, j, farm.Halt, "v2").Run(t.Context())
				require.ErrorIs(t, err, errCrashed)
				time.Sleep(30 * time.Second)
				j2 := &memJournal{recs: j.records()}
				rep, err := sf.plan(t, nil, j2, farm.Halt, "v2").Resume(t.Context(), j.records())
				require.NoError(t, err)
				assert.Equal(t, farm.Succeeded, rep.Outcome)
				sf.endsExact(t, "v2")
				assert.Len(t, sf.sim.Actions(simulate.OpStartDeployment), 1, "one deployment")
			})
		})
	}
}
