package simulate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
)

// Op names an operation of the simulated farm, as faults (fault.Fault.Op)
// and recorded actions refer to it. The driver methods have one Op each;
// OpInstall, OpPublish and OpApply are the platform's own work. It is a string, so
// that the constants fill fault.Fault.Op.
type Op = string

// Operations.
const (
	OpStopService        Op = "StopService"
	OpRestoreService     Op = "RestoreService"
	OpServiceState       Op = "ServiceState"
	OpDeploymentIdle     Op = "DeploymentIdle"
	OpSetState           Op = "SetState"
	OpStatus             Op = "Status"
	OpSwitch             Op = "Switch"
	OpStartDeployment    Op = "StartDeployment"
	OpDeploymentStatus   Op = "DeploymentStatus"
	OpDeployedRelease    Op = "DeployedRelease"
	OpAbortDeployment    Op = "AbortDeployment"
	OpContinueDeployment Op = "ContinueDeployment"
	OpProbe              Op = "Probe"
	// OpInstall is one front-end installing a version. A Fault with Err
	// makes the install fail: the server keeps its old version and its
	// application answers 503 until a later install succeeds.
	OpInstall Op = "Install"
	// OpPublish is the platform publishing a release. A Fault sets the
	// deployment's outcome when the publish ends (Fault.State, Fault.Info).
	OpPublish Op = "Publish"
	// OpApply is the platform's second stage of a deployment: applying the
	// database changes and switching the running versions (in a two-stage
	// environment, once the deployment is continued; in a one-stage one,
	// right after the first stage). A Fault sets how it ends, as for
	// OpPublish, but only in finished_with_errors or aborted (a
	// [PublishOutcome] with drivers.DeploymentFailed or
	// drivers.DeploymentAborted, or any other Err for finished_with_errors):
	// nothing is published then, the database schema and every server keep
	// their version, as after a failed first stage.
	OpApply Op = "Apply"
)

var allOps = []Op{OpStopService, OpRestoreService, OpServiceState, OpDeploymentIdle, OpSetState, OpStatus, OpSwitch,
	OpStartDeployment, OpDeploymentStatus, OpDeployedRelease, OpAbortDeployment, OpContinueDeployment, OpProbe, OpInstall, OpPublish, OpApply}

// Fault is the fault type of package fault.
//
// Deprecated: use fault.Fault with [Sim.Inject]; Server is now Target,
// AfterCalls After, and a publish outcome is a [PublishOutcome] as Err.
type Fault = fault.Fault

// PublishOutcome is the Err of a fault on OpPublish that chooses how the
// publish ends. Any other Err on OpPublish makes the publish end
// finished_with_errors with Err's text in the deployment log.
type PublishOutcome struct {
	// State is the state the deployment ends in:
	// drivers.DeploymentFailed, drivers.DeploymentNeedsUserIntervention
	// (continue it with ContinueDeployment) or drivers.DeploymentAborted.
	State drivers.DeploymentState
	// Info qualifies drivers.DeploymentNeedsUserIntervention, for example
	// "deployment_prepared"; empty for the other states.
	Info string
}

// Error describes the outcome.
func (o PublishOutcome) Error() string {
	if o.Info == "" {
		return "publish ended " + string(o.State)
	}
	return "publish ended " + string(o.State) + " (" + o.Info + ")"
}

// Inject adds f (package fault documents every field). Faults apply in the
// order they were added; the first one that hits a call decides its
// reaction. The simulator names its calls by the Op constants (an empty Op
// matches every driver call, not OpInstall, OpPublish nor OpApply) and their targets
// by server name: a fault's Target matches a call on that server or one
// naming it among its members. It reads Latency (added to the call's
// simulated duration; for OpInstall, to the install's), Err (returned by the
// call wrapped, and the call has no effect; for OpInstall the install fails
// and the server keeps its old version, its application answering 503 until
// a later install succeeds; for OpPublish and OpApply see [PublishOutcome]) and
// AfterEffect (the call takes effect and still returns Err: an ambiguous
// failure such as a timeout after the change was committed; such an Err
// must not wrap drivers.ErrUnavailable). Probability draws from
// Config.Seed.
func (s *Sim) Inject(f fault.Fault) error {
	if f.Op != "" && !slices.Contains(allOps, f.Op) {
		return fmt.Errorf("%w: fault operation %q: want one of the Op constants", drivers.ErrInvalidArgument, f.Op)
	}
	if f.AfterEffect && errors.Is(f.Err, drivers.ErrUnavailable) {
		return fmt.Errorf("%w: fault with AfterEffect wraps ErrUnavailable: that class promises the change did not take effect", drivers.ErrInvalidArgument)
	}
	switch f.Op {
	case OpStartDeployment, OpDeploymentStatus, OpDeployedRelease, OpAbortDeployment, OpContinueDeployment, OpPublish, OpApply:
		if f.Target != "" {
			return fmt.Errorf("%w: fault on %s names server %q: platform operations concern no server, want Target empty", drivers.ErrInvalidArgument, f.Op, f.Target)
		}
	}
	if f.Op == OpPublish {
		var out PublishOutcome
		switch {
		case f.Err == nil:
			return fmt.Errorf("%w: publish fault without Err: want a PublishOutcome or the error the publish fails with", drivers.ErrInvalidArgument)
		case !errors.As(f.Err, &out):
		case out.State == drivers.DeploymentFailed, out.State == drivers.DeploymentNeedsUserIntervention, out.State == drivers.DeploymentAborted:
		default:
			return fmt.Errorf("%w: publish fault state %q: want finished_with_errors, needs_user_intervention or aborted", drivers.ErrInvalidArgument, out.State)
		}
	}
	if f.Op == OpApply {
		var out PublishOutcome
		switch {
		case f.Err == nil:
			return fmt.Errorf("%w: apply fault without Err: want a PublishOutcome or the error the second stage fails with", drivers.ErrInvalidArgument)
		case !errors.As(f.Err, &out):
		case out.State == drivers.DeploymentFailed, out.State == drivers.DeploymentAborted:
		default:
			return fmt.Errorf("%w: apply fault state %q: want finished_with_errors or aborted", drivers.ErrInvalidArgument, out.State)
		}
	}
	if f.Target != "" {
		s.mu.Lock()
		_, ok := s.byName[f.Target]
		s.mu.Unlock()
		if !ok {
			return fmt.Errorf("%w: fault server %q: want one of the simulated farm's servers", drivers.ErrNotFound, f.Target)
		}
	}
	set := &s.faults
	if isWork(f.Op) {
		set = &s.work
	}
	set.Seed = s.cfg.Seed
	if err := set.Add(f, fault.FieldLatency, fault.FieldErr, fault.FieldAfterEffect); err != nil {
		return fmt.Errorf("%w: %w", drivers.ErrInvalidArgument, err)
	}
	return nil
}

// InjectFault adds f.
//
// Deprecated: use [Sim.Inject], which it calls.
func (s *Sim) InjectFault(f fault.Fault) error { return s.Inject(f) }

// ClearFaults removes every injected fault.
func (s *Sim) ClearFaults() {
	s.faults.Clear()
	s.work.Clear()
}

// Crash takes server's application down now: requests in flight are reset,
// new ones routed to it fail until the load balancer's health checks notice
// (Config.HealthCheckDelay). With downFor > 0 it recovers after that long;
// otherwise it stays down until [Sim.Recover]. Services and installed
// version are unaffected. To crash a server later, call Crash from
// time.AfterFunc (it runs in simulated time under testing/synctest).
func (s *Sim) Crash(server string, downFor time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	srv, ok := s.byName[server]
	if !ok {
		return fmt.Errorf("%w: server %q: want one of the simulated farm's servers", drivers.ErrNotFound, server)
	}
	s.crash(srv, downFor)
	return nil
}

// Recover brings a crashed server's application back.
func (s *Sim) Recover(server string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	srv, ok := s.byName[server]
	if !ok {
		return fmt.Errorf("%w: server %q: want one of the simulated farm's servers", drivers.ErrNotFound, server)
	}
	srv.crashGen++
	s.recover(srv)
	return nil
}

// isWork says whether op is the platform's own work rather than a driver
// call: an empty Op (every driver call) does not match it.
func isWork(op Op) bool { return op == OpInstall || op == OpPublish || op == OpApply }

// matchFault returns the fault that hits this call, if any.
func (s *Sim) matchFault(op Op, servers []string) *fault.Fault {
	set := &s.faults
	if isWork(op) {
		set = &s.work
	}
	f, ok := set.Match(op, servers...)
	if !ok {
		return nil
	}
	return &f
}

// installFault reports whether an install on srv fails, and how much longer
// than Config.InstallDuration it takes.
func (s *Sim) installFault(srv *server) (time.Duration, error) {
	f := s.matchFault(OpInstall, []string{srv.name})
	if f == nil {
		return 0, nil
	}
	return f.Latency, f.Err
}

// call runs one driver operation: it records it, applies any injected
// fault, takes the operation's simulated time, then advances the simulation
// and applies the change under the lock.
func (s *Sim) call(ctx context.Context, op Op, zone string, servers []string, detail string, latency time.Duration, apply func() error) error {
	f := s.matchFault(op, servers)
	if f != nil {
		latency += f.Latency
	}
	if err := sleep(ctx, latency); err != nil {
		err = fmt.Errorf("simulate: %s %s: %w", op, strings.Join(servers, ","), err)
		s.mu.Lock()
		s.advance(time.Now())
		s.record(op, zone, servers, detail, err)
		s.mu.Unlock()
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	var err error
	if f != nil && f.Err != nil && !f.AfterEffect {
		err = fmt.Errorf("simulate: injected fault on %s %s: %w", op, strings.Join(servers, ","), f.Err)
	} else {
		err = apply()
		if err == nil && f != nil && f.Err != nil {
			err = fmt.Errorf("simulate: injected fault on %s %s after it took effect: %w", op, strings.Join(servers, ","), f.Err)
		}
	}
	s.record(op, zone, servers, detail, err)
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// SetServiceState changes a service on server behind the procedure's back,
// as an operator or a watchdog that restarts stopped services would: the
// change is not a driver call and is not recorded as an action. It checks
// the same invariants as a driver call.
func (s *Sim) SetServiceState(server string, svc drivers.Service, st drivers.ServiceState) error {
	if st.Run != drivers.Running && st.Run != drivers.Stopped {
		return fmt.Errorf("%w: run state %q: want running or stopped", drivers.ErrInvalidArgument, st.Run)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	srv, err := s.service(drivers.Target{Name: server}, svc)
	if err != nil {
		return err
	}
	s.setService(srv, svc, st)
	return nil
}

// ResetLoadBalancer puts every member of zone's load balancer (every zone's
// when zone is empty) back to serving behind the procedure's back, as a
// reload does of a load balancer whose configuration lists every member
// enabled and keeps no runtime state (an HAProxy reload without a server
// state file forgets the "drain" and "maint" states set over its Runtime
// API; an NGINX Plus reload, the API's state of a member not in the
// configuration file). Health-check verdicts are kept, as HAProxy keeps
// them with load-server-state-from-file; a load balancer that assumes new
// members healthy until checks fail is not modelled. The change is not a
// driver call and is not recorded as an action.
func (s *Sim) ResetLoadBalancer(zone string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	found := zone == ""
	var srvs []*server
	for _, srv := range s.servers {
		if zone == "" || srv.zone == zone {
			found = true
			srvs = append(srvs, srv)
		}
	}
	if !found {
		return fmt.Errorf("%w: zone %q: want one of %v", drivers.ErrNotFound, zone, s.Zones())
	}
	s.logf("load balancer reset", "zone", zone)
	for _, srv := range srvs {
		s.setMember(srv, drivers.Serving)
	}
	s.membersChanged(srvs)
	return nil
}
