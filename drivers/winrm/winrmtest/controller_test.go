package winrmtest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
)

// memController is a minimal drivers.ServiceController keyed by target name.
type memController struct {
	mu     sync.Mutex
	states map[string]map[drivers.Service]drivers.ServiceState
	deny   bool
}

func (m *memController) get(t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	if m.deny {
		return drivers.ServiceState{}, fmt.Errorf("%w: no rights", drivers.ErrPermissionDenied)
	}
	st, ok := m.states[t.Name][svc]
	if !ok {
		return st, fmt.Errorf("%w: %s on %s", drivers.ErrNotFound, svc, t.Name)
	}
	return st, nil
}

func (m *memController) StopService(_ context.Context, t drivers.Target, svc drivers.Service) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.get(t, svc); err != nil {
		return err
	}
	m.states[t.Name][svc] = drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}
	return nil
}

func (m *memController) RestoreService(_ context.Context, t drivers.Target, svc drivers.Service, want drivers.ServiceState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.get(t, svc); err != nil {
		return err
	}
	m.states[t.Name][svc] = want
	return nil
}

func (m *memController) ServiceState(_ context.Context, t drivers.Target, svc drivers.Service) (drivers.ServiceState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.get(t, svc)
}

func TestControllerServicesBehindTheDriver(t *testing.T) {
	ctrl := &memController{states: map[string]map[drivers.Service]drivers.ServiceState{
		"fe01": {drivers.SchedulerService: {Run: drivers.Running, Startup: drivers.Automatic}},
		"fe02": {drivers.SchedulerService: {Run: drivers.Running, Startup: drivers.Manual}},
	}}
	addrs := map[string]string{}
	for _, host := range []string{"fe01", "fe02"} {
		srv := winrmtest.NewServer(winrmtest.Config{Host: host, Services: winrmtest.ControllerServices{Controller: ctrl}, Username: "u", Password: "p"})
		defer srv.Close()
		addrs[host] = srv.Addr()
	}
	drv, err := winrm.New(winrm.Config{PlainHTTP: true, Username: "u", Password: drivers.NewSecret("p"), Timeout: 5 * time.Second})
	require.NoError(t, err)
	ctx := context.Background()
	fe01 := drivers.Target{Name: "fe01", Address: addrs["fe01"]}
	fe02 := drivers.Target{Name: "fe02", Address: addrs["fe02"]}

	require.NoError(t, drv.StopService(ctx, fe01, drivers.SchedulerService))
	s1, _ := ctrl.ServiceState(ctx, drivers.Target{Name: "fe01"}, drivers.SchedulerService)
	assert.Equal(t, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}, s1)
	s2, _ := ctrl.ServiceState(ctx, drivers.Target{Name: "fe02"}, drivers.SchedulerService)
	assert.Equal(t, drivers.Running, s2.Run, "hosts are separate")

	want := drivers.ServiceState{Run: drivers.Running, Startup: drivers.AutomaticDelayedStart}
	require.NoError(t, drv.RestoreService(ctx, fe01, drivers.SchedulerService, want))
	st, err := drv.ServiceState(ctx, fe01, drivers.SchedulerService)
	require.NoError(t, err)
	assert.Equal(t, want, st)

	_, err = drv.ServiceState(ctx, fe02, drivers.DeploymentService)
	require.ErrorIs(t, err, drivers.ErrNotFound)

	ctrl.mu.Lock()
	ctrl.deny = true
	ctrl.mu.Unlock()
	_, err = drv.ServiceState(ctx, fe02, drivers.SchedulerService)
	require.ErrorIs(t, err, drivers.ErrPermissionDenied)
}
