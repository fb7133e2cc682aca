package httpprobe_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/httpprobe"
	"github.com/stretchr/testify/require"
)

// FuzzVersionFromJSON serves arbitrary bodies and checks the prober never
// fails the call and reports only a clean version, and only when healthy.
func FuzzVersionFromJSON(f *testing.F) {
	f.Add([]byte(`{"build":{"version":"2.0.17"}}`), "build.version")
	f.Add([]byte(`{"apps":[{"v":1.5e3}]}`), "apps.0.v")
	f.Add([]byte(`[1,2,{"x":"\u0000"}]`), "2.x")
	f.Add([]byte(`not json`), "a")
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }))
	f.Cleanup(srv.Close)
	f.Fuzz(func(t *testing.T, b []byte, path string) {
		p, err := httpprobe.New(httpprobe.Config{VersionJSON: path})
		if err != nil {
			require.ErrorIs(t, err, drivers.ErrInvalidArgument)
			return
		}
		body = b
		res, err := p.Probe(t.Context(), drivers.Target{Name: "fe01", URL: srv.URL})
		require.NoError(t, err)
		require.Equal(t, 200, res.StatusCode)
		require.Equal(t, res.Healthy, res.Version != "", "healthy exactly when a version was read: %+v", res)
		require.Equal(t, strings.TrimSpace(res.Version), res.Version)
		require.LessOrEqual(t, len(res.Version), 200)
		require.Equal(t, -1, strings.IndexFunc(res.Version, func(r rune) bool { return !unicode.IsPrint(r) }))
	})
}
