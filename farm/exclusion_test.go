package farm_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/farm/lock"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// namedLB is a load balancer that reports an identity.
type namedLB struct {
	drivers.LoadBalancer
	id string
}

func (l namedLB) Identity() string { return l.id }

func TestFarmIdentity(t *testing.T) {
	lb := plainLB{}
	build := func(zones ...farm.ZoneSpec) *farm.Farm {
		f, err := farm.New(farm.Config{Zones: zones, LoadBalancer: lb, CapacityFloor: -1})
		require.NoError(t, err)
		return f
	}
	s := servers(4)
	a := build(farm.ZoneSpec{Updating: s[:2], Loaded: s[2:]})
	// The same farm written another way: servers in another order, split
	// differently between the groups.
	b := build(farm.ZoneSpec{Updating: []farm.Server{s[3]}, Loaded: []farm.Server{s[2], s[1], s[0]}})
	assert.Equal(t, a.Identity(), b.Identity(), "the identity is the farm, not how a spec lists it")
	assert.Regexp(t, `^farm-[0-9a-f]{16}$`, a.Identity())

	other := build(farm.ZoneSpec{Updating: s[:2], Loaded: []farm.Server{s[2], {Name: "fe05"}}})
	assert.NotEqual(t, a.Identity(), other.Identity(), "another server, another farm")
	zoned := build(farm.ZoneSpec{Name: "east", Updating: s[:2], Loaded: s[2:]})
	assert.NotEqual(t, a.Identity(), zoned.Identity(), "another zone structure, another farm")

	withID := func(id string) *farm.Farm {
		f, err := farm.New(farm.Config{Zones: []farm.ZoneSpec{{Updating: s[:2], Loaded: s[2:]}}, LoadBalancer: namedLB{lb, id}})
		require.NoError(t, err)
		return f
	}
	assert.Equal(t, withID("haproxy:/run/a.sock#be").Identity(), withID("haproxy:/run/a.sock#be").Identity())
	assert.NotEqual(t, withID("haproxy:/run/a.sock#be").Identity(), withID("haproxy:/run/b.sock#be").Identity(),
		"same server names behind two load balancers: two farms")
	assert.NotEqual(t, a.Identity(), withID("x").Identity())
}

// plainLB is a load balancer nothing calls.
type plainLB struct{}

func (plainLB) SetState(context.Context, drivers.MemberState, ...string) error { return nil }
func (plainLB) Status(context.Context, ...string) ([]drivers.MemberStatus, error) {
	return nil, nil
}

// memJournal is a journal of the test's own, in memory: the engine's
// refusal of a new run over an unfinished one works through the
// journal.Journal contract, not through *journal.File.
type memJournal struct {
	mu   sync.Mutex
	recs []journal.Record
}

func (j *memJournal) Append(rec journal.Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.recs = append(j.recs, rec)
	return nil
}

func (j *memJournal) LastRun(context.Context) (journal.State, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return journal.LastRunOf(j.recs)
}

func (j *memJournal) records() []journal.Record {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]journal.Record(nil), j.recs...)
}

func simPlan(t *testing.T, sim *simulate.Sim, cfg farm.PlanConfig, steps ...farm.Step) *farm.Plan {
	t.Helper()
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	require.NoError(t, err)
	p, err := farm.NewPlan(f, cfg, steps...)
	require.NoError(t, err)
	return p
}

func TestUnfinishedRunRefusedForAnyJournal(t *testing.T) {
	sim, err := simulate.New(simulate.Config{})
	require.NoError(t, err)
	j := &memJournal{}
	fail := true
	steps := []farm.Step{
		{ID: "a", Run: func(context.Context, *farm.Run) error { return nil }},
		{ID: "b", Run: func(context.Context, *farm.Run) error {
			if fail {
				return errors.New("boom")
			}
			return nil
		}},
	}
	cfg := farm.PlanConfig{Journal: j, Lock: farm.LockConfig{Dir: t.TempDir()}, Label: "release v2"}
	_, err = simPlan(t, sim, cfg, steps...).Run(t.Context())
	require.ErrorIs(t, err, farm.ErrHalted)
	runID := j.records()[0].RunID
	require.NotEmpty(t, runID)
	written := len(j.records())

	_, err = simPlan(t, sim, cfg, steps...).Run(t.Context())
	require.ErrorIs(t, err, farm.ErrUnfinishedRun, "a new run over the halted one is refused")
	assert.ErrorContains(t, err, "the last run (release v2, run "+runID+") halted (resume from b)")
	assert.Len(t, j.records(), written, "the refused run wrote nothing")

	fail = false
	_, err = simPlan(t, sim, cfg, steps...).Resume(t.Context(), j.records())
	require.NoError(t, err)
	st, ok, err := j.LastRun(t.Context())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, farm.Succeeded, st.Outcome)
	assert.Equal(t, runID, st.RunID, "a resumed run keeps its run ID")
	_, err = simPlan(t, sim, cfg, steps...).Run(t.Context())
	require.NoError(t, err, "the last run finished: a new one may start")
}

// blockingStep waits until release is closed (or the run is cancelled).
func blockingStep(started chan<- struct{}, release <-chan struct{}) farm.Step {
	return farm.Step{ID: "work", Run: func(ctx context.Context, _ *farm.Run) error {
		close(started)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

type events struct {
	mu  sync.Mutex
	all []event.Event
}

func (e *events) Observe(ev event.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) warnings() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		if ev.Kind == event.Warning {
			out = append(out, ev.Message)
		}
	}
	return out
}

// TestFarmLeaseAcrossHosts runs two orchestrators on two "hosts" (two lock
// directories, two host names) over one simulated farm: the farm lease keeps
// the second off while the first runs, is renewed every TTL/3, and is
// released at the end.
func TestFarmLeaseAcrossHosts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{})
		require.NoError(t, err)
		leaser := sim.Services()
		const ttl = 30 * time.Second
		cfgA := farm.PlanConfig{Label: "release v2", Lock: farm.LockConfig{Dir: t.TempDir(), Host: "host-a", Leaser: leaser, LeaseTTL: ttl}}
		cfgB := farm.PlanConfig{Label: "release v3", Lock: farm.LockConfig{Dir: t.TempDir(), Host: "host-b", Leaser: sim.Services(), LeaseTTL: ttl}}
		started, release := make(chan struct{}), make(chan struct{})
		a := simPlan(t, sim, cfgA, blockingStep(started, release))
		done := make(chan error)
		go func() {
			_, err := a.Run(t.Context())
			done <- err
		}()
		<-started
		target := a.Farm().LeaseTarget().Target()
		assert.Equal(t, "fe01", target.Name, "held on the Deployment Controller")
		lease, ok, err := leaser.ReadLease(t.Context(), target, a.Farm().Identity())
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "host-a", lease.Holder.Host)
		acquired := lease.Acquired

		ev := &events{}
		cfgB.Observer = ev
		_, err = simPlan(t, sim, cfgB, farm.Step{ID: "work", Run: func(context.Context, *farm.Run) error {
			t.Error("the second run ran a step")
			return nil
		}}).Run(t.Context())
		require.ErrorIs(t, err, lock.ErrLocked)
		require.ErrorIs(t, err, drivers.ErrLeaseHeld)
		assert.ErrorContains(t, err, "@host-a pid ")
		assert.ErrorContains(t, err, "(release v2)")
		assert.ErrorContains(t, err, "balancedctl unlock --force "+lease.Holder.RunID)

		time.Sleep(2 * ttl) // six renewals
		synctest.Wait()
		lease, ok, err = leaser.ReadLease(t.Context(), target, a.Farm().Identity())
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, acquired, lease.Acquired)
		assert.False(t, lease.Expired(time.Now()), "renewed while the run lives")
		assert.LessOrEqual(t, time.Since(lease.Renewed), ttl/3)

		close(release)
		require.NoError(t, <-done)
		_, ok, err = leaser.ReadLease(t.Context(), target, a.Farm().Identity())
		require.NoError(t, err)
		assert.False(t, ok, "released at the end")
		_, err = simPlan(t, sim, cfgB, farm.Step{ID: "work", Run: func(context.Context, *farm.Run) error { return nil }}).Run(t.Context())
		require.NoError(t, err)
	})
}

func TestFarmLeaseTakeover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{})
		require.NoError(t, err)
		leaser := sim.Services()
		noop := farm.Step{ID: "work", Run: func(context.Context, *farm.Run) error { return nil }}
		p := simPlan(t, sim, farm.PlanConfig{}, noop)
		target, id := p.Farm().LeaseTarget().Target(), p.Farm().Identity()
		dead := drivers.LeaseHolder{Host: "host-x", PID: 99, User: "bob", RunID: "R-dead", Release: "release v1"}
		_, err = leaser.AcquireLease(t.Context(), target, drivers.LeaseRequest{Farm: id, Holder: dead, TTL: time.Minute})
		require.NoError(t, err)

		run := func(force string) ([]string, error) {
			ev := &events{}
			_, err := simPlan(t, sim, farm.PlanConfig{Observer: ev, Lock: farm.LockConfig{Dir: t.TempDir(), Leaser: leaser, ForceRunID: force}}, noop).Run(t.Context())
			return ev.warnings(), err
		}
		_, err = run("R-someone-else")
		require.ErrorIs(t, err, lock.ErrLocked, "a force that names another holder is refused")
		assert.ErrorContains(t, err, "bob@host-x pid 99 run R-dead")
		warnings, err := run("R-dead")
		require.NoError(t, err, "a force that names the holder takes the lease over")
		require.NotEmpty(t, warnings)
		assert.Contains(t, warnings[0], "took over the farm lease of bob@host-x pid 99 run R-dead (release v1) by force")

		_, err = leaser.AcquireLease(t.Context(), target, drivers.LeaseRequest{Farm: id, Holder: dead, TTL: time.Minute})
		require.NoError(t, err)
		time.Sleep(time.Minute) // the holder died: its lease expires
		warnings, err = run("")
		require.NoError(t, err, "an expired lease is taken over")
		require.NotEmpty(t, warnings)
		assert.Contains(t, warnings[0], "took over the expired farm lease of bob@host-x pid 99 run R-dead")
	})
}

// TestFarmLeaseLost takes the lease from a live run by force: the run warns
// and halts at its next safe point instead of going on unprotected.
func TestFarmLeaseLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{})
		require.NoError(t, err)
		leaser := sim.Services()
		ev := &events{}
		started, release := make(chan struct{}), make(chan struct{})
		defer close(release)
		p := simPlan(t, sim, farm.PlanConfig{Observer: ev, Lock: farm.LockConfig{Leaser: leaser, LeaseTTL: 30 * time.Second}},
			blockingStep(started, release), farm.Step{ID: "after", Run: func(context.Context, *farm.Run) error {
				t.Error("the run went on without its lease")
				return nil
			}})
		done := make(chan error)
		go func() {
			_, err := p.Run(t.Context())
			done <- err
		}()
		<-started
		target, id := p.Farm().LeaseTarget().Target(), p.Farm().Identity()
		lease, _, err := leaser.ReadLease(t.Context(), target, id)
		require.NoError(t, err)
		_, err = leaser.AcquireLease(t.Context(), target, drivers.LeaseRequest{Farm: id, TTL: time.Hour, Force: true, ForceHolder: lease.Holder.RunID,
			Holder: drivers.LeaseHolder{Host: "host-b", RunID: "R-other"}})
		require.NoError(t, err)
		select {
		case err = <-done:
		case <-time.After(time.Minute): // two renewals: the loss is seen at the first
			t.Fatal("the run went on without its lease")
		}
		require.ErrorIs(t, err, farm.ErrHalted)
		assert.Contains(t, strings.Join(ev.warnings(), "\n"), "the farm lease was taken by another run: stopping at the next safe point")
		l, _, err := leaser.ReadLease(t.Context(), target, id)
		require.NoError(t, err)
		assert.Equal(t, "R-other", l.Holder.RunID, "the lost run does not release a lease it no longer holds")
	})
}

func TestNoLeaseWarns(t *testing.T) {
	sim, err := simulate.New(simulate.Config{})
	require.NoError(t, err)
	noop := farm.Step{ID: "work", Run: func(context.Context, *farm.Run) error { return nil }}
	ev := &events{}
	_, err = simPlan(t, sim, farm.PlanConfig{Observer: ev, Journal: &memJournal{}, Lock: farm.LockConfig{Dir: t.TempDir()}}, noop).Run(t.Context())
	require.NoError(t, err)
	require.Len(t, ev.warnings(), 1)
	assert.Contains(t, ev.warnings()[0], "only runs on this host are kept off it")
}
