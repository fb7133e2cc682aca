package lifetimetest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Backend performs the work of a started deployment. Deploy blocks until the
// release is installed (return nil) or has failed (return an error, which
// becomes an Error log line and finished_with_errors). When the deployment
// is aborted, ctx is cancelled and Deploy must return promptly. Through job
// it writes the deployment's log (a Warning makes a successful deployment end
// finished_with_warnings) and can pause in needs_user_intervention.
type Backend interface {
	Deploy(ctx context.Context, rel drivers.Release, job *Job) error
}

// BackendFunc adapts a function to [Backend].
type BackendFunc func(ctx context.Context, rel drivers.Release, job *Job) error

// Deploy calls f.
func (f BackendFunc) Deploy(ctx context.Context, rel drivers.Release, job *Job) error {
	return f(ctx, rel, job)
}

// Job is the deployment a [Backend] works on.
type Job struct {
	f      *Fake
	d      *deployment
	warned bool // guarded by f.mu
}

// Key returns the LifeTime deployment key.
func (j *Job) Key() string { return j.d.Key }

// Log appends a line to the deployment's log. typ is "Info", "Warning" or
// "Error".
func (j *Job) Log(typ, message string) {
	j.f.mu.Lock()
	defer j.f.mu.Unlock()
	if typ == "Warning" {
		j.warned = true
	}
	j.f.logLocked(j.d, typ, message)
}

// errNotRunning is returned by Pause when the deployment left running.
var errNotRunning = errors.New("lifetimetest: the deployment is not running")

// Pause puts the deployment in needs_user_intervention with info and waits
// until it is continued (nil: the deployment is running again) or aborted
// (ctx's error).
func (j *Job) Pause(ctx context.Context, info string) error {
	j.f.mu.Lock()
	if j.d.State != drivers.DeploymentRunning {
		j.f.mu.Unlock()
		if err := ctx.Err(); err != nil {
			return err
		}
		return errNotRunning
	}
	select { // forget a continue sent before this pause
	case <-j.d.cont:
	default:
	}
	j.d.State, j.d.Info = drivers.DeploymentNeedsUserIntervention, info
	j.f.logLocked(j.d, "Info", "Deployment waits for user intervention: "+info)
	j.f.mu.Unlock()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-j.d.cont:
		return nil
	}
}

// DelayBackend installs nothing: it takes Duration (0 = at once) and
// succeeds, unless aborted.
type DelayBackend struct {
	Duration time.Duration
}

// Deploy waits Duration or until ctx ends.
func (b DelayBackend) Deploy(ctx context.Context, rel drivers.Release, job *Job) error {
	job.Log("Info", fmt.Sprintf("Publishing release %q", rel.Version))
	if b.Duration > 0 {
		t := time.NewTimer(b.Duration)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	job.Log("Info", "Publish finished")
	return nil
}

// PlatformBackend hands the release to a drivers.PlatformClient (for
// example a simulated farm's platform) and follows it until it ends, so
// that the LifeTime client's deployment really installs somewhere. The
// platform's log lines are copied into the LifeTime log; a platform
// deployment waiting in needs_user_intervention pauses the LifeTime one with
// the same Info, and continuing the LifeTime deployment continues the
// platform's (when it has that capability); aborting the LifeTime deployment
// aborts the platform's.
type PlatformBackend struct {
	Platform drivers.PlatformClient
	// PollInterval is the delay between two status reads (default 1 s).
	PollInterval time.Duration
}

// Deploy starts the deployment on the platform and follows it.
func (b PlatformBackend) Deploy(ctx context.Context, rel drivers.Release, job *Job) error {
	if b.Platform == nil {
		return errors.New("lifetimetest: PlatformBackend has no Platform")
	}
	poll := b.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	id, err := b.Platform.StartDeployment(ctx, rel)
	if err != nil {
		return fmt.Errorf("start on platform: %w", err)
	}
	job.Log("Info", fmt.Sprintf("Platform deployment %s started", id))
	seen := 0
	for {
		st, err := b.Platform.DeploymentStatus(ctx, id)
		switch {
		case err != nil && ctx.Err() == nil && !drivers.IsRetryable(err):
			return fmt.Errorf("platform status: %w", err)
		case err != nil:
		default:
			for _, e := range st.Log[min(seen, len(st.Log)):] {
				job.Log(e.Type, e.Message)
			}
			seen = len(st.Log)
			if st.State.Done() {
				if st.State == drivers.DeploymentSucceededWithWarnings {
					job.Log("Warning", "platform finished with warnings")
				}
				if !st.State.Succeeded() {
					return fmt.Errorf("platform deployment %s ended %s", id, st.State)
				}
				return nil
			}
			if st.State == drivers.DeploymentNeedsUserIntervention {
				if err := b.pause(ctx, job, id, st.Info); err != nil {
					return err
				}
				continue
			}
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			b.abort(ctx, id)
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pause mirrors a platform deployment waiting for user intervention.
func (b PlatformBackend) pause(ctx context.Context, job *Job, id, info string) error {
	if err := job.Pause(ctx, info); err != nil {
		b.abort(ctx, id)
		return err
	}
	c, ok := b.Platform.(drivers.DeploymentContinuer)
	if !ok {
		return fmt.Errorf("platform deployment %s needs user intervention (%s) and the platform cannot continue it", id, info)
	}
	if err := c.ContinueDeployment(ctx, id); err != nil {
		return fmt.Errorf("continue platform deployment %s: %w", id, err)
	}
	return nil
}

// abort aborts the platform deployment, on a fresh context, when the
// platform can.
func (b PlatformBackend) abort(ctx context.Context, id string) {
	a, ok := b.Platform.(drivers.DeploymentAborter)
	if !ok {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = a.AbortDeployment(actx, id)
}
