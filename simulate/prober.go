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
type Prober struct{ s *Sim }

var _ drivers.Prober = (*Prober)(nil)

// Prober returns the farm's application prober.
func (s *Sim) Prober() *Prober { return &Prober{s: s} }

// Probe calls the application on t.
func (p *Prober) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	s := p.s
	var out drivers.ProbeResult
	err := s.call(ctx, OpProbe, "", []string{t.Name}, "", 0, func() error {
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
			out = drivers.ProbeResult{Healthy: true, StatusCode: http.StatusOK, Version: srv.version}
		}
		return nil
	})
	return out, err
}
