package farm

import (
	"fmt"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/names"
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
	// HAProxy server name, an F5 "node:port", an ALB target) as
	// configured. Empty means Name; read it through [Server.MemberID],
	// which applies that default.
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

// Target returns the identity drivers use for this server.
func (s Server) Target() drivers.Target {
	return drivers.Target{Name: s.Name, Address: s.Address, URL: s.ProbeURL}
}

// MemberID returns the server's load-balancer member identity: Member, or
// Name when Member is empty. Every member list of the package
// ([Group.Members], [Run.IncludedMembers]) holds these.
func (s Server) MemberID() string {
	if s.Member != "" {
		return s.Member
	}
	return s.Name
}

// zoneName returns Zone, or [DefaultZone] when Zone is empty.
func (s Server) zoneName() string {
	if s.Zone != "" {
		return s.Zone
	}
	return DefaultZone
}

// validate checks the fields of one server, with the rules of
// internal/names that simulate and spec use too.
func (s Server) validate() error {
	if err := names.Name("server name", s.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidFarm, err)
	}
	if s.Address != "" {
		if err := names.Address("address", s.Address); err != nil {
			return fmt.Errorf("%w: server %s: %w", ErrInvalidFarm, s.Name, err)
		}
	}
	if s.Member != "" {
		if err := names.Member("load-balancer member", s.Member); err != nil {
			return fmt.Errorf("%w: server %s: %w", ErrInvalidFarm, s.Name, err)
		}
	}
	if s.ProbeURL != "" {
		u, err := drivers.ParseURL("probe URL", s.ProbeURL)
		if err != nil {
			return fmt.Errorf("%w: server %s: %w", ErrInvalidFarm, s.Name, err)
		}
		if err := names.Text("probe URL", drivers.RedactURL(s.ProbeURL)); err != nil {
			return fmt.Errorf("%w: server %s: %w", ErrInvalidFarm, s.Name, err)
		}
		if u.User != nil {
			return fmt.Errorf("%w: server %s: probe URL %s holds credentials: want them in the prober's configuration, where they are kept secret", ErrInvalidFarm, s.Name, drivers.RedactURL(s.ProbeURL))
		}
	}
	if s.Zone != "" {
		if err := names.Name("zone", s.Zone); err != nil {
			return fmt.Errorf("%w: server %s: %w", ErrInvalidFarm, s.Name, err)
		}
	}
	return nil
}
