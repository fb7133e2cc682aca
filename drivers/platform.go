package drivers

import (
	"context"
	"time"
)

// Application is one application of a release, at the version to deploy.
type Application struct {
	// Name is the application's name as the platform shows it.
	Name string `json:"name"`
	// Version is the application version to deploy.
	Version string `json:"version"`
}

// Release is what the platform deploys: a set of application versions. The
// engine compares Version with what a [Prober] reports.
type Release struct {
	// Version identifies the release as the application reports it.
	Version string `json:"version"`
	// Applications lists the application versions in the release. A
	// platform without per-application deployment may ignore it.
	Applications []Application `json:"applications,omitempty"`
	// Notes is free text attached to the deployment (the change ticket).
	Notes string `json:"notes,omitempty"`
}

// DeploymentState is where a platform deployment stands.
type DeploymentState string

// Deployment states, modelled on the LifeTime Deployment API.
const (
	DeploymentSaved                 DeploymentState = "saved"
	DeploymentRunning               DeploymentState = "running"
	DeploymentNeedsUserIntervention DeploymentState = "needs_user_intervention"
	DeploymentAborting              DeploymentState = "aborting"
	DeploymentAborted               DeploymentState = "aborted"
	DeploymentSucceeded             DeploymentState = "finished_successful"
	DeploymentSucceededWithWarnings DeploymentState = "finished_with_warnings"
	DeploymentFailed                DeploymentState = "finished_with_errors"
	DeploymentForceFinished         DeploymentState = "force_finished"
)

// Done reports whether the deployment has ended, successfully or not.
func (s DeploymentState) Done() bool {
	switch s {
	case DeploymentAborted, DeploymentSucceeded, DeploymentSucceededWithWarnings, DeploymentFailed, DeploymentForceFinished:
		return true
	}
	return false
}

// Succeeded reports whether the deployment ended with the release deployed.
func (s DeploymentState) Succeeded() bool {
	return s == DeploymentSucceeded || s == DeploymentSucceededWithWarnings
}

// LogEntry is one line of a deployment's log.
type LogEntry struct {
	// Time is when the platform logged it.
	Time time.Time `json:"time"`
	// Type is Info, Warning or Error where the platform says, and empty
	// where it does not: LifeTime's log entries carry only a time and a
	// message (LifeTime Deployment API v2 Swagger, DeploymentMessage), so
	// nothing may depend on Type to find why a deployment failed.
	Type string `json:"type"`
	// Message is the log line.
	Message string `json:"message"`
}

// The Info values that qualify DeploymentNeedsUserIntervention, as the
// LifeTime Deployment API v2 documents them (GET
// /deployments/{Key}/status/).
const (
	InfoBusinessProcessImpact            = "business_process_impact"
	InfoNeedsConfigurationOrConfirmation = "needs_configuration_or_confirmation"
	InfoDeploymentSuspended              = "deployment_suspended"
	// InfoDeployPrepared and InfoDeploymentPrepared both mean a two-stage
	// deployment whose first stage is done and that waits to be
	// continued: the Deployment API docs spell it deploy_prepared,
	// OutSystems' own outsystems-pipeline client deployment_prepared.
	// [DeploymentStatus.Prepared] accepts both.
	InfoDeployPrepared     = "deploy_prepared"
	InfoDeploymentPrepared = "deployment_prepared"
)

// DeploymentStatus is what a [PlatformClient] reads back for a deployment.
type DeploymentStatus struct {
	// State is where the deployment stands.
	State DeploymentState `json:"state"`
	// Info qualifies DeploymentNeedsUserIntervention (for LifeTime:
	// business_process_impact, deploy_prepared or deployment_prepared,
	// needs_configuration_or_confirmation, deployment_suspended).
	Info string `json:"info,omitempty"`
	// Log is the deployment's log so far, oldest first.
	Log []LogEntry `json:"log,omitempty"`
}

// Prepared reports whether the deployment is a prepared two-stage
// deployment waiting to be continued: DeploymentNeedsUserIntervention with
// Info [InfoDeployPrepared] or [InfoDeploymentPrepared].
func (s DeploymentStatus) Prepared() bool {
	return s.State == DeploymentNeedsUserIntervention && (s.Info == InfoDeployPrepared || s.Info == InfoDeploymentPrepared)
}

// LastMessages returns the messages of the last n log lines, oldest first,
// whatever their Type: on a platform whose log has no types (LifeTime),
// the last lines are where the reason for a failure is.
func (s DeploymentStatus) LastMessages(n int) []string {
	var msgs []string
	for _, e := range s.Log[max(0, len(s.Log)-n):] {
		if e.Message != "" {
			msgs = append(msgs, e.Message)
		}
	}
	return msgs
}

// PlatformClient deploys releases through the platform's deployment service
// (OutSystems LifeTime).
type PlatformClient interface {
	// StartDeployment creates and starts the deployment of rel and returns
	// its identifier. The call does not wait for the deployment to finish.
	StartDeployment(ctx context.Context, rel Release) (id string, err error)
	// DeploymentStatus reads where the deployment stands.
	DeploymentStatus(ctx context.Context, id string) (DeploymentStatus, error)
}

// DeployedReleaseReader is an optional capability of a [PlatformClient]: it
// reads the release deployed now, which a rollback deploys again.
type DeployedReleaseReader interface {
	DeployedRelease(ctx context.Context) (Release, error)
}

// DeploymentAborter is an optional capability of a [PlatformClient]: it aborts
// a running deployment while the platform still accepts that.
type DeploymentAborter interface {
	AbortDeployment(ctx context.Context, id string) error
}

// DeploymentContinuer is an optional capability of a [PlatformClient]: it
// continues a deployment that waits in DeploymentNeedsUserIntervention (for
// example a prepared two-step deployment).
type DeploymentContinuer interface {
	ContinueDeployment(ctx context.Context, id string) error
}

// DeploymentPreparer is an optional capability of a [PlatformClient]: it
// says whether the deployments it starts run in two stages. OutSystems
// documents LifeTime's two-stage deployment ("Deploy in a Short Deployment
// Window"): the first stage compiles the applications, generates the SQL
// scripts and uploads the binaries to the front-ends "but there are no
// changes in the running versions"; the deployment then waits, prepared
// (DeploymentNeedsUserIntervention with [DeploymentStatus.Prepared]), until
// it is continued ([DeploymentContinuer]); the second stage runs the SQL
// scripts and changes the running versions. Whether an environment does
// this is a setting of the environment ("Execute deployments in two
// stages"), not of a deployment.
type DeploymentPreparer interface {
	// TwoStage reports whether a deployment started now stops prepared
	// after its first stage. It calls nothing: it says what the client
	// knows of its target (for LifeTime, what its configuration declares,
	// since the Deployment API neither reads nor sets the setting).
	TwoStage() bool
}

// DeploymentFinder is an optional capability of a [PlatformClient]: it finds
// the platform's deployment of a release that was started and has not ended
// (running, or waiting for user intervention), so that a run which lost the
// ID of the deployment it started (a crash between the platform's answer and
// the journal's record of it) follows that deployment instead of starting a
// second one.
type DeploymentFinder interface {
	// FindDeployment returns the ID of the newest deployment of rel, to the
	// target the client deploys to, that is running or waiting for user
	// intervention; found is false, with a nil error, when there is none.
	FindDeployment(ctx context.Context, rel Release) (id string, found bool, err error)
}
