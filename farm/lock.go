package farm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrLocked is wrapped by the error a [Locker] returns when another run
// holds the lock.
var ErrLocked = errors.New("another run holds the farm's lock")

// LockHolder says who holds a lock.
type LockHolder struct {
	// Host is the holder's host name.
	Host string `json:"host"`
	// PID is the holder's process ID.
	PID int `json:"pid"`
	// Since is when the lock was taken.
	Since time.Time `json:"since"`
	// Plan and Label identify the plan being run (Plan.ID, PlanConfig.Label).
	Plan  string `json:"plan,omitempty"`
	Label string `json:"label,omitempty"`
}

// String describes the holder for an error message.
func (h LockHolder) String() string {
	return fmt.Sprintf("host %s, process %d, since %s (plan %s %s)", h.Host, h.PID, h.Since.Format(time.RFC3339), h.Plan, h.Label)
}

// Locker gives a run exclusive use of a farm. Teams that run deployments from
// several machines implement it over a shared store; [FileLock] is the
// default, next to the journal.
type Locker interface {
	// Lock takes the lock for holder, or fails at once with an error
	// wrapping [ErrLocked] that names the current holder. The returned
	// function releases it.
	Lock(ctx context.Context, holder LockHolder) (release func() error, err error)
}

var _ Locker = FileLock{}

// FileLock is a [Locker] that holds a lock file created exclusively
// (O_EXCL) and containing the holder as JSON. If a run dies without releasing
// it, the error names the holder and the file to remove.
type FileLock struct {
	// Path is the lock file's path.
	Path string
}

// Lock creates the lock file or reports who holds it.
func (l FileLock) Lock(ctx context.Context, holder LockHolder) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(l.Path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		var other LockHolder
		data, rerr := os.ReadFile(l.Path)
		if rerr == nil && json.Unmarshal(data, &other) == nil {
			return nil, fmt.Errorf("%w: %s; if that run is gone, remove %s", ErrLocked, other, l.Path)
		}
		return nil, fmt.Errorf("%w: lock file %s exists (holder unreadable); if no run is going on, remove it", ErrLocked, l.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("take lock %s: %w", l.Path, err)
	}
	data, _ := json.Marshal(holder)
	_, werr := f.Write(data)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(l.Path)
		return nil, fmt.Errorf("write lock %s: %w", l.Path, errors.Join(werr, cerr))
	}
	return func() error {
		if err := os.Remove(l.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("release lock %s: %w", l.Path, err)
		}
		return nil
	}, nil
}

func currentHolder(p *Plan) LockHolder {
	host, _ := os.Hostname()
	return LockHolder{Host: host, PID: os.Getpid(), Since: time.Now(), Plan: p.planID(), Label: p.cfg.Label}
}
