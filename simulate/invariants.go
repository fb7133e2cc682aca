package simulate

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// CheckEndState checks invariant 6 now: every server serving and healthy,
// running rel with nothing left to install (each application of rel at its
// version, none still deploying), the database schema at rel,
// and every service back to its initial run state and startup type
// (Config.InitialServices). It records and returns the
// violations found; none means the end state is exact.
func (s *Sim) CheckEndState(rel drivers.Release) []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	s.checked[6] = true
	var out []Violation
	bad := func(srv *server, format string, args ...any) {
		zone, name := "", ""
		if srv != nil {
			zone, name = srv.zone, srv.name
		}
		out = append(out, s.violate(6, zone, name, fmt.Sprintf(format, args...)))
	}
	if s.schema != rel.Version {
		bad(nil, "database schema is %s: want %s", s.schema, rel.Version)
	}
	for _, srv := range s.servers {
		if srv.lbState != drivers.Serving {
			bad(srv, "member is %s: want serving", srv.lbState)
		}
		if srv.health() != drivers.Healthy || !srv.appOK() {
			bad(srv, "application is not healthy (crashed=%t installing=%t install failed=%t)", srv.crashed, srv.installing, srv.broken)
		}
		if srv.version != rel.Version {
			bad(srv, "runs %s: want %s", srv.version, rel.Version)
		}
		for _, a := range rel.Applications {
			want := a.Version
			if want == "" {
				want = rel.Version
			}
			if got := srv.appVersion(a.Name); got != want {
				bad(srv, "application %s answers %s: want %s", a.Name, got, want)
			}
		}
		if apps := srv.deployingApps(); len(apps) > 0 {
			bad(srv, "applications still deploying: %v", apps)
		}
		if srv.pending != "" && !srv.installing {
			bad(srv, "install of %s still pending", srv.pending)
		}
		for _, svc := range sortedServices(srv.services) {
			if got, want := srv.services[svc], srv.initial[svc]; got != want {
				bad(srv, "service %s is %s/%s: want %s/%s as at the start", svc, got.Run, got.Startup, want.Run, want.Startup)
			}
		}
	}
	return out
}

// CheckSafeState checks invariant 7 now: traffic (serving members and
// requests in flight) only on servers whose application answers and is not
// installing, all serving members of a zone on one version, and no
// Scheduler running on a server whose code does not match the database
// schema. It records and returns the violations found.
func (s *Sim) CheckSafeState() []Violation {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	s.checked[7] = true
	var out []Violation
	for _, z := range s.zones {
		versions := map[string][]string{}
		for _, srv := range z.members {
			inTraffic := srv.lbState == drivers.Serving || len(srv.inflight) > 0
			if inTraffic && !srv.appOK() {
				out = append(out, s.violate(7, z.name, srv.name, fmt.Sprintf(
					"member is %s with %d requests in flight but its application is down (crashed=%t installing=%t install failed=%t)",
					srv.lbState, len(srv.inflight), srv.crashed, srv.installing, srv.broken)))
			}
			if srv.lbState == drivers.Serving {
				versions[srv.version] = append(versions[srv.version], srv.name)
			}
			if srv.running(drivers.SchedulerService) && srv.version != s.schema {
				out = append(out, s.violate(7, z.name, srv.name, fmt.Sprintf("Scheduler running on code %s against database schema %s", srv.version, s.schema)))
			}
		}
		if len(versions) > 1 {
			out = append(out, s.violate(7, z.name, "", fmt.Sprintf("serving members run several versions: %v", versions)))
		}
	}
	return out
}

func sortedServices(m map[drivers.Service]drivers.ServiceState) []drivers.Service {
	return slices.Sorted(maps.Keys(m))
}

// ServerState is a snapshot of one simulated front-end, for tests and
// progress displays.
type ServerState struct {
	Name       string `json:"name"`
	Zone       string `json:"zone"`
	Controller bool   `json:"controller,omitempty"`
	// Version is the version the application runs.
	Version string `json:"version"`
	// Installing is the version being installed, empty when none.
	Installing string `json:"installing,omitempty"`
	// Pending is a version waiting to be installed (for the Deployment
	// service to run), empty when none.
	Pending       string                                   `json:"pending,omitempty"`
	InstallFailed bool                                     `json:"install_failed,omitempty"`
	Crashed       bool                                     `json:"crashed,omitempty"`
	Member        drivers.MemberStatus                     `json:"member"`
	Services      map[drivers.Service]drivers.ServiceState `json:"services"`
}

// ServerState returns a snapshot of server name, or an error wrapping
// [drivers.ErrNotFound].
func (s *Sim) ServerState(name string) (ServerState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	srv, ok := s.byName[name]
	if !ok {
		return ServerState{}, fmt.Errorf("%w: server %q: want one of the simulated farm's servers", drivers.ErrNotFound, name)
	}
	return ServerState{
		Name: srv.name, Zone: srv.zone, Controller: srv.controller,
		Version: srv.version, Installing: srv.installVersion, Pending: srv.pending,
		InstallFailed: srv.broken, Crashed: srv.crashed,
		Member:   drivers.MemberStatus{Member: srv.name, State: srv.lbState, Health: srv.health(), ActiveConnections: len(srv.inflight), ConnectionsKnown: true},
		Services: maps.Clone(srv.services),
	}, nil
}

// Schema returns the version of the database schema.
func (s *Sim) Schema() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return s.schema
}
