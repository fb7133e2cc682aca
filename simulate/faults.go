package simulate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Op names an operation of the simulated farm, as faults and recorded
// actions refer to it. The driver methods have one Op each; OpInstall and
// OpPublish are the platform's own work.
type Op string

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
)

var allOps = []Op{OpStopService, OpRestoreService, OpServiceState, OpDeploymentIdle, OpSetState, OpStatus, OpSwitch,
	OpStartDeployment, OpDeploymentStatus, OpDeployedRelease, OpAbortDeployment, OpContinueDeployment, OpProbe, OpInstall, OpPublish}

// Fault is a reaction injected into matching operations with
// [Sim.InjectFault]. A call matches when Op equals the call's operation
// (empty matches every driver call) and Server is empty or names the target
// server or one of the members the call names.
type Fault struct {
	Op     Op
	Server string
	// Err is returned by the call, which then has no effect, unless
	// AfterEffect is set. Wrap a drivers error class in it
	// (drivers.ErrUnavailable...) to test the caller's handling. For
	// OpInstall it makes the install fail.
	Err error
	// AfterEffect makes the call take effect and still return Err: an
	// ambiguous failure such as a timeout after the change was committed.
	// Such an Err must not wrap drivers.ErrUnavailable.
	AfterEffect bool
	// Latency is added to the call's duration; for OpInstall, to the
	// install's.
	Latency time.Duration
	// AfterCalls lets the first AfterCalls matching calls through.
	AfterCalls int
	// Times is how many calls the fault hits; zero means every call.
	Times int
	// Probability, between 0 and 1, hits each matching call with that
	// chance, drawn deterministically from Config.Seed, the operation, the
	// server and the call's rank. Zero means every matching call.
	Probability float64
	// State is the outcome of a publish, for OpPublish:
	// drivers.DeploymentFailed, drivers.DeploymentNeedsUserIntervention
	// (continue it with ContinueDeployment) or drivers.DeploymentAborted.
	State drivers.DeploymentState
	// Info qualifies DeploymentNeedsUserIntervention (for example
	// "deployment_prepared").
	Info string
}

type faultState struct {
	Fault
	index   int
	matched int
	hits    int
	ranks   map[string]int
}

// InjectFault adds f. Faults apply in the order they were added; the first
// one that hits a call decides its reaction.
func (s *Sim) InjectFault(f Fault) error {
	if f.Op != "" && !slices.Contains(allOps, f.Op) {
		return fmt.Errorf("%w: fault operation %q: want one of the Op constants", drivers.ErrInvalidArgument, f.Op)
	}
	if f.Probability < 0 || f.Probability > 1 || math.IsNaN(f.Probability) {
		return fmt.Errorf("%w: fault probability %v: want a number between 0 and 1", drivers.ErrInvalidArgument, f.Probability)
	}
	if f.AfterEffect && errors.Is(f.Err, drivers.ErrUnavailable) {
		return fmt.Errorf("%w: fault with AfterEffect wraps ErrUnavailable: that class promises the change did not take effect", drivers.ErrInvalidArgument)
	}
	switch f.Op {
	case OpStartDeployment, OpDeploymentStatus, OpDeployedRelease, OpAbortDeployment, OpContinueDeployment, OpPublish:
		if f.Server != "" {
			return fmt.Errorf("%w: fault on %s names server %q: platform operations concern no server, want Server empty", drivers.ErrInvalidArgument, f.Op, f.Server)
		}
	}
	if f.Op == OpPublish {
		switch f.State {
		case drivers.DeploymentFailed, drivers.DeploymentNeedsUserIntervention, drivers.DeploymentAborted:
		case "":
			if f.Err == nil {
				return fmt.Errorf("%w: publish fault without State or Err: want a deployment outcome", drivers.ErrInvalidArgument)
			}
		default:
			return fmt.Errorf("%w: publish fault state %q: want finished_with_errors, needs_user_intervention or aborted", drivers.ErrInvalidArgument, f.State)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Server != "" {
		if _, ok := s.byName[f.Server]; !ok {
			return fmt.Errorf("%w: fault server %q: want one of the simulated farm's servers", drivers.ErrNotFound, f.Server)
		}
	}
	s.faults = append(s.faults, &faultState{Fault: f, index: len(s.faults), ranks: map[string]int{}})
	return nil
}

// ClearFaults removes every injected fault.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
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

// matchFault returns the fault that hits this call, if any. The caller
// holds s.mu.
func (s *Sim) matchFault(op Op, servers []string) *Fault {
	key := string(op) + "/" + strings.Join(servers, ",")
	for _, f := range s.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		if f.Op == "" && (op == OpInstall || op == OpPublish) {
			continue
		}
		if f.Server != "" && !slices.Contains(servers, f.Server) {
			continue
		}
		f.matched++
		if f.matched <= f.AfterCalls {
			continue
		}
		if f.Times > 0 && f.hits >= f.Times {
			continue
		}
		if f.Probability > 0 {
			f.ranks[key]++
			h := fnv.New64a()
			fmt.Fprintf(h, "%d/%d/%s/%d", s.cfg.Seed, f.index, key, f.ranks[key])
			if float64(mix(h.Sum64())>>11)/float64(1<<53) >= f.Probability {
				continue
			}
		}
		f.hits++
		ff := f.Fault
		return &ff
	}
	return nil
}

// mix is the splitmix64 finalizer: FNV alone barely changes its high bits
// when only the last byte of the input differs.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
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
	s.mu.Lock()
	f := s.matchFault(op, servers)
	s.mu.Unlock()
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
