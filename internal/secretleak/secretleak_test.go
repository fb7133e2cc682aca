package secretleak_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/httpprobe"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/fakefarm"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/balanced-deploy/balanced/spec"
	"github.com/balanced-deploy/balanced/steps"
)

// secret is in every bad URL; no error may contain it.
const secret = "s3cr3t"

// badURL is a URL with a secret in it, built for a host ("lt.example",
// "127.0.0.1:8443"). refused says whether every constructor must refuse it
// (user info always is; a query is refused by those that take no query).
type badURL struct {
	name    string
	url     func(host string) string
	refused bool
}

var badURLs = []badURL{
	{"token as user name", func(h string) string { return "https://TOKEN-" + secret + "@" + h + "/" }, true},
	{"user and password", func(h string) string { return "https://ops:" + secret + "@" + h + "/" }, true},
	{"password with a bad escape", func(h string) string { return "https://ops:" + secret + "%zz@" + h + "/" }, true},
	{"password with a bad escape and a bad port", func(h string) string { return "https://ops:" + secret + "%zz@" + h + ":x/" }, true},
	{"password holding '/' and '#'", func(h string) string { return "https://ops:" + secret + "/#x@" + h + "/" }, true},
	{"scheme-less user info", func(h string) string { return "ops:" + secret + "@" + h }, true},
	{"token in the query", func(h string) string { return "https://" + h + "/?token=" + secret }, false},
}

// constructor builds something from a URL and returns its error.
type constructor struct {
	name string
	// host is the host the URL is built for.
	host string
	// queryRefused is true when the constructor refuses a URL with a query.
	queryRefused bool
	build        func(t *testing.T, raw string) error
}

var constructors = []constructor{
	{"farm.New probe URL", "fe01.internal", false, func(t *testing.T, raw string) error {
		servers := []farm.Server{{Name: "fe01", ProbeURL: raw}, {Name: "fe02"}}
		_, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers), LoadBalancer: &nopLB{}})
		return err
	}},
	{"spec.Parse probe_url", "fe01.internal", false, func(t *testing.T, raw string) error {
		return parseSpec(t, "probe_url", raw)
	}},
	{"spec.Parse platform url", "lt.example", true, func(t *testing.T, raw string) error {
		return parseSpec(t, "platform url", raw)
	}},
	{"spec.Parse f5 url", "bigip.example", true, func(t *testing.T, raw string) error {
		return parseSpec(t, "f5 url", raw)
	}},
	{"spec.Parse nginx-plus endpoint", "127.0.0.1:8080", true, func(t *testing.T, raw string) error {
		return parseSpec(t, "nginx-plus endpoint", raw)
	}},
	{"lifetime.New", "lt.example", true, func(t *testing.T, raw string) error {
		_, err := lifetime.New(lifetime.Config{BaseURL: raw, Token: drivers.NewSecret("tok"), SourceEnvironment: "QA", TargetEnvironment: "Production"})
		return err
	}},
	{"f5.New", "bigip.example", true, func(t *testing.T, raw string) error {
		_, err := f5.New(f5.Config{BaseURL: raw, Username: "admin", Password: drivers.NewSecret("pw"), Pool: "web"})
		return err
	}},
	{"nginx.NewPlus", "127.0.0.1:8080", true, func(t *testing.T, raw string) error {
		_, err := nginx.NewPlus(nginx.PlusConfig{Endpoint: raw, Upstream: "backend"})
		return err
	}},
	{"httpprobe Probe, nothing listening", "", false, func(t *testing.T, raw string) error {
		p, err := httpprobe.New(httpprobe.Config{Timeout: 5 * time.Second})
		require.NoError(t, err)
		_, err = p.Probe(t.Context(), drivers.Target{Name: "fe01", URL: raw})
		return err
	}},
	{"httpprobe Probe, answer too late", "", false, func(t *testing.T, raw string) error {
		p, err := httpprobe.New(httpprobe.Config{Timeout: 50 * time.Millisecond})
		require.NoError(t, err)
		_, err = p.Probe(t.Context(), drivers.Target{Name: "fe01", URL: strings.Replace(raw, "https://", "http://", 1)})
		return err
	}},
}

// TestNoConstructorEchoesURLSecrets runs every constructor over every bad
// URL: where it refuses the URL (always for user info), the error wraps an
// invalid-input sentinel and holds no part of the secret.
func TestNoConstructorEchoesURLSecrets(t *testing.T) {
	closed := closedAddr(t)
	slow := slowServer(t)
	for _, c := range constructors {
		host := c.host
		switch c.name {
		case "httpprobe Probe, nothing listening":
			host = closed
		case "httpprobe Probe, answer too late":
			host = slow
		}
		for _, u := range badURLs {
			t.Run(c.name+"/"+u.name, func(t *testing.T) {
				raw := u.url(host)
				err := c.build(t, raw)
				mustFail := strings.HasPrefix(c.name, "httpprobe") || u.refused || c.queryRefused
				if mustFail {
					require.Error(t, err, "%s must refuse %q", c.name, raw)
				}
				if err == nil {
					return
				}
				msg := err.Error()
				assert.NotContains(t, msg, secret, "the error must not hold the secret")
				assert.NotContains(t, msg, "TOKEN", "the error must not hold the user name")
				if u.refused && !strings.HasPrefix(c.name, "httpprobe") {
					assert.True(t, isInvalid(err), "a refused URL is invalid input: %v", err)
				}
			})
		}
	}
}

func isInvalid(err error) bool {
	for _, sentinel := range []error{drivers.ErrInvalidArgument, farm.ErrInvalidFarm, spec.ErrInvalid} {
		if errorsIs(err, sentinel) {
			return true
		}
	}
	return false
}

// parseSpec parses a valid spec with raw at the key named by where.
func parseSpec(t *testing.T, where, raw string) error {
	t.Helper()
	q := func(s string) string {
		return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
	}
	probe, platform, lb := "", "https://lt.example/lifetimeapi/rest/v2", "  kind: haproxy\n  address: 127.0.0.1:9999\n  network: tcp\n  backend: be_app\n"
	switch where {
	case "probe_url":
		probe = ", probe_url: " + q(raw)
	case "platform url":
		platform = raw
	case "f5 url":
		lb = "  kind: f5\n  url: " + q(raw) + "\n  username: u\n  password: {env: PW}\n  pool: p\n"
	case "nginx-plus endpoint":
		lb = "  kind: nginx-plus\n  endpoint: " + q(raw) + "\n  upstream: app\n"
	}
	doc := `release: {version: "2.0"}
servers:
  - {name: fe01, controller: true` + probe + `}
  - {name: fe02}
load_balancer:
` + lb + `services: {username: deploy, password: {env: PW}}
platform:
  url: ` + q(platform) + `
  token: {env: PW}
  source_environment: QA
  target_environment: Production
`
	_, err := spec.Parse([]byte(doc), spec.WithLookupEnv(func(string) (string, bool) { return "pw", true }))
	return err
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// slowServer answers after the probe's timeout.
func slowServer(t *testing.T) string {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv.Listener.Addr().String()
}

// TestRunbookNeverPrintsURLSecrets checks the runbook (Plan.Describe, what
// operators paste into a change ticket): a probe URL's query values are
// masked, since a probe URL may carry a token there.
func TestRunbookNeverPrintsURLSecrets(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02")
	servers := ff.Servers()
	servers[0].ProbeURL = "https://fe01.internal/health?token=" + secret
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers), LoadBalancer: ff})
	require.NoError(t, err)
	plan, err := steps.Balanced(f, steps.Config{Services: ff, Platform: ff, Prober: ff, Release: drivers.Release{Version: "v2"}})
	require.NoError(t, err)
	var b strings.Builder
	require.NoError(t, plan.Describe(&b))
	assert.Contains(t, b.String(), "https://fe01.internal/health?token=[redacted]")
	assert.NotContains(t, b.String(), secret)
}
