package steps

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

func (b *balanced) drainUpdating() farm.Step {
	return farm.Step{
		ID:   DrainUpdating,
		Undo: b.undoDrainUpdating,
		Guards: []farm.Guard{
			b.groupOut(GuardUpdatingOut, SwitchTraffic, farm.Updating),
			b.groupCarries(GuardLoadedCarries, SwitchTraffic, farm.Loaded),
		},
		Title: "Take the Updating servers out of the load balancer: drain, wait for their requests to finish, then out",
		Describe: func(z *farm.Zone) []string {
			return []string{"drain then out: members " + strings.Join(z.Updating.Members(), ", ") + "; Loaded " + strings.Join(z.Loaded.Members(), ", ") + " keep serving"}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachZone(ctx, func(ctx context.Context, z *farm.Zone) error {
				return b.drain(ctx, r, z, r.IncludedMembers(z.Updating))
			})
		},
	}
}

func (b *balanced) switchTraffic() farm.Step {
	return farm.Step{
		ID:   SwitchTraffic,
		Undo: b.undoSwitchTraffic,
		Guards: []farm.Guard{
			b.groupOut(GuardLoadedOut, RestoreTraffic, farm.Loaded),
			b.groupCarries(GuardUpdatingCarries, RestoreTraffic, farm.Updating),
		},
		Title: "Switch traffic: Updating servers in, Loaded servers drained and out",
		Describe: func(z *farm.Zone) []string {
			how := "in two moves: Updating in and healthy first, then Loaded drained"
			if _, ok := z.LoadBalancer.(drivers.Switcher); ok {
				how = "in one load-balancer transaction"
			}
			return []string{"serve " + strings.Join(z.Updating.Members(), ", ") + "; drain then out " + strings.Join(z.Loaded.Members(), ", ") + " (" + how + ")"}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachZone(ctx, func(ctx context.Context, z *farm.Zone) error {
				return b.switchZone(ctx, r, z)
			})
		},
	}
}

func (b *balanced) restoreTraffic() farm.Step {
	return farm.Step{
		ID:    RestoreTraffic,
		Title: "Put the Loaded servers back in the load balancer; verify every member serving and healthy",
		Describe: func(z *farm.Zone) []string {
			return []string{"serve " + strings.Join(z.Loaded.Members(), ", ") + "; then every member of the zone must read serving and healthy"}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachZone(ctx, func(ctx context.Context, z *farm.Zone) error {
				lb := z.LoadBalancer
				loaded := r.IncludedMembers(z.Loaded)
				if len(loaded) == 0 {
					return nil // exclusion never leaves a group empty
				}
				if err := b.warmUp(ctx, r, z, loaded); err != nil {
					return err
				}
				// Every Loaded member served before the run: preflight
				// refuses one that does not.
				if err := lb.SetState(ctx, drivers.Serving, loaded...); err != nil {
					return fmt.Errorf("set %s serving: %w", strings.Join(loaded, ", "), err)
				}
				return b.awaitMembers(ctx, r, z, loaded, drivers.Serving, true)
			})
		},
	}
}

// switchZone moves one zone's traffic from its Loaded group to its Updating
// group.
func (b *balanced) switchZone(ctx context.Context, r *farm.Run, z *farm.Zone) error {
	return b.moveTraffic(ctx, r, z, r.IncludedMembers(z.Updating), r.IncludedMembers(z.Loaded))
}

// moveTraffic puts serve in service (warmed up and healthy first) and takes
// drain out (drained first): in one transaction where the load balancer can,
// otherwise serve in and confirmed healthy before drain is drained. The
// moment traffic moves is not interrupted by cancellation: a move half done
// would leave both groups serving.
func (b *balanced) moveTraffic(ctx context.Context, r *farm.Run, z *farm.Zone, serve, drain []string) error {
	if len(serve) == 0 {
		return fmt.Errorf("no member left to take the traffic")
	}
	sw, atomic := z.LoadBalancer.(drivers.Switcher)
	if !atomic {
		if err := b.moveInTwo(ctx, r, z, serve, drain); err != nil {
			// Whatever failed, and in whichever attempt, never leave both
			// groups serving.
			return b.unserve(ctx, r, z, serve, drain, err)
		}
		return nil
	}
	// The switch sends serve every new request at once: each member that
	// read healthy before the run must read healthy now, not merely "not
	// unhealthy" (a member back from out reads unknown until its first
	// check passes, and takes no traffic meanwhile).
	if err := b.warmUpTo(ctx, r, z, serve, healthyToServe); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.HealthTimeout)
	defer cancel()
	if err := sw.Switch(cctx, serve, drain); err != nil {
		return fmt.Errorf("switch to %s: %w", strings.Join(serve, ", "), err)
	}
	if err := b.drain(ctx, r, z, drain); err != nil {
		return err
	}
	return b.awaitMembers(ctx, r, z, serve, drivers.Serving, true)
}

// moveInTwo moves traffic where the load balancer has no one-transaction
// switch: serve in and confirmed healthy, then drain drained and out.
func (b *balanced) moveInTwo(ctx context.Context, r *farm.Run, z *farm.Zone, serve, drain []string) error {
	if err := b.warmUp(ctx, r, z, serve); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.cfg.HealthTimeout)
	defer cancel()
	if err := z.LoadBalancer.SetState(cctx, drivers.Serving, serve...); err != nil {
		return fmt.Errorf("set %s serving: %w", strings.Join(serve, ", "), err)
	}
	if err := b.awaitMembers(cctx, r, z, serve, drivers.Serving, true); err != nil {
		return err
	}
	// drain sets the members draining itself, so that its wait
	// (DrainPeriod where connections are not counted) starts from its own
	// change, and it must not be cancelled before that change.
	if err := b.drain(context.WithoutCancel(ctx), r, z, drain); err != nil {
		return err
	}
	return b.awaitMembers(ctx, r, z, serve, drivers.Serving, true)
}

// unserve is how a move of traffic in two moves fails safe: serve went in,
// then something failed before drain was out. While a member of drain still
// serves, both versions would serve, so serve is taken out again (drained),
// uncancellably. drain's state is read first (an earlier attempt of the
// step may have changed it), retrying any error since a read changes
// nothing. It returns cause, joined with the error of taking serve out if
// that failed.
func (b *balanced) unserve(ctx context.Context, r *farm.Run, z *farm.Zone, serve, drain []string, cause error) error {
	bctx := context.WithoutCancel(ctx)
	var err error
	for range 20 {
		var sts []drivers.MemberStatus
		if sts, err = z.LoadBalancer.Status(bctx, drain...); err == nil {
			if !slices.ContainsFunc(sts, func(st drivers.MemberStatus) bool { return st.State == drivers.Serving }) {
				return cause // drain is out of traffic: serve alone serves
			}
			if err = b.drain(bctx, r, z, serve); err == nil {
				r.Warn(z.Name, "", "traffic moved back to %s after: %v", strings.Join(drain, ", "), cause)
				return cause
			}
			if !drivers.IsRetryable(err) && !errors.Is(err, errDrainNotStarted) {
				break
			}
		}
		_ = sleep(bctx, b.cfg.PollInterval)
	}
	return errors.Join(cause, fmt.Errorf("take %s out again: %w", strings.Join(serve, ", "), err))
}

// warmUp brings members that are out into draining, where the load balancer
// health-checks them but sends them no new requests, and waits until they
// are not unhealthy. Members already draining or serving are left alone.
func (b *balanced) warmUp(ctx context.Context, r *farm.Run, z *farm.Zone, members []string) error {
	return b.warmUpTo(ctx, r, z, members, healthyAgain)
}

// warmUpTo is warmUp waiting for the given readiness.
func (b *balanced) warmUpTo(ctx context.Context, r *farm.Run, z *farm.Zone, members []string, ready readiness) error {
	if len(members) == 0 {
		return nil // Status with no member means every member
	}
	sts, err := z.LoadBalancer.Status(ctx, members...)
	if err != nil {
		return fmt.Errorf("read members: %w", err)
	}
	var out []string
	for _, st := range sts {
		if st.State == drivers.Out {
			out = append(out, st.Member)
		}
	}
	if len(out) > 0 {
		if err := z.LoadBalancer.SetState(ctx, drivers.Draining, out...); err != nil {
			return fmt.Errorf("bring %s to draining for health checks: %w", strings.Join(out, ", "), err)
		}
	}
	return b.awaitReady(ctx, r, z, members, "", ready)
}

// readiness is the health a wait for members asks of them.
type readiness int

const (
	// anyHealth asks nothing of health (members going out).
	anyHealth readiness = iota
	// healthyAgain: not unhealthy, and a member that read healthy before
	// the run must read healthy again once it is serving (a draining or out
	// member is not health-checked by ALB or NGINX Plus).
	healthyAgain
	// healthyToServe: a member that read healthy before the run must read
	// healthy whatever its state, before a one-transaction switch sends it
	// every new request (a Switcher's load balancer health-checks draining
	// members: HAProxy's "drain" state keeps its checks running).
	healthyToServe
)

// awaitMembers polls until every member reads the wanted state (any state
// when want is empty) and, when healthy is set, is ready as healthyAgain
// says; at most HealthTimeout.
func (b *balanced) awaitMembers(ctx context.Context, r *farm.Run, z *farm.Zone, members []string, want drivers.MemberState, healthy bool) error {
	ready := anyHealth
	if healthy {
		ready = healthyAgain
	}
	return b.awaitReady(ctx, r, z, members, want, ready)
}

// awaitReady polls until every member reads the wanted state (any state when
// want is empty) and the wanted readiness; at most HealthTimeout.
func (b *balanced) awaitReady(ctx context.Context, r *farm.Run, z *farm.Zone, members []string, want drivers.MemberState, ready readiness) error {
	if len(members) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, b.cfg.HealthTimeout)
	defer cancel()
	var waiting []string
	err := r.Poll(wctx, b.cfg.PollInterval, b.cfg.ProgressInterval, z.Name, func(ctx context.Context) (bool, event.Event, error) {
		sts, err := z.LoadBalancer.Status(ctx, members...)
		if err != nil {
			if drivers.IsRetryable(err) {
				return false, event.Event{Message: "reading members: " + err.Error()}, nil
			}
			return false, event.Event{}, err
		}
		waiting = waiting[:0]
		for _, st := range sts {
			// A member the load balancer reported healthy before the run
			// must read healthy again once it is serving (an ALB target
			// reads "initial", health unknown, and takes no traffic until
			// its checks pass); one draining or out (which ALB and NGINX
			// Plus do not health-check), or whose health the load balancer
			// never knew, must just not read unhealthy.
			notReady := st.Health == drivers.Unhealthy
			if before, ok := r.Captured().Member(z.Name, st.Member); ok && before.Health == drivers.Healthy &&
				(st.State == drivers.Serving || ready == healthyToServe) {
				notReady = st.Health != drivers.Healthy
			}
			if (want != "" && st.State != want) || (ready != anyHealth && notReady) {
				waiting = append(waiting, fmt.Sprintf("%s (%s, %s)", st.Member, st.State, st.Health))
			}
		}
		return len(waiting) == 0, event.Event{Done: len(members) - len(waiting), Total: len(members),
			Message: "waiting for members: " + strings.Join(waiting, ", ")}, nil
	})
	if err != nil {
		return fmt.Errorf("members not %s and healthy: %s: %w", orAny(want), strings.Join(waiting, ", "), err)
	}
	return nil
}

func orAny(s drivers.MemberState) string {
	if s == "" {
		return "ready"
	}
	return string(s)
}

// errDrainNotStarted is wrapped when a drain failed before any member was
// set draining: the members are as they were.
var errDrainNotStarted = errors.New("drain not started")

// errServingWhileDraining is wrapped when a member being drained reads
// serving again: something else changed the load balancer.
var errServingWhileDraining = errors.New("drain interrupted")

// errDrainTimeout is wrapped when a drain outlasts DrainTimeout and
// FailOnDrainTimeout is set.
var errDrainTimeout = errors.New("drain timed out")

// drain stops new requests to members, waits until they hold none (or, for
// load balancers that cannot count, until the load balancer reports them
// out and DrainPeriod has passed), then takes them out and confirms it.
func (b *balanced) drain(ctx context.Context, r *farm.Run, z *farm.Zone, members []string) error {
	if len(members) == 0 {
		return nil // Status with no member means every member
	}
	lb := z.LoadBalancer
	sts, err := lb.Status(ctx, members...)
	if err != nil {
		return fmt.Errorf("%w: read members: %w", errDrainNotStarted, err)
	}
	var pending []string
	for _, st := range sts {
		if st.State != drivers.Out {
			pending = append(pending, st.Member)
		}
	}
	if len(pending) == 0 {
		return nil
	}
	if err := lb.SetState(ctx, drivers.Draining, pending...); err != nil {
		if drivers.IsRetryable(err) {
			err = fmt.Errorf("%w: %w", errDrainNotStarted, err) // certainly no effect
		}
		return fmt.Errorf("drain %s: %w", strings.Join(pending, ", "), err)
	}
	started := time.Now()
	wctx, cancel := context.WithTimeout(ctx, b.cfg.DrainTimeout)
	defer cancel()
	var left []string
	err = r.Poll(wctx, b.cfg.PollInterval, b.cfg.ProgressInterval, z.Name, func(ctx context.Context) (bool, event.Event, error) {
		sts, err := lb.Status(ctx, pending...)
		if err != nil {
			if drivers.IsRetryable(err) {
				return false, event.Event{Message: "reading members: " + err.Error()}, nil
			}
			return false, event.Event{}, err
		}
		left = left[:0]
		conns := 0
		for _, st := range sts {
			switch {
			case st.State == drivers.Serving:
				return false, event.Event{}, fmt.Errorf("%w: member %s reads serving while draining: something else changed the load balancer", errServingWhileDraining, st.Member)
			case st.ConnectionsKnown && st.ActiveConnections > 0:
				conns += st.ActiveConnections
				left = append(left, fmt.Sprintf("%s (%d active)", st.Member, st.ActiveConnections))
			case !st.ConnectionsKnown && (st.State != drivers.Out || time.Since(started) < b.cfg.DrainPeriod):
				left = append(left, fmt.Sprintf("%s (%s, connections not counted)", st.Member, st.State))
			}
		}
		return len(left) == 0, event.Event{Done: len(pending) - len(left), Total: len(pending),
			Message: fmt.Sprintf("draining %s: %d connections left", strings.Join(left, ", "), conns)}, nil
	})
	if err != nil {
		if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
			return fmt.Errorf("drain %s: %w", strings.Join(pending, ", "), err)
		}
		if b.cfg.FailOnDrainTimeout {
			return fmt.Errorf("%w after %s: still held: %s", errDrainTimeout, b.cfg.DrainTimeout, strings.Join(left, ", "))
		}
		r.Warn(z.Name, "", "drain timed out after %s; taking members out anyway: %s", b.cfg.DrainTimeout, strings.Join(left, ", "))
	}
	if err := lb.SetState(ctx, drivers.Out, pending...); err != nil {
		return fmt.Errorf("take %s out: %w", strings.Join(pending, ", "), err)
	}
	return b.awaitMembers(ctx, r, z, pending, drivers.Out, false)
}

func names(servers []farm.Server) string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.Name
	}
	return strings.Join(out, ", ")
}

func groupServers(f *farm.Farm, role farm.GroupRole) []farm.Server {
	var out []farm.Server
	for _, g := range f.Groups(role) {
		out = append(out, g.Servers...)
	}
	return slices.Clip(out)
}
