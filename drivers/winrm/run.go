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
	secs := int(min(d.s.timeout, 60*time.Second) / time.Second)
	params.Timeout = "PT" + strconv.Itoa(max(secs, 1)) + "S"
	dial, ntlm := d.s.dial, d.s.ntlm
	params.TransportDecorator = func() mzwinrm.Transporter {
		if ntlm {
			return &faultTransport{inner: mzwinrm.NewClientNTLMWithDial(dial)}
		}
		return &faultTransport{inner: mzwinrm.NewClientWithDial(dial)}
	}
	c, err := mzwinrm.NewClientWithParameters(ep, d.s.username, d.s.password.Reveal(), &params)
	if err != nil {
		return nil, fmt.Errorf("%w: building the WinRM client for %s: %w", drivers.ErrInvalidArgument, key, err)
	}
	d.clients[key] = c
	return c, nil
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
	return r.out, classifyTransport(r.err, r.sent)
}

// statusRe finds the HTTP status the client reports for a non-SOAP answer.
var statusRe = regexp.MustCompile(`http (?:response )?error:? (\d{3})\b`)

// classifyTransport classifies a transport error. sent tells whether the
// Command request may have reached the server.
func classifyTransport(err error, sent bool) error {
	if m := statusRe.FindStringSubmatch(err.Error()); m != nil && (m[1] == "401" || m[1] == "403") {
		return drivers.Classify(drivers.ErrPermissionDenied, fmt.Errorf("credentials refused (HTTP %s): %w", m[1], err))
	}
	var unknownCA x509.UnknownAuthorityError
	var badHost x509.HostnameError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &badHost) || errors.As(err, &verify) {
		// Not retryable and not the server's fault: returned unclassified.
		return fmt.Errorf("the server's TLS certificate is not trusted (set Config.CACert to the CA that signs it): %w", err)
	}
	if !sent {
		return drivers.Classify(drivers.ErrUnavailable, err)
	}
	return err
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
