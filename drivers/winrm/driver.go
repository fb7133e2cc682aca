package winrm

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	mzwinrm "github.com/masterzen/winrm"

	"github.com/balanced-deploy/balanced/drivers"
)

// Driver controls the OutSystems Windows services of front-end servers over
// WinRM. It is safe for concurrent use; it keeps one HTTP transport per host.
type Driver struct {
	s settings

	mu      sync.Mutex
	clients map[string]*mzwinrm.Client
}

var _ drivers.ServiceController = (*Driver)(nil)

// New returns a Driver. It checks cfg and connects to nothing: connections are
// made per call, to each target's host.
func New(cfg Config) (*Driver, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, fmt.Errorf("winrm: %w", err)
	}
	if s.insecure {
		s.log.Warn("winrm: TLS certificate verification is disabled (Config.Insecure); use only in a test lab")
	}
	if !s.https && s.auth == AuthBasic {
		s.log.Warn("winrm: Basic authentication over plain HTTP sends the password unencrypted; prefer the default, Negotiate over HTTPS")
	}
	return &Driver{s: s, clients: make(map[string]*mzwinrm.Client)}, nil
}

// StopService sets svc's startup type to Disabled, then stops it and waits
// until it is stopped, and checks that it reads stopped and disabled.
// Disabling first means nothing can start the service again in between.
func (d *Driver) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	name, err := d.name(svc)
	if err != nil {
		return err
	}
	st, err := d.exec(ctx, t, "stop", name, stopScript(name))
	if err != nil {
		return err
	}
	if st.Run != drivers.Stopped || st.Startup != drivers.Disabled {
		return fmt.Errorf("winrm: stop %q on %s: service reads %s/%s after the stop; want %s/%s",
			name, t.Name, st.Run, st.Startup, drivers.Stopped, drivers.Disabled)
	}
	return nil
}

// RestoreService sets svc's startup type to want.Startup, then starts the
// service (want.Run Running) or stops it (want.Run Stopped), and checks the
// state it reads back. want.Run must be Running or Stopped, and a Disabled
// service cannot be Running; other values are refused with
// drivers.ErrInvalidArgument before anything is sent.
func (d *Driver) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	name, err := d.name(svc)
	if err != nil {
		return err
	}
	if err := validateWant(want); err != nil {
		return fmt.Errorf("winrm: restore %q on %s: %w", name, t.Name, err)
	}
	st, err := d.exec(ctx, t, "restore", name, restoreScript(name, want))
	if err != nil {
		return err
	}
	if st != want {
		return fmt.Errorf("winrm: restore %q on %s: service reads %s/%s after the restore; want %s/%s",
			name, t.Name, st.Run, st.Startup, want.Run, want.Startup)
	}
	return nil
}

// ServiceState reads svc's run state and startup type from Win32_Service. A
// service that does not exist is reported with drivers.ErrNotFound.
func (d *Driver) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	name, err := d.name(svc)
	if err != nil {
		return drivers.ServiceState{}, err
	}
	return d.exec(ctx, t, "read", name, stateScript(name))
}

// name maps a role to its configured Windows service name.
func (d *Driver) name(svc drivers.Service) (string, error) {
	if n, ok := d.s.names[svc]; ok {
		return n, nil
	}
	return "", fmt.Errorf("winrm: %w: unknown service role %q; want %q, %q, %q or a role set in Config.ServiceNames (services.service_names in a spec)",
		drivers.ErrInvalidArgument, svc, drivers.SchedulerService, drivers.DeploymentService, drivers.DeploymentControllerService)
}

func validateWant(want drivers.ServiceState) error {
	switch want.Startup {
	case drivers.Automatic, drivers.AutomaticDelayedStart, drivers.Manual, drivers.Disabled:
	default:
		return fmt.Errorf("%w: startup type %q; want %s, %s, %s or %s", drivers.ErrInvalidArgument, want.Startup,
			drivers.Automatic, drivers.AutomaticDelayedStart, drivers.Manual, drivers.Disabled)
	}
	switch want.Run {
	case drivers.Running, drivers.Stopped:
	default:
		return fmt.Errorf("%w: run state %q; want %s or %s", drivers.ErrInvalidArgument, want.Run, drivers.Running, drivers.Stopped)
	}
	if want.Run == drivers.Running && want.Startup == drivers.Disabled {
		return fmt.Errorf("%w: a Disabled service cannot be started; want another startup type or run state %s", drivers.ErrInvalidArgument, drivers.Stopped)
	}
	return nil
}

// exec runs one service script against t and interprets its result.
func (d *Driver) exec(ctx context.Context, t drivers.Target, op, name, script string) (drivers.ServiceState, error) {
	wrap := func(err error) error { return fmt.Errorf("winrm: %s %q on %s: %w", op, name, t.Name, err) }
	out, err := d.runScript(ctx, t, op, name, script)
	if err != nil {
		return drivers.ServiceState{}, wrap(err)
	}
	st, perr := parseOutput(out.stdout)
	switch {
	case errors.Is(perr, errNoService):
		return drivers.ServiceState{}, wrap(fmt.Errorf("%w: %w", drivers.ErrNotFound, perr))
	case errors.Is(perr, errAmbiguous):
		return drivers.ServiceState{}, wrap(fmt.Errorf("%w: %w; configure the exact service name", drivers.ErrInvalidArgument, perr))
	case out.code != 0:
		msg := readableStderr(out.stderr)
		err := fmt.Errorf("script exited with code %d: %s", out.code, msg)
		if isAccessDenied(msg) {
			err = drivers.Classify(drivers.ErrPermissionDenied, err)
		}
		return drivers.ServiceState{}, wrap(err)
	case perr != nil:
		return drivers.ServiceState{}, wrap(perr)
	}
	return st, nil
}

// runScript runs one script against t's host within the driver's timeout,
// logging the call (op and service name, never the script's content).
func (d *Driver) runScript(ctx context.Context, t drivers.Target, op, name, script string) (output, error) {
	host, portStr, err := validateHost(t.Host())
	if err != nil {
		return output{}, err
	}
	port := d.s.port
	if portStr != "" {
		port, _ = strconv.Atoi(portStr) // validated by validateHost
	}
	ctx, cancel := context.WithTimeout(ctx, d.s.timeout)
	defer cancel()
	start := time.Now()
	out, err := d.run(ctx, host, port, script)
	log := d.s.log.With("op", op, "server", t.Name, "host", host, "port", port, "service", name,
		"exit_code", out.code, "duration", time.Since(start))
	if err != nil {
		log.Debug("winrm: call failed", "error", err)
		return out, err
	}
	log.Debug("winrm: script finished")
	return out, nil
}
