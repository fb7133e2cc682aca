package canary

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/httpprobe"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx/nginxplustest"
)

// A driver under test: calls builds it with its canary for one endpoint and
// makes every call a run would make, returning what they returned (errors,
// and results that carry text, such as a probe's Detail).
type driverUnderTest struct {
	name string
	// endpoint turns a server's URL into what the driver is configured
	// with (a base URL, an API root, a WinRM host:port).
	endpoint func(serverURL string) string
	calls    func(ctx context.Context, t *testing.T, endpoint string, hc *http.Client, log *slog.Logger) (errs []error, results []any)
	// refusing starts the driver's fake set to refuse the driver's
	// credential, and returns its URL and an HTTP client for it.
	refusing func(t *testing.T) (url string, hc *http.Client)
	// onWire is false for the AWS key, which SigV4 never sends.
	onWire bool
	// soap makes the echo answer as WinRM does: SOAP 1.2 content, errors
	// as WS-Management faults.
	soap bool
}

var wantState = drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}

var underTest = []driverUnderTest{
	{
		name:     "winrm",
		endpoint: func(u string) string { return strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://") },
		calls: func(ctx context.Context, t *testing.T, addr string, _ *http.Client, log *slog.Logger) ([]error, []any) {
			d, err := winrm.New(winrm.Config{PlainHTTP: true, Auth: winrm.AuthBasic, Username: winrmUser, Password: drivers.NewSecret(winrmPassword), Timeout: 5 * time.Second, Logger: log})
			require.NoError(t, err)
			tg := drivers.Target{Name: "fe01", Address: addr}
			_, e1 := d.ServiceState(ctx, tg, drivers.SchedulerService)
			e2 := d.StopService(ctx, tg, drivers.SchedulerService)
			e3 := d.RestoreService(ctx, tg, drivers.SchedulerService, wantState)
			return []error{e1, e2, e3}, []any{d}
		},
		refusing: func(t *testing.T) (string, *http.Client) {
			// Basic, enabled on purpose, so that the password is on the wire.
			srv := winrmtest.NewServer(winrmtest.Config{Host: "fe01", Username: winrmUser, Password: "not-the-canary", AllowBasic: true, AllowUnencrypted: true})
			t.Cleanup(srv.Close)
			return "http://" + srv.Addr(), nil
		},
		onWire: true,
		soap:   true,
	},
	{
		name:     "lifetime",
		endpoint: func(u string) string { return u + lifetimetest.BasePath },
		calls: func(ctx context.Context, t *testing.T, base string, hc *http.Client, log *slog.Logger) ([]error, []any) {
			c, err := lifetime.New(lifetime.Config{
				BaseURL: base, Token: drivers.NewSecret(lifetimeToken), HTTPClient: hc,
				SourceEnvironment: "Quality", TargetEnvironment: "Production", TagVersions: true,
				Timeout: 5 * time.Second, CleanupTimeout: time.Second,
				Logger: log,
			})
			require.NoError(t, err)
			rel := drivers.Release{Version: "v2", Applications: []drivers.Application{{Name: "Portal", Version: "v2"}}}
			id, e1 := c.StartDeployment(ctx, rel)
			if id == "" {
				id = "dep-1"
			}
			st, e2 := c.DeploymentStatus(ctx, id)
			got, e3 := c.DeployedRelease(ctx)
			e4 := c.ContinueDeployment(ctx, id)
			e5 := c.AbortDeployment(ctx, id)
			found, _, e6 := c.FindDeployment(ctx, rel)
			return []error{e1, e2, e3, e4, e5, e6}, []any{c, st, got, found}
		},
		refusing: func(t *testing.T) (string, *http.Client) {
			srv := lifetimetest.NewServer(lifetimetest.Config{Token: "not-the-canary",
				Applications: []lifetimetest.Application{{Name: "Portal", Running: map[string]string{"Quality": "v2", "Production": "v1"}}}})
			t.Cleanup(srv.Close)
			return strings.TrimSuffix(srv.URL, lifetimetest.BasePath), nil
		},
		onWire: true,
	},
	{
		name:     "f5",
		endpoint: func(u string) string { return u },
		calls: func(ctx context.Context, t *testing.T, base string, hc *http.Client, log *slog.Logger) ([]error, []any) {
			d, err := f5.New(f5.Config{BaseURL: base, Username: f5User, Password: drivers.NewSecret(f5Password),
				Pool: f5test.DefaultPool, HTTPClient: hc, Timeout: 5 * time.Second, TokenTimeout: time.Hour, Logger: log})
			require.NoError(t, err)
			_, e1 := d.Status(ctx, "fe01:80")
			_, e2 := d.Status(ctx)
			e3 := d.SetState(ctx, drivers.Out, "fe01:80")
			e4 := d.SetState(ctx, drivers.Draining, "fe01:80", "fe02:80")
			e5 := d.Switch(ctx, []string{"fe01:80"}, []string{"fe02:80"})
			return []error{e1, e2, e3, e4, e5}, []any{d}
		},
		refusing: func(t *testing.T) (string, *http.Client) {
			srv := httptest.NewTLSServer(f5test.New(f5test.Config{Username: f5User, Password: "not-the-canary", Store: f5test.NewMemStore("fe01:80", "fe02:80")}))
			t.Cleanup(srv.Close)
			return srv.URL, srv.Client()
		},
		onWire: true,
	},
	{
		name:     "nginx plus",
		endpoint: func(u string) string { return u + "/api" },
		calls: func(ctx context.Context, t *testing.T, ep string, hc *http.Client, log *slog.Logger) ([]error, []any) {
			d, err := nginx.NewPlus(nginx.PlusConfig{Endpoint: ep, Upstream: "backend", HTTPClient: hc,
				Username: nginxUser, Password: drivers.NewSecret(nginxPassword), Logger: log})
			require.NoError(t, err)
			_, e1 := d.Status(ctx, "10.0.0.1:80")
			_, e2 := d.Status(ctx)
			e3 := d.SetState(ctx, drivers.Draining, "10.0.0.1:80")
			return []error{e1, e2, e3}, []any{d}
		},
		refusing: func(t *testing.T) (string, *http.Client) {
			srv := nginxplustest.NewServer(nginxplustest.Config{Upstreams: map[string][]string{"backend": {"10.0.0.1:80"}},
				Username: nginxUser, Password: "not-the-canary"})
			t.Cleanup(srv.Close)
			return strings.TrimSuffix(srv.URL(), "/api"), nil
		},
		onWire: true,
	},
	{
		name:     "awsalb",
		endpoint: func(u string) string { return u },
		calls: func(ctx context.Context, t *testing.T, ep string, hc *http.Client, log *slog.Logger) ([]error, []any) {
			d, err := awsalb.New(ctx, awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Logger: log,
				LoadOptions: albOptions(ep, hc)})
			require.NoError(t, err)
			_, e1 := d.Status(ctx, "i-0123456789abcdef0")
			_, e2 := d.Status(ctx)
			e3 := d.SetState(ctx, drivers.Out, "10.0.0.1:80")
			_, e4 := d.DeregistrationDelay(ctx)
			return []error{e1, e2, e3, e4}, []any{d}
		},
		refusing: func(t *testing.T) (string, *http.Client) {
			fake := albtest.New(albtest.Config{Store: albtest.NewMemStore(albtest.MemConfig{Targets: []string{"10.0.0.1"}})})
			fake.Inject(fault.Fault{Code: "InvalidClientTokenId", Status: http.StatusForbidden})
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			return srv.URL, nil
		},
	},
	{
		name: "httpprobe",
		endpoint: func(u string) string {
			return strings.Replace(u, "://", "://"+probeUser+":"+probePassword+"@", 1) + "/"
		},
		calls: func(ctx context.Context, t *testing.T, u string, hc *http.Client, log *slog.Logger) ([]error, []any) {
			p, err := httpprobe.New(httpprobe.Config{Path: "health?x=1", Timeout: 5 * time.Second, HTTPClient: hc, Logger: log})
			require.NoError(t, err)
			res, e1 := p.Probe(ctx, drivers.Target{Name: "fe01", URL: u})
			return []error{e1}, []any{p, res}
		},
		refusing: func(t *testing.T) (string, *http.Client) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("WWW-Authenticate", `Basic realm="app"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
			}))
			t.Cleanup(srv.Close)
			return srv.URL, nil
		},
		onWire: true,
	},
}

// albOptions configures the AWS SDK as a deployment would: static
// credentials holding the canary secret key, pointed at endpoint.
func albOptions(endpoint string, hc *http.Client) []func(*config.LoadOptions) error {
	opts := []func(*config.LoadOptions) error{
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(awsKeyID, awsSecretKey, "")),
		config.WithBaseEndpoint(endpoint),
		config.WithRetryMaxAttempts(1),
		config.WithSharedConfigFiles([]string{}), config.WithSharedCredentialsFiles([]string{}),
	}
	if hc != nil {
		opts = append(opts, config.WithHTTPClient(hc))
	}
	return opts
}

// echo is a server that fails every request and echoes the credentials it
// received back in its answer, as a misbehaving device or proxy might: the
// Authorization header, the decoded Basic credentials, the F5 token header
// and the request body (an F5 login carries the password there). The body
// takes the error shapes of LifeTime, iControl REST and NGINX Plus at once.
type echo struct {
	status int
	soap   bool
	mu     sync.Mutex
	seen   strings.Builder
}

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	user, pass, _ := r.BasicAuth()
	said := fmt.Sprintf("you sent authorization=%q user=%q password=%q token=%q url=%q body=%q",
		r.Header.Get("Authorization"), user, pass, r.Header.Get("X-F5-Auth-Token"), r.URL.String(), body)
	e.mu.Lock()
	e.seen.WriteString(said + "\n")
	e.mu.Unlock()
	if e.soap {
		w.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
		if e.status == http.StatusOK {
			fmt.Fprintf(w, "<s:Envelope><not-xml %s", said)
			return
		}
		var text strings.Builder
		_ = xml.EscapeText(&text, []byte(said))
		w.WriteHeader(e.status)
		fmt.Fprintf(w, wsmanFault, text.String())
		return
	}
	if e.status == http.StatusOK { // garbage: the right status, nonsense content
		w.Header().Set("Content-Type", "application/json")
		// The version header a probe reads is nonsense too, but not the
		// echo: a version is what the application says it runs, which a
		// prober reports as it is.
		w.Header().Set("X-App-Version", "{{not a version")
		fmt.Fprintf(w, "\x00<<not what you expected>> %s {{", said)
		return
	}
	doc, _ := json.Marshal(map[string]any{
		"Errors": []string{said}, "StatusCode": e.status, // LifeTime
		"code": e.status, "message": said, // iControl REST
		"error": map[string]any{"status": e.status, "text": said, "code": "Echo"}, // NGINX Plus
	})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_, _ = w.Write(doc) // the client may hang up first: nothing to report to it

}

// wsmanFault is a WS-Management fault as WinRM sends it with a 500, its
// reason text to be filled in.
const wsmanFault = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd">` +
	`<s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:InternalError</s:Value></s:Subcode></s:Code>` +
	`<s:Reason><s:Text xml:lang="en-US">%s</s:Text></s:Reason>` +
	`<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858770" Machine="fe01"><f:Message>%[1]s</f:Message></f:WSManFault></s:Detail>` +
	`</s:Fault></s:Body></s:Envelope>`

func (e *echo) received() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seen.String()
}

// closedURL returns the URL of a loopback port nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

// TestCanaryFailurePaths points each driver, configured with its canary, at
// its fake refusing the credential, at servers answering 5xx or garbage that
// echo the credential back, and at a closed loopback port: no returned
// error (in any fmt rendering), result or log line may hold a canary.
func TestCanaryFailurePaths(t *testing.T) {
	isolateAWS(t)
	targets := []struct {
		name  string
		start func(t *testing.T, d driverUnderTest) (url string, hc *http.Client, e *echo)
	}{
		{"credentials refused", func(t *testing.T, d driverUnderTest) (string, *http.Client, *echo) {
			u, hc := d.refusing(t)
			return u, hc, nil
		}},
		{"5xx echoing the credentials", func(t *testing.T, d driverUnderTest) (string, *http.Client, *echo) {
			e := &echo{status: http.StatusInternalServerError, soap: d.soap}
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)
			return srv.URL, nil, e
		}},
		{"503 echoing the credentials", func(t *testing.T, d driverUnderTest) (string, *http.Client, *echo) {
			e := &echo{status: http.StatusServiceUnavailable, soap: d.soap}
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)
			return srv.URL, nil, e
		}},
		{"garbage echoing the credentials", func(t *testing.T, d driverUnderTest) (string, *http.Client, *echo) {
			e := &echo{status: http.StatusOK, soap: d.soap}
			srv := httptest.NewServer(e)
			t.Cleanup(srv.Close)
			return srv.URL, nil, e
		}},
		{"closed port", func(t *testing.T, _ driverUnderTest) (string, *http.Client, *echo) {
			return closedURL(t), nil, nil
		}},
	}
	for _, d := range underTest {
		for _, tg := range targets {
			t.Run(d.name+"/"+tg.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
				defer cancel()
				u, hc, e := tg.start(t, d)
				log := newLogs()
				errs, results := d.calls(ctx, t, d.endpoint(u), hc, log.logger)
				out := &sink{}
				failed := 0
				for i, err := range errs {
					if err != nil {
						failed++
					}
					out.addErr(fmt.Sprintf("call %d", i+1), err)
				}
				for i, r := range results {
					out.add(fmt.Sprintf("result %d %%+v", i+1), fmt.Sprintf("%+v", r))
					out.add(fmt.Sprintf("result %d %%#v", i+1), fmt.Sprintf("%#v", r))
				}
				out.add("slog JSON", log.json.String())
				out.add("slog text", log.text.String())
				out.check(t)
				t.Logf("errors: %v", errs)
				switch {
				case d.name == "httpprobe" && tg.name != "closed port":
					// An answer, however bad, is a result, not an error.
					assert.NotEmpty(t, results, "probe result")
				case strings.HasPrefix(tg.name, "garbage"):
					// A command answered 200 may well have succeeded.
					assert.Positive(t, failed, "some calls must fail: %v", errs)
				default:
					assert.Equal(t, len(errs), failed, "every call must fail: %v", errs)
				}
				if tg.name == "credentials refused" && d.name != "httpprobe" {
					for _, err := range errs {
						assert.ErrorIs(t, err, drivers.ErrPermissionDenied, "the fake must have refused the credential")
					}
				}
				if e != nil && d.onWire {
					assert.NotEmpty(t, leak(e.received()), "control: the server must have received the canary, so its echo carried it")
				}
			})
		}
	}
}
