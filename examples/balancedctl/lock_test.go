package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm/lock"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/spec"
)

// TestStatusLocksAndUnlock reads the farm's locks with status <spec>: the
// host lock held by a live run, the farm lease held by a run on another
// host; unlock refuses until -force names that run, then removes its lease.
func TestStatusLocksAndUnlock(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "lock_dir: "+filepath.Join(dir, "locks")+"\n")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		code, out, errOut := sf.do(t, "status", specPath)
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, out, "journal:     "+filepath.Join(dir, "deploy.journal")+" (no run recorded yet)")
		assert.Contains(t, out, "host lock:   free")
		assert.Contains(t, out, "farm lease:  free (on fe01)")

		sp, err := spec.Load(specPath, spec.WithLookupEnv(sf.cli.lookupEnv))
		require.NoError(t, err)
		f, _, err := sp.BuildWith(t.Context(), sf.cli.drivers)
		require.NoError(t, err)
		release, err := lock.File{Dir: sp.LockDir}.Lock(t.Context(), lock.Holder{Farm: f.Identity(), Host: hostname(t), PID: os.Getpid(),
			User: "alice", RunID: "R-here", Since: time.Now().Add(-time.Minute)})
		require.NoError(t, err)
		code, out, _ = sf.do(t, "status", specPath)
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, fmt.Sprintf("host lock:   held by run R-here of alice on host %s, process %d", hostname(t), os.Getpid()))
		assert.Contains(t, out, "(for 1m0s)")
		assert.Contains(t, out, fmt.Sprintf("process %d is running", os.Getpid()))
		code, _, errOut = sf.do(t, "unlock", specPath, "-force", "R-here")
		assert.Equal(t, exitLocked, code)
		assert.Contains(t, errOut, "that run is alive on this host; stop it")
		require.NoError(t, release())

		leaser := sf.sim.Services()
		other := drivers.LeaseHolder{Host: "ops-2", PID: 77, User: "bob", RunID: "R-there", Release: "release v2"}
		_, err = leaser.AcquireLease(t.Context(), drivers.Target{Name: "fe01"}, drivers.LeaseRequest{Farm: f.Identity(), Holder: other, TTL: 2 * time.Minute})
		require.NoError(t, err)
		time.Sleep(30 * time.Second)
		code, out, _ = sf.do(t, "status", specPath)
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, "farm lease:  held on fe01 by bob@ops-2 pid 77 run R-there (release v2)")
		assert.Contains(t, out, "expires in 1m30s")
		assert.Contains(t, out, "balancedctl unlock "+specPath+" -force R-there")

		code, _, errOut = sf.do(t, "run", specPath, "--yes")
		assert.Equal(t, exitLocked, code, "the lease keeps this host's run off the farm")
		assert.Contains(t, errOut, "bob@ops-2 pid 77 run R-there")
		assert.Empty(t, sf.sim.Actions(), "nothing was touched")

		code, _, errOut = sf.do(t, "unlock", specPath)
		assert.Equal(t, exitLocked, code)
		assert.Contains(t, errOut, "-force R-there")
		code, _, errOut = sf.do(t, "unlock", specPath, "-force", "R-other")
		assert.Equal(t, exitLocked, code)
		assert.Contains(t, errOut, "-force R-other names another run")
		code, out, errOut = sf.do(t, "unlock", specPath, "-force", "R-there")
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, out, "removed the farm lease of bob@ops-2 pid 77 run R-there")
		_, held, err := leaser.ReadLease(t.Context(), drivers.Target{Name: "fe01"}, f.Identity())
		require.NoError(t, err)
		assert.False(t, held)
	})
}

func hostname(t *testing.T) string {
	h, err := os.Hostname()
	require.NoError(t, err)
	return h
}

// TestStatusLiveBothGroupsServing halts a run at switch-traffic, then puts
// the Updating group in next to the Loaded one, as a crash between the two
// moves of a switch leaves it: status -live shows both groups serving two
// versions and names the command that puts it right, which does.
func TestStatusLiveBothGroupsServing(t *testing.T) {
	dir := t.TempDir()
	specPath := writeSpec(t, dir, "lock_dir: "+filepath.Join(dir, "locks")+"\n")
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t)
		require.NoError(t, sf.sim.Inject(fault.Fault{Op: simulate.OpSwitch, Err: fmt.Errorf("switch refused: %w", drivers.ErrPermissionDenied), Times: 1}))
		require.NoError(t, sf.sim.Start(t.Context()))
		code, _, errOut := sf.do(t, "run", specPath, "--yes")
		require.Equal(t, exitFailed, code, errOut)
		require.NoError(t, sf.sim.LoadBalancer("").SetState(t.Context(), drivers.Serving, "fe01", "fe02"))
		time.Sleep(10 * time.Second) // health checks see them

		code, out, errOut := sf.do(t, "status", specPath, "-live")
		assert.Equal(t, exitFailed, code, errOut)
		assert.Contains(t, out, "resume from: switch-traffic")
		assert.Contains(t, out, "zone default:")
		assert.Regexp(t, `updating: fe01 +serving +healthy +serves v2; scheduler stopped/Disabled; deployment running/Automatic; deployment-controller running/Automatic`, out)
		assert.Regexp(t, `loaded: +fe03 +serving +healthy +serves v1; scheduler stopped/Disabled; deployment stopped/Disabled`, out)
		assert.Contains(t, out, "! BOTH GROUPS SERVING: updating (fe01, fe02: version v2) and loaded (fe03, fe04: version v1)")
		assert.Contains(t, out, "balancedctl resume "+specPath+" puts it right")

		code, _, errOut = sf.do(t, "resume", specPath)
		require.Equal(t, exitOK, code, errOut)
		code, out, errOut = sf.do(t, "status", specPath, "-live")
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, out, "serving:  both groups, one version (version v2)")
		assert.NotContains(t, out, "BOTH GROUPS SERVING")
		time.Sleep(10 * time.Second)
		sf.sim.Stop()
	})
}
