package nginxplustest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx/nginxplustest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func call(t *testing.T, method, url, body string) (int, map[string]any, []any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var obj map[string]any
	var arr []any
	if json.Unmarshal(data, &obj) != nil {
		require.NoError(t, json.Unmarshal(data, &arr), "body %s", data)
	}
	return resp.StatusCode, obj, arr
}

func peerState(t *testing.T, base, addr string) map[string]any {
	t.Helper()
	code, up, _ := call(t, "GET", base+"/9/http/upstreams/backend", "")
	require.Equal(t, 200, code)
	for _, p := range up["peers"].([]any) {
		if p.(map[string]any)["server"] == addr {
			return p.(map[string]any)
		}
	}
	t.Fatalf("no peer %s", addr)
	return nil
}

func TestDocumentedShapes(t *testing.T) {
	s := nginxplustest.NewServer(nginxplustest.Config{Upstreams: map[string][]string{"backend": {"10.0.0.1:80", "10.0.0.2:80"}}})
	defer s.Close()
	base := s.URL()

	code, _, versions := call(t, "GET", base+"/", "")
	assert.Equal(t, 200, code)
	assert.Len(t, versions, 9)

	code, _, servers := call(t, "GET", base+"/9/http/upstreams/backend/servers", "")
	require.Equal(t, 200, code)
	require.Len(t, servers, 2)
	first := servers[0].(map[string]any)
	assert.Equal(t, float64(0), first["id"])
	assert.Equal(t, "10.0.0.1:80", first["server"])
	assert.Equal(t, false, first["down"])

	p := peerState(t, base, "10.0.0.2:80")
	assert.Equal(t, "up", p["state"])
	assert.Equal(t, float64(0), p["active"])
	for _, k := range []string{"id", "server", "name", "backup", "weight", "requests", "responses", "health_checks"} {
		assert.Contains(t, p, k)
	}

	code, body, _ := call(t, "PATCH", base+"/9/http/upstreams/backend/servers/1", `{"drain":true}`)
	require.Equal(t, 200, code)
	assert.Equal(t, true, body["drain"])
	assert.Equal(t, "draining", peerState(t, base, "10.0.0.2:80")["state"])
	call(t, "PATCH", base+"/9/http/upstreams/backend/servers/1", `{"down":true}`)
	assert.Equal(t, "down", peerState(t, base, "10.0.0.2:80")["state"])
	call(t, "PATCH", base+"/9/http/upstreams/backend/servers/1", `{"drain":false,"down":false}`)
	assert.Equal(t, "up", peerState(t, base, "10.0.0.2:80")["state"])

	release := s.Hold("backend", "10.0.0.2:80")
	assert.Equal(t, float64(1), peerState(t, base, "10.0.0.2:80")["active"])
	release()
	release()
	assert.Equal(t, float64(0), peerState(t, base, "10.0.0.2:80")["active"], "release is idempotent")
	require.True(t, s.SetActive("backend", "10.0.0.1:80", 7))
	assert.Equal(t, float64(7), peerState(t, base, "10.0.0.1:80")["active"])
	require.True(t, s.SetHealth("backend", "10.0.0.1:80", "unhealthy"))
	assert.Equal(t, "unhealthy", peerState(t, base, "10.0.0.1:80")["state"])

	code, created, _ := call(t, "POST", base+"/9/http/upstreams/backend/servers", `{"server":"10.0.0.3:80","down":true}`)
	require.Equal(t, 201, code)
	assert.Equal(t, float64(2), created["id"])
	code, _, left := call(t, "DELETE", base+"/9/http/upstreams/backend/servers/2", "")
	assert.Equal(t, 200, code)
	assert.Len(t, left, 2)

	reqs := s.Requests()
	require.NotEmpty(t, reqs)
	assert.Equal(t, nginxplustest.Request{Method: "PATCH", Path: "/api/9/http/upstreams/backend/servers/1", Body: `{"drain":true}`}, reqs[3])
}

func TestErrors(t *testing.T) {
	s := nginxplustest.NewServer(nginxplustest.Config{Upstreams: map[string][]string{"backend": {"10.0.0.1:80"}}})
	defer s.Close()
	base := s.URL()
	tests := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/9/http/upstreams/nope", "", 404, "UpstreamNotFound"},
		{"PATCH", "/9/http/upstreams/backend/servers/9", `{"down":true}`, 404, "UpstreamServerNotFound"},
		{"PATCH", "/9/http/upstreams/backend/servers/x", `{"down":true}`, 400, "UpstreamBadServerId"},
		{"PATCH", "/9/http/upstreams/backend/servers/0", `{"down":"yes"}`, 400, "UpstreamConfFormatError"},
		{"PATCH", "/9/http/upstreams/backend/servers/0", `{"id":3}`, 400, "UpstreamConfFormatError"},
		{"PATCH", "/9/http/upstreams/backend/servers/0", `{"bogus":1}`, 400, "UpstreamConfFormatError"},
		{"POST", "/9/http/upstreams/backend/servers", `{"server":"10.0.0.5:80","drain":true}`, 400, "UpstreamConfFormatError"},
		{"GET", "/99/http/upstreams", "", 404, "UnknownVersion"},
		{"PUT", "/9/http/upstreams/backend/servers/0", "{}", 405, "MethodNotSupported"},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path+tc.body, func(t *testing.T) {
			code, body, _ := call(t, tc.method, base+tc.path, tc.body)
			assert.Equal(t, tc.status, code)
			e := body["error"].(map[string]any)
			assert.Equal(t, float64(tc.status), e["status"])
			assert.Equal(t, tc.code, e["code"])
			assert.NotEmpty(t, e["text"])
			assert.NotEmpty(t, body["request_id"])
			assert.NotEmpty(t, body["href"])
		})
	}

	s.Inject(fault.Fault{Op: "PATCH", Target: "/servers/0", Status: 503, Code: "Injected", Times: 2})
	for range 2 {
		code, _, _ := call(t, "PATCH", base+"/9/http/upstreams/backend/servers/0", `{"down":true}`)
		assert.Equal(t, 503, code)
	}
	code, _, _ := call(t, "PATCH", base+"/9/http/upstreams/backend/servers/0", `{"down":true}`)
	assert.Equal(t, 200, code, "the fault is spent after two requests")
}

func TestReadOnlyAndAuth(t *testing.T) {
	ro := nginxplustest.NewServer(nginxplustest.Config{Upstreams: map[string][]string{"b": {"10.0.0.1:80"}}, ReadOnly: true})
	defer ro.Close()
	code, body, _ := call(t, "PATCH", ro.URL()+"/9/http/upstreams/b/servers/0", `{"down":true}`)
	assert.Equal(t, 405, code)
	assert.Equal(t, "MethodDisabled", body["error"].(map[string]any)["code"])
	p, _ := ro.Peer("b", "10.0.0.1:80")
	assert.False(t, p.Down)

	auth := nginxplustest.NewServer(nginxplustest.Config{Upstreams: map[string][]string{"b": {"10.0.0.1:80"}}, Username: "u", Password: "p"})
	defer auth.Close()
	code, _, _ = call(t, "GET", auth.URL()+"/9/http/upstreams/b", "")
	assert.Equal(t, 401, code)
	code, _, _ = call(t, "GET", strings.Replace(auth.URL(), "http://", "http://u:p@", 1)+"/9/http/upstreams/b", "")
	assert.Equal(t, 200, code)
}

// TestDrainAndDownAreIndependent pins nginx_api.yaml's two separate
// writable fields (NginxHTTPUpstreamConfServer "down" and "drain"): a PATCH
// sets only what it names, and nginx-plus-go-client's
// TestUpstreamServerWithDrain reads a drained server back as down:false,
// drain:true.
func TestDrainAndDownAreIndependent(t *testing.T) {
	s := nginxplustest.NewServer(nginxplustest.Config{Upstreams: map[string][]string{"backend": {"10.0.0.1:80"}}})
	defer s.Close()
	base := s.URL()
	srv := base + "/9/http/upstreams/backend/servers/0"
	conf := func() map[string]any {
		t.Helper()
		code, body, _ := call(t, "GET", srv, "")
		require.Equal(t, 200, code)
		return body
	}
	steps := []struct {
		patch       string
		down, drain bool
		state       string
	}{
		{`{"drain":true}`, false, true, "draining"},
		{`{"down":false}`, false, true, "draining"}, // down:false does not end a drain
		{`{"down":true}`, true, true, "down"},       // down wins while both are set
		{`{"down":false}`, false, true, "draining"}, // still draining once up again
		{`{"drain":false}`, false, false, "up"},
		{`{"down":true}`, true, false, "down"},
		{`{"drain":true}`, true, true, "down"}, // drain:true does not end down
		{`{"drain":false,"down":false}`, false, false, "up"},
	}
	for _, st := range steps {
		code, _, _ := call(t, "PATCH", srv, st.patch)
		require.Equal(t, 200, code, st.patch)
		c := conf()
		assert.Equal(t, st.down, c["down"], "down after %s", st.patch)
		drain, _ := c["drain"].(bool)
		assert.Equal(t, st.drain, drain, "drain after %s", st.patch)
		assert.Equal(t, st.state, peerState(t, base, "10.0.0.1:80")["state"], "state after %s", st.patch)
		p, ok := s.Peer("backend", "10.0.0.1:80")
		require.True(t, ok)
		assert.Equal(t, st.down, p.Down)
		assert.Equal(t, st.drain, p.Drain)
	}
}

// TestServesOnlyConfiguredVersions: GET /api/ lists the versions served and
// any other version is 404 UnknownVersion (ngx_http_api_module).
func TestServesOnlyConfiguredVersions(t *testing.T) {
	s := nginxplustest.NewServer(nginxplustest.Config{Upstreams: map[string][]string{"backend": {"10.0.0.1:80"}}, Versions: []int{1, 2, 3, 4, 5, 6, 7}})
	defer s.Close()
	code, _, versions := call(t, "GET", s.URL()+"/", "")
	require.Equal(t, 200, code)
	assert.Equal(t, []any{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0}, versions)
	code, _, _ = call(t, "GET", s.URL()+"/7/http/upstreams/backend", "")
	assert.Equal(t, 200, code)
	for _, v := range []string{"8", "9", "0", "x"} {
		code, body, _ := call(t, "GET", s.URL()+"/"+v+"/http/upstreams/backend", "")
		assert.Equal(t, 404, code, v)
		e := body["error"].(map[string]any)
		assert.Equal(t, "UnknownVersion", e["code"], v)
		assert.Equal(t, "unknown version", e["text"], v)
		assert.Equal(t, 404.0, e["status"], v)
	}
}
