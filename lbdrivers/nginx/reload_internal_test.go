package nginx

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProc writes a /proc-like tree: pid -> (ppid, cmdline).
func fakeProc(t *testing.T, procs map[int]struct {
	ppid    int
	cmdline string
}) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "uptime"), []byte("1.0 1.0\n"), 0o644)) // not a pid
	for pid, p := range procs {
		d := filepath.Join(dir, strconv.Itoa(pid))
		require.NoError(t, os.MkdirAll(d, 0o755))
		stat := strconv.Itoa(pid) + " (nginx: a) b) S " + strconv.Itoa(p.ppid) + " 1 1 0 -1\n"
		require.NoError(t, os.WriteFile(filepath.Join(d, "stat"), []byte(stat), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(d, "cmdline"), []byte(p.cmdline+"\x00"), 0o644))
	}
	return dir
}

func TestReloadWatch(t *testing.T) {
	type proc = struct {
		ppid    int
		cmdline string
	}
	const master = 100
	tests := []struct {
		name   string
		before []int
		procs  map[int]proc
		want   bool
	}{
		{"nothing happened yet", []int{101}, map[int]proc{101: {master, "nginx: worker process"}}, false},
		{"new worker, old still accepting", []int{101}, map[int]proc{101: {master, "nginx: worker process"}, 102: {master, "nginx: worker process"}}, false},
		{"old shutting down, no new worker", []int{101}, map[int]proc{101: {master, "nginx: worker process is shutting down"}}, false},
		{"reloaded", []int{101}, map[int]proc{101: {master, "nginx: worker process is shutting down"}, 102: {master, "nginx: worker process"}}, true},
		{"reloaded, old gone", []int{101}, map[int]proc{102: {master, "nginx: worker process"}}, true},
		{"older reload still exiting", []int{99, 101}, map[int]proc{99: {master, "nginx: worker process is shutting down"}, 101: {master, "nginx: worker process is shutting down"}, 102: {master, "nginx: worker process"}}, true},
		{"other process's child ignored", []int{101}, map[int]proc{101: {master, "nginx: worker process is shutting down"}, 102: {7, "nginx: worker process"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeProc(t, tc.procs)
			now := children(dir, master)
			assert.Equal(t, tc.want, reloaded(dir, tc.before, now), "children %v", now)
		})
	}
}
