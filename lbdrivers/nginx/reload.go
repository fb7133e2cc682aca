package nginx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// reloader applies the managed file to a running NGINX. sent reports
// whether NGINX may have been asked to reload: after that the file must not
// be rolled back, since NGINX reads it when it reloads. gen, when not nil,
// names the worker processes that existed before the reload (returned
// whenever sent is true and the workers can be watched, even with an error).
type reloader interface {
	reload(ctx context.Context) (sent bool, gen *generation, err error)
}

// runCommand runs argv and returns an error carrying its output (NGINX's
// message) when it fails. The output holds no secrets: nginx -t prints file
// names and directive errors.
func runCommand(ctx context.Context, argv []string) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// Once ctx is done the command is killed; do not wait on output pipes
	// a child of it may still hold.
	cmd.WaitDelay = 500 * time.Millisecond
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if msg == "" {
			return fmt.Errorf("%s: %w", argv[0], err)
		}
		return fmt.Errorf("%s: %w: %s", argv[0], err, msg)
	}
	return nil
}

// commandReloader runs a reload command (nginx -s reload), then waits a
// settle time: the command returns once the signal is sent, before the new
// workers run.
type commandReloader struct {
	argv   []string
	settle time.Duration
}

func (r *commandReloader) reload(ctx context.Context) (bool, *generation, error) {
	if err := runCommand(ctx, r.argv); err != nil {
		// nginx -s reload exits non-zero when it could not signal the
		// master; a custom command is trusted to do the same.
		if cerr := ctx.Err(); cerr != nil {
			return true, nil, fmt.Errorf("%w (%w)", cerr, err)
		}
		return false, nil, drivers.Classify(drivers.ErrUnavailable, err)
	}
	return true, nil, sleep(ctx, r.settle)
}

// signalReloader sends SIGHUP to the master process named in a pid file and
// waits until the reload took effect: on Linux it watches the master's
// children until every old worker is shutting down (it stopped accepting
// connections) or gone and a new worker runs; elsewhere it waits a settle
// time.
type signalReloader struct {
	pidFile string
	timeout time.Duration
	settle  time.Duration
	// procDir is /proc; tests may point it elsewhere.
	procDir string
}

func (r *signalReloader) proc() string {
	if r.procDir == "" {
		return "/proc"
	}
	return r.procDir
}

// master reads the master's process id from the pid file.
func (r *signalReloader) master() (int, error) {
	raw, err := os.ReadFile(r.pidFile)
	if err != nil {
		return 0, fmt.Errorf("%w: read nginx pid file: %w", drivers.ErrUnavailable, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("%w: nginx pid file %s holds %q: want a process id", drivers.ErrUnavailable, r.pidFile, strings.TrimSpace(string(raw)))
	}
	return pid, nil
}

// watchable reports whether the master's processes can be seen in /proc.
func (r *signalReloader) watchable(pid int) bool {
	_, ok := readStat(r.proc(), pid)
	return ok
}

func (r *signalReloader) reload(ctx context.Context) (bool, *generation, error) {
	pid, err := r.master()
	if err != nil {
		return false, nil, err
	}
	proc := r.proc()
	watch := r.watchable(pid)
	var before []worker
	if watch {
		before = children(proc, pid)
	}
	if err := sendHUP(pid); err != nil {
		class := drivers.ErrUnavailable // no such process: NGINX is not running
		if errors.Is(err, os.ErrPermission) {
			class = drivers.ErrPermissionDenied
		}
		return false, nil, fmt.Errorf("%w: signal nginx master %d: %w", class, pid, err)
	}
	if !watch {
		return true, nil, sleep(ctx, r.settle)
	}
	deadline := time.Now().Add(r.timeout)
	for {
		now := children(proc, pid)
		if reloaded(proc, before, now) {
			return true, newGeneration(proc, pid, before, now), nil
		}
		if time.Now().After(deadline) {
			return true, newGeneration(proc, pid, before, now), fmt.Errorf("nginx master %d: reload not confirmed within %v (old workers %v, workers now %v); check the error log", pid, r.timeout, pids(before), pids(now))
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return true, newGeneration(proc, pid, before, now), err
		}
	}
}

// worker identifies one process for as long as it lives. A pid alone does
// not: once the process exited the kernel may give its pid to another one
// (a new NGINX worker among them). The pid and the start time do.
type worker struct {
	pid int
	// start is the start time, /proc/<pid>/stat field 22 (clock ticks
	// after boot); zero when it could not be read.
	start uint64
}

func (w worker) String() string { return strconv.Itoa(w.pid) }

func pids(ws []worker) []int {
	out := make([]int, len(ws))
	for i, w := range ws {
		out[i] = w.pid
	}
	return out
}

// generation is what one reload leaves behind: the worker processes of the
// master that existed before it. They were started with an older
// configuration, in which a member drained by this reload is still up, and
// they keep proxying the requests they hold with it until they exit: NGINX
// "Controlling nginx": old workers close their listen sockets, keep
// servicing their clients and exit once all are serviced. They are the only
// processes that can still send that member requests.
type generation struct {
	proc   string
	master int
	old    []worker
	// over is set once every old worker was seen gone: they never return.
	over atomic.Bool
	// logged is set once the wait past the drain period was logged.
	logged atomic.Bool
}

// newGeneration records the workers that existed before a reload: those
// listed before it, plus any worker shutting down after it that was not
// listed (one the master started between the listing and the signal, which
// then received the same request to shut down). Adding one that is not old
// only makes the drain wait longer.
func newGeneration(proc string, master int, before, now []worker) *generation {
	old := slices.Clone(before)
	for _, w := range now {
		if !slices.Contains(before, w) && shuttingDown(proc, w.pid) {
			old = append(old, w)
		}
	}
	return &generation{proc: proc, master: master, old: old}
}

// running returns the old workers that still run.
func (g *generation) running() []worker {
	if g.over.Load() {
		return nil
	}
	var out []worker
	for _, w := range g.old {
		if g.runs(w) {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		g.over.Store(true)
	}
	return out
}

// runs reports whether w is still the same live process: its /proc entry
// exists, it is not a zombie (an exited child its master has not reaped
// yet), and its start time is the one recorded, or, when no start time
// could be recorded, its parent is still the master.
func (g *generation) runs(w worker) bool {
	st, ok := readStat(g.proc, w.pid)
	if !ok || st.state == 'Z' || st.state == 'X' || st.state == 'x' {
		return false
	}
	if w.start != 0 && st.start != 0 {
		return st.start == w.start
	}
	return st.ppid == g.master
}

// lingering lists the master's children that are shutting down: the
// workers of every earlier configuration that still run.
func lingering(proc string, master int) []worker {
	var out []worker
	for _, w := range children(proc, master) {
		if st, ok := readStat(proc, w.pid); ok && st.state != 'Z' && st.state != 'X' && st.state != 'x' && shuttingDown(proc, w.pid) {
			out = append(out, w)
		}
	}
	return out
}

// reloaded reports whether a new worker runs and every old worker is gone or
// shutting down.
func reloaded(proc string, before, now []worker) bool {
	fresh := false
	for _, w := range now {
		if !slices.Contains(before, w) && !shuttingDown(proc, w.pid) {
			fresh = true
		}
	}
	if !fresh {
		return false
	}
	for _, w := range before {
		if slices.Contains(now, w) && !shuttingDown(proc, w.pid) {
			return false
		}
	}
	return true
}

// procStat is what the driver reads from /proc/<pid>/stat.
type procStat struct {
	state byte   // field 3: R, S, D, Z (zombie), X (dead), ...
	ppid  int    // field 4
	start uint64 // field 22, starttime in clock ticks after boot; 0 if absent
}

// readStat parses /proc/<pid>/stat; ok is false when the process is gone or
// the file cannot be read.
func readStat(proc string, pid int) (procStat, bool) {
	stat, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, false
	}
	// The command name (field 2) is in parentheses and may hold spaces
	// and parentheses: the fields after the last ')' are field 3 on.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return procStat{}, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, false
	}
	st := procStat{state: f[0][0], ppid: ppid}
	if len(f) > 19 {
		st.start, _ = strconv.ParseUint(f[19], 10, 64)
	}
	return st, true
}

// children lists the processes whose parent is pid, from /proc/<n>/stat.
func children(proc string, pid int) []worker {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	var out []worker
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(proc, n); ok && st.ppid == pid {
			out = append(out, worker{pid: n, start: st.start})
		}
	}
	return out
}

// shuttingDown reports whether worker p has set its title to "worker process
// is shutting down", which NGINX does once it closed its listening sockets.
// A process that has exited counts as shutting down.
func shuttingDown(proc string, p int) bool {
	cmdline, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(p), "cmdline"))
	if err != nil {
		return true
	}
	return bytes.Contains(cmdline, []byte("shutting down")) || len(cmdline) == 0
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("nginx: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
