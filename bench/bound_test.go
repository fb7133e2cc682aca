package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/steps"
)

// settings are one configuration of the overhead benchmark: the farm, the
// engine's concurrency, the physical timings of the fake farm and the waits
// of steps.Config.
type settings struct {
	Servers int
	// Concurrency is farm.PlanConfig.Concurrency; 0 means the engine's
	// default (farm.DefaultConcurrency).
	Concurrency int
	timings
	// ConfirmDelay is steps.Config.ConfirmDelay: a wait the runbook
	// imposes after stopping services, counted as unavoidable.
	ConfirmDelay time.Duration
	// PollInterval and DeployPollInterval are steps.Config's. They are not
	// part of the physical bound; see pollAllowance.
	PollInterval, DeployPollInterval time.Duration
	// Strict runs the plan in the strict runbook order
	// (farm.PlanConfig.StrictOrder); false overlaps the steps that need
	// nothing of each other, as the engine does by default.
	Strict bool
	// PrepareOff is steps.Config.PrepareAtFullCapacity off, with
	// ContinuePrepared: on a two-stage platform (timings.TwoStage) publish
	// then starts the deployment and continues it, at reduced capacity,
	// instead of continuing the one the prepare step prepared.
	PrepareOff bool
}

// prepared says whether the plan prepares the release at full capacity:
// the platform runs deployments in two stages and PrepareOff is not set.
func (s settings) prepared() bool { return s.TwoStage && !s.PrepareOff }

// defaultSettings are the settings BENCHMARKS.md reports: 2 ms per driver
// call, a 50 ms drain, a 100 ms publish and a 100 ms install, a 10 ms
// confirm delay, and polls every 5 ms.
func defaultSettings(servers, concurrency int) settings {
	return settings{
		Servers:     servers,
		Concurrency: concurrency,
		timings: timings{
			Latency: 2 * time.Millisecond,
			Drain:   50 * time.Millisecond,
			Publish: 100 * time.Millisecond,
			Install: 100 * time.Millisecond,
		},
		ConfirmDelay:       10 * time.Millisecond,
		PollInterval:       5 * time.Millisecond,
		DeployPollInterval: 5 * time.Millisecond,
	}
}

// groups returns the sizes of the Updating and Loaded groups farm.AutoSplit
// makes of one zone (the larger half updating).
func (s settings) groups() (updating, loaded int) {
	return (s.Servers + 1) / 2, s.Servers / 2
}

func (s settings) concurrency() int {
	if s.Concurrency == 0 {
		return farm.DefaultConcurrency
	}
	return s.Concurrency
}

// term is one step's share of the critical path.
type term struct {
	Step string
	D    time.Duration
	How  string
}

// criticalPath returns, step by step, the least time each step of the
// balanced plan can take on the fake farm with these settings: the longest
// wait no engine can avoid plus one driver round trip (L) for each call that
// depends on the previous one, as the steps are written (pathOf chains them
// through the plan's Needs: the critical path with overlap; within a
// step, the calls a step makes one after the other on one server or zone
// are dependent, the servers are independent). Polls are assumed to see a
// condition the instant it holds (no poll interval; see pollAllowance).
//
// With a concurrency limit K, a fan-out of n servers each making c
// dependent calls (n·c calls in all) also takes at least n·c·L/K: fan
// below. Each formula is in BENCHMARKS.md.
func criticalPath(s settings) []term {
	L, D, P, I, C := s.Latency, s.Drain, s.Publish, s.Install, s.ConfirmDelay
	U := s.CatchUp
	N := s.Servers
	nu, nl := s.groups()
	K := s.concurrency()
	// fan is the least time for `calls` calls of L over K slots when
	// the longest chain on one server is `chain` calls.
	fan := func(calls, chain int) time.Duration {
		return max(time.Duration(chain)*L, time.Duration((calls+K-1)/K)*L)
	}
	terms := []term{
		{steps.Preflight, L + fan(3*N+1, 4),
			"Status of the zone (L), then per server 2 service reads + 1 probe, 3 reads on the controller (4L)"},
		{steps.StopSchedulers, fan(N, 1) + C + fan(N, 1),
			"StopService (L), ConfirmDelay, ServiceState (L)"},
		{steps.DrainUpdating, 2*L + max(D, L) + 2*L,
			"Status, SetState draining (2L), connections end D after the drain took effect (the last poll's Status ends then), SetState out, Status (2L)"},
		{steps.BlockLoaded, fan(nl, 1) + C + fan(nl, 1),
			"StopService (L), ConfirmDelay, ServiceState (L) on the Loaded servers"},
		publishTerm(s, fan),
		{steps.VerifyUpdating, fan(nu, 1), "probe each Updating server (L)"},
		{steps.SwitchTraffic, 3*L + L + max(D, 3*L) + 3*L,
			"warm-up Status, SetState draining, Status (3L); Switch (L); the Loaded drain ends D after the switch (Status, SetState, Status take 3L at least); SetState out, Status, Status of the Updating members (3L)"},
		{steps.StartSchedulersUpdating, fan(2*nu, 2), "RestoreService, ServiceState (2L) per Updating server"},
		{steps.UnblockLoaded, fan(2*nl, 2), "RestoreService (its install starts), ServiceState (2L) per Loaded server"},
		{steps.AwaitLoaded, max(U+I-L, L) + L,
			"the last install begins U (the catch-up) after its RestoreService and ends I later, L of which unblock-loaded spent reading back; then the probe ends no earlier, DeploymentIdle (L)"},
		{steps.RestoreTraffic, 5 * L,
			"warm-up Status, SetState draining, Status (3L); SetState serving, Status (2L)"},
		{steps.StartSchedulersLoaded, fan(2*nl, 2), "RestoreService, ServiceState (2L) per Loaded server"},
	}
	if s.prepared() {
		terms = slices.Insert(terms, 1, term{steps.Prepare, fan(nu, 1) + L + max(P, L),
			"probe the Updating servers (L), StartDeployment (L), DeploymentStatus reads prepared P later (the first stage, at full capacity)"})
	}
	// The watch (farm.Guard): at each step's boundary the guards still
	// registered are checked one after the other: a service guard reads
	// its group's servers (one round), a member guard reads the zone's
	// load balancer (L). Publish checks them once more just before the
	// deployment starts, and before it continues a prepared deployment
	// (twice on a two-stage platform without the prepare step). The
	// periodic checks (every 15 s) never come due, except in the long
	// waits of a two-stage scenario: see windowAllowance.
	schedU, schedL, deplL, lb := fan(nu, 1), fan(nl, 1), fan(nl, 1), L
	publishChecks := time.Duration(2)
	if s.TwoStage && s.PrepareOff {
		publishChecks = 3
	}
	guards := map[string]time.Duration{
		steps.DrainUpdating:           schedU + schedL,
		steps.BlockLoaded:             schedU + schedL + 2*lb,
		steps.Publish:                 publishChecks * (schedU + schedL + 2*lb + deplL),
		steps.VerifyUpdating:          schedU + schedL + 2*lb + deplL,
		steps.SwitchTraffic:           schedU + schedL + deplL,
		steps.StartSchedulersUpdating: schedL + deplL + 2*lb,
		steps.UnblockLoaded:           schedL + 2*lb,
		steps.AwaitLoaded:             schedL + 2*lb,
		steps.RestoreTraffic:          schedL,
	}
	if !s.Strict {
		// drain-updating and block-loaded start beside stop-schedulers,
		// when no step with guards is done yet: nothing to read.
		delete(guards, steps.DrainUpdating)
		delete(guards, steps.BlockLoaded)
		// start-schedulers-loaded, beside restore-traffic, may drop the
		// one guard left (the Loaded Schedulers stopped) before
		// restore-traffic's boundary reads it.
		delete(guards, steps.RestoreTraffic)
	}
	for i := range terms {
		g := guards[terms[i].Step]
		switch {
		case g == 0:
		case terms[i].Step == steps.AwaitLoaded:
			// The Loaded installs began in unblock-loaded: the guards'
			// reads at this boundary run while they install, and only a
			// probe after those reads can see an install end.
			terms[i].D = max(U+I-L, g+L) + L
			terms[i].How += "; the guards read at its boundary while the installs run, and the probe that sees the last one end follows those reads"
		default:
			terms[i].D += g
			terms[i].How += "; the guards read at its boundary"
		}
	}
	return terms
}

// publishTerm is publish's share of the critical path: on a one-stage
// platform the whole deployment (P + A) and the Updating installs; with
// the prepare step the second stage only (the first ran at full
// capacity); on a two-stage platform without it, both stages and the
// continue between them.
func publishTerm(s settings, fan func(calls, chain int) time.Duration) term {
	L, P, I, A := s.Latency, s.Publish, s.Install, s.Apply
	nu, _ := s.groups()
	installs := max(I, L) - L + fan(nu, 1)
	const after = "; every install ends I later, and each Updating server needs a probe ending after that: ⌈nu/K⌉ rounds of L, the first of which may start L early"
	switch {
	case s.prepared():
		return term{steps.Publish, L + L + max(A, L) + installs,
			"DeploymentStatus reads prepared (L), ContinueDeployment (L), DeploymentStatus reads finished A later" + after}
	case s.TwoStage:
		return term{steps.Publish, fan(nu, 1) + L + max(P, L) + L + max(A, L) + installs,
			"probe the Updating servers (L), StartDeployment (L), DeploymentStatus reads prepared P later, ContinueDeployment (L), DeploymentStatus reads finished A later" + after}
	}
	return term{steps.Publish, fan(nu, 1) + L + max(P+A, L) + installs,
		"probe the Updating servers (L), StartDeployment (L), DeploymentStatus reads finished P (+ A) later" + after}
}

// pollAllowance is the most the polls can add to the critical path: the
// plan waits in five polls whose condition turns true between two checks
// (drain-updating and switch-traffic at PollInterval; the deployment, the
// Updating installs and the Loaded installs at DeployPollInterval), and each
// can see it up to one interval plus one round trip late. The other polls
// (services read back, members healthy) succeed at their first check on the
// fake farm.
func (s settings) pollAllowance() time.Duration {
	return 2*(s.PollInterval+s.Latency) + 3*(s.DeployPollInterval+s.Latency)
}

// pathOf is the longest chain of terms through the plan's steps: a step
// starts when the steps it needs are done (one after the other when
// strict), so its end is its term plus the latest end among them. It fails
// on a step of the plan with no term.
func pathOf(terms []term, plan []farm.Step, strict bool) (time.Duration, error) {
	end, err := pathEnds(terms, plan, strict)
	var longest time.Duration
	for _, e := range end {
		longest = max(longest, e)
	}
	return longest, err
}

// pathEnds is pathOf step by step: the instant each step of the plan ends
// on the critical path, from the start of the run.
func pathEnds(terms []term, plan []farm.Step, strict bool) (map[string]time.Duration, error) {
	d := map[string]time.Duration{}
	for _, t := range terms {
		d[t.Step] = t.D
	}
	end := map[string]time.Duration{}
	var last time.Duration
	for _, st := range plan {
		t, ok := d[st.ID]
		if !ok {
			return nil, fmt.Errorf("step %s has no term in the critical path: add it to criticalPath", st.ID)
		}
		start := last
		if !strict && !st.Irreversible {
			start = 0
			for _, n := range st.Needs {
				start = max(start, end[n])
			}
		}
		end[st.ID] = start + t
		last = max(last, end[st.ID])
		if strict || st.Irreversible {
			last = end[st.ID]
		}
	}
	return end, nil
}

// boundOf is the critical path of the balanced plan built with s.
func boundOf(s settings) (time.Duration, error) {
	plan, _, err := newPlan(s, farm.PlanConfig{}, nil)
	if err != nil {
		return 0, err
	}
	return pathOf(criticalPath(s), plan.Steps(), s.Strict)
}

func sum(terms []term) time.Duration {
	var d time.Duration
	for _, t := range terms {
		d += t.D
	}
	return d
}

// describe renders the terms as a table, for logs.
func describe(terms []term) string {
	var b strings.Builder
	for _, t := range terms {
		fmt.Fprintf(&b, "%-26s %8s  %s\n", t.Step, t.D, t.How)
	}
	fmt.Fprintf(&b, "%-26s %8s\n", "total", sum(terms))
	return b.String()
}

// calibrate returns the mean time a timer of d really takes on this machine
// when nothing else runs (Linux adds about 0.2 ms to a 2 ms timer): the
// fake farm's real round trip. Benchmarks compute the bound with it, so that
// the timer's own lateness is not charged to the engine.
func calibrate(d time.Duration) time.Duration {
	const n = 50
	start := time.Now()
	for range n {
		t := time.NewTimer(d)
		<-t.C
	}
	return time.Since(start) / n
}

// runResult is one run of the balanced plan on a fake farm.
type runResult struct {
	Wall   time.Duration
	Calls  int64
	Report *farm.Report
}

// runBalanced builds a fake farm and the balanced plan with s and runs it,
// returning the wall time of plan.Run alone. observer may be nil.
func runBalanced(ctx context.Context, s settings, observer event.Observer) (runResult, error) {
	return run(ctx, s, farm.PlanConfig{Observer: observer})
}

// runBalancedJournal is runBalanced with a journal.
func runBalancedJournal(ctx context.Context, s settings, j journal.Journal) (runResult, error) {
	return run(ctx, s, farm.PlanConfig{Journal: j})
}

// run is runBalanced with a plan configuration; Concurrency and Seed are
// set from s.
func run(ctx context.Context, s settings, pc farm.PlanConfig) (runResult, error) {
	plan, ff, err := newPlan(s, pc, nil)
	if err != nil {
		return runResult{}, err
	}
	start := time.Now()
	rep, err := plan.Run(ctx)
	res := runResult{Wall: time.Since(start), Calls: ff.Calls(), Report: rep}
	if err != nil {
		return res, err
	}
	return res, ff.checkEnd(benchRelease.Version)
}

// benchRelease is the release every benchmark deploys (the fake farm's
// servers start on v1).
var benchRelease = drivers.Release{Version: "v2"}

// newPlan builds a fake farm of s.Servers servers in one zone and the
// balanced plan over it with s's timings; pc's Concurrency and Seed are set
// from s, and adjust, when not nil, changes the steps.Config last.
func newPlan(s settings, pc farm.PlanConfig, adjust func(*steps.Config)) (*farm.Plan, *fakeFarm, error) {
	ff, servers := newFakeFarm(s.Servers, s.timings)
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers), LoadBalancer: ff})
	if err != nil {
		return nil, nil, err
	}
	pc.Concurrency, pc.Seed, pc.StrictOrder = s.Concurrency, 1, s.Strict
	cfg := steps.Config{
		Services: ff, Platform: ff, Prober: ff, Release: benchRelease,
		Plan:               pc,
		PollInterval:       s.PollInterval,
		DeployPollInterval: s.DeployPollInterval,
		ConfirmDelay:       s.ConfirmDelay,
	}
	if s.PrepareOff {
		cfg.PrepareAtFullCapacity, cfg.ContinuePrepared = steps.PrepareOff, true
	}
	if adjust != nil {
		adjust(&cfg)
	}
	plan, err := steps.Balanced(f, cfg)
	return plan, ff, err
}
