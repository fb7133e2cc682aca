package lifetime_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivertest"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
)

// TestConformance runs the PlatformClient conformance suite against the
// client over the fake LifeTime, in process and in a synctest bubble: each
// deployment publishes for a simulated minute.
func TestConformance(t *testing.T) {
	const token = "conformance-token-4c1d"
	var fake *lifetimetest.Fake
	rel := drivers.Release{Version: "2.0", Notes: "CHG-1", Applications: []drivers.Application{{Name: "Portal", Version: "2.0"}, {Name: "Backoffice", Version: "2.0"}}}
	drivertest.RunPlatformClient(t, drivertest.PlatformClientHarness{
		New: func(t *testing.T) drivers.PlatformClient {
			fake = lifetimetest.New(lifetimetest.Config{
				Token:   token,
				Backend: lifetimetest.DelayBackend{Duration: time.Minute},
				Applications: []lifetimetest.Application{
					{Name: "Portal", Versions: []string{"1.0", "2.0"}, Running: map[string]string{"Quality": "2.0", "Production": "1.0"}},
					{Name: "Backoffice", Versions: []string{"1.0", "2.0"}, Running: map[string]string{"Quality": "2.0", "Production": "1.0"}},
				},
			})
			t.Cleanup(fake.Close)
			c, err := lifetime.New(lifetime.Config{
				BaseURL: lifetimetest.InProcessBaseURL, Token: drivers.NewSecret(token),
				SourceEnvironment: "Quality", TargetEnvironment: "Production",
				HTTPClient: &http.Client{Transport: fake.Transport()},
			})
			require.NoError(t, err)
			return c
		},
		Release:   rel,
		Deploy:    10 * time.Minute,
		Poll:      5 * time.Second,
		Abortable: true,
		Paused: func(t *testing.T, pc drivers.PlatformClient) string {
			fake.SetScript(lifetimetest.Script{PauseInfo: "deployment_prepared"})
			id, err := pc.StartDeployment(t.Context(), rel)
			require.NoError(t, err)
			return id
		},
		Options: drivertest.Options{Bubble: synctest.Test},
	})
}
