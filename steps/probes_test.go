package steps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// twoApps is a release of two applications, as the example specs deploy.
var twoApps = drivers.Release{Version: "v2", Applications: []drivers.Application{
	{Name: "Orders", Version: "4.2"}, {Name: "Portal", Version: "7.1"},
}}

// appProbes probes both applications, each at its own path; the versions
// are left to their default (each application's version in the release).
var appProbes = []drivers.ApplicationProbe{{Application: "Orders", Path: "/Orders/health"}, {Application: "Portal", Path: "/Portal/health"}}

// servicesOnly is the simulator's service controller without its
// drivers.IdleReporter: what a real farm offers, since no documented API
// reports a front-end's Deployment service idle.
type servicesOnly struct{ drivers.ServiceController }

// appWatch is the simulator's prober, recording when each application
// first answered its release version on each server.
type appWatch struct {
	*simulate.Prober
	want  map[string]string
	mu    sync.Mutex
	first map[string]time.Time // "server/application" -> first answer of its release version
}

func newAppWatch(sim *simulate.Sim, rel drivers.Release) *appWatch {
	w := &appWatch{Prober: sim.Prober(), want: map[string]string{}, first: map[string]time.Time{}}
	for _, a := range rel.Applications {
		w.want[a.Name] = a.Version
	}
	return w
}

func (w *appWatch) ProbeApplication(ctx context.Context, t drivers.Target, app drivers.ApplicationProbe) (drivers.ProbeResult, error) {
	res, err := w.Prober.ProbeApplication(ctx, t, app)
	if err == nil && res.Healthy && res.Version == w.want[app.Application] {
		w.mu.Lock()
		if k := t.Name + "/" + app.Application; w.first[k].IsZero() {
			w.first[k] = time.Now()
		}
		w.mu.Unlock()
	}
	return res, err
}

func (w *appWatch) firstOn(server, app string) time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first[server+"/"+app]
}

// TestEveryApplicationOnEveryServer: a release of two applications, Portal
// deploying three minutes late on one server. The step that waits for that
// server (verify-updating for an Updating one, after publish's wait;
// await-loaded for a Loaded one) does not pass until Portal answers its
// version there, so that the server takes traffic only then. With one
// probe and one version (the code before Config.Probes), the step passed
// as soon as the server's install ended and Portal switched to 7.1 while
// the server served (invariant 2).
func TestEveryApplicationOnEveryServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		step   string
		group  func(farm.ZoneSpec) []farm.Server
		serves string // the step that puts the server back in traffic
	}{
		{"verify-updating", steps.VerifyUpdating, func(z farm.ZoneSpec) []farm.Server { return z.Updating }, steps.SwitchTraffic},
		{"await-loaded", steps.AwaitLoaded, func(z farm.ZoneSpec) []farm.Server { return z.Loaded }, steps.RestoreTraffic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7,
					PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second,
					Traffic: simulate.Traffic{Rate: 5, Duration: 200 * time.Millisecond, MaxDuration: 3 * time.Second}})
				require.NoError(t, err)
				specs := farm.AutoSplit(sim.Servers())
				group := tc.group(specs[0])
				lagging := group[len(group)-1].Name
				require.NoError(t, sim.DelayApplication(lagging, "Portal", 3*time.Minute))
				watch := newAppWatch(sim, twoApps)
				p, w := simPlan(t, sim, sim.LoadBalancer(""), servicesOnly{sim.Services()}, func(c *steps.Config) {
					c.Prober, c.Release, c.Probes = watch, twoApps, appProbes
					c.InstallTimeout = 10 * time.Minute
				})
				require.NoError(t, sim.Start(t.Context()))
				rep, err := p.Run(t.Context())
				time.Sleep(3 * time.Minute) // whatever was still deploying has switched by now
				sim.Stop()
				require.NoError(t, err)
				st, ok := rep.Step(tc.step)
				require.True(t, ok)
				if portal := watch.firstOn(lagging, "Portal"); assert.False(t, portal.IsZero(), "Portal was probed on %s and answered 7.1", lagging) {
					assert.False(t, st.Finished.Before(portal), "%s passed at %v, before Portal answered 7.1 on %s at %v", tc.step, st.Finished, lagging, portal)
					assert.False(t, w.startOf(tc.serves).Before(portal), "%s started before Portal was deployed on %s", tc.serves, lagging)
				}
				r := sim.Report()
				assert.Empty(t, r.ViolationsOf(2), "no application switched while its server served\n%s", r.String())
				assert.Empty(t, sim.CheckEndState(twoApps))
			})
		})
	}
}

// flappingProber answers Orders unhealthy on one server for a while after
// it first reads its version there: the Deployment service redeploying it
// (an application recycled once more), which only a quiet period catches.
type flappingProber struct {
	*appWatch
	server  string
	flapFor time.Duration
	mu      sync.Mutex
	ok      time.Time // Orders first answered 4.2
	changes []time.Time
	last    string
}

func (f *flappingProber) ProbeApplication(ctx context.Context, t drivers.Target, app drivers.ApplicationProbe) (drivers.ProbeResult, error) {
	res, err := f.appWatch.ProbeApplication(ctx, t, app)
	if err != nil || t.Name != f.server || app.Application != "Orders" {
		return res, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if res.Version == "4.2" && f.ok.IsZero() {
		f.ok = now
	}
	if !f.ok.IsZero() && now.After(f.ok) && now.Before(f.ok.Add(f.flapFor)) {
		res = drivers.ProbeResult{StatusCode: 503, Detail: "application pool recycling"}
	}
	if got := fmt.Sprint(res); got != f.last {
		f.last = got
		f.changes = append(f.changes, now)
	}
	return res, err
}

func (f *flappingProber) lastChange() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changes[len(f.changes)-1]
}

// TestQuietPeriod: with QuietPeriod, await-loaded ends only once every
// probe of every Loaded server has kept the same answer for that long, and
// a change (an application that answers, then recycles once more) starts
// the period again. Without it, await-loaded ends at the first agreement.
func TestQuietPeriod(t *testing.T) {
	const quiet = 2 * time.Minute
	for _, q := range []time.Duration{0, quiet} {
		t.Run(fmt.Sprint(q), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 8,
					PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second})
				require.NoError(t, err)
				loaded := farm.AutoSplit(sim.Servers())[0].Loaded
				flap := &flappingProber{appWatch: newAppWatch(sim, twoApps), server: loaded[0].Name, flapFor: 20 * time.Second}
				p, _ := simPlan(t, sim, sim.LoadBalancer(""), servicesOnly{sim.Services()}, func(c *steps.Config) {
					c.Prober, c.Release, c.Probes, c.QuietPeriod = flap, twoApps, appProbes, q
				})
				require.NoError(t, sim.Start(t.Context()))
				rep, err := p.Run(t.Context())
				sim.Stop()
				require.NoError(t, err)
				st, ok := rep.Step(steps.AwaitLoaded)
				require.True(t, ok)
				last := flap.lastChange()
				require.False(t, last.Before(st.Started), "the flap happened during await-loaded")
				if q == 0 {
					assert.Less(t, st.Finished.Sub(last), quiet, "without a quiet period await-loaded ends at the first agreement")
					return
				}
				assert.GreaterOrEqual(t, st.Finished.Sub(last), quiet, "await-loaded ended %v after the last change on %s: want at least %v", st.Finished.Sub(last), flap.server, quiet)
				assert.Less(t, st.Finished.Sub(last), quiet+2*5*time.Second, "and within two poll intervals of it")
			})
		})
	}
}

// TestProbesConfig: each probe names an application of the release once;
// an empty version is the application's in the release; a prober that
// cannot probe an application at its own path is refused; all before any
// driver is called.
func TestProbesConfig(t *testing.T) {
	sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 9})
	require.NoError(t, err)
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	require.NoError(t, err)
	base := steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(), Release: twoApps}
	for _, tc := range []struct {
		name string
		mod  func(*steps.Config)
		want string
	}{
		{"no application", func(c *steps.Config) { c.Probes = []drivers.ApplicationProbe{{Path: "/x"}} }, "Probes[0]: no Application"},
		{"twice", func(c *steps.Config) {
			c.Probes = []drivers.ApplicationProbe{{Application: "Orders"}, {Application: "Orders", Path: "/b"}}
		}, `Probes[1]: application "Orders" is probed twice`},
		{"not in the release", func(c *steps.Config) { c.Probes = []drivers.ApplicationProbe{{Application: "Billing"}} },
			`Probes[0]: application "Billing" is not in Release.Applications: want one of Orders, Portal`},
		{"control character in path", func(c *steps.Config) {
			c.Probes = []drivers.ApplicationProbe{{Application: "Orders", Path: "/a\x1b[2J"}}
		},
			"Probes[0]: application Orders: probe path"},
		{"prober without ApplicationProber", func(c *steps.Config) {
			c.Prober, c.Probes = plainProber{sim.Prober()}, appProbes
		}, "Probes lists 2 applications but Prober (steps_test.plainProber) cannot probe an application at its own path"},
		{"negative quiet period", func(c *steps.Config) { c.QuietPeriod = -time.Second }, "QuietPeriod -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			_, err := steps.Balanced(f, cfg)
			require.ErrorIs(t, err, steps.ErrInvalidConfig)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	assert.Empty(t, sim.Actions(), "no driver was called")

	cfg := base
	cfg.Probes = []drivers.ApplicationProbe{{Application: "Orders", Path: "/Orders/health"}, {Application: "Portal", Path: "/Portal/health", Version: "7.1-b88"}}
	cfg.QuietPeriod = time.Minute
	p, err := steps.Balanced(f, cfg)
	require.NoError(t, err)
	var text bytes.Buffer
	require.NoError(t, p.Describe(&text))
	for _, want := range []string{
		"probe applications Orders, Portal on",
		"probe fe01 application Orders at sim://fe01/ path /Orders/health: want healthy, version 4.2",
		"probe fe02 application Portal at sim://fe02/ path /Portal/health: want healthy, version 7.1-b88",
		"to serve Orders 4.2, Portal 7.1-b88, then 1m0s with no change",
	} {
		assert.Contains(t, text.String(), want)
	}
	assert.Empty(t, cfg.Probes[0].Version, "the caller's Probes are not changed")
}

// plainProber hides the simulator's drivers.ApplicationProber.
type plainProber struct{ drivers.Prober }

// sickApp answers one application unhealthy on one server, the others as
// the simulator does.
type sickApp struct {
	*simulate.Prober
	server, app string
}

func (s sickApp) ProbeApplication(ctx context.Context, t drivers.Target, app drivers.ApplicationProbe) (drivers.ProbeResult, error) {
	if t.Name == s.server && app.Application == s.app {
		return drivers.ProbeResult{StatusCode: 503, Detail: "status 503 Service Unavailable, expected 200"}, nil
	}
	return s.Prober.ProbeApplication(ctx, t, app)
}

// TestPreflightProbesEveryApplication: an application unhealthy on one
// server before the run stops the run in preflight, naming it, although the
// release-wide probe reads healthy there.
func TestPreflightProbesEveryApplication(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 10})
		require.NoError(t, err)
		p, _ := simPlan(t, sim, sim.LoadBalancer(""), sim.Services(), func(c *steps.Config) {
			c.Prober, c.Release, c.Probes = sickApp{sim.Prober(), "fe03", "Portal"}, twoApps, appProbes
		})
		require.NoError(t, sim.Start(t.Context()))
		rep, err := p.Run(t.Context())
		sim.Stop()
		require.Error(t, err)
		assert.Contains(t, err.Error(), "fe03")
		assert.Contains(t, err.Error(), "application Portal unhealthy before the run (status 503")
		st, ok := rep.Step(steps.Preflight)
		require.True(t, ok)
		assert.Equal(t, farm.StepFailed, st.Status)
	})
}

// TestRollbackWaitsForEveryApplicationAsBefore: a run of a release of two
// applications that fails after publish is rolled back, and the rollback
// waits until every application answers, on every Updating server, the
// version preflight read there (not the failed release's).
func TestRollbackWaitsForEveryApplicationAsBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 12,
			PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second})
		require.NoError(t, err)
		p, _ := simPlan(t, sim, sim.LoadBalancer(""), servicesOnly{sim.Services()}, func(c *steps.Config) {
			c.Release, c.Probes = twoApps, appProbes
			c.Plan.OnFailure = farm.Rollback
			c.InstallTimeout = 5 * time.Minute
		})
		require.NoError(t, p.After(steps.VerifyUpdating, farm.Hook{Name: "smoke", Func: func(context.Context, *farm.Run) error {
			return errors.New("smoke test: checkout fails")
		}}))
		require.NoError(t, sim.Start(t.Context()))
		rep, err := p.Run(t.Context())
		time.Sleep(10 * time.Second)
		sim.Stop()
		require.ErrorIs(t, err, farm.ErrRolledBack, "%v", err)
		assert.Equal(t, farm.RolledBack, rep.Outcome)
		assert.Empty(t, sim.CheckEndState(drivers.Release{Version: "v1"}))
		for _, srv := range []string{"fe01", "fe02"} {
			for _, app := range []string{"Orders", "Portal"} {
				res, err := sim.Prober().ProbeApplication(t.Context(), drivers.Target{Name: srv}, drivers.ApplicationProbe{Application: app})
				require.NoError(t, err)
				assert.Equal(t, "v1", res.Version, "%s on %s as before the run", app, srv)
			}
		}
	})
}
