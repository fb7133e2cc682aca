package httpprobe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/balanced-deploy/balanced/drivers"
)

// maxBody bounds how much of a body is read to find the version.
const maxBody = 1 << 20

// Probe GETs the application on t and reports what it found. See the package
// documentation for what counts as healthy and what is an error.
func (p *Prober) Probe(ctx context.Context, t drivers.Target) (drivers.ProbeResult, error) {
	return p.probe(ctx, t, p.path, "")
}

// ProbeApplication GETs app on t at app.Path (Config.Path when app.Path is
// empty), with every other setting of the Config: one Prober checks every
// application of a release, each at its own path. The result is read as
// Probe reads it; an app.Path that is not a relative path and query wraps
// [drivers.ErrInvalidArgument].
func (p *Prober) ProbeApplication(ctx context.Context, t drivers.Target, app drivers.ApplicationProbe) (drivers.ProbeResult, error) {
	if app.Path == "" {
		return p.probe(ctx, t, p.path, app.Application)
	}
	path, err := parsePath(app.Path)
	if err != nil {
		return drivers.ProbeResult{}, fmt.Errorf("httpprobe: %w: application %q: path %q; expected a path (and query) to append to the server URL, such as /%s/health",
			drivers.ErrInvalidArgument, app.Application, app.Path, url.PathEscape(app.Application))
	}
	return p.probe(ctx, t, path, app.Application)
}

// parsePath parses a path (and query) to append to a server URL.
func parsePath(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err == nil && (u.Scheme != "" || u.Host != "" || u.User != nil || u.Fragment != "" || strings.HasPrefix(s, "//")) {
		err = errors.New("not a relative path")
	}
	return u, err
}

func (p *Prober) probe(ctx context.Context, t drivers.Target, path *url.URL, app string) (drivers.ProbeResult, error) {
	u, err := p.url(t, path)
	if err != nil {
		return drivers.ProbeResult{}, err
	}
	who := t.Name
	if app != "" {
		who = fmt.Sprintf("%s (application %s)", t.Name, app)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return drivers.ProbeResult{}, fmt.Errorf("httpprobe: %s: %w", who, redactErr(err))
	}
	if p.cfg.Host != "" {
		req.Host = p.cfg.Host
	}
	req.Header.Set("User-Agent", "balanced-httpprobe")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := p.client.Do(req)
	if err != nil {
		return drivers.ProbeResult{}, classify(fmt.Errorf("httpprobe: probe %s at %s: %w", who, drivers.RedactURL(u.String()), redactErr(err)))
	}
	defer resp.Body.Close()
	var body []byte
	if p.json != nil || p.re != nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return drivers.ProbeResult{StatusCode: resp.StatusCode}, classify(fmt.Errorf("httpprobe: probe %s: read body: %w", who, err))
		}
	} else {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	}
	res := drivers.ProbeResult{StatusCode: resp.StatusCode}
	version, verr := p.version(resp.Header, body)
	res.Version = version
	switch {
	case resp.StatusCode != p.cfg.ExpectStatus:
		res.Detail = fmt.Sprintf("status %d %s, expected %d", resp.StatusCode, http.StatusText(resp.StatusCode), p.cfg.ExpectStatus)
	case verr != nil:
		res.Detail = verr.Error()
	default:
		res.Healthy = true
	}
	p.logger.Debug("httpprobe: probed", "server", t.Name, "application", app, "status", res.StatusCode, "healthy", res.Healthy, "version", res.Version, "detail", res.Detail)
	return res, nil
}

// url joins Target.URL and path (Config.Path or an application's).
func (p *Prober) url(t drivers.Target, path *url.URL) (*url.URL, error) {
	if t.URL == "" {
		return nil, fmt.Errorf("httpprobe: %w: server %q has no URL; set Target.URL to the application's address on that server", drivers.ErrInvalidArgument, t.Name)
	}
	base, err := drivers.CheckHTTPURL("URL", t.URL)
	if err != nil {
		return nil, fmt.Errorf("httpprobe: server %q: %w, such as https://fe01.internal/", t.Name, err)
	}
	u := *base
	if path.Path != "" {
		u.Path = strings.TrimSuffix(base.Path, "/") + "/" + strings.TrimPrefix(path.Path, "/")
		u.RawPath = ""
	}
	if path.RawQuery != "" {
		u.RawQuery = path.RawQuery
	}
	u.Fragment = ""
	return &u, nil
}

// redactErr hides the user info and query values of the URL that net/http
// quotes in a *url.Error (it hides only a password, and keeps a token given
// as the user name), keeping the error's type and cause.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: drivers.RedactURL(ue.URL), Err: ue.Err}
	}
	return err
}

// classify marks errors after which nothing reached the application as
// drivers.ErrUnavailable: a connection that could not be opened or was
// reset. Timeouts and certificate failures stay unclassified.
func classify(err error) error {
	var certErr *tls.CertificateVerificationError
	var hostErr x509HostnameError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &certErr) || errors.As(err, &hostErr):
		return err
	case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET):
		return drivers.Classify(drivers.ErrUnavailable, err)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" && !opErr.Timeout() {
		return drivers.Classify(drivers.ErrUnavailable, err)
	}
	return err
}
