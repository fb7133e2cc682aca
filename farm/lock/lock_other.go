//go:build !unix && !windows

package lock

import (
	"errors"
	"os"
	"runtime"
)

// tryLock fails: this system has no advisory lock the kernel releases for a
// dead process. Set farm.PlanConfig.Locker to a lock of your own.
func tryLock(*os.File, bool) (bool, error) {
	return false, errors.New("host locks are not supported on " + runtime.GOOS + ": set farm.PlanConfig.Locker")
}

func unlock(*os.File) error { return nil }

func processAlive(int) (alive, known bool) { return false, false }
