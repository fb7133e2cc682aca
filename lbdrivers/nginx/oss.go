package nginx

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Defaults of [OSSConfig].
const (
	DefaultDrainPeriod   = 30 * time.Second
	DefaultReloadTimeout = 10 * time.Second
	DefaultReloadSettle  = time.Second
)

// OSSConfig configures the open-source NGINX driver. File, Upstream, Members
// and MainConfig are required; the zero value of every other field means the
// default.
type OSSConfig struct {
	// File is the managed include file. The driver owns it: the main
	// configuration includes it inside its http block. It is replaced
	// atomically; the previous version is kept as File+".prev". The
	// temporary files (".<name>.tmp<digits>") and the ".prev" file do not
	// end like File, so an include glob such as conf.d/*.conf never reads
	// them.
	File string
	// Upstream is the name of the upstream block the file defines.
	Upstream string
	// Members lists the upstream's members in the order written. Every
	// member the engine names must be here.
	Members []Member
	// Directives are extra upstream directives, without ';' ("zone
	// backend 64k", "keepalive 16", "least_conn").
	Directives []string
	// ServerParams are appended to every server line ("max_fails=0").
	ServerParams []string

	// MainConfig is the main configuration file nginx -t checks
	// (-c MainConfig).
	MainConfig string
	// Binary is the nginx executable. Empty means "nginx" on PATH.
	Binary string
	// Prefix is passed as -p when set.
	Prefix string
	// TestCommand validates the configuration. Empty means
	// Binary [-p Prefix] -t -q -c MainConfig.
	TestCommand []string
	// PIDFile names the file holding the master's process id. When set
	// (and ReloadCommand is empty) the driver reloads by sending SIGHUP to
	// that process and, on Linux, waits until the old workers are shutting
	// down and a new one runs.
	PIDFile string
	// ReloadCommand reloads NGINX gracefully. Empty means SIGHUP to the
	// PIDFile's process when PIDFile is set, else
	// Binary [-p Prefix] -c MainConfig -s reload.
	ReloadCommand []string
	// ReloadTimeout bounds the wait for a reload to take effect. Zero means
	// DefaultReloadTimeout.
	ReloadTimeout time.Duration
	// ReloadSettle is how long the driver waits after a reload when it
	// cannot watch the worker processes (no PIDFile, or no /proc). Zero
	// means DefaultReloadSettle.
	ReloadSettle time.Duration

	// DrainPeriod is the least time a member set to Draining is reported
	// as Draining before it is reported as Out, counted from the reload.
	// Where the driver watches the workers (PIDFile set on Linux) the
	// member also stays Draining until every worker process that existed
	// before that reload has exited, however long that takes (see the
	// package doc: bound it with NGINX's worker_shutdown_timeout);
	// elsewhere the drain period alone decides, and old workers are
	// assumed to finish the requests they hold in that time. Zero means
	// DefaultDrainPeriod.
	DrainPeriod time.Duration
	// Logger receives one line per change. Nil discards.
	Logger *slog.Logger
}

// OSS is the [drivers.LoadBalancer] for open-source NGINX. Build it with
// [NewOSS]. It is safe for concurrent use; changes are serialized.
type OSS struct {
	cfg     OSSConfig
	log     *slog.Logger
	reload  reloader
	byName  map[string]Member
	lock    chan struct{} // a mutex that gives up when the context is done; serializes file access
	runTest func(ctx context.Context, argv []string) error
	// gens maps a member drained through a watched reload to that reload's
	// old workers (guarded by lock). A draining member without an entry
	// (drained by another driver or process) waits for every worker
	// shutting down.
	gens map[string]*generation
}

var _ drivers.LoadBalancer = (*OSS)(nil)

// NewOSS validates cfg and returns the driver. It touches nothing: call
// [OSS.Init] to write the file before NGINX first reads it.
func NewOSS(cfg OSSConfig) (*OSS, error) {
	if cfg.File == "" {
		return nil, fmt.Errorf("%w: nginx OSSConfig.File is empty: want the path of the managed include file", drivers.ErrInvalidArgument)
	}
	if cfg.MainConfig == "" && (len(cfg.TestCommand) == 0 || (len(cfg.ReloadCommand) == 0 && cfg.PIDFile == "")) {
		return nil, fmt.Errorf("%w: nginx OSSConfig.MainConfig is empty: want the main nginx.conf (for nginx -t and reload)", drivers.ErrInvalidArgument)
	}
	if err := ValidateUpstream(cfg.Upstream); err != nil {
		return nil, err
	}
	if err := validateMembers(cfg.Members); err != nil {
		return nil, err
	}
	for _, d := range cfg.Directives {
		if err := validateDirective(d); err != nil {
			return nil, err
		}
	}
	for _, p := range cfg.ServerParams {
		if err := validateServerParam(p); err != nil {
			return nil, err
		}
	}
	if cfg.DrainPeriod < 0 || cfg.ReloadTimeout < 0 || cfg.ReloadSettle < 0 {
		return nil, fmt.Errorf("%w: nginx OSSConfig durations must not be negative (DrainPeriod %v, ReloadTimeout %v, ReloadSettle %v)", drivers.ErrInvalidArgument, cfg.DrainPeriod, cfg.ReloadTimeout, cfg.ReloadSettle)
	}
	if cfg.PIDFile != "" && len(cfg.ReloadCommand) == 0 && !signalSupported {
		return nil, fmt.Errorf("%w: nginx OSSConfig.PIDFile: signalling the master needs a Unix system: set ReloadCommand instead", drivers.ErrUnimplemented)
	}
	if cfg.Binary == "" {
		cfg.Binary = "nginx"
	}
	if cfg.DrainPeriod == 0 {
		cfg.DrainPeriod = DefaultDrainPeriod
	}
	if cfg.ReloadTimeout == 0 {
		cfg.ReloadTimeout = DefaultReloadTimeout
	}
	if cfg.ReloadSettle == 0 {
		cfg.ReloadSettle = DefaultReloadSettle
	}
	base := []string{cfg.Binary}
	if cfg.Prefix != "" {
		base = append(base, "-p", cfg.Prefix)
	}
	if len(cfg.TestCommand) == 0 {
		cfg.TestCommand = slices.Concat(base, []string{"-t", "-q", "-c", cfg.MainConfig})
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &OSS{cfg: cfg, log: log, byName: map[string]Member{}, runTest: runCommand, lock: make(chan struct{}, 1), gens: map[string]*generation{}}
	for _, m := range cfg.Members {
		d.byName[m.Name] = m
	}
	switch {
	case len(cfg.ReloadCommand) > 0:
		d.reload = &commandReloader{argv: cfg.ReloadCommand, settle: cfg.ReloadSettle}
	case cfg.PIDFile != "":
		d.reload = &signalReloader{pidFile: cfg.PIDFile, timeout: cfg.ReloadTimeout, settle: cfg.ReloadSettle}
	default:
		d.reload = &commandReloader{argv: slices.Concat(base, []string{"-c", cfg.MainConfig, "-s", "reload"}), settle: cfg.ReloadSettle}
	}
	return d, nil
}

// Init makes sure the managed file exists, without testing or reloading
// anything: call it before NGINX starts. A missing file is written with every
// member Serving. An existing file written by this driver keeps its members'
// states (members it lacks start Serving); any other existing file is an
// error and is left alone.
func (d *OSS) Init(ctx context.Context) error {
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	cur, old, err := d.load()
	if err != nil {
		return err
	}
	data, err := RenderFile(cur)
	if err != nil {
		return err
	}
	if old != nil && string(old) == string(data) {
		return nil
	}
	return writeAtomic(d.cfg.File, data, old)
}

// SetState puts every named member in state by rewriting the managed file,
// testing it and reloading NGINX once. Setting a state that already holds
// changes nothing and does not reload (a member already Draining keeps the
// time its drain began). An unknown member fails the call with
// drivers.ErrNotFound before anything changes.
func (d *OSS) SetState(ctx context.Context, state drivers.MemberState, members ...string) error {
	if !state.Valid() {
		return fmt.Errorf("%w: nginx: state %q: want serving, draining or out", drivers.ErrInvalidArgument, state)
	}
	for _, m := range members {
		if _, ok := d.byName[m]; !ok {
			return fmt.Errorf("%w: nginx upstream %s has no member %q", drivers.ErrNotFound, d.cfg.Upstream, m)
		}
	}
	if err := d.acquire(ctx); err != nil {
		return err
	}
	defer d.release()
	cur, old, err := d.load()
	if err != nil {
		return err
	}
	now := time.Now()
	view := d.view(ctx)
	var drained []int
	for i, s := range cur.Servers {
		if !slices.Contains(members, s.Member) || view.effective(s, now) == state {
			continue
		}
		cur.Servers[i].State, cur.Servers[i].Since = state, time.Time{}
		if state == drivers.Draining {
			cur.Servers[i].Since = now
			drained = append(drained, i)
		}
	}
	data, err := RenderFile(cur)
	if err != nil {
		return err
	}
	if old != nil && string(old) == string(data) {
		return nil
	}
	if old != nil && sameForNginx(old, data) {
		// Only the recorded states changed (draining <-> out): NGINX reads
		// the same directives, so nothing to test or reload.
		if err := writeAtomic(d.cfg.File, data, old); err != nil {
			return fmt.Errorf("%w: nginx: %w", drivers.ErrUnavailable, err)
		}
		return nil
	}
	gen, kept, err := d.apply(ctx, data, old)
	if kept {
		// NGINX was asked to reload: it reads the file as written.
		if state == drivers.Serving {
			for _, m := range members {
				delete(d.gens, m)
			}
		}
		for _, i := range drained {
			if gen != nil {
				d.gens[cur.Servers[i].Member] = gen
			} else {
				delete(d.gens, cur.Servers[i].Member)
			}
		}
	}
	if err != nil {
		return err
	}
	d.log.InfoContext(ctx, "nginx upstream changed", "upstream", d.cfg.Upstream, "state", state, "members", members)
	if len(drained) > 0 {
		d.restampDrain(ctx, cur, drained)
	}
	return nil
}

// sameForNginx reports whether two rendered files differ only in comments.
func sameForNginx(a, b []byte) bool {
	strip := func(data []byte) string {
		var out []string
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "#") {
				continue
			}
			decl, _, _ := strings.Cut(line, " # ")
			out = append(out, decl)
		}
		return strings.Join(out, "\n")
	}
	return strip(a) == strip(b)
}

// restampDrain records, for the members that began draining, the time the
// reload took effect rather than the time the file was written: the test and
// reload may take long on a busy host, and the drain period must count from
// the moment NGINX stopped sending them new requests. Only the comments
// change, so nothing is tested or reloaded; a failure only shortens the
// reported drain and is logged.
func (d *OSS) restampDrain(ctx context.Context, cur UpstreamFile, drained []int) {
	now := time.Now()
	for _, i := range drained {
		cur.Servers[i].Since = now
	}
	data, err := RenderFile(cur)
	if err == nil {
		err = writeAtomic(d.cfg.File, data, nil)
	}
	if err != nil {
		d.log.WarnContext(ctx, "nginx: could not record when the drain began; the drain period counts from before the reload", "file", d.cfg.File, "error", err)
	}
}

// Status reads the members' states from the managed file, in the order given
// (every member when none is named). Health is unknown and connections are
// never known: open-source NGINX reports neither per server.
func (d *OSS) Status(ctx context.Context, members ...string) ([]drivers.MemberStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("nginx: %w", err)
	}
	for _, m := range members {
		if _, ok := d.byName[m]; !ok {
			return nil, fmt.Errorf("%w: nginx upstream %s has no member %q", drivers.ErrNotFound, d.cfg.Upstream, m)
		}
	}
	if err := d.acquire(ctx); err != nil {
		return nil, err
	}
	defer d.release()
	cur, _, err := d.load()
	if err != nil {
		return nil, err
	}
	if len(members) == 0 {
		for _, s := range cur.Servers {
			members = append(members, s.Member)
		}
	}
	now := time.Now()
	view := d.view(ctx)
	out := make([]drivers.MemberStatus, 0, len(members))
	for _, m := range members {
		i := slices.IndexFunc(cur.Servers, func(s ServerLine) bool { return s.Member == m })
		out = append(out, drivers.MemberStatus{Member: m, State: view.effective(cur.Servers[i], now), Health: drivers.HealthUnknown})
	}
	return out, nil
}

// acquire takes the driver's lock, or gives up when ctx is done.
func (d *OSS) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("nginx: %w", err)
	}
	select {
	case d.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("nginx: waiting for another change: %w", ctx.Err())
	}
}

func (d *OSS) release() { <-d.lock }

// drainView answers, for one call holding the lock, whether a draining
// member may still be sent requests by old workers.
type drainView struct {
	d   *OSS
	ctx context.Context
	// unknown caches the answer for members without a generation.
	unknown *bool
}

// view returns a drainView; call it with the lock held.
func (d *OSS) view(ctx context.Context) *drainView { return &drainView{d: d, ctx: ctx} }

// effective is the state reported for s at now. A Draining member turns Out
// once the drain period has passed and no worker that may still proxy to it
// runs: a worker process that existed before the reload that drained it
// (old workers keep the old upstream, where the member is up, for the
// requests they hold, until they exit).
func (v *drainView) effective(s ServerLine, now time.Time) drivers.MemberState {
	if s.State != drivers.Draining {
		return s.State
	}
	if now.Before(s.Since.Add(v.d.cfg.DrainPeriod)) || v.oldWorkersRun(s.Member) {
		return drivers.Draining
	}
	return drivers.Out
}

// oldWorkersRun reports whether a worker that may still send member requests
// runs. For a member this driver drained through a watched reload, those are
// the workers that existed before that reload. For a draining member it has
// no record of (drained by an earlier driver, a resumed run) every worker
// shutting down counts, since any of them may be older than that drain.
// Where the workers cannot be watched (no PIDFile, no /proc) none is known
// and the drain period alone decides.
func (v *drainView) oldWorkersRun(member string) bool {
	if g, ok := v.d.gens[member]; ok {
		left := g.running()
		if len(left) > 0 && g.logged.CompareAndSwap(false, true) {
			v.d.log.InfoContext(v.ctx, "nginx: drain period over; members stay draining until the workers from before their reload exit (bounded by worker_shutdown_timeout)",
				"member", member, "master", g.master, "old workers", pids(left))
		}
		return len(left) > 0
	}
	if v.unknown == nil {
		any := false
		if r, ok := v.d.reload.(*signalReloader); ok {
			if pid, err := r.master(); err == nil && r.watchable(pid) {
				any = len(lingering(r.proc(), pid)) > 0
			}
		}
		v.unknown = &any
	}
	return *v.unknown
}

// load returns the desired file content built from the configuration and the
// states recorded in the current file, and the current file's bytes (nil
// when it does not exist). States follow member names: a member whose
// address changed keeps its state, a member new to the file starts Serving,
// and a member no longer configured is dropped from the file.
func (d *OSS) load() (UpstreamFile, []byte, error) {
	f := UpstreamFile{Upstream: d.cfg.Upstream, Directives: d.cfg.Directives, ServerParams: d.cfg.ServerParams}
	old, err := os.ReadFile(d.cfg.File)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return f, nil, fmt.Errorf("nginx: read managed file: %w", err)
	}
	recorded := map[string]ServerLine{}
	if err == nil {
		parsed, perr := ParseFile(old)
		if perr != nil {
			return f, nil, fmt.Errorf("nginx: managed file %s: %w", d.cfg.File, perr)
		}
		if parsed.Upstream != d.cfg.Upstream {
			return f, nil, fmt.Errorf("nginx: managed file %s defines upstream %s: want %s", d.cfg.File, parsed.Upstream, d.cfg.Upstream)
		}
		for _, s := range parsed.Servers {
			recorded[s.Member] = s
		}
	} else {
		old = nil
	}
	for _, m := range d.cfg.Members {
		s := ServerLine{Member: m.Name, Address: m.address(), State: drivers.Serving}
		if r, ok := recorded[m.Name]; ok {
			s.State, s.Since = r.State, r.Since
		}
		f.Servers = append(f.Servers, s)
	}
	return f, old, nil
}

// apply swaps data in, tests it, reloads, and rolls back on failure. kept
// reports that the file keeps data: NGINX was asked to reload (the reload
// may be unconfirmed, then err is set too). gen is that reload's old workers
// when they could be watched.
func (d *OSS) apply(ctx context.Context, data, old []byte) (gen *generation, kept bool, err error) {
	if err := writeAtomic(d.cfg.File, data, old); err != nil {
		return nil, false, fmt.Errorf("%w: nginx: %w", drivers.ErrUnavailable, err)
	}
	rollback := func(cause error) error {
		var rerr error
		if old != nil {
			rerr = writeAtomic(d.cfg.File, old, nil)
		} else {
			rerr = os.Remove(d.cfg.File)
		}
		if rerr != nil {
			// cause is what callers branch on; the rollback's failure is said beside it.
			return fmt.Errorf("%w (and the rollback of %s failed: %v)", cause, d.cfg.File, rerr) //nolint:errorlint // see above
		}
		return cause
	}
	if err := d.runTest(ctx, d.cfg.TestCommand); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, false, rollback(fmt.Errorf("nginx: test of the new upstream file interrupted (rolled back): %w", cerr))
		}
		d.log.WarnContext(ctx, "nginx refused the new upstream file; rolled back", "file", d.cfg.File, "error", err)
		return nil, false, rollback(fmt.Errorf("%w: nginx -t refused the new upstream file (rolled back): %w", drivers.ErrInvalidArgument, err))
	}
	sent, gen, err := d.reload.reload(ctx)
	switch {
	case err == nil:
		return gen, true, nil
	case !sent:
		d.log.WarnContext(ctx, "nginx reload failed; rolled back the file", "file", d.cfg.File, "error", err)
		return nil, false, rollback(fmt.Errorf("nginx reload (file rolled back): %w", err))
	default:
		// NGINX was asked to reload and reads the file when it does: keep
		// the file, so that it says what NGINX runs or is about to run.
		d.log.WarnContext(ctx, "nginx reload requested but not confirmed", "file", d.cfg.File, "error", err)
		return gen, true, fmt.Errorf("nginx: reload requested with the new upstream file but not confirmed (the file is kept; check NGINX): %w", err)
	}
}

// writeAtomic writes data to path through a temporary file and a rename in
// the same directory. When prev is not nil it is saved as path+".prev" first.
func writeAtomic(path string, data, prev []byte) error {
	if prev != nil {
		if err := writeRename(path+".prev", prev); err != nil {
			return err
		}
	}
	return writeRename(path, data)
}

func writeRename(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
