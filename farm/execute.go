package farm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
)

// Run runs the plan's steps, each as soon as the steps it needs are done
// (in order with PlanConfig.StrictOrder), and returns the report. When a step
// fails, PlanConfig.OnFailure decides: by default the run halts and returns
// an error wrapping [ErrHalted] and the step's error, leaving the farm as the
// failed step left it (every step of the balanced plan keeps it safe). When
// ctx ends, the run stops at the next safe point and halts.
//
// Before anything is touched, the run takes the farm (see [LockConfig]): a
// second run on the same farm fails at once with [lock.ErrLocked], naming the
// holder; with a journal, a new run over an unfinished one fails with
// [ErrUnfinishedRun]. It records every change of state in the journal, so
// that [Plan.Resume] can continue it after a crash.
func (p *Plan) Run(ctx context.Context) (*Report, error) {
	return p.execute(ctx, runOptions{captured: newCaptured()})
}

// runOptions say how execute starts: from which step, with what state, and
// whether it continues a rollback.
type runOptions struct {
	start    int
	captured *Captured
	excluded []string
	resumed  bool
	// undo, when set, continues an interrupted rollback over these steps
	// (last first) instead of running forward.
	undo            []string
	rollbackStarted time.Time
	cause           string
	// runID is the ID of the run resumed; empty for a new run.
	runID string
	// done are the steps after start that the resumed run recorded done
	// (steps that ran beside one another may finish in any order).
	done map[string]bool
}

// Resume continues the run recorded in a journal (read with
// [journal.ReadLastRun]) from the first step it does not record as done, with the
// state captured before that run began. Every step is idempotent, so the
// step that was interrupted is run again from its start; it reads the live
// state and finishes what is left.
//
// It fails with [ErrJournalMismatch] if the journal belongs to another plan
// and with [ErrNothingToResume] if the run succeeded or was rolled back.
func (p *Plan) Resume(ctx context.Context, records []journal.Record) (*Report, error) {
	st, err := journal.StateOf(records)
	if errors.Is(err, journal.ErrNoRun) {
		return nil, fmt.Errorf("%w: %w", ErrNothingToResume, err)
	}
	if err != nil {
		return nil, err
	}
	if st.PlanID != p.planID() {
		return nil, fmt.Errorf("%w: journal plan %s (%s), this plan %s (%s): want the same steps, farm and release", ErrJournalMismatch, st.PlanID, st.Label, p.planID(), p.cfg.Label)
	}
	switch {
	case st.Outcome == Succeeded || st.ResumeFrom == "":
		return nil, fmt.Errorf("%w: the run succeeded", ErrNothingToResume)
	case st.Outcome == RolledBack:
		return nil, fmt.Errorf("%w: the run was rolled back; start a new run", ErrNothingToResume)
	}
	start, err := p.mustIndex(st.ResumeFrom)
	if err != nil {
		return nil, err
	}
	captured := newCaptured()
	captured.restore(st.Captured)
	opts := runOptions{start: start, captured: captured, excluded: st.Excluded, resumed: true, runID: st.RunID, done: doneSteps(records)}
	if st.RollingBack {
		// A run that crashed while rolling back goes on rolling back.
		opts.undo, opts.rollbackStarted, opts.cause = st.ToUndo, st.RollbackStarted, st.LastError
	}
	return p.execute(ctx, opts)
}

func (p *Plan) execute(ctx context.Context, o runOptions) (*Report, error) {
	start, captured := o.start, o.captured
	ctx, hold, err := p.takeFarm(ctx, &o)
	if err != nil {
		return nil, err
	}
	defer hold.close()
	seed := p.cfg.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	conc := p.cfg.Concurrency
	if conc == 0 {
		conc = DefaultConcurrency
	}
	r := &Run{runState: &runState{
		plan:     p,
		captured: captured,
		report:   &Report{Started: time.Now()},
		obs:      p.cfg.Observer,
		retry:    p.cfg.Retry.withDefaults(),
		conc:     conc,
		rnd:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		excluded: map[string]bool{},
		watch:    watch{checking: make(chan struct{}, 1)},
	}}
	for _, s := range o.excluded {
		r.excluded[s] = true
	}
	done := make([]bool, len(p.steps))
	for i, s := range p.steps {
		done[i] = i < start || o.done[s.ID]
	}
	for i, s := range p.steps {
		st := StepPending
		if done[i] {
			st = StepAlreadyDone
		}
		r.report.Steps = append(r.report.Steps, StepReport{ID: s.ID, Status: st})
	}
	r.record(journal.Record{Kind: journal.RunStarted, PlanID: p.planID(), Label: p.cfg.Label, Steps: p.StepIDs(), Resumed: o.resumed, RunID: o.runID})
	captured.mu.Lock()
	captured.onValue = func(key, value string, deleted bool) {
		r.record(journal.Record{Kind: journal.Value, Key: key, Value: value, Deleted: deleted})
	}
	captured.mu.Unlock()
	defer func() {
		captured.mu.Lock()
		captured.onValue = nil
		captured.mu.Unlock()
	}()
	ctx = r.EmitContext(ctx, event.Event{Kind: event.RunStarted, Total: len(p.steps), Message: fmt.Sprintf("%d steps over %d servers in %d zones", len(p.steps), len(p.farm.byName), len(p.farm.zones))})
	for _, e := range hold.events {
		r.Emit(e)
	}
	if o.undo != nil {
		r.report.RollbackStarted = o.rollbackStarted
		return r.rollback(ctx, o.undo, fmt.Errorf("resumed rollback (it began after: %s)", o.cause))
	}
	r.registerDoneGuards(done)
	for i, s := range p.steps {
		if done[i] {
			r.Emit(event.Event{Kind: event.StepSkipped, Step: s.ID, Done: i + 1, Total: len(p.steps), Message: "done in an earlier run"})
		}
	}
	return r.schedule(ctx, done)
}

// stepResult is what a step that ran sends back to the scheduler.
type stepResult struct {
	i   int
	err error
}

// schedule runs the steps not done: each as soon as the steps it needs are
// done (one at a time in the plan's order with PlanConfig.StrictOrder).
// When a step fails, no other step starts; the steps still running are
// awaited, then the failure policy decides, for the failed steps in the
// plan's order.
func (r *Run) schedule(ctx context.Context, done []bool) (*Report, error) {
	p := r.plan
	running := make([]bool, len(p.steps))
	attempts := make([]int, len(p.steps))
	inFlight := 0
	results := make(chan stepResult)
	var failed []stepResult
	ready := func(i int) bool {
		if done[i] || running[i] {
			return false
		}
		if p.cfg.StrictOrder || p.steps[i].Irreversible {
			// An irreversible step also waits for every step before it:
			// none of them can fail after it has started, when a rollback
			// is no longer possible.
			return inFlight == 0 && !slices.Contains(done[:i], false)
		}
		for _, id := range p.steps[i].Needs {
			if j := p.index(id); j >= 0 && !done[j] {
				return false
			}
		}
		return true
	}
	firstPending := func() string {
		for i, d := range done {
			if !d {
				return p.steps[i].ID
			}
		}
		return ""
	}
	for {
		if len(failed) == 0 && ctx.Err() == nil {
			for i := range p.steps {
				if !ready(i) {
					continue
				}
				running[i], attempts[i] = true, attempts[i]+1
				inFlight++
				sv := r.forStep(p.steps[i].ID)
				go func() {
					err := sv.runStep(ctx, p.steps[i], i)
					if err == nil {
						err = r.journalErr()
					}
					results <- stepResult{i: i, err: err}
				}()
			}
		}
		if inFlight > 0 {
			res := <-results
			inFlight--
			running[res.i] = false
			if res.err == nil {
				done[res.i] = true
			} else {
				failed = append(failed, res)
			}
			continue
		}
		if len(failed) == 0 {
			next := firstPending()
			if next == "" {
				r.finish(Succeeded, "", "", nil)
				return r.report, nil
			}
			// Nothing runs and something is left: ctx ended.
			return r.halt(next, "", fmt.Errorf("%w before step %s: %w", ErrHalted, next, ctx.Err()))
		}
		// Every step that was running has ended: decide each failure, in
		// the plan's order.
		slices.SortFunc(failed, func(a, b stepResult) int { return a.i - b.i })
		for k, f := range failed {
			s, err := p.steps[f.i], f.err
			switch r.decide(ctx, s, err, attempts[f.i]) {
			case DecideRetry:
				rerr := r.askRetryWait(ctx, s.ID, attempts[f.i], err)
				if rerr == nil {
					continue
				}
				err = fmt.Errorf("%w; retry refused: %w", err, rerr)
			case DecideExclude:
				xerr := fmt.Errorf("servers failing step %s cannot be excluded safely", s.ID)
				if s.Excludable {
					xerr = r.exclude(ctx, failedServers(err))
				}
				if xerr == nil {
					continue
				}
				err = fmt.Errorf("%w; exclude refused: %w", err, xerr)
			case DecideRollback:
				// The failed steps first, then every step done, last first.
				var undo []string
				for _, g := range slices.Backward(failed) {
					undo = append(undo, p.steps[g.i].ID)
				}
				for j := len(p.steps) - 1; j >= 0; j-- {
					if done[j] {
						undo = append(undo, p.steps[j].ID)
					}
				}
				return r.rollback(ctx, undo, r.failedErr(failed[k:], err))
			}
			return r.halt(firstPending(), s.ID, fmt.Errorf("%w at step %s: %w", ErrHalted, s.ID, r.failedErr(failed[k:], err)))
		}
		failed = nil // the steps retried, or with servers excluded, run again
	}
}

// failedErr is the error of the first failed step (err, once decided), with
// those of the other steps that failed beside it.
func (r *Run) failedErr(failed []stepResult, err error) error {
	if len(failed) < 2 {
		return err
	}
	errs := []error{err}
	for _, f := range failed[1:] {
		errs = append(errs, fmt.Errorf("step %s, run beside it, failed too: %w", r.plan.steps[f.i].ID, f.err))
	}
	return errors.Join(errs...)
}

// askRetryWait waits before the retry an Ask decision asked for, as
// PlanConfig.Retry says (its backoff, with jitter), and refuses once the
// step has been tried MaxAttempts times or ctx ends.
func (r *Run) askRetryWait(ctx context.Context, step string, attempt int, cause error) error {
	if attempt >= r.retry.MaxAttempts {
		return fmt.Errorf("step %s tried %d attempts, the retry policy's MaxAttempts", step, attempt)
	}
	r.mu.Lock()
	wait := r.retry.jittered(r.retry.Backoff(attempt+1), r.rnd)
	r.mu.Unlock()
	r.Warn("", "", "retrying step %s (attempt %d) in %s after: %v", step, attempt+1, wait.Round(time.Millisecond), cause)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to retry step %s: %w", step, ctx.Err())
	}
}

// irreversibleIn returns the first step in ids that is marked Irreversible
// and was started in this run or an earlier one, or "".
func (r *Run) irreversibleIn(ids []string) string {
	for _, id := range ids {
		if i := r.plan.index(id); i >= 0 && r.plan.steps[i].Irreversible {
			return id
		}
	}
	return ""
}

// rollback runs the Undo of each step in undo (the failed step first, then
// the steps before it in reverse order).
func (r *Run) rollback(ctx context.Context, undo []string, cause error) (*Report, error) {
	failed := ""
	if len(undo) > 0 {
		failed = undo[0]
	}
	if id := r.irreversibleIn(undo); id != "" {
		err := fmt.Errorf("%w at step %s: %w; no rollback: step %s has started, after which no group is sure to serve the previous release (deploy it with a new run instead)", ErrHalted, failed, cause, id)
		return r.halt(failed, failed, err)
	}
	r.report.mu.Lock()
	if r.report.RollbackStarted.IsZero() {
		r.report.RollbackStarted = time.Now()
		r.report.mu.Unlock()
		r.record(journal.Record{Kind: journal.RollbackStarted, Step: failed, Error: errorLine(cause)})
	} else {
		r.report.mu.Unlock()
	}
	r.dropGuards("") // the undo puts the guarded states back
	r.Warn("", "", "rolling back after: %v", cause)
	for _, id := range undo {
		j, err := r.plan.mustIndex(id)
		if err != nil {
			return r.halt(id, failed, err)
		}
		s := r.plan.steps[j]
		if s.Undo == nil {
			continue
		}
		sv := r.forStep(s.ID)
		uctx := sv.EmitContext(ctx, event.Event{Kind: event.StepStarted, Message: "undo: " + s.Title})
		err = s.Undo(uctx, sv)
		if err == nil {
			err = r.journalErr()
		}
		if err != nil {
			err = fmt.Errorf("%w at step %s: %w; rollback failed while undoing %s: %w", ErrHalted, failed, cause, s.ID, err)
			r.report.update(s.ID, func(sr *StepReport) { sr.Error = errorLine(err) })
			return r.halt(s.ID, failed, err)
		}
		r.report.update(s.ID, func(sr *StepReport) { sr.Status = StepUndone })
		r.record(journal.Record{Kind: journal.StepUndone, Step: s.ID})
		sv.EmitContext(uctx, event.Event{Kind: event.StepFinished, Message: "undone: " + s.Title})
	}
	err := fmt.Errorf("%w: step %s failed and the run was rolled back: %w", ErrRolledBack, failed, cause)
	r.finish(RolledBack, "", failed, err)
	return r.report, err
}

func (r *Run) halt(resumeFrom, failed string, err error) (*Report, error) {
	r.finish(Halted, resumeFrom, failed, err)
	return r.report, err
}

func (r *Run) finish(outcome Outcome, resumeFrom, failed string, err error) {
	r.report.mu.Lock()
	r.report.Finished = time.Now()
	r.report.ResumeFrom = resumeFrom
	r.report.FailedStep = failed
	r.report.Outcome = outcome
	if err != nil {
		r.report.Error = errorLine(err)
	}
	r.report.mu.Unlock()
	rec := journal.Record{Kind: journal.RunFinished, Outcome: outcome, Step: failed}
	if err != nil {
		rec.Error = errorLine(err)
	}
	r.record(rec)
	r.Emit(event.Event{Kind: event.RunFinished, Step: failed, Err: err, Message: "run " + string(outcome)})
}

// doneSteps returns the steps the last run in a journal recorded done and
// not undone.
func doneSteps(recs []journal.Record) map[string]bool {
	start := -1
	for i, rec := range recs {
		if rec.Kind == journal.RunStarted && !rec.Resumed {
			start = i
		}
	}
	done := map[string]bool{}
	if start < 0 {
		return done
	}
	for _, rec := range recs[start:] {
		switch rec.Kind {
		case journal.StepDone:
			done[rec.Step] = true
		case journal.StepUndone, journal.StepStarted:
			// A step started again (by a resume) is done only once it
			// says so again.
			delete(done, rec.Step)
		}
	}
	return done
}

// runStep runs one step with its hooks and timeout, and records it. r is
// the step's own view of the run.
func (r *Run) runStep(ctx context.Context, s Step, index int) error {
	started := time.Now()
	r.report.update(s.ID, func(sr *StepReport) { sr.Status, sr.Started, sr.Error, sr.Failures = StepRunning, started, "", nil })
	r.record(journal.Record{Kind: journal.StepStarted, Step: s.ID})
	ctx = r.EmitContext(ctx, event.Event{Kind: event.StepStarted, Done: index, Total: len(r.plan.steps), Message: s.Title})

	timeout := s.Timeout
	if timeout == 0 {
		timeout = r.plan.cfg.StepTimeout
	}
	stepCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		stepCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	// A step boundary: the guards this step ends are dropped, the others
	// re-checked before anything of the step runs.
	r.dropGuards(s.ID)
	err := r.CheckGuards(stepCtx)
	if err != nil {
		err = fmt.Errorf("before step %s: %w", s.ID, err)
	}
	// While the step runs, the guards are re-checked on their own
	// goroutine; drift that cannot be put back stops the step.
	watchCtx, stopStep := context.WithCancelCause(stepCtx)
	defer stopStep(nil)
	stopWatch := r.watchDuring(watchCtx, stopStep)
	if err == nil {
		err = r.runHooks(watchCtx, s.ID, "before", r.plan.before[s.ID])
	}
	if err == nil {
		err = s.Run(watchCtx, r)
		if err != nil && timeout > 0 && errors.Is(stepCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("step %s timed out after %s: %w", s.ID, timeout, err)
		}
	}
	if err == nil {
		err = r.runHooks(watchCtx, s.ID, "after", r.plan.after[s.ID])
	}
	stopWatch()
	if cause := context.Cause(watchCtx); errors.Is(cause, ErrDrift) && stepCtx.Err() == nil {
		err = fmt.Errorf("during step %s: %w", s.ID, cause)
	}
	finished := time.Now()
	r.report.update(s.ID, func(sr *StepReport) {
		sr.Finished = finished
		sr.Status = StepDone
		if err != nil {
			sr.Status, sr.Error, sr.Failures = StepFailed, errorLine(err), failures(err)
		}
	})
	if err != nil {
		r.record(journal.Record{Kind: journal.StepFailed, Step: s.ID, Error: errorLine(err)})
	} else {
		r.recordCaptured()
		r.record(journal.Record{Kind: journal.StepDone, Step: s.ID})
		for _, g := range s.Guards {
			r.Watch(g)
		}
	}
	r.EmitContext(ctx, event.Event{Kind: event.StepFinished, Done: index + 1, Total: len(r.plan.steps), Err: err, Message: s.Title})
	return err
}

func (r *Run) runHooks(ctx context.Context, step, when string, hooks []Hook) error {
	for _, h := range hooks {
		r.Emit(event.Event{Kind: event.HookStarted, Message: when + " hook " + h.Name})
		if err := h.Func(ctx, r); err != nil {
			return &StepError{Step: step, Err: fmt.Errorf("%w: %s hook %q: %w", ErrHookFailed, when, h.Name, err)}
		}
	}
	return nil
}

// errJournal marks errors of the journal, which always halt the run: a run
// whose journal cannot be written could not be resumed.
var errJournal = errors.New("journal")

// record appends to the journal, remembering the first failure.
func (r *Run) record(rec journal.Record) {
	j := r.plan.cfg.Journal
	if j == nil {
		return
	}
	if rec.Time.IsZero() {
		rec.Time = time.Now()
	}
	// The journal is not called under r.jmu: concurrent actions' records
	// then share one sync (journal.File's group commit).
	r.jmu.Lock()
	failed := r.jerr != nil
	r.jmu.Unlock()
	if failed {
		return
	}
	if err := j.Append(rec); err != nil {
		r.jmu.Lock()
		if r.jerr == nil {
			r.jerr = fmt.Errorf("%w: %w", errJournal, err)
		}
		r.jmu.Unlock()
	}
}

func (r *Run) recordCaptured() {
	if r.plan.cfg.Journal == nil {
		return // nothing reads the copy: no per-step copy of the state
	}
	snap := r.captured.snapshot()
	r.record(journal.Record{Kind: journal.Captured, Captured: &snap})
}

func (r *Run) journalErr() error {
	r.jmu.Lock()
	defer r.jmu.Unlock()
	return r.jerr
}
