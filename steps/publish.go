package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/hashicorp/go-multierror"
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
)

func (b *balanced) publish() farm.Step {
	return farm.Step{
		ID:    Publish,
		Undo:  b.undoPublish,
		Title: "Publish the release with the platform; wait until it finishes and every Updating server runs it",
		Describe: func(z *farm.Zone) []string {
			return []string{fmt.Sprintf("deploy %s; wait for %s to serve it", b.releaseName(), names(z.Updating.Servers))}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			updating := groupServers(r.Farm(), farm.Updating)
			if _, started := r.Captured().Value(CapturedDeploymentID); !started {
				if err := checkBeforeDeployment(ctx, r); err != nil {
					return err
				}
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
// was recorded. While the platform answers that it is busy
// (drivers.ErrUnavailable, for example while another deployment runs), it
// keeps checking and trying, within PublishTimeout.
//
// The deployment's ID is recorded under key in farm.Captured as soon as the
// platform returns it; the run's journal makes it durable before the call
// returns (farm.Journal's contract), so before anything waits on it.
//
// With skipDone, it first checks whether every Updating server already
// serves the release (a run resumed after the deployment); a rollback does
// not skip, since the platform itself must go back to the previous release.
func (b *balanced) startDeployment(ctx context.Context, r *farm.Run, updating []farm.Server, key string, skipDone bool) (done bool, err error) {
	pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	var lastErr error
	finder, canFind := b.cfg.Platform.(drivers.DeploymentFinder)
	err = r.Poll(pctx, b.cfg.PlatformPollInterval, b.cfg.ProgressInterval, "", func(ctx context.Context) (bool, farm.Event, error) {
		if skipDone && b.allOnRelease(ctx, r, updating) {
			done = true
			r.Emit(farm.Event{Kind: farm.Progress, Message: "every Updating server already runs " + b.cfg.Release.Version + "; not deploying again"})
			return true, farm.Event{}, nil
		}
		if canFind {
			id, found, err := finder.FindDeployment(ctx, b.cfg.Release)
			switch {
			case err == nil && found:
				r.Captured().SetValue(key, id)
				r.Warn("", "", "deployment %s of %s is already running on the platform (its ID was not recorded, for example after a crash); following it instead of starting another", id, b.releaseName())
				return true, farm.Event{}, nil
			case err != nil && drivers.IsRetryable(err):
				lastErr = err
				return false, farm.Event{Message: "platform busy, will try again: " + err.Error()}, nil
			case err != nil && !errors.Is(err, drivers.ErrUnimplemented):
				return false, farm.Event{}, &farm.StepError{Step: r.StepID(), Err: fmt.Errorf("look for a running deployment of %s: %w", b.releaseName(), err)}
			}
		}
		id, err := b.cfg.Platform.StartDeployment(ctx, b.cfg.Release)
		switch {
		case err != nil && id != "":
			// The platform created the deployment but the start is in
			// doubt: follow it rather than start another one.
			r.Captured().SetValue(key, id)
			r.Warn("", "", "deployment %s: start reported %v; following it", id, err)
			return true, farm.Event{}, nil
		case err == nil:
			r.Captured().SetValue(key, id)
			r.Emit(farm.Event{Kind: farm.Progress, Message: "deployment " + id + " of " + b.releaseName() + " started"})
			return true, farm.Event{}, nil
		case drivers.IsRetryable(err):
			lastErr = err
			return false, farm.Event{Message: "platform busy, will try again: " + err.Error()}, nil
		}
		return false, farm.Event{}, &farm.StepError{Step: r.StepID(), Err: fmt.Errorf("start deployment of %s: %w", b.releaseName(), err)}
	})
	if err != nil && lastErr != nil && ctx.Err() == nil {
		err = fmt.Errorf("start deployment of %s: platform still busy after %s: %w (last: %v)", b.releaseName(), b.cfg.PublishTimeout, err, lastErr)
	}
	return done, err
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
//     ContinuePrepared is set and the platform can
//     (drivers.DeploymentContinuer); a retryable continue error is retried
//     at the next read, a refused one (drivers.ErrInvalidArgument: the state
//     moved on) is left to the next read to explain. Any other pause fails
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
	pctx, cancel := context.WithTimeout(ctx, b.cfg.PublishTimeout)
	defer cancel()
	var (
		last         drivers.DeploymentStatus
		logged       int
		continued    bool // continue accepted for the current pause
		delay        = b.cfg.PlatformPollInterval
		lastProgress time.Time
	)
	progress := func(msg string) {
		if now := time.Now(); lastProgress.IsZero() || now.Sub(lastProgress) >= b.cfg.ProgressInterval {
			lastProgress = now
			r.Emit(farm.Event{Kind: farm.Progress, Message: msg})
		}
	}
	for {
		st, err := b.cfg.Platform.DeploymentStatus(pctx, id)
		switch {
		case err != nil && pctx.Err() != nil:
			return b.publishStopped(ctx, r, id, key, last)
		case err != nil && drivers.IsRetryable(err):
			progress("reading deployment status: " + err.Error())
		case err != nil:
			return fmt.Errorf("read deployment %s: %w", id, err)
		default:
			for _, l := range st.Log[min(logged, len(st.Log)):] {
				kind := farm.Progress
				if l.Type == "Warning" || l.Type == "Error" {
					kind = farm.Warning
				}
				r.Emit(farm.Event{Kind: kind, Message: "platform: " + l.Message})
			}
			logged = max(logged, len(st.Log))
			if st.State != last.State || st.Info != last.Info {
				delay = b.cfg.PlatformPollInterval
				if st.State != drivers.DeploymentNeedsUserIntervention {
					continued = false
				}
			}
			last = st
			switch {
			case st.State.Succeeded():
				return nil
			case st.State.Done():
				// A deployment that ended without the release is over: a
				// retry or a resumed run starts a new one.
				r.Captured().DeleteValue(key)
				return fmt.Errorf("deployment %s ended %s%s", id, st.State, lastErrors(st))
			case st.State == drivers.DeploymentNeedsUserIntervention:
				c, canContinue := b.cfg.Platform.(drivers.DeploymentContinuer)
				if !st.Prepared() || !b.cfg.ContinuePrepared || !canContinue {
					hint := ""
					if st.Prepared() {
						hint = "; set ContinuePrepared (spec: platform.continue_prepared) to continue prepared deployments automatically"
					}
					return fmt.Errorf("deployment %s needs user intervention (%s): resolve it in the platform console, then resume%s", id, st.Info, hint)
				}
				if continued {
					progress("deployment " + id + " continuing")
					break
				}
				err := c.ContinueDeployment(pctx, id)
				switch {
				case err == nil:
					continued = true
					r.Emit(farm.Event{Kind: farm.Progress, Message: "continued prepared deployment " + id})
				case pctx.Err() != nil:
					return b.publishStopped(ctx, r, id, key, last)
				case errors.Is(err, drivers.ErrInvalidArgument):
					continued = true // the state moved on: the next read tells
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
			return b.publishStopped(ctx, r, id, key, last)
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
		r.Warn("", "", "deployment %s left %s on the platform; resume follows it (AbortPublishOnStop aborts it instead)", id, orUnknown(last.State))
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
		return fmt.Errorf("%w (abort failed: %v)", cause, err)
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

func (b *balanced) verifyUpdating() farm.Step {
	return farm.Step{
		ID:         VerifyUpdating,
		Excludable: true,
		Title:      "Test the application directly on each Updating server: available and updated",
		Describe: func(z *farm.Zone) []string {
			var lines []string
			for _, s := range z.Updating.Servers {
				lines = append(lines, fmt.Sprintf("probe %s at %s: want healthy, version %s", s.Name, orNone(drivers.RedactURL(s.ProbeURL)), b.cfg.Release.Version))
			}
			return lines
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachServer(ctx, groupServers(r.Farm(), farm.Updating), func(ctx context.Context, s farm.Server) error {
				ok, why, err := b.onRelease(ctx, s)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("verification failed: %s", why)
				}
				return nil
			})
		},
	}
}

func orNone(s string) string {
	if s == "" {
		return "(no probe URL)"
	}
	return s
}

func (b *balanced) awaitLoaded() farm.Step {
	return farm.Step{
		ID:         AwaitLoaded,
		Excludable: true,
		Title:      "Wait until every Loaded server runs the release (and, where a driver can tell, its deployment service is idle)",
		Describe: func(z *farm.Zone) []string {
			return []string{fmt.Sprintf("wait for %s to serve %s", names(z.Loaded.Servers), b.cfg.Release.Version)}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return b.awaitRelease(ctx, r, groupServers(r.Farm(), farm.Loaded), true)
		},
	}
}

// onRelease probes s and reports whether it serves the release healthily,
// and why not.
func (b *balanced) onRelease(ctx context.Context, s farm.Server) (bool, string, error) {
	res, err := b.cfg.Prober.Probe(ctx, s.Target())
	if err != nil {
		return false, "", fmt.Errorf("probe: %w", err)
	}
	switch {
	case !res.Healthy:
		detail := res.Detail
		if detail == "" {
			detail = "unhealthy"
		}
		return false, fmt.Sprintf("%s: status %d, %s", s.Name, res.StatusCode, detail), nil
	case res.Version != b.cfg.Release.Version:
		return false, fmt.Sprintf("%s serves version %q, want %q", s.Name, res.Version, b.cfg.Release.Version), nil
	}
	return true, "", nil
}

// allOnRelease reports whether every server already serves the release.
func (b *balanced) allOnRelease(ctx context.Context, r *farm.Run, servers []farm.Server) bool {
	var mu sync.Mutex
	all := true
	_ = r.Each(ctx, servers, func(ctx context.Context, s farm.Server) error {
		ok, _, err := b.onRelease(ctx, s)
		mu.Lock()
		defer mu.Unlock()
		all = all && ok && err == nil
		return nil
	})
	return all
}

// awaitRelease polls the servers until every one serves the release (and,
// with idle set, reports its deployment service idle where a driver can
// tell), at most InstallTimeout. Transient probe errors count as not yet.
func (b *balanced) awaitRelease(ctx context.Context, r *farm.Run, servers []farm.Server, idle bool) error {
	var idler drivers.IdleReporter
	if idle {
		if ir, ok := b.cfg.Services.(drivers.IdleReporter); ok {
			idler = ir
		} else if ir, ok := b.cfg.Platform.(drivers.IdleReporter); ok {
			idler = platformIdle{r, ir}
		}
	}
	wctx, cancel := context.WithTimeout(ctx, b.cfg.InstallTimeout)
	defer cancel()
	pending := slices.Clone(servers)
	why := map[string]string{}
	var mu sync.Mutex
	err := r.Poll(wctx, b.cfg.DeployPollInterval, b.cfg.ProgressInterval, "", func(ctx context.Context) (bool, farm.Event, error) {
		var still []farm.Server
		err := r.Each(ctx, pending, func(ctx context.Context, s farm.Server) error {
			ok, reason, err := b.onRelease(ctx, s)
			if err == nil && ok && idler != nil {
				ok, err = idler.DeploymentIdle(ctx, s.Target())
				reason = s.Name + ": deployment service busy"
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil && !drivers.IsRetryable(err):
				return &farm.StepError{Step: r.StepID(), Zone: s.Zone, Server: s.Name, Err: err}
			case err != nil:
				why[s.Name] = s.Name + ": " + err.Error()
				still = append(still, s)
			case !ok:
				why[s.Name] = reason
				still = append(still, s)
			}
			return nil
		})
		if err != nil {
			return false, farm.Event{}, err
		}
		slices.SortFunc(still, func(a, b farm.Server) int { return strings.Compare(a.Name, b.Name) })
		pending = still
		return len(pending) == 0, farm.Event{Done: len(servers) - len(pending), Total: len(servers),
			Message: fmt.Sprintf("%d of %d servers run %s", len(servers)-len(pending), len(servers), b.cfg.Release.Version)}, nil
	})
	if err != nil && (ctx.Err() != nil || wctx.Err() == nil || len(pending) == 0) {
		return err // cancelled, or a probe failed for good
	}
	if err != nil {
		// Timed out: one error per server not ready, so that callers (and
		// an Ask decision to exclude) know which servers failed. Each
		// wraps the deadline, not err (the last poll's errors of every
		// server: 2000 servers gave 2000 copies of each other).
		merr := &multierror.Error{ErrorFormat: farm.FormatErrors}
		for _, s := range pending {
			merr = multierror.Append(merr, &farm.StepError{Step: r.StepID(), Zone: s.Zone, Server: s.Name,
				Err: fmt.Errorf("not running %s after %s: %s: %w", b.cfg.Release.Version, b.cfg.InstallTimeout, why[s.Name], wctx.Err())})
		}
		return merr.ErrorOrNil()
	}
	return nil
}

// marshalRelease renders a release for farm.Captured.
func marshalRelease(rel drivers.Release) string {
	b, _ := json.Marshal(rel)
	return string(b)
}
