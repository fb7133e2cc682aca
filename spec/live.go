package spec

import (
	"log/slog"

	"github.com/balanced-deploy/balanced/drivers"
)

// ServiceDrivers returns the service controller and the prober the spec
// describes, or those d gives instead: what a program needs, with the farm
// from [Spec.BuildWith], to read the live farm outside a run (balancedctl
// status -live) or its farm lease (the service controller's
// [drivers.FarmLeaser], when it has one). It only calls constructors.
func (s *Spec) ServiceDrivers(d Drivers) (drivers.ServiceController, drivers.Prober, error) {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sc, pr := d.Services, d.Prober
	var err error
	if sc == nil {
		if sc, err = newServices(s.Services, log); err != nil {
			return nil, nil, err
		}
	}
	if pr == nil {
		if pr, err = newProber(s.Probe, log); err != nil {
			return nil, nil, err
		}
	}
	return sc, pr, nil
}
