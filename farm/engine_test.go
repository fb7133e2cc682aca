package farm_test

// The engine's own tests: exclusion, rollback, resume, the concurrency
// limits and concurrent journal appends, with steps written here and the
// in-memory farm of internal/fakefarm, never the balanced plan.

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/internal/fakefarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakePlan returns a plan of steps over a farm of n servers of ff (one
// zone, split by AutoSplit), with cfg's lock in a temporary directory.
func fakePlan(t *testing.T, lb drivers.LoadBalancer, ff *fakefarm.Farm, cfg farm.PlanConfig, steps ...farm.Step) *farm.Plan {
	t.Helper()
	if lb == nil {
		lb = ff
	}
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(ff.Servers()), LoadBalancer: lb})
	require.NoError(t, err)
	if cfg.Lock.Dir == "" {
		cfg.Lock.Dir = t.TempDir()
	}
	p, err := farm.NewPlan(f, cfg, steps...)
	require.NoError(t, err)
	return p
}

// trail records the order in which steps ran and were undone.
type trail struct {
	mu  sync.Mutex
	ops []string
}

func (tr *trail) add(op string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.ops = append(tr.ops, op)
}

func (tr *trail) list() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return slices.Clone(tr.ops)
}

// step returns a step that records its run and its undo in tr, and fails
// with fail when fail is not nil.
func (tr *trail) step(id string, fail *error) farm.Step {
	return farm.Step{ID: id, Title: "step " + id,
		Run: func(context.Context, *farm.Run) error {
			tr.add("run " + id)
			if fail != nil {
				return *fail
			}
			return nil
		},
		Undo: func(context.Context, *farm.Run) error {
			tr.add("undo " + id)
			return nil
		}}
}

func TestRollbackUndoesInReverseOrder(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02")
	tr := &trail{}
	boom := errors.New("boom")
	j := &memJournal{}
	p := fakePlan(t, nil, ff, farm.PlanConfig{OnFailure: farm.Rollback, Journal: j},
		tr.step("a", nil), tr.step("b", nil), tr.step("c", &boom), tr.step("d", nil))
	rep, err := p.Run(t.Context())
	require.ErrorIs(t, err, farm.ErrRolledBack)
	require.ErrorIs(t, err, boom, "the cause is kept")
	assert.Equal(t, farm.RolledBack, rep.Outcome)
	assert.Equal(t, []string{"run a", "run b", "run c", "undo c", "undo b", "undo a"}, tr.list(), "the failed step first, then the others last first; d never ran")
	for id, want := range map[string]farm.StepStatus{"a": farm.StepUndone, "b": farm.StepUndone, "c": farm.StepUndone, "d": farm.StepPending} {
		sr, ok := rep.Step(id)
		require.True(t, ok, id)
		assert.Equal(t, want, sr.Status, id)
	}
	var kinds []journal.Kind
	for _, r := range j.records() {
		if r.Kind == journal.RollbackStarted || r.Kind == journal.StepUndone {
			kinds = append(kinds, r.Kind)
		}
	}
	assert.Equal(t, []journal.Kind{journal.RollbackStarted, journal.StepUndone, journal.StepUndone, journal.StepUndone}, kinds)
	assert.False(t, rep.RollbackStarted.IsZero())
}

func TestNoRollbackPastAnIrreversibleStep(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02")
	tr := &trail{}
	boom := errors.New("boom")
	point := tr.step("point-of-no-return", nil)
	point.Irreversible = true
	p := fakePlan(t, nil, ff, farm.PlanConfig{OnFailure: farm.Rollback},
		tr.step("a", nil), point, tr.step("c", &boom))
	rep, err := p.Run(t.Context())
	require.ErrorIs(t, err, farm.ErrHalted)
	assert.ErrorContains(t, err, "no rollback: step point-of-no-return has started")
	assert.Equal(t, farm.Halted, rep.Outcome)
	assert.Equal(t, "c", rep.ResumeFrom)
	assert.Equal(t, []string{"run a", "run point-of-no-return", "run c"}, tr.list(), "nothing undone")
}

func TestResumeSkipsWhatIsDoneAndRestoresCaptured(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02")
	tr := &trail{}
	boom := errors.New("boom")
	failing := &boom
	j := &memJournal{}
	steps := func() []farm.Step {
		capture := farm.Step{ID: "capture", Run: func(_ context.Context, r *farm.Run) error {
			tr.add("run capture")
			r.Captured().SetValue("before", "v1")
			r.Captured().SetValue("scratch", "x")
			r.Captured().DeleteValue("scratch")
			return nil
		}}
		use := farm.Step{ID: "use", Run: func(_ context.Context, r *farm.Run) error {
			v, ok := r.Captured().Value("before")
			tr.add("run use with " + v)
			_, scratch := r.Captured().Value("scratch")
			assert.True(t, ok)
			assert.False(t, scratch, "a deleted value stays deleted")
			if *failing != nil {
				return *failing
			}
			return nil
		}}
		return []farm.Step{capture, use}
	}
	cfg := farm.PlanConfig{Journal: j}
	rep, err := fakePlan(t, nil, ff, cfg, steps()...).Run(t.Context())
	require.ErrorIs(t, err, farm.ErrHalted)
	assert.Equal(t, "use", rep.ResumeFrom)

	var ev events
	boom = nil
	cfg.Observer = &ev
	rep, err = fakePlan(t, nil, ff, cfg, steps()...).Resume(t.Context(), j.records())
	require.NoError(t, err)
	assert.Equal(t, farm.Succeeded, rep.Outcome)
	assert.Equal(t, []string{"run capture", "run use with v1", "run use with v1"}, tr.list(), "capture ran once; use saw the value captured before the crash")
	sr, ok := rep.Step("capture")
	require.True(t, ok)
	assert.Equal(t, farm.StepAlreadyDone, sr.Status)
	assert.Equal(t, farm.StepSkippedDone, farm.StepAlreadyDone, "the deprecated name is the same status")
	skipped := 0
	for _, e := range ev.all {
		if e.Kind == event.StepSkipped && e.Step == "capture" {
			skipped++
		}
	}
	assert.Equal(t, 1, skipped)

	_, err = fakePlan(t, nil, ff, cfg, steps()...).Resume(t.Context(), j.records())
	require.ErrorIs(t, err, farm.ErrNothingToResume, "a finished run has nothing to resume")
	_, err = fakePlan(t, nil, ff, cfg, steps()...).Resume(t.Context(), nil)
	require.ErrorIs(t, err, farm.ErrNothingToResume, "an empty journal has nothing to resume")
	require.ErrorIs(t, err, journal.ErrNoRun)

	other := farm.Step{ID: "other", Run: func(context.Context, *farm.Run) error { return nil }}
	_, err = fakePlan(t, nil, ff, farm.PlanConfig{}, other).Resume(t.Context(), j.records()[:3])
	require.ErrorIs(t, err, farm.ErrJournalMismatch, "another plan's journal")
}

func TestHaltDecisions(t *testing.T) {
	for _, d := range []farm.Decision{farm.DecideHalt, farm.DecideAbort, farm.Decision("something else")} {
		t.Run(string(d), func(t *testing.T) {
			ff := fakefarm.New("fe01", "fe02")
			tr := &trail{}
			boom := errors.New("boom")
			asked := 0
			p := fakePlan(t, nil, ff, farm.PlanConfig{OnFailure: farm.Ask, Ask: func(_ context.Context, f farm.Failure) farm.Decision {
				asked++
				assert.Equal(t, "b", f.Step)
				assert.Equal(t, 1, f.Attempt)
				return d
			}}, tr.step("a", nil), tr.step("b", &boom))
			rep, err := p.Run(t.Context())
			require.ErrorIs(t, err, farm.ErrHalted)
			assert.Equal(t, farm.Halted, rep.Outcome)
			assert.Equal(t, 1, asked)
			assert.Equal(t, []string{"run a", "run b"}, tr.list(), "halted: nothing undone, nothing retried")
		})
	}
	t.Run("rollback", func(t *testing.T) {
		ff := fakefarm.New("fe01", "fe02")
		tr := &trail{}
		boom := errors.New("boom")
		p := fakePlan(t, nil, ff, farm.PlanConfig{OnFailure: farm.Ask, Ask: func(context.Context, farm.Failure) farm.Decision {
			return farm.DecideRollback
		}}, tr.step("a", nil), tr.step("b", &boom))
		_, err := p.Run(t.Context())
		require.ErrorIs(t, err, farm.ErrRolledBack)
		assert.Equal(t, []string{"run a", "run b", "undo b", "undo a"}, tr.list())
	})
}

// TestExcludedServersLeaveTheMemberLists: after a DecideExclude, a step
// sees the excluded server as excluded and IncludedMembers leaves its
// member out, while Group.Members still lists every member.
func TestExcludedServersLeaveTheMemberLists(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02", "fe03", "fe04", "fe05", "fe06")
	var included, all [][]string
	tries := 0
	p := fakePlan(t, nil, ff, farm.PlanConfig{OnFailure: farm.Ask,
		Ask: func(context.Context, farm.Failure) farm.Decision { return farm.DecideExclude }},
		farm.Step{ID: "flaky", Excludable: true, Run: func(ctx context.Context, r *farm.Run) error {
			tries++
			z := r.Farm().Zones()[0]
			included = append(included, r.IncludedMembers(z.Updating))
			all = append(all, z.Updating.Members())
			return r.ForEachServer(ctx, z.Updating.Servers, func(_ context.Context, s farm.Server) error {
				if s.Name == "fe01" {
					assert.False(t, r.Excluded("fe01"), "an excluded server is never acted on")
					return errors.New("fails here")
				}
				return nil
			})
		}})
	rep, err := p.Run(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, tries)
	assert.Equal(t, []string{"fe01"}, rep.Excluded)
	require.Len(t, included, 2)
	assert.Contains(t, included[0], "fe01")
	assert.NotContains(t, included[1], "fe01", "excluded: left out")
	assert.Equal(t, all[0], all[1], "Group.Members lists them all")
	assert.Contains(t, all[1], "fe01")
}

func TestExcludeRefusedOnAStepNotExcludable(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02", "fe03", "fe04")
	p := fakePlan(t, nil, ff, farm.PlanConfig{OnFailure: farm.Ask,
		Ask: func(context.Context, farm.Failure) farm.Decision { return farm.DecideExclude }},
		farm.Step{ID: "strict", Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachServer(ctx, r.Farm().Servers()[:1], func(context.Context, farm.Server) error { return errors.New("fails here") })
		}})
	rep, err := p.Run(t.Context())
	require.ErrorIs(t, err, farm.ErrHalted)
	assert.Empty(t, rep.Excluded)
	assert.Equal(t, drivers.Serving, ff.MemberState("fe01"), "no exclusion, no drain")
}

// TestConcurrentActionsJournalEveryRecord runs one action per server on
// many servers at once, each action setting values (journalled as it
// happens), into a file journal: every record is written whole and read
// back.
func TestConcurrentActionsJournalEveryRecord(t *testing.T) {
	names := make([]string, 24)
	for i := range names {
		names[i] = "fe" + string(rune('a'+i))
	}
	ff := fakefarm.New(names...)
	path := filepath.Join(t.TempDir(), "run.journal")
	j, err := journal.Open(path)
	require.NoError(t, err)
	assert.Equal(t, path, j.Path())
	var inFlight, most atomic.Int32
	step := farm.Step{ID: "fan-out", Run: func(ctx context.Context, r *farm.Run) error {
		return r.ForEachServer(ctx, r.Farm().Servers(), func(_ context.Context, s farm.Server) error {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			r.Captured().SetValue("seen/"+s.Name, s.MemberID())
			return nil
		})
	}}
	p := fakePlan(t, nil, ff, farm.PlanConfig{Journal: j, Concurrency: 8}, step)
	_, err = p.Run(t.Context())
	require.NoError(t, err)
	require.NoError(t, j.Close())
	assert.LessOrEqual(t, most.Load(), int32(8), "PlanConfig.Concurrency bounds the actions at once")

	recs, err := journal.ReadFile(path)
	require.NoError(t, err)
	actions, values := map[string]bool{}, map[string]bool{}
	for _, r := range recs {
		switch r.Kind {
		case journal.Action:
			actions[r.Server] = true
		case journal.Value:
			values[r.Key] = true
		}
	}
	assert.Len(t, actions, len(names), "one action record per server")
	assert.Len(t, values, len(names), "one value record per server")
	st, err := journal.StateOf(recs)
	require.NoError(t, err)
	assert.Len(t, st.Captured.Values, len(names))
	assert.Equal(t, farm.Succeeded, st.Outcome)
}

// namedSwitcher is a load balancer with both optional capabilities.
type namedSwitcher struct {
	fakefarm.Switching
	id string
}

func (l namedSwitcher) Identity() string { return l.id }

// TestLimitedDriversKeepLimitsAndCapabilities: the engine's wrappers of the
// drivers pass every call through, within its limit, and keep the load
// balancer's optional capabilities.
func TestLimitedDriversKeepLimitsAndCapabilities(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02")
	lb := namedSwitcher{Switching: fakefarm.Switching{Farm: ff}, id: "lb-1"}
	var sawSwitcher, sawIdentity bool
	step := farm.Step{ID: "calls", Run: func(ctx context.Context, r *farm.Run) error {
		z := r.Farm().Zones()[0]
		sw, ok := z.LoadBalancer.(drivers.Switcher)
		sawSwitcher = ok
		if id, ok := z.LoadBalancer.(drivers.Identifier); ok {
			sawIdentity = id.Identity() == "lb-1"
		}
		if ok {
			if err := sw.Switch(ctx, nil, []string{"fe02"}); err != nil {
				return err
			}
		}
		s := r.Farm().Servers()[0]
		if err := r.Call(ctx, farm.Host(s.Target()), func(context.Context) error { return nil }); err != nil {
			return err
		}
		return r.Call(ctx, farm.Platform, func(context.Context) error { return nil })
	}}
	p := fakePlan(t, lb, ff, farm.PlanConfig{}, step)
	svc := p.LimitServices(ff)
	assert.Same(t, svc, p.LimitServices(svc), "never limited twice")
	pr := p.LimitProber(ff)
	assert.Same(t, pr, p.LimitProber(pr), "never limited twice")
	target := drivers.Target{Name: "fe01"}
	require.NoError(t, svc.StopService(t.Context(), target, drivers.SchedulerService))
	require.NoError(t, svc.RestoreService(t.Context(), target, drivers.SchedulerService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}))
	st, err := svc.ServiceState(t.Context(), target, drivers.SchedulerService)
	require.NoError(t, err)
	assert.Equal(t, drivers.Running, st.Run)
	res, err := pr.Probe(t.Context(), target)
	require.NoError(t, err)
	assert.Equal(t, "v1", res.Version)

	_, err = p.Run(t.Context())
	require.NoError(t, err)
	assert.True(t, sawSwitcher, "the zone's load balancer is still a Switcher")
	assert.True(t, sawIdentity, "and still reports its identity")
	assert.Equal(t, drivers.Draining, ff.MemberState("fe02"), "the switch went through")
}

func TestDescribeAndSlogObserver(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02")
	var logged bytes.Buffer
	obs := farm.SlogObserver(slog.New(slog.NewTextHandler(&logged, nil)))
	p := fakePlan(t, nil, ff, farm.PlanConfig{Observer: obs}, farm.Step{ID: "only", Title: "Do the only thing",
		Describe: func(z *farm.Zone) []string { return []string{"touch " + z.Name} },
		Run: func(_ context.Context, r *farm.Run) error {
			r.Warn("", "fe01", "look at %s", "this")
			return nil
		}})
	var text, md bytes.Buffer
	require.NoError(t, p.Describe(&text))
	require.NoError(t, p.DescribeMarkdown(&md))
	assert.Contains(t, text.String(), "Do the only thing")
	assert.Contains(t, text.String(), "touch default")
	assert.Contains(t, md.String(), "Do the only thing")
	assert.Equal(t, []string{"only"}, p.StepIDs())
	assert.NotEmpty(t, p.ID())
	_, err := p.Run(t.Context())
	require.NoError(t, err)
	assert.Contains(t, logged.String(), "look at this")
	assert.True(t, strings.Contains(logged.String(), "level=WARN"), logged.String())
}

// TestExcludeRefusedWhenAGroupWouldEmpty: excluding the only server of a
// group is refused, the run halts and the member keeps serving.
func TestExcludeRefusedWhenAGroupWouldEmpty(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02")
	p := fakePlan(t, nil, ff, farm.PlanConfig{OnFailure: farm.Ask,
		Ask: func(context.Context, farm.Failure) farm.Decision { return farm.DecideExclude }},
		farm.Step{ID: "flaky", Excludable: true, Run: func(ctx context.Context, r *farm.Run) error {
			z := r.Farm().Zones()[0]
			return r.ForEachServer(ctx, z.Updating.Servers, func(context.Context, farm.Server) error { return errors.New("fails here") })
		}})
	rep, err := p.Run(t.Context())
	require.ErrorIs(t, err, farm.ErrHalted)
	assert.ErrorContains(t, err, "exclude refused: excluding 1 server(s) would leave zone default's updating group with 0 of the zone's 2 servers")
	assert.Empty(t, rep.Excluded)
	assert.Equal(t, drivers.Serving, ff.MemberState("fe01"))
}
