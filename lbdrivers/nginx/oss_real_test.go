package nginx_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// namedBackends starts n loopback HTTP servers that answer with their name.
func namedBackends(t *testing.T, n int) []nginx.Member {
	t.Helper()
	var members []nginx.Member
	for i := range n {
		name := fmt.Sprintf("fe%d", i+1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, name) // a client gone away has nothing to be told
		}))
		t.Cleanup(srv.Close)
		members = append(members, nginx.Member{Name: name, Address: strings.TrimPrefix(srv.URL, "http://")})
	}
	return members
}

// hits sends n requests through NGINX and counts the answers per backend.
func hits(t *testing.T, addr string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		resp, err := http.Get("http://" + addr + "/")
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "body %s", body)
		got[string(body)]++
	}
	return got
}

// TestOSSRoutesTraffic checks through a real NGINX that a member set out or
// draining gets no new request as soon as SetState returns, and gets them
// again once serving.
func TestOSSRoutesTraffic(t *testing.T) {
	members := namedBackends(t, 3)
	var d *nginx.OSS
	n := startNginx(t, func(n *realNginx) {
		var err error
		d, err = nginx.NewOSS(n.ossConfig(members))
		require.NoError(t, err)
		require.NoError(t, d.Init(t.Context()))
	})
	all := hits(t, n.Addr, 30)
	assert.Equal(t, map[string]int{"fe1": 10, "fe2": 10, "fe3": 10}, all, "round robin over three serving members")

	require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe1"))
	require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe2"))
	assert.Equal(t, map[string]int{"fe3": 20}, hits(t, n.Addr, 20), "no request reaches a draining or out member after SetState returns")

	require.NoError(t, d.SetState(t.Context(), drivers.Serving, "fe1", "fe2"))
	back := hits(t, n.Addr, 30)
	assert.Len(t, back, 3, "every member serves again: %v", back)
}

// TestOSSRealNginxRefusesBadFile makes the real nginx -t refuse the rendered
// file (an argument NGINX rejects) and checks the rollback: the error carries
// NGINX's message, the file is the previous one and NGINX still serves.
func TestOSSRealNginxRefusesBadFile(t *testing.T) {
	members := namedBackends(t, 2)
	n := startNginx(t, func(n *realNginx) {
		d, err := nginx.NewOSS(n.ossConfig(members))
		require.NoError(t, err)
		require.NoError(t, d.Init(t.Context()))
	})
	before, err := os.ReadFile(n.File)
	require.NoError(t, err)

	cfg := n.ossConfig(members)
	cfg.Directives = append(cfg.Directives, "keepalive lots")
	bad, err := nginx.NewOSS(cfg)
	require.NoError(t, err, "the driver cannot know every NGINX rule; nginx -t does")
	err = bad.SetState(t.Context(), drivers.Out, "fe1")
	require.Error(t, err)
	assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
	assert.Contains(t, err.Error(), `invalid value "lots"`)
	after, err := os.ReadFile(n.File)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "rolled back")
	assert.Len(t, hits(t, n.Addr, 10), 2, "NGINX still serves with the previous file")
}

// TestOSSReloadCommand uses the default reload, `nginx -s reload` (no pid
// file given to the driver), which returns before the new workers run; the
// driver then waits ReloadSettle (default 1s).
func TestOSSReloadCommand(t *testing.T) {
	members := namedBackends(t, 2)
	var d *nginx.OSS
	n := startNginx(t, func(n *realNginx) {
		cfg := n.ossConfig(members)
		cfg.PIDFile = "" // ReloadSettle: the default, 1s
		var err error
		d, err = nginx.NewOSS(cfg)
		require.NoError(t, err)
		require.NoError(t, d.Init(t.Context()))
	})
	require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe2"))
	assert.Equal(t, map[string]int{"fe1": 10}, hits(t, n.Addr, 10))
	require.NoError(t, d.SetState(t.Context(), drivers.Serving, "fe2"))
	assert.Len(t, hits(t, n.Addr, 10), 2)
}

// TestOSSInFlightRequestSurvivesDrain holds a request open on a backend,
// drains and then takes that backend out through real reloads, and checks
// that the request still completes: old workers finish what they hold.
func TestOSSInFlightRequestSurvivesDrain(t *testing.T) {
	hf := httpfarm.New(t, httpfarm.Config{Backends: 2})
	var members []nginx.Member
	arrived := map[string]<-chan struct{}{}
	var releases []func()
	for _, b := range hf.Backends() {
		members = append(members, nginx.Member{Name: b.Name(), Address: b.Addr()})
		a, release := b.Hold("held")
		arrived[b.Name()] = a
		releases = append(releases, release)
	}
	defer func() {
		for _, r := range releases {
			r()
		}
	}()
	var d *nginx.OSS
	n := startNginx(t, func(n *realNginx) {
		var err error
		d, err = nginx.NewOSS(n.ossConfig(members))
		require.NoError(t, err)
		require.NoError(t, d.Init(t.Context()))
	})

	got := heldRequest(t, n.Addr)
	var holder string
	select {
	case <-arrived["fe1"]:
		holder = "fe1"
	case <-arrived["fe2"]:
		holder = "fe2"
	case <-t.Context().Done():
		t.Fatal("the held request never reached a backend")
	}
	require.NoError(t, d.SetState(t.Context(), drivers.Draining, holder))
	require.NoError(t, d.SetState(t.Context(), drivers.Serving, holder))
	require.NoError(t, d.SetState(t.Context(), drivers.Out, holder))
	for _, r := range releases {
		r()
	}
	a := <-got
	require.NoError(t, a.err, "the in-flight request must survive the reloads")
	assert.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, holder, a.backend)
}

// heldAnswer is how a held request through NGINX ended.
type heldAnswer struct {
	status  int
	backend string
	err     error // of the request or of reading its body
}

// heldRequest sends one request through the NGINX at addr that its backend
// holds until released (httpfarm.HeaderHold), and returns where its answer
// will arrive.
func heldRequest(t *testing.T, addr string) <-chan heldAnswer {
	got := make(chan heldAnswer, 1)
	go func() {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+"/", nil)
		req.Header.Set(httpfarm.HeaderHold, "held")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- heldAnswer{err: err}
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got <- heldAnswer{status: resp.StatusCode, backend: resp.Header.Get(httpfarm.HeaderBackend), err: err}
	}()
	return got
}

// workerProc is a process as /proc shows it: its parent, its state letter,
// its start time (clock ticks after boot) and its command line.
type workerProc struct {
	ppid    int
	state   string
	start   string
	cmdline string
}

// readProc reads /proc/<pid>; ok is false once the process is gone.
func readProc(pid int) (workerProc, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return workerProc{}, false
	}
	i := strings.LastIndexByte(string(stat), ')')
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return workerProc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return workerProc{ppid: ppid, state: f[0], start: f[19], cmdline: string(cmd)}, true
}

// nginxChildren lists the processes whose parent is master: pid -> start time.
func nginxChildren(t *testing.T, master int) map[int]string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	out := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok && p.ppid == master {
			out[pid] = p.start
		}
	}
	return out
}

// stillRuns reports whether the process that had pid and start still runs
// (not exited, not a zombie, its pid not reused by another process).
func stillRuns(pid int, start string) (workerProc, bool) {
	p, ok := readProc(pid)
	return p, ok && p.start == start && p.state != "Z" && p.state != "X"
}

// TestOSSDrainWaitsForOldWorkers holds a request through NGINX on member A,
// drains A and checks that A reads Draining past the drain period for as
// long as the old worker that holds the request runs (it proxies with the
// old upstream, where A is still up), and Out only once every worker that
// existed before the reload has exited.
func TestOSSDrainWaitsForOldWorkers(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the driver watches the workers through /proc, on Linux only")
	}
	const (
		drainPeriod = 200 * time.Millisecond
		// within bounds every wait for NGINX or the backends: far above
		// what they take (milliseconds), for a loaded machine.
		within = 20 * time.Second
	)
	hf := httpfarm.New(t, httpfarm.Config{Backends: 2})
	var members []nginx.Member
	arrived := map[string]<-chan struct{}{}
	var releases []func()
	for _, b := range hf.Backends() {
		members = append(members, nginx.Member{Name: b.Name(), Address: b.Addr()})
		a, release := b.Hold("held")
		arrived[b.Name()] = a
		releases = append(releases, release)
	}
	releaseAll := func() {
		for _, r := range releases {
			r()
		}
	}
	defer releaseAll()
	var d *nginx.OSS
	n := startNginx(t, func(n *realNginx) {
		cfg := n.ossConfig(members)
		cfg.DrainPeriod = drainPeriod
		var err error
		d, err = nginx.NewOSS(cfg)
		require.NoError(t, err)
		require.NoError(t, d.Init(t.Context()))
	})
	master := n.cmd.Process.Pid // daemon off: the process started is the master
	old := nginxChildren(t, master)
	require.NotEmpty(t, old, "nginx master %d has workers", master)

	got := heldRequest(t, n.Addr)
	var holder, other string
	select {
	case <-arrived["fe1"]:
		holder, other = "fe1", "fe2"
	case <-arrived["fe2"]:
		holder, other = "fe2", "fe1"
	case <-time.After(within):
		t.Fatal("the held request never reached a backend")
	}

	require.NoError(t, d.SetState(t.Context(), drivers.Draining, holder))
	drained := time.Now()
	holding := 0
	for pid, start := range old {
		if p, ok := stillRuns(pid, start); ok {
			assert.Contains(t, p.cmdline, "shutting down", "old worker %d", pid)
			holding++
		}
	}
	require.Positive(t, holding, "an old worker still runs: it holds the request")

	// New requests go to the other member at once.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: within}
	for range 4 {
		resp, err := client.Get("http://" + n.Addr + "/")
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, other, resp.Header.Get(httpfarm.HeaderBackend), "a new request after the drain")
	}

	// Past the drain period the old worker still runs, still holds the
	// request and could still send A more: A must read Draining.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for time.Since(drained) < 3*drainPeriod {
		st, err := d.Status(t.Context(), holder)
		require.NoError(t, err)
		require.Equal(t, drivers.Draining, st[0].State, "%s %v after the drain, while an old worker holds its request", holder, time.Since(drained).Round(time.Millisecond))
		<-tick.C
	}
	select {
	case a := <-got:
		t.Fatalf("the held request ended before its release: %+v", a)
	default:
	}

	releaseAll()
	select {
	case a := <-got:
		require.NoError(t, a.err, "the in-flight request survives the drain")
		assert.Equal(t, http.StatusOK, a.status)
		assert.Equal(t, holder, a.backend)
	case <-time.After(within):
		t.Fatal("the held request did not complete after its release")
	}

	// Out only once every worker from before the reload has exited.
	deadline := time.Now().Add(within)
	for {
		st, err := d.Status(t.Context(), holder)
		require.NoError(t, err)
		if st[0].State == drivers.Out {
			break
		}
		require.Equal(t, drivers.Draining, st[0].State)
		require.True(t, time.Now().Before(deadline), "%s still draining %v after the held request ended", holder, within)
		<-tick.C
	}
	for pid, start := range old {
		p, ok := stillRuns(pid, start)
		assert.False(t, ok, "%s read Out while old worker %d still runs: %+v", holder, pid, p)
	}
}
