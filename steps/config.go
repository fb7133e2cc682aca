package steps

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	namerules "github.com/balanced-deploy/balanced/internal/names"
)

// Config is what [Balanced] needs: the drivers, the release, and the waits.
// The zero value of every duration means the default next to it.
type Config struct {
	// Services controls the Windows services on each server. Required.
	Services drivers.ServiceController
	// Platform deploys the release. Required.
	Platform drivers.PlatformClient
	// Prober checks the application directly on each server. Required.
	// With Probes, it must also be a drivers.ApplicationProber (httpprobe's
	// and the simulator's are).
	Prober drivers.Prober
	// Release is what to deploy; Release.Version is what the probes must
	// report afterwards unless Probes says otherwise. Required. Its
	// version, notes and application names and versions are one line of
	// printable text each (no control character, no ANSI escape), as the
	// runbook prints them.
	Release drivers.Release
	// Probes lists the applications of the release to probe on every
	// server, each at its own Path with its own expected Version: a
	// release of several applications is installed on each front-end one
	// application at a time, and one probe would miss an application still
	// deploying there. Preflight, the wait for the Updating servers after
	// publish, verify-updating, await-loaded and a rollback's checks probe
	// every one on every server. An empty Version means the application's
	// version in Release.Applications, or Release.Version when the
	// application is not listed there or has no version. Each Application
	// is named once, and is one of Release.Applications when that list is
	// not empty. Empty (the default) means one probe of Prober's own path,
	// expecting Release.Version.
	Probes []drivers.ApplicationProbe
	// QuietPeriod is how long a server's probes must keep the same answer,
	// once every application reads its expected version, before the
	// server counts as running the release (in the waits for servers to
	// run it: after publish, await-loaded, a rollback): no documented API
	// reports a front-end's Deployment service idle, and an application
	// that answers at once may still be redeployed by it. Zero (the
	// default) means none.
	QuietPeriod time.Duration

	// Plan tunes the engine (concurrency, retries, observer).
	Plan farm.PlanConfig

	// PollInterval is how often load-balancer state is read while waiting
	// for a drain or for members to turn healthy. Default 250ms.
	PollInterval time.Duration
	// DeployPollInterval is how often a server's deployment service is
	// asked whether it is idle while waiting for an install, and the
	// platform while waiting for a deployment unless PlatformPollInterval
	// says otherwise. The probes themselves are asked every PollInterval
	// when it is shorter (they are cheap), so a wait ends within one
	// PollInterval of the install. Default 2s.
	DeployPollInterval time.Duration
	// PlatformPollInterval is the first delay between two reads of a
	// deployment's status. Default: DeployPollInterval.
	PlatformPollInterval time.Duration
	// PlatformMaxPollInterval caps the delay between two status reads:
	// while the deployment's state stays the same the delay grows by half
	// at each read up to this, and starts again from PlatformPollInterval
	// when the state changes. Default: PlatformPollInterval (no growth),
	// so that the end of a deployment is seen within one interval.
	PlatformMaxPollInterval time.Duration
	// ProgressInterval is how often a long wait reports progress. Default
	// 10s.
	ProgressInterval time.Duration
	// DrainTimeout bounds the wait for a draining member's active
	// connections to reach zero (or, where the load balancer cannot count
	// them, for it to report the member out: keep it above an ALB target
	// group's deregistration delay, 300 s by default). Default 6m. What
	// happens then is set by FailOnDrainTimeout.
	DrainTimeout time.Duration
	// FailOnDrainTimeout makes a drain that times out fail the step (the
	// run halts with the members still draining). By default the members
	// are taken out anyway and a warning names the connections left.
	FailOnDrainTimeout bool
	// DrainPeriod is how long to wait after draining a member whose load
	// balancer cannot count its connections. Default 30s.
	DrainPeriod time.Duration
	// HealthTimeout bounds the wait for members to turn healthy once they
	// are back in the load balancer. Default 2m.
	HealthTimeout time.Duration
	// ConfirmDelay is how long after stopping a service the engine reads
	// it again to confirm it stays stopped and disabled (the runbook's
	// "confirm that the service stays stopped and disabled", steps 1 and
	// 3); a service that reads otherwise fails the step before anything is
	// deployed. Default 500ms.
	//
	// The wait is short because the stop disables the service before it
	// stops it, and the Service Control Manager refuses to start a
	// Disabled service (ERROR_SERVICE_DISABLED, 1058: Microsoft's
	// StartService reference; MS-SCMR RStartServiceW). So neither a
	// recovery action, nor a dependent service, nor a watchdog calling
	// Start-Service can bring it back. Only something that first changes
	// the startup type can, such as a configuration agent (Group Policy,
	// DSC) or a colleague. The guards watch for that from the moment the
	// step ends until the step that restores the service, and stop and
	// disable it again. Immediately before the platform deployment starts
	// or continues they must read every guarded service; one they had to
	// stop again is read once more ConfirmDelay later, and found running
	// again it fails the step instead of deploying (docs/safety.md, "A
	// stopped service that does not stay stopped"). Set a longer
	// ConfirmDelay when an agent on your farm re-enables services within a
	// known delay. On a farm whose drains take longer, the wait runs
	// beside drain-updating and costs nothing.
	ConfirmDelay time.Duration
	// PublishTimeout bounds the platform deployment. Default 60m.
	PublishTimeout time.Duration
	// InstallTimeout bounds the wait for servers to run the release after
	// the platform deployment (Updating) or after their deployment service
	// restarts (Loaded). Default 30m.
	InstallTimeout time.Duration
	// AcceptDisabledSchedulers lets preflight accept a Scheduler service
	// that is already disabled (it is then restored to disabled). By default
	// preflight refuses it: it is what a crashed or halted run leaves
	// behind, and that run should be resumed instead.
	AcceptDisabledSchedulers bool
	// ContinuePrepared lets the publish step continue, once, a deployment
	// that the platform prepared and holds for confirmation (LifeTime's
	// needs_user_intervention with Info deploy_prepared or
	// deployment_prepared: drivers.DeploymentStatus.Prepared), where the
	// platform can (drivers.DeploymentContinuer). By default such a
	// deployment halts the run with a clear error and stays waiting.
	ContinuePrepared bool
	// PrepareAtFullCapacity sets whether the platform's first stage
	// (compile, SQL scripts, binaries uploaded; nothing running changes)
	// runs in a step of its own, prepare, while every server serves, so
	// that the farm runs at reduced capacity only for the second stage
	// and the catch-up ([PrepareMode]). The default, PrepareAuto, does so
	// where the platform can (drivers.DeploymentPreparer and
	// drivers.DeploymentContinuer, TwoStage true) and runs the one-stage
	// plan otherwise; PrepareOff never does; PrepareRequire refuses a
	// platform that cannot. The runbook says which mode runs.
	PrepareAtFullCapacity PrepareMode
	// AbortPublishOnStop makes a publish that stops before its deployment
	// ends (the run is cancelled, or PublishTimeout passes) abort the
	// platform deployment, where the platform can (drivers.
	// DeploymentAborter), and forget its ID. By default the deployment is
	// left running and its ID stays in the journal, so that Resume follows
	// it to its end instead of deploying again; only a rollback aborts it.
	AbortPublishOnStop bool
}

// Defaults of [Config].
const (
	DefaultPollInterval       = 250 * time.Millisecond
	DefaultDeployPollInterval = 2 * time.Second
	DefaultProgressInterval   = 10 * time.Second
	DefaultDrainTimeout       = 6 * time.Minute
	DefaultDrainPeriod        = 30 * time.Second
	DefaultHealthTimeout      = 2 * time.Minute
	DefaultConfirmDelay       = 500 * time.Millisecond
	DefaultPublishTimeout     = 60 * time.Minute
	DefaultInstallTimeout     = 30 * time.Minute
)

// ErrInvalidConfig is wrapped by every error [Balanced] returns for a bad
// Config.
var ErrInvalidConfig = errors.New("invalid balanced config")

func (c Config) withDefaults() (Config, error) {
	if c.Services == nil || c.Platform == nil || c.Prober == nil {
		return c, fmt.Errorf("%w: Services, Platform and Prober are required: want a driver for each", ErrInvalidConfig)
	}
	if c.Release.Version == "" {
		return c, fmt.Errorf("%w: Release.Version is empty: want the version the application reports once deployed", ErrInvalidConfig)
	}
	if err := namerules.Release(c.Release); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	probes, err := c.probes()
	if err != nil {
		return c, err
	}
	c.Probes = probes
	if c.QuietPeriod < 0 {
		return c, fmt.Errorf("%w: QuietPeriod %v: want a positive duration, or 0 for none", ErrInvalidConfig, c.QuietPeriod)
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"PollInterval", &c.PollInterval, DefaultPollInterval},
		{"DeployPollInterval", &c.DeployPollInterval, DefaultDeployPollInterval},
		{"ProgressInterval", &c.ProgressInterval, DefaultProgressInterval},
		{"DrainTimeout", &c.DrainTimeout, DefaultDrainTimeout},
		{"DrainPeriod", &c.DrainPeriod, DefaultDrainPeriod},
		{"HealthTimeout", &c.HealthTimeout, DefaultHealthTimeout},
		{"ConfirmDelay", &c.ConfirmDelay, DefaultConfirmDelay},
		{"PublishTimeout", &c.PublishTimeout, DefaultPublishTimeout},
		{"InstallTimeout", &c.InstallTimeout, DefaultInstallTimeout},
	}
	for _, d := range durations {
		switch {
		case *d.v < 0:
			return c, fmt.Errorf("%w: %s %v: want a positive duration, or 0 for the default %v", ErrInvalidConfig, d.name, *d.v, d.def)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case c.PlatformPollInterval < 0:
		return c, fmt.Errorf("%w: PlatformPollInterval %v: want a positive duration, or 0 for DeployPollInterval", ErrInvalidConfig, c.PlatformPollInterval)
	case c.PlatformMaxPollInterval < 0:
		return c, fmt.Errorf("%w: PlatformMaxPollInterval %v: want a positive duration, or 0 for PlatformPollInterval", ErrInvalidConfig, c.PlatformMaxPollInterval)
	}
	if c.PlatformPollInterval == 0 {
		c.PlatformPollInterval = c.DeployPollInterval
	}
	if c.PlatformMaxPollInterval == 0 {
		c.PlatformMaxPollInterval = c.PlatformPollInterval
	}
	if c.PlatformMaxPollInterval < c.PlatformPollInterval {
		return c, fmt.Errorf("%w: PlatformMaxPollInterval %v is below PlatformPollInterval %v: want it at least as long", ErrInvalidConfig, c.PlatformMaxPollInterval, c.PlatformPollInterval)
	}
	return c, nil
}

// probes checks Probes and returns a copy with each Version filled in.
func (c Config) probes() ([]drivers.ApplicationProbe, error) {
	if len(c.Probes) == 0 {
		return nil, nil
	}
	if _, ok := c.Prober.(drivers.ApplicationProber); !ok {
		return nil, fmt.Errorf("%w: Probes lists %d applications but Prober (%T) cannot probe an application at its own path: want a drivers.ApplicationProber (httpprobe's is one), or no Probes", ErrInvalidConfig, len(c.Probes), c.Prober)
	}
	listed := map[string]drivers.Application{}
	var known []string
	for _, a := range c.Release.Applications {
		listed[a.Name] = a
		known = append(known, a.Name)
	}
	out := make([]drivers.ApplicationProbe, len(c.Probes))
	seen := map[string]bool{}
	for i, p := range c.Probes {
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%w: Probes[%d]: "+format, append([]any{ErrInvalidConfig, i}, args...)...)
		}
		if p.Application == "" {
			return nil, bad("no Application: want the name of an application of the release")
		}
		if err := namerules.Text("probe application", p.Application); err != nil {
			return nil, bad("%w", err)
		}
		if seen[p.Application] {
			return nil, bad("application %q is probed twice: want one probe per application", p.Application)
		}
		seen[p.Application] = true
		a, ok := listed[p.Application]
		if !ok && len(listed) > 0 {
			return nil, bad("application %q is not in Release.Applications: want one of %s", p.Application, strings.Join(known, ", "))
		}
		if err := namerules.Text("probe path", p.Path); err != nil {
			return nil, bad("application %s: %w", p.Application, err)
		}
		if p.Version == "" {
			p.Version = a.Version
		}
		if p.Version == "" {
			p.Version = c.Release.Version
		}
		if err := namerules.Text("probe version", p.Version); err != nil {
			return nil, bad("application %s: %w", p.Application, err)
		}
		out[i] = p
	}
	return out, nil
}
