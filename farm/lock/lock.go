// Package lock keeps two runs of one farm from running at the same time on
// one host: [File] is an advisory lock of the operating system on a file
// named after the farm's identity, released by the kernel when its process
// ends, however it ends. A run of a farm.Plan with a journal takes it by
// default (farm.PlanConfig.Lock); [Locker] is the interface a lock kept
// elsewhere implements, and [File.Status] says who holds a farm's lock, for
// a status display or an unlock command.
//
// Runs on other hosts are excluded by the farm lease on the Deployment
// Controller (drivers.FarmLeaser), which the balanced plan takes as well.
package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/balanced-deploy/balanced/internal/names"
)

// ErrLocked is wrapped by the error a [Locker] returns when another run
// holds the lock, and by the error farm.Plan.Run returns when another run
// holds the farm lease (drivers.ErrLeaseHeld).
var ErrLocked = errors.New("another run holds the farm's lock")

// Holder says who holds a lock: enough for an operator to find the person
// and the process.
type Holder struct {
	// Farm is the identity of the farm locked (farm.Farm.Identity).
	Farm string `json:"farm,omitempty"`
	// Host is the holder's host name.
	Host string `json:"host"`
	// PID is the holder's process ID.
	PID int `json:"pid"`
	// User is the operating-system user that runs the holder.
	User string `json:"user,omitempty"`
	// RunID identifies the run (the journal's run ID); a resumed run keeps
	// the ID of the run it continues.
	RunID string `json:"run_id,omitempty"`
	// Since is when the lock was taken.
	Since time.Time `json:"since"`
	// Plan and Label identify the plan being run (farm.Plan.ID, farm.PlanConfig.Label:
	// for the balanced plan, "release <version>").
	Plan  string `json:"plan,omitempty"`
	Label string `json:"label,omitempty"`
}

// String describes the holder for an error message: "run R (release 2.4.0)
// of user on host H, process 123, since 2026-11-27T03:00:00Z".
func (h Holder) String() string {
	run := h.RunID
	if run == "" {
		run = "(no run ID)"
	}
	label := ""
	if h.Label != "" {
		label = " (" + h.Label + ")"
	}
	usr := h.User
	if usr == "" {
		usr = "(unknown user)"
	}
	return fmt.Sprintf("run %s%s of %s on host %s, process %d, since %s", run, label, usr, h.Host, h.PID, h.Since.UTC().Format(time.RFC3339))
}

// Locker gives a run exclusive use of a farm. The default is a [File];
// teams may implement it over a store of their own.
type Locker interface {
	// Lock takes the lock of the farm holder.Farm for holder, or fails at
	// once with an error wrapping [ErrLocked] that names the current
	// holder. The returned function releases it.
	Lock(ctx context.Context, holder Holder) (release func() error, err error)
}

var (
	_ Locker = File{}
)

// File is the default [Locker]: an advisory lock of the operating system
// (flock(2) on Unix, LockFileEx on Windows) on the file
// <Dir>/<farm identity>.lock, so that every run on one host of one farm
// excludes the others, whatever the path of their spec or journal. The kernel
// releases the lock when its holder's process ends, even by kill -9 or a
// crash: no lock is ever left to remove by hand.
//
// The file holds the holder as JSON ([Holder]) while the lock is held,
// and is emptied, not removed, on release (removing a lock file races with a
// process that has just opened it). The directory is created with mode 0700.
//
// It excludes only the runs that use the same directory: by default one per
// user ([DefaultDir]). Runs of other users or hosts are excluded by the
// farm lease ([github.com/balanced-deploy/balanced/drivers.FarmLeaser]).
type File struct {
	// Dir is the directory of the lock files. Empty means [DefaultDir].
	Dir string
}

// DefaultDir returns the default directory of host locks:
// <user cache directory>/balanced/locks ($XDG_CACHE_HOME or ~/.cache on
// Linux, ~/Library/Caches on macOS, %LocalAppData% on Windows), or
// <temporary directory>/balanced-locks-<uid> when the user has no cache
// directory. It is per user: point every operator of a host at one shared
// directory (farm.PlanConfig.Lock.Dir, the spec's lock_dir) to exclude each other
// on that host too.
func DefaultDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "balanced", "locks")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("balanced-locks-%d", os.Getuid()))
}

func (l File) dir() string {
	if l.Dir != "" {
		return l.Dir
	}
	return DefaultDir()
}

// Path returns the lock file of the farm with the given identity.
func (l File) Path(farmID string) (string, error) {
	if err := names.Name("farm identity", farmID); err != nil {
		return "", fmt.Errorf("host lock: %w", err)
	}
	return filepath.Join(l.dir(), farmID+".lock"), nil
}

// lockTries and lockRetry bound how long Lock retries a lock held for an
// instant by [File.Status] probing it.
const (
	lockTries = 20
	lockRetry = 5 * time.Millisecond
)

// Lock takes the lock of holder.Farm, or fails at once with an error wrapping
// [ErrLocked] that names the holder and its lock file.
func (l File) Lock(ctx context.Context, holder Holder) (func() error, error) {
	path, err := l.Path(holder.Farm)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("host lock: %w (want a writable directory: set farm.PlanConfig.Lock.Dir, or lock_dir in the spec)", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("host lock: %w (want a writable directory: set farm.PlanConfig.Lock.Dir, or lock_dir in the spec)", err)
	}
	for try := 1; ; try++ {
		ok, err := tryLock(f, true)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("host lock %s: %w", path, err)
		}
		if ok {
			break
		}
		if try == lockTries {
			other, known := readHolder(f)
			f.Close()
			if !known {
				return nil, fmt.Errorf("%w: farm %s: lock file %s is held by a process that has not written its name yet; try again", ErrLocked, holder.Farm, path)
			}
			return nil, fmt.Errorf("%w: farm %s is being deployed by %s (lock file %s); wait for it to end, or stop process %d on %s: the lock goes with it",
				ErrLocked, holder.Farm, other, path, other.PID, other.Host)
		}
		t := time.NewTimer(lockRetry)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		}
	}
	data, _ := json.Marshal(holder)
	if err := writeHolder(f, append(data, '\n')); err != nil {
		_ = unlock(f)
		f.Close()
		return nil, fmt.Errorf("host lock %s: write holder: %w", path, err)
	}
	return func() error {
		// Emptied before the lock goes, so that a file with a holder in it
		// and no lock means its holder died.
		terr := f.Truncate(0)
		uerr := unlock(f)
		cerr := f.Close()
		if err := errors.Join(terr, uerr, cerr); err != nil {
			return fmt.Errorf("release host lock %s: %w", path, err)
		}
		return nil
	}, nil
}

func writeHolder(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

func readHolder(f *os.File) (Holder, bool) {
	info, err := f.Stat()
	if err != nil || info.Size() == 0 || info.Size() > 1<<20 {
		return Holder{}, false
	}
	data := make([]byte, info.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return Holder{}, false
	}
	var h Holder
	if json.Unmarshal(data, &h) != nil {
		return Holder{}, false
	}
	return h, true
}

// FileStatus is what [File.Status] reads.
type FileStatus struct {
	// Path is the lock file.
	Path string
	// Held is true while a process holds the lock.
	Held bool
	// Holder is the holder the file names, if any: the current holder when
	// Held, otherwise the last holder, which ended without releasing the
	// lock (killed or crashed; the kernel released it).
	Holder Holder
	// HolderKnown is false when the file names no holder.
	HolderKnown bool
	// Alive says whether the holder's process runs, when Holder.Host is this
	// host and the system can tell (AliveKnown).
	Alive, AliveKnown bool
}

// Status reads the lock of the farm with the given identity without taking
// it (it holds a shared lock for an instant to tell whether it is held; a
// [File.Lock] at that instant retries).
func (l File) Status(farmID string) (FileStatus, error) {
	path, err := l.Path(farmID)
	if err != nil {
		return FileStatus{}, err
	}
	st := FileStatus{Path: path}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("host lock: %w", err)
	}
	defer f.Close()
	free, err := tryLock(f, false)
	if err != nil {
		return st, fmt.Errorf("host lock %s: %w", path, err)
	}
	if free {
		_ = unlock(f)
	}
	st.Held = !free
	st.Holder, st.HolderKnown = readHolder(f)
	if host, _ := os.Hostname(); st.HolderKnown && st.Holder.Host == host {
		st.Alive, st.AliveKnown = processAlive(st.Holder.PID)
	}
	return st, nil
}
