package f5

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Default values of optional [Config] fields.
const (
	// DefaultPartition is the BIG-IP administrative partition used when
	// Config.Partition is empty.
	DefaultPartition = "Common"
	// DefaultTimeout bounds one HTTP exchange when the caller's
	// context has no earlier deadline.
	DefaultTimeout = 30 * time.Second
	// MaxTokenTimeout is the longest token lifetime BIG-IP accepts.
	MaxTokenTimeout = 36000 * time.Second
)

// Config configures a [Driver]. Fields marked optional have a sensible
// default when left zero.
type Config struct {
	// BaseURL is the BIG-IP management address, for example
	// "https://bigip.example.com" or "https://10.0.0.5:8443". Required.
	BaseURL string
	// Username and Password are the credentials of a BIG-IP account
	// allowed to change pool members (the "tmos" login provider). Required.
	// Password never appears in a log line or an error.
	Username string
	Password drivers.Secret
	// Partition is the administrative partition of the pool and its nodes.
	// Optional: default "Common".
	Partition string
	// Pool is the LTM pool whose members the driver manages. Required.
	Pool string
	// HTTPClient sends the requests. Optional: by default a client with
	// TLS verification against the system roots (or CACert). When set,
	// CACert and Insecure must be left empty.
	HTTPClient *http.Client
	// CACert is a PEM bundle of certificate authorities to trust instead of
	// the system roots (BIG-IP often runs with a private CA). Optional.
	CACert []byte
	// Insecure disables TLS certificate verification. It exists
	// for labs only; New logs a warning when it is set.
	Insecure bool
	// TokenTimeout, when set, asks BIG-IP to extend each new token's
	// lifetime to this duration (PATCH /mgmt/shared/authz/tokens/<token>;
	// at most 10 h). Optional: the device default (1200 s) is kept.
	TokenTimeout time.Duration
	// Timeout bounds one HTTP exchange. Optional: 30 s.
	Timeout time.Duration
	// Logger receives the driver's logs. Optional: nil discards them.
	Logger *slog.Logger
}

// normalize validates cfg and fills its defaults.
func (cfg Config) normalize() (Config, *url.URL, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: f5: "+format, append([]any{drivers.ErrInvalidArgument}, args...)...)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return cfg, nil, invalid("BaseURL %q: want an https:// (or http://) URL with a host and no path, credentials or query", drivers.RedactURL(cfg.BaseURL))
	}
	u.Path = ""
	if cfg.Username == "" {
		return cfg, nil, invalid("Username is empty: want the BIG-IP account name")
	}
	if strings.ContainsAny(cfg.Username, "\x00\r\n") {
		return cfg, nil, invalid("Username contains control characters")
	}
	if cfg.Password.IsZero() {
		return cfg, nil, invalid("Password is empty: want the BIG-IP account password")
	}
	if cfg.Partition == "" {
		cfg.Partition = DefaultPartition
	}
	if err := validObjectName("partition", cfg.Partition); err != nil {
		return cfg, nil, err
	}
	if err := validObjectName("pool", cfg.Pool); err != nil {
		return cfg, nil, err
	}
	if cfg.TokenTimeout < 0 || cfg.TokenTimeout > MaxTokenTimeout {
		return cfg, nil, invalid("TokenTimeout %v: want 0 (device default) up to %v", cfg.TokenTimeout, MaxTokenTimeout)
	}
	if cfg.TokenTimeout != 0 && cfg.TokenTimeout < time.Minute {
		return cfg, nil, invalid("TokenTimeout %v: want at least 1m", cfg.TokenTimeout)
	}
	if cfg.Timeout < 0 {
		return cfg, nil, invalid("Timeout %v: want a positive duration or 0 for %v", cfg.Timeout, DefaultTimeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.HTTPClient != nil {
		if len(cfg.CACert) > 0 || cfg.Insecure {
			return cfg, nil, invalid("CACert and Insecure apply only to the default client: configure TLS on the HTTPClient you pass instead")
		}
		return cfg, u, nil
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(cfg.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CACert) {
			return cfg, nil, invalid("CACert: no PEM certificate found")
		}
		tlsCfg.RootCAs = pool
	}
	if cfg.Insecure {
		tlsCfg.InsecureSkipVerify = true // #nosec G402 -- explicit, logged opt-in for labs.
		cfg.Logger.Warn("f5: TLS certificate verification is disabled (Config.Insecure); use CACert instead outside a lab", "base_url", u.String())
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	cfg.HTTPClient = &http.Client{Transport: tr}
	return cfg, u, nil
}
