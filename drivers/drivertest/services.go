package drivertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
)

// ServiceControllerHarness is what a [drivers.ServiceController]'s test
// gives the suite.
type ServiceControllerHarness struct {
	// New returns a fresh controller over servers where every service of
	// Services exists on every target of Targets. It is called once per
	// subtest; register cleanup with t.Cleanup. Required.
	New func(t *testing.T) drivers.ServiceController
	// Targets names at least two servers the controller reaches. Required.
	Targets []drivers.Target
	// Services lists the services present on every target. Empty means
	// drivers.SchedulerService and drivers.DeploymentService.
	Services []drivers.Service
	// Missing is a service that does not exist on Targets[0] (the
	// Deployment Controller service on a server without that role). Empty
	// means the harness has none: the MissingService subtest is skipped as
	// unimplemented.
	Missing drivers.Service
	// Settle is how long the suite waits for a pending state (start-pending,
	// stop-pending) to end after a call returned. Zero means 10 seconds.
	Settle time.Duration
	// Options are the settings every harness has (Prompt, KnownDefects,
	// Bubble).
	Options
}

// RunServiceController runs the ServiceController conformance suite. Each
// check is a named subtest of t.
func RunServiceController(t *testing.T, h ServiceControllerHarness) {
	t.Helper()
	require.NotNil(t, h.New, "drivertest: ServiceControllerHarness.New is required")
	require.GreaterOrEqual(t, len(h.Targets), 2, "drivertest: ServiceControllerHarness.Targets must name at least 2 servers")
	if len(h.Services) == 0 {
		h.Services = []drivers.Service{drivers.SchedulerService, drivers.DeploymentService}
	}
	s := services{h: h}
	s.h.run(t, "States", s.states)
	s.h.run(t, "Stop", s.stop)
	s.h.run(t, "StopIdempotent", s.stopIdempotent)
	s.h.run(t, "Restore", s.restore)
	s.h.run(t, "RestoreAfterStop", s.restoreAfterStop)
	s.h.run(t, "Isolation", s.isolation)
	s.h.run(t, "InvalidState", s.invalidState)
	s.h.run(t, "UnknownService", s.unknownService)
	s.h.run(t, "MissingService", s.missingService)
	s.h.run(t, "HostileTarget", s.hostileTarget)
	s.h.run(t, "ContextDone", s.contextDone)
	s.h.run(t, "Concurrent", s.concurrent)
	s.h.run(t, "IdleReporter", s.idleReporter)
	s.h.run(t, "FarmLeaser", s.farmLeaser)
	s.h.run(t, "FarmLeaserConcurrent", s.farmLeaserConcurrent)
}

type services struct {
	h ServiceControllerHarness
}

var (
	runStates     = []drivers.RunState{drivers.Running, drivers.Stopped, drivers.StartPending, drivers.StopPending}
	startupTypes  = []drivers.StartupType{drivers.Automatic, drivers.AutomaticDelayedStart, drivers.Manual, drivers.Disabled}
	stoppedOff    = drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}
	runningAuto   = drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}
	restoreStates = []drivers.ServiceState{
		runningAuto,
		{Run: drivers.Stopped, Startup: drivers.Manual},
		{Run: drivers.Running, Startup: drivers.AutomaticDelayedStart},
		{Run: drivers.Running, Startup: drivers.Manual},
		{Run: drivers.Stopped, Startup: drivers.Automatic},
		stoppedOff,
	}
)

func (s services) fresh(t *testing.T) drivers.ServiceController {
	return fresh(t, s.h.New, "ServiceControllerHarness")
}

func (s services) settle() time.Duration {
	if s.h.Settle > 0 {
		return s.h.Settle
	}
	return 10 * time.Second
}

// read reads a state, waiting out pending states.
func (s services) read(t *testing.T, sc drivers.ServiceController, tg drivers.Target, svc drivers.Service) drivers.ServiceState {
	t.Helper()
	deadline := time.Now().Add(s.settle())
	for {
		st, err := sc.ServiceState(ctx(t), tg, svc)
		require.NoError(t, err, "ServiceState(%s, %s)", tg.Name, svc)
		require.Contains(t, runStates, st.Run, "ServiceState(%s, %s): run state", tg.Name, svc)
		require.Contains(t, startupTypes, st.Startup, "ServiceState(%s, %s): startup type", tg.Name, svc)
		if st.Run != drivers.StartPending && st.Run != drivers.StopPending {
			return st
		}
		if time.Now().After(deadline) {
			require.Failf(t, "pending state did not end", "ServiceState(%s, %s) still reads %s after %v", tg.Name, svc, st.Run, s.settle())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s services) want(t *testing.T, sc drivers.ServiceController, tg drivers.Target, svc drivers.Service, want drivers.ServiceState, msg string) {
	t.Helper()
	assert.Equal(t, want, s.read(t, sc, tg, svc), "%s: %s on %s", msg, svc, tg.Name)
}

func (s services) states(t *testing.T) {
	sc := s.fresh(t)
	for _, tg := range s.h.Targets {
		for _, svc := range s.h.Services {
			s.read(t, sc, tg, svc)
		}
	}
}

func (s services) stop(t *testing.T) {
	sc := s.fresh(t)
	tg, svc := s.h.Targets[0], s.h.Services[0]
	require.NoError(t, sc.RestoreService(ctx(t), tg, svc, runningAuto))
	require.NoError(t, sc.StopService(ctx(t), tg, svc), "StopService(%s, %s)", tg.Name, svc)
	s.want(t, sc, tg, svc, stoppedOff, "StopService must stop the service and set its startup type to Disabled")
}

func (s services) stopIdempotent(t *testing.T) {
	sc := s.fresh(t)
	tg, svc := s.h.Targets[1], s.h.Services[0]
	for i := range 3 {
		require.NoError(t, sc.StopService(ctx(t), tg, svc), "StopService call %d: stopping a stopped, disabled service must succeed", i+1)
		s.want(t, sc, tg, svc, stoppedOff, "after repeated StopService")
	}
}

func (s services) restore(t *testing.T) {
	sc := s.fresh(t)
	tg, svc := s.h.Targets[0], s.h.Services[len(s.h.Services)-1]
	for _, want := range restoreStates {
		for range 2 {
			require.NoError(t, sc.RestoreService(ctx(t), tg, svc, want), "RestoreService(%s, %s, %+v)", tg.Name, svc, want)
			s.want(t, sc, tg, svc, want, fmt.Sprintf("after RestoreService(%s/%s)", want.Run, want.Startup))
		}
	}
}

func (s services) restoreAfterStop(t *testing.T) {
	sc := s.fresh(t)
	tg, svc := s.h.Targets[1], s.h.Services[0]
	require.NoError(t, sc.StopService(ctx(t), tg, svc))
	require.NoError(t, sc.RestoreService(ctx(t), tg, svc, runningAuto), "a stopped, disabled service must be restorable")
	s.want(t, sc, tg, svc, runningAuto, "after StopService then RestoreService(running/Automatic)")
}

// isolation checks that one call changes one service on one server.
func (s services) isolation(t *testing.T) {
	sc := s.fresh(t)
	a, b := s.h.Targets[0], s.h.Targets[1]
	for _, tg := range s.h.Targets[:2] {
		for _, svc := range s.h.Services {
			require.NoError(t, sc.RestoreService(ctx(t), tg, svc, runningAuto))
		}
	}
	svc := s.h.Services[0]
	require.NoError(t, sc.StopService(ctx(t), a, svc))
	s.want(t, sc, a, svc, stoppedOff, "the service stopped")
	s.want(t, sc, b, svc, runningAuto, "the same service on another server must not change")
	for _, other := range s.h.Services[1:] {
		s.want(t, sc, a, other, runningAuto, "another service on the same server must not change")
	}
}

func (s services) invalidState(t *testing.T) {
	sc := s.fresh(t)
	tg, svc := s.h.Targets[0], s.h.Services[0]
	require.NoError(t, sc.RestoreService(ctx(t), tg, svc, runningAuto))
	for _, bad := range []drivers.ServiceState{
		{Run: "paused", Startup: drivers.Automatic},
		{Run: "", Startup: drivers.Automatic},
		{Run: drivers.Running, Startup: "Boot"},
		{Run: drivers.Stopped, Startup: ""},
	} {
		err := sc.RestoreService(ctx(t), tg, svc, bad)
		require.Error(t, err, "RestoreService(%+v) must be refused", bad)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "RestoreService(%+v)", bad)
	}
	s.want(t, sc, tg, svc, runningAuto, "a refused RestoreService must change nothing")
}

const unknownService = drivers.Service("drivertest-no-such-role")

func (s services) unknownService(t *testing.T) {
	sc := s.fresh(t)
	tg := s.h.Targets[0]
	calls := map[string]func() error{
		"ServiceState": func() error { _, err := sc.ServiceState(ctx(t), tg, unknownService); return err },
		"StopService":  func() error { return sc.StopService(ctx(t), tg, unknownService) },
		"RestoreService": func() error {
			return sc.RestoreService(ctx(t), tg, unknownService, runningAuto)
		},
	}
	for name, call := range calls {
		err := call()
		require.Error(t, err, "%s(%q) must fail", name, unknownService)
		assert.True(t, isAny(err, drivers.ErrInvalidArgument, drivers.ErrNotFound), "%s(%q): want ErrInvalidArgument or ErrNotFound, got %v", name, unknownService, err)
		assert.Contains(t, err.Error(), string(unknownService), "%s: the error must name the service", name)
	}
}

func (s services) missingService(t *testing.T) {
	if s.h.Missing == "" {
		t.Skip("unimplemented: the harness names no missing service (ServiceControllerHarness.Missing is empty)")
	}
	sc := s.fresh(t)
	_, err := sc.ServiceState(ctx(t), s.h.Targets[0], s.h.Missing)
	require.Error(t, err)
	assert.ErrorIs(t, err, drivers.ErrNotFound, "a service that does not exist on the target is reported with ErrNotFound")
}

// hostileTargets would inject commands into a shell or a script if a
// driver passed them through unchecked.
var hostileTargets = []drivers.Target{
	{Name: "fe01; Stop-Computer", Address: "fe01; Stop-Computer"},
	{Name: "fe01'; Stop-Computer; '", Address: "fe01'; Stop-Computer; '"},
	{Name: "$(reboot)", Address: "$(reboot)"},
	{Name: "fe01\nStop-Computer", Address: "fe01\nStop-Computer"},
	{Name: "", Address: ""},
}

func (s services) hostileTarget(t *testing.T) {
	sc := s.fresh(t)
	svc := s.h.Services[0]
	for _, tg := range s.h.Targets[:2] {
		require.NoError(t, sc.RestoreService(ctx(t), tg, svc, runningAuto))
	}
	for _, tg := range hostileTargets {
		c, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		assert.Error(t, sc.StopService(c, tg, svc), "StopService(%q) must fail", tg.Name)
		_, err := sc.ServiceState(c, tg, svc)
		assert.Error(t, err, "ServiceState(%q) must fail", tg.Name)
		cancel()
	}
	for _, tg := range s.h.Targets[:2] {
		s.want(t, sc, tg, svc, runningAuto, "a hostile target must change no real server")
	}
}

func (s services) contextDone(t *testing.T) {
	sc := s.fresh(t)
	tg, svc := s.h.Targets[0], s.h.Services[0]
	s.h.checkDone(t, "StopService", func(c context.Context) error { return sc.StopService(c, tg, svc) })
	s.h.checkDone(t, "RestoreService", func(c context.Context) error { return sc.RestoreService(c, tg, svc, runningAuto) })
	s.h.checkDone(t, "ServiceState", func(c context.Context) error { _, err := sc.ServiceState(c, tg, svc); return err })
	if ir, ok := sc.(drivers.IdleReporter); ok {
		s.h.checkDone(t, "DeploymentIdle", func(c context.Context) error { _, err := ir.DeploymentIdle(c, tg); return err })
	}
}

// concurrent stops and restores every service on every target from its own
// goroutine, reading states meanwhile, and checks the final states.
func (s services) concurrent(t *testing.T) {
	sc := s.fresh(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100*len(s.h.Targets)*len(s.h.Services))
	for ti, tg := range s.h.Targets {
		for si, svc := range s.h.Services {
			final := runningAuto
			if (ti+si)%2 == 0 {
				final = stoppedOff
			}
			wg.Go(func() {
				for range 3 {
					if err := sc.StopService(ctx(t), tg, svc); err != nil {
						errs <- fmt.Errorf("StopService(%s, %s): %w", tg.Name, svc, err)
					}
					if err := sc.RestoreService(ctx(t), tg, svc, final); err != nil {
						errs <- fmt.Errorf("RestoreService(%s, %s): %w", tg.Name, svc, err)
					}
					if _, err := sc.ServiceState(ctx(t), tg, svc); err != nil {
						errs <- fmt.Errorf("ServiceState(%s, %s): %w", tg.Name, svc, err)
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	for ti, tg := range s.h.Targets {
		for si, svc := range s.h.Services {
			final := runningAuto
			if (ti+si)%2 == 0 {
				final = stoppedOff
			}
			s.want(t, sc, tg, svc, final, "after concurrent calls")
		}
	}
}

func (s services) idleReporter(t *testing.T) {
	sc := s.fresh(t)
	ir, ok := sc.(drivers.IdleReporter)
	if !ok {
		t.Skipf("unimplemented: %T does not implement drivers.IdleReporter", sc)
	}
	for _, tg := range s.h.Targets {
		_, err := ir.DeploymentIdle(ctx(t), tg)
		assert.NoError(t, err, "DeploymentIdle(%s)", tg.Name)
	}
}

func holder(run string) drivers.LeaseHolder {
	return drivers.LeaseHolder{Host: "drivertest-host", PID: 4242, User: "drivertest", RunID: run, Release: "2.0"}
}

func (s services) leaser(t *testing.T) (drivers.FarmLeaser, drivers.Target) {
	sc := s.fresh(t)
	fl, ok := sc.(drivers.FarmLeaser)
	if !ok {
		t.Skipf("unimplemented: %T does not implement drivers.FarmLeaser", sc)
	}
	return fl, s.h.Targets[0]
}

// farmLeaser walks a lease through its life: acquire, read, refuse another
// run, resume by the same run, renew, force, release.
func (s services) farmLeaser(t *testing.T) {
	fl, tg := s.leaser(t)
	const farm = "drivertest-farm"
	ttl := time.Minute
	_, ok, err := fl.ReadLease(ctx(t), tg, farm)
	require.NoError(t, err, "ReadLease with no lease")
	assert.False(t, ok, "ReadLease must report no lease on a fresh farm")

	a, b := holder("run-a"), holder("run-b")
	l, err := fl.AcquireLease(ctx(t), tg, drivers.LeaseRequest{Farm: farm, Holder: a, TTL: ttl})
	require.NoError(t, err, "AcquireLease with no lease")
	assert.Equal(t, farm, l.Farm)
	assert.Equal(t, a, l.Holder)
	assert.True(t, l.Expires.After(l.Acquired), "a lease expires after it is acquired")
	read, ok, err := fl.ReadLease(ctx(t), tg, farm)
	require.NoError(t, err)
	require.True(t, ok, "ReadLease after AcquireLease")
	assert.Equal(t, a, read.Holder)

	_, err = fl.AcquireLease(ctx(t), tg, drivers.LeaseRequest{Farm: farm, Holder: b, TTL: ttl})
	require.ErrorIs(t, err, drivers.ErrLeaseHeld, "another run must be refused while the lease lives")
	var held *drivers.LeaseHeldError
	if assert.ErrorAs(t, err, &held, "the refusal is a *drivers.LeaseHeldError") {
		assert.Equal(t, a.RunID, held.Lease.Holder.RunID, "the refusal names the holder")
	}
	_, err = fl.AcquireLease(ctx(t), tg, drivers.LeaseRequest{Farm: farm, Holder: a, TTL: ttl})
	require.NoError(t, err, "the same run acquiring again (a resume) must succeed")

	renewed, err := fl.RenewLease(ctx(t), tg, farm, a.RunID, ttl)
	require.NoError(t, err, "RenewLease by the holder")
	assert.False(t, renewed.Expires.Before(l.Expires), "a renewal does not shorten the lease")
	_, err = fl.RenewLease(ctx(t), tg, farm, b.RunID, ttl)
	assert.ErrorIs(t, err, drivers.ErrLeaseHeld, "RenewLease by another run")

	_, err = fl.AcquireLease(ctx(t), tg, drivers.LeaseRequest{Farm: farm, Holder: b, TTL: ttl, Force: true, ForceHolder: "run-other"})
	assert.ErrorIs(t, err, drivers.ErrLeaseHeld, "Force naming another holder than the current one must be refused")
	l, err = fl.AcquireLease(ctx(t), tg, drivers.LeaseRequest{Farm: farm, Holder: b, TTL: ttl, Force: true, ForceHolder: a.RunID})
	require.NoError(t, err, "Force naming the current holder")
	assert.Equal(t, b, l.Holder)

	require.NoError(t, fl.ReleaseLease(ctx(t), tg, farm, a.RunID), "releasing a lease held by another run succeeds and does nothing")
	read, ok, err = fl.ReadLease(ctx(t), tg, farm)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, b.RunID, read.Holder.RunID, "a release by a run that does not hold the lease must not remove it")
	require.NoError(t, fl.ReleaseLease(ctx(t), tg, farm, b.RunID))
	_, ok, err = fl.ReadLease(ctx(t), tg, farm)
	require.NoError(t, err)
	assert.False(t, ok, "no lease after its holder released it")
	require.NoError(t, fl.ReleaseLease(ctx(t), tg, farm, b.RunID), "releasing an absent lease succeeds")
	_, err = fl.RenewLease(ctx(t), tg, farm, b.RunID, ttl)
	assert.ErrorIs(t, err, drivers.ErrNotFound, "RenewLease with no lease")
}

// farmLeaserConcurrent checks that of concurrent AcquireLease calls for one
// farm, exactly one succeeds.
func (s services) farmLeaserConcurrent(t *testing.T) {
	fl, tg := s.leaser(t)
	const farm = "drivertest-race"
	const n = 8
	var wg sync.WaitGroup
	won := make(chan string, n)
	errs := make(chan error, n)
	for i := range n {
		run := fmt.Sprintf("run-%d", i)
		wg.Go(func() {
			_, err := fl.AcquireLease(ctx(t), tg, drivers.LeaseRequest{Farm: farm, Holder: holder(run), TTL: time.Minute})
			switch {
			case err == nil:
				won <- run
			case !isAny(err, drivers.ErrLeaseHeld):
				errs <- err
			}
		})
	}
	wg.Wait()
	close(won)
	close(errs)
	for err := range errs {
		assert.NoError(t, err, "a losing AcquireLease must fail with ErrLeaseHeld")
	}
	winners := slices.Collect(chanSeq(won))
	assert.Len(t, winners, 1, "exactly one of %d concurrent AcquireLease calls must succeed, got %q", n, winners)
}

func chanSeq[T any](c <-chan T) func(func(T) bool) {
	return func(yield func(T) bool) {
		for v := range c {
			if !yield(v) {
				return
			}
		}
	}
}
