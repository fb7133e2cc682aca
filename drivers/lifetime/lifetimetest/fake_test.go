package lifetimetest_test

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const token = "fake-token"

func newFake(backend lifetimetest.Backend) *lifetimetest.Fake {
	return lifetimetest.New(lifetimetest.Config{
		Token:   token,
		Backend: backend,
		Applications: []lifetimetest.Application{
			{Name: "Portal", Versions: []string{"1.0"}, Running: map[string]string{"Quality": "2.0", "Production": "1.0"}},
		},
	})
}

// call sends one request through the in-process transport and returns the
// status and body.
func call(t *testing.T, f *lifetimetest.Fake, method, path, body, tok string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, lifetimetest.InProcessBaseURL+path, r)
	require.NoError(t, err)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := f.Transport().RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// errorBody checks the documented error shape and returns its messages.
func errorBody(t *testing.T, status int, body string) []string {
	t.Helper()
	var eb struct {
		Errors     []string
		StatusCode int
	}
	require.NoError(t, json.Unmarshal([]byte(body), &eb), body)
	assert.Equal(t, status, eb.StatusCode)
	require.NotEmpty(t, eb.Errors)
	return eb.Errors
}

const plan = `{"Notes":"n","SourceEnvironmentKey":"env-Quality","TargetEnvironmentKey":"env-Production",
	"ApplicationOperations":[{"ApplicationVersionKey":"ver-Portal-2.0","DeploymentZoneKey":""}]}`

func TestAuthentication(t *testing.T) {
	f := newFake(nil)
	defer f.Close()
	for _, tok := range []string{"", "wrong"} {
		status, body := call(t, f, http.MethodGet, "/environments/", "", tok)
		assert.Equal(t, http.StatusUnauthorized, status)
		errorBody(t, 401, body)
	}
	status, _ := call(t, f, http.MethodGet, "/environments/", "", token)
	assert.Equal(t, http.StatusOK, status)
	reqs := f.Requests()
	require.Len(t, reqs, 3)
	assert.False(t, reqs[0].Authorized)
	assert.True(t, reqs[2].Authorized)
}

func TestEndpoints(t *testing.T) {
	f := newFake(nil)
	defer f.Close()
	status, body := call(t, f, http.MethodGet, "/environments/", "", token)
	assert.Equal(t, 200, status)
	assert.Contains(t, body, `"Key":"env-Production"`)

	status, body = call(t, f, http.MethodGet, "/environments/env-Quality/applications/?IncludeEnvStatus=true", "", token)
	assert.Equal(t, 200, status)
	assert.Contains(t, body, `"BaseApplicationVersionKey":"ver-Portal-2.0"`)
	status, _ = call(t, f, http.MethodGet, "/environments/env-Development/applications/", "", token)
	assert.Equal(t, http.StatusNoContent, status, "no applications there")
	status, body = call(t, f, http.MethodGet, "/environments/env-Nope/applications/", "", token)
	assert.Equal(t, 404, status)
	errorBody(t, 404, body)

	status, body = call(t, f, http.MethodGet, "/applications/app-Portal/versions/", "", token)
	assert.Equal(t, 200, status)
	assert.Contains(t, body, `"Version":"2.0"`, "a running version is a tagged version")

	status, body = call(t, f, http.MethodPost, "/environments/env-Quality/applications/app-Portal/versions/", `{"ChangeLog":"c","Version":"2.0","MobileVersions":[]}`, token)
	assert.Equal(t, 400, status, "duplicate tag")
	errorBody(t, 400, body)
	status, body = call(t, f, http.MethodPost, "/environments/env-Quality/applications/app-Portal/versions/", `{"ChangeLog":"c","Version":"2.1","MobileVersions":[]}`, token)
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `{"ApplicationVersionKey":"ver-Portal-2.1"}`, body)

	status, body = call(t, f, http.MethodGet, "/nowhere/", "", token)
	assert.Equal(t, 404, status)
	errorBody(t, 404, body)
	status, _ = call(t, f, http.MethodPut, "/environments/", "", token)
	assert.Equal(t, 404, status)
}

func TestDeploymentLifecycleAndRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(lifetimetest.DelayBackend{Duration: time.Minute})
		defer f.Close()
		status, _ := call(t, f, http.MethodPost, "/deployments/", `{"SourceEnvironmentKey":"env-Quality","TargetEnvironmentKey":"env-Quality","ApplicationOperations":[{"ApplicationVersionKey":"ver-Portal-2.0"}]}`, token)
		assert.Equal(t, 400, status, "same environments")
		status, _ = call(t, f, http.MethodPost, "/deployments/", `{"SourceEnvironmentKey":"env-Quality","TargetEnvironmentKey":"env-Production","ApplicationOperations":[{"ApplicationVersionKey":"ver-Portal-9","DeploymentZoneKey":""}]}`, token)
		assert.Equal(t, 404, status, "unknown version")
		status, _ = call(t, f, http.MethodPost, "/deployments/", `{`, token)
		assert.Equal(t, 400, status)

		status, key := call(t, f, http.MethodPost, "/deployments/", plan, token)
		require.Equal(t, 200, status)
		assert.Equal(t, "dep-0001", key, "bare text key")
		status, body := call(t, f, http.MethodGet, "/deployments/dep-0001/status/", "", token)
		assert.Equal(t, 200, status)
		assert.Contains(t, body, `"DeploymentStatus":"saved"`)
		status, body = call(t, f, http.MethodGet, "/deployments/dep-0001/", "", token)
		assert.Equal(t, 200, status)
		assert.Contains(t, body, `"ApplicationVersionKey":"ver-Portal-2.0"`)

		for _, cmd := range []string{"continue", "abort"} {
			status, body = call(t, f, http.MethodPost, "/deployments/dep-0001/"+cmd+"/", "", token)
			assert.Equal(t, 400, status, cmd+" on saved")
			assert.Contains(t, errorBody(t, 400, body)[0], "saved")
		}
		status, body = call(t, f, http.MethodPost, "/deployments/dep-0001/start/", "", token)
		assert.Equal(t, http.StatusAccepted, status)
		assert.Empty(t, body)
		status, _ = call(t, f, http.MethodPost, "/deployments/dep-0001/start/", "", token)
		assert.Equal(t, 400, status, "already running")
		status, _ = call(t, f, http.MethodDelete, "/deployments/dep-0001/", "", token)
		assert.Equal(t, 400, status, "only a saved plan can be deleted")
		_, body = call(t, f, http.MethodGet, "/deployments/dep-0001/status/", "", token)
		assert.Contains(t, body, `"DeploymentStatus":"running"`)

		time.Sleep(time.Minute)
		synctest.Wait()
		_, body = call(t, f, http.MethodGet, "/deployments/dep-0001/status/", "", token)
		assert.Contains(t, body, `"DeploymentStatus":"finished_successful"`)
		assert.Contains(t, body, `"Instant":"`)
		assert.Equal(t, "2.0", f.Running("Production", "Portal"))

		status, _ = call(t, f, http.MethodPost, "/deployments/", plan, token)
		require.Equal(t, 200, status)
		status, _ = call(t, f, http.MethodDelete, "/deployments/dep-0002/", "", token)
		assert.Equal(t, http.StatusNoContent, status)
		status, _ = call(t, f, http.MethodGet, "/deployments/dep-0002/status/", "", token)
		assert.Equal(t, 404, status)
	})
}

func TestAbortAndPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(lifetimetest.DelayBackend{Duration: time.Hour})
		defer f.Close()
		call(t, f, http.MethodPost, "/deployments/", plan, token)
		call(t, f, http.MethodPost, "/deployments/dep-0001/start/", "", token)
		status, _ := call(t, f, http.MethodPost, "/deployments/dep-0001/abort/", "", token)
		assert.Equal(t, http.StatusAccepted, status)
		synctest.Wait()
		d, _ := f.Deployment("dep-0001")
		assert.Equal(t, drivers.DeploymentAborted, d.State)
		assert.Equal(t, "1.0", f.Running("Production", "Portal"))

		f.SetScript(lifetimetest.Script{PauseInfo: "business_process_impact"})
		call(t, f, http.MethodPost, "/deployments/", plan, token)
		call(t, f, http.MethodPost, "/deployments/dep-0002/start/", "", token)
		synctest.Wait()
		_, body := call(t, f, http.MethodGet, "/deployments/dep-0002/status/", "", token)
		assert.Contains(t, body, `"DeploymentStatus":"needs_user_intervention"`)
		assert.Contains(t, body, `"Info":"business_process_impact"`)
		status, _ = call(t, f, http.MethodPost, "/deployments/dep-0002/continue/", "", token)
		assert.Equal(t, http.StatusAccepted, status)
		synctest.Wait()
		d, _ = f.Deployment("dep-0002")
		assert.Equal(t, drivers.DeploymentRunning, d.State)
		time.Sleep(time.Hour)
		synctest.Wait()
		d, _ = f.Deployment("dep-0002")
		assert.Equal(t, drivers.DeploymentSucceeded, d.State)
	})
}

func TestInject(t *testing.T) {
	f := newFake(nil)
	defer f.Close()
	f.Inject(fault.Fault{Op: http.MethodGet, Target: "/environments/", Status: http.StatusBadGateway, Times: 2})
	for range 2 {
		status, body := call(t, f, http.MethodGet, "/environments/", "", token)
		assert.Equal(t, 502, status)
		errorBody(t, 502, body)
	}
	status, _ := call(t, f, http.MethodGet, "/environments/", "", token)
	assert.Equal(t, 200, status)
}

// TestInjectTimesZeroIsEveryCall: the old InjectError read times 0 as
// "never"; a fault.Fault without Times hits every matching request.
func TestInjectTimesZeroIsEveryCall(t *testing.T) {
	f := newFake(nil)
	defer f.Close()
	f.Inject(fault.Fault{Op: http.MethodGet, Target: "/environments/", Status: http.StatusServiceUnavailable, Message: "maintenance"})
	for range 5 {
		status, body := call(t, f, http.MethodGet, "/environments/", "", token)
		assert.Equal(t, 503, status)
		assert.Contains(t, body, "maintenance")
	}
	f.ClearFaults()
	status, _ := call(t, f, http.MethodGet, "/environments/", "", token)
	assert.Equal(t, 200, status)
	assert.Panics(t, func() { f.Inject(fault.Fault{Op: http.MethodGet, Code: "x"}) }, "Code is not read by lifetimetest")
}

func TestPlatformBackendFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fail := lifetimetest.BackendFunc(func(ctx context.Context, rel drivers.Release, job *lifetimetest.Job) error {
			job.Log("Info", "compiling "+rel.Version)
			return context.DeadlineExceeded
		})
		f := newFake(fail)
		defer f.Close()
		call(t, f, http.MethodPost, "/deployments/", plan, token)
		call(t, f, http.MethodPost, "/deployments/dep-0001/start/", "", token)
		synctest.Wait()
		d, _ := f.Deployment("dep-0001")
		assert.Equal(t, drivers.DeploymentFailed, d.State)
		assert.Equal(t, "2.0", d.Release.Version)
		var msgs []string
		for _, e := range d.Log {
			msgs = append(msgs, e.Type+": "+e.Message)
		}
		assert.Contains(t, msgs, "Info: compiling 2.0")
		assert.Contains(t, msgs, "Error: context deadline exceeded")
	})
}

// TestVersionsAsDocumented checks GET /applications/{Key}/versions/ and
// GET /applications/{Key}/versions/{VersionKey}/ against the Deployment API
// v2 docs: 5 newest versions unless MaximumVersionsToReturn says otherwise,
// 400 for a negative one, and any version readable by key.
func TestVersionsAsDocumented(t *testing.T) {
	f := lifetimetest.New(lifetimetest.Config{Token: token, Applications: []lifetimetest.Application{
		{Name: "Portal", Versions: []string{"1", "2", "3", "4", "5", "6", "7"}, Running: map[string]string{"Production": "1"}},
	}})
	defer f.Close()
	versions := func(query string) []string {
		status, body := call(t, f, http.MethodGet, "/applications/app-Portal/versions/"+query, "", token)
		require.Equal(t, 200, status, body)
		var vs []struct{ Key, Version string }
		require.NoError(t, json.Unmarshal([]byte(body), &vs))
		var out []string
		for _, v := range vs {
			out = append(out, v.Version)
		}
		return out
	}
	assert.Equal(t, []string{"7", "6", "5", "4", "3"}, versions(""), "the 5 newest by default")
	assert.Equal(t, []string{"7"}, versions("?MaximumVersionsToReturn=1"))
	assert.Equal(t, []string{"7", "6", "5", "4", "3", "2", "1"}, versions("?MaximumVersionsToReturn=100"))
	status, body := call(t, f, http.MethodGet, "/applications/app-Portal/versions/?MaximumVersionsToReturn=-1", "", token)
	assert.Equal(t, 400, status)
	errorBody(t, 400, body)

	status, body = call(t, f, http.MethodGet, "/applications/app-Portal/versions/ver-Portal-1/?IncludeModules=false", "", token)
	assert.Equal(t, 200, status)
	assert.Contains(t, body, `"Version":"1"`)
	assert.Contains(t, body, `"InUse":true`, "Production runs it")
	status, _ = call(t, f, http.MethodGet, "/applications/app-Portal/versions/ver-Portal-9/", "", token)
	assert.Equal(t, 404, status)
}

// TestPlanNeedsAZonePerApplication checks POST /deployments/: an operation
// without DeploymentZoneKey is refused (Swagger: required), an empty one
// means the default zone (docs), an unknown zone is refused, and
// AppStatusInEnvs carries each application's zone.
func TestPlanNeedsAZonePerApplication(t *testing.T) {
	f := lifetimetest.New(lifetimetest.Config{Token: token,
		Environments: []lifetimetest.Environment{{Name: "Quality"}, {Name: "Production", DeploymentZones: []string{"EU"}}},
		Applications: []lifetimetest.Application{{Name: "Portal", Versions: []string{"1.0"},
			Running: map[string]string{"Quality": "2.0", "Production": "1.0"}, Zones: map[string]string{"Production": "EU"}}},
	})
	defer f.Close()
	_, body := call(t, f, http.MethodGet, "/environments/env-Production/applications/?IncludeEnvStatus=true", "", token)
	assert.Contains(t, body, `"DeploymentZoneKey":"dz-Production-EU"`)

	const head = `{"SourceEnvironmentKey":"env-Quality","TargetEnvironmentKey":"env-Production","ApplicationOperations":[`
	status, body := call(t, f, http.MethodPost, "/deployments/", head+`{"ApplicationVersionKey":"ver-Portal-2.0"}]}`, token)
	assert.Equal(t, 400, status)
	assert.Contains(t, errorBody(t, 400, body)[0], "DeploymentZoneKey")
	status, _ = call(t, f, http.MethodPost, "/deployments/", head+`{"ApplicationVersionKey":"ver-Portal-2.0","DeploymentZoneKey":"dz-Nowhere"}]}`, token)
	assert.Equal(t, 400, status, "unknown zone")
	assert.Empty(t, f.Deployments())

	status, key := call(t, f, http.MethodPost, "/deployments/", head+`{"ApplicationVersionKey":"ver-Portal-2.0","DeploymentZoneKey":""}]}`, token)
	require.Equal(t, 200, status)
	d, _ := f.Deployment(key)
	assert.Equal(t, map[string]string{"Portal": lifetimetest.ZoneKey("Production", lifetimetest.DefaultZone)}, d.Zones)
}

// TestStatusAndListAsDocumented checks that log entries carry only Instant
// and Message (Swagger DeploymentMessage), that start records
// RedeployOutdated, and that GET /deployments/ lists plans newest first,
// filtered by target, without status.
func TestStatusAndListAsDocumented(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFake(nil)
		defer f.Close()
		status, _ := call(t, f, http.MethodGet, "/deployments/", "", token)
		assert.Equal(t, http.StatusNoContent, status)

		_, k1 := call(t, f, http.MethodPost, "/deployments/", plan, token)
		status, _ = call(t, f, http.MethodPost, "/deployments/"+k1+"/start/?RedeployOutdated=maybe", "", token)
		assert.Equal(t, 400, status)
		status, _ = call(t, f, http.MethodPost, "/deployments/"+k1+"/start/?RedeployOutdated=True", "", token)
		require.Equal(t, http.StatusAccepted, status)
		synctest.Wait()
		d, _ := f.Deployment(k1)
		require.NotNil(t, d.RedeployOutdated)
		assert.True(t, *d.RedeployOutdated)

		_, body := call(t, f, http.MethodGet, "/deployments/"+k1+"/status/", "", token)
		var st struct{ DeploymentLog []map[string]any }
		require.NoError(t, json.Unmarshal([]byte(body), &st))
		require.NotEmpty(t, st.DeploymentLog)
		for _, e := range st.DeploymentLog {
			assert.ElementsMatch(t, []string{"Instant", "Message"}, slices.Collect(maps.Keys(e)))
		}

		time.Sleep(time.Minute)
		_, k2 := call(t, f, http.MethodPost, "/deployments/", plan, token)
		status, body = call(t, f, http.MethodGet, "/deployments/?TargetEnvironmentKey=env-Production", "", token)
		require.Equal(t, 200, status)
		var list []struct {
			Key                   string
			ApplicationOperations []struct{ ApplicationVersionKey, DeploymentZoneKey string }
		}
		require.NoError(t, json.Unmarshal([]byte(body), &list))
		require.Len(t, list, 2)
		assert.Equal(t, []string{k2, k1}, []string{list[0].Key, list[1].Key}, "newest first")
		assert.Equal(t, "ver-Portal-2.0", list[0].ApplicationOperations[0].ApplicationVersionKey)
		assert.NotContains(t, body, "DeploymentStatus", "a Deployment record has no status")
		status, _ = call(t, f, http.MethodGet, "/deployments/?TargetEnvironmentKey=env-Quality", "", token)
		assert.Equal(t, http.StatusNoContent, status)
		status, _ = call(t, f, http.MethodGet, "/deployments/?MinDate=yesterday", "", token)
		assert.Equal(t, 400, status)
	})
}
