package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
)

func (b *balanced) preflight() farm.Step {
	return farm.Step{
		ID:    Preflight,
		Title: "Check every driver, capture services' and members' state for exact restore",
		Describe: func(z *farm.Zone) []string {
			return []string{
				"read load-balancer members " + strings.Join(append(z.Updating.Members(), z.Loaded.Members()...), ", "),
				"read Scheduler and Deployment services on " + names(z.Servers()),
				"probe " + probedApps(b.probeList()) + " on " + names(z.Servers()),
			}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			if err := r.ForEachZone(ctx, func(ctx context.Context, z *farm.Zone) error {
				return b.captureMembers(ctx, r, z)
			}); err != nil {
				return err
			}
			if err := r.ForEachServer(ctx, r.Farm().Servers(), func(ctx context.Context, s farm.Server) error {
				return b.captureServer(ctx, r, s)
			}); err != nil {
				return err
			}
			if rr, ok := b.cfg.Platform.(drivers.DeployedReleaseReader); ok {
				return r.Do(ctx, "", "", func(ctx context.Context) error {
					rel, err := rr.DeployedRelease(ctx)
					if err != nil {
						return fmt.Errorf("read the deployed release: %w", err)
					}
					r.Captured().SetValue(CapturedPreviousRelease, marshalRelease(rel))
					return nil
				})
			}
			return nil
		},
	}
}

// captureMembers reads every member of the zone and checks the Loaded group
// can carry the zone's traffic alone.
func (b *balanced) captureMembers(ctx context.Context, r *farm.Run, z *farm.Zone) error {
	members := append(z.Updating.Members(), z.Loaded.Members()...)
	sts, err := z.LoadBalancer.Status(ctx, members...)
	if err != nil {
		return fmt.Errorf("read load-balancer members: %w", err)
	}
	if len(sts) != len(members) {
		return fmt.Errorf("load balancer returned %d members for %d asked", len(sts), len(members))
	}
	loaded := map[string]bool{}
	for _, m := range z.Loaded.Members() {
		loaded[m] = true
	}
	for _, st := range sts {
		r.Captured().SetMember(z.Name, st)
		switch {
		case loaded[st.Member] && (st.State != drivers.Serving || st.Health == drivers.Unhealthy):
			return fmt.Errorf("member %s of the Loaded group reads %s/%s: want serving and healthy, since that group carries the zone's traffic alone", st.Member, st.State, st.Health)
		case st.State != drivers.Serving:
			r.Warn(z.Name, "", "Updating member %s reads %s before the run; the run puts it in service with the release", st.Member, st.State)
		}
	}
	return nil
}

// captureServer reads the services of one server and probes it.
func (b *balanced) captureServer(ctx context.Context, r *farm.Run, s farm.Server) error {
	svcs := []drivers.Service{drivers.SchedulerService, drivers.DeploymentService}
	if s.DeploymentController {
		svcs = append(svcs, drivers.DeploymentControllerService)
	}
	for _, svc := range svcs {
		st, err := b.cfg.Services.ServiceState(ctx, s.Target(), svc)
		if err != nil {
			return fmt.Errorf("read %s service: %w", svc, err)
		}
		switch {
		case svc != drivers.SchedulerService && st.Run != drivers.Running:
			return fmt.Errorf("%s service reads %s/%s: want running, or the server cannot install the release", svc, st.Run, st.Startup)
		case svc == drivers.SchedulerService && st.Startup == drivers.Disabled && !b.cfg.AcceptDisabledSchedulers:
			return fmt.Errorf("the Scheduler service reads %s/%s before the run: if an earlier run left it so, resume that run; if it is disabled on purpose (or that run's journal is lost), set accept_disabled_schedulers: true in the spec or pass balancedctl -accept-disabled-schedulers (steps.Config.AcceptDisabledSchedulers)", st.Run, st.Startup)
		case svc == drivers.SchedulerService && st.Startup == drivers.Disabled:
			r.Warn(s.Zone, s.Name, "Scheduler service is disabled before the run; it will be restored to disabled")
		}
		r.Captured().SetService(s.Name, svc, st)
	}
	for _, p := range b.probeList() {
		res, err := b.probe(ctx, s, p)
		if err != nil {
			return fmt.Errorf("%w before the run", err)
		}
		if !res.Healthy {
			return fmt.Errorf("application%s unhealthy before the run (status %d, %s): want every server healthy", strings.TrimPrefix(appLabel(p), " application"), res.StatusCode, res.Detail)
		}
		r.Captured().SetValue(versionKey(s.Name, p), res.Version)
	}
	return nil
}

// probedApps names what the probes check, for the runbook.
func probedApps(probes []drivers.ApplicationProbe) string {
	if len(probes) == 1 && probes[0].Application == "" {
		return "the application"
	}
	apps := make([]string, len(probes))
	for i, p := range probes {
		apps[i] = p.Application
	}
	return "applications " + strings.Join(apps, ", ")
}
