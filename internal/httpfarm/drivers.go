package httpfarm

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

var (
	_ drivers.ServiceController = (*Services)(nil)
	_ drivers.IdleReporter      = (*Services)(nil)
	_ drivers.PlatformClient    = (*Platform)(nil)
	_ drivers.Prober            = (*Prober)(nil)
)

// Services is an in-memory [drivers.ServiceController] over the farm's
// backends. Starting a backend's Deployment service while a published
// version waits makes the backend install it.
type Services struct{ f *Farm }

// StopService stops svc and disables it.
func (s *Services) StopService(ctx context.Context, t drivers.Target, svc drivers.Service) error {
	if err := ctxErr(ctx, "stop service"); err != nil {
		return err
	}
	if _, err := s.f.backend(t); err != nil {
		return err
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	if _, ok := s.f.services[t.Name][svc]; !ok {
		return fmt.Errorf("httpfarm: %s: service %q: %w", t.Name, svc, drivers.ErrNotFound)
	}
	s.f.services[t.Name][svc] = drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}
	return nil
}

// RestoreService sets svc's startup type and run state.
func (s *Services) RestoreService(ctx context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	if err := ctxErr(ctx, "restore service"); err != nil {
		return err
	}
	b, err := s.f.backend(t)
	if err != nil {
		return err
	}
	if want.Run != drivers.Running && want.Run != drivers.Stopped {
		return fmt.Errorf("httpfarm: %s: run state %q: want running or stopped: %w", t.Name, want.Run, drivers.ErrInvalidArgument)
	}
	switch want.Startup {
	case drivers.Automatic, drivers.AutomaticDelayedStart, drivers.Manual, drivers.Disabled:
	default:
		return fmt.Errorf("httpfarm: %s: startup type %q: want Automatic, AutomaticDelayedStart, Manual or Disabled: %w", t.Name, want.Startup, drivers.ErrInvalidArgument)
	}
	s.f.mu.Lock()
	if _, ok := s.f.services[t.Name][svc]; !ok {
		s.f.mu.Unlock()
		return fmt.Errorf("httpfarm: %s: service %q: %w", t.Name, svc, drivers.ErrNotFound)
	}
	s.f.services[t.Name][svc] = want
	pending := s.f.pending
	s.f.mu.Unlock()
	if svc == drivers.DeploymentService && want.Run == drivers.Running && pending != "" {
		b.install(pending, s.f.cfg.InstallDuration)
	}
	return nil
}

// ServiceState reads svc's state.
func (s *Services) ServiceState(ctx context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	if err := ctxErr(ctx, "service state"); err != nil {
		return drivers.ServiceState{}, err
	}
	if _, err := s.f.backend(t); err != nil {
		return drivers.ServiceState{}, err
	}
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	st, ok := s.f.services[t.Name][svc]
	if !ok {
		return drivers.ServiceState{}, fmt.Errorf("httpfarm: %s: service %q: %w", t.Name, svc, drivers.ErrNotFound)
	}
	return st, nil
}

// DeploymentIdle reports whether the backend has no install running.
func (s *Services) DeploymentIdle(ctx context.Context, t drivers.Target) (bool, error) {
	if err := ctxErr(ctx, "deployment idle"); err != nil {
		return false, err
	}
	b, err := s.f.backend(t)
	if err != nil {
		return false, err
	}
	return !b.Installing(), nil
}

// Platform is an in-memory [drivers.PlatformClient]: a deployment publishes
// its release after Config.PublishDelay and finishes once the backends whose
// Deployment service ran have installed it.
type Platform struct{ f *Farm }

// StartDeployment starts deploying rel and returns its id.
func (p *Platform) StartDeployment(ctx context.Context, rel drivers.Release) (string, error) {
	if err := ctxErr(ctx, "start deployment"); err != nil {
		return "", err
	}
	if rel.Version == "" {
		return "", fmt.Errorf("httpfarm: release with empty version: %w", drivers.ErrInvalidArgument)
	}
	p.f.mu.Lock()
	id := "dep-" + strconv.Itoa(len(p.f.deployments)+1)
	p.f.deployments[id] = &deployment{version: rel.Version, done: time.Now().Add(p.f.cfg.PublishDelay + p.f.cfg.InstallDuration)}
	p.f.mu.Unlock()
	time.AfterFunc(p.f.cfg.PublishDelay, func() { p.f.publish(rel.Version) })
	p.f.logf("platform: deployment %s of %s started", id, rel.Version)
	return id, nil
}

// DeploymentStatus reads where deployment id stands.
func (p *Platform) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	if err := ctxErr(ctx, "deployment status"); err != nil {
		return drivers.DeploymentStatus{}, err
	}
	p.f.mu.Lock()
	defer p.f.mu.Unlock()
	d, ok := p.f.deployments[id]
	if !ok {
		return drivers.DeploymentStatus{}, fmt.Errorf("httpfarm: deployment %q: %w", id, drivers.ErrNotFound)
	}
	if time.Now().Before(d.done) {
		return drivers.DeploymentStatus{State: drivers.DeploymentRunning}, nil
	}
	return drivers.DeploymentStatus{State: drivers.DeploymentSucceeded}, nil
}

// Prober is a [drivers.Prober] that calls a backend directly over HTTP and
// reads its version from the X-Version header.
type Prober struct{ f *Farm }

// Probe GETs t.URL.
func (p *Prober) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	if t.URL == "" {
		return drivers.ProbeResult{}, fmt.Errorf("httpfarm: probe %s: no URL: %w", t.Name, drivers.ErrInvalidArgument)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.URL, nil)
	if err != nil {
		return drivers.ProbeResult{}, fmt.Errorf("httpfarm: probe %s: %w", t.Name, drivers.Classify(drivers.ErrInvalidArgument, err))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return drivers.ProbeResult{}, fmt.Errorf("httpfarm: probe %s: %w", t.Name, ctx.Err())
		}
		return drivers.ProbeResult{}, fmt.Errorf("httpfarm: probe %s: %w", t.Name, drivers.Classify(drivers.ErrUnavailable, err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	res := drivers.ProbeResult{StatusCode: resp.StatusCode, Version: resp.Header.Get(HeaderVersion), Healthy: resp.StatusCode == http.StatusOK}
	if !res.Healthy {
		res.Detail = resp.Status
	}
	return res, nil
}
