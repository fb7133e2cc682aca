// Package winrmtest is a fake WinRM server for testing code that uses package
// winrm (the Windows services driver), the way net/http/httptest fakes an
// HTTP server.
//
// NewServer starts a WS-Management endpoint on 127.0.0.1 that answers the
// Windows remote shell actions (Create, Command, Receive, Signal, Delete)
// with the SOAP bodies and WS-Addressing Action headers MS-WSMV specifies and
// the github.com/masterzen/winrm and pywinrm clients read, decodes
// "powershell.exe -EncodedCommand", and runs the driver's scripts against a
// table of services (the Services interface; an in-memory MapServices is
// provided, and ControllerServices puts any drivers.ServiceController, such
// as a simulated farm's, behind the fake) and, for the farm lease, an
// in-memory file system (MapFiles). Start one server per host: the server's
// Config.Host is the host name passed to Services, and its Addr
// ("127.0.0.1:port") is the target's Address.
//
// # A stock Windows host, by default
//
// The zero Config behaves as a stock Windows Server's WinRM service
// ("Installation and configuration for Windows Remote Management" and
// "Authentication for Remote Connections", Microsoft docs):
//
//   - A request without credentials is answered 401 with
//     "WWW-Authenticate: Negotiate" only; Basic is offered and accepted only
//     with Config.AllowBasic (Basic=false by default), and even then never
//     for a domain account, nor over plain HTTP without AllowUnencrypted.
//   - Negotiate carries NTLM (raw NTLMSSP tokens, as the Go and Python
//     clients send them). The fake implements the server side of NTLMv2
//     (MS-NLMP): it checks the NTLMv2 response against Config.Username and
//     Config.Password, the MIC when the client announces one, and, for
//     encrypted messages, every signature and sequence number; see ntlm.go
//     for what it does not check (LM/NTLMv1 refused, channel bindings
//     ignored, SPNEGO/Kerberos refused). The handshake and the sign-in belong
//     to the TCP connection, as with HTTP.sys.
//   - Over plain HTTP (AllowUnencrypted=false by default) only messages
//     sealed with the NTLM session are accepted (MS-WSMV 2.2.9.1.1,
//     multipart/encrypted with protocol
//     "application/HTTP-SPNEGO-session-encrypted"; the empty POST that
//     completes a handshake before the first sealed message is answered 200);
//     an unencrypted SOAP message is answered 401 after a successful sign-in,
//     as hashicorp/packer#6205 analyses. Answers to sealed requests are
//     sealed. HTTPS requests (Config.TLS) need no message encryption.
//   - A command's output is returned over several Receive answers (one per
//     stdout line, then stderr, then CommandState Done with the exit code),
//     and with Config.NoOutputReceives the first Receives of each command
//     are answered with the w:TimedOut fault (WSManFault code 2150858793),
//     as WinRM does when nothing was printed within the OperationTimeout
//     (MS-WSMV 3.1.4.14).
//
// Tests that need Basic or unencrypted HTTP (NewInMemoryServer, which serves
// plain HTTP only and is reached through Config.Dial, which the driver's
// encrypting transport cannot use) must enable them explicitly.
//
// # Scope and limitations
//
// The fake is not PowerShell. It recognises exactly the script shapes that
// package winrm sends, line by line, parses the service name back from its
// single-quoted literal with PowerShell's quoting rules, and refuses anything
// else without running it: Server.Unrecognised lists such commands, so a test
// can assert that nothing but the expected scripts arrived (an injected
// command would change the script's shape). The shapes are copied from
// package winrm on purpose; a change on one side fails the tests. They are
// the PowerShell 4.0 compatible shapes (New-Object, sc.exe start= words).
//
// Commands run synchronously when the Command request arrives; there is no
// stdin (Send), and the OperationTimeout a client sends is not waited for
// (NoOutputReceives answers at once). Config.TLS serves HTTPS with a
// self-signed certificate. Faults ([Server.Inject]) inject delays, HTTP errors and
// script failures; Config.Defect breaks the wire format on purpose, to prove
// that a third-party client notices.
package winrmtest
