package lifetime_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func releaseOf(version string, apps ...string) drivers.Release {
	rel := drivers.Release{Version: version, Notes: "CHG-1"}
	for _, a := range apps {
		rel.Applications = append(rel.Applications, drivers.Application{Name: a, Version: version})
	}
	return rel
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := lifetime.Config{
		BaseURL: "https://lt.example/lifetimeapi/rest/v2", Token: drivers.NewSecret(canary),
		SourceEnvironment: "Quality", TargetEnvironment: "Production",
	}
	tests := []struct {
		name   string
		mutate func(*lifetime.Config)
		want   string
	}{
		{"relative URL", func(c *lifetime.Config) { c.BaseURL = "lt.example/api" }, `"lt.example/api"`},
		{"ftp URL", func(c *lifetime.Config) { c.BaseURL = "ftp://lt.example/" }, `"ftp://lt.example/"`},
		{"plain http to a remote host", func(c *lifetime.Config) { c.BaseURL = "http://lt.example/v2" }, "plain http"},
		{"query in URL", func(c *lifetime.Config) { c.BaseURL = "https://lt.example/v2?x=1" }, "query"},
		{"no token", func(c *lifetime.Config) { c.Token = drivers.Secret{} }, "Token is empty"},
		{"token with newline", func(c *lifetime.Config) { c.Token = drivers.NewSecret("a\r\nX-Evil: 1") }, "line break"},
		{"no source", func(c *lifetime.Config) { c.SourceEnvironment = " " }, "SourceEnvironment"},
		{"same environments", func(c *lifetime.Config) { c.TargetEnvironment = "quality" }, `both "Quality"`},
		{"negative timeout", func(c *lifetime.Config) { c.Timeout = -time.Second }, "Timeout is -1s"},
		{"negative cleanup timeout", func(c *lifetime.Config) { c.CleanupTimeout = -time.Second }, "CleanupTimeout is -1s"},
		{"client and CA", func(c *lifetime.Config) { c.HTTPClient = http.DefaultClient; c.Insecure = true }, "HTTPClient cannot be combined"},
		{"bad CA", func(c *lifetime.Config) { c.CACert = []byte("not pem") }, "CACert holds no PEM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mutate(&cfg)
			_, err := lifetime.New(cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), canary)
		})
	}
	_, err := lifetime.New(good)
	require.NoError(t, err)
}

func TestDeploymentOverLoopback(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(lifetimetest.DelayBackend{Duration: 30 * time.Millisecond}))
	defer s.Close()
	c, logs := overLoopback(t, s, nil)
	ctx := t.Context()

	before, err := c.DeployedRelease(ctx)
	require.NoError(t, err)
	assert.Equal(t, "1.0", before.Version)
	assert.ElementsMatch(t, releaseOf("1.0", "Portal", "Backoffice").Applications, before.Applications)

	id, err := c.StartDeployment(ctx, release2)
	require.NoError(t, err)
	st := waitDone(t, c, id)
	assert.Equal(t, drivers.DeploymentSucceeded, st.State)

	d, ok := s.Deployment(id)
	require.True(t, ok)
	assert.Equal(t, "Quality", d.Source)
	assert.Equal(t, "Production", d.Target)
	assert.Equal(t, "CHG-1", d.Notes)
	assert.Equal(t, "2.0", d.Release.Version)
	assert.Equal(t, "2.0", s.Running("Production", "Portal"))

	after, err := c.DeployedRelease(ctx)
	require.NoError(t, err)
	assert.Equal(t, "2.0", after.Version)

	require.NotEmpty(t, st.Log, "the deployment log is read")
	for _, e := range st.Log {
		assert.False(t, e.Time.IsZero(), "Instant parsed: %+v", e)
	}
	assert.Equal(t, 1, s.Count(http.MethodPost, "/deployments/"+id+"/start/"))
	assert.NotContains(t, logs.String(), canary)
	for _, r := range s.Requests() {
		assert.True(t, r.Authorized, "%s %s sent the token", r.Method, r.Path)
	}
}

func TestQuotedDeploymentKey(t *testing.T) {
	cfg := fakeConfig(nil)
	cfg.QuotedKeys = true
	s := lifetimetest.NewServer(cfg)
	defer s.Close()
	c, _ := overLoopback(t, s, nil)
	id, err := c.StartDeployment(t.Context(), release2)
	require.NoError(t, err)
	assert.Equal(t, "dep-0001", id)
	waitDone(t, c, id)
}

func TestWrongTokenIsPermissionDenied(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	defer s.Close()
	c, _ := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.Token = drivers.NewSecret("wrong-token") })
	_, err := c.StartDeployment(t.Context(), release2)
	require.ErrorIs(t, err, drivers.ErrPermissionDenied)
	var apiErr *lifetime.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.StatusCode)
	assert.Contains(t, err.Error(), "Invalid or missing authentication token")
	assert.NotContains(t, err.Error(), "wrong-token")
	assert.False(t, s.Requests()[0].Authorized)
	assert.Empty(t, s.Deployments())
}

func TestNotFoundNamesTheMissingThing(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*lifetime.Config)
		rel    drivers.Release
		want   string
	}{
		{"source environment", func(c *lifetime.Config) { c.SourceEnvironment = "Staging" }, release2, `source environment "Staging"`},
		{"target environment", func(c *lifetime.Config) { c.TargetEnvironment = "Prod-EU" }, release2, `target environment "Prod-EU"`},
		{"application", nil, releaseOf("2.0", "Portal", "Billing"), `application "Billing"`},
		{"version", nil, releaseOf("3.0", "Portal"), `version "3.0" of application "Portal"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := lifetimetest.NewServer(fakeConfig(nil))
			defer s.Close()
			c, _ := overLoopback(t, s, tc.mutate)
			id, err := c.StartDeployment(t.Context(), tc.rel)
			require.ErrorIs(t, err, drivers.ErrNotFound)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, id)
			assert.Empty(t, s.Deployments(), "no plan created")
		})
	}
}

func TestTagVersions(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	defer s.Close()
	c, _ := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.TagVersions = true })
	id, err := c.StartDeployment(t.Context(), releaseOf("3.0", "Portal"))
	require.NoError(t, err)
	waitDone(t, c, id)
	assert.Equal(t, 1, s.Count(http.MethodPost, "/environments/env-Quality/applications/app-Portal/versions/"))
	assert.Equal(t, "3.0", s.Running("Production", "Portal"))
}

func TestEmptyVersionDeploysWhatSourceRuns(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	defer s.Close()
	c, _ := overLoopback(t, s, nil)
	id, err := c.StartDeployment(t.Context(), drivers.Release{Applications: []drivers.Application{{Name: "portal"}}})
	require.NoError(t, err)
	waitDone(t, c, id)
	assert.Equal(t, "2.0", s.Running("Production", "Portal"))
	assert.Equal(t, "1.0", s.Running("Production", "Backoffice"))

	rel, err := c.DeployedRelease(t.Context())
	require.NoError(t, err)
	assert.Empty(t, rel.Version, "applications differ, so no common version")

	c2, _ := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.Applications = []string{"Portal"} })
	rel, err = c2.DeployedRelease(t.Context())
	require.NoError(t, err)
	assert.Equal(t, drivers.Release{Version: "2.0", Applications: []drivers.Application{{Name: "Portal", Version: "2.0"}}}, rel)

	c3, _ := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.Applications = []string{"Nope"} })
	_, err = c3.DeployedRelease(t.Context())
	require.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), `"Nope"`)
}

func TestStartDeploymentRejectsEmptyRelease(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	defer s.Close()
	c, _ := overLoopback(t, s, nil)
	_, err := c.StartDeployment(t.Context(), drivers.Release{Version: "9"})
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Contains(t, err.Error(), `release "9" lists no applications`)
	assert.Empty(t, s.Requests(), "refused before any request")
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name   string
		method string
		suffix string
		status int
		class  error // nil: unclassified
	}{
		{"GET 500 is retryable", http.MethodGet, "/environments/", 500, drivers.ErrUnavailable},
		{"GET 502 is retryable", http.MethodGet, "/environments/", 502, drivers.ErrUnavailable},
		{"GET 404", http.MethodGet, "/environments/", 404, drivers.ErrNotFound},
		{"GET 403", http.MethodGet, "/environments/", 403, drivers.ErrPermissionDenied},
		{"POST 400", http.MethodPost, "/deployments/", 400, drivers.ErrInvalidArgument},
		{"POST 429 is retryable", http.MethodPost, "/deployments/", 429, drivers.ErrUnavailable},
		{"POST 503 is retryable", http.MethodPost, "/deployments/", 503, drivers.ErrUnavailable},
		{"POST 500 may have taken effect", http.MethodPost, "/deployments/", 500, nil},
		{"POST 502 may have taken effect", http.MethodPost, "/deployments/", 502, nil},
		{"POST 504 may have taken effect", http.MethodPost, "/deployments/", 504, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := lifetimetest.NewServer(fakeConfig(nil))
			defer s.Close()
			s.Inject(fault.Fault{Op: tc.method, Target: tc.suffix, Status: tc.status, Times: 1})
			c, _ := overLoopback(t, s, nil)
			_, err := c.StartDeployment(t.Context(), release2)
			require.Error(t, err)
			assert.Equal(t, tc.class, drivers.Class(err), "%v", err)
			var apiErr *lifetime.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tc.status, apiErr.StatusCode)
			assert.Equal(t, []string{fmt.Sprintf("Injected error %d.", tc.status)}, apiErr.Messages)
		})
	}
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	c, _ := overLoopback(t, s, nil)
	s.Close()
	_, err := c.StartDeployment(t.Context(), release2)
	require.ErrorIs(t, err, drivers.ErrUnavailable)
	_, err = c.DeploymentStatus(t.Context(), "dep-0001")
	require.ErrorIs(t, err, drivers.ErrUnavailable)
	err = c.AbortDeployment(t.Context(), "dep-0001")
	require.ErrorIs(t, err, drivers.ErrUnavailable, "nothing was sent, so even a POST is retryable")
}

func TestStartRefusedDeletesThePlan(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	defer s.Close()
	s.Inject(fault.Fault{Op: http.MethodPost, Target: "/start/", Status: http.StatusServiceUnavailable, Times: 1})
	c, _ := overLoopback(t, s, nil)
	id, err := c.StartDeployment(t.Context(), release2)
	require.ErrorIs(t, err, drivers.ErrUnavailable)
	assert.Empty(t, id)
	assert.Empty(t, s.Deployments(), "the saved plan was deleted, so a retry starts clean")
	assert.Equal(t, 1, s.Count(http.MethodDelete, "/deployments/dep-0001/"))

	id, err = c.StartDeployment(t.Context(), release2)
	require.NoError(t, err, "the retry succeeds")
	waitDone(t, c, id)
}

func TestStartAmbiguousKeepsThePlan(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	defer s.Close()
	s.Inject(fault.Fault{Op: http.MethodPost, Target: "/start/", Status: http.StatusBadGateway, Times: 1})
	c, _ := overLoopback(t, s, nil)
	id, err := c.StartDeployment(t.Context(), release2)
	require.Error(t, err)
	assert.Nil(t, drivers.Class(err), "a 502 to start may have started it: not retryable")
	assert.Equal(t, "dep-0001", id, "the id is returned so the caller can look")
	assert.Len(t, s.Deployments(), 1)
	assert.Zero(t, s.Count(http.MethodDelete, "/deployments/dep-0001/"))
}

func TestCommandsRefusedInWrongState(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	defer s.Close()
	c, _ := overLoopback(t, s, nil)
	id, err := c.StartDeployment(t.Context(), release2)
	require.NoError(t, err)
	waitDone(t, c, id)
	err = c.AbortDeployment(t.Context(), id)
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Contains(t, err.Error(), "Cannot abort a deployment that is finished_successful")
	require.ErrorIs(t, c.ContinueDeployment(t.Context(), id), drivers.ErrInvalidArgument)
	_, err = c.DeploymentStatus(t.Context(), "dep-9999")
	require.ErrorIs(t, err, drivers.ErrNotFound)
	_, err = c.DeploymentStatus(t.Context(), "../environments")
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
}

func TestRequestTimeout(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	c, err := lifetime.New(lifetime.Config{
		BaseURL: hang.URL + "/lifetimeapi/rest/v2", Token: drivers.NewSecret(canary),
		SourceEnvironment: "Quality", TargetEnvironment: "Production", Timeout: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	start := time.Now()
	_, err = c.DeploymentStatus(t.Context(), "dep-1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.NotContains(t, err.Error(), canary)
}

func TestTLS(t *testing.T) {
	s := lifetimetest.NewTLSServer(fakeConfig(nil))
	defer s.Close()

	c, _ := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.CACert = s.CACertPEM() })
	_, err := c.DeployedRelease(t.Context())
	require.NoError(t, err, "trusted with the custom CA")

	c, _ = overLoopback(t, s, nil)
	_, err = c.DeployedRelease(t.Context())
	require.Error(t, err, "refused without the CA: TLS is verified by default")
	assert.False(t, drivers.IsRetryable(err), "a certificate problem is not transient: %v", err)
	assert.Contains(t, err.Error(), "certificate")

	c, logs := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.Insecure = true })
	_, err = c.DeployedRelease(t.Context())
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "TLS certificate verification is disabled")
}

func TestAPIErrorUnexpectedBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>gateway "+strings.Repeat("x", 500)+"</html>", http.StatusBadGateway)
	}))
	defer srv.Close()
	c, err := lifetime.New(lifetime.Config{
		BaseURL: srv.URL, Token: drivers.NewSecret(canary), SourceEnvironment: "A", TargetEnvironment: "B",
	})
	require.NoError(t, err)
	_, err = c.DeploymentStatus(t.Context(), "k")
	require.ErrorIs(t, err, drivers.ErrUnavailable)
	var apiErr *lifetime.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Contains(t, apiErr.Messages[0], "<html>gateway")
	assert.Less(t, len(err.Error()), 400, "long bodies are truncated")
	assert.True(t, errors.Is(err, drivers.ErrUnavailable))
}

func TestConcurrentUse(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(lifetimetest.DelayBackend{Duration: 20 * time.Millisecond}))
	defer s.Close()
	c, _ := overLoopback(t, s, nil)
	id, err := c.StartDeployment(t.Context(), release2)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := c.DeploymentStatus(t.Context(), id)
			assert.NoError(t, err)
			_, err = c.DeployedRelease(t.Context())
			assert.NoError(t, err)
		})
		wg.Go(func() {
			_, _, err := c.FindDeployment(t.Context(), release2)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, drivers.DeploymentSucceeded, waitDone(t, c, id).State)
}
