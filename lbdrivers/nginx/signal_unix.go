//go:build unix

package nginx

import "syscall"

// signalSupported reports whether the driver can reload NGINX by signalling
// the master process named in a pid file.
const signalSupported = true

// sendHUP asks the NGINX master to reload its configuration gracefully.
func sendHUP(pid int) error { return syscall.Kill(pid, syscall.SIGHUP) }
