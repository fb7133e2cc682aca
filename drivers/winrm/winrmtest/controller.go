package winrmtest

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/balanced-deploy/balanced/drivers"
)

// ServiceName is the key name and display name of the Windows service that
// plays one role.
type ServiceName struct {
	Name, DisplayName string
}

// ControllerServices adapts any drivers.ServiceController, for example a
// simulated farm's, to Services, so that a fake server per host puts real
// WinRM driver code in front of it. The host a server passes becomes the
// target's Name.
type ControllerServices struct {
	// Controller holds the services' state.
	Controller drivers.ServiceController
	// Names maps each role to its Windows names. Nil means the OutSystems
	// display names, used as key names too.
	Names map[drivers.Service]ServiceName
}

var _ Services = ControllerServices{}

func (c ControllerServices) names() map[drivers.Service]ServiceName {
	if c.Names != nil {
		return c.Names
	}
	return map[drivers.Service]ServiceName{
		drivers.SchedulerService:            {"OutSystems Scheduler Service", "OutSystems Scheduler Service"},
		drivers.DeploymentService:           {"OutSystems Deployment Service", "OutSystems Deployment Service"},
		drivers.DeploymentControllerService: {"OutSystems Deployment Controller Service", "OutSystems Deployment Controller Service"},
	}
}

// role finds the role whose key name is key.
func (c ControllerServices) role(key string) (drivers.Service, bool) {
	for role, n := range c.names() {
		if strings.EqualFold(n.Name, key) {
			return role, true
		}
	}
	return "", false
}

// mapErr turns a permission error into ErrAccessDenied, so the fake answers
// as PowerShell does.
func mapErr(err error) error {
	if errors.Is(err, drivers.ErrPermissionDenied) {
		return fmt.Errorf("%w: %w", ErrAccessDenied, err)
	}
	return err
}

// Find implements Services. A role the controller reports as not found on
// host is not there.
func (c ControllerServices) Find(host, name string) ([]Service, error) {
	var out []Service
	for role, n := range c.names() {
		if !strings.EqualFold(n.Name, name) && !strings.EqualFold(n.DisplayName, name) {
			continue
		}
		st, err := c.Controller.ServiceState(context.Background(), drivers.Target{Name: host}, role)
		if errors.Is(err, drivers.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, mapErr(err)
		}
		out = append(out, Service{Name: n.Name, DisplayName: n.DisplayName, Run: st.Run, Startup: st.Startup})
	}
	return out, nil
}

// Stop implements Services.
func (c ControllerServices) Stop(host, key string) error {
	role, ok := c.role(key)
	if !ok {
		return fmt.Errorf("Cannot find any service with service name '%s'.", key) //nolint:staticcheck // PowerShell's own message
	}
	return mapErr(c.Controller.StopService(context.Background(), drivers.Target{Name: host}, role))
}

// Restore implements Services.
func (c ControllerServices) Restore(host, key string, want drivers.ServiceState) error {
	role, ok := c.role(key)
	if !ok {
		return fmt.Errorf("Cannot find any service with service name '%s'.", key) //nolint:staticcheck // PowerShell's own message
	}
	return mapErr(c.Controller.RestoreService(context.Background(), drivers.Target{Name: host}, role, want))
}
