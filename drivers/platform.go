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
	// Type is Info, Warning or Error.
	Type string `json:"type"`
	// Message is the log line.
	Message string `json:"message"`
}

// DeploymentStatus is what a [PlatformClient] reads back for a deployment.
type DeploymentStatus struct {
	// State is where the deployment stands.
	State DeploymentState `json:"state"`
	// Info qualifies DeploymentNeedsUserIntervention (for LifeTime:
	// business_process_impact, deployment_prepared,
	// needs_configuration_or_confirmation, deployment_suspended).
	Info string `json:"info,omitempty"`
	// Log is the deployment's log so far, oldest first.
	Log []LogEntry `json:"log,omitempty"`
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
