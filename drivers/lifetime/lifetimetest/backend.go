package lifetimetest

import (
	"context"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// LogFunc appends a line to the deployment's log. typ is "Info", "Warning"
// or "Error".
type LogFunc func(typ, message string)

// Backend performs the work of a started deployment. Deploy blocks until the
// release is installed (return nil) or has failed (return an error, which
// becomes an Error log line and finished_with_errors). When the deployment
// is aborted, ctx is cancelled and Deploy must return promptly. A Warning
// logged through log makes a successful deployment end
// finished_with_warnings.
type Backend interface {
	Deploy(ctx context.Context, rel drivers.Release, log LogFunc) error
}

// BackendFunc adapts a function to [Backend].
type BackendFunc func(ctx context.Context, rel drivers.Release, log LogFunc) error

// Deploy calls f.
func (f BackendFunc) Deploy(ctx context.Context, rel drivers.Release, log LogFunc) error {
	return f(ctx, rel, log)
}

// DelayBackend installs nothing: it takes Duration (0 = at once) and
// succeeds, unless aborted.
type DelayBackend struct {
	Duration time.Duration
}

// Deploy waits Duration or until ctx ends.
func (b DelayBackend) Deploy(ctx context.Context, rel drivers.Release, log LogFunc) error {
	log("Info", fmt.Sprintf("Publishing release %q", rel.Version))
	if b.Duration > 0 {
		t := time.NewTimer(b.Duration)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	log("Info", "Publish finished")
	return nil
}

// PlatformBackend hands the release to a drivers.PlatformClient (for
// example a simulated farm's platform) and follows it until it ends, so
// that the LifeTime client's deployment really installs somewhere.
type PlatformBackend struct {
	Platform drivers.PlatformClient
	// PollInterval is the delay between two status reads (default 1 s).
	PollInterval time.Duration
}

// Deploy starts the deployment on the platform and polls it. On abort it
// calls AbortDeployment when the platform has that capability.
func (b PlatformBackend) Deploy(ctx context.Context, rel drivers.Release, log LogFunc) error {
	if b.Platform == nil {
		return fmt.Errorf("lifetimetest: PlatformBackend has no Platform")
	}
	poll := b.PollInterval
	if poll <= 0 {
		poll = time.Second
	}
	id, err := b.Platform.StartDeployment(ctx, rel)
	if err != nil {
		return fmt.Errorf("start on platform: %w", err)
	}
	log("Info", fmt.Sprintf("Platform deployment %s started", id))
	seen := 0
	for {
		st, err := b.Platform.DeploymentStatus(ctx, id)
		if err == nil {
			for _, e := range st.Log[min(seen, len(st.Log)):] {
				log(e.Type, e.Message)
			}
			seen = len(st.Log)
			if st.State.Done() {
				if st.State == drivers.DeploymentSucceededWithWarnings {
					log("Warning", "platform finished with warnings")
				}
				if !st.State.Succeeded() {
					return fmt.Errorf("platform deployment %s ended %s", id, st.State)
				}
				return nil
			}
		} else if ctx.Err() == nil && !drivers.IsRetryable(err) {
			return fmt.Errorf("platform status: %w", err)
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			if a, ok := b.Platform.(drivers.DeploymentAborter); ok {
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
				_ = a.AbortDeployment(actx, id)
				cancel()
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}
