package steps

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// Rollback (farm.Rollback, or an Ask decision) runs these Undo functions in
// reverse order from the failed step. Together they return the farm to the
// release and the state captured in preflight:
//
//   - after a failure before or during switch-traffic, the Loaded servers
//     still serve the previous release: the platform deploys the previous
//     release again while the Updating servers are out of traffic, then
//     they come back;
//   - after the switch, traffic goes back to the Loaded servers only if
//     every one of them still serves the previous release (their deployment
//     service was blocked). Once a Loaded server has installed the new
//     release, no group serves the previous one: the undo of switch-traffic
//     refuses, the run halts in its safe state (traffic on the verified new
//     release), and the way back is a new balanced run of the previous
//     release.
//
// unblock-loaded is Irreversible: a rollback from it or any later step is
// refused by the engine, so unblock-loaded, await-loaded, restore-traffic
// and start-schedulers-loaded have no Undo.

func (b *balanced) undoStopSchedulers(ctx context.Context, r *farm.Run) error {
	return b.restoreService(ctx, r, r.Farm().Servers(), drivers.SchedulerService, false)
}

func (b *balanced) undoBlockLoaded(ctx context.Context, r *farm.Run) error {
	return b.restoreService(ctx, r, groupServers(r.Farm(), farm.Loaded), drivers.DeploymentService, true)
}

func (b *balanced) undoStartSchedulersUpdating(ctx context.Context, r *farm.Run) error {
	return b.stopService(ctx, r, groupServers(r.Farm(), farm.Updating), drivers.SchedulerService)
}

// undoDrainUpdating brings the Updating servers back into traffic once they
// serve the version they served before the run.
func (b *balanced) undoDrainUpdating(ctx context.Context, r *farm.Run) error {
	// A Deployment service the watch stopped (members back in traffic the
	// load balancer would not take out) is started again while the servers
	// are still out, whether or not publish ran.
	if err := b.unblock(ctx, r, farm.Updating); err != nil {
		return err
	}
	if err := b.requireCapturedVersions(ctx, r, groupServers(r.Farm(), farm.Updating)); err != nil {
		return err
	}
	return r.ForEachZone(ctx, func(ctx context.Context, z *farm.Zone) error {
		// Only the members that served before the run come back; the
		// others stay as they are (out or draining).
		var serve []string
		for _, m := range r.IncludedMembers(z.Updating) {
			if st, ok := r.Captured().Member(z.Name, m); !ok || st.State == drivers.Serving {
				serve = append(serve, m)
			}
		}
		if len(serve) == 0 {
			return nil
		}
		if err := b.warmUp(ctx, r, z, serve); err != nil {
			return err
		}
		if err := z.LoadBalancer.SetState(ctx, drivers.Serving, serve...); err != nil {
			return fmt.Errorf("set %s serving: %w", strings.Join(serve, ", "), err)
		}
		return b.awaitMembers(ctx, r, z, serve, drivers.Serving, true)
	})
}

// undoSwitchTraffic moves traffic back to the Loaded servers, which must all
// still serve the version captured before the run.
func (b *balanced) undoSwitchTraffic(ctx context.Context, r *farm.Run) error {
	if err := b.requireCapturedVersions(ctx, r, groupServers(r.Farm(), farm.Loaded)); err != nil {
		return fmt.Errorf("cannot move traffic back to the Loaded servers: %w (deploy the previous release with a new balanced run instead)", err)
	}
	return r.ForEachZone(ctx, func(ctx context.Context, z *farm.Zone) error {
		return b.moveTraffic(ctx, r, z, r.IncludedMembers(z.Loaded), r.IncludedMembers(z.Updating))
	})
}

// undoPublish deploys the release captured before the run again and waits
// until the Updating servers serve it.
func (b *balanced) undoPublish(ctx context.Context, r *farm.Run) error {
	_, started := r.Captured().Value(CapturedDeploymentID)
	_, continued := r.Captured().Value(CapturedDeploymentContinued)
	if (!started || (b.twoStage && !continued)) && !b.anyOnRelease(ctx, r, groupServers(r.Farm(), farm.Updating)) {
		// Nothing was deployed, or only prepared (nothing running
		// changed): prepare's undo aborts a prepared deployment.
		return nil
	}
	raw, ok := r.Captured().Value(CapturedPreviousRelease)
	if !ok {
		return fmt.Errorf("the platform cannot say which release was deployed before the run (no drivers.DeployedReleaseReader): roll back by hand")
	}
	var prev drivers.Release
	if err := json.Unmarshal([]byte(raw), &prev); err != nil {
		return fmt.Errorf("captured previous release %q is unreadable: %w", raw, err)
	}
	if prev.Version == "" {
		return fmt.Errorf("captured previous release %q is unreadable: it names no version", raw)
	}
	if err := b.stopForwardDeployment(ctx, r); err != nil {
		return err
	}
	// The previous release is installed only on servers out of traffic: a
	// reload may have put them back (the watch stopped their Deployment
	// service then); take them out, or refuse.
	if err := b.requireOut(ctx, r, farm.Updating); err != nil {
		return fmt.Errorf("rollback to %s: %w", prev.Version, err)
	}
	if err := b.unblock(ctx, r, farm.Updating); err != nil {
		return fmt.Errorf("rollback to %s: %w", prev.Version, err)
	}
	back := *b
	back.cfg.Release = prev
	back.want = func(server string, p drivers.ApplicationProbe) string {
		if p.Application == "" {
			return prev.Version
		}
		if v, ok := r.Captured().Value(versionKey(server, p)); ok {
			return v // what preflight read there
		}
		for _, a := range prev.Applications {
			if a.Name == p.Application && a.Version != "" {
				return a.Version
			}
		}
		return prev.Version
	}
	updating := groupServers(r.Farm(), farm.Updating)
	if _, started := r.Captured().Value(CapturedRollbackDeploymentID); !started {
		if _, err := back.startDeployment(ctx, r, updating, CapturedRollbackDeploymentID, false); err != nil {
			return fmt.Errorf("rollback to %s: %w", prev.Version, err)
		}
	}
	id, _ := r.Captured().Value(CapturedRollbackDeploymentID)
	if err := back.awaitDeployment(ctx, r, id, CapturedRollbackDeploymentID); err != nil {
		return err
	}
	if err := back.awaitRelease(ctx, r, updating, false); err != nil {
		return err
	}
	r.Captured().DeleteValue(CapturedRollbackDeploymentID)
	r.Captured().DeleteValue(CapturedDeploymentID)
	r.Captured().DeleteValue(CapturedDeploymentContinued)
	return nil
}

// stopForwardDeployment aborts the run's own deployment if it has not ended
// (for example one waiting for user intervention), and waits until it has:
// the platform deploys one release at a time.
func (b *balanced) stopForwardDeployment(ctx context.Context, r *farm.Run) error {
	id, ok := r.Captured().Value(CapturedDeploymentID)
	if !ok {
		return nil
	}
	st, err := b.cfg.Platform.DeploymentStatus(ctx, id)
	if err != nil {
		return fmt.Errorf("read deployment %s before rolling back: %w", id, err)
	}
	if st.State.Done() {
		return nil
	}
	a, canAbort := b.cfg.Platform.(drivers.DeploymentAborter)
	if !canAbort {
		return fmt.Errorf("deployment %s is %s and the platform cannot abort it: end it in the platform console, then resume the rollback", id, st.State)
	}
	if err := a.AbortDeployment(ctx, id); err != nil {
		return fmt.Errorf("abort deployment %s before rolling back: %w", id, err)
	}
	wctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	return r.Poll(wctx, b.cfg.DeployPollInterval, b.cfg.ProgressInterval, "", func(ctx context.Context) (bool, event.Event, error) {
		st, err := b.cfg.Platform.DeploymentStatus(ctx, id)
		if err != nil {
			if drivers.IsRetryable(err) {
				return false, event.Event{Message: "reading deployment status: " + err.Error()}, nil
			}
			return false, event.Event{}, err
		}
		return st.State.Done(), event.Event{Message: fmt.Sprintf("waiting for deployment %s to end (%s)", id, st.State)}, nil
	})
}

// requireCapturedVersions checks every server serves the version it served
// in preflight.
func (b *balanced) requireCapturedVersions(ctx context.Context, r *farm.Run, servers []farm.Server) error {
	return r.ForEachServer(ctx, servers, func(ctx context.Context, s farm.Server) error {
		for _, p := range b.probeList() {
			want, ok := r.Captured().Value(versionKey(s.Name, p))
			if !ok {
				return fmt.Errorf("no version was captured for %s%s in preflight", s.Name, appLabel(p))
			}
			res, err := b.probe(ctx, s, p)
			if err != nil {
				return err
			}
			if !res.Healthy || res.Version != want {
				return fmt.Errorf("%s%s serves %q (healthy %v), want %q as before the run", s.Name, appLabel(p), res.Version, res.Healthy, want)
			}
		}
		return nil
	})
}

// anyOnRelease reports whether some server serves the release.
func (b *balanced) anyOnRelease(ctx context.Context, r *farm.Run, servers []farm.Server) bool {
	found := make(chan struct{}, len(servers))
	_ = r.Each(ctx, servers, func(ctx context.Context, s farm.Server) error {
		for _, p := range b.probeList() {
			if res, err := b.probe(ctx, s, p); err == nil && res.Version == p.Version {
				found <- struct{}{}
				return nil
			}
		}
		return nil
	})
	return len(found) > 0
}
