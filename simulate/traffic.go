package simulate

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Causes of failed requests, as [Report].FailureCauses counts them.
const (
	// CauseNoServingMember: the zone had no serving, healthy member.
	CauseNoServingMember = "no serving member"
	// CauseInstalling: the server answered 503 because it was installing.
	CauseInstalling = "503 installing"
	// CauseBroken: the server answered 503 after a failed install.
	CauseBroken = "503 failed install"
	// CauseResetInstall: an install started while the request was in flight.
	CauseResetInstall = "reset: install started"
	// CauseResetOut: the member was put out while the request was in flight.
	CauseResetOut = "reset: member out"
	// CauseServerDown: the server had crashed (injected fault).
	CauseServerDown = "server down"
	// CauseResetCrash: the server crashed while the request was in flight
	// (injected fault).
	CauseResetCrash = "reset: server crashed"
)

// zone is the model of one deployment zone: its members, its load balancer
// state and its traffic. Guarded by Sim.mu.
type zone struct {
	name    string
	members []*server
	rate    float64
	rng     *rand.Rand
	clients map[int]*client
	rr      int

	routable  []*server // serving and (per the load balancer) healthy
	nonAtomic bool      // driven through PlainLoadBalancer: invariant 5 measured only

	floorBad    bool
	badSince    time.Time
	below       time.Duration
	mixedSince  time.Time
	mixed       time.Duration
	reducedBad  bool // fewer members serving and answering than the zone has
	lastPoint   *TimelinePoint
	timeline    []TimelinePoint
	samples     []TrafficSample
	staleServed int
}

// sample returns the traffic sample of the current instant.
func (s *Sim) sample(z *zone) *TrafficSample {
	iv := s.cfg.SampleInterval
	i := int(s.elapsed() / iv)
	for len(z.samples) <= i {
		z.samples = append(z.samples, TrafficSample{Elapsed: time.Duration(len(z.samples)) * iv})
	}
	return &z.samples[i]
}

type client struct {
	firstNew time.Time // completion of the first response with the new version
}

type request struct {
	id      uint64
	zone    *zone
	client  int
	server  *server
	arrival time.Time
	end     time.Time
	version string
	done    bool
}

func (s *Sim) zoneOf(srv *server) *zone {
	for _, z := range s.zones {
		if z.name == srv.zone {
			return z
		}
	}
	panic("simulate: server " + srv.name + " has no zone")
}

// scheduleArrival draws the next Poisson arrival of zone z.
func (s *Sim) scheduleArrival(z *zone) {
	if z.rate <= 0 || s.quiet {
		return
	}
	gap := time.Duration(z.rng.ExpFloat64() / z.rate * float64(time.Second))
	s.schedule(s.clock.Add(gap), prioArrival, z.name, func() {
		if s.quiet {
			return
		}
		s.arrive(z)
		s.scheduleArrival(z)
	})
}

// arrive routes one new request of zone z.
func (s *Sim) arrive(z *zone) {
	t := &s.cfg.Traffic
	d := t.Duration
	if t.MaxDuration > t.Duration {
		d += time.Duration(z.rng.Int64N(int64(t.MaxDuration-t.Duration) + 1))
	}
	s.nextReq++
	r := &request{id: s.nextReq, zone: z, client: z.rng.IntN(t.Clients), arrival: s.clock, end: s.clock.Add(d)}
	s.stats.requests++
	if len(z.routable) == 0 {
		s.failRequest(r, CauseNoServingMember)
		s.violate(1, z.name, "", "request failed: no serving, healthy member")
		return
	}
	srv := z.routable[z.rr%len(z.routable)]
	z.rr++
	r.server = srv
	switch {
	case srv.crashed:
		s.failRequest(r, CauseServerDown)
	case srv.installing:
		s.failRequest(r, CauseInstalling)
		s.violate(2, z.name, srv.name, "new request routed to a server that is installing "+srv.installVersion)
		s.violate(1, z.name, srv.name, "request failed: 503 from a server that is installing")
	case srv.broken:
		s.failRequest(r, CauseBroken)
		s.violate(1, z.name, srv.name, "request failed: 503 from a server whose install failed")
	default:
		r.version = srv.version
		srv.inflight[r] = struct{}{}
		s.schedule(r.end, prioComplete, srv.name, func() { s.complete(r) })
	}
}

// complete ends a request successfully unless it was reset meanwhile.
func (s *Sim) complete(r *request) {
	if r.done {
		return
	}
	r.done = true
	delete(r.server.inflight, r)
	z := r.zone
	s.stats.served++
	s.stats.byVersion[r.version]++
	zs := s.stats.zones[z.name]
	zs.Served++
	zs.ByVersion[r.version]++
	zs.ByServer[r.server.name]++
	if sm := s.sample(z); sm.Served == nil {
		sm.Served = map[string]int{r.version: 1}
	} else {
		sm.Served[r.version]++
	}
	if s.newVersion == "" {
		return
	}
	c := z.clients[r.client]
	if c == nil {
		c = &client{}
		z.clients[r.client] = c
	}
	if r.version == s.newVersion {
		if c.firstNew.IsZero() {
			c.firstNew = s.clock
		}
		return
	}
	if !c.firstNew.IsZero() && r.arrival.After(c.firstNew) {
		z.staleServed++
		s.stats.staleServed++
		if z.nonAtomic {
			return
		}
		s.violate(5, z.name, r.server.name, fmt.Sprintf("client %d served %s after it was served %s (request arrived %v after)",
			r.client, r.version, s.newVersion, r.arrival.Sub(c.firstNew)))
	}
}

func (s *Sim) failRequest(r *request, cause string) {
	r.done = true
	s.stats.failed++
	s.stats.causes[cause]++
	zs := s.stats.zones[r.zone.name]
	zs.Failed++
	s.sample(r.zone).Failed++
}

// zoneChanged recomputes what the zone's load balancer routes to, and
// checks invariant 4, the mixed-version window and the timeline. It is
// called after every change of a member's state, health or version. The
// caller holds s.mu.
func (s *Sim) zoneChanged(z *zone) {
	z.routable = z.routable[:0]
	capacity, installing, installingServing := 0, 0, 0
	versions := map[string]int{}
	for _, m := range z.members {
		if m.installing {
			installing++
		}
		if !m.routable() {
			continue
		}
		if m.installing {
			installingServing++
		}
		z.routable = append(z.routable, m)
		versions[m.version]++
		if m.appOK() {
			capacity++
		}
	}
	// Invariant 4: at least one serving, healthy member and the floor.
	need := max(1, int(math.Ceil(s.cfg.CapacityFloor*float64(len(z.members))-1e-9)))
	bad := capacity < need
	switch {
	case bad && !z.floorBad:
		s.violate(4, z.name, "", fmt.Sprintf("%d of %d members serving and healthy: want at least %d", capacity, len(z.members), need))
		z.badSince = s.clock
	case !bad && z.floorBad:
		z.below += s.clock.Sub(z.badSince)
	}
	z.floorBad = bad
	// Reduced capacity: the zone serves with fewer than all its members.
	if reduced := capacity < len(z.members); reduced != z.reducedBad {
		z.reducedBad = reduced
		s.reduced.change(s.clock, z.name, reduced)
	}
	// Mixed-version window: several versions reachable by new requests.
	mixed := len(versions) > 1
	switch {
	case mixed && z.mixedSince.IsZero():
		z.mixedSince = s.clock
	case !mixed && !z.mixedSince.IsZero():
		z.mixed += s.clock.Sub(z.mixedSince)
		z.mixedSince = time.Time{}
	}
	p := TimelinePoint{Elapsed: s.elapsed(), Serving: len(z.routable), Capacity: capacity, Installing: installing,
		InstallingServing: installingServing, Versions: versions}
	if last := z.lastPoint; last != nil && last.Serving == p.Serving && last.Capacity == p.Capacity &&
		last.Installing == p.Installing && last.InstallingServing == p.InstallingServing && maps.Equal(last.Versions, p.Versions) {
		return
	}
	if last := z.lastPoint; last != nil && last.Elapsed == p.Elapsed {
		z.timeline[len(z.timeline)-1] = p
	} else {
		z.timeline = append(z.timeline, p)
	}
	z.lastPoint = &z.timeline[len(z.timeline)-1]
}

// reducedWindow accumulates how long one zone, or any zone of the farm,
// served with fewer than all its members.
type reducedWindow struct {
	zones map[string]time.Duration // closed intervals, per zone
	open  map[string]time.Time     // zones reduced now, since
	any   time.Duration            // closed intervals where some zone was reduced
	since time.Time                // start of the current one, when len(open) > 0
}

func (w *reducedWindow) change(now time.Time, zone string, reduced bool) {
	if w.zones == nil {
		w.zones, w.open = map[string]time.Duration{}, map[string]time.Time{}
	}
	if reduced {
		if len(w.open) == 0 {
			w.since = now
		}
		w.open[zone] = now
		return
	}
	w.zones[zone] += now.Sub(w.open[zone])
	delete(w.open, zone)
	if len(w.open) == 0 {
		w.any += now.Sub(w.since)
	}
}

// zone returns how long zone was reduced up to now.
func (w *reducedWindow) zone(now time.Time, zone string) time.Duration {
	d := w.zones[zone]
	if since, ok := w.open[zone]; ok {
		d += now.Sub(since)
	}
	return d
}

// farm returns how long some zone was reduced up to now.
func (w *reducedWindow) farm(now time.Time) time.Duration {
	d := w.any
	if len(w.open) > 0 {
		d += now.Sub(w.since)
	}
	return d
}

// belowFloor returns how long the zone was below its capacity floor.
func (z *zone) belowFloor(now time.Time) time.Duration {
	d := z.below
	if z.floorBad {
		d += now.Sub(z.badSince)
	}
	return d
}

// mixedWindow returns the zone's mixed-version time up to now.
func (z *zone) mixedWindow(now time.Time) time.Duration {
	d := z.mixed
	if !z.mixedSince.IsZero() {
		d += now.Sub(z.mixedSince)
	}
	return d
}

// Hold starts one request on server, as if the load balancer had routed it
// there, and keeps it in flight until release is called: a way for tests to
// observe draining and connection counts. The member must be serving and
// healthy. release ends the request (successfully, unless it was reset
// meanwhile) and may be called more than once.
func (s *Sim) Hold(server string) (release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	srv, ok := s.byName[server]
	if !ok {
		return nil, fmt.Errorf("%w: server %q: want one of the simulated farm's servers", drivers.ErrNotFound, server)
	}
	if !srv.routable() || !srv.appOK() {
		return nil, fmt.Errorf("%w: server %s is %s (healthy=%t): want a serving, healthy member to hold a request on", drivers.ErrUnavailable, srv.name, srv.lbState, srv.lbHealthy && srv.appOK())
	}
	z := s.zoneOf(srv)
	s.nextReq++
	s.stats.requests++
	r := &request{id: s.nextReq, zone: z, client: -1, server: srv, arrival: s.clock, version: srv.version}
	srv.inflight[r] = struct{}{}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance(time.Now())
		r.end = s.clock
		s.complete(r)
	}, nil
}
