package simulate

import (
	"fmt"
	"sort"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// server is the model of one front-end. All fields are guarded by Sim.mu.
type server struct {
	name       string
	zone       string
	controller bool
	index      int

	lbState   drivers.MemberState
	lbHealthy bool // the load balancer's (delayed) view of appOK
	lbUnknown bool // no health verdict yet (Config.RecheckAfterOut)
	checkGen  int
	appGen    int  // counts changes of what the health checks see (checkOK)
	checkSeen bool // checkOK at the last change

	services map[drivers.Service]drivers.ServiceState
	initial  map[drivers.Service]drivers.ServiceState

	version        string // code version the application runs
	installing     bool
	installVersion string
	installStart   time.Time
	installGen     int
	pending        string // version to install once the Deployment service runs
	installQueued  bool
	broken         bool // a failed install left the application answering 503
	crashed        bool
	crashGen       int
	apps           map[string]*appState // the release's applications (applications.go)

	inflight map[*request]struct{}
	schedGen int
}

func newServer(name, zone string, controller bool, version string, index int, initial map[drivers.Service]drivers.ServiceState) *server {
	srv := &server{
		name: name, zone: zone, controller: controller, index: index,
		lbState: drivers.Serving, lbHealthy: true, checkSeen: true,
		services: map[drivers.Service]drivers.ServiceState{},
		initial:  map[drivers.Service]drivers.ServiceState{},
		version:  version,
		inflight: map[*request]struct{}{},
	}
	list := []drivers.Service{drivers.SchedulerService, drivers.DeploymentService}
	if controller {
		list = append(list, drivers.DeploymentControllerService)
	}
	for _, svc := range list {
		st, ok := initial[svc]
		if !ok {
			st = drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}
		}
		srv.services[svc] = st
		srv.initial[svc] = st
	}
	return srv
}

// health is the load balancer's verdict on srv.
func (srv *server) health() drivers.Health {
	switch {
	case srv.lbUnknown:
		return drivers.HealthUnknown
	case srv.lbHealthy:
		return drivers.Healthy
	}
	return drivers.Unhealthy
}

// routable reports whether the load balancer sends new requests to srv.
func (srv *server) routable() bool {
	return srv.lbState == drivers.Serving && srv.lbHealthy && !srv.lbUnknown
}

// appOK reports whether the application answers requests.
func (srv *server) appOK() bool { return !srv.crashed && !srv.installing && !srv.broken }

// checkOK reports whether the load balancer's health check passes now: as
// appOK, except that an install passes the check for its first
// Config.InstallPassesChecksFor.
func (s *Sim) checkOK(srv *server) bool {
	if srv.installing && !srv.crashed && s.clock.Before(srv.installStart.Add(s.cfg.InstallPassesChecksFor)) {
		return true
	}
	return srv.appOK()
}

func (srv *server) running(svc drivers.Service) bool {
	return srv.services[svc].Run == drivers.Running
}

// appChanged propagates a change of what the health checks see
// (checkOK) to the load balancer's health view after the health-check
// delay. A verdict is about the state that held when it was scheduled: if
// that state has changed again before the delay is over (an install
// shorter than the delay ended, a crashed server recovered), the checks
// never saw it long enough, and the verdict is dropped. The caller holds
// s.mu.
func (s *Sim) appChanged(srv *server) {
	ok := s.checkOK(srv)
	if ok == srv.checkSeen {
		return // no change: a verdict on its way stays valid
	}
	srv.checkSeen = ok
	srv.appGen++
	gen := srv.appGen
	if s.cfg.HealthCheckDelay == 0 {
		s.setHealth(srv, ok)
		return
	}
	s.schedule(s.clock.Add(s.cfg.HealthCheckDelay), prioHealth, srv.name, func() {
		if srv.appGen == gen {
			s.setHealth(srv, ok)
		}
	})
}

func (s *Sim) setHealth(srv *server, ok bool) {
	if srv.lbHealthy == ok {
		return
	}
	srv.lbHealthy = ok
	s.zoneChanged(s.zoneOf(srv))
}

// setService applies a run state and startup type to one service and the
// consequences: scheduler timers, queued installs. The caller holds s.mu.
func (s *Sim) setService(srv *server, svc drivers.Service, st drivers.ServiceState) {
	was := srv.services[svc]
	srv.services[svc] = st
	if was.Run == st.Run {
		return
	}
	switch svc {
	case drivers.SchedulerService:
		if st.Run == drivers.Running {
			if s.target != "" && srv.version != s.target {
				s.violate(3, srv.zone, srv.name, fmt.Sprintf("Scheduler started while the server runs %s and release %s is being deployed", srv.version, s.target))
			}
			s.startSchedulerTimer(srv)
		} else {
			srv.schedGen++
		}
	case drivers.DeploymentService:
		if st.Run == drivers.Running {
			s.queueInstall(srv, s.cfg.CatchUpDelay)
		}
	}
}

// startSchedulerTimer arms srv's timers. Timers of different servers are
// phased so that they do not all fire in the same instant.
func (s *Sim) startSchedulerTimer(srv *server) {
	srv.schedGen++
	gen := srv.schedGen
	iv := s.cfg.SchedulerInterval
	phase := time.Duration(srv.index%10) * iv / 10
	var fire func()
	fire = func() {
		if srv.schedGen != gen || !srv.running(drivers.SchedulerService) {
			return
		}
		s.timerFired(srv)
		s.schedule(s.clock.Add(iv), prioScheduler, srv.name, fire)
	}
	s.schedule(s.clock.Add(iv+phase), prioScheduler, srv.name, fire)
}

// timerFired records one Scheduler run and checks invariant 3.
func (s *Sim) timerFired(srv *server) {
	s.stats.schedulerRuns++
	switch {
	case srv.crashed:
		return
	case srv.version != s.schema:
		s.stats.inconsistentRuns++
		s.violate(3, srv.zone, srv.name, fmt.Sprintf("timer ran on code %s against database schema %s", srv.version, s.schema))
	case s.target != "" && srv.version != s.target:
		s.violate(3, srv.zone, srv.name, fmt.Sprintf("timer ran during the deployment of %s before the server runs it (code %s)", s.target, srv.version))
	}
}

// queueInstall schedules srv's pending install after delay, if its
// Deployment service runs. The caller holds s.mu.
func (s *Sim) queueInstall(srv *server, delay time.Duration) {
	if srv.pending == "" || srv.installing || srv.installQueued || !srv.running(drivers.DeploymentService) {
		return
	}
	srv.installQueued = true
	s.schedule(s.clock.Add(delay+s.cfg.InstallStagger), prioInstall, srv.name, func() { s.beginInstall(srv) })
}

// beginInstall starts installing srv.pending: the application answers 503
// until the install ends. Invariant 2: the member must not be serving nor
// hold requests.
func (s *Sim) beginInstall(srv *server) {
	srv.installQueued = false
	if srv.pending == "" || srv.installing || !srv.running(drivers.DeploymentService) {
		return
	}
	v := srv.pending
	if srv.lbState == drivers.Serving || len(srv.inflight) > 0 {
		s.violate(2, srv.zone, srv.name, fmt.Sprintf("install of %s started while the member is %s with %d requests in flight", v, srv.lbState, len(srv.inflight)))
	}
	s.resetInflight(srv, CauseResetInstall, true)
	srv.installing, srv.installVersion, srv.installStart = true, v, s.clock
	srv.installGen++
	s.logf("install started", "server", srv.name, "version", v)
	longer, fail := s.installFault(srv)
	took := s.cfg.InstallDuration + longer
	s.appChanged(srv)
	if g := s.cfg.InstallPassesChecksFor; g > 0 && g < took {
		gen := srv.installGen
		s.schedule(s.clock.Add(g), prioHealth, srv.name, func() {
			if srv.installing && srv.installGen == gen {
				s.appChanged(srv) // the checks start failing
			}
		})
	}
	s.zoneChanged(s.zoneOf(srv))
	s.schedule(s.clock.Add(took), prioInstall, srv.name, func() { s.endInstall(srv, v, fail) })
}

func (s *Sim) endInstall(srv *server, v string, fail error) {
	srv.installing, srv.installVersion = false, ""
	if srv.pending == v {
		srv.pending = ""
	}
	if fail != nil {
		srv.broken = true
		s.logf("install failed", "server", srv.name, "version", v, "error", fail.Error())
	} else {
		srv.version, srv.broken = v, false
		s.logf("install finished", "server", srv.name, "version", v)
		s.installApps(srv, v)
	}
	s.appChanged(srv)
	s.zoneChanged(s.zoneOf(srv))
	s.queueInstall(srv, 0) // a newer release may be waiting
}

// resetInflight fails every request srv holds with cause.
func (s *Sim) resetInflight(srv *server, cause string, deployment bool) {
	if len(srv.inflight) == 0 {
		return
	}
	reqs := make([]*request, 0, len(srv.inflight))
	for r := range srv.inflight {
		reqs = append(reqs, r)
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].id < reqs[j].id })
	for _, r := range reqs {
		s.failRequest(r, cause)
	}
	clear(srv.inflight)
	if deployment {
		s.violate(1, srv.zone, srv.name, fmt.Sprintf("%d in-flight requests reset (%s)", len(reqs), cause))
	}
}

// crash takes srv's application down; recoverAfter > 0 brings it back.
func (s *Sim) crash(srv *server, recoverAfter time.Duration) {
	srv.crashGen++
	gen := srv.crashGen
	if !srv.crashed {
		srv.crashed = true
		s.logf("server crashed", "server", srv.name)
		s.resetInflight(srv, CauseResetCrash, false)
		s.appChanged(srv)
		s.zoneChanged(s.zoneOf(srv))
	}
	if recoverAfter > 0 {
		s.schedule(s.clock.Add(recoverAfter), prioHealth, srv.name, func() {
			if srv.crashGen == gen {
				s.recover(srv)
			}
		})
	}
}

func (s *Sim) recover(srv *server) {
	if !srv.crashed {
		return
	}
	srv.crashed = false
	s.logf("server recovered", "server", srv.name)
	s.appChanged(srv)
	s.zoneChanged(s.zoneOf(srv))
}

func (s *Sim) logf(msg string, args ...any) {
	s.cfg.Logger.Debug(msg, append([]any{"elapsed", s.elapsed()}, args...)...)
}
