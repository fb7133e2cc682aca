package lifetimetest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

func (f *Fake) routes() {
	m := http.NewServeMux()
	p := func(method, path string) string { return method + " " + BasePath + path }
	m.HandleFunc(p("GET", "/environments/{$}"), f.listEnvironments)
	m.HandleFunc(p("GET", "/environments/{env}/applications/{$}"), f.listApplications)
	m.HandleFunc(p("POST", "/environments/{env}/applications/{app}/versions/{$}"), f.tagVersion)
	m.HandleFunc(p("GET", "/applications/{app}/versions/{$}"), f.listVersions)
	m.HandleFunc(p("GET", "/applications/{app}/versions/{ver}/{$}"), f.getVersion)
	m.HandleFunc(p("GET", "/deployments/{$}"), f.listDeployments)
	m.HandleFunc(p("POST", "/deployments/{$}"), f.createDeployment)
	m.HandleFunc(p("GET", "/deployments/{key}/{$}"), f.getDeployment)
	m.HandleFunc(p("DELETE", "/deployments/{key}/{$}"), f.deleteDeployment)
	m.HandleFunc(p("GET", "/deployments/{key}/status/{$}"), f.getStatus)
	m.HandleFunc(p("POST", "/deployments/{key}/{cmd}/{$}"), f.command)
	f.mux = m
}

func (f *Fake) envByKey(key string) (Environment, bool) {
	for _, e := range f.envs {
		if EnvironmentKey(e.Name) == key {
			return e, true
		}
	}
	return Environment{}, false
}

func (f *Fake) appByKey(key string) *appState {
	for _, a := range f.apps {
		if ApplicationKey(a.name) == key {
			return a
		}
	}
	return nil
}

// versionByKey resolves a version key to its application and version.
func (f *Fake) versionByKey(key string) (*appState, string, bool) {
	for _, a := range f.apps {
		for _, v := range a.versions {
			if VersionKey(a.name, v) == key {
				return a, v, true
			}
		}
	}
	return nil, "", false
}

func (f *Fake) listEnvironments(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.envs) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	out := make([]map[string]any, 0, len(f.envs))
	for i, e := range f.envs {
		out = append(out, map[string]any{
			"Key": EnvironmentKey(e.Name), "Name": e.Name, "HostName": e.HostName,
			"UseHTTPS": true, "NumberOfFrontEnds": e.NumberOfFrontEnds, "Order": i,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (f *Fake) listApplications(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	envKey := r.PathValue("env")
	if _, ok := f.envByKey(envKey); !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Environment %s not found.", envKey))
		return
	}
	var out []map[string]any
	for _, a := range f.apps {
		if _, ok := a.running[envKey]; !ok {
			continue
		}
		var statuses []map[string]any
		for _, e := range f.envs {
			if v, ok := a.running[EnvironmentKey(e.Name)]; ok {
				// AppStatusInEnv carries the application's own
				// DeploymentZoneKey (Deployment API v2 docs, structure
				// AppStatusInEnv).
				statuses = append(statuses, map[string]any{
					"EnvironmentKey": EnvironmentKey(e.Name), "BaseApplicationVersionKey": VersionKey(a.name, v), "IsModified": false,
					"DeploymentZoneKey": a.zones[EnvironmentKey(e.Name)],
				})
			}
		}
		out = append(out, map[string]any{"Key": ApplicationKey(a.name), "Name": a.name, "AppStatusInEnvs": statuses})
	}
	if len(out) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// DefaultMaximumVersions is how many versions GET
// /applications/{Key}/versions/ returns when the request does not send
// MaximumVersionsToReturn (Deployment API v2 docs and Swagger: "The
// maximum number of versions to return. The default value is 5.").
const DefaultMaximumVersions = 5

// listVersions serves GET /applications/{Key}/versions/: newest first (what
// OutSystems' outsystems-pipeline relies on when it asks for
// MaximumVersionsToReturn=1 to get the latest tag), at most
// MaximumVersionsToReturn of them, 5 by default; 400 for a negative or
// non-integer MaximumVersionsToReturn (docs: "Invalid request due to invalid
// max versions to return (less than 0)").
func (f *Fake) listVersions(w http.ResponseWriter, r *http.Request) {
	limit := DefaultMaximumVersions
	if raw, ok := queryValue(r, "MaximumVersionsToReturn"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid request due to invalid max versions to return (%q).", raw))
			return
		}
		limit = n
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.appByKey(r.PathValue("app"))
	if a == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Failed to retrieve the application with key %s.", r.PathValue("app")))
		return
	}
	out := make([]map[string]any, 0, min(limit, len(a.versions)))
	for i := len(a.versions) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, f.versionJSON(a, a.versions[i]))
	}
	writeJSON(w, http.StatusOK, out)
}

// versionJSON is an ApplicationVersion record.
func (f *Fake) versionJSON(a *appState, v string) map[string]any {
	inUse := slices.Contains(slices.Collect(maps.Values(a.running)), v)
	return map[string]any{"Key": VersionKey(a.name, v), "Version": v, "ApplicationKey": ApplicationKey(a.name), "InUse": inUse}
}

// getVersion serves GET /applications/{Key}/versions/{VersionKey}/: one
// version, however old (Deployment API v2 docs, Applications_Versions_Get);
// 404 for an unknown application or version.
func (f *Fake) getVersion(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.appByKey(r.PathValue("app"))
	if a == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Failed to retrieve the application with key %s.", r.PathValue("app")))
		return
	}
	for _, v := range a.versions {
		if VersionKey(a.name, v) == r.PathValue("ver") {
			writeJSON(w, http.StatusOK, f.versionJSON(a, v))
			return
		}
	}
	writeError(w, http.StatusNotFound, fmt.Sprintf("Failed to retrieve the application version with key %s.", r.PathValue("ver")))
}

// queryValue returns a query parameter, matched case-insensitively (the
// product's REST layer does not care about the case of parameter names;
// unconfirmed, kept lenient).
func queryValue(r *http.Request, name string) (string, bool) {
	for k, vs := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0], true
		}
	}
	return "", false
}

func (f *Fake) tagVersion(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ChangeLog      string
		Version        string
		MobileVersions []any
	}
	if err := decode(r, &body); err != nil || body.Version == "" {
		writeError(w, http.StatusBadRequest, "Body must be {ChangeLog, Version, MobileVersions} with a Version.")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.envByKey(r.PathValue("env")); !ok {
		writeError(w, http.StatusNotFound, "Environment not found.")
		return
	}
	a := f.appByKey(r.PathValue("app"))
	if a == nil {
		writeError(w, http.StatusNotFound, "Application not found.")
		return
	}
	if slices.Contains(a.versions, body.Version) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Version %s already exists.", body.Version))
		return
	}
	a.versions = append(a.versions, body.Version)
	// The environment now runs the tagged version.
	a.running[r.PathValue("env")] = body.Version
	writeJSON(w, http.StatusOK, map[string]string{"ApplicationVersionKey": VersionKey(a.name, body.Version)})
}

func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

type planBody struct {
	Notes                 string
	SourceEnvironmentKey  string
	TargetEnvironmentKey  string
	ApplicationOperations []struct {
		ApplicationVersionKey string
		// DeploymentZoneKey is a pointer so that a missing one (refused)
		// differs from an empty one (the default zone).
		DeploymentZoneKey *string
	}
}

func (f *Fake) createDeployment(w http.ResponseWriter, r *http.Request) {
	var body planBody
	if err := decode(r, &body); err != nil {
		writeError(w, http.StatusBadRequest, "Malformed deployment plan: "+err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	src, okS := f.envByKey(body.SourceEnvironmentKey)
	dst, okT := f.envByKey(body.TargetEnvironmentKey)
	switch {
	case !okS || !okT:
		writeError(w, http.StatusNotFound, "Source or target environment not found.")
		return
	case body.SourceEnvironmentKey == body.TargetEnvironmentKey:
		writeError(w, http.StatusBadRequest, "Source and target environments must differ.")
		return
	case len(body.ApplicationOperations) == 0:
		writeError(w, http.StatusBadRequest, "The deployment plan has no application operations.")
		return
	}
	d := &deployment{sourceKey: body.SourceEnvironmentKey, targetKey: body.TargetEnvironmentKey, cont: make(chan struct{}, 1)}
	d.Zones = map[string]string{}
	for i, o := range body.ApplicationOperations {
		// The Swagger marks both ApplicationVersionKey and
		// DeploymentZoneKey required in an ApplicationOperation; the docs
		// say to send an empty string for the default zone.
		if o.DeploymentZoneKey == nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("ApplicationOperations[%d] has no DeploymentZoneKey; provide an empty string for the default deployment zone.", i))
			return
		}
		a, v, ok := f.versionByKey(o.ApplicationVersionKey)
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("Application version %s not found.", o.ApplicationVersionKey))
			return
		}
		zone := *o.DeploymentZoneKey
		if zone == "" {
			zone = ZoneKey(dst.Name, DefaultZone)
		} else if !zoneOf(dst, zone) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Deployment zone %s is not a zone of environment %s.", zone, dst.Name))
			return
		}
		d.ops = append(d.ops, op{app: a.name, version: v, zone: zone})
		d.Zones[a.name] = zone
		d.Release.Applications = append(d.Release.Applications, drivers.Application{Name: a.name, Version: v})
	}
	f.nextKey++
	d.Key = fmt.Sprintf("dep-%04d", f.nextKey)
	d.State = drivers.DeploymentSaved
	d.Notes, d.Source, d.Target = body.Notes, src.Name, dst.Name
	d.CreatedOn = f.now().UTC()
	d.Release.Notes = body.Notes
	d.Release.Version = commonVersion(d.Release.Applications)
	f.deps[d.Key] = d
	f.order = append(f.order, d.Key)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if f.cfg.QuotedKeys {
		_, _ = fmt.Fprintf(w, "%q", d.Key)
		return
	}
	_, _ = io.WriteString(w, d.Key)
}

// zoneOf reports whether key is a deployment zone of env.
func zoneOf(env Environment, key string) bool {
	if key == ZoneKey(env.Name, DefaultZone) {
		return true
	}
	for _, z := range env.DeploymentZones {
		if key == ZoneKey(env.Name, z) {
			return true
		}
	}
	return false
}

// commonVersion is the version every application shares, or "".
func commonVersion(apps []drivers.Application) string {
	if len(apps) == 0 {
		return ""
	}
	for _, a := range apps[1:] {
		if a.Version != apps[0].Version {
			return ""
		}
	}
	return apps[0].Version
}

func (f *Fake) getDeployment(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deps[r.PathValue("key")]
	if !ok {
		writeError(w, http.StatusNotFound, "Deployment not found.")
		return
	}
	ops := make([]map[string]string, 0, len(d.ops))
	for _, o := range d.ops {
		ops = append(ops, map[string]string{"ApplicationVersionKey": VersionKey(o.app, o.version), "DeploymentZoneKey": o.zone})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"Key": d.Key, "Notes": d.Notes, "SourceEnvironmentKey": d.sourceKey, "TargetEnvironmentKey": d.targetKey,
		"ApplicationOperations": ops,
	})
}

func (f *Fake) deleteDeployment(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.PathValue("key")
	d, ok := f.deps[key]
	if !ok {
		writeError(w, http.StatusNotFound, "Deployment not found.")
		return
	}
	if d.State != drivers.DeploymentSaved {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Deployment is %s; only a saved deployment can be deleted.", d.State))
		return
	}
	delete(f.deps, key)
	f.order = slices.DeleteFunc(f.order, func(k string) bool { return k == key })
	w.WriteHeader(http.StatusNoContent)
}

func (f *Fake) getStatus(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.deps[r.PathValue("key")]
	if !ok {
		writeError(w, http.StatusNotFound, "Deployment not found.")
		return
	}
	// A DeploymentMessage carries only Instant and Message (Swagger
	// DeploymentMessage; the docs' structure of the same name): no type.
	log := make([]map[string]string, 0, len(d.Log))
	for _, e := range d.Log {
		log = append(log, map[string]string{"Instant": e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), "Message": e.Message})
	}
	writeJSON(w, http.StatusOK, map[string]any{"DeploymentStatus": d.State, "Info": d.Info, "DeploymentLog": log})
}

// listDeployments serves GET /deployments/: Deployment records newest first,
// filtered by TargetEnvironmentKey, MinDate (default one week before now)
// and MaxDate (default now) on their creation date; 204 when none, 400 for
// a date that does not parse (Deployment API v2 docs, Deployments_List).
// A Deployment record has no status: read it with GET
// /deployments/{Key}/status/.
func (f *Fake) listDeployments(w http.ResponseWriter, r *http.Request) {
	now := f.now().UTC()
	minDate, maxDate := now.Add(-7*24*time.Hour), now
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"MinDate", &minDate}, {"MaxDate", &maxDate}} {
		raw, ok := queryValue(r, p.name)
		if !ok {
			continue
		}
		t, err := parseDate(raw)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("Invalid request for list of deployments: %s %q.", p.name, raw))
			return
		}
		*p.into = t
	}
	target, _ := queryValue(r, "TargetEnvironmentKey")
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for i := len(f.order) - 1; i >= 0; i-- {
		d := f.deps[f.order[i]]
		if d == nil || (target != "" && d.targetKey != target) || d.CreatedOn.Before(minDate) || d.CreatedOn.After(maxDate) {
			continue
		}
		ops := make([]map[string]string, 0, len(d.ops))
		for _, o := range d.ops {
			ops = append(ops, map[string]string{
				"ApplicationKey": ApplicationKey(o.app), "ApplicationVersionKey": VersionKey(o.app, o.version),
				"DeploymentOperation": "Deploy " + o.version, "DeploymentZoneKey": o.zone,
			})
		}
		out = append(out, map[string]any{
			"Key": d.Key, "SourceEnvironmentKey": d.sourceKey, "TargetEnvironmentKey": d.targetKey, "Notes": d.Notes,
			"CreatedOn": d.CreatedOn.Format(time.RFC3339), "ApplicationOperations": ops,
		})
	}
	if len(out) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// parseDate reads a MinDate or MaxDate: a date (2006-01-02) or a date and
// time (RFC 3339). The documented type is "Date"; the exact format the
// product accepts is unconfirmed, so both are taken.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Parse(time.DateOnly, s)
}
