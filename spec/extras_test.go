package spec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/fakefarm"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/balanced-deploy/balanced/spec"
	"github.com/balanced-deploy/balanced/steps"
)

// extrasSpec is a farm of four servers whose probe URLs are app's, with an
// approval by command, one by prompt, a smoke test and a notification.
func extrasSpec(app, approve string) string {
	return `release: {version: v2}
servers:
  - {name: fe01, controller: true, probe_url: "` + app + `/fe01/"}
  - {name: fe02, probe_url: "` + app + `/fe02/"}
  - {name: fe03, probe_url: "` + app + `/fe03/"}
  - {name: fe04, probe_url: "` + app + `/fe04/"}
load_balancer: {kind: haproxy, address: /run/haproxy/admin.sock, backend: be_app}
services: {username: deploy, password: {env: WINRM_PASSWORD}}
platform: {url: "https://lifetime.example/lifetimeapi/rest/v2", token: {env: LT_TOKEN}, source_environment: QA, target_environment: Production}
timeouts: {poll_interval: 100ms, deploy_poll_interval: 100ms, progress_interval: 1h, confirm_delay: 100ms, drain_period: 100ms}
approvals:
  - before: switch-traffic
    message: Switch traffic to v2?
    command: [` + approve + `]
  - after: verify-updating
    id: smoke-ok
    message: Smoke tests look good?
    prompt: true
smoke_tests:
  - name: orders
    path: /health?deep=1
    expect_status: 200
    expect_body: '"ok"'
notifications:
  - url: {env: HOOK_URL}
    before: [switch-traffic]
    after: [verify-updating]
`
}

func TestApprovalsSmokeTestsNotifications(t *testing.T) {
	var mu sync.Mutex
	var smoked []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		smoked = append(smoked, r.URL.Path+"?"+r.URL.RawQuery)
		mu.Unlock()
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer app.Close()
	var notified []progress.WebhookPayload
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p progress.WebhookPayload
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&p))
		mu.Lock()
		notified = append(notified, p)
		mu.Unlock()
	}))
	defer hook.Close()
	envs := map[string]string{"WINRM_PASSWORD": "pw", "LT_TOKEN": "tok", "HOOK_URL": hook.URL + "/hook/secret-token"}
	lookupEnv := func(n string) (string, bool) { v, ok := envs[n]; return v, ok }

	for _, tc := range []struct {
		name, approve string
		prompt        bool
		outcome       farm.Outcome
	}{
		{"approved", "true", true, farm.Succeeded},
		{"declined by the command", "false", true, farm.Halted},
		{"declined at the prompt", "true", false, farm.Halted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			smoked, notified = nil, nil
			s, err := spec.Parse([]byte(extrasSpec(app.URL, tc.approve)), spec.WithLookupEnv(lookupEnv))
			require.NoError(t, err)
			ff := fakefarm.New("fe01", "fe02", "fe03", "fe04")
			var asked []string
			_, plan, err := s.BuildWith(t.Context(), spec.Drivers{
				LoadBalancer: func(string) drivers.LoadBalancer { return ff },
				Services:     ff, Platform: ff, Prober: ff, Observer: ff,
				Prompt: func(_ context.Context, req steps.ApprovalRequest) (bool, error) {
					asked = append(asked, req.Step+": "+req.Message)
					return tc.prompt, nil
				},
			})
			require.NoError(t, err)
			ids := plan.StepIDs()
			assert.Equal(t, "approve-before-switch-traffic", ids[indexOf(ids, steps.SwitchTraffic)-1])
			assert.Equal(t, "smoke-ok", ids[indexOf(ids, steps.VerifyUpdating)+1])
			var runbook bytes.Buffer
			require.NoError(t, plan.Describe(&runbook))
			assert.Contains(t, runbook.String(), "smoke test orders")

			var report *farm.Report
			synctest.Test(t, func(t *testing.T) { report, err = plan.Run(t.Context()) })
			assert.Equal(t, tc.outcome, report.Outcome, "%v", err)
			assert.Equal(t, []string{"smoke-ok: Smoke tests look good?"}, asked)
			assert.ElementsMatch(t, []string{"/fe01/health?deep=1", "/fe02/health?deep=1"}, smoked, "each Updating server, directly")
			var texts []string
			for _, n := range notified {
				texts = append(texts, n.Text)
			}
			switch tc.name {
			case "approved":
				assert.Equal(t, []string{
					"balanced (release v2): run started: 14 steps over 4 servers in 1 zones",
					"balanced (release v2): step verify-updating done",
					"balanced (release v2): step switch-traffic started: Switch traffic: Updating servers in, Loaded servers drained and out",
					"balanced (release v2): run succeeded",
				}, texts)
			case "declined by the command":
				require.Error(t, err)
				assert.Contains(t, err.Error(), "approval approve-before-switch-traffic: not approved")
			case "declined at the prompt":
				assert.Contains(t, err.Error(), "approval smoke-ok: not approved")
			}
			for _, n := range notified {
				assert.NotContains(t, n.Text, "secret-token")
			}
		})
	}
}

func indexOf(ids []string, id string) int {
	for i, s := range ids {
		if s == id {
			return i
		}
	}
	return -1
}

// TestSmokeTestFails: a wrong body fails verify-updating before the
// traffic moves, naming the server and the test.
func TestSmokeTestFails(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fe02/") {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer app.Close()
	doc := strings.Replace(extrasSpec(app.URL, "true"), "notifications:\n  - url: {env: HOOK_URL}\n    before: [switch-traffic]\n    after: [verify-updating]\n", "", 1)
	doc = strings.Replace(doc, "  - after: verify-updating\n    id: smoke-ok\n    message: Smoke tests look good?\n    prompt: true\n", "", 1)
	s, err := spec.Parse([]byte(doc), spec.WithLookupEnv(func(string) (string, bool) { return "x", true }))
	require.NoError(t, err)
	ff := fakefarm.New("fe01", "fe02", "fe03", "fe04")
	_, plan, err := s.BuildWith(t.Context(), spec.Drivers{LoadBalancer: func(string) drivers.LoadBalancer { return ff }, Services: ff, Platform: ff, Prober: ff})
	require.NoError(t, err)
	var report *farm.Report
	synctest.Test(t, func(t *testing.T) { report, err = plan.Run(t.Context()) })
	require.Error(t, err)
	assert.Equal(t, steps.VerifyUpdating, report.FailedStep)
	assert.Contains(t, err.Error(), "server fe02")
	assert.Contains(t, err.Error(), "smoke test orders: GET "+app.URL+"/fe02/health?deep=1 answered 503: want 200")
	assert.Equal(t, drivers.Serving, ff.MemberState("fe03"), "the Loaded group still serves")
}

func TestExtrasValidation(t *testing.T) {
	base := extrasSpec("https://app.example", "true")
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown step", "before: switch-traffic\n    message", "before: swtich-traffic\n    message", `approval before "swtich-traffic": want a step of the balanced plan`},
		{"both", "before: switch-traffic\n    message", "before: switch-traffic\n    after: publish\n    message", "want exactly one of before: <step> or after: <step>"},
		{"no message", "message: Switch traffic to v2?", "message: ''", "approval: no message"},
		{"command and prompt", "    prompt: true\n", "    prompt: true\n    command: [x]\n", "want exactly one of command"},
		{"bad path", "path: /health?deep=1", "path: health", `path "health": want a path starting with /`},
		{"bad status", "expect_status: 200", "expect_status: 42", "expect_status 42"},
		{"bad notification step", "after: [verify-updating]", "after: [verify]", `notification after "verify"`},
		{"notification url not set", "url: {env: HOOK_URL}", "url: {env: NOPE}", "environment variable NOPE is not set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(base, tt.old, tt.new, 1)
			require.NotEqual(t, base, doc)
			_, err := spec.Parse([]byte(doc), spec.WithLookupEnv(func(n string) (string, bool) {
				if n == "NOPE" {
					return "", false
				}
				return "https://hooks.example/x", true
			}))
			require.ErrorIs(t, err, spec.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	// The URL of a notification is a secret: never in an error.
	doc := base
	_, err := spec.Parse([]byte(doc), spec.WithLookupEnv(func(n string) (string, bool) { return "ftp://hooks.example/secret-token", true }))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "notification url: want an absolute https URL")
	assert.NotContains(t, err.Error(), "secret-token")
}
