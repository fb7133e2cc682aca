package farm_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"
)

// trace records what the steps of a test plan did, with the (simulated)
// time of each.
type trace struct {
	mu     sync.Mutex
	t0     time.Time
	events []string
	at     map[string]time.Duration
}

func newTrace() *trace { return &trace{t0: time.Now(), at: map[string]time.Duration{}} }

func (tr *trace) add(ev string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.events = append(tr.events, ev)
	tr.at[ev] = time.Since(tr.t0)
}

func (tr *trace) list() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.events)
}

func (tr *trace) when(ev string) time.Duration {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	d, ok := tr.at[ev]
	if !ok {
		return -1
	}
	return d
}

// timedStep is a step that takes d, records its start, end and undo, and
// fails with fail when it is set.
func timedStep(tr *trace, id string, d time.Duration, fail error, needs ...string) farm.Step {
	s := farm.Step{ID: id, Title: id,
		Run: func(ctx context.Context, r *farm.Run) error {
			tr.add("start " + id + " as " + r.StepID())
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return ctx.Err()
			}
			tr.add("end " + id)
			return fail
		},
		Undo: func(ctx context.Context, r *farm.Run) error {
			tr.add("undo " + id)
			return nil
		}}
	if needs != nil {
		s.Needs = needs
	}
	return s
}

func testFarm(t *testing.T) *farm.Farm {
	lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: lb})
	require.NoError(t, err)
	return f
}

// diamond is a plan a, then b (3 s) and c (5 s) beside each other, then d.
func diamond(t *testing.T, tr *trace, cfg farm.PlanConfig, failB error) *farm.Plan {
	return diamondOf(t, tr, cfg, failB, 3*time.Second, 5*time.Second)
}

func diamondOf(t *testing.T, tr *trace, cfg farm.PlanConfig, failB error, b, c time.Duration) *farm.Plan {
	p, err := farm.NewPlan(testFarm(t), cfg,
		timedStep(tr, "a", time.Second, nil),
		timedStep(tr, "b", b, failB, "a"),
		timedStep(tr, "c", c, nil, "a"),
		timedStep(tr, "d", time.Second, nil, "b", "c"))
	require.NoError(t, err)
	return p
}

func TestStepsOverlap(t *testing.T) {
	t.Run("as soon as their needs are done", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr := newTrace()
			rep, err := diamond(t, tr, farm.PlanConfig{}, nil).Run(t.Context())
			require.NoError(t, err)
			assert.Equal(t, farm.Succeeded, rep.Outcome)
			assert.Equal(t, time.Second, tr.when("start b as b"), "b starts when a is done")
			assert.Equal(t, time.Second, tr.when("start c as c"), "c starts beside b")
			assert.Equal(t, 6*time.Second, tr.when("start d as d"), "d waits for the longer of b and c")
			assert.Equal(t, 7*time.Second, rep.Finished.Sub(rep.Started), "the critical path a+c+d")
			for _, s := range rep.Steps {
				assert.Equal(t, farm.StepDone, s.Status, s.ID)
			}
		})
	})
	t.Run("not with the strict order", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr := newTrace()
			rep, err := diamond(t, tr, farm.PlanConfig{StrictOrder: true}, nil).Run(t.Context())
			require.NoError(t, err)
			assert.Equal(t, []string{"start a as a", "end a", "start b as b", "end b", "start c as c", "end c", "start d as d", "end d"}, tr.list())
			assert.Equal(t, 10*time.Second, rep.Finished.Sub(rep.Started), "the sum of the steps")
		})
	})
	t.Run("not an irreversible step", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr := newTrace()
			c := timedStep(tr, "c", 5*time.Second, nil, "a")
			c.Irreversible = true
			p, err := farm.NewPlan(testFarm(t), farm.PlanConfig{},
				timedStep(tr, "a", time.Second, nil), timedStep(tr, "b", 3*time.Second, nil, "a"), c)
			require.NoError(t, err)
			_, err = p.Run(t.Context())
			require.NoError(t, err)
			assert.Equal(t, 4*time.Second, tr.when("start c as c"), "an irreversible step waits for every step before it")
		})
	})
}

// TestOverlapFailure: when one of two steps running beside each other
// fails, the other is awaited (not cut short) before the rollback, which
// undoes the failed step, then the done ones last first.
func TestOverlapFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		events := map[string][]event.Kind{}
		var mu sync.Mutex
		obs := event.ObserverFunc(func(e event.Event) {
			mu.Lock()
			defer mu.Unlock()
			if e.Kind == event.StepStarted || e.Kind == event.StepFinished {
				events[e.Step] = append(events[e.Step], e.Kind)
			}
		})
		boom := errors.New("boom")
		rep, err := diamond(t, tr, farm.PlanConfig{OnFailure: farm.Rollback, Observer: obs}, boom).Run(t.Context())
		require.ErrorIs(t, err, farm.ErrRolledBack)
		require.ErrorIs(t, err, boom)
		assert.Equal(t, []string{"undo b", "undo c", "undo a"}, undos(tr.list()), "the failed step first, then the done ones last first")
		assert.Equal(t, 6*time.Second, tr.when("end c"), "c ran to its end")
		assert.Equal(t, 6*time.Second, tr.when("undo b"), "the rollback waits for c, still running when b failed")
		assert.Equal(t, time.Duration(-1), tr.when("start d as d"), "no step starts after a failure")
		assert.Equal(t, "b", rep.FailedStep)
		mu.Lock()
		assert.Equal(t, []event.Kind{event.StepStarted, event.StepFinished, event.StepStarted, event.StepFinished}, events["c"], "c ran, then was undone")
		mu.Unlock()
		st := map[string]farm.StepStatus{}
		for _, s := range rep.Steps {
			st[s.ID] = s.Status
		}
		assert.Equal(t, map[string]farm.StepStatus{"a": farm.StepUndone, "b": farm.StepUndone, "c": farm.StepUndone, "d": farm.StepPending}, st)
	})
}

// undos returns the undo events of a trace, in the order they ran.
func undos(evs []string) []string {
	var out []string
	for _, e := range evs {
		if len(e) > 5 && e[:5] == "undo " {
			out = append(out, e)
		}
	}
	return out
}

// TestResumeTwoStepsInFlight: a crash while b and c run beside each other,
// after c is done: the resumed run runs b again (it never said done), not
// c (done), then d.
func TestResumeTwoStepsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTrace()
		j := &memJournal{}
		// b takes longer than c: c is done while b still runs.
		rep, err := diamondOf(t, tr, farm.PlanConfig{Journal: j, Lock: farm.LockConfig{Dir: t.TempDir()}}, nil, 5*time.Second, 3*time.Second).Run(t.Context())
		require.NoError(t, err)
		require.Equal(t, farm.Succeeded, rep.Outcome)
		// The crash: the journal ends just after c said done, b running.
		recs := j.records()
		cut := slices.IndexFunc(recs, func(r journal.Record) bool { return r.Kind == journal.StepDone && r.Step == "c" })
		require.Positive(t, cut)
		crashed := slices.Clone(recs[:cut+1])
		st, err := journal.StateOf(crashed)
		require.NoError(t, err)
		require.Equal(t, "b", st.ResumeFrom, "b was running")

		tr2 := newTrace()
		j2 := &memJournal{recs: slices.Clone(crashed)}
		rep, err = diamondOf(t, tr2, farm.PlanConfig{Journal: j2, Lock: farm.LockConfig{Dir: t.TempDir()}}, nil, 5*time.Second, 3*time.Second).Resume(t.Context(), crashed)
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, rep.Outcome)
		assert.Equal(t, []string{"start b as b", "end b", "start d as d", "end d"}, tr2.list(), "b again, not c")
		status := map[string]farm.StepStatus{}
		for _, s := range rep.Steps {
			status[s.ID] = s.Status
		}
		assert.Equal(t, map[string]farm.StepStatus{"a": farm.StepAlreadyDone, "b": farm.StepDone, "c": farm.StepAlreadyDone, "d": farm.StepDone}, status)

		// The same journal resumed in the runbook's strict order (Plan.ID
		// does not depend on it): the same steps run, one at a time.
		tr3 := newTrace()
		strict := diamondOf(t, tr3, farm.PlanConfig{Journal: &memJournal{recs: slices.Clone(crashed)}, Lock: farm.LockConfig{Dir: t.TempDir()}, StrictOrder: true}, nil, 5*time.Second, 3*time.Second)
		require.Equal(t, st.PlanID, strict.ID(), "StrictOrder is not part of the plan's identity")
		rep, err = strict.Resume(t.Context(), crashed)
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, rep.Outcome)
		assert.Equal(t, []string{"start b as b", "end b", "start d as d", "end d"}, tr3.list(), "strict order: b again, not c, then d")
	})
}

func TestNeedsValidation(t *testing.T) {
	noop := func(context.Context, *farm.Run) error { return nil }
	for _, tc := range []struct {
		name  string
		needs []string
		want  string
	}{
		{"unknown", []string{"zz"}, `needs "zz"`},
		{"later", []string{"c"}, `needs "c": want one of [a]`},
		{"itself", []string{"b"}, "needs itself"},
		{"twice", []string{"a", "a"}, "needs a twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := farm.NewPlan(testFarm(t), farm.PlanConfig{},
				farm.Step{ID: "a", Run: noop}, farm.Step{ID: "b", Run: noop, Needs: tc.needs}, farm.Step{ID: "c", Run: noop})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestNeedsEditing(t *testing.T) {
	noop := func(context.Context, *farm.Run) error { return nil }
	step := func(id string, needs ...string) farm.Step {
		s := farm.Step{ID: id, Title: id, Run: noop}
		if needs != nil {
			s.Needs = needs
		}
		return s
	}
	needsOf := func(p *farm.Plan) map[string][]string {
		out := map[string][]string{}
		for _, s := range p.Steps() {
			out[s.ID] = s.Needs
		}
		return out
	}
	p, err := farm.NewPlan(testFarm(t), farm.PlanConfig{}, step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	require.NoError(t, err)
	require.NoError(t, p.InsertAfter("a", step("x")))
	assert.Equal(t, map[string][]string{"a": {}, "x": {"a"}, "b": {"a", "x"}, "c": {"a", "x"}, "d": {"b", "c"}}, needsOf(p), "x after a, before what needed a")
	require.NoError(t, p.InsertBefore("d", step("y")))
	assert.Equal(t, []string{"b", "c"}, needsOf(p)["y"], "y needs what d needed")
	assert.Equal(t, []string{"b", "c", "y"}, needsOf(p)["d"])
	require.NoError(t, p.Remove("x"))
	assert.Equal(t, []string{"a"}, needsOf(p)["b"], "what needed x needs what x needed")
	var out bytes.Buffer
	require.NoError(t, p.Describe(&out))
	assert.Contains(t, out.String(), " b: b\n      runs at the same time as: c\n")
	assert.NotContains(t, out.String(), " d: d\n      runs at the same time as")
}
