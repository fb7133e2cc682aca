package lifetimetest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// command serves POST /deployments/{key}/{start|continue|abort}/: 202 with
// an empty body, or 400 when the command cannot run in the current state.
func (f *Fake) command(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cmd := r.PathValue("cmd")
	d, ok := f.deps[r.PathValue("key")]
	if !ok {
		writeError(w, http.StatusNotFound, "Deployment not found.")
		return
	}
	refuse := func() {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("Cannot %s a deployment that is %s.", cmd, d.State))
	}
	switch cmd {
	case "start":
		if d.State != drivers.DeploymentSaved || f.closed {
			refuse()
			return
		}
		// start takes an optional boolean RedeployOutdated (Deployment API
		// v2 docs, Deployments_ExecuteCommand: "If True, outdated
		// applications in the target environment will be redeployed").
		// OutSystems' outsystems-pipeline sends it as Python prints a
		// bool ("True"/"False"), so the case is not significant.
		if raw, ok := queryValue(r, "RedeployOutdated"); ok {
			v, err := strconv.ParseBool(strings.ToLower(raw))
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("RedeployOutdated %q is not a boolean.", raw))
				return
			}
			d.RedeployOutdated = &v
		}
		ctx, cancel := context.WithCancel(context.Background())
		d.cancel = cancel
		d.script = f.script
		d.State = drivers.DeploymentRunning
		f.logLocked(d, "Info", "Deployment started")
		f.wg.Add(1)
		go f.run(ctx, d)
	case "continue":
		if d.State != drivers.DeploymentNeedsUserIntervention {
			refuse()
			return
		}
		d.State, d.Info = drivers.DeploymentRunning, ""
		f.logLocked(d, "Info", "Deployment continued")
		select {
		case d.cont <- struct{}{}:
		default:
		}
	case "abort":
		if d.State != drivers.DeploymentRunning && d.State != drivers.DeploymentNeedsUserIntervention {
			refuse()
			return
		}
		d.State, d.Info = drivers.DeploymentAborting, ""
		f.logLocked(d, "Warning", "Deployment abort requested")
		if d.cancel != nil {
			d.cancel()
		} else {
			d.State = drivers.DeploymentAborted
		}
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("No command %q.", cmd))
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func (f *Fake) logLocked(d *deployment, typ, msg string) {
	d.Log = append(d.Log, drivers.LogEntry{Time: f.now().UTC(), Type: typ, Message: msg})
}

// run is a started deployment: the optional pause, then the backend.
func (f *Fake) run(ctx context.Context, d *deployment) {
	defer f.wg.Done()
	f.mu.Lock()
	script, rel := d.script, d.Release
	f.mu.Unlock()
	job := &Job{f: f, d: d}
	if err := f.firstStage(ctx, d, job); err != nil {
		f.finish(d, drivers.DeploymentAborted, "Deployment aborted")
		return
	}
	if script.PauseInfo != "" {
		if err := job.Pause(ctx, script.PauseInfo); err != nil {
			f.finish(d, drivers.DeploymentAborted, "Deployment aborted")
			return
		}
	}
	err := f.backend.Deploy(ctx, rel, job)
	switch {
	case ctx.Err() != nil:
		f.finish(d, drivers.DeploymentAborted, "Deployment aborted")
	case err != nil:
		job.Log("Error", err.Error())
		f.finish(d, drivers.DeploymentFailed, "Deployment finished with errors")
	default:
		f.mu.Lock()
		for _, o := range d.ops {
			if a := f.appByName(o.app); a != nil {
				a.running[d.targetKey] = o.version
				a.zones[d.targetKey] = o.zone
			}
		}
		end := drivers.DeploymentSucceeded
		if job.warned {
			end = drivers.DeploymentSucceededWithWarnings
		}
		if script.Result != "" {
			end = script.Result
		}
		f.mu.Unlock()
		f.finish(d, end, "Deployment finished")
	}
}

// firstStage runs the first stage of a deployment to a two-stage
// environment ([Environment.TwoStage]) and waits, prepared, until it is
// continued (nil) or aborted (ctx's error). For any other environment it
// returns nil at once.
func (f *Fake) firstStage(ctx context.Context, d *deployment, job *Job) error {
	f.mu.Lock()
	env, _ := f.envByKey(d.targetKey)
	f.mu.Unlock()
	if !env.TwoStage {
		return nil
	}
	job.Log("Info", "Preparing the deployment: compiling, generating SQL scripts, uploading binaries to the front-ends")
	if env.PrepareDuration > 0 {
		t := time.NewTimer(env.PrepareDuration)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	info := f.cfg.PreparedInfo
	if info == "" {
		info = drivers.InfoDeploymentPrepared
	}
	return job.Pause(ctx, info)
}

func (f *Fake) appByName(name string) *appState {
	for _, a := range f.apps {
		if a.name == name {
			return a
		}
	}
	return nil
}

func (f *Fake) finish(d *deployment, state drivers.DeploymentState, msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d.State, d.Info = state, ""
	typ := "Info"
	if !state.Succeeded() {
		typ = "Error"
	}
	f.logLocked(d, typ, msg)
	d.cancel()
}
