// Package winrm is a drivers.ServiceController for the OutSystems Windows
// services (Scheduler, Deployment, Deployment Controller) on front-end
// servers, driven over WinRM with PowerShell (github.com/masterzen/winrm).
//
// It connects to each target's host (drivers.Target.Host; an Address may
// carry its own port, "fe01:15986") over HTTPS by default, verifying the
// server's certificate (Config.PlainHTTP is the explicit, warned opt-in for
// the HTTP listener), runs one short PowerShell script per
// call and reads the service back from Win32_Service as JSON. Service names
// come from Config.ServiceNames (by default the OutSystems display names) and
// reach PowerShell only as single-quoted literals, after validation; see
// Config.ServiceNames and the tests with hostile names.
//
// Errors are classified with the drivers error classes:
//   - drivers.ErrNotFound: no service has the name or display name.
//   - drivers.ErrPermissionDenied: HTTP 401/403, or PowerShell reported
//     "Access is denied".
//   - drivers.ErrInvalidArgument: a bad name, role, host or wanted state,
//     refused before anything was sent.
//   - drivers.ErrUnavailable: only when the script certainly did not run
//     (connection refused, shell creation failed, the Command request was
//     refused, or the deadline passed before the command was sent). A timeout
//     after the command was sent is returned unclassified, wrapping
//     context.DeadlineExceeded: the service may have changed.
//
// What it is not: it does not implement drivers.IdleReporter. Whether the
// Deployment Service has finished installing is not visible from the Windows
// service state (the service runs while idle), and OutSystems exposes the
// thread states only in Service Center; probe the application instead.
// It manages no other services and installs nothing.
//
// Limitations: the WinRM client takes no context for opening a shell and
// sending the command, so after ctx ends the driver returns at once while
// those requests finish (or time out: 30 s to connect, Config.Timeout + 5 s
// for an answer) in the background. Kerberos and client certificates are
// not supported. The client library returns WS-Management faults as
// successful answers; the driver turns them into errors (except the
// operation timeout, which means "no output yet" and is polled again).
//
// Package winrmtest provides a fake WinRM server that runs these scripts
// against an in-memory table of services, for tests.
package winrm
