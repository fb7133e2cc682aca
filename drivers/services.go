package drivers

import "context"

// Service names one of the platform's Windows services by its role. A
// [ServiceController] maps it to the real service name on the machine.
type Service string

// The OutSystems services the balanced procedure controls.
const (
	// SchedulerService runs timers (OutSystems Scheduler Service).
	SchedulerService Service = "scheduler"
	// DeploymentService installs application versions on a front-end
	// (OutSystems Deployment Service).
	DeploymentService Service = "deployment"
	// DeploymentControllerService compiles and coordinates deployments; it
	// runs on one server of the farm (OutSystems Deployment Controller
	// Service).
	DeploymentControllerService Service = "deployment-controller"
)

// RunState is whether a service is running.
type RunState string

// Run states. Pending states are transitional; the engine waits them out.
const (
	Running      RunState = "running"
	Stopped      RunState = "stopped"
	StartPending RunState = "start-pending"
	StopPending  RunState = "stop-pending"
)

// StartupType is a service's start mode.
type StartupType string

// Startup types, as Set-Service -StartupType names them.
const (
	Automatic             StartupType = "Automatic"
	AutomaticDelayedStart StartupType = "AutomaticDelayedStart"
	Manual                StartupType = "Manual"
	Disabled              StartupType = "Disabled"
)

// ServiceState is what a [ServiceController] reads back for one service.
type ServiceState struct {
	// Run is whether the service runs.
	Run RunState `json:"run"`
	// Startup is its start mode.
	Startup StartupType `json:"startup"`
}

// ServiceController stops, disables, restores and reads the platform's
// services on one server.
type ServiceController interface {
	// StopService sets svc's startup type on the target to Disabled, then
	// stops it, in that order: Windows refuses to start a Disabled service
	// (ERROR_SERVICE_DISABLED), so nothing can start it again between the
	// two (the balanced plan's short confirmation, steps.Config.ConfirmDelay,
	// relies on it). It returns once the service is stopped. Stopping a
	// stopped, disabled service succeeds.
	StopService(ctx context.Context, t Target, svc Service) error
	// RestoreService sets svc's startup type to want.Startup, then starts
	// the service if want.Run is Running or stops it if want.Run is Stopped.
	// It is how the engine puts back the state it captured before it began.
	RestoreService(ctx context.Context, t Target, svc Service, want ServiceState) error
	// ServiceState reads svc's run state and startup type. A service that
	// does not exist on the target is reported with [ErrNotFound].
	ServiceState(ctx context.Context, t Target, svc Service) (ServiceState, error)
}

// IdleReporter is an optional capability of a [ServiceController] or a
// [PlatformClient]: it tells whether the deployment service on a server has
// finished its work (the Service Center "Environment Health" view, where every
// deployment thread reads Idle or Sleeping).
type IdleReporter interface {
	// DeploymentIdle reports whether the deployment service on t has no
	// deployment work left.
	DeploymentIdle(ctx context.Context, t Target) (bool, error)
}
