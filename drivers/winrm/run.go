package winrm

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	mzwinrm "github.com/masterzen/winrm"

	"github.com/masterzen/winrm/soap"

	"github.com/balanced-deploy/balanced/drivers"
)

// output is what a script printed and its exit code.
type output struct {
	stdout, stderr string
	code           int
}

// runResult is what the worker goroutine of run reports.
type runResult struct {
	out  output
	err  error
	sent bool // the Command request was sent: the script may have run
}

// client returns the cached client for host:port, creating it on first use.
// A *mzwinrm.Client is safe for concurrent use: each request builds its own
// http.Client over a shared transport.
func (d *Driver) client(host string, port int) (*mzwinrm.Client, error) {
	key := net.JoinHostPort(host, strconv.Itoa(port))
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.clients[key]; ok {
		return c, nil
	}
	ep := mzwinrm.NewEndpoint(urlHost(host), port, d.s.https, d.s.insecure, d.s.caCert, nil, nil, d.s.timeout+5*time.Second)
	params := *mzwinrm.DefaultParameters // a copy: never mutate the package default
	// The OperationTimeout bounds how long the server holds a Receive when
	// the command prints nothing (it then answers w:TimedOut and the client
	// asks again). With NTLM the requests to one host are serialised (see
	// serialTransport), so it is kept short there: another call to the host
	// waits at most that long for its turn.
	limit := 60 * time.Second
	if d.s.auth == AuthNegotiate {
		limit = 15 * time.Second
	}
	secs := int(min(d.s.timeout, limit) / time.Second)
	params.Timeout = "PT" + strconv.Itoa(max(secs, 1)) + "S"
	params.TransportDecorator = func() mzwinrm.Transporter { return d.transport(host, port) }
	c, err := mzwinrm.NewClientWithParameters(ep, d.s.username, d.s.password.Reveal(), &params)
	if err != nil {
		return nil, fmt.Errorf("%w: building the WinRM client for %s: %w", drivers.ErrInvalidArgument, key, err)
	}
	d.clients[key] = c
	return c, nil
}

// transport builds the client library's transport for the configured
// authentication, wrapped so that SOAP faults become errors.
func (d *Driver) transport(host string, port int) mzwinrm.Transporter {
	var inner mzwinrm.Transporter
	switch {
	case d.s.auth == AuthKerberos:
		user, _ := splitAccount(d.s.username)
		inner = mzwinrm.NewClientKerberos(&mzwinrm.Settings{
			WinRMUsername: user, WinRMPassword: d.s.password.Reveal(),
			WinRMHost: urlHost(host), WinRMPort: port, WinRMProto: "https",
			KrbRealm: d.s.kerberos.Realm, KrbConfig: d.s.kerberos.ConfigPath,
			KrbSpn: d.s.kerberos.SPN, KrbCCache: d.s.kerberos.CCachePath,
		})
	case d.s.encrypting():
		// masterzen/winrm's encrypting transport (MS-WSMV 2.2.9.1.1 with
		// github.com/bodgit/ntlmssp): each request authenticates with an
		// empty POST, then sends the SOAP message sealed with the session.
		// NewEncryption fails only for protocols other than "ntlm".
		enc, _ := mzwinrm.NewEncryption("ntlm")
		inner = &serialTransport{inner: enc, wait: d.s.timeout + 5*time.Second, sem: make(chan struct{}, 1)}
	case d.s.auth == AuthNegotiate:
		// NTLM authenticates the connection: its three legs must use one
		// connection, which the shared transport guarantees only while no
		// other request to the host runs (see serialTransport).
		inner = &serialTransport{inner: mzwinrm.NewClientNTLMWithDial(d.s.dial), wait: d.s.timeout + 5*time.Second, sem: make(chan struct{}, 1)}
	default:
		inner = mzwinrm.NewClientWithDial(d.s.dial)
	}
	return &faultTransport{inner: inner}
}

// splitAccount splits "DOMAIN\user" and "user@domain" into user and domain.
func splitAccount(account string) (user, domain string) {
	if d, u, ok := strings.Cut(account, `\`); ok {
		return u, d
	}
	if u, d, ok := strings.Cut(account, "@"); ok {
		return u, d
	}
	return account, ""
}

// serialTransport lets one request at a time through the NTLM transport of
// one host. NTLM authenticates a connection (MS-NLMP; HTTP.sys keeps the
// handshake state per connection), and the client library sends each leg of
// the handshake as a separate request on a pooled transport, whose idle
// connections are picked last-in first-out: with two requests at once, one
// request's AUTHENTICATE leg can leave on the connection the other
// negotiated on, and the server answers 401. The encrypting transport
// additionally keeps the NTLM context of its last request in itself.
type serialTransport struct {
	inner mzwinrm.Transporter
	wait  time.Duration
	sem   chan struct{}
}

func (t *serialTransport) Transport(ep *mzwinrm.Endpoint) error { return t.inner.Transport(ep) }

func (t *serialTransport) Post(c *mzwinrm.Client, req *soap.SoapMessage) (string, error) {
	timer := time.NewTimer(t.wait)
	defer timer.Stop()
	select {
	case t.sem <- struct{}{}:
	case <-timer.C:
		return "", fmt.Errorf("another request to this host has not been answered within %v", t.wait)
	}
	defer func() { <-t.sem }()
	return t.inner.Post(c, req)
}

// urlHost brackets an IPv6 literal, since the client formats
// "scheme://host:port/wsman" itself.
func urlHost(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// run executes script with powershell.exe on host:port. It returns once the
// script finished or ctx is done, whichever comes first; in the second case
// the remote command is signalled to terminate and cleaned up in the
// background (the WinRM client's shell and command requests take no context;
// they are bounded by the connect timeout, 30 s, and the HTTP response
// timeout, Timeout + 5 s).
//
// Errors are classified. ErrUnavailable is used only when the Command
// request was certainly not delivered (connection refused, the shell could
// not be created, the server answered the Command request with a fault, or
// ctx ended before the Command request was sent), so the script did not run.
// A timeout after the Command request was sent is not classified: the
// script may have run.
func (d *Driver) run(ctx context.Context, host string, port int, script string) (output, error) {
	c, err := d.client(host, port)
	if err != nil {
		return output{}, err
	}
	var (
		mu   sync.Mutex
		sent bool
	)
	done := make(chan runResult, 1)
	go func() { done <- execute(ctx, c, script, &mu, &sent) }()

	var r runResult
	select {
	case r = <-done:
	case <-ctx.Done():
		select {
		case r = <-done: // finished at the same moment: keep the real outcome
		default:
			mu.Lock()
			r = runResult{err: ctx.Err(), sent: sent}
			mu.Unlock()
		}
	}
	if r.err == nil {
		return r.out, nil
	}
	return r.out, d.classifyTransport(r.err, r.sent)
}

// statusRe finds the HTTP status the client library reports for a non-SOAP
// answer ("http error 401", "http response error: 401 - ...", and the
// Kerberos transport's "request returned: 401 - ...").
var statusRe = regexp.MustCompile(`(?:http (?:response )?error:?|request returned:) (\d{3})\b`)

// classifyTransport classifies a transport error. sent tells whether the
// Command request may have reached the server.
func (d *Driver) classifyTransport(err error, sent bool) error {
	if m := statusRe.FindStringSubmatch(err.Error()); m != nil && (m[1] == "401" || m[1] == "403") {
		return drivers.Classify(drivers.ErrPermissionDenied, fmt.Errorf("HTTP %s: %s: %w", m[1], d.s.authHint(m[1]), err))
	}
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &badHost) || errors.As(err, &verify) {
		// Not retryable and not the server's fault: returned unclassified.
		return fmt.Errorf("the server's TLS certificate is not trusted (set Config.CACert, services.ca_cert in a balancedctl spec, to the CA that signs it): %w", err)
	}
	if !sent {
		return drivers.Classify(drivers.ErrUnavailable, err)
	}
	return err
}

// authHint says what an HTTP 401 (or 403) most likely means for the
// configured authentication, with the server settings that cause it
// ("Authentication for Remote Connections" and "Installation and
// configuration for Windows Remote Management", Microsoft docs).
func (s settings) authHint(status string) string {
	if status == "403" {
		return "the account authenticated but may not use WinRM: it must be an administrator on the server or a member of Remote Management Users"
	}
	switch {
	case s.auth == AuthBasic && !s.https:
		return "the server refused Basic authentication. Windows disables Basic by default (winrm/config/service/auth Basic=false) and accepts it " +
			"only for local accounts, and over plain HTTP it also needs AllowUnencrypted=true (winrm/config/service); or the credentials are wrong. " +
			"The default, Negotiate over HTTPS, works on a stock server"
	case s.auth == AuthBasic:
		return "the server refused Basic authentication. Windows disables Basic by default (winrm/config/service/auth Basic=false) and accepts it " +
			"only for local accounts; or the credentials are wrong. The default, Negotiate, works on a stock server"
	case s.auth == AuthKerberos:
		return "the server refused the Kerberos ticket: check Config.Kerberos (services.kerberos in a spec: realm, SPN HTTP/<host>), the clocks and winrm/config/service/auth Kerberos=true"
	case !s.https:
		return "the server refused the Negotiate (NTLM) credentials: check the user name (DOMAIN\\user for a domain account) and password. " +
			"Over plain HTTP the messages are encrypted with NTLM; a server with AllowUnencrypted=false (the default) answers 401 to " +
			"any message that is not, so a 401 after a successful sign-in means encryption was not negotiated"
	default:
		return "the server refused the Negotiate (NTLM) credentials: check the user name (DOMAIN\\user for a domain account), the password, " +
			"and that winrm/config/service/auth Negotiate=true (the default)"
	}
}

// commandRefused reports whether the Command request certainly did not start
// the script: the connection was refused (the request never left), or the
// server answered with a SOAP fault instead of a CommandResponse.
func commandRefused(err error) bool {
	var f *wsmanFault
	if errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &f) {
		return true
	}
	var ce *mzwinrm.ExecuteCommandError
	return errors.As(err, &ce) && strings.Contains(ce.Error(), "unsupported action") && strings.Contains(ce.Error(), "fault")
}

// execute opens a shell, runs script and collects its output. It marks sent
// (under mu) just before the Command request, unless ctx already ended.
// The shell is deleted before it returns.
func execute(ctx context.Context, c *mzwinrm.Client, script string, mu *sync.Mutex, sent *bool) runResult {
	shell, err := c.CreateShell()
	if err != nil {
		return runResult{err: fmt.Errorf("creating the remote shell: %w", err)}
	}
	defer func() { _ = shell.Close() }()
	mu.Lock()
	if ctx.Err() != nil {
		mu.Unlock()
		return runResult{err: ctx.Err()}
	}
	*sent = true
	mu.Unlock()
	cmd, err := shell.ExecuteWithContext(ctx, mzwinrm.Powershell(script))
	if err != nil {
		return runResult{err: fmt.Errorf("sending the command: %w", err), sent: !commandRefused(err)}
	}
	var stdout, stderr strings.Builder
	var outErr, errErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _, outErr = io.Copy(&stdout, cmd.Stdout) }()
	go func() { defer wg.Done(); _, errErr = io.Copy(&stderr, cmd.Stderr) }()
	cmd.Wait()
	wg.Wait()
	out := output{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ExitCode()}
	var runErr error
	if err := cmp.Or(outErr, errErr); err != nil {
		runErr = fmt.Errorf("reading the command output: %w", err)
	}
	return runResult{out: out, err: runErr, sent: true}

}
