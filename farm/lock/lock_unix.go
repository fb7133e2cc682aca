//go:build unix

package lock

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// tryLock takes an exclusive (or shared) flock(2) on f without waiting; ok
// is false when another open file holds a conflicting one.
func tryLock(f *os.File, exclusive bool) (ok bool, err error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// processAlive reports whether a process with the given ID runs on this host
// (kill(pid, 0): EPERM means it runs as another user).
func processAlive(pid int) (alive, known bool) {
	if pid <= 0 {
		return false, false
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM), true
}
