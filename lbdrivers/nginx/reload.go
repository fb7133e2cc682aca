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
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// reloader applies the managed file to a running NGINX. sent reports
// whether NGINX may have been asked to reload: after that the file must not
// be rolled back, since NGINX reads it when it reloads.
type reloader interface {
	reload(ctx context.Context) (sent bool, err error)
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

func (r *commandReloader) reload(ctx context.Context) (bool, error) {
	if err := runCommand(ctx, r.argv); err != nil {
		// nginx -s reload exits non-zero when it could not signal the
		// master; a custom command is trusted to do the same.
		if cerr := ctx.Err(); cerr != nil {
			return true, fmt.Errorf("%w (%w)", cerr, err)
		}
		return false, drivers.Classify(drivers.ErrUnavailable, err)
	}
	return true, sleep(ctx, r.settle)
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

func (r *signalReloader) reload(ctx context.Context) (bool, error) {
	raw, err := os.ReadFile(r.pidFile)
	if err != nil {
		return false, fmt.Errorf("%w: read nginx pid file: %w", drivers.ErrUnavailable, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 1 {
		return false, fmt.Errorf("%w: nginx pid file %s holds %q: want a process id", drivers.ErrUnavailable, r.pidFile, strings.TrimSpace(string(raw)))
	}
	proc := r.procDir
	if proc == "" {
		proc = "/proc"
	}
	watch := true
	if _, err := os.Stat(filepath.Join(proc, strconv.Itoa(pid))); err != nil {
		watch = false
	}
	var before []int
	if watch {
		before = children(proc, pid)
	}
	if err := sendHUP(pid); err != nil {
		class := drivers.ErrUnavailable // no such process: NGINX is not running
		if errors.Is(err, os.ErrPermission) {
			class = drivers.ErrPermissionDenied
		}
		return false, fmt.Errorf("%w: signal nginx master %d: %w", class, pid, err)
	}
	if !watch {
		return true, sleep(ctx, r.settle)
	}
	deadline := time.Now().Add(r.timeout)
	for {
		now := children(proc, pid)
		if reloaded(proc, before, now) {
			return true, nil
		}
		if time.Now().After(deadline) {
			return true, fmt.Errorf("nginx master %d: reload not confirmed within %v (old workers %v, workers now %v); check the error log", pid, r.timeout, before, now)
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return true, err
		}
	}
}

// reloaded reports whether a new worker runs and every old worker is gone or
// shutting down.
func reloaded(proc string, before, now []int) bool {
	fresh := false
	for _, p := range now {
		if !slices.Contains(before, p) && !shuttingDown(proc, p) {
			fresh = true
		}
	}
	if !fresh {
		return false
	}
	for _, p := range before {
		if slices.Contains(now, p) && !shuttingDown(proc, p) {
			return false
		}
	}
	return true
}

// children lists the processes whose parent is pid, from /proc/<n>/stat.
func children(proc string, pid int) []int {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(proc, e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The command name is in parentheses and may hold spaces: the
		// fields after the last ')' are state, ppid, ...
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, n)
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
