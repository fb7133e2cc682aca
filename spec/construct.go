package spec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/httpprobe"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/haproxy"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
)

// This file calls the drivers' constructors. None of them contacts
// anything; awsalb.New reads the AWS SDK's configuration files and
// environment.

// newLoadBalancer builds the driver of one load_balancer block for the
// servers it fronts.
func newLoadBalancer(ctx context.Context, lb *LoadBalancer, servers []farm.Server, log *slog.Logger) (drivers.LoadBalancer, error) {
	switch {
	case lb.HAProxy != nil:
		c := lb.HAProxy
		cfg := haproxy.Config{Network: c.Network, Address: c.Address, Backend: c.Backend, Timeout: c.Timeout.D(), Logger: log}
		if len(c.Servers) > 0 {
			m := map[string]string{}
			for _, s := range servers {
				m[s.MemberID()] = s.MemberID()
			}
			for member, name := range c.Servers {
				m[member] = name
			}
			cfg.ServerName = haproxy.ServerMap(m)
		}
		return haproxy.New(cfg)
	case lb.NGINX != nil:
		c := lb.NGINX
		d, err := nginx.NewOSS(nginx.OSSConfig{
			File: c.File, Upstream: c.Upstream, MainConfig: c.MainConfig,
			Members:    upstreamMembers(servers, c.Port, c.Addresses),
			Directives: c.Directives, ServerParams: c.ServerParams,
			Binary: c.Binary, Prefix: c.Prefix, PIDFile: c.PIDFile,
			DrainPeriod: c.DrainPeriod.D(), ReloadTimeout: c.ReloadTimeout.D(), ReloadSettle: c.ReloadSettle.D(),
			Logger: log,
		})
		return d, nginxKeys().wrap(err)
	case lb.NGINXPlus != nil:
		cfg, err := plusConfig(lb.NGINXPlus, servers, log)
		if err != nil {
			return nil, err
		}
		d, err := nginx.NewPlus(cfg)
		return d, nginxPlusKeys().wrap(err)
	case lb.F5 != nil:
		cfg, err := f5Config(lb.F5, log)
		if err != nil {
			return nil, err
		}
		d, err := f5.New(cfg)
		return d, f5Keys().wrap(err)
	case lb.ALB != nil:
		c := lb.ALB
		cfg := awsalb.Config{TargetGroupARN: c.TargetGroupARN, Region: c.Region, SettlePeriod: c.SettlePeriod.D(), Logger: log}
		if log != nil {
			cfg.LoadOptions = append(cfg.LoadOptions, config.WithLogger(awsLogger(log)))
		}
		if c.Profile != "" {
			cfg.LoadOptions = append(cfg.LoadOptions, config.WithSharedConfigProfile(c.Profile))
		}
		d, err := awsalb.New(ctx, cfg)
		return d, albKeys().wrap(err)
	}
	return nil, fmt.Errorf("load_balancer kind %q: want one of %v", lb.Kind, Kinds())
}

// upstreamMembers maps each server to its NGINX upstream address: an entry
// of addresses, or the server's address with port.
func upstreamMembers(servers []farm.Server, port int, addresses map[string]string) []nginx.Member {
	var out []nginx.Member
	for _, s := range servers {
		addr, ok := addresses[s.Name]
		if !ok {
			addr = s.Target().Host()
			if port > 0 {
				addr = net.JoinHostPort(addr, strconv.Itoa(port))
			} else {
				addr = bracketIPv6(addr)
			}
		}
		out = append(out, nginx.Member{Name: s.MemberID(), Address: addr})
	}
	return out
}

// plusConfig configures the NGINX Plus driver, with the password as a
// drivers.Secret so that the driver also scrubs it from echoed errors.
func plusConfig(c *NGINXPlus, servers []farm.Server, log *slog.Logger) (nginx.PlusConfig, error) {
	cfg := nginx.PlusConfig{
		Endpoint: c.Endpoint, APIVersion: c.APIVersion, Upstream: c.Upstream,
		Members:  upstreamMembers(servers, c.Port, c.Addresses),
		Username: c.Username, Password: c.Password.Value,
		Logger: log,
	}
	if c.CACert != "" {
		pool, err := readCA(c.CACert)
		if err != nil {
			return cfg, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	return cfg, nil
}

func f5Config(c *F5, log *slog.Logger) (f5.Config, error) {
	cfg := f5.Config{
		BaseURL: c.URL, Username: c.Username, Password: c.Password.Value,
		Partition: c.Partition, Pool: c.Pool, Insecure: c.Insecure,
		TokenTimeout: c.TokenTimeout.D(), Timeout: c.Timeout.D(), Logger: log,
	}
	var err error
	cfg.CACert, err = readPEM(c.CACert)
	return cfg, err
}

func newServices(c *Services, log *slog.Logger) (*winrm.Driver, error) {
	cfg, err := winrmConfig(c, log)
	if err != nil {
		return nil, err
	}
	d, err := winrm.New(cfg)
	return d, servicesKeys().wrap(err)
}

func winrmConfig(c *Services, log *slog.Logger) (winrm.Config, error) {
	if c == nil {
		return winrm.Config{}, errors.New("services: missing: want the WinRM settings (username, password)")
	}
	cfg := winrm.Config{
		Port: c.Port, PlainHTTP: c.PlainHTTP, Insecure: c.Insecure,
		Username: c.Username, Password: c.Password.Value,
		Auth: c.Auth, Timeout: c.Timeout.D(), Logger: log,
		LeaseDir: c.LeaseDir,
	}
	if c.Kerberos != nil {
		cfg.Kerberos = winrm.Kerberos{Realm: c.Kerberos.Realm, ConfigPath: c.Kerberos.Config, CCachePath: c.Kerberos.CCache, SPN: c.Kerberos.SPN}
	}
	if len(c.ServiceNames) > 0 {
		cfg.ServiceNames = map[drivers.Service]string{}
		for role, name := range c.ServiceNames {
			cfg.ServiceNames[drivers.Service(role)] = name
		}
	}
	var err error
	cfg.CACert, err = readPEM(c.CACert)
	return cfg, err
}

func newPlatform(c *Platform, rel Release, log *slog.Logger) (*lifetime.Client, error) {
	cfg, err := lifetimeConfig(c, rel, log)
	if err != nil {
		return nil, err
	}
	cl, err := lifetime.New(cfg)
	return cl, platformKeys().wrap(err)
}

func lifetimeConfig(c *Platform, rel Release, log *slog.Logger) (lifetime.Config, error) {
	if c == nil {
		return lifetime.Config{}, errors.New("platform: missing: want the LifeTime settings (url, token, environments)")
	}
	cfg := lifetime.Config{
		BaseURL: c.URL, Token: c.Token.Value,
		SourceEnvironment: c.SourceEnvironment, TargetEnvironment: c.TargetEnvironment,
		DeploymentZoneKey: c.DeploymentZoneKey, Applications: c.Applications,
		TagVersions: c.TagVersions, KeepOutdated: c.KeepOutdated, TwoStage: c.TwoStage,
		Insecure: c.Insecure, Timeout: c.Timeout.D(),
		Logger: log,
	}
	if len(cfg.Applications) == 0 {
		for _, a := range rel.Applications {
			cfg.Applications = append(cfg.Applications, a.Name)
		}
	}
	var err error
	cfg.CACert, err = readPEM(c.CACert)
	return cfg, err
}

func newProber(c *Probe, log *slog.Logger) (*httpprobe.Prober, error) {
	if c == nil {
		c = &Probe{}
	}
	cfg := httpprobe.Config{
		Path: c.Path, Host: c.Host, ServerName: c.ServerName, Insecure: c.Insecure,
		ExpectStatus: c.ExpectStatus, VersionHeader: c.VersionHeader, VersionJSON: c.VersionJSON,
		VersionRegexp: c.VersionRegexp, Timeout: c.Timeout.D(), Logger: log,
	}
	var err error
	if cfg.CACert, err = readPEM(c.CACert); err != nil {
		return nil, err
	}
	return httpprobe.New(cfg)
}

// readPEM reads a CA bundle file; an empty path means none.
func readPEM(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca_cert: %w", err)
	}
	return b, nil
}

func readCA(path string) (*x509.CertPool, error) {
	b, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ca_cert %s: no PEM certificate found", path)
	}
	return pool, nil
}
