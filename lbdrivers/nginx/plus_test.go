package nginx_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/lbtest"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx/nginxplustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var plusMembers = []nginx.Member{
	{Name: "fe1", Address: "10.0.0.1:80"},
	{Name: "fe2", Address: "10.0.0.2:80"},
	{Name: "fe3", Address: "[2001:db8::3]:8080"},
}

func plusFake(t *testing.T, cfg nginxplustest.Config) *nginxplustest.Server {
	t.Helper()
	if cfg.Upstreams == nil {
		cfg.Upstreams = map[string][]string{"backend": {"10.0.0.1:80", "10.0.0.2:80", "[2001:db8::3]:8080", "10.0.0.9:80"}}
	}
	s := nginxplustest.NewServer(cfg)
	t.Cleanup(s.Close)
	return s
}

func newPlus(t *testing.T, s *nginxplustest.Server, mutate ...func(*nginx.PlusConfig)) *nginx.Plus {
	t.Helper()
	cfg := nginx.PlusConfig{Endpoint: s.URL(), Upstream: "backend", Members: plusMembers}
	for _, m := range mutate {
		m(&cfg)
	}
	d, err := nginx.NewPlus(cfg)
	require.NoError(t, err)
	return d
}

func TestPlusConformance(t *testing.T) {
	var fake *nginxplustest.Server
	lbtest.Run(t, lbtest.Harness{
		New: func(t *testing.T) drivers.LoadBalancer {
			fake = plusFake(t, nginxplustest.Config{})
			return newPlus(t, fake)
		},
		Members: []string{"fe1", "fe2", "fe3"},
		Hold: func(t *testing.T, member string) func() {
			for _, m := range plusMembers {
				if m.Name == member {
					return fake.Hold("backend", m.Address)
				}
			}
			t.Fatalf("no member %s", member)
			return nil
		},
		UnknownChangesNothing: true,
	})
}

func TestPlusWireRequests(t *testing.T) {
	fake := plusFake(t, nginxplustest.Config{})
	d := newPlus(t, fake, func(c *nginx.PlusConfig) { c.APIVersion = 8 })
	require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe2"))
	require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe2"))
	require.NoError(t, d.SetState(t.Context(), drivers.Serving, "fe2"))
	want := []nginxplustest.Request{
		{Method: "GET", Path: "/api/"},
		{Method: "GET", Path: "/api/8/http/upstreams/backend/servers"},
		{Method: "PATCH", Path: "/api/8/http/upstreams/backend/servers/1", Body: `{"drain":true,"down":false}`},
		{Method: "GET", Path: "/api/8/http/upstreams/backend/servers"},
		{Method: "PATCH", Path: "/api/8/http/upstreams/backend/servers/1", Body: `{"down":true}`},
		{Method: "GET", Path: "/api/8/http/upstreams/backend/servers"},
		{Method: "PATCH", Path: "/api/8/http/upstreams/backend/servers/1", Body: `{"drain":false,"down":false}`},
	}
	assert.Equal(t, want, fake.Requests())
}

// TestPlusDrainedServerComesBack: drain and down are independent on NGINX
// Plus (nginx_api.yaml; nginx-plus-go-client reads a drained server back as
// down:false, drain:true), so Serving must clear drain too. With
// {"down":false} alone the server stayed draining.
func TestPlusDrainedServerComesBack(t *testing.T) {
	for _, path := range [][]drivers.MemberState{
		{drivers.Draining, drivers.Serving},
		{drivers.Draining, drivers.Out, drivers.Serving},
		{drivers.Out, drivers.Draining, drivers.Serving},
	} {
		t.Run(fmt.Sprint(path), func(t *testing.T) {
			fake := plusFake(t, nginxplustest.Config{})
			d := newPlus(t, fake)
			for _, st := range path {
				require.NoError(t, d.SetState(t.Context(), st, "fe2"))
				got, err := d.Status(t.Context(), "fe2")
				require.NoError(t, err)
				assert.Equal(t, st, got[0].State, "after %s", st)
			}
			p, _ := fake.Peer("backend", "10.0.0.2:80")
			assert.False(t, p.Down)
			assert.False(t, p.Drain, "the drain flag is cleared")
			assert.Equal(t, "up", p.State())
		})
	}
}

// TestPlusNegotiatesVersion: the driver reads GET /api/ and uses the
// highest version both sides speak, instead of assuming 9.
func TestPlusNegotiatesVersion(t *testing.T) {
	for _, tc := range []struct {
		name    string
		served  []int
		set     int
		want    string // path prefix used, or "" for an error
		errText string
	}{
		{name: "newest", served: []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, want: "/api/9/"},
		{name: "older plus", served: []int{1, 2, 3, 4, 5, 6, 7}, want: "/api/7/"},
		{name: "newer plus", served: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, want: "/api/9/"},
		{name: "unordered", served: []int{8, 4, 6}, want: "/api/8/"},
		{name: "set and served", served: []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, set: 6, want: "/api/6/"},
		{name: "too old", served: []int{1, 2, 3}, errText: "no usable API version: the server serves [1 2 3] (GET /api/), this driver speaks 4 to 9"},
		{name: "set not served", served: []int{1, 2, 3, 4, 5, 6, 7}, set: 8, errText: "API version 8 (PlusConfig.APIVersion, load_balancer.api_version in a spec) is not served: the server serves [1 2 3 4 5 6 7]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := plusFake(t, nginxplustest.Config{Versions: tc.served})
			d := newPlus(t, fake, func(c *nginx.PlusConfig) { c.APIVersion = tc.set })
			_, statusErr := d.Status(t.Context(), "fe1")
			setErr := d.SetState(t.Context(), drivers.Out, "fe1")
			if tc.want == "" {
				for _, err := range []error{statusErr, setErr} {
					require.Error(t, err)
					assert.ErrorIs(t, err, drivers.ErrUnimplemented)
					assert.False(t, drivers.IsRetryable(err))
					assert.ErrorContains(t, err, tc.errText)
				}
				for _, r := range fake.Requests() {
					assert.Equal(t, "/api/", r.Path, "nothing but the version list is read")
				}
				return
			}
			require.NoError(t, statusErr)
			require.NoError(t, setErr)
			reqs := fake.Requests()
			assert.Equal(t, "/api/", reqs[0].Path)
			for _, r := range reqs[1:] {
				assert.True(t, strings.HasPrefix(r.Path, tc.want), "%s %s", r.Method, r.Path)
			}
			n := 0
			for _, r := range reqs {
				if r.Path == "/api/" {
					n++
				}
			}
			assert.Equal(t, 1, n, "the version is negotiated once")
		})
	}
}

// TestPlusNegotiationRetried: a failed version read is not cached.
func TestPlusNegotiationRetried(t *testing.T) {
	fake := plusFake(t, nginxplustest.Config{})
	d := newPlus(t, fake)
	fake.Inject(fault.Fault{Op: "GET", Target: "/api/", Status: 503, Code: "Busy", Times: 1})
	_, err := d.Status(t.Context(), "fe1")
	assert.ErrorIs(t, err, drivers.ErrUnavailable)
	assert.ErrorContains(t, err, "read the API versions served")
	_, err = d.Status(t.Context(), "fe1")
	assert.NoError(t, err)
}

func TestPlusStatusMapping(t *testing.T) {
	fake := plusFake(t, nginxplustest.Config{})
	d := newPlus(t, fake)
	for _, tc := range []struct {
		health string
		state  drivers.MemberState
		h      drivers.Health
	}{
		{"up", drivers.Serving, drivers.Healthy},
		{"unhealthy", drivers.Serving, drivers.Unhealthy},
		{"unavail", drivers.Serving, drivers.Unhealthy},
		{"checking", drivers.Serving, drivers.HealthUnknown},
	} {
		require.True(t, fake.SetHealth("backend", "10.0.0.1:80", tc.health))
		require.True(t, fake.SetActive("backend", "10.0.0.1:80", 4))
		st, err := d.Status(t.Context(), "fe1")
		require.NoError(t, err)
		assert.Equal(t, drivers.MemberStatus{Member: "fe1", State: tc.state, Health: tc.h, ActiveConnections: 4, ConnectionsKnown: true}, st[0], tc.health)
	}
	// Without a member map, members are the upstream's addresses.
	byAddr, err := nginx.NewPlus(nginx.PlusConfig{Endpoint: fake.URL(), Upstream: "backend"})
	require.NoError(t, err)
	all, err := byAddr.Status(t.Context())
	require.NoError(t, err)
	require.Len(t, all, 4)
	assert.Equal(t, "10.0.0.9:80", all[3].Member)
	require.NoError(t, byAddr.SetState(t.Context(), drivers.Out, "10.0.0.9:80"))
	p, _ := fake.Peer("backend", "10.0.0.9:80")
	assert.True(t, p.Down)
	err = byAddr.SetState(t.Context(), drivers.Out, "fe1;")
	assert.ErrorIs(t, err, drivers.ErrNotFound)
}

func TestPlusErrorClasses(t *testing.T) {
	tests := []struct {
		status int
		code   string
		class  error
	}{
		{404, "UpstreamNotFound", drivers.ErrNotFound},
		{401, "Unauthorized", drivers.ErrPermissionDenied},
		{403, "Forbidden", drivers.ErrPermissionDenied},
		{405, "MethodDisabled", drivers.ErrPermissionDenied},
		{400, "UpstreamConfFormatError", drivers.ErrInvalidArgument},
		{429, "TooManyRequests", drivers.ErrUnavailable},
		{500, "InternalError", drivers.ErrUnavailable},
		{502, "BadGateway", drivers.ErrUnavailable},
		{409, "Conflict", nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			fake := plusFake(t, nginxplustest.Config{})
			d := newPlus(t, fake)
			fake.Inject(fault.Fault{Op: "PATCH", Status: tc.status, Code: tc.code, Times: 1})
			err := d.SetState(t.Context(), drivers.Out, "fe1")
			require.Error(t, err)
			assert.Equal(t, tc.class, drivers.Class(err), "%v", err)
			assert.Contains(t, err.Error(), tc.code, "the error carries the API's code")
			assert.Contains(t, err.Error(), "fe1")

			fake.Inject(fault.Fault{Op: "GET", Status: tc.status, Code: tc.code, Times: 1})
			_, err = d.Status(t.Context(), "fe1")
			assert.Equal(t, tc.class, drivers.Class(err), "%v", err)
		})
	}
}

func TestPlusPartialFailureIsNotRetryable(t *testing.T) {
	fake := plusFake(t, nginxplustest.Config{})
	d := newPlus(t, fake)
	fake.Inject(fault.Fault{Op: "PATCH", Target: "/servers/1", Status: 503, Code: "Busy", Times: 1})
	err := d.SetState(t.Context(), drivers.Out, "fe1", "fe2", "fe3")
	require.Error(t, err)
	assert.False(t, drivers.IsRetryable(err), "fe1 already changed: the call must not claim nothing happened: %v", err)
	assert.Contains(t, err.Error(), "1 member(s) already set")
	p, _ := fake.Peer("backend", "10.0.0.1:80")
	assert.True(t, p.Down)

	fake.Inject(fault.Fault{Op: "PATCH", Target: "/servers/0", Status: 503, Code: "Busy", Times: 1})
	err = d.SetState(t.Context(), drivers.Serving, "fe1", "fe2")
	assert.True(t, drivers.IsRetryable(err), "the first PATCH failed: nothing changed: %v", err)
}

func TestPlusUnknownServerChangesNothing(t *testing.T) {
	fake := plusFake(t, nginxplustest.Config{Upstreams: map[string][]string{"backend": {"10.0.0.1:80", "10.0.0.2:80"}}})
	d := newPlus(t, fake)
	err := d.SetState(t.Context(), drivers.Out, "fe1", "fe3")
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), "[2001:db8::3]:8080")
	p, _ := fake.Peer("backend", "10.0.0.1:80")
	assert.False(t, p.Down)
	for _, r := range fake.Requests() {
		assert.Equal(t, "GET", r.Method)
	}
}

func TestPlusAuthAndSecrets(t *testing.T) {
	const secret = "s3cr3t-Pa55"
	fake := plusFake(t, nginxplustest.Config{Username: "deploy", Password: secret})
	good := newPlus(t, fake, func(c *nginx.PlusConfig) { c.Username, c.Password = "deploy", drivers.NewSecret(secret) })
	require.NoError(t, good.SetState(t.Context(), drivers.Out, "fe1"))

	bad := newPlus(t, fake, func(c *nginx.PlusConfig) { c.Username, c.Password = "deploy", drivers.NewSecret("wrong-"+secret) })
	err := bad.SetState(t.Context(), drivers.Out, "fe1")
	assert.ErrorIs(t, err, drivers.ErrPermissionDenied)
	assert.NotContains(t, err.Error(), secret)

	_, err = nginx.NewPlus(nginx.PlusConfig{Endpoint: "http://deploy:" + secret + "@127.0.0.1:1/api", Upstream: "backend"})
	assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.NotContains(t, err.Error(), secret)
}

func TestPlusConnectionRefused(t *testing.T) {
	fake := plusFake(t, nginxplustest.Config{})
	d := newPlus(t, fake)
	fake.Close()
	err := d.SetState(t.Context(), drivers.Out, "fe1")
	assert.ErrorIs(t, err, drivers.ErrUnavailable)
	_, err = d.Status(t.Context())
	assert.ErrorIs(t, err, drivers.ErrUnavailable)
}

func TestPlusTimeout(t *testing.T) {
	fake := plusFake(t, nginxplustest.Config{})
	d := newPlus(t, fake)
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	err := d.SetState(ctx, drivers.Out, "fe1")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, drivers.IsRetryable(err))
}

func TestNewPlusRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]nginx.PlusConfig{
		"no endpoint":  {Upstream: "b"},
		"bad scheme":   {Endpoint: "ftp://h/api", Upstream: "b"},
		"query":        {Endpoint: "http://h/api?x=1", Upstream: "b"},
		"bad upstream": {Endpoint: "http://h/api", Upstream: "b/../x"},
		"bad version":  {Endpoint: "http://h/api", Upstream: "b", APIVersion: -1},
		"old version":  {Endpoint: "http://h/api", Upstream: "b", APIVersion: 3},
		"new version":  {Endpoint: "http://h/api", Upstream: "b", APIVersion: 10},
		"bad member":   {Endpoint: "http://h/api", Upstream: "b", Members: []nginx.Member{{Name: "fe 1", Address: "10.0.0.1:80"}}},
		"bad address":  {Endpoint: "http://h/api", Upstream: "b", Members: []nginx.Member{{Name: "fe1", Address: "10.0.0.1:80/x"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := nginx.NewPlus(cfg)
			assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
		})
	}
	_, err := nginx.NewPlus(nginx.PlusConfig{Endpoint: "https://lb.internal:8443/api/", Upstream: "frontends", HTTPClient: http.DefaultClient})
	assert.NoError(t, err)
}

func ExampleNewPlus() {
	d, err := nginx.NewPlus(nginx.PlusConfig{
		Endpoint: "https://lb.internal:8443/api", // the location with `api write=on;`
		Upstream: "frontends",
		Members:  []nginx.Member{{Name: "fe01", Address: "10.0.0.11:443"}, {Name: "fe02", Address: "10.0.0.12:443"}},
		Username: "deploy",
		Password: drivers.NewSecret("from-your-secret-store"),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%T\n", d)
	// Output: *nginx.Plus
}

func TestPlusStatusUnknownPeer(t *testing.T) {
	fake := plusFake(t, nginxplustest.Config{Upstreams: map[string][]string{"backend": {"10.0.0.1:80"}}})
	d := newPlus(t, fake)
	_, err := d.Status(t.Context(), "fe1", "fe2")
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	assert.ErrorContains(t, err, "10.0.0.2:80")
	_, err = d.Status(t.Context())
	assert.ErrorIs(t, err, drivers.ErrNotFound, "a configured member missing from the upstream is reported")

	other := newPlus(t, fake, func(c *nginx.PlusConfig) { c.Upstream = "missing" })
	_, err = other.Status(t.Context(), "fe1")
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	assert.ErrorContains(t, err, "UpstreamNotFound")
}

// badEndpointURLs hold secrets: a token as the user name (which
// url.URL.Redacted would print), a password, a password with a bad
// %-escape (url.Parse refuses it, quoting the whole URL in its error), a
// password holding '/' and '#', and a token in the query.
var badEndpointURLs = []struct{ name, url string }{
	{"token as user", "https://TOKEN-s3cr3t@lb.example:8443/"},
	{"user and password", "https://u:s3cr3t@lb.example:8443/"},
	{"bad escape in password", "https://u:pa%zzs3cr3t@lb.example:8443/"},
	{"bad escape with a query", "https://u:pa%zzs3cr3t@lb.example:8443/api?token=s3cr3t"},
	{"password holding / and #", "https://u:s3cr3t/#x@lb.example:8443/"},
	{"token in the query", "https://lb.example:8443/api?token=s3cr3t"},
}

// TestNewPlusNeverEchoesSecrets: every refused endpoint is named with its
// host but none of its secrets.
func TestNewPlusNeverEchoesSecrets(t *testing.T) {
	for _, tc := range badEndpointURLs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nginx.NewPlus(nginx.PlusConfig{Endpoint: tc.url, Upstream: "backend"})
			require.Error(t, err)
			assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
			assert.NotContains(t, err.Error(), "s3cr3t")
			assert.Contains(t, err.Error(), "lb.example:8443", "the host is still named")
		})
	}
}
