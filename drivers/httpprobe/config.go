package httpprobe

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Defaults used when the matching Config field is zero.
const (
	DefaultVersionHeader = "X-App-Version"
	DefaultTimeout       = 10 * time.Second
	DefaultExpectStatus  = http.StatusOK
)

// Config configures a [Prober]. Every zero field means a sensible default;
// at most one of VersionHeader, VersionJSON and VersionRegexp may be set
// (none means VersionHeader "X-App-Version").
type Config struct {
	// Path is appended to Target.URL, for example "/MyApp/health" or
	// "version.json?full=1". Empty means Target.URL itself.
	Path string
	// Host, when set, is sent as the Host header (the site name the
	// front-end's virtual host expects when Target.URL holds an address).
	Host string
	// ServerName, when set, is the name TLS verifies the certificate
	// against (and sends as SNI) instead of the URL's host.
	ServerName string
	// CACert is a PEM bundle of the certificate authorities to trust
	// instead of the system pool.
	CACert []byte
	// Insecure disables TLS certificate verification. It is explicit and
	// logged as a warning.
	Insecure bool
	// ExpectStatus is the status of a healthy answer. Default 200.
	ExpectStatus int

	// VersionHeader names the response header that carries the version.
	VersionHeader string
	// VersionJSON is a dotted path to the version in a JSON body, for
	// example "build.version" or "apps.0.version" (numbers index arrays).
	VersionJSON string
	// VersionRegexp is a regular expression with exactly one capture group,
	// matched against the body; the group is the version.
	VersionRegexp string

	// Timeout bounds each probe. Default 10 s.
	Timeout time.Duration
	// HTTPClient, when set, is used as is; it cannot be combined with
	// ServerName, CACert or Insecure (configure its transport instead).
	// Redirects are never followed, whatever its CheckRedirect says.
	HTTPClient *http.Client
	// Logger receives the prober's log lines. Nil discards them.
	Logger *slog.Logger
}

// Prober probes front-ends over HTTP(S). It is safe for concurrent use.
// Create it with [New].
type Prober struct {
	cfg    Config
	path   *url.URL
	re     *regexp.Regexp
	json   []string
	client *http.Client
	logger *slog.Logger
}

var (
	_ drivers.Prober            = (*Prober)(nil)
	_ drivers.ApplicationProber = (*Prober)(nil)
)

// New checks cfg and returns a prober. It makes no request.
func New(cfg Config) (*Prober, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("httpprobe: %w: "+format, append([]any{drivers.ErrInvalidArgument}, args...)...)
	}
	p := &Prober{cfg: cfg, logger: cfg.Logger}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	path, err := parsePath(cfg.Path)
	if err != nil {
		return nil, bad("Path %q; expected a path (and query) to append to the server URL, such as /MyApp/health", cfg.Path)
	}
	p.path = path
	if cfg.Host != "" && !validHost(cfg.Host) {
		return nil, bad("Host %q; expected a host name, optionally with :port", cfg.Host)
	}
	if cfg.ServerName != "" && !validHost(cfg.ServerName) {
		return nil, bad("ServerName %q; expected a host name", cfg.ServerName)
	}
	if cfg.ExpectStatus == 0 {
		p.cfg.ExpectStatus = DefaultExpectStatus
	} else if cfg.ExpectStatus < 100 || cfg.ExpectStatus > 599 {
		return nil, bad("ExpectStatus %d; expected an HTTP status between 100 and 599", cfg.ExpectStatus)
	}
	if cfg.Timeout < 0 {
		return nil, bad("Timeout %v; expected a positive duration or 0 for the default", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		p.cfg.Timeout = DefaultTimeout
	}
	sources := 0
	for _, s := range []string{cfg.VersionHeader, cfg.VersionJSON, cfg.VersionRegexp} {
		if s != "" {
			sources++
		}
	}
	switch {
	case sources > 1:
		return nil, bad("VersionHeader %q, VersionJSON %q and VersionRegexp %q: set at most one version source", cfg.VersionHeader, cfg.VersionJSON, cfg.VersionRegexp)
	case sources == 0:
		p.cfg.VersionHeader = DefaultVersionHeader
	case cfg.VersionHeader != "":
		if !validToken(cfg.VersionHeader) {
			return nil, bad("VersionHeader %q; expected an HTTP header name", cfg.VersionHeader)
		}
	case cfg.VersionJSON != "":
		p.json = strings.Split(cfg.VersionJSON, ".")
		for _, part := range p.json {
			if part == "" {
				return nil, bad("VersionJSON %q has an empty segment; expected a dotted path such as build.version", cfg.VersionJSON)
			}
		}
	case cfg.VersionRegexp != "":
		re, err := regexp.Compile(cfg.VersionRegexp)
		if err != nil {
			return nil, bad("VersionRegexp %q does not compile: %v", cfg.VersionRegexp, err)
		}
		if re.NumSubexp() != 1 {
			return nil, bad("VersionRegexp %q has %d capture groups; expected exactly one, around the version", cfg.VersionRegexp, re.NumSubexp())
		}
		p.re = re
	}
	if p.client, err = httpClient(cfg, p.logger); err != nil {
		return nil, err
	}
	return p, nil
}

// validHost accepts a host name or address with an optional port: no
// spaces, control characters, paths or user info.
func validHost(h string) bool {
	if strings.ContainsAny(h, " /\\@?#") {
		return false
	}
	for _, r := range h {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h
}

// validToken accepts an RFC 9110 token (a header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= 0x20 || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

func httpClient(cfg Config, logger *slog.Logger) (*http.Client, error) {
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if cfg.HTTPClient != nil {
		if cfg.ServerName != "" || cfg.CACert != nil || cfg.Insecure {
			return nil, fmt.Errorf("httpprobe: %w: HTTPClient cannot be combined with ServerName, CACert or Insecure; configure TLS on its transport", drivers.ErrInvalidArgument)
		}
		c := *cfg.HTTPClient
		c.CheckRedirect = noRedirect
		return &c, nil
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: cfg.ServerName}
	if len(cfg.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CACert) {
			return nil, fmt.Errorf("httpprobe: %w: CACert holds no PEM certificate", drivers.ErrInvalidArgument)
		}
		tlsCfg.RootCAs = pool
	}
	if cfg.Insecure {
		logger.Warn("httpprobe: TLS certificate verification is disabled (Insecure)")
		tlsCfg.InsecureSkipVerify = true
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // reach the front-end itself, never a proxy
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Transport: tr, CheckRedirect: noRedirect}, nil
}
