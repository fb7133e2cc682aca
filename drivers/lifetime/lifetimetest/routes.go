package lifetimetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/balanced-deploy/balanced/drivers"
)

func (f *Fake) routes() {
	m := http.NewServeMux()
	p := func(method, path string) string { return method + " " + BasePath + path }
	m.HandleFunc(p("GET", "/environments/{$}"), f.listEnvironments)
	m.HandleFunc(p("GET", "/environments/{env}/applications/{$}"), f.listApplications)
	m.HandleFunc(p("POST", "/environments/{env}/applications/{app}/versions/{$}"), f.tagVersion)
	m.HandleFunc(p("GET", "/applications/{app}/versions/{$}"), f.listVersions)
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
				statuses = append(statuses, map[string]any{
					"EnvironmentKey": EnvironmentKey(e.Name), "BaseApplicationVersionKey": VersionKey(a.name, v), "IsModified": false,
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

func (f *Fake) listVersions(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.appByKey(r.PathValue("app"))
	if a == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Application %s not found.", r.PathValue("app")))
		return
	}
	out := make([]map[string]any, 0, len(a.versions))
	for _, v := range a.versions {
		out = append(out, map[string]any{"Key": VersionKey(a.name, v), "Version": v, "ApplicationKey": ApplicationKey(a.name)})
	}
	writeJSON(w, http.StatusOK, out)
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
		DeploymentZoneKey     string
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
	for _, o := range body.ApplicationOperations {
		a, v, ok := f.versionByKey(o.ApplicationVersionKey)
		if !ok {
			writeError(w, http.StatusNotFound, fmt.Sprintf("Application version %s not found.", o.ApplicationVersionKey))
			return
		}
		d.ops = append(d.ops, op{app: a.name, version: v})
		d.Release.Applications = append(d.Release.Applications, drivers.Application{Name: a.name, Version: v})
	}
	f.nextKey++
	d.Key = fmt.Sprintf("dep-%04d", f.nextKey)
	d.State = drivers.DeploymentSaved
	d.Notes, d.Source, d.Target = body.Notes, src.Name, dst.Name
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
		ops = append(ops, map[string]string{"ApplicationVersionKey": VersionKey(o.app, o.version)})
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
	log := make([]map[string]string, 0, len(d.Log))
	for _, e := range d.Log {
		log = append(log, map[string]string{"Instant": e.Time.UTC().Format("2006-01-02T15:04:05.000Z"), "Message": e.Message, "Type": e.Type})
	}
	writeJSON(w, http.StatusOK, map[string]any{"DeploymentStatus": d.State, "Info": d.Info, "DeploymentLog": log})
}
