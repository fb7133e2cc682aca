package simulate

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/names"
)

// Defaults used when the matching [Config] field is zero.
const (
	DefaultServers           = 4
	DefaultInitialVersion    = "v1"
	DefaultPublishDuration   = time.Minute
	DefaultInstallDuration   = 2 * time.Minute
	DefaultInstallStagger    = time.Second
	DefaultServiceLatency    = 200 * time.Millisecond
	DefaultHealthCheckDelay  = 2 * time.Second
	DefaultSchedulerInterval = 30 * time.Second
	DefaultTick              = time.Second
	DefaultSampleInterval    = time.Second
	DefaultMaxViolations     = 100
	DefaultRate              = 20
	DefaultRequestDuration   = 200 * time.Millisecond
	DefaultClients           = 50
)

// ZoneConfig describes one deployment zone of the simulated farm.
type ZoneConfig struct {
	// Name is the zone's name. Empty means [farm.DefaultZone] for a farm of
	// one zone and "zoneN" (N counting from 1) otherwise.
	Name string
	// Servers is how many front-ends the zone has, named fe01, fe02, ...
	// across the whole farm. Ignored when Names is set; zero means
	// [DefaultServers].
	Servers int
	// Names lists the zone's front-ends by name explicitly.
	Names []string
	// Rate overrides Traffic.Rate for this zone (requests per second);
	// negative means no traffic in this zone.
	Rate float64
}

// Traffic describes the simulated user load. It is open-loop: requests arrive
// at random (Poisson) instants drawn from the seed, whatever the farm does.
type Traffic struct {
	// Rate is the mean number of requests per second arriving in each zone.
	// Zero means [DefaultRate]; negative means no traffic.
	Rate float64
	// Duration is how long each request holds its server. Zero means
	// [DefaultRequestDuration].
	Duration time.Duration
	// MaxDuration, when greater than Duration, makes request durations
	// uniform between Duration and MaxDuration.
	MaxDuration time.Duration
	// Clients is the number of client identities per zone; each request
	// comes from one of them at random. Zero means [DefaultClients].
	Clients int
}

// Config describes a simulated farm for [New]. The zero value is a valid
// farm of [DefaultServers] front-ends in one zone with default timings. For
// durations, zero means the default and a negative value means "none"
// (instantaneous).
type Config struct {
	// Zones lists the deployment zones. Empty means one zone
	// ([farm.DefaultZone]) of [DefaultServers] servers.
	Zones []ZoneConfig
	// Controller names the server with the Deployment Controller role.
	// Empty means the first server of the first zone.
	Controller string
	// Seed drives every random choice (arrivals, durations, clients,
	// probabilistic faults). The same seed gives the same run.
	Seed uint64
	// InitialVersion is the release every server and the database schema
	// run at the start. Empty means [DefaultInitialVersion].
	InitialVersion string
	// InitialServices sets, per service, the run state and startup type
	// every server's service starts in (and must end in, invariant 6).
	// Services not listed start Running/Automatic.
	InitialServices map[drivers.Service]drivers.ServiceState
	// PublishDuration is how long the platform takes over the first stage
	// of a deployment: compile, generate the SQL scripts and upload the
	// binaries to the front-ends, with no change to what runs (OutSystems,
	// "Two-stage deployment"). In a one-stage environment the second stage
	// (ApplyDuration) follows at once; the deployment then reports
	// finished_successful and moves the database schema.
	PublishDuration time.Duration
	// ApplyDuration is how long the second stage of a deployment takes:
	// apply the database changes and switch the running versions. Zero
	// (the default) or negative means none: the deployment finishes when
	// its first stage does, as before the stages were modelled.
	ApplyDuration time.Duration
	// TwoStage enables LifeTime's two-stage deployment on the simulated
	// target environment (a setting of the environment in LifeTime, not of
	// the deployment: the Deployment API cannot ask for it). A deployment
	// then stops after its first stage in needs_user_intervention with
	// Info deploy_prepared, and runs its second stage only when
	// [Platform.ContinueDeployment] is called. Off by default, as on a
	// stock environment.
	TwoStage bool
	// InstallDuration is how long one front-end takes to install a version;
	// its application answers 503 meanwhile.
	InstallDuration time.Duration
	// InstallStagger delays each successive front-end's install start after
	// a publish (front-ends do not all start in the same instant).
	InstallStagger time.Duration
	// CatchUpDelay is how long a front-end's Deployment service, once
	// started again (unblock-loaded), takes to begin installing a release
	// it missed. Zero means at once.
	CatchUpDelay time.Duration
	// ServiceLatency is how long each ServiceController call takes.
	ServiceLatency time.Duration
	// LoadBalancerLatency is how long each load balancer call takes. Zero
	// means none (the default).
	LoadBalancerLatency time.Duration
	// HealthCheckDelay is how long the load balancer's health checks take to
	// notice that a front-end's application went down (crash, install) or
	// came back. Requests routed meanwhile fail.
	HealthCheckDelay time.Duration
	// RecheckAfterOut makes a member's health unknown while it is out and
	// until the first health check after it comes back (after
	// HealthCheckDelay), and the load balancer sends it no new request
	// meanwhile, as AWS ALB does with a target in state "initial". By
	// default health checks go on while a member is out (as HAProxy
	// reports it up again at once on leaving maintenance).
	RecheckAfterOut bool
	// InstallPassesChecksFor is how long, from the start of an install, the
	// load balancer's health check still passes on the installing server,
	// as a check of a static page, or of the web server alone, does while
	// the application behind it is being replaced: the member reads healthy
	// although the application answers 503. A value of InstallDuration or
	// more means for the whole install. Zero (the default) or negative means
	// not at all: the checks fail from the start of the install.
	InstallPassesChecksFor time.Duration
	// SchedulerInterval is how often a running Scheduler fires its timers.
	SchedulerInterval time.Duration
	// CapacityFloor is the share (0 to 1) of each zone's members that must
	// be serving and healthy at all times (invariant 4). Zero means
	// [farm.DefaultCapacityFloor]; negative disables the floor (a zone with
	// no serving member is still a violation).
	CapacityFloor float64
	// Traffic describes the user load started by [Sim.Start].
	Traffic Traffic
	// SampleInterval is the width of the traffic samples of
	// [ZoneReport].Traffic. Zero means [DefaultSampleInterval].
	SampleInterval time.Duration
	// Tick is how often the background goroutine started by [Sim.Start]
	// advances the simulation. The simulation is exact whatever the tick:
	// every event carries its own time. Zero means [DefaultTick].
	Tick time.Duration
	// MaxViolations caps how many violations of each invariant the report
	// keeps in full; counts stay exact. Zero means [DefaultMaxViolations].
	MaxViolations int
	// Logger receives debug lines for driver calls and deployment
	// milestones. Nil means discard.
	Logger *slog.Logger
}

// dur applies the "zero = default, negative = none" rule.
func dur(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

// normalize returns cfg with defaults applied, or an error naming the bad
// value.
func (cfg Config) normalize() (Config, error) {
	c := cfg
	if len(c.Zones) == 0 {
		c.Zones = []ZoneConfig{{}}
	} else {
		c.Zones = append([]ZoneConfig(nil), cfg.Zones...)
	}
	var seenZone, seenServer names.Unique[struct{}]
	next := 1
	for i := range c.Zones {
		z := &c.Zones[i]
		if z.Name == "" {
			if len(c.Zones) == 1 {
				z.Name = farm.DefaultZone
			} else {
				z.Name = fmt.Sprintf("zone%d", i+1)
			}
		}
		if err := names.Name("zone name", z.Name); err != nil {
			return c, fmt.Errorf("%w: %w", drivers.ErrInvalidArgument, err)
		}
		if _, dup := seenZone.Add(z.Name, struct{}{}); dup {
			return c, fmt.Errorf("%w: %w", drivers.ErrInvalidArgument, names.Twice("zone", z.Name, ""))
		}
		if len(z.Names) == 0 {
			n := z.Servers
			if n == 0 {
				n = DefaultServers
			}
			if n < 0 {
				return c, fmt.Errorf("%w: zone %s: %d servers: want a positive count", drivers.ErrInvalidArgument, z.Name, n)
			}
			for range n {
				z.Names = append(z.Names, fmt.Sprintf("fe%02d", next))
				next++
			}
		} else {
			z.Names = append([]string(nil), z.Names...)
		}
		for _, n := range z.Names {
			if err := names.Name("server name", n); err != nil {
				return c, fmt.Errorf("%w: %w", drivers.ErrInvalidArgument, err)
			}
			if _, dup := seenServer.Add(n, struct{}{}); dup {
				return c, fmt.Errorf("%w: %w", drivers.ErrInvalidArgument, names.Twice("server name", n, ""))
			}
		}
		if math.IsNaN(z.Rate) || math.IsInf(z.Rate, 0) {
			return c, fmt.Errorf("%w: zone %s: rate %v: want a finite number", drivers.ErrInvalidArgument, z.Name, z.Rate)
		}
	}
	if c.Controller == "" {
		c.Controller = c.Zones[0].Names[0]
	} else if !seenServer.Has(c.Controller) {
		return c, fmt.Errorf("%w: controller %q: want the name of one of the farm's servers", drivers.ErrNotFound, c.Controller)
	}
	if c.InitialVersion == "" {
		c.InitialVersion = DefaultInitialVersion
	}
	c.PublishDuration = dur(c.PublishDuration, DefaultPublishDuration)
	c.ApplyDuration = max(c.ApplyDuration, 0)
	c.InstallDuration = dur(c.InstallDuration, DefaultInstallDuration)
	c.InstallStagger = dur(c.InstallStagger, DefaultInstallStagger)
	c.ServiceLatency = dur(c.ServiceLatency, DefaultServiceLatency)
	c.LoadBalancerLatency = dur(c.LoadBalancerLatency, 0)
	c.HealthCheckDelay = dur(c.HealthCheckDelay, DefaultHealthCheckDelay)
	c.InstallPassesChecksFor = max(c.InstallPassesChecksFor, 0)
	c.SchedulerInterval = dur(c.SchedulerInterval, DefaultSchedulerInterval)
	if c.SchedulerInterval == 0 {
		return c, fmt.Errorf("%w: scheduler interval %v: want a positive duration (or zero for the default)", drivers.ErrInvalidArgument, cfg.SchedulerInterval)
	}
	if c.SampleInterval <= 0 {
		c.SampleInterval = DefaultSampleInterval
	}
	for svc, st := range c.InitialServices {
		switch svc {
		case drivers.SchedulerService, drivers.DeploymentService, drivers.DeploymentControllerService:
		default:
			return c, fmt.Errorf("%w: initial state of service %q: want scheduler, deployment or deployment-controller", drivers.ErrInvalidArgument, svc)
		}
		switch {
		case st.Run != drivers.Running && st.Run != drivers.Stopped:
			return c, fmt.Errorf("%w: initial run state %q of service %s: want running or stopped", drivers.ErrInvalidArgument, st.Run, svc)
		case st.Startup != drivers.Automatic && st.Startup != drivers.AutomaticDelayedStart && st.Startup != drivers.Manual && st.Startup != drivers.Disabled:
			return c, fmt.Errorf("%w: initial startup type %q of service %s: want Automatic, AutomaticDelayedStart, Manual or Disabled", drivers.ErrInvalidArgument, st.Startup, svc)
		case st.Run == drivers.Running && st.Startup == drivers.Disabled:
			return c, fmt.Errorf("%w: initial state of service %s: running with startup type Disabled cannot be", drivers.ErrInvalidArgument, svc)
		}
	}
	c.Tick = dur(c.Tick, DefaultTick)
	if c.Tick == 0 {
		c.Tick = DefaultTick
	}
	switch {
	case c.CapacityFloor == 0:
		c.CapacityFloor = farm.DefaultCapacityFloor
	case c.CapacityFloor < 0:
		c.CapacityFloor = 0
	case c.CapacityFloor > 1 || math.IsNaN(c.CapacityFloor):
		return c, fmt.Errorf("%w: capacity floor %v: want a share between 0 and 1", drivers.ErrInvalidArgument, cfg.CapacityFloor)
	}
	if c.MaxViolations <= 0 {
		c.MaxViolations = DefaultMaxViolations
	}
	t := &c.Traffic
	if math.IsNaN(t.Rate) || math.IsInf(t.Rate, 0) {
		return c, fmt.Errorf("%w: traffic rate %v: want a finite number", drivers.ErrInvalidArgument, t.Rate)
	}
	if t.Rate == 0 {
		t.Rate = DefaultRate
	}
	if t.Duration <= 0 {
		if t.Duration < 0 {
			return c, fmt.Errorf("%w: request duration %v: want a positive duration", drivers.ErrInvalidArgument, t.Duration)
		}
		t.Duration = DefaultRequestDuration
	}
	if t.MaxDuration < t.Duration {
		t.MaxDuration = t.Duration
	}
	if t.Clients < 0 {
		return c, fmt.Errorf("%w: %d clients: want a positive count", drivers.ErrInvalidArgument, t.Clients)
	}
	if t.Clients == 0 {
		t.Clients = DefaultClients
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// rate returns the arrival rate of zone z (requests per second, 0 = none).
func (cfg Config) rate(z ZoneConfig) float64 {
	r := cfg.Traffic.Rate
	if z.Rate != 0 {
		r = z.Rate
	}
	return max(r, 0)
}

// Scaled returns cfg with every duration, defaults included, multiplied by
// f (0 < f <= 1), for running a realistic simulation in real time:
// Scaled(0.01) turns the two-minute install into 1.2 s and each 200 ms
// request into 2 ms. The traffic rate is unchanged, so a scaled run carries
// fewer requests. Under testing/synctest there is no need to scale.
func (cfg Config) Scaled(f float64) (Config, error) {
	if !(f > 0 && f <= 1) {
		return cfg, fmt.Errorf("%w: scale %v: want a factor above 0 and at most 1", drivers.ErrInvalidArgument, f)
	}
	c, err := cfg.normalize()
	if err != nil {
		return cfg, err
	}
	c.Logger = cfg.Logger
	if c.CapacityFloor == 0 {
		c.CapacityFloor = -1 // disabled stays disabled
	}
	// scale keeps "none" as none: a zero duration would mean the default.
	scale := func(d *time.Duration) {
		*d = time.Duration(float64(*d) * f)
		if *d <= 0 {
			*d = -1
		}
	}
	c.ApplyDuration = time.Duration(float64(c.ApplyDuration) * f) // zero stays zero: no second stage
	for _, d := range []*time.Duration{&c.PublishDuration, &c.InstallDuration, &c.InstallStagger, &c.ServiceLatency,
		&c.LoadBalancerLatency, &c.HealthCheckDelay, &c.InstallPassesChecksFor, &c.SchedulerInterval, &c.Tick, &c.SampleInterval} {
		scale(d)
	}
	c.Traffic.Duration = max(time.Duration(float64(c.Traffic.Duration)*f), 1)
	c.Traffic.MaxDuration = max(time.Duration(float64(c.Traffic.MaxDuration)*f), c.Traffic.Duration)
	if c.SchedulerInterval <= 0 {
		c.SchedulerInterval = 1
	}
	if c.Tick <= 0 {
		c.Tick = time.Millisecond
	}
	if c.SampleInterval <= 0 {
		c.SampleInterval = time.Millisecond
	}
	return c, nil
}
