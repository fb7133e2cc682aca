package simulate

import (
	"context"
	"net/http"

	"github.com/balanced-deploy/balanced/drivers"
)

// Prober is the simulated [drivers.Prober]: it calls the application on one
// front-end directly, bypassing the load balancer. Get it with [Sim.Prober].
// A target is found by Name, or by a "sim://<name>/" URL.
//
// A running application answers 200 with its version; an installing one,
// or one whose install failed, answers 503 without a version; a crashed
// server does not answer (StatusCode 0). None of these is an error.
//
// [Prober.ProbeApplication] probes one application of the release: it
// answers as Probe, with that application's version, which lags behind the
// server's while the application still deploys there
// ([Sim.DelayApplication]). Probe answers the server's release version,
// whatever its applications do: a run that probes only that misses an
// application still deploying.
type Prober struct{ s *Sim }

var (
	_ drivers.Prober            = (*Prober)(nil)
	_ drivers.ApplicationProber = (*Prober)(nil)
)

// Prober returns the farm's application prober.
func (s *Sim) Prober() *Prober { return &Prober{s: s} }

// Probe calls the application on t.
func (p *Prober) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	return p.probe(ctx, t, "")
}

// ProbeApplication calls app.Application on t (app.Path is not read: the
// simulated server finds an application by name). An application no
// release listed answers the server's version.
func (p *Prober) ProbeApplication(ctx context.Context, t drivers.Target, app drivers.ApplicationProbe) (drivers.ProbeResult, error) {
	if app.Application == "" {
		return p.probe(ctx, t, "")
	}
	return p.probe(ctx, t, app.Application)
}

func (p *Prober) probe(ctx context.Context, t drivers.Target, app string) (drivers.ProbeResult, error) {
	s := p.s
	var out drivers.ProbeResult
	detail := ""
	if app != "" {
		detail = "application=" + app
	}
	err := s.call(ctx, OpProbe, "", []string{t.Name}, detail, 0, func() error {
		srv, err := s.lookup(t)
		if err != nil {
			return err
		}
		switch {
		case srv.crashed:
			out = drivers.ProbeResult{Detail: "connection refused: server down"}
		case srv.installing:
			out = drivers.ProbeResult{StatusCode: http.StatusServiceUnavailable, Detail: "installing " + srv.installVersion}
		case srv.broken:
			out = drivers.ProbeResult{StatusCode: http.StatusServiceUnavailable, Detail: "application failed to install"}
		default:
			v := srv.version
			if app != "" {
				v = srv.appVersion(app)
			}
			out = drivers.ProbeResult{Healthy: true, StatusCode: http.StatusOK, Version: v}
		}
		return nil
	})
	return out, err
}
