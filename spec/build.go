package spec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/steps"
)

// Drivers replaces what Build would construct from the spec, for tests (a
// simulated farm) and for programs that bring their own drivers; and carries
// what a spec file cannot say (the observer, the logger). Every nil field
// means "build it from the spec".
type Drivers struct {
	// LoadBalancer returns the load balancer of a zone (farm.DefaultZone
	// for a spec without zones). Nil, or a nil result, means the spec's.
	LoadBalancer func(zone string) drivers.LoadBalancer
	// Services, Platform and Prober replace the WinRM, LifeTime and HTTP
	// probe drivers.
	Services drivers.ServiceController
	Platform drivers.PlatformClient
	Prober   drivers.Prober
	// Observer receives the run's events (a progress.Terminal,
	// farm.SlogObserver...), with the load-balancer members as the run
	// sees them (event.MembersSeen, see farm.ObserveMembers). Nil means
	// none.
	Observer event.Observer
	// Logger is handed to the drivers built from the spec. Nil discards.
	Logger *slog.Logger
	// Prompt asks a person to approve, for the spec's approvals with
	// prompt: true (balancedctl asks on its terminal). Nil makes Build
	// refuse such a spec.
	Prompt steps.Approver
}

// Build constructs the drivers the spec describes and returns the farm and
// the balanced plan over it, with the journal and its lock set when the spec
// names a journal. It only calls constructors: nothing is contacted, and the
// journal file is created by the run's first record, not here.
func (s *Spec) Build(ctx context.Context) (*farm.Farm, *farm.Plan, error) {
	return s.BuildWith(ctx, Drivers{})
}

// BuildWith is Build with some drivers replaced (see Drivers).
func (s *Spec) BuildWith(ctx context.Context, d Drivers) (*farm.Farm, *farm.Plan, error) {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	zones := s.layout()
	built := map[*LoadBalancer]drivers.LoadBalancer{}
	cfg := farm.Config{CapacityFloor: s.CapacityFloor}
	for _, z := range zones {
		zs := z.spec
		if d.LoadBalancer != nil {
			zs.LoadBalancer = d.LoadBalancer(zs.Name)
		}
		if zs.LoadBalancer == nil && z.lb != nil {
			lb, ok := built[z.lb]
			if !ok {
				var err error
				if lb, err = newLoadBalancer(ctx, z.lb, s.serversFrontedBy(zones, z.lb), log); err != nil {
					return nil, nil, fmt.Errorf("zone %s: %w", zs.Name, err)
				}
				built[z.lb] = lb
			}
			zs.LoadBalancer = lb
		}
		cfg.Zones = append(cfg.Zones, zs)
	}
	if d.Observer != nil {
		observeMembers(cfg.Zones, d.Observer)
	}
	f, err := farm.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	sc := steps.Config{
		Services:           d.Services,
		Platform:           d.Platform,
		Prober:             d.Prober,
		Release:            s.release(),
		Plan:               s.planConfig(d),
		PollInterval:       s.Timeouts.PollInterval.D(),
		DeployPollInterval: s.Timeouts.DeployPollInterval.D(),
		ProgressInterval:   s.Timeouts.ProgressInterval.D(),
		DrainTimeout:       s.Timeouts.Drain.D(),
		FailOnDrainTimeout: s.FailOnDrainTimeout,
		DrainPeriod:        s.Timeouts.DrainPeriod.D(),
		HealthTimeout:      s.Timeouts.Health.D(),
		ConfirmDelay:       s.Timeouts.ConfirmDelay.D(),
		PublishTimeout:     s.Timeouts.Publish.D(),
		InstallTimeout:     s.Timeouts.Install.D(),
		Probes:             s.probes(),
		QuietPeriod:        s.Timeouts.QuietPeriod.D(),
	}
	if s.Platform != nil {
		// The platform block's waits tune the one place a deployment is
		// followed: the publish step.
		sc.ContinuePrepared = s.Platform.ContinuePrepared
		sc.PrepareAtFullCapacity = prepareMode(s.Platform.PrepareAtFullCapacity)
		sc.AbortPublishOnStop = s.Platform.AbortOnStop
		sc.PlatformPollInterval = s.Platform.PollInterval.D()
		sc.PlatformMaxPollInterval = s.Platform.MaxPollInterval.D()
	}
	if s.Journal != "" {
		sc.Plan.Journal = fileJournal{path: s.Journal}
	}
	sc.Plan.Lock.Dir = s.LockDir
	sc.AcceptDisabledSchedulers = s.AcceptDisabledSchedulers
	if sc.Services == nil {
		if sc.Services, err = newServices(s.Services, log); err != nil {
			return nil, nil, err
		}
	}
	if sc.Platform == nil {
		if sc.Platform, err = newPlatform(s.Platform, s.Release, log); err != nil {
			return nil, nil, err
		}
	}
	if sc.Prober == nil {
		if sc.Prober, err = newProber(s.Probe, log); err != nil {
			return nil, nil, err
		}
	}
	hooks, err := s.webhooks(log)
	if err != nil {
		return nil, nil, err
	}
	if len(hooks) > 0 {
		sc.Plan.Observer = event.Observers(append([]event.Observer{d.Observer}, hooks...)...)
	}
	plan, err := steps.Balanced(f, sc)
	if err != nil {
		return nil, nil, err
	}
	if err := s.addExtras(plan, d, log); err != nil {
		return nil, nil, err
	}
	return f, plan, nil
}

// observeMembers wraps each distinct load balancer of zones with
// farm.ObserveMembers, so that the observer sees the members as the run
// does (MembersSeen events, which package timeline draws). A load balancer
// fronting several zones stays one driver (one concurrency limit).
func observeMembers(zones []farm.ZoneSpec, obs event.Observer) {
	zoneOf := map[string]string{}
	for _, z := range zones {
		name := z.Name
		if name == "" {
			name = farm.DefaultZone
		}
		for _, sv := range append(append([]farm.Server(nil), z.Updating...), z.Loaded...) {
			zoneOf[sv.MemberID()] = name
		}
	}
	wrapped := map[drivers.LoadBalancer]drivers.LoadBalancer{}
	for i, z := range zones {
		if z.LoadBalancer == nil {
			continue
		}
		w, ok := wrapped[z.LoadBalancer]
		if !ok {
			w = farm.ObserveMembers(z.LoadBalancer, zoneOf, obs)
			wrapped[z.LoadBalancer] = w
		}
		zones[i].LoadBalancer = w
	}
}

func (s *Spec) release() drivers.Release {
	rel := drivers.Release{Version: s.Release.Version, Notes: s.Release.Notes}
	for _, a := range s.Release.Applications {
		rel.Applications = append(rel.Applications, drivers.Application{Name: a.Name, Version: a.Version})
	}
	return rel
}

// probes returns the probe of each application of the release, none when
// no application has one.
func (s *Spec) probes() []drivers.ApplicationProbe {
	var out []drivers.ApplicationProbe
	for _, a := range s.Release.Applications {
		if a.Probe != nil {
			out = append(out, drivers.ApplicationProbe{Application: a.Name, Path: a.Probe.Path, Version: a.Probe.Version})
		}
	}
	return out
}

// fileJournal appends each record to the journal file, opening and closing
// it around every record, so that a built plan holds no open file.
type fileJournal struct{ path string }

// LastRun reads the file's last run from its end (journal.File.LastRun).
func (j fileJournal) LastRun(ctx context.Context) (journal.State, bool, error) {
	recs, err := journal.ReadLastRun(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return journal.State{}, false, nil
	}
	if err != nil {
		return journal.State{}, false, err
	}
	return journal.LastRunOf(recs)
}

func (j fileJournal) Append(rec journal.Record) error {
	fj, err := journal.Open(j.path)
	if err != nil {
		return err
	}
	if err := fj.Append(rec); err != nil {
		_ = fj.Close()
		return err
	}
	return fj.Close()
}

// planConfig is the engine's configuration from the spec's top-level keys
// (concurrency, limits, retry, timeouts.step, on_failure).
func (s *Spec) planConfig(d Drivers) farm.PlanConfig {
	return farm.PlanConfig{
		Concurrency: s.Concurrency,
		Limits:      farm.Limits{Host: s.Limits.Host, LoadBalancer: s.Limits.LoadBalancer, Platform: s.Limits.Platform},
		Retry:       s.Retry.policy(),
		StepTimeout: s.Timeouts.Step.D(),
		Observer:    d.Observer,
		OnFailure:   farm.FailurePolicy(s.OnFailure),
	}
}

// prepareMode maps platform.prepare_at_full_capacity to steps.PrepareMode
// ("auto" and "" are the default).
func prepareMode(v string) steps.PrepareMode {
	if v == "auto" {
		return steps.PrepareAuto
	}
	return steps.PrepareMode(v)
}
