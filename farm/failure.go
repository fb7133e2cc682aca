package farm

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/hashicorp/go-multierror"
)

// FailurePolicy says what a run does when a step fails.
type FailurePolicy string

// Failure policies.
const (
	// Halt stops the run and leaves the farm as the failed step left it,
	// which the balanced plan keeps safe: traffic only on verified servers.
	// The report and the journal say where to resume. The default.
	Halt FailurePolicy = "halt"
	// Rollback compensates the failed step and every completed step in
	// reverse order (each step's Undo), ending with the farm as it was.
	Rollback FailurePolicy = "rollback"
	// Ask calls PlanConfig.Ask, which decides: retry, exclude the failing
	// servers, roll back or halt.
	Ask FailurePolicy = "ask"
)

// Decision is what an ask callback decides about a failure.
type Decision string

// Decisions.
const (
	// DecideRetry runs the failed step again after the backoff of
	// PlanConfig.Retry (as for a transient driver error); the retries
	// count against its MaxAttempts, after which the run halts.
	DecideRetry Decision = "retry"
	// DecideExclude takes the failing servers out of the run (and out of
	// new traffic: their members are set draining, or left out if they
	// are out), then runs the step again
	// without them. The report lists them; the operator finishes them by
	// hand. It is refused on steps that are not Excludable, when a member
	// cannot be set draining, and when a group would be left empty or below
	// the capacity floor: the run then halts.
	DecideExclude Decision = "exclude"
	// DecideRollback rolls the run back as the Rollback policy does.
	DecideRollback Decision = "rollback"
	// DecideHalt halts the run, as the Halt policy does. Any decision
	// that is not one of the others halts too.
	DecideHalt Decision = "halt"

	// DecideAbort halts the run, as DecideHalt does (it never aborts a
	// platform deployment).
	//
	// Deprecated: use DecideHalt, whose name says what it does.
	DecideAbort Decision = "abort"
)

// Failure is what an ask callback is told.
type Failure struct {
	// Step is the ID of the step that failed.
	Step string
	// Err is the step's error.
	Err error
	// Servers lists the servers whose actions failed, if any.
	Servers []string
	// Attempt counts how many times the step has been tried in this run,
	// this try included (1 for the first failure). A DecideRetry at
	// PlanConfig.Retry.MaxAttempts is refused and the run halts.
	Attempt int
}

// AskFunc decides what to do about a failure. It may block (waiting for a
// person) and must return when ctx ends.
type AskFunc func(ctx context.Context, f Failure) Decision

// failedServers lists the servers named by the outermost StepErrors in err.
func failedServers(err error) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) { //nolint:errorlint // walks the error tree itself, one level at a time
		case nil:
		case *multierror.Error:
			for _, y := range x.Errors {
				walk(y)
			}
		case *StepError:
			if x.Server != "" && !seen[x.Server] {
				seen[x.Server] = true
				out = append(out, x.Server)
			}
		case interface{ Unwrap() []error }:
			for _, y := range x.Unwrap() {
				walk(y)
			}
		default:
			walk(errors.Unwrap(e))
		}
	}
	walk(err)
	return out
}

// decide applies the failure policy to a step's failure: Halt halts,
// Rollback rolls back, Ask asks. Cancellation and a journal that cannot be
// written always halt. Any decision but retry, exclude and rollback halts.
func (r *Run) decide(ctx context.Context, s Step, err error, attempt int) Decision {
	if ctx.Err() != nil || errors.Is(err, errJournal) {
		return DecideHalt
	}
	switch r.plan.cfg.OnFailure {
	case Rollback:
		return DecideRollback
	case Ask:
		d := r.plan.cfg.Ask(ctx, Failure{Step: s.ID, Err: err, Servers: failedServers(err), Attempt: attempt})
		r.Emit(event.Event{Kind: event.Warning, Step: s.ID, Err: err, Message: "failure decided: " + string(d)})
		return d
	}
	return DecideHalt
}

// exclude carries out a DecideExclude: it takes servers out of the run and
// out of new traffic, or refuses (see checkExclusion), and lists them in
// the report.
func (r *Run) exclude(ctx context.Context, servers []string) error {
	if err := r.checkExclusion(servers); err != nil {
		return err
	}
	for _, name := range servers {
		s := r.plan.farm.byName[name]
		if err := r.takeOutOfTraffic(ctx, s); err != nil {
			return err
		}
		r.mu.Lock()
		r.excluded[name] = true
		r.mu.Unlock()
		r.record(journal.Record{Kind: journal.Excluded, Server: name, Zone: s.Zone})
		r.Warn(s.Zone, name, "server excluded from the run and out of new traffic; finish it by hand")
	}
	r.report.mu.Lock()
	defer r.report.mu.Unlock()
	for _, name := range servers {
		if !slices.Contains(r.report.Excluded, name) {
			r.report.Excluded = append(r.report.Excluded, name)
		}
	}
	return nil
}

// checkExclusion refuses to exclude servers when the list is empty, names a
// server not in the farm, or would leave a group with no server still in
// the run, or its zone below the farm's capacity floor.
func (r *Run) checkExclusion(servers []string) error {
	if len(servers) == 0 {
		return errors.New("the failure names no server to exclude")
	}
	batch := map[string]bool{}
	for _, name := range servers {
		if _, ok := r.plan.farm.byName[name]; !ok {
			return fmt.Errorf("server %q is not in the farm", name)
		}
		batch[name] = true
	}
	floor := r.plan.farm.capacityFloor
	for _, z := range r.plan.farm.zones {
		total := len(z.Updating.Servers) + len(z.Loaded.Servers)
		for _, g := range []Group{z.Updating, z.Loaded} {
			in := r.Included(g.Servers)
			left := 0
			for _, s := range in {
				if !batch[s.Name] {
					left++
				}
			}
			if left == len(in) {
				continue // no server of this group in the batch
			}
			if left == 0 || (floor > 0 && float64(left)/float64(total)+1e-9 < floor) {
				return fmt.Errorf("excluding %d server(s) would leave zone %s's %s group with %d of the zone's %d servers: want at least one and the capacity floor (%.0f%%)",
					len(in)-left, z.Name, g.Role, left, total, floor*100)
			}
		}
	}
	return nil
}

// takeOutOfTraffic sets an excluded server's member draining (no new
// request), unless it is already out: draining would let persistent
// sessions reach it again.
func (r *Run) takeOutOfTraffic(ctx context.Context, s Server) error {
	for _, z := range r.plan.farm.zones {
		if z.Name != s.Zone {
			continue
		}
		sts, err := z.LoadBalancer.Status(ctx, s.MemberID())
		if err != nil {
			return fmt.Errorf("read excluded server %s's member: %w", s.Name, err)
		}
		if len(sts) == 1 && sts[0].State == drivers.Out {
			continue
		}
		if err := z.LoadBalancer.SetState(ctx, drivers.Draining, s.MemberID()); err != nil {
			return fmt.Errorf("take excluded server %s out of traffic: %w", s.Name, err)
		}
	}
	return nil
}
