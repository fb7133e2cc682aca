package simulate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/fault"
)

// Sim is a simulated farm: front-ends with their services, one load balancer
// per zone, the deployment platform and the user traffic. Build it with
// [New]. All methods are safe for concurrent use.
type Sim struct {
	cfg Config
	t0  time.Time

	mu      sync.Mutex
	clock   time.Time // simulated "now" of the event being processed
	queue   eventQueue
	free    []*event // events run, for reuse
	seq     uint64
	zones   []*zone
	servers []*server
	byName  map[string]*server

	schema     string // database schema version
	deployed   drivers.Release
	deploys    []*deployment
	target     string // release being rolled out (invariant 3), "" when none
	newVersion string // version of the latest deployment started (invariant 5)
	reduced    reducedWindow

	faults  fault.Set // faults on driver calls
	work    fault.Set // faults on the platform's own work (OpInstall, OpPublish, OpApply)
	actions actionLog
	marks   []Mark
	stats   stats
	checked map[int]bool
	started bool
	stopped bool // Stop was called
	quiet   bool // no more arrivals (Stop called or Start's ctx done)
	stopCh  chan struct{}
	done    chan struct{}
	nextReq uint64

	farmID string                   // random: every Sim is a farm of its own (lease.go)
	leases map[string]drivers.Lease // farm leases by server and farm (lease.go)
}

// New builds a simulated farm from cfg. Every error names the bad value and
// what was expected, and wraps [drivers.ErrInvalidArgument] (or
// [drivers.ErrNotFound] for an unknown controller name).
func New(cfg Config) (*Sim, error) {
	c, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	s := &Sim{
		cfg:      c,
		t0:       now,
		clock:    now,
		byName:   map[string]*server{},
		schema:   c.InitialVersion,
		deployed: drivers.Release{Version: c.InitialVersion, Notes: "initial release"},
		checked:  map[int]bool{2: true, 3: true, 4: true},
		farmID:   newFarmID(),
	}
	s.stats.init()
	for zi, zc := range c.Zones {
		z := &zone{
			name:    zc.Name,
			rate:    c.rate(zc),
			rng:     rand.New(rand.NewPCG(c.Seed, uint64(zi)+1)),
			clients: map[int]*client{},
		}
		for _, n := range zc.Names {
			srv := newServer(n, z.name, n == c.Controller, c.InitialVersion, len(s.servers), c.InitialServices)
			z.members = append(z.members, srv)
			s.servers = append(s.servers, srv)
			s.byName[n] = srv
		}
		s.zones = append(s.zones, z)
		s.stats.zone(z.name)
	}
	for _, srv := range s.servers {
		s.startSchedulerTimer(srv)
	}
	for _, z := range s.zones {
		s.zoneChanged(z)
	}
	return s, nil
}

// Servers returns the farm's servers as package farm describes them, zone by
// zone, ready for farm.AutoSplit. Member is the server name and ProbeURL is
// "sim://<name>/".
func (s *Sim) Servers() []farm.Server {
	out := make([]farm.Server, 0, len(s.servers))
	for _, srv := range s.servers {
		out = append(out, farm.Server{
			Name:                 srv.name,
			Member:               srv.name,
			Zone:                 srv.zone,
			DeploymentController: srv.controller,
			ProbeURL:             "sim://" + srv.name + "/",
		})
	}
	return out
}

// Zones returns the names of the farm's zones in order.
func (s *Sim) Zones() []string {
	out := make([]string, len(s.zones))
	for i, z := range s.zones {
		out[i] = z.name
	}
	return out
}

// Config returns the configuration in use, with defaults applied.
func (s *Sim) Config() Config {
	c := s.cfg
	c.Zones = slices.Clone(c.Zones)
	for i := range c.Zones {
		c.Zones[i].Names = slices.Clone(c.Zones[i].Names)
	}
	c.InitialServices = maps.Clone(c.InitialServices)
	return c
}

// Start starts the user traffic and a goroutine that advances the
// simulation every Config.Tick until [Sim.Stop] is called or ctx is done;
// either ends the arrival of new requests.
// Under testing/synctest, call Stop before the bubble's function returns.
// Start fails if the simulation was started before.
func (s *Sim) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return errors.New("simulate: Start called twice: want one Start per Sim")
	}
	s.started = true
	s.checked[1], s.checked[5] = true, true
	s.advance(time.Now())
	for _, z := range s.zones {
		s.scheduleArrival(z)
	}
	s.stopCh = make(chan struct{})
	s.done = make(chan struct{})
	go s.loop(ctx, s.stopCh, s.done)
	return nil
}

func (s *Sim) loop(ctx context.Context, stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(s.cfg.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			s.advance(time.Now())
			s.quiet = true
			s.mu.Unlock()
			return
		case <-stop:
			return
		case <-t.C:
			s.mu.Lock()
			s.advance(time.Now())
			s.mu.Unlock()
		}
	}
}

// Stop stops new arrivals, waits (in simulated time) for the requests in
// flight to finish, and stops the goroutine started by [Sim.Start]. It is
// safe to call more than once, and without Start.
func (s *Sim) Stop() {
	s.mu.Lock()
	if !s.started || s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	close(s.stopCh)
	done := s.done
	s.advance(time.Now())
	s.quiet = true
	var last time.Time
	for _, srv := range s.servers {
		for r := range srv.inflight {
			if r.end.After(last) {
				last = r.end
			}
		}
	}
	s.mu.Unlock()
	<-done
	if d := time.Until(last); d > 0 {
		time.Sleep(d)
	}
	s.mu.Lock()
	s.advance(time.Now())
	s.mu.Unlock()
}

// elapsed returns the simulated time since New.
func (s *Sim) elapsed() time.Duration { return s.clock.Sub(s.t0) }

// lookup finds a server by target name, falling back to a "sim://name/" URL.
// The caller holds s.mu.
func (s *Sim) lookup(t drivers.Target) (*server, error) {
	if srv, ok := s.byName[t.Name]; ok {
		return srv, nil
	}
	if n, ok := parseSimURL(t.URL); ok {
		if srv, ok := s.byName[n]; ok {
			return srv, nil
		}
	}
	return nil, fmt.Errorf("%w: server %q: want one of the simulated farm's servers", drivers.ErrNotFound, t.Name)
}

func parseSimURL(u string) (string, bool) {
	const p = "sim://"
	if len(u) <= len(p) || u[:len(p)] != p {
		return "", false
	}
	n := u[len(p):]
	for i := 0; i < len(n); i++ {
		if n[i] == '/' {
			n = n[:i]
			break
		}
	}
	return n, n != ""
}
