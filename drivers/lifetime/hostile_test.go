package lifetime_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHostileKeysStayInOnePathSegment serves keys crafted to walk to other
// endpoints (the abort command, say) and checks every one is escaped into a
// single path segment.
func TestHostileKeysStayInOnePathSegment(t *testing.T) {
	const evil = "../deployments/dep-1/abort/?x=#"
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.EscapedPath())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/environments/":
			_ = json.NewEncoder(w).Encode([]map[string]string{{"Key": evil, "Name": "Quality"}, {"Key": "p", "Name": "Production"}})
		case r.Method == http.MethodGet && r.URL.Query().Get("IncludeEnvStatus") == "true":
			_ = json.NewEncoder(w).Encode([]map[string]any{{"Key": evil, "Name": "Portal",
				"AppStatusInEnvs": []map[string]any{{"EnvironmentKey": evil, "BaseApplicationVersionKey": evil}}}})
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"Errors":["no"],"StatusCode":404}`))
		}
	}))
	defer srv.Close()
	c, err := lifetime.New(lifetime.Config{BaseURL: srv.URL, Token: drivers.NewSecret(canary),
		SourceEnvironment: "Quality", TargetEnvironment: "Production"})
	require.NoError(t, err)
	_, err = c.StartDeployment(t.Context(), releaseOf("2.0", "Portal"))
	require.ErrorIs(t, err, drivers.ErrNotFound)

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{
		"GET /environments/",
		"GET /environments/..%2Fdeployments%2Fdep-1%2Fabort%2F%3Fx=%23/applications/",
		"GET /environments/p/applications/",
		"GET /applications/..%2Fdeployments%2Fdep-1%2Fabort%2F%3Fx=%23/versions/",
	}, paths)
}

func TestHostileDeploymentIDsAreRefused(t *testing.T) {
	c, err := lifetime.New(lifetime.Config{BaseURL: "https://lt.example/v2", Token: drivers.NewSecret(canary),
		SourceEnvironment: "Quality", TargetEnvironment: "Production"})
	require.NoError(t, err)
	for _, id := range []string{"", " ", "dep-1/abort", "dep-1?x", "dep-1#"} {
		err := c.AbortDeployment(t.Context(), id)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, "%q", id)
		assert.Contains(t, err.Error(), "deployment id")
	}
}
