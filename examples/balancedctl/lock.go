package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/lock"
	"github.com/balanced-deploy/balanced/spec"
)

// isSpecPath tells a spec file (status <spec.yaml>) from a journal.
func isSpecPath(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		return true
	}
	return false
}

// farmHandle is what the lock commands need of a spec: the farm (its
// identity, its lease server, its load balancers), the service controller
// and the prober (nil when the spec's secrets are not at hand).
type farmHandle struct {
	sp       *spec.Spec
	farm     *farm.Farm
	services drivers.ServiceController
	prober   drivers.Prober
	// noDrivers says why services and prober are nil.
	noDrivers error
}

// openFarm loads the spec and builds its farm. With secrets it also builds
// the service controller and the prober; when a secret cannot be resolved
// and they are optional (status), they are left nil with the reason.
func (c *cli) openFarm(ctx context.Context, path string, o *options, needDrivers bool) (*farmHandle, bool) {
	var opts []spec.Option
	if c.lookupEnv != nil {
		opts = append(opts, spec.WithLookupEnv(c.lookupEnv))
	}
	sp, err := spec.Load(path, opts...)
	if err != nil && !needDrivers {
		var serr error
		if sp, serr = spec.Load(path, append(opts, spec.WithoutSecrets())...); serr == nil {
			h, ok := c.buildHandle(ctx, sp, false)
			if ok {
				h.noDrivers = err
			}
			return h, ok
		}
	}
	if err != nil {
		c.errorf("%s", strings.TrimPrefix(err.Error(), spec.ErrInvalid.Error()+": "))
		return nil, false
	}
	return c.buildHandle(ctx, sp, true)
}

func (c *cli) buildHandle(ctx context.Context, sp *spec.Spec, withDrivers bool) (*farmHandle, bool) {
	f, _, err := sp.BuildWith(ctx, c.drivers)
	if err != nil {
		c.errorf("%s: %v", sp.Source, err)
		return nil, false
	}
	h := &farmHandle{sp: sp, farm: f}
	if withDrivers {
		if h.services, h.prober, err = sp.ServiceDrivers(c.drivers); err != nil {
			c.errorf("%s: %v", sp.Source, err)
			return nil, false
		}
	}
	return h, true
}

// printLocks says who holds the farm's host lock and its farm lease.
func (c *cli) printLocks(ctx context.Context, w io.Writer, h *farmHandle) {
	row := func(k, format string, a ...any) { fmt.Fprintf(w, "%-12s %s\n", k+":", fmt.Sprintf(format, a...)) }
	id := h.farm.Identity()
	row("farm", "%s", id)
	hl := lock.File{Dir: h.sp.LockDir}
	st, err := hl.Status(id)
	switch {
	case err != nil:
		row("host lock", "unreadable: %v", err)
	case st.Held && st.HolderKnown:
		row("host lock", "held by %s (for %s)%s; lock file %s", st.Holder, since(st.Holder.Since), alive(st), st.Path)
	case st.Held:
		row("host lock", "held by a process that has not written its name yet; lock file %s", st.Path)
	case st.HolderKnown:
		row("host lock", "free: its last holder, %s, ended without releasing it%s (killed or crashed: the kernel released it); resume its run with 'balancedctl resume %s'",
			st.Holder, alive(st), h.sp.Source)
	default:
		row("host lock", "free (%s)", st.Path)
	}
	leaser, ok := h.services.(drivers.FarmLeaser)
	switch {
	case h.services == nil:
		row("farm lease", "not read: %v", h.noDrivers)
		return
	case !ok:
		row("farm lease", "none: the service driver cannot hold a lease on the farm, so only runs on this host are kept off it")
		return
	}
	srv := h.farm.LeaseTarget()
	lease, held, err := leaser.ReadLease(ctx, srv.Target(), id)
	now := time.Now()
	switch {
	case err != nil:
		row("farm lease", "unreadable: %v", readLeaseError(srv.Name, err))
	case !held:
		row("farm lease", "free (on %s)", srv.Name)
	case lease.Expired(now):
		row("farm lease", "expired %s ago on %s: held by %s since %s; the next run takes it over (with a warning)",
			now.Sub(lease.Expires).Round(time.Second), srv.Name, lease.Holder, lease.Acquired.UTC().Format(time.RFC3339))
	default:
		row("farm lease", "held on %s by %s since %s (for %s), renewed %s ago, expires in %s; if that run's orchestrator is gone for good: balancedctl unlock %s -force %s",
			srv.Name, lease.Holder, lease.Acquired.UTC().Format(time.RFC3339), since(lease.Acquired), now.Sub(lease.Renewed).Round(time.Second),
			lease.Expires.Sub(now).Round(time.Second), h.sp.Source, lease.Holder.RunID)
	}
}

func since(t time.Time) string { return time.Since(t).Round(time.Second).String() }

func alive(st lock.FileStatus) string {
	switch {
	case !st.AliveKnown:
		return ""
	case st.Alive:
		return fmt.Sprintf("; process %d is running", st.Holder.PID)
	}
	return fmt.Sprintf("; process %d is not running", st.Holder.PID)
}

// unlock removes the farm lease of a run whose orchestrator is gone, naming
// that run: a lease is taken over only when its holder is named, so that
// nobody removes a lease taken in the meantime. The host lock needs no
// unlocking: the kernel releases it with its process.
func (c *cli) unlock(ctx context.Context, o *options, args []string) int {
	h, ok := c.openFarm(ctx, args[0], o, true)
	if !ok {
		return exitUsage
	}
	id := h.farm.Identity()
	st, err := lock.File{Dir: h.sp.LockDir}.Status(id)
	if err != nil {
		c.errorf("%v", err)
		return exitUsage
	}
	if st.Held {
		c.errorf("farm %s: the host lock is held by %s%s: that run is alive on this host; stop it (kill -TERM %d: it halts at its next safe point), nothing was unlocked",
			id, st.Holder, alive(st), st.Holder.PID)
		return exitLocked
	}
	leaser, ok := h.services.(drivers.FarmLeaser)
	if !ok {
		fmt.Fprintf(c.stdout, "farm %s: no farm lease (the service driver cannot hold one) and the host lock is free: nothing to unlock\n", id)
		return exitOK
	}
	srv := h.farm.LeaseTarget()
	lease, held, err := leaser.ReadLease(ctx, srv.Target(), id)
	if err != nil {
		c.errorf("%v", readLeaseError(srv.Name, err))
		return exitFailed
	}
	if !held {
		fmt.Fprintf(c.stdout, "farm %s: no farm lease on %s and the host lock is free: nothing to unlock\n", id, srv.Name)
		return exitOK
	}
	if o.force == "" || o.force != lease.Holder.RunID {
		what := "to remove it, name its run"
		if o.force != "" {
			what = fmt.Sprintf("-force %s names another run; to remove it, name its run", o.force)
		}
		c.errorf("farm %s: the farm lease on %s is held by %s, expires %s; %s: balancedctl unlock %s -force %s (only if that run's orchestrator is gone for good: its run would go on unprotected)",
			id, srv.Name, lease.Holder, lease.Expires.UTC().Format(time.RFC3339), what, h.sp.Source, lease.Holder.RunID)
		return exitLocked
	}
	host, _ := os.Hostname()
	me := drivers.LeaseHolder{Host: host, PID: os.Getpid(), User: currentUserName(), RunID: "unlock-" + time.Now().UTC().Format("20060102T150405Z"), Release: "(unlock)"}
	if _, err := leaser.AcquireLease(ctx, srv.Target(), drivers.LeaseRequest{Farm: id, Holder: me, TTL: time.Minute, Force: true, ForceHolder: lease.Holder.RunID}); err != nil {
		c.errorf("take over the farm lease of %s on %s: %v", lease.Holder, srv.Name, err)
		if errors.Is(err, drivers.ErrLeaseHeld) {
			return exitLocked
		}
		return exitFailed
	}
	if err := leaser.ReleaseLease(ctx, srv.Target(), id, me.RunID); err != nil {
		c.errorf("release the farm lease on %s: %v (it lapses by itself within a minute)", srv.Name, err)
		return exitFailed
	}
	fmt.Fprintf(c.stdout, "farm %s: removed the farm lease of %s on %s; resume that run with 'balancedctl resume %s', or start a new one\n", id, lease.Holder, srv.Name, h.sp.Source)
	return exitOK
}

func currentUserName() string {
	for _, k := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return fmt.Sprintf("uid %d", os.Getuid())
}

// readLeaseError says that reading the farm lease on server failed, unless
// err says so already ("winrm: read farm lease on fe01: ..."), as the
// engine does: the words are not said twice.
func readLeaseError(server string, err error) error {
	if strings.Contains(err.Error(), "lease on "+server) {
		return err
	}
	return fmt.Errorf("read the farm lease on %s: %w", server, err)
}
