package simulate

import (
	"fmt"
	"slices"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// A release of several applications (drivers.Release.Applications) is
// installed on each front-end one application at a time by its Deployment
// service, and each application is switched to its new version when its
// own deployment ends: OutSystems hot-deploys, the old version answering
// until then ("OutSystems hot-deploys the new versions of your applications
// with no downtime", OutSystems, Balanced Application Deployment on Highly
// Loaded OutSystems Farms). The simulator models each application of a
// server: when the server's install of a release ends, every application of
// the release answers its version, except one delayed with
// [Sim.DelayApplication], which keeps answering its old version, healthy,
// until its own deployment ends. The server's Deployment service is not
// idle meanwhile (Services.DeploymentIdle), but no documented API of the
// real product reports that (the Service Center "Environment Health" page
// shows the Deployment service's threads), so a run sees it only by probing
// the application itself ([Prober.ProbeApplication]).
//
// An application's deployment that ends while the member is serving resets
// the requests the server holds, as an install does, and breaks invariant 2.

// appState is one application of a server. Guarded by Sim.mu.
type appState struct {
	version   string        // version it answers
	deploying string        // version being deployed, "" when none
	gen       int           // counts deployments, so a late end is dropped
	delay     time.Duration // how much longer than the release its next deployment takes
}

// DelayApplication makes the next deployment of application on server end
// d after the server's install of the release: until then the application
// answers its old version, healthy. The application must be one the run's
// release lists (drivers.Release.Applications); d must be positive. It
// fails with [drivers.ErrNotFound] for an unknown server and
// [drivers.ErrInvalidArgument] for an empty application or a d not above 0.
func (s *Sim) DelayApplication(server, application string, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	srv, ok := s.byName[server]
	switch {
	case !ok:
		return fmt.Errorf("%w: server %q: want one of the simulated farm's servers", drivers.ErrNotFound, server)
	case application == "":
		return fmt.Errorf("%w: empty application name: want one of the release's applications", drivers.ErrInvalidArgument)
	case d <= 0:
		return fmt.Errorf("%w: delay %v for application %s on %s: want a positive duration", drivers.ErrInvalidArgument, d, application, server)
	}
	srv.app(application).delay = d
	return nil
}

// app returns srv's state of application, created on first use answering
// the version the server runs. The caller holds s.mu.
func (srv *server) app(application string) *appState {
	if srv.apps == nil {
		srv.apps = map[string]*appState{}
	}
	a, ok := srv.apps[application]
	if !ok {
		a = &appState{version: srv.version}
		srv.apps[application] = a
	}
	return a
}

// appVersion is the version application answers on srv: its own once a
// release listing it was installed there, the server's otherwise.
func (srv *server) appVersion(application string) string {
	if a, ok := srv.apps[application]; ok && a.version != "" {
		return a.version
	}
	return srv.version
}

// deployingApps lists the applications still deploying on srv, sorted.
func (srv *server) deployingApps() []string {
	var out []string
	for name, a := range srv.apps {
		if a.deploying != "" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// releaseOf returns the release of version v the platform deployed last
// (the initial release when none), for its applications.
func (s *Sim) releaseOf(v string) drivers.Release {
	for i := len(s.deploys) - 1; i >= 0; i-- {
		if s.deploys[i].rel.Version == v {
			return s.deploys[i].rel
		}
	}
	if s.deployed.Version == v {
		return s.deployed
	}
	return drivers.Release{Version: v}
}

// installApps switches each application of the release of version v to its
// version on srv, now or, for one delayed, when its own deployment ends.
// The caller holds s.mu; srv's install of v has just ended.
func (s *Sim) installApps(srv *server, v string) {
	rel := s.releaseOf(v)
	for name, st := range srv.apps {
		if !slices.ContainsFunc(rel.Applications, func(a drivers.Application) bool { return a.Name == name }) {
			st.gen++
			st.version, st.deploying = "", "" // not in this release: answers the server's version
		}
	}
	for _, a := range rel.Applications {
		want := a.Version
		if want == "" {
			want = rel.Version
		}
		st := srv.app(a.Name)
		st.gen++
		if st.delay <= 0 {
			st.version, st.deploying = want, ""
			continue
		}
		d := st.delay
		st.delay, st.deploying = 0, want
		gen := st.gen
		s.logf("application deploying", "server", srv.name, "application", a.Name, "version", want, "for", d)
		s.schedule(s.clock.Add(d), prioInstall, srv.name, func() {
			if st.gen != gen || st.deploying != want {
				return
			}
			if srv.lbState == drivers.Serving || len(srv.inflight) > 0 {
				s.violate(2, srv.zone, srv.name, fmt.Sprintf("application %s switched to %s while the member is %s with %d requests in flight", a.Name, want, srv.lbState, len(srv.inflight)))
			}
			s.resetInflight(srv, CauseResetInstall, true)
			st.version, st.deploying = want, ""
			s.logf("application deployed", "server", srv.name, "application", a.Name, "version", want)
		})
	}
}
