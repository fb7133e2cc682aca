package winrm

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
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
	// AuthNegotiate, the default, is HTTP Negotiate authentication with
	// NTLM (the client library speaks NTLM inside Negotiate): what a stock
	// Windows server accepts, for domain and local accounts
	// (winrm/config/service/auth Negotiate=true by default). Over plain
	// HTTP every message is encrypted with the NTLM session key (MS-WSMV
	// 2.2.9.1.1), because a stock server refuses unencrypted messages
	// (AllowUnencrypted=false).
	AuthNegotiate = "negotiate"
	// AuthNTLM is the same as AuthNegotiate.
	AuthNTLM = "ntlm"
	// AuthBasic is HTTP Basic authentication, an explicit opt-in: Windows
	// disables it by default (winrm/config/service/auth Basic=false) and
	// accepts it only for local accounts, and over plain HTTP it sends the
	// password in clear and needs AllowUnencrypted=true on the server.
	AuthBasic = "basic"
	// AuthKerberos is Kerberos through HTTP Negotiate (SPNEGO), with
	// github.com/jcmturner/gokrb5 as the client library uses it. It needs
	// HTTPS (the library does not encrypt Kerberos messages) and
	// Config.Kerberos.
	AuthKerberos = "kerberos"
)

// Kerberos configures AuthKerberos.
type Kerberos struct {
	// Realm is the Kerberos realm, for example "FARM.EXAMPLE". Required.
	Realm string
	// ConfigPath is the krb5.conf file. Empty means /etc/krb5.conf.
	ConfigPath string
	// CCachePath, if set, is a credential cache (from kinit) used instead
	// of Config.Password.
	CCachePath string
	// SPN is the service principal name. Empty means HTTP/<host>, the
	// name WinRM registers.
	SPN string
}

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

// Config configures a Driver. The zero value of every optional field means
// the default that a domain-joined stock Windows server accepts:
// Config{Username: `FARM\deployer`, Password: p} talks HTTPS on port 5986,
// verifying the server's certificate, with Negotiate (NTLM) authentication.
type Config struct {
	// Port is the WinRM listener port. Zero means 5986, or 5985 with
	// PlainHTTP.
	// A target whose Address carries a port ("fe01:15985") uses that port
	// instead.
	Port int
	// PlainHTTP selects the HTTP listener instead of HTTPS. With Negotiate
	// (the default) every message is then encrypted with the NTLM session,
	// as a stock server (AllowUnencrypted=false) requires; with Basic the
	// password and the messages travel in clear (New logs a warning), and
	// the server must have AllowUnencrypted=true; Kerberos is refused. Over
	// HTTPS, the default, server certificates are verified against the
	// system roots, or against CACert when it is set.
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
	// Auth is the authentication scheme: AuthNegotiate (the default, also
	// spelled "ntlm"), AuthBasic or AuthKerberos. See the constants for
	// what each needs on the server.
	Auth string
	// Kerberos configures AuthKerberos; it must be zero otherwise.
	Kerberos Kerberos
	// LeaseDir is the folder on the Deployment Controller server that holds
	// the farm lease files (see Driver.AcquireLease). Empty means
	// DefaultLeaseDir. It must be an absolute local Windows path.
	LeaseDir string
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
	// net.Dialer with a 30 s connect timeout. The client library's
	// encrypting transport (Negotiate over plain HTTP) and its Kerberos
	// transport open their own connections, so New refuses Dial with them.
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
	auth     string // AuthNegotiate, AuthBasic or AuthKerberos
	kerberos Kerberos
	leaseDir string
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
	case "", AuthNegotiate, AuthNTLM:
		s.auth = AuthNegotiate
	case AuthBasic, AuthKerberos:
		s.auth = c.Auth
	default:
		return s, fmt.Errorf("%w: Config.Auth %q is not supported; want %q (the default), %q, %q or %q",
			drivers.ErrInvalidArgument, c.Auth, AuthNegotiate, AuthNTLM, AuthBasic, AuthKerberos)
	}
	if err := s.checkAuth(c); err != nil {
		return s, err
	}
	dir, err := validLeaseDir(c.LeaseDir)
	if err != nil {
		return s, err
	}
	s.leaseDir = dir
	if c.Username == "" && (s.auth != AuthKerberos || c.Kerberos.CCachePath == "") {
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

// encrypting reports whether messages are sealed with NTLM (Negotiate over
// plain HTTP).
func (s settings) encrypting() bool { return s.auth == AuthNegotiate && !s.https }

// checkAuth checks what the chosen scheme needs.
func (s *settings) checkAuth(c Config) error {
	if s.auth != AuthKerberos && c.Kerberos != (Kerberos{}) {
		return fmt.Errorf("%w: Config.Kerberos is set but Config.Auth is %q; want Auth %q", drivers.ErrInvalidArgument, s.auth, AuthKerberos)
	}
	if s.encrypting() && c.Dial != nil {
		return fmt.Errorf("%w: Config.Dial cannot be used with Negotiate (NTLM) over plain HTTP: the client library's "+
			"message-encrypting transport opens its own connections; use HTTPS (the default) or Auth %q", drivers.ErrInvalidArgument, AuthBasic)
	}
	if s.auth != AuthKerberos {
		return nil
	}
	k := c.Kerberos
	switch {
	case c.PlainHTTP:
		return fmt.Errorf("%w: Auth %q over plain HTTP is refused: the client library does not encrypt Kerberos messages and a "+
			"stock server refuses unencrypted ones (AllowUnencrypted=false); use HTTPS", drivers.ErrInvalidArgument, AuthKerberos)
	case c.Dial != nil:
		return fmt.Errorf("%w: Config.Dial cannot be used with Auth %q: the client library's Kerberos transport opens its own connections", drivers.ErrInvalidArgument, AuthKerberos)
	case k.Realm == "":
		return fmt.Errorf("%w: Config.Kerberos.Realm is empty; want the Kerberos realm, for example FARM.EXAMPLE", drivers.ErrInvalidArgument)
	case strings.ContainsAny(k.Realm, " \t\r\n/@"):
		return fmt.Errorf("%w: Config.Kerberos.Realm %q is not a realm name", drivers.ErrInvalidArgument, k.Realm)
	case k.CCachePath == "" && c.Password.Reveal() == "":
		return fmt.Errorf("%w: Auth %q needs Config.Password or Config.Kerberos.CCachePath", drivers.ErrInvalidArgument, AuthKerberos)
	}
	s.kerberos = k
	if s.kerberos.ConfigPath == "" {
		s.kerberos.ConfigPath = "/etc/krb5.conf"
	}
	for what, path := range map[string]string{"ConfigPath": s.kerberos.ConfigPath, "CCachePath": k.CCachePath} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("%w: Config.Kerberos.%s %q: %w", drivers.ErrInvalidArgument, what, path, err)
		}
	}
	return nil
}
