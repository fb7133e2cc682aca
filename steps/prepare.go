package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// Prepare is the ID of the step that runs the first stage of a two-stage
// deployment while every server serves. The balanced plan has it, just
// after preflight, only when it prepares at full capacity (see
// [PrepareMode]); [farm.Plan.StepIDs] says whether it does.
const Prepare = "prepare"

// CapturedDeploymentContinued is recorded in farm.Captured (with the
// deployment's ID) just before publish continues the deployment that
// prepare prepared: from then on the deployment may change what runs, and
// a rollback must deploy the previous release again instead of only
// aborting it.
const CapturedDeploymentContinued = "deployment-continued"

// ErrNotTwoStage is wrapped by the error of a prepare step whose
// deployment did not stop prepared after its first stage but ran to its
// end: the platform client said its target runs deployments in two stages
// (drivers.DeploymentPreparer) and it does not. That deployment changed
// the running versions while every server served.
var ErrNotTwoStage = errors.New("the platform's target does not run deployments in two stages")

// PrepareMode says whether the balanced plan prepares the release at full
// capacity: LifeTime's two-stage deployment compiles the applications,
// generates the SQL scripts and uploads the binaries to the front-ends
// with "no changes in the running versions" (OutSystems, "Deploy in a
// Short Deployment Window"), and only its second stage, once continued,
// runs the SQL scripts and switches the running versions. Preparing at
// full capacity runs that first stage in a step of its own, [Prepare],
// before stop-schedulers, while every server serves; publish then
// continues the prepared deployment once the Updating group is out and the
// Loaded group blocked. The time the farm runs on part of its servers
// becomes the second stage and the Loaded group's catch-up, instead of the
// whole deployment and the catch-up.
//
// Whether the target runs deployments in two stages is a setting of the
// environment in LifeTime ("Execute deployments in two stages"), which the
// Deployment API v2 neither reads nor sets: the platform client says it
// (drivers.DeploymentPreparer; the lifetime client from its Config). A
// platform that cannot prepare is one whose client lacks
// drivers.DeploymentPreparer or drivers.DeploymentContinuer, or whose
// TwoStage is false.
type PrepareMode string

// The values of [PrepareMode].
const (
	// PrepareAuto (the default) prepares at full capacity where the
	// platform can, and otherwise falls back to the one-stage plan, in
	// which publish runs the whole deployment at reduced capacity. The
	// runbook (farm.Plan.Describe) says which.
	PrepareAuto PrepareMode = ""
	// PrepareOff never prepares: the one-stage plan, as the runbook was
	// written. A two-stage platform's deployment is then prepared and
	// continued inside publish, at reduced capacity, and only with
	// ContinuePrepared.
	PrepareOff PrepareMode = "off"
	// PrepareRequire refuses, with an error from Balanced naming why,
	// a platform that cannot prepare.
	PrepareRequire PrepareMode = "require"
)

// prepareSupport says whether the platform can prepare at full capacity,
// and why not.
func prepareSupport(p drivers.PlatformClient) (bool, string) {
	pr, ok := p.(drivers.DeploymentPreparer)
	if !ok {
		return false, fmt.Sprintf("the platform client (%T) cannot say whether its deployments run in two stages (no drivers.DeploymentPreparer)", p)
	}
	if _, ok := p.(drivers.DeploymentContinuer); !ok {
		return false, fmt.Sprintf("the platform client (%T) cannot continue a prepared deployment (no drivers.DeploymentContinuer)", p)
	}
	if !pr.TwoStage() {
		return false, "the platform's target does not run deployments in two stages"
	}
	return true, ""
}

// stages decides whether the plan prepares at full capacity, and returns
// the runbook's note on the mode.
func (c Config) stages() (twoStage bool, note string, err error) {
	switch c.PrepareAtFullCapacity {
	case PrepareOff:
		return false, "one stage: preparing at full capacity is off (PrepareAtFullCapacity off; spec: platform.prepare_at_full_capacity: off)", nil
	case PrepareAuto, PrepareRequire:
	default:
		return false, "", fmt.Errorf("%w: PrepareAtFullCapacity %q: want %q (the default: prepare where the platform can), %q or %q",
			ErrInvalidConfig, c.PrepareAtFullCapacity, PrepareAuto, PrepareOff, PrepareRequire)
	}
	ok, why := prepareSupport(c.Platform)
	switch {
	case ok:
		return true, "two stages: the release was prepared at full capacity (step " + Prepare + "); this continues it", nil
	case c.PrepareAtFullCapacity == PrepareRequire:
		return false, "", fmt.Errorf("%w: PrepareAtFullCapacity (spec: platform.prepare_at_full_capacity) %q: %s: want a two-stage platform, or %q to fall back to one stage", ErrInvalidConfig, PrepareRequire, why, PrepareAuto)
	}
	return false, "one stage, at reduced capacity: " + why, nil
}

func (b *balanced) prepare() farm.Step {
	return farm.Step{
		ID:    Prepare,
		Undo:  b.undoPrepare,
		Title: "Prepare the release with the platform while every server serves: the first stage of a two-stage deployment (compile, SQL scripts, binaries uploaded to the front-ends; nothing running changes)",
		Describe: func(z *farm.Zone) []string {
			return []string{fmt.Sprintf("deploy %s up to prepared; %s and %s keep serving", b.releaseName(), names(z.Updating.Servers), names(z.Loaded.Servers))}
		},
		Run: func(ctx context.Context, r *farm.Run) error {
			if _, started := r.Captured().Value(CapturedDeploymentID); !started {
				done, err := b.startDeployment(ctx, r, groupServers(r.Farm(), farm.Updating), CapturedDeploymentID, true)
				if err != nil || done {
					return err
				}
			}
			id, _ := r.Captured().Value(CapturedDeploymentID)
			return b.followDeployment(ctx, r, id, CapturedDeploymentID, true)
		},
	}
}

// undoPrepare aborts the deployment prepare started, unless publish
// continued it: a prepared deployment changed nothing that runs, so
// aborting it is the whole undo. A deployment that ran to its end (a
// platform that is not two-stage after all) cannot be undone by aborting.
func (b *balanced) undoPrepare(ctx context.Context, r *farm.Run) error {
	id, ok := r.Captured().Value(CapturedDeploymentID)
	if !ok {
		return nil // never started, or it ended without the release
	}
	if _, continued := r.Captured().Value(CapturedDeploymentContinued); continued {
		return nil // publish's undo deploys the previous release again
	}
	st, err := b.cfg.Platform.DeploymentStatus(ctx, id)
	if err != nil {
		return fmt.Errorf("read deployment %s before aborting it: %w", id, err)
	}
	if st.State.Succeeded() {
		return fmt.Errorf("deployment %s ran to its end (%s) instead of stopping prepared: %w; it cannot be aborted: deploy the previous release with a new balanced run", id, st.State, ErrNotTwoStage)
	}
	if err := b.stopForwardDeployment(ctx, r); err != nil {
		return err
	}
	r.Captured().DeleteValue(CapturedDeploymentID)
	r.Emit(event.Event{Kind: event.Progress, Message: "prepared deployment " + id + " aborted; nothing running had changed"})
	return nil
}
