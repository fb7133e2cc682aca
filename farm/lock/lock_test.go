package lock_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/farm/lock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHostLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "locks")
	l := lock.File{Dir: dir}
	holder := lock.Holder{Farm: "farm-0123456789abcdef", Host: "ops-1", PID: os.Getpid(), User: "alice", RunID: "R1",
		Since: time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC), Label: "release v2"}
	release, err := l.Lock(t.Context(), holder)
	require.NoError(t, err)
	info, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), info.Mode().Perm())

	// A second lock of the same farm, from another open file of this very
	// process, is refused at once, naming the holder.
	_, err = l.Lock(t.Context(), lock.Holder{Farm: holder.Farm, Host: "ops-1", PID: 1, RunID: "R2"})
	require.ErrorIs(t, err, lock.ErrLocked)
	assert.ErrorContains(t, err, "run R1 (release v2) of alice on host ops-1, process "+fmt.Sprint(os.Getpid())+", since 2026-12-02T07:00:00Z")
	assert.ErrorContains(t, err, filepath.Join(dir, holder.Farm+".lock"))
	// Another farm is not locked.
	rel2, err := l.Lock(t.Context(), lock.Holder{Farm: "farm-fedcba9876543210"})
	require.NoError(t, err)
	require.NoError(t, rel2())

	st, err := l.Status(holder.Farm)
	require.NoError(t, err)
	assert.True(t, st.Held)
	assert.True(t, st.HolderKnown)
	assert.Equal(t, "R1", st.Holder.RunID)

	require.NoError(t, release())
	st, err = l.Status(holder.Farm)
	require.NoError(t, err)
	assert.False(t, st.Held)
	assert.False(t, st.HolderKnown, "a released lock names no holder")
	release, err = l.Lock(t.Context(), holder)
	require.NoError(t, err, "released: taken again")
	require.NoError(t, release())

	_, err = l.Lock(t.Context(), lock.Holder{Farm: "../etc/passwd"})
	assert.ErrorContains(t, err, `farm identity "../etc/passwd"`)
}

// TestMain lets the test binary be the other process of the tests that need
// two: with BALANCED_TEST_HOLD_LOCK=<dir>,<farm> it takes the host lock,
// prints "locked" and waits to be killed.
func TestMain(m *testing.M) {
	if v := os.Getenv("BALANCED_TEST_HOLD_LOCK"); v != "" {
		dir, id, _ := strings.Cut(v, ",")
		_, err := lock.File{Dir: dir}.Lock(context.Background(), lock.Holder{Farm: id, Host: hostname(), PID: os.Getpid(), User: "helper", RunID: "R-helper"})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println("locked")
		select {}
	}
	os.Exit(m.Run())
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// TestHostLockGoesWithItsProcess holds the lock in another process, kills it
// with SIGKILL, and takes the lock with no file touched.
func TestHostLockGoesWithItsProcess(t *testing.T) {
	dir := t.TempDir()
	const id = "farm-00000000000000aa"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "BALANCED_TEST_HOLD_LOCK="+dir+","+id)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "locked\n", line)

	l := lock.File{Dir: dir}
	_, err = l.Lock(t.Context(), lock.Holder{Farm: id, RunID: "R-test"})
	require.ErrorIs(t, err, lock.ErrLocked)
	assert.ErrorContains(t, err, fmt.Sprintf("run R-helper of helper on host %s, process %d", hostname(), cmd.Process.Pid))
	st, err := l.Status(id)
	require.NoError(t, err)
	assert.True(t, st.Held)
	assert.True(t, st.Alive && st.AliveKnown, "the holder runs on this host")

	require.NoError(t, cmd.Process.Kill()) // SIGKILL: no deferred code runs
	_ = cmd.Wait()
	killed = true
	st, err = l.Status(id)
	require.NoError(t, err)
	assert.False(t, st.Held, "the kernel released it")
	assert.True(t, st.HolderKnown, "the dead holder is still named")
	assert.False(t, st.Alive)
	release, err := l.Lock(t.Context(), lock.Holder{Farm: id, RunID: "R-test"})
	require.NoError(t, err, "taken again with no file removed by hand")
	require.NoError(t, release())
}
