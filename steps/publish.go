package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// Keys of values the steps record in farm.Captured.
const (
	// CapturedDeploymentID is the platform's ID of the deployment the
	// publish step started.
	CapturedDeploymentID = "deployment-id"
	// CapturedRollbackDeploymentID is the platform's ID of the deployment
	// a rollback started to put the previous release back.
	CapturedRollbackDeploymentID = "rollback-deployment-id"
	// CapturedPreviousRelease is the release deployed before the run, as
	// JSON, where the platform can say (drivers.DeployedReleaseReader).
	CapturedPreviousRelease = "previous-release"
	// CapturedBlockedUpdating, followed by "/" and a zone's name, lists
	// (comma-separated) the zone's Updating servers whose Deployment
	// service the watch stopped because they were back in traffic and
	// could not be taken out; publish and a rollback start it again once
	// they are out.
	CapturedBlockedUpdating = "updating-deployment-stopped"
	// CapturedBlockedLoaded is CapturedBlockedUpdating for a zone's Loaded
	// servers back in traffic after the switch; await-loaded starts their
	// Deployment service again once they are out.
	CapturedBlockedLoaded = "loaded-deployment-stopped"
)

func (b *balanced) publish() farm.Step {
	return farm.Step{
		ID:    Publish,
		Undo:  b.undoPublish,
		Title: "Publish the release with the platform; wait until it finishes and every Updating server runs it (" + b.stageNote + ")",
		Describe: func(z *farm.Zone) []string {
			if b.twoStage {
				return []string{fmt.Sprintf("continue the prepared deployment of %s (its second stage: SQL scripts run, running versions switch); wait for %s to serve it", b.releaseName(), names(z.Updating.Servers))}
			}
			return []string{fmt.Sprintf("deploy %s; wait for %s to serve it", b.releaseName(), names(z.Updating.Servers))}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			updating := groupServers(r.Farm(), farm.Updating)
			if err := b.unblock(ctx, r, farm.Updating); err != nil {
				return err
			}
			if _, started := r.Captured().Value(CapturedDeploymentID); !started {
				done, err := b.startDeployment(ctx, r, updating, CapturedDeploymentID, true)
				if err != nil || done {
					return err
				}
			}
			id, _ := r.Captured().Value(CapturedDeploymentID)
			if err := b.awaitDeployment(ctx, r, id, CapturedDeploymentID); err != nil {
				return err
			}
			return b.awaitRelease(ctx, r, updating, false)
		},
	}
}

// startDeployment starts the deployment of the release, unless every
// Updating server already serves it (done is then true), or the platform
// already runs a deployment of it (drivers.DeploymentFinder), which it then
// follows instead of starting a second one: that is what a run finds when
// it crashed after the platform started its deployment and before the ID
// was recorded. Immediately before each start it checks the guards
// (checkBeforeDeployment). While the platform answers that it is busy
// (drivers.ErrUnavailable, for example while another deployment runs), or
// a guarded state cannot be read, it keeps checking and trying, within
// PublishTimeout.
//
// The deployment's ID is recorded under key in farm.Captured as soon as the
// platform returns it; the run's journal makes it durable before the call
// returns (journal.Journal's contract), so before anything waits on it.
//
// With skipDone, it first checks whether every Updating server already
// serves the release (a run resumed after the deployment); a rollback does
// not skip, since the platform itself must go back to the previous release.
func (b *balanced) startDeployment(ctx context.Context, r *farm.Run, updating []farm.Server, key string, skipDone bool) (done bool, err error) {
	pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	var (
		lastErr error
		checks  preDeployCheck
	)
	finder, canFind := b.cfg.Platform.(drivers.DeploymentFinder)
	err = r.Poll(pctx, b.cfg.PlatformPollInterval, b.cfg.ProgressInterval, "", func(ctx context.Context) (bool, event.Event, error) {
		if skipDone && b.allOnRelease(ctx, r, updating) {
			done = true
			r.Emit(event.Event{Kind: event.Progress, Message: "every Updating server already runs " + b.cfg.Release.Version + "; not deploying again"})
			return true, event.Event{}, nil
		}
		if canFind {
			id, found, err := finder.FindDeployment(ctx, b.cfg.Release)
			switch {
			case err == nil && found:
				r.Captured().SetValue(key, id)
				r.Warn("", "", "deployment %s of %s is already running on the platform (its ID was not recorded, for example after a crash); following it instead of starting another", id, b.releaseName())
				return true, event.Event{}, nil
			case err != nil && drivers.IsRetryable(err):
				lastErr = err
				return false, event.Event{Message: "platform busy, will try again: " + err.Error()}, nil
			case err != nil && !errors.Is(err, drivers.ErrUnimplemented):
				return false, event.Event{}, &farm.StepError{Step: r.StepID(), Err: fmt.Errorf("look for a running deployment of %s: %w", b.releaseName(), err)}
			}
		}
		// The guards hold immediately before the start, at every
		// attempt (a busy platform may keep the start waiting for long).
		if err := b.beforeDeploying(ctx, r, key, "starting the deployment", &checks); err != nil {
			if ctx.Err() == nil && errors.Is(err, errUnconfirmed) {
				lastErr = err
				return false, event.Event{Message: "not starting the deployment yet: " + err.Error()}, nil
			}
			return false, event.Event{}, err
		}
		id, err := b.cfg.Platform.StartDeployment(ctx, b.cfg.Release)
		switch {
		case err != nil && id != "":
			// The platform created the deployment but the start is in
			// doubt: follow it rather than start another one.
			r.Captured().SetValue(key, id)
			r.Warn("", "", "deployment %s: start reported %v; following it", id, err)
			return true, event.Event{}, nil
		case err == nil:
			r.Captured().SetValue(key, id)
			r.Emit(event.Event{Kind: event.Progress, Message: "deployment " + id + " of " + b.releaseName() + " started"})
			return true, event.Event{}, nil
		case drivers.IsRetryable(err):
			lastErr = err
			return false, event.Event{Message: "platform busy, will try again: " + err.Error()}, nil
		}
		return false, event.Event{}, &farm.StepError{Step: r.StepID(), Err: fmt.Errorf("start deployment of %s: %w", b.releaseName(), err)}
	})
	if err != nil && lastErr != nil && ctx.Err() == nil && pctx.Err() != nil {
		// The last busy answer is context, not a cause: wrapped, it would make
		// the timeout itself read as retryable (drivers.IsRetryable).
		err = fmt.Errorf("start deployment of %s: not started within %s: %w (last: %v)", b.releaseName(), b.cfg.PublishTimeout, err, lastErr) //nolint:errorlint // see above
	}
	return done, err
}

// beforeDeploying is what must hold immediately before the deployment
// under key starts or continues. The run's own deployment: every guard
// (checkBeforeDeployment). A rollback's deployment of the previous
// release, when the rollback has dropped the guards: the Updating members
// still out of traffic (a reload while the platform was busy may have put
// them back), taken out again or the rollback refused. As in
// checkBeforeDeployment, a load balancer that cannot be read (transiently)
// wraps errUnconfirmed: the caller reads again before deploying.
func (b *balanced) beforeDeploying(ctx context.Context, r *farm.Run, key, what string, h *preDeployCheck) error {
	if key == CapturedRollbackDeploymentID {
		err := b.requireOut(ctx, r, farm.Updating)
		switch {
		case err == nil:
			return nil
		case ctx.Err() == nil && drivers.IsRetryable(err):
			return fmt.Errorf("before %s: %w: %w", what, errUnconfirmed, err)
		}
		return fmt.Errorf("before %s: %w", what, err)
	}
	return b.checkBeforeDeployment(ctx, r, what, h)
}

func (b *balanced) releaseName() string {
	if len(b.cfg.Release.Applications) == 0 {
		return "release " + b.cfg.Release.Version
	}
	apps := make([]string, len(b.cfg.Release.Applications))
	for i, a := range b.cfg.Release.Applications {
		apps[i] = a.Name + " " + a.Version
	}
	return "release " + b.cfg.Release.Version + " (" + strings.Join(apps, ", ") + ")"
}

// awaitDeployment follows the platform deployment id until it ends: the one
// poll, continue and abort state machine of the project (the LifeTime
// driver has none of its own).
//
//   - saved, running, aborting: it reads the status again, first after
//     PlatformPollInterval, the delay growing by half up to
//     PlatformMaxPollInterval while the state stays the same. Retryable
//     read errors (drivers.ErrUnavailable) are reported as progress and
//     read again; any other read error fails the step.
//   - finished_successful, finished_with_warnings: done.
//   - finished_with_errors, aborted, force_finished: the step fails with
//     the last lines of the deployment's log, and the ID is removed from
//     key in farm.Captured, so that a retry or a resumed run starts anew.
//   - needs_user_intervention: a prepared two-stage deployment
//     (drivers.DeploymentStatus.Prepared) is continued once when
//     ContinuePrepared is set or the plan prepares at full capacity
//     (PrepareMode), and the platform can (drivers.DeploymentContinuer):
//     the guards are checked again first, as before a start, and the
//     run's own deployment is recorded as continued
//     (CapturedDeploymentContinued); a retryable continue error is retried
//     at the next read, a refused one (drivers.ErrInvalidArgument: the state
//     moved on) is left to the next read to explain, and fails the step
//     wrapping the refusal if that read still finds the deployment
//     prepared (nothing would start its second stage: waiting would hold
//     the farm at reduced capacity until PublishTimeout). Any other pause fails
//     the step naming its Info, and the deployment is left waiting for a
//     human.
//   - The run is cancelled or PublishTimeout passes: the deployment is left
//     running, its ID kept for Resume, unless AbortPublishOnStop is set;
//     then it is aborted where the platform accepts an abort (running or
//     waiting, or in a state that cannot be read).
//
// Every new log line is emitted once, as a warning when the platform types
// it Warning or Error.
func (b *balanced) awaitDeployment(ctx context.Context, r *farm.Run, id, key string) error {
	return b.followDeployment(ctx, r, id, key, false)
}

// followDeployment is awaitDeployment; with untilPrepared (the prepare
// step) it ends once the deployment is prepared, and a deployment that
// succeeds without stopping prepared fails it wrapping ErrNotTwoStage.
func (b *balanced) followDeployment(ctx context.Context, r *farm.Run, id, key string, untilPrepared bool) error {
	pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	var (
		last         drivers.DeploymentStatus
		logged       int
		continued    bool  // continue accepted (or refused) for the current pause
		refused      error // the continue was refused: the state should have moved on
		delay        = b.cfg.PlatformPollInterval
		lastProgress time.Time
		// notContinued is why the last continue was held back (a guarded
		// state unreadable), for the error if the wait ends meanwhile.
		notContinued error
		checks       preDeployCheck
	)
	stopped := func() error {
		err := b.publishStopped(ctx, r, id, key, last)
		if notContinued != nil {
			err = fmt.Errorf("%w (not continued: %v)", err, notContinued) //nolint:errorlint // the check's error is context
		}
		return err
	}
	progress := func(msg string) {
		if now := time.Now(); lastProgress.IsZero() || now.Sub(lastProgress) >= b.cfg.ProgressInterval {
			lastProgress = now
			r.Emit(event.Event{Kind: event.Progress, Message: msg})
		}
	}
	for {
		st, err := b.cfg.Platform.DeploymentStatus(pctx, id)
		switch {
		case err != nil && pctx.Err() != nil:
			return stopped()
		case err != nil && drivers.IsRetryable(err):
			progress("reading deployment status: " + err.Error())
		case err != nil:
			return fmt.Errorf("read deployment %s: %w", id, err)
		default:
			for _, l := range st.Log[min(logged, len(st.Log)):] {
				kind := event.Progress
				if l.Type == "Warning" || l.Type == "Error" {
					kind = event.Warning
				}
				r.Emit(event.Event{Kind: kind, Message: "platform: " + l.Message})
			}
			logged = max(logged, len(st.Log))
			if st.State != last.State || st.Info != last.Info {
				delay = b.cfg.PlatformPollInterval
				if st.State != drivers.DeploymentNeedsUserIntervention {
					continued, refused, notContinued = false, nil, nil
				}
			}
			last = st
			switch {
			case untilPrepared && st.Prepared():
				r.Emit(event.Event{Kind: event.Progress, Message: "deployment " + id + " prepared: nothing running changed; publish continues it"})
				return nil
			case st.State.Succeeded() && untilPrepared:
				return fmt.Errorf("deployment %s ended %s without stopping prepared after its first stage: %w, although the platform client (%T) says it does; the running versions changed while every server served: correct the client's configuration (or set PrepareAtFullCapacity off; spec: platform.prepare_at_full_capacity: off)",
					id, st.State, ErrNotTwoStage, b.cfg.Platform)
			case st.State.Succeeded():
				return nil
			case st.State.Done():
				// A deployment that ended without the release is over: a
				// retry or a resumed run starts a new one.
				r.Captured().DeleteValue(key)
				return fmt.Errorf("deployment %s ended %s%s", id, st.State, lastErrors(st))
			case st.State == drivers.DeploymentNeedsUserIntervention:
				c, canContinue := b.cfg.Platform.(drivers.DeploymentContinuer)
				if !st.Prepared() || (!b.cfg.ContinuePrepared && !b.twoStage) || !canContinue || untilPrepared {
					hint := ""
					if st.Prepared() && !b.twoStage {
						hint = "; set ContinuePrepared (spec: platform.continue_prepared) to continue prepared deployments automatically, or declare the platform's target two-stage (spec: platform.two_stage) to prepare the release at full capacity"
					}
					return fmt.Errorf("deployment %s needs user intervention (%s): resolve it in the platform console, then resume%s", id, st.Info, hint)
				}
				if refused != nil && st.Prepared() {
					// The refusal was not the state moving on: nothing
					// will start the second stage. Waiting would keep
					// the farm at reduced capacity until PublishTimeout.
					return fmt.Errorf("continue prepared deployment %s: refused (%w) and the deployment still waits prepared (%s): resolve it in the platform console, then resume", id, refused, st.Info)
				}
				if continued {
					progress("deployment " + id + " continuing")
					break
				}
				// The second stage switches the running versions: the
				// guards hold, as before a start.
				if err := b.beforeDeploying(pctx, r, key, "continuing the deployment", &checks); err != nil {
					switch {
					case pctx.Err() != nil:
						notContinued = err
						return stopped()
					case !errors.Is(err, errUnconfirmed):
						return err
					}
					notContinued = err
					progress("not continuing deployment " + id + " yet: " + err.Error())
					break
				}
				notContinued = nil
				if key == CapturedDeploymentID {
					r.Captured().SetValue(CapturedDeploymentContinued, id)
				}
				err := c.ContinueDeployment(pctx, id)
				switch {
				case err == nil:
					continued = true
					r.Emit(event.Event{Kind: event.Progress, Message: "continued prepared deployment " + id})
				case pctx.Err() != nil:
					return stopped()
				case errors.Is(err, drivers.ErrInvalidArgument):
					continued, refused = true, err // the state moved on: the next read tells
					r.Warn("", "", "continue deployment %s refused (%v); reading its state again", id, err)
				case drivers.IsRetryable(err):
					progress("continue deployment " + id + " unavailable, will try again: " + err.Error())
				default:
					return fmt.Errorf("continue prepared deployment %s: %w", id, err)
				}
			default:
				progress(fmt.Sprintf("deployment %s %s", id, st.State))
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-pctx.Done():
			t.Stop()
			return stopped()
		case <-t.C:
		}
		delay = min(delay+delay/2, b.cfg.PlatformMaxPollInterval)
	}
}

// publishStopped ends awaitDeployment when the run was cancelled or
// PublishTimeout passed before the deployment ended. By default the
// deployment keeps running on the platform and its ID stays recorded, so
// Resume follows it; with AbortPublishOnStop it is aborted, on a fresh
// context, while the platform accepts an abort.
func (b *balanced) publishStopped(ctx context.Context, r *farm.Run, id, key string, last drivers.DeploymentStatus) error {
	cause := ctx.Err()
	if cause == nil {
		cause = fmt.Errorf("deployment %s did not finish within %s (last state %s): %w", id, b.cfg.PublishTimeout, orUnknown(last.State), context.DeadlineExceeded)
	} else {
		cause = fmt.Errorf("follow deployment %s: %w", id, cause)
	}
	a, canAbort := b.cfg.Platform.(drivers.DeploymentAborter)
	if !b.cfg.AbortPublishOnStop || !canAbort {
		r.Warn("", "", "deployment %s left %s on the platform; resume follows it (AbortPublishOnStop, spec: platform.abort_on_stop, aborts it instead)", id, orUnknown(last.State))
		return cause
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	st, err := b.cfg.Platform.DeploymentStatus(actx, id)
	switch {
	case err != nil:
		r.Warn("", "", "read deployment %s before aborting it: %v; aborting anyway", id, err)
	case st.State != drivers.DeploymentRunning && st.State != drivers.DeploymentNeedsUserIntervention:
		return cause // the platform would refuse the abort
	}
	if err := a.AbortDeployment(actx, id); err != nil {
		r.Warn("", "", "abort deployment %s: %v", id, err)
		// The stop is the cause callers branch on; the abort's failure is
		// reported beside it, not as a second cause to match.
		return fmt.Errorf("%w (abort failed: %v)", cause, err) //nolint:errorlint // see above
	}
	r.Captured().DeleteValue(key)
	r.Warn("", "", "deployment %s aborted (AbortPublishOnStop)", id)
	return cause
}

func orUnknown(s drivers.DeploymentState) drivers.DeploymentState {
	if s == "" {
		return "unknown"
	}
	return s
}

// lastErrors quotes the last lines of the deployment's log, whatever their
// type: LifeTime's log lines carry none (its Swagger's DeploymentMessage is
// Instant and Message), and the last lines say why a deployment failed.
func lastErrors(st drivers.DeploymentStatus) string {
	msgs := st.LastMessages(3)
	if len(msgs) == 0 {
		return ""
	}
	return ": " + strings.Join(msgs, "; ")
}

// marshalRelease renders a release for farm.Captured.
func marshalRelease(rel drivers.Release) string {
	b, _ := json.Marshal(rel)
	return string(b)
}
