package lifetime_test

import (
	"net/http"
	"net/url"
	"testing"

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
