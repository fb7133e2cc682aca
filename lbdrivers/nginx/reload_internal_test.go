package nginx

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeProcDir is a /proc-like tree for the worker-watching logic. Each
// process has the two files the driver reads: stat (as proc(5) lays it
// out: pid, the command name in parentheses, then state, ppid, ... with the
// start time as field 22) and cmdline (NUL-terminated title).
type fakeProcDir struct {
	t   *testing.T
	dir string
}

func newFakeProc(t *testing.T) *fakeProcDir {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "uptime"), []byte("1.0 1.0\n"), 0o644)) // not a pid
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "self"), 0o755))                         // not a pid either
	return &fakeProcDir{t: t, dir: dir}
}

// set writes process pid with its state letter, parent, start time and
// title (empty for a zombie). The command name holds a space and a ')' as NGINX's may not, but
// any process's may.
func (p *fakeProcDir) set(pid int, state string, ppid int, start uint64, title string) {
	p.t.Helper()
	d := filepath.Join(p.dir, strconv.Itoa(pid))
	require.NoError(p.t, os.MkdirAll(d, 0o755))
	// Fields 3-22: state ppid pgrp session tty_nr tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime priority nice
	// num_threads itrealvalue starttime, then more.
	stat := fmt.Sprintf("%d (ng x) y) %s %d %d %d 0 -1 4194624 10 0 0 0 1 2 0 0 20 0 1 0 %d 1000 200 18446744073709551615\n", pid, state, ppid, ppid, ppid, start)
	require.NoError(p.t, os.WriteFile(filepath.Join(d, "stat"), []byte(stat), 0o644))
	cmdline := []byte(title + "\x00")
	if title == "" {
		cmdline = nil // a zombie's or a kernel thread's cmdline is empty
	}
	require.NoError(p.t, os.WriteFile(filepath.Join(d, "cmdline"), cmdline, 0o644))
}

// worker starts an NGINX worker of master.
func (p *fakeProcDir) worker(pid, master int, start uint64) worker {
	p.set(pid, "S", master, start, "nginx: worker process")
	return worker{pid: pid, start: start}
}

// shutDown retitles a worker as NGINX does once it closed its listen sockets.
func (p *fakeProcDir) shutDown(w worker, master int) {
	p.set(w.pid, "S", master, w.start, "nginx: worker process is shutting down")
}

// exit removes the process, as once its parent reaped it.
func (p *fakeProcDir) exit(pid int) {
	require.NoError(p.t, os.RemoveAll(filepath.Join(p.dir, strconv.Itoa(pid))))
}

func TestReadStat(t *testing.T) {
	p := newFakeProc(t)
	p.set(7, "S", 1, 123456, "x")
	st, ok := readStat(p.dir, 7)
	require.True(t, ok)
	assert.Equal(t, procStat{state: 'S', ppid: 1, start: 123456}, st, "the fields after the last ')' of the command name")

	require.NoError(t, os.WriteFile(filepath.Join(p.dir, "7", "stat"), []byte("7 (nginx) S 1 1 1 0 -1\n"), 0o644))
	st, ok = readStat(p.dir, 7)
	require.True(t, ok)
	assert.Equal(t, procStat{state: 'S', ppid: 1}, st, "no field 22: start unknown")

	for _, bad := range []string{"", "7 nginx S 1", "7 (nginx)", "7 (nginx) S x 1"} {
		require.NoError(t, os.WriteFile(filepath.Join(p.dir, "7", "stat"), []byte(bad), 0o644))
		_, ok = readStat(p.dir, 7)
		assert.False(t, ok, "%q", bad)
	}
	_, ok = readStat(p.dir, 8)
	assert.False(t, ok, "no such process")

	if runtime.GOOS == "linux" {
		st, ok := readStat("/proc", os.Getpid())
		require.True(t, ok, "this test's own process")
		assert.Equal(t, os.Getppid(), st.ppid)
		assert.NotZero(t, st.start, "field 22 of the real /proc")
		again, _ := readStat("/proc", os.Getpid())
		assert.Equal(t, st.start, again.start, "the start time of a process does not change")
	}
}

func TestReloadWatch(t *testing.T) {
	const master = 100
	type proc struct {
		ppid  int
		title string
	}
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
			p := newFakeProc(t)
			for pid, pr := range tc.procs {
				p.set(pid, "S", pr.ppid, uint64(pid)*10, pr.title)
			}
			var before []worker
			for _, pid := range tc.before {
				before = append(before, worker{pid: pid, start: uint64(pid) * 10})
			}
			now := children(p.dir, master)
			assert.Equal(t, tc.want, reloaded(p.dir, before, now), "children %v", now)
		})
	}
}

// TestGenerationRunning: a drain waits for exactly the processes that were
// the master's workers before its reload, recognised by pid and start time.
func TestGenerationRunning(t *testing.T) {
	const master = 100
	tests := []struct {
		name  string
		old   worker
		setup func(p *fakeProcDir)
		want  bool
	}{
		{"shutting down, holding requests", worker{101, 5000}, func(p *fakeProcDir) {
			p.set(101, "S", master, 5000, "nginx: worker process is shutting down")
		}, true},
		{"busy on a CPU", worker{101, 5000}, func(p *fakeProcDir) {
			p.set(101, "R", master, 5000, "nginx: worker process is shutting down")
		}, true},
		{"still accepting (reload not taken)", worker{101, 5000}, func(p *fakeProcDir) {
			p.set(101, "S", master, 5000, "nginx: worker process")
		}, true},
		{"orphaned by a dead master, still running", worker{101, 5000}, func(p *fakeProcDir) {
			p.set(101, "S", 1, 5000, "nginx: worker process is shutting down")
		}, true},
		{"exited and reaped", worker{101, 5000}, func(*fakeProcDir) {}, false},
		{"exited, not reaped yet (zombie)", worker{101, 5000}, func(p *fakeProcDir) {
			p.set(101, "Z", master, 5000, "")
		}, false},
		{"dead", worker{101, 5000}, func(p *fakeProcDir) {
			p.set(101, "X", master, 5000, "")
		}, false},
		{"pid reused by a later worker of the same master", worker{101, 5000}, func(p *fakeProcDir) {
			p.set(101, "S", master, 9000, "nginx: worker process")
		}, false},
		{"pid reused by an unrelated process", worker{101, 5000}, func(p *fakeProcDir) {
			p.set(101, "S", 1, 9000, "sshd: session")
		}, false},
		{"start unknown: parent still the master", worker{101, 0}, func(p *fakeProcDir) {
			p.set(101, "S", master, 0, "nginx: worker process is shutting down")
		}, true},
		{"start unknown: pid now another parent's", worker{101, 0}, func(p *fakeProcDir) {
			p.set(101, "S", 1, 0, "sshd: session")
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newFakeProc(t)
			tc.setup(p)
			g := &generation{proc: p.dir, master: master, old: []worker{tc.old}}
			assert.Equal(t, tc.want, len(g.running()) > 0)
		})
	}
}

// TestGenerationOver: once every old worker was seen gone the generation
// stays over (an exited process never returns), and /proc is not read again.
func TestGenerationOver(t *testing.T) {
	p := newFakeProc(t)
	a, b := p.worker(101, 100, 10), p.worker(102, 100, 20)
	g := &generation{proc: p.dir, master: 100, old: []worker{a, b}}
	assert.Equal(t, []worker{a, b}, g.running())
	p.exit(101)
	assert.Equal(t, []worker{b}, g.running(), "one of two old workers exited")
	p.exit(102)
	assert.Empty(t, g.running())
	require.NoError(t, os.RemoveAll(p.dir))
	assert.Empty(t, g.running(), "over: nothing more to read")
}

// TestNewGeneration: the old workers are those listed before the signal,
// plus a worker shutting down after it that the listing missed (started by
// the master in between); the new workers are not old.
func TestNewGeneration(t *testing.T) {
	const master = 100
	p := newFakeProc(t)
	w1 := p.worker(101, master, 10)
	before := children(p.dir, master)
	require.Equal(t, []worker{w1}, before)
	late := p.worker(102, master, 20) // respawned after the listing
	p.shutDown(w1, master)
	p.shutDown(late, master)
	fresh := p.worker(103, master, 30)
	now := children(p.dir, master)
	require.True(t, reloaded(p.dir, before, now))
	g := newGeneration(p.dir, master, before, now)
	assert.ElementsMatch(t, []worker{w1, late}, g.old)
	assert.NotContains(t, g.old, fresh)
}

func TestLingering(t *testing.T) {
	const master = 100
	p := newFakeProc(t)
	old := p.worker(101, master, 10)
	p.shutDown(old, master)
	p.worker(102, master, 20)
	p.set(103, "Z", master, 30, "")
	other := p.worker(104, 7, 40)
	p.shutDown(other, 7)
	assert.Equal(t, []worker{old}, lingering(p.dir, master), "only the master's workers shutting down; a zombie has exited")
	p.exit(101)
	assert.Empty(t, lingering(p.dir, master))
}
