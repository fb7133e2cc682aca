package spec

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/balanced-deploy/balanced/steps"
)

// Approval is one approval gate: a step inserted before or after a step of
// the plan that waits until a command or a person approves.
//
//	approvals:
//	  - before: switch-traffic
//	    message: Switch traffic to the new release?
//	    command: [/usr/local/bin/change-approved, CHG-20417]   # exit 0 approves, 1 declines
//	  - after: verify-updating
//	    message: Smoke tests look good?
//	    prompt: true                                           # ask on the terminal
type Approval struct {
	// ID is the approval step's ID. Empty means "approve-before-<step>"
	// or "approve-after-<step>".
	ID string `yaml:"id" json:"id,omitempty"`
	// Before and After name the step (a step ID of the balanced plan) the
	// approval goes before or after: exactly one of them.
	Before string `yaml:"before" json:"before,omitempty"`
	After  string `yaml:"after" json:"after,omitempty"`
	// Message says what is being approved. Required.
	Message string `yaml:"message" json:"message"`
	// Command is run (no shell; the first element is the program, looked
	// up in PATH) with BALANCED_APPROVAL, BALANCED_MESSAGE and
	// BALANCED_RELEASE in its environment: exit status 0 approves, 1
	// declines, anything else is an error. Exactly one of Command and
	// Prompt.
	Command []string `yaml:"command" json:"command,omitempty"`
	// Prompt asks a person on the terminal (Drivers.Prompt; balancedctl
	// asks on its standard input).
	Prompt bool `yaml:"prompt" json:"prompt,omitempty"`
	// Timeout bounds the wait for the answer. Zero means no limit (the
	// step timeout, if any, still applies).
	Timeout Duration `yaml:"timeout" json:"timeout,omitzero"`
}

// SmokeTest is an HTTP check run against each Updating server, directly
// (bypassing the load balancer), before or after a step: by default after
// verify-updating, before the traffic moves.
//
//	smoke_tests:
//	  - name: orders-api
//	    path: /Orders/rest/Health/Check
//	    expect_status: 200
//	    expect_body: '"status":"ok"'
//	    timeout: 10s
type SmokeTest struct {
	// Name names the test in the runbook and in errors. Required.
	Name string `yaml:"name" json:"name"`
	// Before and After name the step it runs before or after; at most
	// one. Neither means after verify-updating.
	Before string `yaml:"before" json:"before,omitempty"`
	After  string `yaml:"after" json:"after,omitempty"`
	// Path is requested on each Updating server's probe URL (the
	// server's probe_url, or https://<address>/). Required; starts with /.
	Path string `yaml:"path" json:"path"`
	// Host is the Host header; empty means the probe block's host, else
	// the URL's.
	Host string `yaml:"host" json:"host,omitempty"`
	// ExpectStatus is the status wanted. Zero means 200.
	ExpectStatus int `yaml:"expect_status" json:"expect_status,omitempty"`
	// ExpectBody is a substring the body must hold. Empty means any body.
	ExpectBody string `yaml:"expect_body" json:"expect_body,omitempty"`
	// Timeout bounds each request. Zero means 10s.
	Timeout Duration `yaml:"timeout" json:"timeout,omitzero"`
}

// Notification is a webhook told, by a JSON POST (progress.Webhook), when
// the run starts and ends and when chosen steps start or finish.
//
//	notifications:
//	  - url: {env: DEPLOY_WEBHOOK_URL}     # a secret: a chat webhook URL is its own credential
//	    before: [switch-traffic]
//	    after: [verify-updating, restore-traffic]
type Notification struct {
	// URL is the webhook's URL, a secret like a password. Required.
	URL Secret `yaml:"url" json:"url"`
	// Before and After list the steps whose start, or end, is notified.
	Before []string `yaml:"before" json:"before,omitempty"`
	After  []string `yaml:"after" json:"after,omitempty"`
	// Run notifies the run's start and end. Empty means true.
	Run *bool `yaml:"run" json:"run,omitempty"`
	// Timeout bounds each POST. Zero means progress.DefaultWebhookTimeout.
	Timeout Duration `yaml:"timeout" json:"timeout,omitzero"`
}

// defaultSmokeStep is where a smoke test without before or after runs.
const defaultSmokeStep = steps.VerifyUpdating

// defaultSmokeTimeout bounds a smoke-test request without a timeout.
const defaultSmokeTimeout = 10 * time.Second

// approvalID is the approval's step ID.
func (a Approval) approvalID() string {
	if a.ID != "" {
		return a.ID
	}
	if a.Before != "" {
		return "approve-before-" + a.Before
	}
	return "approve-after-" + a.After
}

// extras checks the approvals, smoke tests and notifications.
func (v *validator) extras() {
	s := v.spec
	known := steps.IDs()
	step := func(path, key, id string) {
		if !slices.Contains(known, id) {
			v.errorf(path, "%s %q: want a step of the balanced plan: %s", key, id, strings.Join(known, ", "))
		}
	}
	ids := map[string]bool{}
	for i, a := range s.Approvals {
		path := fmt.Sprintf("$.approvals[%d]", i)
		switch {
		case (a.Before == "") == (a.After == ""):
			v.errorf(path, "approval: want exactly one of before: <step> or after: <step>")
		case a.Before != "":
			step(path+".before", "approval before", a.Before)
		default:
			step(path+".after", "approval after", a.After)
		}
		if strings.TrimSpace(a.Message) == "" {
			v.errorf(path, "approval: no message: want what is being approved")
		}
		switch {
		case a.Prompt == (len(a.Command) > 0):
			v.errorf(path, "approval: want exactly one of command: [program, args...] or prompt: true")
		case len(a.Command) > 0 && strings.TrimSpace(a.Command[0]) == "":
			v.errorf(path+".command", "approval command: the program is empty")
		}
		id := a.approvalID()
		if ids[id] || slices.Contains(known, id) {
			v.errorf(path, "approval id %q is used twice or is a step of the plan: want a unique id", id)
		}
		ids[id] = true
	}
	names := map[string]bool{}
	for i, t := range s.SmokeTests {
		path := fmt.Sprintf("$.smoke_tests[%d]", i)
		if t.Name == "" {
			v.errorf(path, "smoke test: no name")
		} else if names[t.Name] {
			v.errorf(path+".name", "smoke test %q is listed twice: want unique names", t.Name)
		}
		names[t.Name] = true
		switch {
		case t.Before != "" && t.After != "":
			v.errorf(path, "smoke test %s: want at most one of before and after", t.Name)
		case t.Before != "":
			step(path+".before", "smoke test before", t.Before)
		case t.After != "":
			step(path+".after", "smoke test after", t.After)
		}
		if !strings.HasPrefix(t.Path, "/") {
			v.errorf(path+".path", "smoke test %s: path %q: want a path starting with /", t.Name, t.Path)
		} else if u, err := url.Parse(t.Path); err != nil || u.Host != "" || u.User != nil {
			v.errorf(path+".path", "smoke test %s: path %q: want a path and query only", t.Name, t.Path)
		}
		if t.ExpectStatus != 0 && (t.ExpectStatus < 100 || t.ExpectStatus > 599) {
			v.errorf(path+".expect_status", "smoke test %s: expect_status %d: want an HTTP status, 100 to 599", t.Name, t.ExpectStatus)
		}
		if strings.ContainsAny(t.Host, " /\r\n") {
			v.errorf(path+".host", "smoke test %s: host %q: want a host name", t.Name, t.Host)
		}
	}
	for i := range s.Notifications {
		n := &s.Notifications[i]
		path := fmt.Sprintf("$.notifications[%d]", i)
		v.secret(path+".url", &n.URL)
		if !n.URL.Value.IsZero() && !n.URL.Unresolved {
			u, err := url.Parse(n.URL.Value.Reveal())
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				v.errorf(path+".url", "notification url: want an absolute https URL (its value is not shown: it is a secret)")
			} else if u.Scheme == "http" {
				v.warnf(path+".url", "notification url is plain http: the webhook's token travels in clear")
			}
		}
		for j, id := range n.Before {
			step(fmt.Sprintf("%s.before[%d]", path, j), "notification before", id)
		}
		for j, id := range n.After {
			step(fmt.Sprintf("%s.after[%d]", path, j), "notification after", id)
		}
	}
}

// addExtras inserts the approvals and hooks the smoke tests into plan.
func (s *Spec) addExtras(plan *farm.Plan, d Drivers, log *slog.Logger) error {
	for _, a := range s.Approvals {
		approve, err := s.approver(a, d)
		if err != nil {
			return err
		}
		st := steps.Approval(a.approvalID(), a.Message, approve)
		if a.Before != "" {
			err = plan.InsertBefore(a.Before, st)
		} else {
			err = plan.InsertAfter(a.After, st)
		}
		if err != nil {
			return fmt.Errorf("approval %s: %w", a.approvalID(), err)
		}
	}
	if len(s.SmokeTests) == 0 {
		return nil
	}
	client, err := s.smokeClient()
	if err != nil {
		return err
	}
	for _, t := range s.SmokeTests {
		h := farm.Hook{Name: "smoke test " + t.Name, Func: s.smokeHook(t, client, log)}
		switch {
		case t.Before != "":
			err = plan.Before(t.Before, h)
		case t.After != "":
			err = plan.After(t.After, h)
		default:
			err = plan.After(defaultSmokeStep, h)
		}
		if err != nil {
			return fmt.Errorf("smoke test %s: %w", t.Name, err)
		}
	}
	return nil
}

// approver returns the function that decides approval a.
func (s *Spec) approver(a Approval, d Drivers) (steps.Approver, error) {
	timeout := a.Timeout.D()
	bound := func(ctx context.Context) (context.Context, context.CancelFunc) {
		if timeout > 0 {
			return context.WithTimeout(ctx, timeout)
		}
		return context.WithCancel(ctx)
	}
	if a.Prompt {
		if d.Prompt == nil {
			return nil, fmt.Errorf("approval %s asks on the terminal (prompt: true), and this program gives no prompt (Drivers.Prompt): use command instead", a.approvalID())
		}
		return func(ctx context.Context, req steps.ApprovalRequest) (bool, error) {
			ctx, cancel := bound(ctx)
			defer cancel()
			return d.Prompt(ctx, req)
		}, nil
	}
	cmd := slices.Clone(a.Command)
	release := s.Release.Version
	return func(ctx context.Context, req steps.ApprovalRequest) (bool, error) {
		ctx, cancel := bound(ctx)
		defer cancel()
		c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
		c.Env = append(os.Environ(), "BALANCED_APPROVAL="+req.Step, "BALANCED_MESSAGE="+req.Message, "BALANCED_RELEASE="+release)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		err := c.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return true, nil
		case ctx.Err() != nil:
			return false, fmt.Errorf("approval command %s: %w", cmd[0], ctx.Err())
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			return false, nil
		}
		return false, fmt.Errorf("approval command %s: %w%s", cmd[0], err, lastLine(out.Bytes()))
	}, nil
}

// lastLine is ": <the last line of out>", or "" when out is empty.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" {
		return ""
	}
	if len(last) > 200 {
		last = last[:200] + "..."
	}
	return ": " + last
}

// smokeClient is the HTTP client of the smoke tests, with the probe block's
// TLS settings (CA, server name, verification).
func (s *Spec) smokeClient() (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if p := s.Probe; p != nil {
		tr.TLSClientConfig.ServerName = p.ServerName
		tr.TLSClientConfig.InsecureSkipVerify = p.Insecure //nolint:gosec // the spec's explicit choice, warned about at load
		if p.CACert != "" {
			b, err := readPEM(p.CACert)
			if err != nil {
				return nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("probe.ca_cert %s: no PEM certificate found", p.CACert)
			}
			tr.TLSClientConfig.RootCAs = pool
		}
	}
	// A smoke test follows no redirect: a 302 to a login page is a
	// result to check, not a success.
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

// smokeHook runs smoke test t on each Updating server not excluded from
// the run, each an action of the step (retried on transient errors).
func (s *Spec) smokeHook(t SmokeTest, client *http.Client, log *slog.Logger) func(ctx context.Context, r *farm.Run) error {
	want := t.ExpectStatus
	if want == 0 {
		want = http.StatusOK
	}
	timeout := t.Timeout.D()
	if timeout == 0 {
		timeout = defaultSmokeTimeout
	}
	host := t.Host
	if host == "" && s.Probe != nil {
		host = s.Probe.Host
	}
	return func(ctx context.Context, r *farm.Run) error {
		var servers []farm.Server
		for _, z := range r.Farm().Zones() {
			servers = append(servers, z.Updating.Servers...)
		}
		// No connection outlives the hook: the servers are about to take
		// traffic, and nothing is kept open on them.
		defer client.CloseIdleConnections()
		return r.ForEachServer(ctx, servers, func(ctx context.Context, sv farm.Server) error {
			if err := smoke(ctx, client, sv, t, host, want, timeout); err != nil {
				return fmt.Errorf("smoke test %s: %w", t.Name, err)
			}
			log.Debug("smoke test passed", "test", t.Name, "server", sv.Name)
			return nil
		})
	}
}

// urlReason is the reason of a *url.Error without the URL it quotes, which
// may carry a secret (a probe URL's token); other errors are kept.
func urlReason(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// smoke runs one request of a smoke test on one server.
func smoke(ctx context.Context, client *http.Client, sv farm.Server, t SmokeTest, host string, want int, timeout time.Duration) error {
	base := sv.ProbeURL
	if base == "" {
		base = "https://" + sv.Target().Host() + "/"
	}
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("%w: probe URL of %s: %w", drivers.ErrInvalidArgument, sv.Name, urlReason(err))
	}
	ref, err := url.Parse(t.Path)
	if err != nil {
		return fmt.Errorf("%w: path %q: %w", drivers.ErrInvalidArgument, t.Path, urlReason(err))
	}
	u = u.JoinPath(ref.Path)
	u.RawQuery = ref.RawQuery
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%w: smoke test %s of %s: %w", drivers.ErrInvalidArgument, t.Name, sv.Name, urlReason(err))
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("GET %s: no answer within %s: %w", u.Redacted(), timeout, drivers.ErrUnavailable)
		}
		return fmt.Errorf("GET %s: %w: %w", u.Redacted(), drivers.ErrUnavailable, unwrapURLError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s answered %d: want %d", u.Redacted(), resp.StatusCode, want)
	}
	if t.ExpectBody != "" && !bytes.Contains(body, []byte(t.ExpectBody)) {
		return fmt.Errorf("GET %s: the body (%d bytes) does not hold %q", u.Redacted(), len(body), t.ExpectBody)
	}
	return nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// webhooks returns the notification observers.
func (s *Spec) webhooks(log *slog.Logger) ([]event.Observer, error) {
	var out []event.Observer
	for i, n := range s.Notifications {
		if n.URL.Unresolved {
			continue // loaded WithoutSecrets: a plan to print, not to run
		}
		before, after := slices.Clone(n.Before), slices.Clone(n.After)
		run := n.Run == nil || *n.Run
		wh, err := progress.NewWebhook(progress.WebhookConfig{
			URL: n.URL.Value, Timeout: n.Timeout.D(), Logger: log, Label: "release " + s.Release.Version,
			Notify: func(e event.Event) bool {
				switch e.Kind {
				case event.RunStarted, event.RunFinished:
					return run
				case event.StepStarted:
					return e.Total > 0 && slices.Contains(before, e.Step)
				case event.StepFinished:
					return e.Total > 0 && slices.Contains(after, e.Step)
				}
				return false
			},
		})
		if err != nil {
			return nil, fmt.Errorf("notifications[%d]: %w", i, err)
		}
		out = append(out, wh)
	}
	return out, nil
}
