package steps

import (
	"context"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

func (b *balanced) stopSchedulers() farm.Step {
	return farm.Step{
		ID:   StopSchedulers,
		Undo: b.undoStopSchedulers,
		Guards: []farm.Guard{
			b.serviceStopped(GuardSchedulerStoppedUpdating, StartSchedulersUpdating, farm.Updating, drivers.SchedulerService),
			b.serviceStopped(GuardSchedulerStoppedLoaded, StartSchedulersLoaded, farm.Loaded, drivers.SchedulerService),
		},
		Title: "Stop and disable the Scheduler service on every server; confirm it stays stopped",
		Describe: func(z *farm.Zone) []string {
			return []string{"stop + disable Scheduler on " + names(z.Servers())}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return b.stopService(ctx, r, r.Farm().Servers(), drivers.SchedulerService)
		},
	}
}

func (b *balanced) blockLoaded() farm.Step {
	return farm.Step{
		ID:     BlockLoaded,
		Undo:   b.undoBlockLoaded,
		Guards: []farm.Guard{b.serviceStopped(GuardDeploymentStoppedLoaded, UnblockLoaded, farm.Loaded, drivers.DeploymentService)},
		Title:  "Stop and disable the Deployment service on the Loaded servers; confirm it stays stopped",
		Describe: func(z *farm.Zone) []string {
			return []string{"stop + disable Deployment service on " + names(z.Loaded.Servers)}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return b.stopService(ctx, r, groupServers(r.Farm(), farm.Loaded), drivers.DeploymentService)
		},
	}
}

func (b *balanced) startSchedulersUpdating() farm.Step {
	return farm.Step{
		ID:         StartSchedulersUpdating,
		Excludable: true,
		Undo:       b.undoStartSchedulersUpdating,
		Title:      "Restore the Scheduler service's startup type and start it on the Updating servers",
		Describe: func(z *farm.Zone) []string {
			return []string{"restore + start Scheduler on " + names(z.Updating.Servers)}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return b.restoreService(ctx, r, groupServers(r.Farm(), farm.Updating), drivers.SchedulerService, false)
		},
	}
}

func (b *balanced) unblockLoaded() farm.Step {
	return farm.Step{
		ID:         UnblockLoaded,
		Excludable: true,
		// Once a Loaded server may install the release, no group is sure
		// to serve the previous one: no rollback from here.
		Irreversible: true,
		Title:        "Restore the Deployment service's startup type and start it on the Loaded servers",
		Describe: func(z *farm.Zone) []string {
			return []string{"restore + start Deployment service on " + names(z.Loaded.Servers)}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return b.restoreService(ctx, r, groupServers(r.Farm(), farm.Loaded), drivers.DeploymentService, true)
		},
	}
}

func (b *balanced) startSchedulersLoaded() farm.Step {
	return farm.Step{
		ID:         StartSchedulersLoaded,
		Excludable: true,
		Title:      "Restore the Scheduler service's startup type and start it on the Loaded servers",
		Describe: func(z *farm.Zone) []string {
			return []string{"restore + start Scheduler on " + names(z.Loaded.Servers)}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			return b.restoreService(ctx, r, groupServers(r.Farm(), farm.Loaded), drivers.SchedulerService, false)
		},
	}
}

// stopService stops and disables svc on every server, waits ConfirmDelay,
// and confirms each one still reads stopped and disabled.
func (b *balanced) stopService(ctx context.Context, r *farm.Run, servers []farm.Server, svc drivers.Service) error {
	err := r.ForEachServer(ctx, servers, func(ctx context.Context, s farm.Server) error {
		if err := b.cfg.Services.StopService(ctx, s.Target(), svc); err != nil {
			return fmt.Errorf("stop %s service: %w", svc, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := sleep(ctx, b.cfg.ConfirmDelay); err != nil {
		return err
	}
	return r.ForEachServer(ctx, servers, func(ctx context.Context, s farm.Server) error {
		st, err := b.cfg.Services.ServiceState(ctx, s.Target(), svc)
		if err != nil {
			return fmt.Errorf("confirm %s service stopped: %w", svc, err)
		}
		if st.Run != drivers.Stopped || st.Startup != drivers.Disabled {
			return fmt.Errorf("%s service reads %s/%s after stop: want stopped/Disabled (is something restarting it?)", svc, st.Run, st.Startup)
		}
		return nil
	})
}

// restoreService puts svc back to the state captured in preflight (started
// regardless of the captured run state when forceRunning), and confirms it.
func (b *balanced) restoreService(ctx context.Context, r *farm.Run, servers []farm.Server, svc drivers.Service, forceRunning bool) error {
	return r.ForEachServer(ctx, servers, func(ctx context.Context, s farm.Server) error {
		want, ok := r.Captured().Service(s.Name, svc)
		if !ok {
			return fmt.Errorf("no state of the %s service was captured: want the preflight step to have run", svc)
		}
		if forceRunning {
			want.Run = drivers.Running
		}
		if err := b.cfg.Services.RestoreService(ctx, s.Target(), svc, want); err != nil {
			return fmt.Errorf("restore %s service to %s/%s: %w", svc, want.Run, want.Startup, err)
		}
		// Services take a moment to start: read back until the state
		// settles or HealthTimeout passes.
		wctx, cancel := context.WithTimeout(ctx, b.cfg.HealthTimeout)
		defer cancel()
		var last drivers.ServiceState
		err := r.Poll(wctx, b.cfg.PollInterval, b.cfg.ProgressInterval, s.Zone, func(ctx context.Context) (bool, event.Event, error) {
			st, err := b.cfg.Services.ServiceState(ctx, s.Target(), svc)
			if err != nil {
				if drivers.IsRetryable(err) {
					return false, event.Event{Server: s.Name, Message: "reading service state: " + err.Error()}, nil
				}
				return false, event.Event{}, err
			}
			last = st
			return st.Run == want.Run && sameStartup(st.Startup, want.Startup), event.Event{Server: s.Name,
				Message: fmt.Sprintf("%s service reads %s/%s, waiting for %s/%s", svc, st.Run, st.Startup, want.Run, want.Startup)}, nil
		})
		if err != nil {
			return fmt.Errorf("confirm %s service restored to %s/%s (last read %s/%s): %w", svc, want.Run, want.Startup, last.Run, last.Startup, err)
		}
		return nil
	})
}

// sameStartup compares startup types as Win32_Service reports them, where a
// delayed automatic start reads as automatic.
func sameStartup(got, want drivers.StartupType) bool {
	norm := func(t drivers.StartupType) drivers.StartupType {
		if t == drivers.AutomaticDelayedStart {
			return drivers.Automatic
		}
		return t
	}
	return norm(got) == norm(want)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
