package httpprobe_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/httpprobe"
)

// frontEnd is one front-end on loopback serving two applications of a
// release, each at its own path with its own version; an application can be
// set to answer its old version (still deploying there).
type frontEnd struct {
	mu       sync.Mutex
	versions map[string]string // path prefix -> version it answers
	srv      *httptest.Server
	paths    []string // request paths seen
}

func newFrontEnd(t *testing.T, versions map[string]string) *frontEnd {
	t.Helper()
	fe := &frontEnd{versions: versions}
	fe.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fe.mu.Lock()
		defer fe.mu.Unlock()
		fe.paths = append(fe.paths, r.URL.RequestURI())
		for prefix, v := range fe.versions {
			if len(r.URL.Path) >= len(prefix) && r.URL.Path[:len(prefix)] == prefix {
				w.Header().Set(httpprobe.DefaultVersionHeader, v)
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(fe.srv.Close)
	return fe
}

func (fe *frontEnd) set(prefix, v string) {
	fe.mu.Lock()
	defer fe.mu.Unlock()
	fe.versions[prefix] = v
}

// TestProbeApplicationEachAtItsPath: one prober reads each application of a
// release at its own path on each of two loopback front-ends, so that an
// application still on its old version on one server is seen, while the
// plain probe of the prober's own path reads only the other application.
func TestProbeApplicationEachAtItsPath(t *testing.T) {
	fe1 := newFrontEnd(t, map[string]string{"/Orders/": "2.0", "/Portal/": "7.1"})
	fe2 := newFrontEnd(t, map[string]string{"/Orders/": "2.0", "/Portal/": "7.0"}) // Portal still deploying
	p := newProber(t, httpprobe.Config{Path: "/Orders/health"})
	apps := []drivers.ApplicationProbe{
		{Application: "Orders", Path: "/Orders/health", Version: "2.0"},
		{Application: "Customer Portal", Path: "/Portal/rest/Version?full=1", Version: "7.1"},
	}
	read := func(fe *frontEnd, name string) []string {
		var out []string
		for _, app := range apps {
			res, err := p.ProbeApplication(t.Context(), drivers.Target{Name: name, URL: fe.srv.URL + "/"}, app)
			require.NoError(t, err)
			require.True(t, res.Healthy, res.Detail)
			out = append(out, res.Version)
		}
		return out
	}
	assert.Equal(t, []string{"2.0", "7.1"}, read(fe1, "fe01"))
	assert.Equal(t, []string{"2.0", "7.0"}, read(fe2, "fe02"), "the lagging application answers its old version")
	fe2.mu.Lock()
	assert.Equal(t, []string{"/Orders/health", "/Portal/rest/Version?full=1"}, fe2.paths, "each application at its own path and query")
	fe2.mu.Unlock()

	res, err := p.Probe(t.Context(), drivers.Target{Name: "fe02", URL: fe2.srv.URL})
	require.NoError(t, err)
	assert.Equal(t, "2.0", res.Version, "the plain probe sees Orders only: why each application is probed")

	fe2.set("/Portal/", "7.1")
	assert.Equal(t, []string{"2.0", "7.1"}, read(fe2, "fe02"))

	res, err = p.ProbeApplication(t.Context(), drivers.Target{Name: "fe01", URL: fe1.srv.URL}, drivers.ApplicationProbe{Application: "Orders"})
	require.NoError(t, err)
	assert.Equal(t, "2.0", res.Version, "no path: the prober's own path")
}

func TestProbeApplicationRefusesABadPath(t *testing.T) {
	fe := newFrontEnd(t, map[string]string{"/": "1"})
	p := newProber(t, httpprobe.Config{})
	for _, path := range []string{"https://elsewhere/x", "//elsewhere/x", "/a#frag", "%zz"} {
		_, err := p.ProbeApplication(t.Context(), drivers.Target{Name: "fe01", URL: fe.srv.URL}, drivers.ApplicationProbe{Application: "Orders", Path: path})
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, path)
		assert.Contains(t, err.Error(), `application "Orders": path "`+path+`"`)
	}
	fe.mu.Lock()
	assert.Empty(t, fe.paths, "nothing was requested")
	fe.mu.Unlock()
}

// TestProbeApplicationErrorsNameTheApplication: a probe that cannot be made
// says which application of which server it was for.
func TestProbeApplicationErrorsNameTheApplication(t *testing.T) {
	fe := newFrontEnd(t, map[string]string{"/": "1"})
	url := fe.srv.URL
	fe.srv.Close()
	_, err := newProber(t, httpprobe.Config{}).ProbeApplication(t.Context(), drivers.Target{Name: "fe01", URL: url}, drivers.ApplicationProbe{Application: "Orders", Path: "/Orders/"})
	require.ErrorIs(t, err, drivers.ErrUnavailable)
	assert.Contains(t, err.Error(), "fe01 (application Orders)")
}
