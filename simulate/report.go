package simulate

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Violation is one breach of a safety invariant (docs/safety.md), found while
// the simulation ran or by [Sim.CheckEndState] / [Sim.CheckSafeState].
type Violation struct {
	// Time is the simulated instant of the breach; Elapsed is the same
	// instant measured from [New].
	Time    time.Time     `json:"time"`
	Elapsed time.Duration `json:"elapsed"`
	Zone    string        `json:"zone,omitempty"`
	Server  string        `json:"server,omitempty"`
	// Invariant is the number (1-7) of the invariant in docs/safety.md.
	Invariant int    `json:"invariant"`
	Detail    string `json:"detail"`
}

// String formats the violation on one line.
func (v Violation) String() string {
	where := v.Zone
	if v.Server != "" {
		where += "/" + v.Server
	}
	return fmt.Sprintf("%v invariant %d %s: %s", v.Elapsed, v.Invariant, where, v.Detail)
}

// TimelinePoint is the state of one zone from Elapsed until the next point:
// what the load balancer routes new requests to, and which versions those
// members run. Points are recorded when something changes.
type TimelinePoint struct {
	Elapsed time.Duration `json:"elapsed"`
	// Serving counts members that are serving and healthy per the load
	// balancer: those new requests go to.
	Serving int `json:"serving"`
	// Capacity counts Serving members whose application really answers.
	Capacity int `json:"capacity"`
	// Installing counts the zone's servers installing a version.
	Installing int `json:"installing"`
	// InstallingServing counts those of the Installing servers that are
	// also counted in Serving: the load balancer still sends them requests
	// (a plan that did not drain them first).
	InstallingServing int `json:"installing_serving,omitempty"`
	// Versions counts Serving members per version they run.
	Versions map[string]int `json:"versions"`
}

// ZoneReport is the traffic and timeline of one zone.
type ZoneReport struct {
	Name      string         `json:"name"`
	Served    int            `json:"served"`
	Failed    int            `json:"failed"`
	ByVersion map[string]int `json:"by_version"`
	// ByServer counts successful requests per server.
	ByServer map[string]int `json:"by_server"`
	// MixedVersionWindow is how long new requests could reach members
	// running different versions.
	MixedVersionWindow time.Duration `json:"mixed_version_window"`
	// BelowFloor is how long the zone had fewer serving, healthy members
	// than its capacity floor (invariant 4).
	BelowFloor time.Duration `json:"below_floor"`
	// ReducedCapacity is how long the zone served with fewer than all of
	// its members (serving, healthy and answering): the time an operator
	// runs on part of the zone.
	ReducedCapacity time.Duration `json:"reduced_capacity"`
	// StaleAfterNew counts requests served the old version to a client
	// that had already been served the new one (invariant 5).
	StaleAfterNew int `json:"stale_after_new"`
	// NonAtomic is true for a zone driven through [Sim.PlainLoadBalancer]:
	// its StaleAfterNew requests are measured, not violations.
	NonAtomic bool            `json:"non_atomic,omitempty"`
	Timeline  []TimelinePoint `json:"timeline"`
	// Traffic counts the zone's requests per Config.SampleInterval, from
	// the start of the simulation: for drawing load and failures over time.
	Traffic []TrafficSample `json:"traffic"`
}

// TrafficSample counts the requests of one zone that ended (served or
// failed) in [Elapsed, Elapsed+Config.SampleInterval).
type TrafficSample struct {
	Elapsed time.Duration `json:"elapsed"`
	// Served counts successful requests per version.
	Served map[string]int `json:"served,omitempty"`
	Failed int            `json:"failed,omitempty"`
}

// Report is what happened in a simulation so far.
type Report struct {
	Elapsed  time.Duration `json:"elapsed"`
	Requests int           `json:"requests"`
	Served   int           `json:"served"`
	Failed   int           `json:"failed"`
	// FailureCauses counts failed requests by cause (the Cause constants).
	FailureCauses map[string]int `json:"failure_causes"`
	// ServedByVersion counts successful requests by the version that served
	// them.
	ServedByVersion map[string]int `json:"served_by_version"`
	// SchedulerRuns counts timer runs; InconsistentTimerRuns those where
	// the server's code did not match the database schema.
	SchedulerRuns         int `json:"scheduler_runs"`
	InconsistentTimerRuns int `json:"inconsistent_timer_runs"`
	StaleAfterNew         int `json:"stale_after_new"`
	// Violations lists the breaches in time order, at most
	// Config.MaxViolations per invariant; ViolationCounts counts them all.
	Violations      []Violation `json:"violations"`
	ViolationCounts map[int]int `json:"violation_counts"`
	// Checked lists the invariants this simulation checked: 2, 3 and 4
	// always; 1 and 5 once traffic started; 6 and 7 when
	// [Sim.CheckEndState] and [Sim.CheckSafeState] were called.
	Checked []int        `json:"checked"`
	Zones   []ZoneReport `json:"zones"`
	// ReducedCapacity is the reduced-capacity window: how long any zone
	// served with fewer than all of its members (the union over the zones
	// of their ZoneReport.ReducedCapacity).
	ReducedCapacity time.Duration `json:"reduced_capacity"`
	// Marks are the annotations added with [Sim.Mark], in time order.
	Marks []Mark `json:"marks,omitempty"`
}

// Mark is an annotation of the simulated timeline, such as the start of a
// step of the procedure.
type Mark struct {
	Elapsed time.Duration `json:"elapsed"`
	Label   string        `json:"label"`
}

// Mark annotates the current instant of the simulation with label, so that
// a drawing of the timeline can show, for example, where each step began:
//
//	plan config: farm.PlanConfig{Observer: event.ObserverFunc(func(e event.Event) {
//		if e.Kind == event.StepStarted {
//			sim.Mark(e.Step)
//		}
//	})}
func (s *Sim) Mark(label string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	s.marks = append(s.marks, Mark{Elapsed: s.elapsed(), Label: label})
}

// Elapsed returns the simulated time since [New].
func (s *Sim) Elapsed() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	return s.elapsed()
}

// TotalViolations returns the number of violations of every invariant.
func (r Report) TotalViolations() int {
	n := 0
	for _, c := range r.ViolationCounts {
		n += c
	}
	return n
}

// ViolationsOf returns the kept violations of invariant n.
func (r Report) ViolationsOf(n int) []Violation {
	var out []Violation
	for _, v := range r.Violations {
		if v.Invariant == n {
			out = append(out, v)
		}
	}
	return out
}

// String summarises the report in a few lines; the last line is
// "served=<n> failed=<n> violations=<n>".
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "simulated %v: %d requests\n", r.Elapsed.Round(time.Millisecond), r.Requests)
	if len(r.FailureCauses) > 0 {
		fmt.Fprintf(&b, "failure causes: %s\n", formatCounts(r.FailureCauses))
	}
	fmt.Fprintf(&b, "served by version: %s\n", formatCounts(r.ServedByVersion))
	for _, z := range r.Zones {
		fmt.Fprintf(&b, "zone %s: served=%d failed=%d mixed-version window=%v stale-after-new=%d below-floor=%v\n",
			z.Name, z.Served, z.Failed, z.MixedVersionWindow.Round(time.Millisecond), z.StaleAfterNew, z.BelowFloor.Round(time.Millisecond))
	}
	fmt.Fprintf(&b, "reduced capacity: %v\n", r.ReducedCapacity.Round(time.Millisecond))
	fmt.Fprintf(&b, "scheduler runs: %d (inconsistent with schema: %d)\n", r.SchedulerRuns, r.InconsistentTimerRuns)
	checked := make([]string, len(r.Checked))
	for i, c := range r.Checked {
		checked[i] = fmt.Sprint(c)
	}
	fmt.Fprintf(&b, "invariants checked: %s\n", strings.Join(checked, ","))
	for _, v := range r.Violations {
		fmt.Fprintf(&b, "  %s\n", v)
	}
	fmt.Fprintf(&b, "served=%d failed=%d violations=%d", r.Served, r.Failed, r.TotalViolations())
	return b.String()
}

func formatCounts[K comparable](m map[K]int) string {
	keys := make([]string, 0, len(m))
	byStr := map[string]int{}
	for k, v := range m {
		ks := fmt.Sprint(k)
		keys = append(keys, ks)
		byStr[ks] = v
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, byStr[k])
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// stats accumulates counters. Guarded by Sim.mu.
type stats struct {
	requests, served, failed        int
	causes                          map[string]int
	byVersion                       map[string]int
	zones                           map[string]*ZoneReport
	schedulerRuns, inconsistentRuns int
	staleServed                     int
	violations                      []Violation
	counts                          map[int]int
}

func (st *stats) init() {
	st.causes = map[string]int{}
	st.byVersion = map[string]int{}
	st.zones = map[string]*ZoneReport{}
	st.counts = map[int]int{}
}

func (st *stats) zone(name string) {
	st.zones[name] = &ZoneReport{Name: name, ByVersion: map[string]int{}, ByServer: map[string]int{}}
}

// violate records a breach of invariant n. The caller holds s.mu.
func (s *Sim) violate(n int, zone, server, detail string) Violation {
	v := Violation{Time: s.clock, Elapsed: s.elapsed(), Zone: zone, Server: server, Invariant: n, Detail: detail}
	s.stats.counts[n]++
	if s.stats.counts[n] <= s.cfg.MaxViolations {
		s.stats.violations = append(s.stats.violations, v)
	}
	s.logf("invariant violated", "invariant", n, "zone", zone, "server", server, "detail", detail)
	return v
}

// Report returns what happened so far. It may be called at any time, also
// while the simulation runs.
func (s *Sim) Report() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(time.Now())
	st := &s.stats
	r := Report{
		Elapsed:               s.elapsed(),
		Requests:              st.requests,
		Served:                st.served,
		Failed:                st.failed,
		FailureCauses:         maps.Clone(st.causes),
		ServedByVersion:       maps.Clone(st.byVersion),
		SchedulerRuns:         st.schedulerRuns,
		InconsistentTimerRuns: st.inconsistentRuns,
		StaleAfterNew:         st.staleServed,
		Violations:            slices.Clone(st.violations),
		ViolationCounts:       maps.Clone(st.counts),
		Marks:                 slices.Clone(s.marks),
		ReducedCapacity:       s.reduced.farm(s.clock),
	}
	sort.SliceStable(r.Violations, func(i, j int) bool {
		a, b := r.Violations[i], r.Violations[j]
		if a.Elapsed != b.Elapsed {
			return a.Elapsed < b.Elapsed
		}
		if a.Invariant != b.Invariant {
			return a.Invariant < b.Invariant
		}
		if a.Zone != b.Zone {
			return a.Zone < b.Zone
		}
		if a.Server != b.Server {
			return a.Server < b.Server
		}
		return a.Detail < b.Detail
	})
	for n := range s.checked {
		r.Checked = append(r.Checked, n)
	}
	slices.Sort(r.Checked)
	for _, z := range s.zones {
		zr := *st.zones[z.name]
		zr.ByVersion = maps.Clone(zr.ByVersion)
		zr.ByServer = maps.Clone(zr.ByServer)
		zr.MixedVersionWindow = z.mixedWindow(s.clock)
		zr.StaleAfterNew = z.staleServed
		zr.BelowFloor = z.belowFloor(s.clock)
		zr.ReducedCapacity = s.reduced.zone(s.clock, z.name)
		zr.NonAtomic = z.nonAtomic
		zr.Traffic = make([]TrafficSample, len(z.samples))
		for i, sm := range z.samples {
			sm.Served = maps.Clone(sm.Served)
			zr.Traffic[i] = sm
		}
		zr.Timeline = make([]TimelinePoint, len(z.timeline))
		for i, p := range z.timeline {
			p.Versions = maps.Clone(p.Versions)
			zr.Timeline[i] = p
		}
		r.Zones = append(r.Zones, zr)
	}
	return r
}
