package spec_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/spec"
	"github.com/balanced-deploy/balanced/steps"
)

const oneApp = `    - {name: Orders, version: "2.0"}
`

// twoAppProbes is a release of two applications, each with its probe; the
// second reports a build number of its own.
const twoAppProbes = `    - name: Orders
      version: "2.0"
      probe: {path: /Orders/rest/Health/Version}
    - name: Customer Portal
      version: "7.1"
      probe:
        path: /CustomerPortal/health?full=1
        version: "7.1.88"
`

// TestApplicationProbes: each application's probe reaches the plan with its
// path and version (the application's version by default), and
// timeouts.quiet_period with it.
func TestApplicationProbes(t *testing.T) {
	doc := edit2(t, edit(t, oneApp, twoAppProbes), "  drain: 2m\n", "  drain: 2m\n  quiet_period: 30s\n")
	s, err := parse(doc)
	require.NoError(t, err)
	assert.Empty(t, s.Warnings)
	require.NotNil(t, s.Release.Applications[1].Probe)
	assert.Equal(t, "/CustomerPortal/health?full=1", s.Release.Applications[1].Probe.Path)
	assert.Equal(t, 30*time.Second, s.Timeouts.QuietPeriod.D())
	_, plan, err := s.BuildWith(t.Context(), simDrivers())
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, plan.Describe(&out))
	for _, want := range []string{
		"probe applications Orders, Customer Portal on fe01, fe02, fe03, fe04",
		"probe fe02 application Orders at https://10.0.0.2/ path /Orders/rest/Health/Version: want healthy, version 2.0",
		"probe fe02 application Customer Portal at https://10.0.0.2/ path /CustomerPortal/health?full=1: want healthy, version 7.1.88",
		"wait for fe03, fe04 to serve Orders 2.0, Customer Portal 7.1.88, then 30s with no change",
	} {
		assert.Contains(t, out.String(), want)
	}
}

// TestOneProbeForSeveralApplicationsWarns: a release of several
// applications without their probes keeps the one probe of the probe
// block, with a warning.
func TestOneProbeForSeveralApplicationsWarns(t *testing.T) {
	s, err := parse(edit(t, oneApp, oneApp+`    - {name: Billing, version: "2.0"}`+"\n"))
	require.NoError(t, err)
	require.Len(t, s.Warnings, 1)
	assert.Contains(t, s.Warnings[0], "spec:3: release of 2 applications checked by one probe")
	_, plan, err := s.BuildWith(t.Context(), simDrivers())
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, plan.Describe(&out))
	assert.Contains(t, out.String(), "probe fe02 at https://10.0.0.2/: want healthy, version 2.0")

	s, err = parse(base)
	require.NoError(t, err)
	assert.Empty(t, s.Warnings, "one application, one probe")
}

// TestBadApplicationProbesRefused: each bad application probe is an error
// at its key, naming the application and what is expected.
func TestBadApplicationProbesRefused(t *testing.T) {
	probe := func(p string) string {
		return edit(t, oneApp, "    - name: Orders\n      version: \"2.0\"\n      probe: "+p+"\n")
	}
	for _, tc := range []struct {
		name string
		doc  string
		at   string
		want string
	}{
		{"no path", probe(`{version: "2.0.1"}`), "probe:", "release application Orders: probe has no path: want where the application answers on each server, such as /Orders/rest/Health/Version"},
		{"absolute URL", probe("{path: https://elsewhere.example/Orders}"), "path:", `release application Orders: probe path "https://elsewhere.example/Orders": want a path (and query) to append to each server's probe_url`},
		{"host-relative URL", probe("{path: //elsewhere.example/Orders}"), "path:", `probe path "//elsewhere.example/Orders"`},
		{"fragment", probe(`{path: "/Orders/#top"}`), "path:", `probe path "/Orders/#top"`},
		{"control character in the path", probe(`{path: "/Orders/\e[2J"}`), "path:", `release application Orders probe path "/Orders/\x1b[2J": holds U+001B`},
		{"control character in the version", probe(`{path: /Orders/, version: "2.0\b"}`), "version: \"2.0\\b", `release application Orders probe version "2.0\b": holds U+0008`},
		{"unknown key", probe(`{path: /Orders/, url: https://x.example/}`), "url:", `unknown field "url"`},
		{"one application without its probe", edit(t, oneApp, "    - name: Orders\n      version: \"2.0\"\n      probe: {path: /Orders/}\n    - {name: Billing, version: \"2.0\"}\n"),
			"{name: Billing", "release application Billing has no probe while Orders has one: want a probe (path, and version if it reports another) on every application"},
		{"an application listed twice", edit(t, oneApp, "    - {name: Orders, version: \"2.0\", probe: {path: /a/}}\n    - {name: Orders, version: \"2.0\", probe: {path: /b/}}\n"),
			"Orders, version: \"2.0\", probe: {path: /b/}", "release application Orders is listed twice with a probe"},
		{"quiet period of 1ms", edit(t, "  drain: 2m\n", "  drain: 2m\n  quiet_period: 1ms\n"), "quiet_period:", "quiet_period 1ms: want 0 (the default) or at least 100ms"},
		{"negative quiet period", edit(t, "  drain: 2m\n", "  drain: 2m\n  quiet_period: -5s\n"), "-5s", `duration "-5s": want zero or more`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.doc)
			require.Error(t, err)
			assert.ErrorIs(t, err, spec.ErrInvalid)
			line, col := posOf(t, tc.doc, tc.at)
			assert.Contains(t, err.Error(), fmt.Sprintf("spec:%d:", line), "the error names the line of %q (column %d)", tc.at, col)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "\x1b")
		})
	}
}

// TestApplicationProbesRunOverASimulatedFarm: the plan built from a spec
// whose release has two applications waits, through each application's
// probe, for the one that deploys late on a Loaded server, and ends with
// both on their version everywhere.
func TestApplicationProbesRunOverASimulatedFarm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 3,
			PublishDuration: 20 * time.Second, InstallDuration: 30 * time.Second,
			Traffic: simulate.Traffic{Rate: 5, Duration: 200 * time.Millisecond}})
		require.NoError(t, err)
		doc := edit(t, oneApp, "    - {name: Orders, version: \"2.0\", probe: {path: /Orders/}}\n    - {name: Portal, version: \"7.1\", probe: {path: /Portal/}}\n")
		doc = strings.Replace(doc, "journal: deploy.journal\n", "", 1)
		doc = edit2(t, doc, "  drain: 2m\n", "  drain: 2m\n  poll_interval: 1s\n  deploy_poll_interval: 5s\n")
		s, err := parse(doc)
		require.NoError(t, err)
		require.NoError(t, sim.DelayApplication("fe04", "Portal", 3*time.Minute))
		_, plan, err := s.BuildWith(t.Context(), spec.Drivers{
			LoadBalancer: func(string) drivers.LoadBalancer { return sim.LoadBalancer("") },
			Services:     servicesOnly{sim.Services()}, Platform: sim.Platform(), Prober: sim.Prober(),
		})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		rep, err := plan.Run(t.Context())
		time.Sleep(3 * time.Minute)
		sim.Stop()
		require.NoError(t, err)
		rel := drivers.Release{Version: "2.0", Applications: []drivers.Application{{Name: "Orders", Version: "2.0"}, {Name: "Portal", Version: "7.1"}}}
		assert.Empty(t, sim.CheckEndState(rel))
		r := sim.Report()
		assert.Empty(t, r.ViolationsOf(2), r.String())
		st, ok := rep.Step(steps.AwaitLoaded)
		require.True(t, ok)
		assert.GreaterOrEqual(t, st.Finished.Sub(st.Started), 2*time.Minute, "await-loaded waited for Portal on fe04")
	})
}

// servicesOnly hides the simulator's drivers.IdleReporter, which no real
// farm offers.
type servicesOnly struct{ drivers.ServiceController }

// edit2 is edit on another document than base.
func edit2(t *testing.T, doc, old, new string) string {
	t.Helper()
	require.Contains(t, doc, old)
	return strings.Replace(doc, old, new, 1)
}
