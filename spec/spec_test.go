package spec_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/spec"
)

// env is the environment the test specs read their secrets from.
var env = map[string]string{
	"WINRM_PASSWORD": "winrm-Pa55-secret",
	"LT_TOKEN":       "lt-token-secret-0123",
	"F5_PASSWORD":    "f5-Pa55-secret",
	// examples/specs/haproxy.yaml's notification.
	"DEPLOY_WEBHOOK_URL": "https://hooks.example/services/webhook-token-secret",
}

func lookup(name string) (string, bool) {
	v, ok := env[name]
	return v, ok
}

// base is a valid spec; tests change it with strings.Replace.
const base = `release:
  version: "2.0"
  applications:
    - {name: Orders, version: "2.0"}
servers:
  - {name: fe01, address: 10.0.0.1, controller: true}
  - {name: fe02, address: 10.0.0.2}
  - {name: fe03, address: 10.0.0.3}
  - {name: fe04, address: 10.0.0.4}
zones:
  - name: east
    updating: [fe01, fe02]
    loaded: [fe03, fe04]
load_balancer:
  kind: haproxy
  address: 127.0.0.1:9999
  network: tcp
  backend: be_app
services:
  username: deploy
  password: {env: WINRM_PASSWORD}
platform:
  url: https://lt.example/lifetimeapi/rest/v2
  token: {env: LT_TOKEN}
  source_environment: QA
  target_environment: Production
timeouts:
  drain: 2m
journal: deploy.journal
`

// edit returns base with old replaced by new (which must be found).
func edit(t *testing.T, old, new string) string {
	t.Helper()
	require.Contains(t, base, old)
	return strings.Replace(base, old, new, 1)
}

// lineOf returns the 1-based line of the first occurrence of s in doc.
func lineOf(t *testing.T, doc, s string) int {
	t.Helper()
	i := strings.Index(doc, s)
	require.GreaterOrEqual(t, i, 0, "%q not in doc", s)
	return strings.Count(doc[:i], "\n") + 1
}

func parse(doc string, opts ...spec.Option) (*spec.Spec, error) {
	return spec.Parse([]byte(doc), append([]spec.Option{spec.WithLookupEnv(lookup)}, opts...)...)
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		doc   func(t *testing.T) string
		check func(t *testing.T, s *spec.Spec)
	}{
		{"base", func(*testing.T) string { return base }, func(t *testing.T, s *spec.Spec) {
			assert.Equal(t, "2.0", s.Release.Version)
			assert.Len(t, s.Servers, 4)
			assert.Equal(t, "winrm-Pa55-secret", s.Services.Password.Value.Reveal(), "env secret resolved")
			assert.Equal(t, "WINRM_PASSWORD", s.Services.Password.Env)
			assert.Equal(t, "lt-token-secret-0123", s.Platform.Token.Value.Reveal())
			assert.Equal(t, "be_app", s.LoadBalancer.HAProxy.Backend)
			assert.Equal(t, spec.KindHAProxy, s.LoadBalancer.Kind)
			assert.Equal(t, "2m0s", s.Timeouts.Drain.String())
			assert.Equal(t, "deploy.journal", s.Journal, "relative to the current directory for Parse")
			assert.Empty(t, s.Warnings)
		}},
		{"no zones: one zone split automatically", func(t *testing.T) string {
			return edit(t, "zones:\n  - name: east\n    updating: [fe01, fe02]\n    loaded: [fe03, fe04]\n", "")
		}, func(t *testing.T, s *spec.Spec) {
			f, _, err := s.BuildWith(t.Context(), simDrivers())
			require.NoError(t, err)
			require.Len(t, f.Zones(), 1)
			assert.Equal(t, farm.DefaultZone, f.Zones()[0].Name)
			assert.Equal(t, []string{"fe01", "fe02"}, f.Zones()[0].Updating.Names())
		}},
		{"split auto with a zone's own load balancer", func(t *testing.T) string {
			return edit(t, "    updating: [fe01, fe02]\n    loaded: [fe03, fe04]\n",
				"    split: auto\n    servers: [fe02, fe03, fe01, fe04]\n    load_balancer: {kind: f5, url: https://bigip.example, username: u, password: {env: F5_PASSWORD}, pool: p}\n")
		}, func(t *testing.T, s *spec.Spec) {
			assert.Equal(t, "f5-Pa55-secret", s.Zones[0].LoadBalancer.F5.Password.Value.Reveal())
			f, _, err := s.BuildWith(t.Context(), simDrivers())
			require.NoError(t, err)
			assert.Contains(t, f.Zones()[0].Updating.Names(), "fe01", "the controller is Updating")
		}},
		{"secret from a file", func(t *testing.T) string {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "pw"), []byte("from-file-secret\n"), 0o600))
			return edit(t, "password: {env: WINRM_PASSWORD}", "password: {file: "+filepath.Join(dir, "pw")+"}")
		}, func(t *testing.T, s *spec.Spec) {
			assert.Equal(t, "from-file-secret", s.Services.Password.Value.Reveal(), "trailing newline dropped")
		}},
		{"inline secret allowed, with a warning", func(t *testing.T) string {
			return edit(t, "password: {env: WINRM_PASSWORD}", "password: inline-Pa55") + "allow_inline_secrets: true\n"
		}, func(t *testing.T, s *spec.Spec) {
			assert.Equal(t, "inline-Pa55", s.Services.Password.Value.Reveal())
			require.Len(t, s.Warnings, 1)
			assert.Contains(t, s.Warnings[0], "spec:21: password is written inline")
			assert.NotContains(t, s.Warnings[0], "inline-Pa55")
		}},
		{"nginx with addresses and port", func(t *testing.T) string {
			return edit(t, "  kind: haproxy\n  address: 127.0.0.1:9999\n  network: tcp\n  backend: be_app\n",
				"  kind: nginx\n  file: up.conf\n  upstream: app\n  main_config: /etc/nginx/nginx.conf\n  port: 8080\n  addresses: {fe04: \"10.9.9.9:81\"}\n")
		}, func(t *testing.T, s *spec.Spec) {
			assert.Equal(t, 8080, s.LoadBalancer.NGINX.Port)
			assert.Equal(t, "up.conf", s.LoadBalancer.NGINX.File)
		}},
		{"rollback policy and retry", func(*testing.T) string {
			return base + "on_failure: rollback\nretry: {max_attempts: 3, initial_backoff: 500ms}\nconcurrency: 4\n"
		}, func(t *testing.T, s *spec.Spec) {
			assert.Equal(t, "rollback", s.OnFailure)
			assert.Equal(t, 3, s.Retry.MaxAttempts)
			assert.Equal(t, "500ms", s.Retry.InitialBackoff.String())
		}},
		{"per-system limits", func(*testing.T) string {
			return base + "limits: {host: 1, load_balancer: 3, platform: 16}\n"
		}, func(t *testing.T, s *spec.Spec) {
			assert.Equal(t, spec.Limits{Host: 1, LoadBalancer: 3, Platform: 16}, s.Limits)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parse(tt.doc(t))
			require.NoError(t, err)
			tt.check(t, s)
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  func(t *testing.T) string
		// at is text whose line the error must name; want is in the message.
		at, want string
	}{
		{"unknown top-level key", func(*testing.T) string { return base + "concurency: 3\n" }, "concurency", `unknown field "concurency"`},
		{"negative limit", func(*testing.T) string { return base + "limits:\n  host: 2\n  platform: -1\n" }, "platform: -1", "limits.platform -1: want zero (the default) or more"},
		{"unknown limit", func(*testing.T) string { return base + "limits:\n  hosts: 2\n" }, "hosts", `unknown field "hosts"`},
		{"unknown zone key", func(t *testing.T) string { return edit(t, "loaded: [fe03", "loded: [fe03") }, "loded", `unknown field "loded"`},
		{"key of another load balancer kind", func(t *testing.T) string { return edit(t, "  backend: be_app\n", "  backend: be_app\n  pool: p\n") },
			"pool", `unknown field "pool" for load_balancer kind haproxy`},
		{"unknown load balancer kind", func(t *testing.T) string { return edit(t, "kind: haproxy", "kind: citrix") }, "kind: citrix", `load_balancer kind "citrix": want one of haproxy, nginx, nginx-plus, f5, alb`},
		{"load balancer without kind", func(t *testing.T) string { return edit(t, "  kind: haproxy\n", "") }, "  address: 127", "no kind"},
		{"zone without loaded group", func(t *testing.T) string { return edit(t, "    loaded: [fe03, fe04]\n", "") }, "- name: east", "zone east has no loaded group"},
		{"zone without updating group", func(t *testing.T) string { return edit(t, "    updating: [fe01, fe02]\n", "") }, "- name: east", "zone east has no updating group"},
		{"server listed twice in servers", func(t *testing.T) string { return edit(t, "{name: fe04,", "{name: fe02,") }, "{name: fe02, address: 10.0.0.4", "server fe02 is used twice (first at line 7)"},
		{"server in two groups", func(t *testing.T) string { return edit(t, "loaded: [fe03, fe04]", "loaded: [fe03, fe04, fe02]") }, "loaded: [fe03", "server fe02 is listed twice: already in zone east updating (line 12)"},
		{"unknown server in a zone", func(t *testing.T) string { return edit(t, "loaded: [fe03, fe04]", "loaded: [fe03, fe04, fe99]") }, "loaded: [fe03", `unknown server "fe99"`},
		{"server in no zone", func(t *testing.T) string { return edit(t, "loaded: [fe03, fe04]", "loaded: [fe03]") }, "{name: fe04", "server fe04 is in no zone"},
		{"controller in the loaded group", func(t *testing.T) string {
			return edit(t, "updating: [fe01, fe02]\n    loaded: [fe03, fe04]", "updating: [fe03, fe02]\n    loaded: [fe01, fe04]")
		}, "loaded: [fe01", "server fe01 is the Deployment Controller but is in the loaded group"},
		{"two controllers", func(t *testing.T) string {
			return edit(t, "{name: fe02, address: 10.0.0.2}", "{name: fe02, address: 10.0.0.2, controller: true}")
		},
			"{name: fe02", "a second Deployment Controller"},
		{"loaded group below the capacity floor", func(t *testing.T) string {
			return edit(t, "updating: [fe01, fe02]\n    loaded: [fe03, fe04]", "updating: [fe01, fe02, fe03]\n    loaded: [fe04]")
		}, "- name: east", "capacity floor"},
		{"hostile server name", func(t *testing.T) string {
			return edit(t, "{name: fe04, address: 10.0.0.4}", `{name: "fe04; Stop-Computer", address: 10.0.0.4}`)
		},
			"{name: \"fe04;", `server name "fe04; Stop-Computer"`},
		{"inline secret refused", func(t *testing.T) string {
			return edit(t, "password: {env: WINRM_PASSWORD}", "password: hunter2-inline")
		},
			"password: hunter2", "password is written inline: refused"},
		{"environment variable not set", func(t *testing.T) string { return edit(t, "{env: LT_TOKEN}", "{env: LT_TOKEN_MISSING}") },
			"token:", "environment variable LT_TOKEN_MISSING is not set"},
		{"secret with both env and file", func(t *testing.T) string { return edit(t, "{env: LT_TOKEN}", "{env: LT_TOKEN, file: /x}") },
			"token:", "want exactly one of"},
		{"secret missing", func(t *testing.T) string { return edit(t, "  password: {env: WINRM_PASSWORD}\n", "") }, "services:", "no password"},
		{"bad duration", func(t *testing.T) string { return edit(t, "drain: 2m", "drain: 2 minutes") }, "drain: 2", `duration "2 minutes"`},
		{"wrong type", func(*testing.T) string { return base + "concurrency: many\n" }, "concurrency", "cannot unmarshal"},
		{"duplicate key", func(*testing.T) string { return base + "journal: other.journal\n" }, "journal: other", `mapping key "journal" already defined`},
		{"bad failure policy", func(*testing.T) string { return base + "on_failure: retry\n" }, "on_failure", `on_failure "retry": want halt or rollback`},
		{"no release version", func(t *testing.T) string { return edit(t, "  version: \"2.0\"\n", "") }, "release:", "release: no version"},
		{"no services", func(t *testing.T) string {
			return edit(t, "services:\n  username: deploy\n  password: {env: WINRM_PASSWORD}\n", "")
		}, "release:", "no services"},
		{"split other than auto", func(t *testing.T) string {
			return edit(t, "    updating: [fe01, fe02]\n    loaded: [fe03, fe04]\n", "    split: half\n    servers: [fe01, fe02, fe03, fe04]\n")
		}, "split: half", `split "half": want auto`},
		{"alb without an ARN", func(t *testing.T) string {
			return edit(t, "  kind: haproxy\n  address: 127.0.0.1:9999\n  network: tcp\n  backend: be_app\n", "  kind: alb\n  target_group_arn: web\n")
		}, "target_group_arn", "want the target group's ARN"},
		{"driver refuses a value: LifeTime over plain HTTP", func(t *testing.T) string {
			return edit(t, "url: https://lt.example", "url: http://lt.example")
		}, "platform:", "lifetime"},
		{"service role unknown", func(t *testing.T) string {
			return edit(t, "  username: deploy\n", "  username: deploy\n  service_names: {timer: X}\n")
		}, "service_names", `role "timer"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.doc(t)
			_, err := parse(doc)
			require.Error(t, err)
			assert.ErrorIs(t, err, spec.ErrInvalid)
			var se *spec.Error
			require.True(t, errors.As(err, &se), "want a *spec.Error, got %T: %v", err, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), fmt.Sprintf("spec:%d:", lineOf(t, doc, tt.at)), "error names the line of %q", tt.at)
		})
	}
}

// TestErrorsCollected checks that several problems are reported at once,
// each with its line.
func TestErrorsCollected(t *testing.T) {
	doc := edit(t, "loaded: [fe03, fe04]", "loaded: [fe03, fe99]") + "on_failure: maybe\n"
	_, err := parse(doc)
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, fmt.Sprintf("spec:%d:", lineOf(t, doc, "loaded: [fe03")))
	assert.Contains(t, msg, fmt.Sprintf("spec:%d:", lineOf(t, doc, "on_failure")))
	assert.Contains(t, msg, "server fe04 is in no zone")
}

// TestLoadResolvesPaths checks that Load names the file in errors and takes
// relative paths from the file's directory.
func TestLoadResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "winrm.pw"), []byte("pw-from-file"), 0o600))
	path := filepath.Join(dir, "farm.yaml")
	require.NoError(t, os.WriteFile(path, []byte(edit(t, "password: {env: WINRM_PASSWORD}", "password: {file: winrm.pw}")), 0o600))
	s, err := spec.Load(path, spec.WithLookupEnv(lookup))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "deploy.journal"), s.Journal)
	assert.Equal(t, "pw-from-file", s.Services.Password.Value.Reveal())
	assert.Equal(t, path, s.Source)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(base+"bogus: 1\n"), 0o600))
	_, err = spec.Load(bad, spec.WithLookupEnv(lookup))
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("%s:%d:1: unknown field \"bogus\"", bad, lineOf(t, base+"bogus: 1\n", "bogus")))

	_, err = spec.Load(filepath.Join(dir, "missing.yaml"))
	assert.ErrorIs(t, err, spec.ErrInvalid)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// TestExampleSpecs parses and builds every example spec shipped with the
// repository, with its real drivers (constructors only: nothing is
// contacted).
func TestExampleSpecs(t *testing.T) {
	files, err := filepath.Glob("../examples/specs/*.yaml")
	require.NoError(t, err)
	require.Len(t, files, 4)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := spec.Load(f, spec.WithLookupEnv(lookup))
			require.NoError(t, err)
			assert.GreaterOrEqual(t, len(s.Servers), 8)
			assert.LessOrEqual(t, len(s.Servers), 12)
			controllers := 0
			for _, sv := range s.Servers {
				if sv.Controller {
					controllers++
				}
			}
			assert.Equal(t, 1, controllers, "the controller is marked")
			fm, plan, err := s.Build(t.Context())
			require.NoError(t, err)
			assert.Len(t, fm.Servers(), len(s.Servers))
			assert.Len(t, plan.StepIDs(), 12+len(s.Approvals))
			assert.Empty(t, s.Warnings)
		})
	}
}
