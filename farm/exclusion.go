package farm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/farm/lock"
)

// LockConfig says how a run keeps other runs off its farm. The zero value
// takes the host lock in [lock.DefaultDir] when the plan has a journal, and
// no farm lease.
//
// A run excludes others in two layers, both keyed by [Farm.Identity]:
//   - the host lock ([lock.File], or PlanConfig.Locker): runs on this host;
//   - the farm lease ([drivers.FarmLeaser]), held on the farm itself (the
//     Deployment Controller server): runs on any host. steps.Balanced sets
//     Leaser when its ServiceController has the capability. Without it, the
//     run warns that only runs on this host are excluded.
type LockConfig struct {
	// Dir is the directory of the host lock files. Empty means
	// [lock.DefaultDir]. Setting it takes the host lock even without a
	// journal.
	Dir string
	// Leaser holds the farm lease. Nil means no lease.
	Leaser drivers.FarmLeaser
	// LeaseTTL is how long the lease lasts without renewal; the run renews
	// it every LeaseTTL/3. Zero means 2 minutes.
	LeaseTTL time.Duration
	// ForceRunID takes the farm lease over from the run with this ID even
	// though its lease has not expired (its orchestrator is known to be
	// gone). It is refused if the lease is held by any other run: an
	// operator forces exactly the lease they looked at.
	ForceRunID string
	// Host names this orchestrator in the lock and the lease. Empty means
	// os.Hostname().
	Host string
}

// defaultLeaseTTL is the farm lease's lifetime without renewal when
// LockConfig.LeaseTTL is zero: long enough to ride out a few failed
// renewals (every 40 s), short enough that a crashed run's lease lapses
// before anyone has looked into it.
const defaultLeaseTTL = 2 * time.Minute

// hold is what a run holds on its farm: the host lock and the farm lease.
type hold struct {
	runID   string
	events  []event.Event // warnings emitted once the run has started
	release []func()
}

func (h *hold) close() {
	for i := len(h.release) - 1; i >= 0; i-- {
		h.release[i]()
	}
}

// newRunID returns a run ID: the UTC start time and 32 random bits.
func newRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// holder says who this run is, for the lock and the lease.
func (p *Plan) holder(runID string) lock.Holder {
	host := p.cfg.Lock.Host
	if host == "" {
		host, _ = os.Hostname()
	}
	return lock.Holder{Farm: p.farm.Identity(), Host: host, PID: os.Getpid(), User: currentUser(), RunID: runID,
		Since: time.Now(), Plan: p.planID(), Label: p.cfg.Label}
}

// takeFarm takes the farm for a run before anything is touched: the host
// lock, then (for a new run) the journal's word that its last run finished,
// then the farm lease, renewed in the background until the hold is closed.
// The context it returns is cancelled, with a warning, if the lease is lost:
// the run then halts at its next safe point.
func (p *Plan) takeFarm(ctx context.Context, o *runOptions) (context.Context, *hold, error) {
	h := &hold{runID: o.runID}
	if h.runID == "" {
		h.runID = newRunID(time.Now())
	}
	o.runID = h.runID
	who := p.holder(h.runID)
	locker := p.cfg.Locker
	if locker == nil && (p.cfg.Journal != nil || p.cfg.Lock.Dir != "") {
		locker = lock.File{Dir: p.cfg.Lock.Dir}
	}
	if locker != nil {
		release, err := locker.Lock(ctx, who)
		if err != nil {
			return ctx, nil, err
		}
		h.release = append(h.release, func() { _ = release() })
	}
	if j := p.cfg.Journal; j != nil && !o.resumed {
		if err := checkFinished(ctx, j); err != nil {
			h.close()
			return ctx, nil, err
		}
	}
	leaser := p.cfg.Lock.Leaser
	if leaser == nil {
		if locker != nil {
			h.events = append(h.events, event.Event{Kind: event.Warning, Message: "no farm lease: the service driver cannot hold a lease on the farm, so only runs on this host are kept off it; make sure nobody deploys this farm from another machine"})
		}
		return ctx, h, nil
	}
	lctx, err := p.takeLease(ctx, leaser, who, h)
	if err != nil {
		h.close()
		return ctx, nil, err
	}
	return lctx, h, nil
}

// checkFinished refuses a new run over a journal whose last run did not end
// (it crashed, halted or was rolling back): the farm may be half deployed,
// and a new preflight would capture that state as the one to restore.
func checkFinished(ctx context.Context, j journal.Journal) error {
	st, ok, err := j.LastRun(ctx)
	if err != nil {
		return fmt.Errorf("read the journal's last run: %w", err)
	}
	if !ok || !st.Unfinished() {
		return nil
	}
	where := "resume from " + st.ResumeFrom
	if st.RollingBack {
		where = "rolling back"
	}
	outcome := string(st.Outcome)
	if outcome == "" {
		outcome = "never finished"
	}
	name := ""
	if fj, ok := j.(*journal.File); ok {
		name = " " + fj.Path()
	}
	return fmt.Errorf("%w: journal%s: the last run (%s, run %s) %s (%s): resume it (balancedctl resume <spec>, Plan.Resume), or move the journal away if the farm was put right by hand",
		ErrUnfinishedRun, name, st.Label, orUnknown(st.RunID), outcome, where)
}

func orUnknown(s string) string {
	if s == "" {
		return "(no ID)"
	}
	return s
}

// LeaseTarget returns the server that holds the farm lease: the Deployment
// Controller, or, in a farm that names none, the first Updating server of
// the first zone.
func (f *Farm) LeaseTarget() Server {
	for _, z := range f.zones {
		for _, s := range z.Updating.Servers {
			if s.DeploymentController {
				return s
			}
		}
	}
	return f.zones[0].Updating.Servers[0]
}

func (p *Plan) takeLease(ctx context.Context, leaser drivers.FarmLeaser, who lock.Holder, h *hold) (context.Context, error) {
	ttl := p.cfg.Lock.LeaseTTL
	if ttl <= 0 {
		ttl = defaultLeaseTTL
	}
	srv := p.farm.LeaseTarget()
	t := srv.Target()
	holder := drivers.LeaseHolder{Host: who.Host, PID: who.PID, User: who.User, RunID: who.RunID, Release: p.cfg.Label}
	prev, had, err := leaser.ReadLease(ctx, t, who.Farm)
	if err != nil {
		return ctx, readLeaseError(srv.Name, err)
	}
	force := p.cfg.Lock.ForceRunID
	lease, err := leaser.AcquireLease(ctx, t, drivers.LeaseRequest{Farm: who.Farm, Holder: holder, TTL: ttl, Force: force != "", ForceHolder: force})
	if err != nil {
		if held, ok := errors.AsType[*drivers.LeaseHeldError](err); ok {
			return ctx, fmt.Errorf("%w: %w (on server %s); wait for that run to end, or, if its orchestrator is gone for good, take the lease over with 'balancedctl unlock --force %s <spec>' (PlanConfig.Lock.ForceRunID)",
				lock.ErrLocked, err, srv.Name, held.Lease.Holder.RunID)
		}
		return ctx, fmt.Errorf("take the farm lease on %s: %w", srv.Name, err)
	}
	now := time.Now()
	if had && prev.Holder.RunID != who.RunID {
		if prev.Expired(now) {
			h.events = append(h.events, event.Event{Kind: event.Warning, Server: srv.Name,
				Message: fmt.Sprintf("took over the expired farm lease of %s (it expired at %s without being renewed: that run is gone)", prev.Holder, prev.Expires.UTC().Format(time.RFC3339))})
		} else {
			h.events = append(h.events, event.Event{Kind: event.Warning, Server: srv.Name,
				Message: fmt.Sprintf("took over the farm lease of %s by force (it would have expired at %s)", prev.Holder, prev.Expires.UTC().Format(time.RFC3339))})
		}
	}
	lctx, cancel := context.WithCancelCause(ctx)
	stop, done := make(chan struct{}), make(chan struct{})
	go p.renewLease(lctx, cancel, leaser, t, lease, ttl, stop, done)
	h.release = append(h.release, func() {
		close(stop)
		<-done
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer rcancel()
		if err := leaser.ReleaseLease(rctx, t, who.Farm, who.RunID); err != nil {
			p.emit(event.Event{Kind: event.Warning, Server: srv.Name, Err: err,
				Message: fmt.Sprintf("could not release the farm lease on %s: it lapses by itself at the latest %s after its last renewal", srv.Name, ttl)})
		}
		cancel(nil)
	})
	return lctx, nil
}

// errLeaseLost is the cause of a run's context cancelled because its farm
// lease was lost.
var errLeaseLost = errors.New("the farm lease was lost")

// renewLease renews the lease every ttl/3 until stop is closed. If the lease
// is taken by another run, or cannot be renewed before it expires, it warns
// and cancels the run, which halts at its next safe point.
func (p *Plan) renewLease(ctx context.Context, cancel context.CancelCauseFunc, leaser drivers.FarmLeaser, t drivers.Target, lease drivers.Lease, ttl time.Duration, stop, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), ttl/3)
		l, err := leaser.RenewLease(rctx, t, lease.Farm, lease.Holder.RunID, ttl)
		rcancel()
		if err == nil {
			lease = l
			continue
		}
		_, held := errors.AsType[*drivers.LeaseHeldError](err)
		switch {
		case held || errors.Is(err, drivers.ErrNotFound):
			p.emit(event.Event{Kind: event.Warning, Server: t.Name, Err: err, Message: "the farm lease was taken by another run: stopping at the next safe point"})
			cancel(fmt.Errorf("%w: %w", errLeaseLost, err))
			return
		case !time.Now().Before(lease.Expires):
			p.emit(event.Event{Kind: event.Warning, Server: t.Name, Err: err, Message: "the farm lease could not be renewed before it expired: stopping at the next safe point, since another run may now take the farm"})
			cancel(fmt.Errorf("%w: %w", errLeaseLost, err))
			return
		default:
			p.emit(event.Event{Kind: event.Warning, Server: t.Name, Err: err, Message: fmt.Sprintf("renewing the farm lease failed; retrying in %s (it expires %s)", ttl/3, lease.Expires.UTC().Format(time.RFC3339))})
		}
	}
}

// emit sends an event outside a step (the lease's renewals).
func (p *Plan) emit(e event.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if p.cfg.Observer != nil {
		p.cfg.Observer.Observe(e)
	}
}

// readLeaseError says that reading the farm lease on server failed, unless
// err says so already ("winrm: read farm lease on fe01: ..."): the words
// are not said twice.
func readLeaseError(server string, err error) error {
	if strings.Contains(err.Error(), "lease on "+server) {
		return err
	}
	return fmt.Errorf("read the farm lease on %s: %w", server, err)
}

// currentUser names the user that runs this process.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	for _, k := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}
