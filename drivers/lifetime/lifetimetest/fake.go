package lifetimetest

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
)

// BasePath is where the fake serves the API.
const BasePath = "/lifetimeapi/rest/v2"

// DefaultZone is the name of the deployment zone every environment has
// (OutSystems names it "Global"). An application deployed with an empty
// DeploymentZoneKey goes there (Deployment API v2 docs, POST /deployments/:
// "To deploy an application to the default deployment zone, provide an
// empty string in the DeploymentZoneKey attribute").
const DefaultZone = "Global"

// Environment is a LifeTime environment of the fake. Its key is
// "env-" + Name.
type Environment struct {
	Name              string
	HostName          string
	NumberOfFrontEnds int
	// DeploymentZones names the environment's deployment zones besides
	// [DefaultZone]; see [ZoneKey].
	DeploymentZones []string
	// TwoStage is LifeTime's "Execute deployments in two stages" setting
	// of the environment (OutSystems, "Deploy in a Short Deployment
	// Window"). A deployment to it runs its first stage (compile, SQL
	// scripts generated, binaries uploaded: "no changes in the running
	// versions") for PrepareDuration, then waits in
	// needs_user_intervention with Info [Config.PreparedInfo] until it is
	// continued (POST /deployments/{Key}/continue/); only then does the
	// [Backend] run (the second stage: SQL scripts run, running versions
	// changed). Abort ends a prepared deployment aborted with nothing
	// running changed. The API does not report the setting: GET
	// /environments/ leaves it out, as LifeTime's Environment structure
	// has no such field.
	TwoStage bool
	// PrepareDuration is how long the first stage of a deployment to a
	// TwoStage environment takes (0 = at once).
	PrepareDuration time.Duration
}

// Application is an application of the fake. Its key is "app-" + Name; the
// key of each version is "ver-" + Name + "-" + version.
type Application struct {
	Name string
	// Versions lists the tagged versions, oldest first (the fake lists
	// them newest first, as LifeTime does).
	Versions []string
	// Running maps an environment name to the version it runs there.
	Running map[string]string
	// Zones maps an environment name to the name of the deployment zone
	// the application runs in there; missing means [DefaultZone].
	Zones map[string]string
}

// Config configures a [Fake].
type Config struct {
	// Token is the bearer token every request must carry; required.
	Token string
	// Environments default to Development, Quality and Production.
	Environments []Environment
	Applications []Application
	// Backend does the work of started deployments. Nil means
	// DelayBackend{} (instant success).
	Backend Backend
	// QuotedKeys makes POST /deployments/ answer the key as a JSON string
	// ("\"key\"") instead of bare text.
	QuotedKeys bool
	// Now stamps log lines; nil means time.Now.
	Now func() time.Time
	// PreparedInfo is the Info of a prepared two-stage deployment
	// ([Environment.TwoStage]). Empty means drivers.InfoDeploymentPrepared,
	// "deployment_prepared": what OutSystems' own outsystems-pipeline
	// compares Info with (check_deployment_two_step_deploy_status) before
	// it continues a deployment, against the real product. The Deployment
	// API docs spell it deploy_prepared (drivers.InfoDeployPrepared); set
	// that to test the other spelling.
	PreparedInfo string
}

// Script shapes the deployments started after [Fake.SetScript].
type Script struct {
	// PauseInfo, when set, makes a started deployment stop in
	// needs_user_intervention with this Info before installing; continue
	// resumes it, abort ends it aborted.
	PauseInfo string
	// Result, when set, replaces the state a successful deployment ends in
	// (for example force_finished or finished_with_errors).
	Result drivers.DeploymentState
}

// Request is one request the fake received.
type Request struct {
	Method string
	// Path is relative to BasePath, without the query.
	Path string
	// Query is the raw query string ("" when none).
	Query string
	// Authorized is false when the token was missing or wrong.
	Authorized bool
}

// Deployment is a snapshot of one deployment of the fake.
type Deployment struct {
	Key            string
	State          drivers.DeploymentState
	Info           string
	Notes          string
	Source, Target string // environment names
	Release        drivers.Release
	// Zones maps each application of the plan to the key of the
	// deployment zone it is deployed to (an empty DeploymentZoneKey in the
	// plan resolved to the target's default zone).
	Zones map[string]string
	// RedeployOutdated is the value start was sent, nil when start had no
	// RedeployOutdated parameter.
	RedeployOutdated *bool
	// CreatedOn is when the plan was created (Config.Now).
	CreatedOn time.Time
	// Log is the deployment log. Type (Info, Warning, Error) is the fake's
	// own bookkeeping: LifeTime's DeploymentMessage has no type, so it is
	// never sent on the wire.
	Log []drivers.LogEntry
}

// Fake is an in-memory LifeTime. It is an http.Handler and safe for
// concurrent use.
type Fake struct {
	cfg     Config
	backend Backend
	now     func() time.Time
	mux     *http.ServeMux

	mu       sync.Mutex
	envs     []Environment
	apps     []*appState
	deps     map[string]*deployment
	order    []string
	nextKey  int
	script   Script
	requests []Request
	faults   fault.Set
	closed   bool
	wg       sync.WaitGroup
}

type appState struct {
	name     string
	versions []string          // oldest first
	running  map[string]string // env key → version
	zones    map[string]string // env key → zone key
}

type deployment struct {
	Deployment
	sourceKey, targetKey string
	ops                  []op
	script               Script
	cancel               context.CancelFunc
	cont                 chan struct{}
}

type op struct{ app, version, zone string }

// New returns a fake LifeTime. It panics when cfg.Token is empty, since a
// fake that accepts anything would hide authentication bugs.
func New(cfg Config) *Fake {
	if cfg.Token == "" {
		panic("lifetimetest: Config.Token is required")
	}
	f := &Fake{cfg: cfg, backend: cfg.Backend, now: cfg.Now, deps: map[string]*deployment{}}
	if f.backend == nil {
		f.backend = DelayBackend{}
	}
	if f.now == nil {
		f.now = time.Now
	}
	f.envs = slices.Clone(cfg.Environments)
	if len(f.envs) == 0 {
		f.envs = []Environment{{Name: "Development"}, {Name: "Quality"}, {Name: "Production"}}
	}
	for _, a := range cfg.Applications {
		st := &appState{name: a.Name, versions: slices.Clone(a.Versions), running: map[string]string{}, zones: map[string]string{}}
		for env, v := range a.Running {
			st.running[EnvironmentKey(env)] = v
			if !slices.Contains(st.versions, v) {
				st.versions = append(st.versions, v)
			}
			zone := DefaultZone
			if z := a.Zones[env]; z != "" {
				zone = z
			}
			st.zones[EnvironmentKey(env)] = ZoneKey(env, zone)
		}
		f.apps = append(f.apps, st)
	}
	f.routes()
	return f
}

// EnvironmentKey is the key the fake gives the environment name.
func EnvironmentKey(name string) string { return "env-" + name }

// ApplicationKey is the key the fake gives the application name.
func ApplicationKey(name string) string { return "app-" + name }

// VersionKey is the key the fake gives a version of an application.
func VersionKey(app, version string) string { return "ver-" + app + "-" + version }

// ZoneKey is the key the fake gives the deployment zone named zone of the
// environment named env.
func ZoneKey(env, zone string) string { return "dz-" + env + "-" + zone }

// SetScript shapes the deployments started from now on.
func (f *Fake) SetScript(s Script) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = s
}

// SetStatus forces the state and Info a deployment reports, as if LifeTime
// had moved it there. A running backend keeps running and sets the final
// state when it returns.
func (f *Fake) SetStatus(key string, state drivers.DeploymentState, info string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deps[key]
	if !ok {
		return fmt.Errorf("lifetimetest: no deployment %q", key)
	}
	d.State, d.Info = state, info
	return nil
}

// Inject adds a fault (package fault documents every field; faults are tried
// in the order added). The fake names a request by its method
// (fault.Fault.Op: "GET", "POST"...) and matches Target against any part of
// the request path relative to BasePath ("/status/", "/continue/"). A hit
// request, once authenticated, waits Latency and, when Status is set, is
// answered with LifeTime's documented error body {"Errors": [Message],
// "StatusCode": Status} (Message "Injected error <status>." by default),
// before it has any effect. Inject panics on a fault the fake cannot honour
// (a field it does not read, such as Err, Code or AfterEffect): the test is
// wrong.
func (f *Fake) Inject(ft fault.Fault) {
	f.faults.MustAdd("lifetimetest", ft, fault.FieldLatency, fault.FieldStatus, fault.FieldMessage)
}

// ClearFaults removes every fault.
func (f *Fake) ClearFaults() { f.faults.Clear() }

// Requests returns the requests received so far, in order.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Count returns how many requests with this method and path were received.
func (f *Fake) Count(method, path string) int {
	n := 0
	for _, r := range f.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// Deployment returns a snapshot of the deployment with this key.
func (f *Fake) Deployment(key string) (Deployment, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deps[key]
	if !ok {
		return Deployment{}, false
	}
	return d.snapshot(), true
}

// Deployments returns snapshots of every deployment, oldest first.
func (f *Fake) Deployments() []Deployment {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Deployment, 0, len(f.order))
	for _, k := range f.order {
		if d, ok := f.deps[k]; ok {
			out = append(out, d.snapshot())
		}
	}
	return out
}

// Running returns the version of app the environment runs, "" if none.
func (f *Fake) Running(env, app string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.apps {
		if a.name == app {
			return a.running[EnvironmentKey(env)]
		}
	}
	return ""
}

// Zone returns the key of the deployment zone app runs in, in env, "" if
// it does not run there.
func (f *Fake) Zone(env, app string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.apps {
		if a.name == app {
			return a.zones[EnvironmentKey(env)]
		}
	}
	return ""
}

// Close cancels every running deployment and waits for their backends to
// return. Later starts are refused.
func (f *Fake) Close() {
	f.mu.Lock()
	f.closed = true
	for _, d := range f.deps {
		if d.cancel != nil {
			d.cancel()
		}
	}
	f.mu.Unlock()
	f.wg.Wait()
}

func (d *deployment) snapshot() Deployment {
	s := d.Deployment
	s.Log = slices.Clone(d.Log)
	s.Release.Applications = slices.Clone(d.Release.Applications)
	s.Zones = maps.Clone(d.Zones)
	if d.RedeployOutdated != nil {
		v := *d.RedeployOutdated
		s.RedeployOutdated = &v
	}
	return s
}

// ServeHTTP serves the API under BasePath.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, BasePath)
	ok := r.Header.Get("Authorization") == "Bearer "+f.cfg.Token
	f.mu.Lock()
	f.requests = append(f.requests, Request{Method: r.Method, Path: path, Query: r.URL.RawQuery, Authorized: ok})
	f.mu.Unlock()
	if !ok {
		writeError(w, http.StatusUnauthorized, "Invalid or missing authentication token.")
		return
	}
	if ft, hit := f.faults.MatchPath(r.Method, path); hit {
		if ft.Wait(r.Context()) != nil {
			return // the client went away
		}
		if ft.Status != 0 {
			writeError(w, ft.Status, cmp.Or(ft.Message, fmt.Sprintf("Injected error %d.", ft.Status)))
			return
		}
	}
	if _, pattern := f.mux.Handler(r); pattern == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("No endpoint %s %s.", r.Method, path))
		return
	}
	f.mux.ServeHTTP(w, r)
}

// writeError writes LifeTime's documented error body.
func writeError(w http.ResponseWriter, status int, msgs ...string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"Errors": msgs, "StatusCode": status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
