package lifetime

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Defaults used when the matching Config field is zero.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultCleanupTimeout = 30 * time.Second
)

// Config configures a [Client]. BaseURL, Token, SourceEnvironment and
// TargetEnvironment are required; every other zero field means a sensible
// default.
type Config struct {
	// BaseURL is the API root, for example
	// "https://lt.example/lifetimeapi/rest/v2". It must use https, except
	// on a loopback host (tests).
	BaseURL string
	// Token is the service account's bearer token (drivers.NewSecret). It
	// never appears in a log line or an error.
	Token drivers.Secret
	// SourceEnvironment and TargetEnvironment are environment names as
	// LifeTime shows them (for example "Quality" and "Production"); they
	// are resolved to keys with GET /environments/. Names are compared
	// case-insensitively.
	SourceEnvironment string
	TargetEnvironment string
	// DeploymentZoneKey is the deployment zone of an application the
	// target environment does not run yet (its first deployment there);
	// empty means the environment's default zone. An application the
	// target already runs is deployed to the zone it has there
	// (AppStatusInEnvs[].DeploymentZoneKey, LifeTime Deployment API v2),
	// whatever this says: each application keeps its own zone.
	DeploymentZoneKey string
	// Applications limits DeployedRelease to these application names. Empty
	// means every application of the target environment.
	Applications []string
	// TagVersions makes StartDeployment tag the application as it runs in
	// the source environment with the requested version when no version of
	// that name exists yet. Without it an unknown version is an error.
	TagVersions bool
	// KeepOutdated makes start send RedeployOutdated=false, so LifeTime
	// does not redeploy the consumers that the deployment leaves outdated
	// in the target environment. By default start sends
	// RedeployOutdated=true, as OutSystems' outsystems-pipeline does
	// (REDEPLOY_OUTDATED_APPS = True); the Deployment API v2 documents the
	// parameter ("If True, outdated applications in the target environment
	// will be redeployed") but not its default, so it is always sent.
	KeepOutdated bool
	// TwoStage declares that the target environment runs deployments in
	// two stages: "Execute deployments in two stages" is checked for it in
	// LifeTime (Infrastructure, Manage Environments, Edit; on OutSystems
	// PaaS, Service Center's Administration, Environment Configuration,
	// "Enable 2-Stage Deploy"), as OutSystems documents in "Deploy in a
	// Short Deployment Window". A deployment then stops after its first
	// stage (compile, SQL scripts generated, binaries uploaded to the
	// front-ends, "no changes in the running versions") in
	// needs_user_intervention with the prepared Info, until it is
	// continued. The Deployment API v2 can neither read nor set this (its
	// Environment structure has no such field), so the client reports
	// what it is told ([Client.TwoStage]); the balanced plan then prepares
	// the release while every server serves, and fails its prepare step
	// (steps.ErrNotTwoStage) if a deployment runs to its end instead.
	// False (the default) is a stock environment: one stage.
	TwoStage bool

	// HTTPClient, when set, is used as is (its transport decides TLS). It
	// cannot be combined with CACert or Insecure.
	HTTPClient *http.Client
	// CACert is a PEM bundle of the certificate authorities to trust
	// instead of the system pool (a private PKI).
	CACert []byte
	// Insecure disables TLS certificate verification. It is explicit and
	// logged as a warning; never use it in production.
	Insecure bool
	// Timeout bounds each HTTP request. Default 60 s.
	Timeout time.Duration

	// CleanupTimeout bounds the request StartDeployment sends on a fresh
	// context, even when its own has ended, to delete a plan it created
	// and could not start. Default 30 s.
	CleanupTimeout time.Duration

	// Logger receives the client's own log lines. Nil discards them.
	Logger *slog.Logger
}

// Client talks to the LifeTime Deployment API v2. It is safe for concurrent
// use. Create it with [New].
type Client struct {
	base   *url.URL
	token  token
	http   *http.Client
	cfg    Config
	logger *slog.Logger
}

var (
	_ drivers.PlatformClient        = (*Client)(nil)
	_ drivers.DeployedReleaseReader = (*Client)(nil)
	_ drivers.DeploymentAborter     = (*Client)(nil)
	_ drivers.DeploymentContinuer   = (*Client)(nil)
	_ drivers.DeploymentFinder      = (*Client)(nil)
	_ drivers.DeploymentPreparer    = (*Client)(nil)
)

// New checks cfg and returns a client. It makes no request.
func New(cfg Config) (*Client, error) {
	base, err := checkBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Token.IsZero() {
		return nil, fmt.Errorf("lifetime: %w: Token is empty; expected the service account's bearer token", drivers.ErrInvalidArgument)
	}
	if strings.ContainsAny(cfg.Token.Reveal(), "\r\n\x00") {
		return nil, fmt.Errorf("lifetime: %w: Token contains a line break", drivers.ErrInvalidArgument)
	}
	if strings.TrimSpace(cfg.SourceEnvironment) == "" || strings.TrimSpace(cfg.TargetEnvironment) == "" {
		return nil, fmt.Errorf("lifetime: %w: SourceEnvironment %q and TargetEnvironment %q must both be environment names", drivers.ErrInvalidArgument, cfg.SourceEnvironment, cfg.TargetEnvironment)
	}
	if strings.EqualFold(cfg.SourceEnvironment, cfg.TargetEnvironment) {
		return nil, fmt.Errorf("lifetime: %w: SourceEnvironment and TargetEnvironment are both %q", drivers.ErrInvalidArgument, cfg.SourceEnvironment)
	}
	for name, d := range map[string]time.Duration{"Timeout": cfg.Timeout, "CleanupTimeout": cfg.CleanupTimeout} {
		if d < 0 {
			return nil, fmt.Errorf("lifetime: %w: %s is %v; expected a positive duration or 0 for the default", drivers.ErrInvalidArgument, name, d)
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.CleanupTimeout == 0 {
		cfg.CleanupTimeout = DefaultCleanupTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hc, err := httpClient(cfg, logger)
	if err != nil {
		return nil, err
	}
	tok := newToken(cfg.Token)
	cfg.Token = drivers.Secret{} // kept only in tok, see token
	return &Client{base: base, token: tok, http: hc, cfg: cfg, logger: logger}, nil
}

// checkBaseURL checks the API root. No error quotes the URL's user info
// (drivers.RedactURL), not even for a URL that does not parse.
func checkBaseURL(raw string) (*url.URL, error) {
	u, err := drivers.CheckHTTPURL("BaseURL", raw)
	if err != nil {
		return nil, fmt.Errorf("lifetime: %w, such as https://lt.example/lifetimeapi/rest/v2", err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("lifetime: %w: BaseURL %q must not carry user info, a query or a fragment (the token goes in Config.Token)", drivers.ErrInvalidArgument, drivers.RedactURL(raw))
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("lifetime: %w: BaseURL %q uses plain http, which would send the token in clear; expected https", drivers.ErrInvalidArgument, drivers.RedactURL(raw))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func httpClient(cfg Config, logger *slog.Logger) (*http.Client, error) {
	if cfg.HTTPClient != nil {
		if cfg.CACert != nil || cfg.Insecure {
			return nil, fmt.Errorf("lifetime: %w: HTTPClient cannot be combined with CACert or Insecure; configure TLS on its transport", drivers.ErrInvalidArgument)
		}
		return cfg.HTTPClient, nil
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(cfg.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CACert) {
			return nil, fmt.Errorf("lifetime: %w: CACert holds no PEM certificate", drivers.ErrInvalidArgument)
		}
		tlsCfg.RootCAs = pool
	}
	if cfg.Insecure {
		logger.Warn("lifetime: TLS certificate verification is disabled (Insecure); the token can be stolen by anyone on the path", "base_url", cfg.BaseURL)
		tlsCfg.InsecureSkipVerify = true
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	return &http.Client{Transport: tr}, nil
}
