package simulate

import (
	"context"
	"fmt"

	"github.com/balanced-deploy/balanced/drivers"
)

// Services is the simulated farm's [drivers.ServiceController],
// [drivers.IdleReporter] and [drivers.FarmLeaser]. Get it with
// [Sim.Services]. Every call but the lease's takes Config.ServiceLatency of
// simulated time.
type Services struct{ s *Sim }

var (
	_ drivers.ServiceController = (*Services)(nil)
	_ drivers.IdleReporter      = (*Services)(nil)
)

// Services returns the farm's service controller.
func (s *Sim) Services() *Services { return &Services{s: s} }

func (s *Sim) service(t drivers.Target, svc drivers.Service) (*server, error) {
	srv, err := s.lookup(t)
	if err != nil {
		return nil, err
	}
	if _, ok := srv.services[svc]; !ok {
		return nil, fmt.Errorf("%w: service %q on server %s: want scheduler, deployment, or deployment-controller on the controller server", drivers.ErrNotFound, svc, srv.name)
	}
	return srv, nil
}

// StopService sets svc's startup type on t to Disabled and stops it, in one
// step: nothing can start it in between, as on Windows, where the driver
// disables first (drivers.ServiceController).
func (c *Services) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	s := c.s
	return s.call(ctx, OpStopService, "", []string{t.Name}, "svc="+string(svc), s.cfg.ServiceLatency, func() error {
		srv, err := s.service(t, svc)
		if err != nil {
			return err
		}
		s.setService(srv, svc, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled})
		return nil
	})
}

// RestoreService sets svc's startup type to want.Startup, then starts or
// stops it as want.Run says. Starting a service whose startup type is
// Disabled fails with [drivers.ErrInvalidArgument], as Windows refuses it.
func (c *Services) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	s := c.s
	detail := fmt.Sprintf("svc=%s run=%s startup=%s", svc, want.Run, want.Startup)
	return s.call(ctx, OpRestoreService, "", []string{t.Name}, detail, s.cfg.ServiceLatency, func() error {
		srv, err := s.service(t, svc)
		if err != nil {
			return err
		}
		switch want.Startup {
		case drivers.Automatic, drivers.AutomaticDelayedStart, drivers.Manual, drivers.Disabled:
		default:
			return fmt.Errorf("%w: startup type %q for %s on %s: want Automatic, AutomaticDelayedStart, Manual or Disabled", drivers.ErrInvalidArgument, want.Startup, svc, srv.name)
		}
		if want.Run != drivers.Running && want.Run != drivers.Stopped {
			return fmt.Errorf("%w: run state %q for %s on %s: want running or stopped", drivers.ErrInvalidArgument, want.Run, svc, srv.name)
		}
		if want.Run == drivers.Running && want.Startup == drivers.Disabled {
			return fmt.Errorf("%w: cannot start %s on %s with startup type Disabled", drivers.ErrInvalidArgument, svc, srv.name)
		}
		s.setService(srv, svc, want)
		return nil
	})
}

// ServiceState reads svc's run state and startup type on t.
func (c *Services) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	s := c.s
	var out drivers.ServiceState
	err := s.call(ctx, OpServiceState, "", []string{t.Name}, "svc="+string(svc), s.cfg.ServiceLatency, func() error {
		srv, err := s.service(t, svc)
		if err != nil {
			return err
		}
		out = srv.services[svc]
		return nil
	})
	return out, err
}

// DeploymentIdle reports whether t has no deployment work left: no install
// running, none waiting for its Deployment service, and no application of
// the release still deploying (Sim.DelayApplication). The real product has
// no documented API for this (see applications.go): a test of what a real
// farm shows hides this capability.
func (c *Services) DeploymentIdle(ctx context.Context, t drivers.Target) (bool, error) {
	s := c.s
	var idle bool
	err := s.call(ctx, OpDeploymentIdle, "", []string{t.Name}, "", s.cfg.ServiceLatency, func() error {
		srv, err := s.lookup(t)
		if err != nil {
			return err
		}
		idle = !srv.installing && srv.pending == "" && len(srv.deployingApps()) == 0
		return nil
	})
	return idle, err
}
