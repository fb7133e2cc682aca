package httpprobe_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/httpprobe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// app answers like a front-end running version 2.0 at /MyApp/health.
func app(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(appHandler())
	t.Cleanup(srv.Close)
	return srv
}

func appHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/MyApp/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", "2.0")
		w.Header().Set("X-Build", " 2.0.17 ")
		_, _ = w.Write([]byte(`<html><footer>Portal v2.0.17 (build 88)</footer></html>`))
	})
	mux.HandleFunc("/MyApp/version.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"build":{"version":"2.0.17","number":88,"ok":true},"apps":[{"version":"1.9"},{"version":"2.0"}]}`))
	})
	mux.HandleFunc("/MyApp/installing", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "installing", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/MyApp/moved", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", "2.0")
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", "login")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", r.URL.Query().Get("v"))
	})
	return mux
}

func target(srv *httptest.Server) drivers.Target {
	return drivers.Target{Name: "fe01", URL: srv.URL + "/MyApp/"}
}

func newProber(t *testing.T, cfg httpprobe.Config) *httpprobe.Prober {
	t.Helper()
	p, err := httpprobe.New(cfg)
	require.NoError(t, err)
	return p
}

func TestVersionSources(t *testing.T) {
	srv := app(t)
	tests := []struct {
		name       string
		cfg        httpprobe.Config
		healthy    bool
		version    string
		detail     string
		wantStatus int
		targetPath string
	}{
		{"default header", httpprobe.Config{Path: "health"}, true, "2.0", "", 200, ""},
		{"named header, trimmed", httpprobe.Config{Path: "/health", VersionHeader: "X-Build"}, true, "2.0.17", "", 200, ""},
		{"missing header", httpprobe.Config{Path: "health", VersionHeader: "X-Nope"}, false, "", "no X-Nope header", 200, ""},
		{"json string", httpprobe.Config{Path: "version.json", VersionJSON: "build.version"}, true, "2.0.17", "", 200, ""},
		{"json number", httpprobe.Config{Path: "version.json", VersionJSON: "build.number"}, true, "88", "", 200, ""},
		{"json array index", httpprobe.Config{Path: "version.json", VersionJSON: "apps.1.version"}, true, "2.0", "", 200, ""},
		{"json missing field", httpprobe.Config{Path: "version.json", VersionJSON: "build.tag"}, false, "", `no field "build.tag"`, 200, ""},
		{"json bad index", httpprobe.Config{Path: "version.json", VersionJSON: "apps.7.version"}, false, "", "not an index", 200, ""},
		{"json bool", httpprobe.Config{Path: "version.json", VersionJSON: "build.ok"}, false, "", "expected a string or number", 200, ""},
		{"json on html", httpprobe.Config{Path: "health", VersionJSON: "build.version"}, false, "", "not JSON", 200, ""},
		{"regexp", httpprobe.Config{Path: "health", VersionRegexp: `Portal v([0-9.]+)`}, true, "2.0.17", "", 200, ""},
		{"regexp no match", httpprobe.Config{Path: "health", VersionRegexp: `Billing v([0-9.]+)`}, false, "", "did not match", 200, ""},
		{"503 is a result", httpprobe.Config{Path: "installing"}, false, "", "status 503 Service Unavailable, expected 200", 503, ""},
		{"redirect not followed", httpprobe.Config{Path: "moved"}, false, "2.0", "status 302", 302, ""},
		{"expected status", httpprobe.Config{Path: "installing", ExpectStatus: 503, VersionRegexp: `(install)ing`}, true, "install", "", 503, ""},
		{"query kept", httpprobe.Config{Path: "/echo?v=3.1"}, true, "3.1", "", 200, "/"},
		{"no path", httpprobe.Config{}, true, "2.0", "", 200, "/MyApp/health"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := target(srv)
			if tc.targetPath != "" {
				tg.URL = srv.URL + tc.targetPath
			}
			res, err := newProber(t, tc.cfg).Probe(t.Context(), tg)
			require.NoError(t, err)
			assert.Equal(t, tc.healthy, res.Healthy, res.Detail)
			assert.Equal(t, tc.version, res.Version)
			assert.Equal(t, tc.wantStatus, res.StatusCode)
			if tc.detail == "" {
				assert.Empty(t, res.Detail)
			} else {
				assert.Contains(t, res.Detail, tc.detail)
			}
		})
	}
}

func TestConfigErrorsNameTheBadValue(t *testing.T) {
	tests := []struct {
		name string
		cfg  httpprobe.Config
		want string
	}{
		{"bad regexp", httpprobe.Config{VersionRegexp: `v(\d+`}, `VersionRegexp "v(\\d+" does not compile`},
		{"no group", httpprobe.Config{VersionRegexp: `v\d+`}, `has 0 capture groups; expected exactly one`},
		{"two groups", httpprobe.Config{VersionRegexp: `(v)(\d+)`}, `has 2 capture groups`},
		{"two sources", httpprobe.Config{VersionHeader: "X-V", VersionJSON: "v"}, "set at most one version source"},
		{"empty json segment", httpprobe.Config{VersionJSON: "build..version"}, `VersionJSON "build..version" has an empty segment`},
		{"header name", httpprobe.Config{VersionHeader: "X V"}, `VersionHeader "X V"`},
		{"hostile host", httpprobe.Config{Host: "app.example\r\nX-Evil: 1"}, `Host "app.example\r\nX-Evil: 1"`},
		{"host with path", httpprobe.Config{Host: "app.example/x"}, `Host "app.example/x"`},
		{"server name", httpprobe.Config{ServerName: "a b"}, `ServerName "a b"`},
		{"absolute path", httpprobe.Config{Path: "https://elsewhere/x"}, `Path "https://elsewhere/x"`},
		{"status", httpprobe.Config{ExpectStatus: 42}, "ExpectStatus 42"},
		{"timeout", httpprobe.Config{Timeout: -time.Second}, "Timeout -1s"},
		{"client and tls", httpprobe.Config{HTTPClient: http.DefaultClient, Insecure: true}, "HTTPClient cannot be combined"},
		{"bad CA", httpprobe.Config{CACert: []byte("x")}, "CACert holds no PEM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := httpprobe.New(tc.cfg)
			require.ErrorIs(t, err, drivers.ErrInvalidArgument)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestBadTargets(t *testing.T) {
	p := newProber(t, httpprobe.Config{})
	_, err := p.Probe(t.Context(), drivers.Target{Name: "fe01"})
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Contains(t, err.Error(), `server "fe01" has no URL`)
	_, err = p.Probe(t.Context(), drivers.Target{Name: "fe02", URL: "fe02.internal"})
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Contains(t, err.Error(), `"fe02.internal"`)
}

func TestHostHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "portal.example.com" {
			http.Error(w, "unknown site "+r.Host, http.StatusMisdirectedRequest)
			return
		}
		w.Header().Set("X-App-Version", "2.0")
	}))
	defer srv.Close()
	tg := drivers.Target{Name: "fe01", URL: srv.URL}

	res, err := newProber(t, httpprobe.Config{Host: "portal.example.com"}).Probe(t.Context(), tg)
	require.NoError(t, err)
	assert.True(t, res.Healthy, res.Detail)

	res, err = newProber(t, httpprobe.Config{Host: "other.example.com"}).Probe(t.Context(), tg)
	require.NoError(t, err)
	assert.False(t, res.Healthy)
	assert.Equal(t, http.StatusMisdirectedRequest, res.StatusCode)

	res, err = newProber(t, httpprobe.Config{}).Probe(t.Context(), tg)
	require.NoError(t, err)
	assert.False(t, res.Healthy, "without the override the site is not found")
}

func caPEM(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(appHandler())
	defer srv.Close()
	tg := target(srv)

	res, err := newProber(t, httpprobe.Config{Path: "health", CACert: caPEM(srv)}).Probe(t.Context(), tg)
	require.NoError(t, err)
	assert.True(t, res.Healthy, res.Detail)

	_, err = newProber(t, httpprobe.Config{Path: "health"}).Probe(t.Context(), tg)
	require.Error(t, err, "an unknown CA is refused: TLS is verified by default")
	assert.Contains(t, err.Error(), "certificate")
	assert.False(t, drivers.IsRetryable(err))

	// httptest's certificate names example.com and 127.0.0.1.
	res, err = newProber(t, httpprobe.Config{Path: "health", CACert: caPEM(srv), ServerName: "example.com"}).Probe(t.Context(), tg)
	require.NoError(t, err)
	assert.True(t, res.Healthy)
	_, err = newProber(t, httpprobe.Config{Path: "health", CACert: caPEM(srv), ServerName: "portal.other.test"}).Probe(t.Context(), tg)
	require.Error(t, err, "ServerName is what the certificate is checked against")
	assert.Contains(t, err.Error(), "portal.other.test")

	var logs lockedBuffer
	p := newProber(t, httpprobe.Config{Path: "health", Insecure: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	res, err = p.Probe(t.Context(), tg)
	require.NoError(t, err)
	assert.True(t, res.Healthy)
	assert.Contains(t, logs.String(), "TLS certificate verification is disabled")
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, err = newProber(t, httpprobe.Config{}).Probe(t.Context(), drivers.Target{Name: "fe01", URL: "http://" + addr + "/"})
	require.ErrorIs(t, err, drivers.ErrUnavailable)
	assert.Contains(t, err.Error(), "fe01")
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	_, err := newProber(t, httpprobe.Config{Timeout: 50 * time.Millisecond}).Probe(t.Context(), drivers.Target{Name: "fe01", URL: srv.URL})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.False(t, drivers.IsRetryable(err), "a timeout is not classified: the server may be busy, not absent")
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestConcurrentProbes(t *testing.T) {
	srv := app(t)
	p := newProber(t, httpprobe.Config{Path: "version.json", VersionJSON: "build.version"})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			res, err := p.Probe(t.Context(), target(srv))
			assert.NoError(t, err)
			assert.Equal(t, "2.0.17", res.Version)
		})
	}
	wg.Wait()
}

func TestHostileVersionIsRejected(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"v":"2.0\u001b[31m","long":"` + strings.Repeat("9", 300) + `"}`))
	}))
	defer srv.Close()
	for _, field := range []string{"v", "long"} {
		res, err := newProber(t, httpprobe.Config{VersionJSON: field}).Probe(t.Context(), drivers.Target{Name: "fe01", URL: srv.URL})
		require.NoError(t, err)
		assert.False(t, res.Healthy)
		assert.Empty(t, res.Version)
		assert.Contains(t, res.Detail, "not a printable string")
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
