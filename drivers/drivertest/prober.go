package drivertest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
)

// ProberHarness is what a [drivers.Prober]'s test gives the suite.
type ProberHarness struct {
	// New returns a fresh prober. Required.
	New func(t *testing.T) drivers.Prober
	// Healthy lists at least one server whose application answers healthy
	// and reports Version. Required.
	Healthy []drivers.Target
	// Version is the version the Healthy servers report. Required.
	Version string
	// Unhealthy is a server whose application answers, unhealthy (a 503,
	// a wrong body). Its zero value skips the subtest as unimplemented.
	Unhealthy drivers.Target
	// Down is a server where nothing answers. Its zero value skips the
	// subtest as unimplemented.
	Down drivers.Target
	// Applications lists applications the Healthy servers serve healthily,
	// each at its Version (Version when empty), for a prober that is a
	// drivers.ApplicationProber. An application probe with an empty Path
	// (the prober's own path, which must read as Probe does) is always
	// checked; a prober that is no ApplicationProber skips the subtest as
	// unimplemented.
	Applications []drivers.ApplicationProbe
	// Options are the settings every harness has (Prompt, KnownDefects,
	// Bubble).
	Options
}

// RunProber runs the Prober conformance suite. Each check is a named subtest
// of t.
func RunProber(t *testing.T, h ProberHarness) {
	t.Helper()
	require.NotNil(t, h.New, "drivertest: ProberHarness.New is required")
	require.NotEmpty(t, h.Healthy, "drivertest: ProberHarness.Healthy must name at least one server")
	require.NotEmpty(t, h.Version, "drivertest: ProberHarness.Version is required")
	p := prober{h: h}
	p.h.run(t, "Healthy", p.healthy)
	p.h.run(t, "Repeatable", p.repeatable)
	p.h.run(t, "Unhealthy", p.unhealthy)
	p.h.run(t, "Down", p.down)
	p.h.run(t, "ContextDone", p.contextDone)
	p.h.run(t, "Concurrent", p.concurrent)
	p.h.run(t, "Application", p.application)
}

type prober struct {
	h ProberHarness
}

func (p prober) fresh(t *testing.T) drivers.Prober { return fresh(t, p.h.New, "ProberHarness") }

func (p prober) checkHealthy(t *testing.T, res drivers.ProbeResult, err error, tg drivers.Target) {
	t.Helper()
	require.NoError(t, err, "Probe(%s)", tg.Name)
	assert.True(t, res.Healthy, "Probe(%s) must read healthy: %+v", tg.Name, res)
	assert.Equal(t, p.h.Version, res.Version, "Probe(%s): version", tg.Name)
	assert.NotZero(t, res.StatusCode, "Probe(%s): an answer has a status", tg.Name)
}

func (p prober) healthy(t *testing.T) {
	pr := p.fresh(t)
	for _, tg := range p.h.Healthy {
		res, err := pr.Probe(ctx(t), tg)
		p.checkHealthy(t, res, err, tg)
	}
}

func (p prober) repeatable(t *testing.T) {
	pr := p.fresh(t)
	tg := p.h.Healthy[0]
	for range 3 {
		res, err := pr.Probe(ctx(t), tg)
		p.checkHealthy(t, res, err, tg)
	}
}

func (p prober) unhealthy(t *testing.T) {
	if p.h.Unhealthy == (drivers.Target{}) {
		t.Skip("unimplemented: the harness has no unhealthy server (ProberHarness.Unhealthy is zero)")
	}
	pr := p.fresh(t)
	res, err := pr.Probe(ctx(t), p.h.Unhealthy)
	require.NoError(t, err, "an application that answers unhealthy is a result, not an error")
	assert.False(t, res.Healthy, "Probe(%s): %+v", p.h.Unhealthy.Name, res)
	assert.NotEmpty(t, res.Detail, "an unhealthy result explains itself in Detail")
}

// down accepts either shape the contract allows for a server where nothing
// answers: an error (the probe could not be made), or a result that is not
// healthy with status 0 ("no answer came").
func (p prober) down(t *testing.T) {
	if p.h.Down == (drivers.Target{}) {
		t.Skip("unimplemented: the harness has no server that is down (ProberHarness.Down is zero)")
	}
	pr := p.fresh(t)
	res, err := pr.Probe(ctx(t), p.h.Down)
	if err != nil {
		return
	}
	assert.False(t, res.Healthy, "a server where nothing answers is not healthy: %+v", res)
	assert.Zero(t, res.StatusCode, "no answer came: StatusCode must be 0")
}

func (p prober) contextDone(t *testing.T) {
	pr := p.fresh(t)
	tg := p.h.Healthy[0]
	p.h.checkDone(t, "Probe", func(c context.Context) error {
		res, err := pr.Probe(c, tg)
		assert.False(t, res.Healthy, "a probe with a done context reads nothing healthy")
		return err
	})
}

func (p prober) concurrent(t *testing.T) {
	pr := p.fresh(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8*5*len(p.h.Healthy))
	for range 8 {
		wg.Go(func() {
			for range 5 {
				for _, tg := range p.h.Healthy {
					res, err := pr.Probe(ctx(t), tg)
					switch {
					case err != nil:
						errs <- fmt.Errorf("Probe(%s): %w", tg.Name, err)
					case !res.Healthy || res.Version != p.h.Version:
						errs <- fmt.Errorf("Probe(%s): %+v, want healthy at %s", tg.Name, res, p.h.Version)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
}

// application checks drivers.ApplicationProber: each application of the
// harness reads healthy at its version on every Healthy server, an
// application probe without a path reads as Probe does, and a done context
// reads nothing healthy.
func (p prober) application(t *testing.T) {
	ap, ok := p.fresh(t).(drivers.ApplicationProber)
	if !ok {
		t.Skip("unimplemented: the prober is no drivers.ApplicationProber")
	}
	apps := append([]drivers.ApplicationProbe{{Application: "drivertest-own-path"}}, p.h.Applications...)
	for _, tg := range p.h.Healthy {
		for _, app := range apps {
			want := app.Version
			if want == "" {
				want = p.h.Version
			}
			res, err := ap.ProbeApplication(ctx(t), tg, app)
			require.NoError(t, err, "ProbeApplication(%s, %s)", tg.Name, app.Application)
			assert.True(t, res.Healthy, "ProbeApplication(%s, %s) must read healthy: %+v", tg.Name, app.Application, res)
			assert.Equal(t, want, res.Version, "ProbeApplication(%s, %s): version", tg.Name, app.Application)
			assert.NotZero(t, res.StatusCode, "ProbeApplication(%s, %s): an answer has a status", tg.Name, app.Application)
		}
	}
	p.h.checkDone(t, "ProbeApplication", func(c context.Context) error {
		res, err := ap.ProbeApplication(c, p.h.Healthy[0], apps[len(apps)-1])
		assert.False(t, res.Healthy, "a probe with a done context reads nothing healthy")
		return err
	})
}
