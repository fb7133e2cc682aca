package spec

import (
	"github.com/balanced-deploy/balanced/farm"
)

// Spec is a farm spec file, decoded and validated by [Load] or [Parse]. Every
// field mirrors a key of the YAML schema described in the package
// documentation. Secrets are held as [Secret]s, which never print their value,
// so a Spec can be logged or printed (%v, %+v, JSON) safely.
//
// A Spec changes nothing by itself: [Spec.Build] turns it into a farm and the
// balanced plan.
type Spec struct {
	// Release is what the run deploys. Required.
	Release Release `yaml:"release" json:"release"`
	// Servers lists every front-end of the farm. Required.
	Servers []Server `yaml:"servers" json:"servers"`
	// Zones assigns the servers to deployment zones and groups. Empty means
	// one zone holding every server, split automatically.
	Zones []Zone `yaml:"zones" json:"zones,omitempty"`
	// LoadBalancer fronts every zone that names none of its own.
	LoadBalancer *LoadBalancer `yaml:"load_balancer" json:"load_balancer,omitempty"`
	// Services configures the WinRM driver of the Windows services. Required.
	Services *Services `yaml:"services" json:"services"`
	// Platform configures the LifeTime driver. Required.
	Platform *Platform `yaml:"platform" json:"platform"`
	// Probe configures the HTTP probe of each front-end. Optional.
	Probe *Probe `yaml:"probe" json:"probe,omitempty"`
	// Timeouts tunes the waits of the balanced plan. Optional.
	Timeouts Timeouts `yaml:"timeouts" json:"timeouts"`
	// Concurrency is the most server actions in flight at once. Zero means
	// farm.DefaultConcurrency.
	Concurrency int `yaml:"concurrency" json:"concurrency,omitempty"`
	// Limits bound the driver calls in flight per system (farm.Limits):
	// per front-end host, per load balancer, to the platform. Zero keys
	// mean farm's defaults.
	Limits Limits `yaml:"limits" json:"limits"`
	// CapacityFloor is the share of each zone that must be in its Loaded
	// group. Zero means farm.DefaultCapacityFloor; negative disables the
	// check.
	CapacityFloor float64 `yaml:"capacity_floor" json:"capacity_floor,omitempty"`
	// Retry says how transient driver errors are retried.
	Retry Retry `yaml:"retry" json:"retry"`
	// OnFailure is "halt" (the default) or "rollback".
	OnFailure string `yaml:"on_failure" json:"on_failure,omitempty"`
	// Journal is the path of the run's journal (JSON lines), relative to
	// the spec file's directory. Empty means no journal: the run cannot be
	// resumed, and takes no host lock unless LockDir is set.
	Journal string `yaml:"journal" json:"journal,omitempty"`
	// LockDir is the directory of the host lock files (lock.File),
	// relative to the spec file's directory. Empty means
	// lock.DefaultDir(), one per user: point every operator of a host
	// at one shared directory to exclude each other there too.
	LockDir string `yaml:"lock_dir" json:"lock_dir,omitempty"`
	// AcceptDisabledSchedulers lets preflight accept Scheduler services
	// that are already disabled (restoring them to disabled at the end),
	// for a farm where they are disabled on purpose or where a run's
	// journal is lost (steps.Config.AcceptDisabledSchedulers).
	AcceptDisabledSchedulers bool `yaml:"accept_disabled_schedulers" json:"accept_disabled_schedulers,omitempty"`
	// FailOnDrainTimeout makes a drain that times out fail the step instead
	// of taking the members out anyway with a warning.
	FailOnDrainTimeout bool `yaml:"fail_on_drain_timeout" json:"fail_on_drain_timeout,omitempty"`
	// Approvals are approval gates inserted before or after steps.
	Approvals []Approval `yaml:"approvals" json:"approvals,omitempty"`
	// SmokeTests are HTTP checks of each Updating server, run as hooks
	// before or after steps (by default after verify-updating).
	SmokeTests []SmokeTest `yaml:"smoke_tests" json:"smoke_tests,omitempty"`
	// Notifications are webhooks told when the run and chosen steps start
	// and end.
	Notifications []Notification `yaml:"notifications" json:"notifications,omitempty"`
	// AllowInlineSecrets lets passwords and tokens be written in the file
	// itself. Off by default; each inline secret then gets a warning.
	AllowInlineSecrets bool `yaml:"allow_inline_secrets" json:"allow_inline_secrets,omitempty"`

	// Source names where the spec came from (the file path given to Load).
	Source string `yaml:"-" json:"source,omitempty"`
	// Warnings lists what the spec does that is allowed but unwise (inline
	// secrets, TLS verification turned off), each with its line.
	Warnings []string `yaml:"-" json:"warnings,omitempty"`
}

// Release is what to deploy: the version the probes must report afterwards,
// and the application versions LifeTime deploys.
type Release struct {
	// Version identifies the release as the application reports it. Required.
	Version string `yaml:"version" json:"version"`
	// Applications lists the application versions of the release.
	Applications []Application `yaml:"applications" json:"applications,omitempty"`
	// Notes is attached to the deployment (a change ticket).
	Notes string `yaml:"notes" json:"notes,omitempty"`
}

// Application is one application of a release.
type Application struct {
	Name    string `yaml:"name" json:"name"`
	Version string `yaml:"version" json:"version"`
	// Probe says where the application answers on each server and which
	// version it reports once installed (steps.Config.Probes): each
	// application of a release is installed on its own, so each is probed
	// on every server. When one application of the release has a probe,
	// every one must. None means the one probe of the probe block,
	// expecting the release's version.
	Probe *AppProbe `yaml:"probe" json:"probe,omitempty"`
}

// AppProbe is the probe of one application (drivers.ApplicationProbe),
// made with the settings of the spec's probe block (host, TLS, where the
// version is read) at its own path.
type AppProbe struct {
	// Path is where the application answers, appended to each server's
	// probe_url, for example /Orders/rest/Health/Version. Required.
	Path string `yaml:"path" json:"path"`
	// Version is what the application reports once the release is
	// installed. Empty means the application's version.
	Version string `yaml:"version" json:"version,omitempty"`
}

// Server is one front-end, as farm.Server describes it.
type Server struct {
	// Name is the farm-unique name operators know the server by. Required.
	Name string `yaml:"name" json:"name"`
	// Address is the host name or IP address WinRM connects to. Empty means
	// Name.
	Address string `yaml:"address" json:"address,omitempty"`
	// Member is the server's identity in its load balancer (HAProxy server
	// name, F5 "node:port", ALB target id). Empty means Name.
	Member string `yaml:"member" json:"member,omitempty"`
	// ProbeURL is the base URL of the application served directly by this
	// server. Empty means "https://<address>/".
	ProbeURL string `yaml:"probe_url" json:"probe_url,omitempty"`
	// Controller marks the server with the Deployment Controller role. It
	// must be in an Updating group.
	Controller bool `yaml:"controller" json:"controller,omitempty"`
}

// Zone is one deployment zone: either explicit Updating and Loaded lists, or
// Split "auto" over Servers.
type Zone struct {
	// Name is the zone's name. Empty means farm.DefaultZone.
	Name string `yaml:"name" json:"name,omitempty"`
	// Updating and Loaded list server names: the two groups of the zone.
	Updating []string `yaml:"updating" json:"updating,omitempty"`
	Loaded   []string `yaml:"loaded" json:"loaded,omitempty"`
	// Split "auto" halves Servers with farm.AutoSplit (the controller and
	// the larger half Updating) instead of explicit lists.
	Split string `yaml:"split" json:"split,omitempty"`
	// Servers lists the zone's servers when Split is "auto".
	Servers []string `yaml:"servers" json:"servers,omitempty"`
	// LoadBalancer fronts this zone instead of the spec's LoadBalancer.
	LoadBalancer *LoadBalancer `yaml:"load_balancer" json:"load_balancer,omitempty"`
}

// Timeouts tunes the waits of the balanced plan (steps.Config). Every zero
// value means the default of package steps.
type Timeouts struct {
	Drain              Duration `yaml:"drain" json:"drain,omitzero"`
	DrainPeriod        Duration `yaml:"drain_period" json:"drain_period,omitzero"`
	Health             Duration `yaml:"health" json:"health,omitzero"`
	Publish            Duration `yaml:"publish" json:"publish,omitzero"`
	Install            Duration `yaml:"install" json:"install,omitzero"`
	ConfirmDelay       Duration `yaml:"confirm_delay" json:"confirm_delay,omitzero"`
	PollInterval       Duration `yaml:"poll_interval" json:"poll_interval,omitzero"`
	DeployPollInterval Duration `yaml:"deploy_poll_interval" json:"deploy_poll_interval,omitzero"`
	ProgressInterval   Duration `yaml:"progress_interval" json:"progress_interval,omitzero"`
	// QuietPeriod is how long each server's probes must keep the same
	// answer, once every application reads its version, before the server
	// counts as running the release (steps.Config.QuietPeriod). Zero means
	// none.
	QuietPeriod Duration `yaml:"quiet_period" json:"quiet_period,omitzero"`
	// Step bounds every step that sets no timeout of its own. Zero means
	// no limit.
	Step Duration `yaml:"step" json:"step,omitzero"`
}

// Retry is farm.RetryPolicy in the spec. Every zero value means the engine's
// default.
type Retry struct {
	MaxAttempts    int      `yaml:"max_attempts" json:"max_attempts,omitempty"`
	InitialBackoff Duration `yaml:"initial_backoff" json:"initial_backoff,omitzero"`
	MaxBackoff     Duration `yaml:"max_backoff" json:"max_backoff,omitzero"`
	Multiplier     float64  `yaml:"multiplier" json:"multiplier,omitempty"`
	Jitter         float64  `yaml:"jitter" json:"jitter,omitempty"`
}

func (r Retry) policy() farm.RetryPolicy {
	return farm.RetryPolicy{
		MaxAttempts:    r.MaxAttempts,
		InitialBackoff: r.InitialBackoff.D(),
		MaxBackoff:     r.MaxBackoff.D(),
		Multiplier:     r.Multiplier,
		Jitter:         r.Jitter,
	}
}

// Limits is the limits block: the most driver calls in flight at once per
// system (farm.Limits). A zero key means farm's default
// (farm.DefaultHostConcurrency, DefaultLoadBalancerConcurrency,
// DefaultPlatformConcurrency).
type Limits struct {
	// Host is the most calls in flight to one front-end server (its WinRM
	// endpoint).
	Host int `yaml:"host" json:"host,omitempty"`
	// LoadBalancer is the most calls in flight to one load balancer.
	LoadBalancer int `yaml:"load_balancer" json:"load_balancer,omitempty"`
	// Platform is the most calls in flight to the platform (LifeTime).
	Platform int `yaml:"platform" json:"platform,omitempty"`
}
