package simulate_test

import (
	"context"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
)

// procedure is a hand-written balanced deployment through the driver
// contracts only, the way the runbook describes it. The tests run it as is
// (it must record zero violations) and with one step made unsafe (the
// simulator must catch it).
type procedure struct {
	farm     *farm.Farm
	services drivers.ServiceController
	idle     drivers.IdleReporter
	platform drivers.PlatformClient
	prober   drivers.Prober
	release  drivers.Release
	poll     time.Duration

	// Unsafe variations.
	skipDrainWait   bool // step 2/6: put members out without waiting for drain
	keepSchedulers  bool // step 1 skipped
	skipBlockLoaded bool // step 3 skipped
	nonAtomicSwitch bool // step 6 with SetState, Loaded drained 30 s later
	skipHealthWait  bool // step 6 without waiting for the load balancer's health checks
	acceptUnknown   bool // health waits take "unknown" for healthy
}

func newProcedure(sim *simulate.Sim, f *farm.Farm, version string) *procedure {
	return &procedure{
		farm: f, services: sim.Services(), idle: sim.Services(),
		platform: sim.Platform(), prober: sim.Prober(),
		release: drivers.Release{Version: version}, poll: time.Second,
	}
}

func (p *procedure) waitFor(ctx context.Context, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(30 * time.Minute)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: timed out", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.poll):
		}
	}
}

func (p *procedure) drain(ctx context.Context, lb drivers.LoadBalancer, members []string) error {
	if err := lb.SetState(ctx, drivers.Draining, members...); err != nil {
		return err
	}
	if !p.skipDrainWait {
		err := p.waitFor(ctx, "drain", func() (bool, error) {
			st, err := lb.Status(ctx, members...)
			if err != nil {
				return false, err
			}
			for _, m := range st {
				if m.ActiveConnections > 0 {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	return lb.SetState(ctx, drivers.Out, members...)
}

func (p *procedure) healthy(ctx context.Context, lb drivers.LoadBalancer, members []string) error {
	return p.waitFor(ctx, "health", func() (bool, error) {
		st, err := lb.Status(ctx, members...)
		if err != nil {
			return false, err
		}
		for _, m := range st {
			if m.Health == drivers.Unhealthy || (m.Health == drivers.HealthUnknown && !p.acceptUnknown) {
				return false, nil
			}
		}
		return true, nil
	})
}

func (p *procedure) runs(ctx context.Context, servers []farm.Server) error {
	return p.waitFor(ctx, "install", func() (bool, error) {
		for _, s := range servers {
			r, err := p.prober.Probe(ctx, s.Target())
			if err != nil {
				return false, err
			}
			if !r.Healthy || r.Version != p.release.Version {
				return false, nil
			}
		}
		return true, nil
	})
}

func (p *procedure) restore(ctx context.Context, servers []farm.Server, svc drivers.Service) error {
	for _, s := range servers {
		if err := p.services.RestoreService(ctx, s.Target(), svc, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}); err != nil {
			return err
		}
	}
	return nil
}

// run performs steps 1 to 11 zone by zone.
func (p *procedure) run(ctx context.Context) error {
	zones := p.farm.Zones()
	if !p.keepSchedulers { // 1
		for _, s := range p.farm.Servers() {
			if err := p.services.StopService(ctx, s.Target(), drivers.SchedulerService); err != nil {
				return err
			}
		}
	}
	for _, z := range zones { // 2
		if err := p.drain(ctx, z.LoadBalancer, z.Updating.Members()); err != nil {
			return err
		}
	}
	if !p.skipBlockLoaded { // 3
		for _, z := range zones {
			for _, s := range z.Loaded.Servers {
				if err := p.services.StopService(ctx, s.Target(), drivers.DeploymentService); err != nil {
					return err
				}
			}
		}
	}
	id, err := p.platform.StartDeployment(ctx, p.release) // 4
	if err != nil {
		return err
	}
	err = p.waitFor(ctx, "publish", func() (bool, error) {
		st, err := p.platform.DeploymentStatus(ctx, id)
		if err != nil {
			return false, err
		}
		if st.State.Done() && !st.State.Succeeded() {
			return false, fmt.Errorf("deployment %s", st.State)
		}
		return st.State.Succeeded(), nil
	})
	if err != nil {
		return err
	}
	for _, z := range zones { // 4 (installs), 5
		if err := p.runs(ctx, z.Updating.Servers); err != nil {
			return err
		}
	}
	for _, z := range zones { // 6
		if !p.skipHealthWait {
			// Out members get no health checks on some load balancers:
			// bring them to draining first, where they are checked.
			if err := z.LoadBalancer.SetState(ctx, drivers.Draining, z.Updating.Members()...); err != nil {
				return err
			}
			if err := p.healthy(ctx, z.LoadBalancer, z.Updating.Members()); err != nil {
				return err
			}
		}
		if p.nonAtomicSwitch {
			if err := z.LoadBalancer.SetState(ctx, drivers.Serving, z.Updating.Members()...); err != nil {
				return err
			}
			time.Sleep(30 * time.Second)
		} else if err := z.LoadBalancer.(drivers.Switcher).Switch(ctx, z.Updating.Members(), z.Loaded.Members()); err != nil {
			return err
		}
		if err := p.drain(ctx, z.LoadBalancer, z.Loaded.Members()); err != nil {
			return err
		}
	}
	for _, z := range zones { // 7
		if err := p.restore(ctx, z.Updating.Servers, drivers.SchedulerService); err != nil {
			return err
		}
	}
	for _, z := range zones { // 8
		if err := p.restore(ctx, z.Loaded.Servers, drivers.DeploymentService); err != nil {
			return err
		}
	}
	for _, z := range zones { // 9
		if err := p.runs(ctx, z.Loaded.Servers); err != nil {
			return err
		}
		for _, s := range z.Loaded.Servers {
			err := p.waitFor(ctx, "idle", func() (bool, error) { return p.idle.DeploymentIdle(ctx, s.Target()) })
			if err != nil {
				return err
			}
		}
	}
	for _, z := range zones { // 10
		if err := z.LoadBalancer.SetState(ctx, drivers.Serving, z.Loaded.Members()...); err != nil {
			return err
		}
		if err := p.healthy(ctx, z.LoadBalancer, z.Loaded.Members()); err != nil {
			return err
		}
	}
	for _, z := range zones { // 11
		if err := p.restore(ctx, z.Loaded.Servers, drivers.SchedulerService); err != nil {
			return err
		}
	}
	return nil
}

// newFarm builds a simulated farm and the matching farm.Farm with one load
// balancer per zone.
func newFarm(cfg simulate.Config) (*simulate.Sim, *farm.Farm, error) {
	sim, err := simulate.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	specs := farm.AutoSplit(sim.Servers())
	for i := range specs {
		specs[i].LoadBalancer = sim.LoadBalancer(specs[i].Name)
	}
	f, err := farm.New(farm.Config{Zones: specs})
	if err != nil {
		return nil, nil, err
	}
	return sim, f, nil
}
