package lifetime_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// manyVersions is a fake where Production runs the oldest of eight tagged
// versions: LifeTime lists only the 5 newest unless asked for more
// (Swagger: "The default value is 5").
func manyVersions() lifetimetest.Config {
	vs := []string{"1.0", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "2.0"}
	return lifetimetest.Config{
		Token: canary,
		Applications: []lifetimetest.Application{
			{Name: "Portal", Versions: vs, Running: map[string]string{"Quality": "2.0", "Production": "1.0"}},
		},
	}
}

func TestDeployedReleaseOlderThanTheFiveNewest(t *testing.T) {
	s := lifetimetest.NewServer(manyVersions())
	defer s.Close()
	c, _ := overLoopback(t, s, nil)
	rel, err := c.DeployedRelease(t.Context())
	require.NoError(t, err)
	assert.Equal(t, drivers.Release{Version: "1.0", Applications: []drivers.Application{{Name: "Portal", Version: "1.0"}}}, rel)
	assert.Equal(t, 1, s.Count(http.MethodGet, "/applications/app-Portal/versions/ver-Portal-1.0/"), "read by key")
}

func TestOldVersionIsFoundNotTagged(t *testing.T) {
	for _, tag := range []bool{false, true} {
		s := lifetimetest.NewServer(manyVersions())
		c, _ := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.TagVersions = tag })
		id, err := c.StartDeployment(t.Context(), releaseOf("1.1", "Portal"))
		require.NoError(t, err, "TagVersions=%v", tag)
		assert.Zero(t, s.Count(http.MethodPost, "/environments/env-Quality/applications/app-Portal/versions/"), "an existing version is never tagged")
		d, ok := s.Deployment(id)
		require.True(t, ok)
		assert.Equal(t, "1.1", d.Release.Version)
		for _, r := range s.Requests() {
			if r.Path == "/applications/app-Portal/versions/" {
				q, err := url.ParseQuery(r.Query)
				require.NoError(t, err)
				assert.NotEmpty(t, q.Get("MaximumVersionsToReturn"), "a list of versions asks for more than 5")
			}
		}
		s.Close()
	}
}

func TestEachApplicationKeepsItsOwnZone(t *testing.T) {
	cfg := fakeConfig(nil)
	cfg.Environments = []lifetimetest.Environment{{Name: "Quality"}, {Name: "Production", DeploymentZones: []string{"EU", "US"}}}
	cfg.Applications[0].Zones = map[string]string{"Production": "EU"}
	cfg.Applications = append(cfg.Applications, lifetimetest.Application{Name: "Billing", Running: map[string]string{"Quality": "2.0"}})
	s := lifetimetest.NewServer(cfg)
	defer s.Close()
	c, _ := overLoopback(t, s, nil)
	id, err := c.StartDeployment(t.Context(), releaseOf("2.0", "Portal", "Backoffice", "Billing"))
	require.NoError(t, err)
	d, ok := s.Deployment(id)
	require.True(t, ok)
	assert.Equal(t, map[string]string{
		"Portal":     lifetimetest.ZoneKey("Production", "EU"),
		"Backoffice": lifetimetest.ZoneKey("Production", lifetimetest.DefaultZone),
		"Billing":    lifetimetest.ZoneKey("Production", lifetimetest.DefaultZone), // new there: the default zone
	}, d.Zones)
}

func TestNewApplicationGoesToTheConfiguredZone(t *testing.T) {
	cfg := fakeConfig(nil)
	cfg.Environments = []lifetimetest.Environment{{Name: "Quality"}, {Name: "Production", DeploymentZones: []string{"EU"}}}
	cfg.Applications = append(cfg.Applications, lifetimetest.Application{Name: "Billing", Running: map[string]string{"Quality": "2.0"}})
	s := lifetimetest.NewServer(cfg)
	defer s.Close()
	c, _ := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.DeploymentZoneKey = lifetimetest.ZoneKey("Production", "EU") })
	id, err := c.StartDeployment(t.Context(), releaseOf("2.0", "Portal", "Billing"))
	require.NoError(t, err)
	d, _ := s.Deployment(id)
	assert.Equal(t, lifetimetest.ZoneKey("Production", "EU"), d.Zones["Billing"], "new to the target: the configured zone")
	assert.Equal(t, lifetimetest.ZoneKey("Production", lifetimetest.DefaultZone), d.Zones["Portal"], "already there: its own zone")
}

func TestRedeployOutdated(t *testing.T) {
	for _, keep := range []bool{false, true} {
		s := lifetimetest.NewServer(fakeConfig(nil))
		c, _ := overLoopback(t, s, func(cfg *lifetime.Config) { cfg.KeepOutdated = keep })
		id, err := c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		d, _ := s.Deployment(id)
		require.NotNil(t, d.RedeployOutdated, "start always says whether to redeploy outdated consumers")
		assert.Equal(t, !keep, *d.RedeployOutdated, "KeepOutdated=%v", keep)
		s.Close()
	}
}

func TestLogEntriesHaveNoType(t *testing.T) {
	s := lifetimetest.NewServer(fakeConfig(nil))
	defer s.Close()
	c, _ := overLoopback(t, s, nil)
	id, err := c.StartDeployment(t.Context(), release2)
	require.NoError(t, err)
	st := waitDone(t, c, id)
	require.NotEmpty(t, st.Log)
	for _, e := range st.Log {
		assert.Empty(t, e.Type, "LifeTime sends no type: %+v", e)
		assert.NotEmpty(t, e.Message)
	}
}

// TestFindDeployment checks which LifeTime deployments FindDeployment
// adopts: only a started, unfinished plan of exactly the release's versions
// from the source to the target (GET /deployments/ has no status, so each
// candidate's status is read).
func TestFindDeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(fakeConfig(lifetimetest.DelayBackend{Duration: time.Hour}))
		defer f.Close()
		c, _ := inProcess(t, f, nil)
		ctx := t.Context()

		_, found, err := c.FindDeployment(ctx, release2)
		require.NoError(t, err)
		assert.False(t, found, "no deployment at all (204)")

		id, err := c.StartDeployment(ctx, releaseOf("2.0", "Portal"))
		require.NoError(t, err)
		_, found, err = c.FindDeployment(ctx, release2)
		require.NoError(t, err)
		assert.False(t, found, "Portal alone is not the release of Portal and Backoffice")
		got, found, err := c.FindDeployment(ctx, releaseOf("2.0", "Portal"))
		require.NoError(t, err)
		assert.True(t, found)
		assert.Equal(t, id, got)
		_, found, err = c.FindDeployment(ctx, releaseOf("1.0", "Portal"))
		require.NoError(t, err)
		assert.False(t, found, "another version")
		_, found, err = c.FindDeployment(ctx, releaseOf("9.9", "Portal"))
		require.NoError(t, err)
		assert.False(t, found, "a version that does not exist is not deploying")

		require.NoError(t, c.AbortDeployment(ctx, id))
		synctest.Wait()
		_, found, err = c.FindDeployment(ctx, releaseOf("2.0", "Portal"))
		require.NoError(t, err)
		assert.False(t, found, "an aborted deployment is not adopted")

		// A plan created but never started is not adopted either.
		_, status, err := rawPost(t, f, "/deployments/", `{"SourceEnvironmentKey":"env-Quality","TargetEnvironmentKey":"env-Production",
			"ApplicationOperations":[{"ApplicationVersionKey":"ver-Portal-2.0","DeploymentZoneKey":""}]}`)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status)
		_, found, err = c.FindDeployment(ctx, releaseOf("2.0", "Portal"))
		require.NoError(t, err)
		assert.False(t, found, "saved only")

		// Of two running deployments of the release, the newest.
		f.SetScript(lifetimetest.Script{PauseInfo: drivers.InfoBusinessProcessImpact})
		id2, err := c.StartDeployment(ctx, releaseOf("2.0", "Portal"))
		require.NoError(t, err)
		synctest.Wait()
		got, found, err = c.FindDeployment(ctx, releaseOf("2.0", "Portal"))
		require.NoError(t, err)
		assert.True(t, found, "waiting for user intervention counts")
		assert.Equal(t, id2, got)
	})
}

// rawPost sends one authorized POST to the fake in-process.
func rawPost(t *testing.T, f *lifetimetest.Fake, path, body string) (string, int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, lifetimetest.InProcessBaseURL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+canary)
	resp, err := f.Transport().RoundTrip(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}
