package steps

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
)

// The guards of the balanced plan: each state a step establishes is watched
// (farm.Guard) until the step that restores it starts.
//
//	guard                      established by    until                      drift repaired by
//	scheduler-stopped/updating stop-schedulers   start-schedulers-updating  stopping and disabling it again
//	scheduler-stopped/loaded   stop-schedulers   start-schedulers-loaded    stopping and disabling it again
//	deployment-stopped/loaded  block-loaded      unblock-loaded             stopping and disabling it again
//	updating-out               drain-updating    switch-traffic             draining the members out again
//	loaded-carries             drain-updating    switch-traffic             - (a zone below its floor fails)
//	loaded-out                 switch-traffic    restore-traffic            draining the members out again
//	updating-carries           switch-traffic    restore-traffic            - (a zone below its floor fails)
//
// A "carries" guard counts the group's members that read serving and
// healthy (a member the load balancer read healthy before the run must read
// healthy; one whose health it never knew must not read unhealthy): a member
// missing from that count is reported; a zone whose count falls below the
// capacity floor (farm.Config.CapacityFloor of the zone's servers, and at
// least one) cannot be put right by the run, and the failure policy decides.
const (
	GuardSchedulerStoppedUpdating = "scheduler-stopped/updating"
	GuardSchedulerStoppedLoaded   = "scheduler-stopped/loaded"
	GuardDeploymentStoppedLoaded  = "deployment-stopped/loaded"
	GuardUpdatingOut              = "updating-out"
	GuardLoadedCarries            = "loaded-carries"
	GuardLoadedOut                = "loaded-out"
	GuardUpdatingCarries          = "updating-carries"
)

// serviceStopped guards svc stopped and Disabled on the role's servers:
// one that reads otherwise is stopped and disabled again.
func (b *balanced) serviceStopped(name, until string, role farm.GroupRole, svc drivers.Service) farm.Guard {
	return farm.Guard{Name: name, Until: until, Check: func(ctx context.Context, r *farm.Run) error {
		return r.Each(ctx, groupServers(r.Farm(), role), func(ctx context.Context, s farm.Server) error {
			st, err := b.cfg.Services.ServiceState(ctx, s.Target(), svc)
			if err != nil {
				if drivers.IsRetryable(err) {
					unread(ctx, fmt.Sprintf("the %s service on %s (%v)", svc, s.Name, err))
					return nil // read again at the next check
				}
				return fmt.Errorf("server %s: read %s service: %w", s.Name, svc, err)
			}
			if st.Run == drivers.Stopped && st.Startup == drivers.Disabled {
				return nil
			}
			if err := b.cfg.Services.StopService(ctx, s.Target(), svc); err != nil {
				r.Drifted(farm.Drift{Guard: name, Zone: s.Zone, Server: s.Name,
					What: fmt.Sprintf("%s service reads %s/%s, want stopped/Disabled; stopping it failed: %v", svc, st.Run, st.Startup, err)})
				return fmt.Errorf("server %s: %s service reads %s/%s and cannot be stopped again: %w", s.Name, svc, st.Run, st.Startup, err)
			}
			putBack(ctx, r, farm.Drift{Guard: name, Zone: s.Zone, Server: s.Name, Repaired: true,
				What: fmt.Sprintf("%s service read %s/%s (something restarted it): stopped and disabled again", svc, st.Run, st.Startup)})
			return nil
		})
	}}
}

// groupOut guards the role's members out of traffic: a member that reads
// serving or draining (a load-balancer reload that reset its state, an
// operator) is drained and taken out again.
func (b *balanced) groupOut(name, until string, role farm.GroupRole) farm.Guard {
	return farm.Guard{Name: name, Until: until, Check: func(ctx context.Context, r *farm.Run) error {
		return eachZone(ctx, r, func(ctx context.Context, z *farm.Zone) error {
			sts, ok, err := groupStatus(ctx, r, z, role)
			if !ok {
				return err
			}
			var back, what []string
			for _, st := range sts {
				if st.State != drivers.Out {
					back = append(back, st.Member)
					what = append(what, fmt.Sprintf("%s (%s, %s)", st.Member, st.State, st.Health))
				}
			}
			if len(back) == 0 {
				return nil
			}
			// A second reload during the drain puts them back again, and a
			// transient error leaves them as they were: drain once more.
			err = b.drain(ctx, r, z, back)
			for try := 1; try < 5 && err != nil && ctx.Err() == nil && (errors.Is(err, errServingWhileDraining) ||
				errors.Is(err, errDrainNotStarted) || drivers.IsRetryable(err)); try++ {
				_ = sleep(ctx, b.cfg.PollInterval)
				err = b.drain(ctx, r, z, back)
			}
			if err != nil {
				blocked := b.blockInstalls(ctx, r, z, role, back)
				if blocked != "" {
					blocked = "; " + blocked
				}
				r.Drifted(farm.Drift{Guard: name, Zone: z.Name,
					What: fmt.Sprintf("%s members back in traffic: %s; taking them out again failed: %v%s", role, strings.Join(what, ", "), err, blocked)})
				return fmt.Errorf("%s members %s are back in traffic and cannot be taken out%s: %w", role, strings.Join(back, ", "), blocked, err)
			}
			putBack(ctx, r, farm.Drift{Guard: name, Zone: z.Name, Repaired: true,
				What: fmt.Sprintf("%s members were back in traffic (a load-balancer reload or an operator): %s; drained and out again", role, strings.Join(what, ", "))})
			return nil
		})
	}}
}

// groupCarries guards the role's group carrying its zone alone: its members
// serving and healthy, and at least the capacity floor of them.
func (b *balanced) groupCarries(name, until string, role farm.GroupRole) farm.Guard {
	return farm.Guard{Name: name, Until: until, Check: func(ctx context.Context, r *farm.Run) error {
		return eachZone(ctx, r, func(ctx context.Context, z *farm.Zone) error {
			sts, ok, err := groupStatus(ctx, r, z, role)
			if !ok {
				return err
			}
			ready := 0
			var notReady []string
			for _, st := range sts {
				ok := st.State == drivers.Serving && st.Health != drivers.Unhealthy
				if before, known := r.Captured().Member(z.Name, st.Member); known && before.Health == drivers.Healthy {
					ok = st.State == drivers.Serving && st.Health == drivers.Healthy
				}
				if ok {
					ready++
					continue
				}
				notReady = append(notReady, fmt.Sprintf("%s (%s, %s)", st.Member, st.State, st.Health))
			}
			total := len(z.Updating.Servers) + len(z.Loaded.Servers)
			need := 1
			if f := r.Farm().CapacityFloor(); f > 0 {
				need = max(1, int(math.Ceil(f*float64(total)-1e-9)))
			}
			if len(notReady) == 0 {
				return nil
			}
			what := fmt.Sprintf("the %s group carries the zone alone and %d of its members are not serving and healthy: %s; %d of the zone's %d servers serve",
				role, len(notReady), strings.Join(notReady, ", "), ready, total)
			if ready >= need {
				r.Drifted(farm.Drift{Guard: name, Zone: z.Name, What: what + fmt.Sprintf(" (the floor is %d)", need)})
				return nil
			}
			r.Drifted(farm.Drift{Guard: name, Zone: z.Name, What: what + fmt.Sprintf(", below the capacity floor of %d", need)})
			return fmt.Errorf("%d of %d servers serving and healthy while the %s group carries the zone alone (%s): want at least %d, the capacity floor",
				ready, total, role, strings.Join(notReady, ", "), need)
		})
	}}
}

// strictCheck is the context value of the guard check made immediately
// before the platform deployment starts or continues: it collects the
// states it could not read and those it had to put back.
type strictCheck struct {
	mu       sync.Mutex
	unread   []string
	repaired []string
}

type strictCheckKey struct{}

// errUnconfirmed is wrapped by checkBeforeDeployment's error when every
// guard held except for states it could not read (transiently): the
// caller reads again before deploying.
var errUnconfirmed = errors.New("cannot confirm the states the run relies on")

// unread notes, for a strict check, a guarded state whose read failed
// transiently; other checks read it again at the next check.
func unread(ctx context.Context, what string) {
	if sc, ok := ctx.Value(strictCheckKey{}).(*strictCheck); ok {
		sc.mu.Lock()
		sc.unread = append(sc.unread, what)
		sc.mu.Unlock()
	}
}

// putBack reports drift a guard put back, and notes it for a strict check.
func putBack(ctx context.Context, r *farm.Run, d farm.Drift) {
	if sc, ok := ctx.Value(strictCheckKey{}).(*strictCheck); ok {
		where := "zone " + d.Zone
		if d.Server != "" {
			where = "server " + d.Server
		}
		sc.mu.Lock()
		sc.repaired = append(sc.repaired, where+": "+d.What)
		sc.mu.Unlock()
	}
	r.Drifted(d)
}

// preDeployCheck is what checkBeforeDeployment remembers across the
// attempts of one start or continue (a busy platform, an unreadable
// state): whether a check already had to put a state back.
type preDeployCheck struct {
	putBack bool
}

// checkBeforeDeployment re-checks every guard immediately before the
// platform deployment starts or continues (what for: a Scheduler running
// then would run its timers on the old code against the new schema; a
// Loaded server's Deployment service running would install the release
// while the server carries the zone; an Updating member in traffic would
// take requests while it installs).
//
// A guard that fails (drift it cannot put back, a zone below its floor)
// fails the check with its error, as at any check. A state the check had
// to put back (something restarted a service, a reload put members back)
// is read again ConfirmDelay later, as the stop itself was confirmed; a
// state put back again before the deployment starts (h remembers earlier
// attempts) means something keeps undoing it, and the check fails
// (wrapping farm.ErrDrift) rather than deploy into it. Every state must
// also be read: when some read failed transiently and nothing else is
// wrong, the error wraps errUnconfirmed, and the caller reads again
// before deploying.
func (b *balanced) checkBeforeDeployment(ctx context.Context, r *farm.Run, what string, h *preDeployCheck) error {
	for {
		sc := &strictCheck{}
		if err := r.CheckGuards(context.WithValue(ctx, strictCheckKey{}, sc)); err != nil {
			return fmt.Errorf("before %s: %w", what, err)
		}
		switch {
		case len(sc.repaired) > 0 && h.putBack:
			return fmt.Errorf("before %s: %w: after putting states back once, the guards had to put back again: %s; something keeps undoing them: stop it (a configuration agent, a colleague, a load-balancer reload), then resume",
				what, farm.ErrDrift, strings.Join(sc.repaired, "; "))
		case len(sc.repaired) > 0:
			h.putBack = true
			if err := sleep(ctx, b.cfg.ConfirmDelay); err != nil {
				return fmt.Errorf("before %s: confirming, %s after putting them back, that the states hold (%s): %w", what, b.cfg.ConfirmDelay, strings.Join(sc.repaired, "; "), err)
			}
		case len(sc.unread) > 0:
			return fmt.Errorf("before %s: %w: cannot read %s", what, errUnconfirmed, strings.Join(sc.unread, "; "))
		default:
			return nil
		}
	}
}

// eachZone runs fn for every zone concurrently, as the guards' reads are
// not the step's actions: no retries (the next check reads again) and
// nothing recorded in the report.
func eachZone(ctx context.Context, r *farm.Run, fn func(ctx context.Context, z *farm.Zone) error) error {
	zones := r.Farm().Zones()
	errs := make([]error, len(zones))
	var wg sync.WaitGroup
	for i, z := range zones {
		wg.Go(func() {
			if err := fn(ctx, z); err != nil {
				errs[i] = fmt.Errorf("zone %s: %w", z.Name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// groupStatus reads the members of z's role group. ok is false when there
// is nothing to check now: the group is empty, the read failed transiently
// (the next check reads again; err is nil), or it failed for good (err).
func groupStatus(ctx context.Context, r *farm.Run, z *farm.Zone, role farm.GroupRole) (sts []drivers.MemberStatus, ok bool, err error) {
	members := r.IncludedMembers(z.Group(role))
	if len(members) == 0 {
		return nil, false, nil
	}
	sts, err = z.LoadBalancer.Status(ctx, members...)
	if err != nil {
		if drivers.IsRetryable(err) {
			unread(ctx, fmt.Sprintf("the %s members of zone %s in the load balancer (%v)", role, z.Name, err))
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("read members: %w", err)
	}
	return sts, true, nil
}

// blockInstalls stops the Deployment service of the role's servers whose
// members are back in traffic and cannot be taken out (the load balancer
// refuses): the platform's deployment, which may be running (Updating) or
// catching up (Loaded, once unblocked), must not install on a server that
// serves. It is what block-loaded does, and the last thing the run can do
// there. The servers are recorded (blockedKey) so that publish or
// await-loaded, on a retry or a resume, and a rollback's redeploy start the
// service again once the servers are out. It says what it did, for the
// drift and the error.
func (b *balanced) blockInstalls(ctx context.Context, r *farm.Run, z *farm.Zone, role farm.GroupRole, members []string) string {
	var stopped, failed []string
	for _, s := range z.Group(role).Servers {
		if !slices.Contains(members, s.MemberID()) {
			continue
		}
		if err := b.cfg.Services.StopService(ctx, s.Target(), drivers.DeploymentService); err != nil {
			failed = append(failed, fmt.Sprintf("%s (%v)", s.Name, err))
			continue
		}
		stopped = append(stopped, s.Name)
	}
	var out []string
	if len(stopped) > 0 {
		key := blockedKey(role, z.Name)
		prev, _ := r.Captured().Value(key)
		all := slices.Compact(slices.Sorted(slices.Values(append(splitNames(prev), stopped...))))
		r.Captured().SetValue(key, strings.Join(all, ","))
		out = append(out, fmt.Sprintf("Deployment service stopped on %s so that the platform cannot install there while they serve (resume starts it again once they are out)", strings.Join(stopped, ", ")))
	}
	if len(failed) > 0 {
		out = append(out, "stopping the Deployment service failed on "+strings.Join(failed, ", "))
	}
	return strings.Join(out, "; ")
}

// blockedKey is the captured value listing the servers of a zone's role
// group whose Deployment service blockInstalls stopped: one key per zone
// and role, as the zones' checks run concurrently.
func blockedKey(role farm.GroupRole, zone string) string {
	if role == farm.Loaded {
		return CapturedBlockedLoaded + "/" + zone
	}
	return CapturedBlockedUpdating + "/" + zone
}

// splitNames splits a comma-separated list; empty gives none.
func splitNames(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// requireOut takes every member of the role's groups that does not read out
// of traffic out again, or fails: the platform may install only there.
func (b *balanced) requireOut(ctx context.Context, r *farm.Run, role farm.GroupRole) error {
	return r.ForEachZone(ctx, func(ctx context.Context, z *farm.Zone) error {
		members := r.IncludedMembers(z.Group(role))
		if len(members) == 0 {
			return nil
		}
		sts, err := z.LoadBalancer.Status(ctx, members...)
		if err != nil {
			return fmt.Errorf("read the %s members: %w", role, err)
		}
		var back []string
		for _, st := range sts {
			if st.State != drivers.Out {
				back = append(back, st.Member)
			}
		}
		if err := b.drain(ctx, r, z, back); err != nil {
			return fmt.Errorf("%s members %s are in traffic and cannot be taken out: %w", role, strings.Join(back, ", "), err)
		}
		return nil
	})
}

// unblock starts again the Deployment service that blockInstalls stopped
// on the role's servers, once every member of the role's groups reads out
// of traffic: only then may the platform install there.
func (b *balanced) unblock(ctx context.Context, r *farm.Run, role farm.GroupRole) error {
	var servers []farm.Server
	var keys []string
	for _, z := range r.Farm().Zones() {
		key := blockedKey(role, z.Name)
		v, ok := r.Captured().Value(key)
		if !ok {
			continue
		}
		keys = append(keys, key)
		for _, s := range z.Group(role).Servers {
			if slices.Contains(splitNames(v), s.Name) {
				servers = append(servers, s)
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if err := b.requireOut(ctx, r, role); err != nil {
		return fmt.Errorf("the Deployment service stays stopped on %s: %w", names(servers), err)
	}
	if err := b.restoreService(ctx, r, servers, drivers.DeploymentService, true); err != nil {
		return fmt.Errorf("start again the Deployment service stopped while the servers were in traffic: %w", err)
	}
	for _, k := range keys {
		r.Captured().DeleteValue(k)
	}
	return nil
}
