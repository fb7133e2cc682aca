package farm

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/balanced-deploy/balanced/drivers"
)

// Server is one front-end server of the farm.
type Server struct {
	// Name is the server's farm-unique name, as operators know it
	// ("fe01"). It may hold letters, digits, '.', '-' and '_'.
	Name string `json:"name"`
	// Address is the host name or IP address the service and platform
	// drivers connect to. Empty means Name.
	Address string `json:"address,omitempty"`
	// Member is the server's identity in its zone's load balancer (a
	// HAProxy server name, an F5 "node:port", an ALB target). Empty means
	// Name.
	Member string `json:"member,omitempty"`
	// Zone is the deployment zone the server belongs to. Empty means
	// [DefaultZone].
	Zone string `json:"zone,omitempty"`
	// DeploymentController is true on the server that holds the Deployment
	// Controller role. It must be in an Updating group.
	DeploymentController bool `json:"deployment_controller,omitempty"`
	// ProbeURL is the base URL of the application served directly by this
	// server, bypassing the load balancer ("https://fe01.internal/").
	ProbeURL string `json:"probe_url,omitempty"`
}

// DefaultZone is the zone of servers that name none.
const DefaultZone = "default"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// memberRE allows what load balancers use as member identities: names,
// host:port pairs, IPv6 literals in brackets, ARNs.
var memberRE = regexp.MustCompile(`^[A-Za-z0-9\[][A-Za-z0-9._:/\[\]-]{0,254}$`)

// Target returns the identity drivers use for this server.
func (s Server) Target() drivers.Target {
	return drivers.Target{Name: s.Name, Address: s.Address, URL: s.ProbeURL}
}

// MemberID returns Member, or Name when Member is empty.
func (s Server) MemberID() string {
	if s.Member != "" {
		return s.Member
	}
	return s.Name
}

// ZoneName returns Zone, or [DefaultZone] when Zone is empty.
func (s Server) ZoneName() string {
	if s.Zone != "" {
		return s.Zone
	}
	return DefaultZone
}

// validate checks the fields of one server.
func (s Server) validate() error {
	if !nameRE.MatchString(s.Name) {
		return fmt.Errorf("%w: server name %q: want 1-128 letters, digits, '.', '-' or '_', starting with a letter or digit", ErrInvalidFarm, s.Name)
	}
	if s.Address != "" && !memberRE.MatchString(s.Address) {
		return fmt.Errorf("%w: server %s: address %q: want a host name or IP address", ErrInvalidFarm, s.Name, s.Address)
	}
	if s.Member != "" && !memberRE.MatchString(s.Member) {
		return fmt.Errorf("%w: server %s: load-balancer member %q: want letters, digits and . _ : / - [ ] only", ErrInvalidFarm, s.Name, s.Member)
	}
	if s.ProbeURL != "" {
		u, err := url.Parse(s.ProbeURL)
		switch {
		case err != nil:
			return fmt.Errorf("%w: server %s: probe URL: %v: want an absolute URL such as https://%s/app/", ErrInvalidFarm, s.Name, err, s.Name)
		case u.User != nil:
			return fmt.Errorf("%w: server %s: probe URL %s holds credentials: want them in the prober's configuration, where they are kept secret", ErrInvalidFarm, s.Name, u.Redacted())
		case u.Scheme == "" || u.Host == "":
			return fmt.Errorf("%w: server %s: probe URL %q: want an absolute URL such as https://%s/app/", ErrInvalidFarm, s.Name, s.ProbeURL, s.Name)
		}
	}
	if s.Zone != "" && !nameRE.MatchString(s.Zone) {
		return fmt.Errorf("%w: server %s: zone %q: want 1-128 letters, digits, '.', '-' or '_'", ErrInvalidFarm, s.Name, s.Zone)
	}
	return nil
}
