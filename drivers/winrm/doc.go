// Package winrm is a drivers.ServiceController for the OutSystems Windows
// services (Scheduler, Deployment, Deployment Controller) on front-end
// servers, driven over WinRM with PowerShell (github.com/masterzen/winrm),
// and a drivers.FarmLeaser that keeps the farm lease in a file on the
// Deployment Controller server.
//
// It connects to each target's host (drivers.Target.Host; an Address may
// carry its own port, "fe01:15986"), runs one short PowerShell script per
// call and reads the service back from Win32_Service as JSON. Service names
// come from Config.ServiceNames (by default the OutSystems display names) and
// reach PowerShell only as single-quoted literals, after validation; see
// Config.ServiceNames and the tests with hostile names.
//
// # Defaults, and what a server must allow
//
// The zero Config is what a domain-joined Windows Server accepts out of the
// box: Negotiate (NTLM) authentication over HTTPS on port 5986, the server's
// certificate verified against the system roots or Config.CACert. The WinRM
// facts this relies on, with their sources:
//
//   - WinRM listens on 5985 (HTTP) and 5986 (HTTPS); the HTTPS listener
//     needs a certificate whose name is the host's ("Installation and
//     configuration for Windows Remote Management", Microsoft docs;
//     winrm quickconfig -transport:https).
//   - The service's authentication defaults are Basic=false, Kerberos=true,
//     Negotiate=true, Certificate=false, CredSSP=false, and
//     AllowUnencrypted=false (same page, "WinRM service default
//     configuration settings").
//   - Basic authentication works only for local accounts, never for
//     domain accounts ("Authentication for Remote Connections", Microsoft
//     docs), and a stock server answers a Basic request with HTTP 401: with
//     Basic as default a driver is refused by every stock server
//     (hashicorp/packer#6205).
//   - With AllowUnencrypted=false, a server reached over plain HTTP accepts
//     only messages encrypted with the authentication's session key (MS-WSMV
//     2.2.9.1, "Encrypted Message Types"; the multipart/encrypted framing
//     with protocol "application/HTTP-SPNEGO-session-encrypted"). An NTLM
//     client that authenticates but does not encrypt is answered 401 after a
//     successful sign-in (packer#6205; masterzen/winrm PR #184: the
//     library's plain NTLM transport, github.com/Azure/go-ntlmssp, cannot
//     seal). So over plain HTTP the driver uses the library's encrypting
//     transport, winrm.NewEncryption("ntlm") (github.com/bodgit/ntlmssp).
//   - NTLM authenticates the TCP connection, one handshake spanning several
//     requests; the driver therefore sends one request at a time per host
//     with NTLM, so that the legs of a handshake share their connection.
//   - A Receive that finds no new output within the request's
//     OperationTimeout is answered with the w:TimedOut fault (WSManFault
//     code 2150858793); the client asks again. Output arrives over several
//     Receive answers, the last one with CommandState Done and the exit code
//     (MS-WSMV 3.1.4.14).
//   - The account must be an administrator on the server (or a member of
//     Remote Management Users, plus the right to control the services);
//     otherwise the server answers 401 or 403, or PowerShell reports
//     "Access is denied".
//
// Basic (Config.Auth "basic") is an explicit opt-in for servers configured
// for it, and over plain HTTP it sends the password in clear (New logs a
// warning). Kerberos (Config.Auth "kerberos", github.com/jcmturner/gokrb5
// through the client library) needs HTTPS and Config.Kerberos; only its
// configuration checks are tested, since a Kerberos sign-in needs a KDC. A
// 401 is reported as drivers.ErrPermissionDenied with the likely server-side
// cause for the scheme in use (Basic disabled, AllowUnencrypted, the account
// name form).
//
// # Scripts
//
// The scripts run on Windows PowerShell 4.0 (Windows Server 2012 R2) and
// later: New-Object instead of [Type]::new() (PowerShell 5.0), Get-CimInstance
// (3.0). The startup type is set with sc.exe config <name> start=
// auto|delayed-auto|demand|disabled ("sc.exe config", Microsoft docs),
// because Set-Service cannot set delayed start before PowerShell 6 and, on
// 5.1, Set-Service -StartupType Automatic leaves the delayed-start flag set:
// restoring Automatic must clear it (start= auto) and restoring
// AutomaticDelayedStart must set it (start= delayed-auto). The delayed-start
// flag is read from the service's registry value DelayedAutostart, which
// sc.exe writes.
//
// # Farm lease
//
// The Driver is a drivers.FarmLeaser: the lease is the file
// Driver.LeasePath(farm) on the Deployment Controller server
// (Config.LeaseDir, by default C:\ProgramData\balanced, then a hash of the
// farm identity and .lease), holding the lease as JSON (holder host, pid,
// user, run and release; acquired, renewed and expires). It is created with
// FileMode.CreateNew, which fails when the file exists, so of two
// orchestrators that try at once exactly one creates it; every later change
// is a compare-and-replace (the file opened with FileShare.None) or a
// compare-and-delete (FileShare.Delete) of the content read, so a change
// made meanwhile by another run is never overwritten. Times come from the
// server's clock, so orchestrators with different clocks agree on expiry.
// An expired lease, or one forced with the holder's RunID, is taken over.
//
// # Errors
//
// Errors are classified with the drivers error classes:
//   - drivers.ErrNotFound: no service has the name or display name.
//   - drivers.ErrPermissionDenied: HTTP 401/403, or PowerShell reported
//     "Access is denied".
//   - drivers.ErrInvalidArgument: a bad name, role, host, wanted state or
//     configuration, refused before anything was sent.
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
// for an answer) in the background. The encrypting transport (Negotiate over
// plain HTTP) and the Kerberos transport open their own connections, so
// Config.Dial cannot be used with them; the encrypting transport also has
// no answer timeout of its own. Client certificates and CredSSP are not
// supported. The client library returns WS-Management faults as
// successful answers; the driver turns them into errors (except the
// operation timeout, which means "no output yet" and is polled again).
//
// Package winrmtest provides a fake WinRM server that authenticates as a
// stock Windows host does and runs these scripts against an in-memory table
// of services and files, for tests.
package winrm
