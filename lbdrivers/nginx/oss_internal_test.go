package nginx

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeNginxReload reloads a fake NGINX in a fake /proc as NGINX does on HUP
// ("Controlling nginx"): it starts a new worker with the new configuration
// and asks the old ones to shut down gracefully; they retitle themselves
// "worker process is shutting down" and exit only once they have serviced
// their clients (the test decides when, with fakeProcDir.exit).
type fakeNginxReload struct {
	p      *fakeProcDir
	master int
	next   int // next pid and start time
}

func (r *fakeNginxReload) reload(context.Context) (bool, *generation, error) {
	before := children(r.p.dir, r.master)
	for _, w := range before {
		r.p.shutDown(w, r.master)
	}
	r.next++
	r.p.worker(r.master+r.next, r.master, uint64(1000*r.next))
	now := children(r.p.dir, r.master)
	if !reloaded(r.p.dir, before, now) {
		return true, nil, assert.AnError
	}
	return true, newGeneration(r.p.dir, r.master, before, now), nil
}

// fakeNginx builds a driver whose reloads act on a fake /proc holding a
// master (pid 100) and its first worker (pid 101).
func fakeNginx(t *testing.T) (*OSS, *fakeNginxReload, OSSConfig) {
	t.Helper()
	dir := t.TempDir()
	p := newFakeProc(t)
	const master = 100
	p.set(master, "S", 1, 1, "nginx: master process nginx")
	p.worker(master+1, master, 1000)
	cfg := OSSConfig{
		File:     filepath.Join(dir, "upstream.conf"),
		Upstream: "backend",
		Members:  []Member{{Name: "fe1", Address: "10.0.0.1:80"}, {Name: "fe2", Address: "10.0.0.2:80"}, {Name: "fe3", Address: "10.0.0.3:80"}},
		// PIDFile is what a driver that did not drain a member reads to
		// find the master; this driver's reloads are fakeNginxReload's.
		PIDFile:     filepath.Join(dir, "nginx.pid"),
		MainConfig:  "/etc/nginx/nginx.conf",
		DrainPeriod: time.Minute,
	}
	require.NoError(t, os.WriteFile(cfg.PIDFile, []byte(strconv.Itoa(master)+"\n"), 0o644))
	d, err := NewOSS(cfg)
	require.NoError(t, err)
	r := &fakeNginxReload{p: p, master: master, next: 1}
	d.reload = r
	d.runTest = func(context.Context, []string) error { return nil }
	require.NoError(t, d.Init(t.Context()))
	return d, r, cfg
}

func stateOf(t *testing.T, d *OSS, m string) drivers.MemberState {
	t.Helper()
	st, err := d.Status(t.Context(), m)
	require.NoError(t, err)
	return st[0].State
}

// TestOSSDrainWaitsForItsOldWorkers: a member drained by reload N reads
// Draining until the drain period has passed and every worker that existed
// before reload N has exited; workers started after reload N do not hold it.
func TestOSSDrainWaitsForItsOldWorkers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r, _ := fakeNginx(t)
		p := r.p
		require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe1")) // reload 1: old worker 101, new 102
		assert.Equal(t, drivers.Draining, stateOf(t, d, "fe1"))
		time.Sleep(time.Minute)
		assert.Equal(t, drivers.Draining, stateOf(t, d, "fe1"), "past the drain period, worker 101 still runs the upstream where fe1 is up")

		require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe2")) // reload 2: old 101 and 102, new 103
		p.exit(101)
		assert.Equal(t, drivers.Out, stateOf(t, d, "fe1"), "every worker from before reload 1 exited; 102 and 103 run files where fe1 is down")
		time.Sleep(time.Minute)
		assert.Equal(t, drivers.Draining, stateOf(t, d, "fe2"), "102 predates reload 2")

		// 102 exits and the kernel hands its pid to an unrelated process.
		p.exit(102)
		p.set(102, "S", 1, 999999, "sshd: session")
		assert.Equal(t, drivers.Out, stateOf(t, d, "fe2"), "a reused pid is not the old worker")

		require.NoError(t, d.SetState(t.Context(), drivers.Out, "fe1", "fe2"))
		require.NoError(t, d.SetState(t.Context(), drivers.Serving, "fe1")) // reload 3: old 103, new 104
		assert.Equal(t, drivers.Serving, stateOf(t, d, "fe1"))
		require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe1")) // reload 4: old 103 (shutting down) and 104, new 105
		time.Sleep(time.Minute)
		assert.Equal(t, drivers.Draining, stateOf(t, d, "fe1"), "a new drain waits for its own reload's old workers")
		p.exit(103)
		assert.Equal(t, drivers.Draining, stateOf(t, d, "fe1"), "104 predates reload 4")
		p.set(104, "Z", r.master, 1000*4, "")
		assert.Equal(t, drivers.Out, stateOf(t, d, "fe1"), "an exited worker its master has not reaped yet sends nothing")
	})
}

// TestOSSDrainPeriodIsTheLowerBound: old workers that exit at once do not
// shorten the drain period.
func TestOSSDrainPeriodIsTheLowerBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r, _ := fakeNginx(t)
		require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe1"))
		r.p.exit(101)
		assert.Equal(t, drivers.Draining, stateOf(t, d, "fe1"))
		time.Sleep(59 * time.Second)
		assert.Equal(t, drivers.Draining, stateOf(t, d, "fe1"))
		time.Sleep(time.Second)
		assert.Equal(t, drivers.Out, stateOf(t, d, "fe1"))
	})
}

// TestOSSDrainOfAnotherDriver: a driver that did not drain a member (a
// resumed run reading the file) does not know that reload's workers, so it
// waits until no worker of the master is shutting down: any of them may
// predate the drain.
func TestOSSDrainOfAnotherDriver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, r, cfg := fakeNginx(t)
		require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe3")) // 101 shutting down, 102 serves
		resumed, err := NewOSS(cfg)
		require.NoError(t, err)
		resumed.reload.(*signalReloader).procDir = r.p.dir
		time.Sleep(time.Minute)
		assert.Equal(t, drivers.Draining, stateOf(t, resumed, "fe3"), "worker 101 is shutting down")
		r.p.exit(101)
		assert.Equal(t, drivers.Out, stateOf(t, resumed, "fe3"), "no worker shutting down: every one runs a file where fe3 is down")

		require.NoError(t, os.Remove(cfg.PIDFile))
		require.NoError(t, d.SetState(t.Context(), drivers.Serving, "fe3"))
		require.NoError(t, d.SetState(t.Context(), drivers.Draining, "fe3"))
		time.Sleep(time.Minute)
		assert.Equal(t, drivers.Out, stateOf(t, resumed, "fe3"), "no master to watch (NGINX stopped): the drain period alone decides")
	})
}
