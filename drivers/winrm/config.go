package winrm

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Default values used for zero Config fields.
const (
	// DefaultHTTPPort is WinRM's HTTP listener port.
	DefaultHTTPPort = 5985
	// DefaultHTTPSPort is WinRM's HTTPS listener port.
	DefaultHTTPSPort = 5986
	// DefaultTimeout bounds one driver call (connect, run the script, read
	// its output), including waiting for a service to stop or start.
	DefaultTimeout = 2 * time.Minute
)

// Authentication schemes accepted in Config.Auth.
const (
	AuthBasic = "basic"
	AuthNTLM  = "ntlm"
)

// defaultServiceNames are the Windows display names of the OutSystems
// services, used for every drivers.Service missing from Config.ServiceNames.
var defaultServiceNames = map[drivers.Service]string{
	drivers.SchedulerService:            "OutSystems Scheduler Service",
	drivers.DeploymentService:           "OutSystems Deployment Service",
	drivers.DeploymentControllerService: "OutSystems Deployment Controller Service",
}

// DefaultServiceNames returns the Windows display names the driver uses for
// the OutSystems services when Config.ServiceNames does not name them.
func DefaultServiceNames() map[drivers.Service]string {
	m := make(map[drivers.Service]string, len(defaultServiceNames))
	for k, v := range defaultServiceNames {
		m[k] = v
	}
	return m
}

// Config configures a Driver. The zero value of every optional field means a
// sensible default, so Config{Username: u, Password: p} talks HTTPS on port
// 5986, verifying the server's certificate, with Basic authentication.
type Config struct {
	// Port is the WinRM listener port. Zero means 5986, or 5985 with
	// PlainHTTP.
	// A target whose Address carries a port ("fe01:15985") uses that port
	// instead.
	Port int
	// PlainHTTP selects the unencrypted HTTP listener instead of HTTPS. It
	// is an explicit opt-in (with Basic authentication it sends the password
	// in clear; New logs a warning). Over HTTPS, the default, server
	// certificates are verified against the system roots, or against CACert
	// when it is set.
	PlainHTTP bool
	// Insecure skips verification of the server certificate. It is an
	// explicit opt-in for test labs; New logs a warning when it is set.
	Insecure bool
	// CACert is a PEM bundle of the certificate authorities that sign the
	// servers' WinRM certificates. Empty means the system roots.
	CACert []byte
	// Username is the Windows account, "user", "DOMAIN\\user" or
	// "user@domain", with the rights to stop and reconfigure services.
	Username string
	// Password is the account's password. It never appears in a log line or
	// an error.
	Password drivers.Secret
	// Auth is "basic" (the default) or "ntlm". Basic authentication over
	// plain HTTP sends the password unencrypted; New logs a warning then.
	// With "ntlm" each request is first sent without credentials; a server
	// that asks for NTLM or Negotiate gets NTLM, one that offers only Basic
	// gets Basic (behaviour of github.com/Azure/go-ntlmssp).
	Auth string
	// Timeout bounds each driver call. Zero means DefaultTimeout (2 minutes).
	Timeout time.Duration
	// ServiceNames maps each service role to its Windows service name or
	// display name (both are matched, ignoring case; a name matching two
	// services is refused). Roles missing from the map use
	// DefaultServiceNames. New refuses names that are empty, longer than 256
	// characters, have leading or trailing spaces, or hold control or
	// invisible (format) characters; any other character, quotes, $ and
	// backticks included, is sent inside a single-quoted PowerShell literal
	// and cannot run as code.
	ServiceNames map[drivers.Service]string
	// Logger receives debug and warning messages. Nil discards them.
	Logger *slog.Logger `json:"-"`
	// Dial, if set, opens the connections to the servers (a tunnel, a
	// proxy, or winrmtest's in-memory server in tests). Nil means a
	// net.Dialer with a 30 s connect timeout.
	Dial func(network, addr string) (net.Conn, error) `json:"-"`
}

// settings is a validated Config with defaults applied.
type settings struct {
	port     int
	https    bool
	insecure bool
	caCert   []byte
	username string
	password drivers.Secret
	ntlm     bool
	timeout  time.Duration
	names    map[drivers.Service]string
	log      *slog.Logger
	dial     func(network, addr string) (net.Conn, error)
}

func (c Config) settings() (settings, error) {
	s := settings{
		port:     c.Port,
		https:    !c.PlainHTTP,
		insecure: c.Insecure,
		caCert:   c.CACert,
		username: c.Username,
		password: c.Password,
		timeout:  c.Timeout,
		log:      c.Logger,
		dial:     c.Dial,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Port == 0 && c.PlainHTTP:
		s.port = DefaultHTTPPort
	case c.Port == 0:
		s.port = DefaultHTTPSPort
	case c.Port < 0 || c.Port > 65535:
		return s, fmt.Errorf("%w: Config.Port %d is out of range; want 1-65535 or 0 for the default", drivers.ErrInvalidArgument, c.Port)
	}
	switch c.Auth {
	case "", AuthBasic:
	case AuthNTLM:
		s.ntlm = true
	default:
		return s, fmt.Errorf("%w: Config.Auth %q is not supported; want %q or %q", drivers.ErrInvalidArgument, c.Auth, AuthBasic, AuthNTLM)
	}
	if c.Username == "" {
		return s, fmt.Errorf("%w: Config.Username is empty; want the Windows account to connect as", drivers.ErrInvalidArgument)
	}
	switch {
	case c.Timeout == 0:
		s.timeout = DefaultTimeout
	case c.Timeout < 0:
		return s, fmt.Errorf("%w: Config.Timeout %v is negative; want a positive duration or 0 for the default", drivers.ErrInvalidArgument, c.Timeout)
	}
	if len(c.CACert) > 0 {
		if c.PlainHTTP {
			return s, fmt.Errorf("%w: Config.CACert is set but Config.PlainHTTP is true", drivers.ErrInvalidArgument)
		}
		if !x509.NewCertPool().AppendCertsFromPEM(c.CACert) {
			return s, fmt.Errorf("%w: Config.CACert holds no PEM certificate", drivers.ErrInvalidArgument)
		}
	}
	if c.Insecure && c.PlainHTTP {
		return s, fmt.Errorf("%w: Config.Insecure is set but Config.PlainHTTP is true", drivers.ErrInvalidArgument)
	}
	s.names = DefaultServiceNames()
	for svc, name := range c.ServiceNames {
		if svc == "" {
			return s, fmt.Errorf("%w: Config.ServiceNames has an empty service role", drivers.ErrInvalidArgument)
		}
		if err := validateName(name); err != nil {
			return s, fmt.Errorf("Config.ServiceNames[%q]: %w", svc, err)
		}
		s.names[svc] = name
	}
	return s, nil
}

// splitHostPort splits "host:port" or "[v6]:port" and checks the port.
func splitHostPort(hostport string) (string, string, error) {
	h, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", "", err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Errorf("port %q is not a number in 1-65535", p)
	}
	return h, p, nil
}
