// Package winrmtest is a fake WinRM server for testing code that uses package
// winrm (the Windows services driver), the way net/http/httptest fakes an
// HTTP server.
//
// NewServer starts a WS-Management endpoint on 127.0.0.1 that answers the
// Windows remote shell actions (Create, Command, Receive, Signal, Delete)
// with the SOAP bodies and WS-Addressing Action headers the
// github.com/masterzen/winrm client checks. It enforces HTTP Basic
// authentication, decodes "powershell.exe -EncodedCommand", and runs the
// driver's scripts against a table of services (the Services interface; an
// in-memory MapServices is provided, and ControllerServices puts any
// drivers.ServiceController, such as a simulated farm's, behind the fake).
// Start one server per host: the server's Config.Host is the host name passed
// to Services, and its Addr ("127.0.0.1:port") is the target's Address.
//
// # Scope and limitations
//
// The fake is not PowerShell. It recognises exactly the script shapes that
// package winrm sends, line by line, parses the service name back from its
// single-quoted literal with PowerShell's quoting rules, and refuses anything
// else without running it: Server.Unrecognised lists such commands, so a test
// can assert that nothing but the expected scripts arrived (an injected
// command would change the script's shape). The shapes are copied from
// package winrm on purpose; a change on one side fails the tests.
//
// Commands run synchronously when the Command request arrives, and the first
// Receive returns all output with the Done state; there is no streaming, no
// stdin (Send) and no OperationTimeout. Only Basic authentication is
// supported (no NTLM, Kerberos or message encryption); Config.TLS serves
// HTTPS with a self-signed certificate.
// Faults (AddFault) inject delays, HTTP errors and script failures.
package winrmtest
