package steps

import (
	"context"
	"slices"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
)

// The IDs of the balanced plan's steps, in order. They are stable: hooks, the
// report and the journal refer to them.
const (
	Preflight               = "preflight"
	StopSchedulers          = "stop-schedulers"
	DrainUpdating           = "drain-updating"
	BlockLoaded             = "block-loaded"
	Publish                 = "publish"
	VerifyUpdating          = "verify-updating"
	SwitchTraffic           = "switch-traffic"
	StartSchedulersUpdating = "start-schedulers-updating"
	UnblockLoaded           = "unblock-loaded"
	AwaitLoaded             = "await-loaded"
	RestoreTraffic          = "restore-traffic"
	StartSchedulersLoaded   = "start-schedulers-loaded"
)

// IDs returns the balanced plan's step IDs in order.
func IDs() []string {
	return []string{Preflight, StopSchedulers, DrainUpdating, BlockLoaded, Publish, VerifyUpdating,
		SwitchTraffic, StartSchedulersUpdating, UnblockLoaded, AwaitLoaded, RestoreTraffic, StartSchedulersLoaded}
}

// Balanced returns the plan of a balanced application deployment of
// cfg.Release over every zone of f: preflight, then the eleven steps of the
// runbook; with prepare between preflight and stop-schedulers when it
// prepares the release at full capacity (Config.PrepareAtFullCapacity). Add hooks with plan.Before and plan.After, extra steps with
// plan.InsertAfter, and run it with plan.Run.
//
// Balanced checks cfg and calls no driver.
func Balanced(f *farm.Farm, cfg Config) (*farm.Plan, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	twoStage, note, err := cfg.stages()
	if err != nil {
		return nil, err
	}
	b := &balanced{cfg: cfg, twoStage: twoStage, stageNote: note}
	if l, ok := cfg.Services.(drivers.FarmLeaser); ok && cfg.Plan.Lock.Leaser == nil {
		cfg.Plan.Lock.Leaser = l // the farm lease, on the Deployment Controller
	}
	if cfg.Plan.Label == "" {
		cfg.Plan.Label = "release " + cfg.Release.Version
	}
	plan, err := farm.NewPlan(f, cfg.Plan, withNeeds(
		b.preflight(),
		b.stopSchedulers(),
		b.drainUpdating(),
		b.blockLoaded(),
		b.publish(),
		b.verifyUpdating(),
		b.switchTraffic(),
		b.startSchedulersUpdating(),
		b.unblockLoaded(),
		b.awaitLoaded(),
		b.restoreTraffic(),
		b.startSchedulersLoaded(),
	)...)
	if err != nil {
		return nil, err
	}
	if twoStage {
		if err := plan.InsertAfter(Preflight, b.prepare()); err != nil {
			return nil, err
		}
	}
	// Every call to a server's host is limited per call (farm.Limits).
	b.cfg.Services = plan.LimitServices(b.cfg.Services)
	b.cfg.Prober = plan.LimitProber(b.cfg.Prober)
	return plan, nil
}

// needs says which steps each step of the balanced plan waits for; a step
// not listed waits for the step before it. The steps that run at the same
// time act on different services or systems, and none reads or relies on
// what the other changes (docs/safety.md, "Steps that run at the same
// time"):
//
//   - stop-schedulers, drain-updating and block-loaded all follow preflight
//     (which captured the state each restores) and publish waits for all
//     three: the Scheduler service on every server, the Updating members in
//     the load balancer and the Deployment service on the Loaded servers
//     are three independent things, and publish is the first step that
//     relies on them (no timer runs, no request reaches an Updating server,
//     no Loaded server installs). A failure in one is decided once the
//     others have ended, and a rollback undoes each that is done.
//   - start-schedulers-updating and unblock-loaded touch different servers
//     and are independent, but unblock-loaded is Irreversible: the engine
//     starts it only once every step before it is done, so that a failure
//     of start-schedulers-updating can still be rolled back. They run one
//     after the other.
//   - restore-traffic and start-schedulers-loaded both follow await-loaded:
//     the Loaded servers run the release; putting them back in traffic and
//     starting their Scheduler are independent.
//
// farm.PlanConfig.StrictOrder runs the steps one at a time instead.
var needs = map[string][]string{
	StopSchedulers:        {Preflight},
	DrainUpdating:         {Preflight},
	BlockLoaded:           {Preflight},
	Publish:               {StopSchedulers, DrainUpdating, BlockLoaded},
	RestoreTraffic:        {AwaitLoaded},
	StartSchedulersLoaded: {AwaitLoaded},
}

// withNeeds sets each step's Needs from needs.
func withNeeds(steps ...farm.Step) []farm.Step {
	for i := range steps {
		if n, ok := needs[steps[i].ID]; ok && steps[i].Needs == nil {
			steps[i].Needs = slices.Clone(n)
		}
	}
	return steps
}

// balanced holds the configuration the steps share.
type balanced struct {
	cfg Config
	// twoStage: the plan prepares at full capacity (step prepare) and
	// publish continues the prepared deployment; stageNote says which
	// mode runs, for the runbook.
	twoStage  bool
	stageNote string
	// want, when set, is the version probe p must read on server instead
	// of p.Version (a rollback's: what preflight read there).
	want func(server string, p drivers.ApplicationProbe) string
}

// platformIdle asks the platform whether a server's deployment service is
// idle within the platform's limit (farm.Limits.Platform): it is one call
// per server, which a fan-out over the farm would otherwise send all at
// once.
type platformIdle struct {
	r  *farm.Run
	ir drivers.IdleReporter
}

func (p platformIdle) DeploymentIdle(ctx context.Context, t drivers.Target) (idle bool, err error) {
	err = p.r.Call(ctx, farm.Platform, func(ctx context.Context) error {
		idle, err = p.ir.DeploymentIdle(ctx, t)
		return err
	})
	return idle, err
}
