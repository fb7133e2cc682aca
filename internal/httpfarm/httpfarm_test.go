package httpfarm_test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// get returns the status code of a GET of url, as a user's request when
// load is set.
func get(t *testing.T, url string, load bool) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if load {
		req.Header.Set(httpfarm.HeaderLoad, "1")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestDeploymentModel(t *testing.T) {
	f := httpfarm.New(t, httpfarm.Config{Backends: 3, PublishDelay: 50 * time.Millisecond, InstallDuration: 200 * time.Millisecond})
	svc, plat, prober := f.Services(), f.Platform(), f.Prober()
	servers := f.Servers()
	require.Len(t, servers, 3)
	assert.True(t, servers[0].DeploymentController)
	fe1, fe3 := servers[0].Target(), servers[2].Target()

	res, err := prober.Probe(t.Context(), fe1)
	require.NoError(t, err)
	assert.Equal(t, drivers.ProbeResult{Healthy: true, StatusCode: 200, Version: "v1"}, res)

	// fe3's deployment service is blocked: it must not install on publish.
	require.NoError(t, svc.StopService(t.Context(), fe3, drivers.DeploymentService))
	st, err := svc.ServiceState(t.Context(), fe3, drivers.DeploymentService)
	require.NoError(t, err)
	assert.Equal(t, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}, st)

	id, err := plat.StartDeployment(t.Context(), drivers.Release{Version: "v2"})
	require.NoError(t, err)
	ds, err := plat.DeploymentStatus(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, drivers.DeploymentRunning, ds.State)

	b1, _ := f.Backend("fe1")
	require.Eventually(t, b1.Installing, 2*time.Second, 5*time.Millisecond, "fe1 installs after the publish delay")
	res, err = prober.Probe(t.Context(), fe1)
	require.NoError(t, err)
	assert.False(t, res.Healthy)
	assert.Equal(t, 503, res.StatusCode)
	idle, err := svc.DeploymentIdle(t.Context(), fe1)
	require.NoError(t, err)
	assert.False(t, idle)
	assert.Equal(t, 503, get(t, b1.URL(), false))
	assert.Equal(t, int64(0), b1.InstallHits(), "a probe is not a user request")
	assert.Equal(t, 503, get(t, b1.URL(), true))
	assert.Equal(t, int64(1), b1.InstallHits())

	require.Eventually(t, func() bool { return b1.Version() == "v2" && !b1.Installing() }, 2*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		ds, err := plat.DeploymentStatus(t.Context(), id)
		return err == nil && ds.State == drivers.DeploymentSucceeded
	}, 2*time.Second, 10*time.Millisecond)
	b3, _ := f.Backend("fe3")
	assert.Equal(t, "v1", b3.Version(), "a stopped deployment service installs nothing")

	require.NoError(t, svc.RestoreService(t.Context(), fe3, drivers.DeploymentService, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}))
	assert.True(t, b3.Installing(), "starting the deployment service installs the published version")
	require.Eventually(t, func() bool { return b3.Version() == "v2" }, 2*time.Second, 5*time.Millisecond)
	assert.Equal(t, int64(1), f.InstallHits())

	_, err = plat.DeploymentStatus(t.Context(), "nope")
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	_, err = svc.ServiceState(t.Context(), drivers.Target{Name: "fe9"}, drivers.SchedulerService)
	assert.ErrorIs(t, err, drivers.ErrNotFound)
	_, err = svc.ServiceState(t.Context(), fe1, drivers.DeploymentControllerService)
	assert.NoError(t, err, "fe1 holds the controller")
	_, err = svc.ServiceState(t.Context(), fe3, drivers.DeploymentControllerService)
	assert.ErrorIs(t, err, drivers.ErrNotFound)
}

func TestInstallBreaksInFlightRequest(t *testing.T) {
	f := httpfarm.New(t, httpfarm.Config{Backends: 1, PublishDelay: 10 * time.Millisecond, InstallDuration: 100 * time.Millisecond})
	b, _ := f.Backend("fe1")
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, b.URL()+"?"+httpfarm.DelayParam+"=300", nil)
		req.Header.Set(httpfarm.HeaderLoad, "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	time.Sleep(50 * time.Millisecond)
	_, err := f.Platform().StartDeployment(t.Context(), drivers.Release{Version: "v2"})
	require.NoError(t, err)
	assert.Equal(t, 503, <-done, "a request in flight when the install starts fails")
	assert.Equal(t, int64(1), b.InstallHits())
}

func TestHold(t *testing.T) {
	f := httpfarm.New(t, httpfarm.Config{Backends: 1})
	b, _ := f.Backend("fe1")
	arrived, release := b.Hold("tok")
	got := make(chan int)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, b.URL(), nil)
		req.Header.Set(httpfarm.HeaderHold, "tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- 0
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	<-arrived
	select {
	case <-got:
		t.Fatal("a held request must not finish before release")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	release()
	assert.Equal(t, 200, <-got)
}

func TestLoadAgainstBackend(t *testing.T) {
	f := httpfarm.New(t, httpfarm.Config{Backends: 1, PublishDelay: 100 * time.Millisecond, InstallDuration: 200 * time.Millisecond})
	b, _ := f.Backend("fe1")
	load := httpfarm.StartLoad(t, httpfarm.LoadConfig{URL: b.URL(), Rate: 250})
	time.Sleep(300 * time.Millisecond)
	snap := load.Snapshot()
	assert.Zero(t, snap.Failed, "%v", snap)
	_, err := f.Platform().StartDeployment(t.Context(), drivers.Release{Version: "v2"})
	require.NoError(t, err)
	time.Sleep(600 * time.Millisecond)
	res := load.Stop()
	t.Log(res)
	assert.Greater(t, res.Rate(), 100.0, "open loop near the configured rate (250/s; loose for loaded CI machines)")
	assert.Greater(t, res.Failed, 0, "requests to an installing backend fail")
	assert.Greater(t, res.Causes["status 503"], 0)
	assert.Equal(t, int64(res.Failed), b.InstallHits())
	assert.Greater(t, res.Versions["v1"], 0)
	assert.Greater(t, res.Versions["v2"], 0)
	assert.Equal(t, "v2", res.LastVersion())
	assert.Empty(t, res.Regressions("v1", "v2"))
	for _, s := range res.Samples {
		if s.Err == "" {
			d := s.End.Sub(s.Start)
			assert.GreaterOrEqual(t, d, 20*time.Millisecond, "each request lasts at least MinDelay")
		}
	}
}

func TestRegressions(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	r := httpfarm.Result{Samples: []httpfarm.Sample{
		{Client: 1, Start: at(0), End: at(10), Version: "v2"},
		{Client: 1, Start: at(5), End: at(50), Version: "v1"},  // in flight: allowed
		{Client: 1, Start: at(20), End: at(30), Version: "v1"}, // regression
		{Client: 2, Start: at(20), End: at(30), Version: "v1"}, // never saw v2
	}}
	got := r.Regressions("v1", "v2")
	require.Len(t, got, 1)
	assert.Contains(t, got[0], "client 1")
}

func TestEnv(t *testing.T) {
	p := httpfarm.FreePort(t)
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	require.NoError(t, err)
	ln.Close()
	t.Run("haproxy", func(t *testing.T) {
		assert.NotEmpty(t, httpfarm.Binary(t, "haproxy"))
	})
}

// TestBinaryMissingHelper calls Binary for a binary that does not exist; it
// runs only as the child of TestBinaryMissing.
func TestBinaryMissingHelper(t *testing.T) {
	if os.Getenv("HTTPFARM_CHILD") != "1" {
		t.Skip("runs only as a child of TestBinaryMissing")
	}
	httpfarm.Binary(t, "no-such-load-balancer-binary")
	t.Log("binary found?")
}

// TestBinaryMissing checks a missing binary fails the test when CI=true and
// skips it otherwise.
func TestBinaryMissing(t *testing.T) {
	for _, tc := range []struct {
		ci      string
		fail    bool
		message string
	}{
		{"true", true, "--- FAIL: TestBinaryMissingHelper"},
		{"", false, "--- SKIP: TestBinaryMissingHelper"},
	} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBinaryMissingHelper$", "-test.v")
		cmd.Env = append(os.Environ(), "HTTPFARM_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if tc.fail {
			assert.Error(t, err, "CI=%q: %s", tc.ci, out)
		} else {
			assert.NoError(t, err, "CI=%q: %s", tc.ci, out)
		}
		assert.Contains(t, string(out), tc.message)
		assert.Contains(t, string(out), "no-such-load-balancer-binary")
	}
}
