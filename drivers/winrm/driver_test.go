package winrm_test

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
)

const (
	testUser     = "deployer"
	testPassword = "s3cr3t-Pa55word!"
	testHost     = "fe01"
)

// fixture is a fake server with the three OutSystems services and a driver
// pointed at it.
type fixture struct {
	srv    *winrmtest.Server
	svcs   *winrmtest.MapServices
	drv    *winrm.Driver
	target drivers.Target
	logs   *bytes.Buffer
}

func newFixture(t *testing.T, mutate func(*winrm.Config)) *fixture {
	t.Helper()
	svcs := &winrmtest.MapServices{}
	svcs.Add(testHost, winrmtest.Service{Name: "OutSystems Scheduler", DisplayName: "OutSystems Scheduler Service", Run: drivers.Running, Startup: drivers.Automatic})
	svcs.Add(testHost, winrmtest.Service{Name: "OutSystems Deployment Service", DisplayName: "OutSystems Deployment Service", Run: drivers.Running, Startup: drivers.Automatic})
	svcs.Add(testHost, winrmtest.Service{Name: "OutSystems Deployment Controller", DisplayName: "OutSystems Deployment Controller Service", Run: drivers.Stopped, Startup: drivers.Manual})
	// A stock host: Negotiate only, no Basic, no unencrypted messages; the
	// driver's zero-value defaults (Negotiate over verified HTTPS).
	srv := winrmtest.NewServer(winrmtest.Config{Host: testHost, Services: svcs, Username: testUser, Password: testPassword, TLS: true})
	t.Cleanup(srv.Close)
	logs := &bytes.Buffer{}
	cfg := winrm.Config{
		CACert:   srv.CACertPEM(),
		Username: testUser,
		Password: drivers.NewSecret(testPassword),
		Timeout:  5 * time.Second,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	drv, err := winrm.New(cfg)
	require.NoError(t, err)
	return &fixture{srv: srv, svcs: svcs, drv: drv, logs: logs,
		target: drivers.Target{Name: testHost, Address: srv.Addr()}}
}

func (f *fixture) assertOnlyRecognised(t *testing.T) {
	t.Helper()
	assert.Empty(t, f.srv.Unrecognised(), "the fake received a command that is not one of the driver's scripts")
}

func TestStopServiceDisablesAndStops(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()

	require.NoError(t, f.drv.StopService(ctx, f.target, drivers.SchedulerService))

	got, ok := f.svcs.Get(testHost, "OutSystems Scheduler")
	require.True(t, ok)
	assert.Equal(t, drivers.Stopped, got.Run)
	assert.Equal(t, drivers.Disabled, got.Startup)
	other, _ := f.svcs.Get(testHost, "OutSystems Deployment Service")
	assert.Equal(t, drivers.Running, other.Run, "only the named service may change")

	scripts := f.srv.Scripts()
	require.Len(t, scripts, 1)
	assert.Equal(t, winrmtest.OpStop, scripts[0].Op)
	assert.Equal(t, "OutSystems Scheduler Service", scripts[0].Name)
	f.assertOnlyRecognised(t)
	assert.Zero(t, f.srv.OpenShells(), "the driver must delete its shell")

	// Idempotent: stopping a stopped, disabled service succeeds.
	require.NoError(t, f.drv.StopService(ctx, f.target, drivers.SchedulerService))
}

func TestRestoreService(t *testing.T) {
	tests := []struct {
		name string
		svc  drivers.Service
		key  string
		want drivers.ServiceState
	}{
		{"automatic running", drivers.SchedulerService, "OutSystems Scheduler", drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}},
		{"manual stopped", drivers.DeploymentService, "OutSystems Deployment Service", drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Manual}},
		{"delayed running", drivers.DeploymentControllerService, "OutSystems Deployment Controller", drivers.ServiceState{Run: drivers.Running, Startup: drivers.AutomaticDelayedStart}},
		{"disabled stopped", drivers.SchedulerService, "OutSystems Scheduler", drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Disabled}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			ctx := context.Background()
			require.NoError(t, f.drv.StopService(ctx, f.target, tt.svc))

			require.NoError(t, f.drv.RestoreService(ctx, f.target, tt.svc, tt.want))

			got, _ := f.svcs.Get(testHost, tt.key)
			assert.Equal(t, tt.want.Run, got.Run)
			assert.Equal(t, tt.want.Startup, got.Startup)
			st, err := f.drv.ServiceState(ctx, f.target, tt.svc)
			require.NoError(t, err)
			assert.Equal(t, tt.want, st)
			scripts := f.srv.Scripts()
			require.Len(t, scripts, 3)
			assert.Equal(t, []winrmtest.Op{winrmtest.OpStop, winrmtest.OpRestore, winrmtest.OpState},
				[]winrmtest.Op{scripts[0].Op, scripts[1].Op, scripts[2].Op})
			f.assertOnlyRecognised(t)
		})
	}
}

func TestRestoreServiceRefusesBadWant(t *testing.T) {
	f := newFixture(t, nil)
	for _, want := range []drivers.ServiceState{
		{Run: drivers.Running, Startup: drivers.Disabled},
		{Run: drivers.StartPending, Startup: drivers.Automatic},
		{Run: drivers.Running, Startup: "Boot"},
		{},
	} {
		err := f.drv.RestoreService(context.Background(), f.target, drivers.SchedulerService, want)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, "want %+v", want)
	}
	assert.Empty(t, f.srv.Scripts(), "nothing may be sent for a refused argument")
}

func TestServiceState(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()

	st, err := f.drv.ServiceState(ctx, f.target, drivers.SchedulerService)
	require.NoError(t, err)
	assert.Equal(t, drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}, st)

	st, err = f.drv.ServiceState(ctx, f.target, drivers.DeploymentControllerService)
	require.NoError(t, err)
	assert.Equal(t, drivers.ServiceState{Run: drivers.Stopped, Startup: drivers.Manual}, st)

	f.svcs.Add(testHost, winrmtest.Service{Name: "OutSystems Scheduler", DisplayName: "OutSystems Scheduler Service", Run: drivers.StopPending, Startup: drivers.Disabled})
	st, err = f.drv.ServiceState(ctx, f.target, drivers.SchedulerService)
	require.NoError(t, err)
	assert.Equal(t, drivers.ServiceState{Run: drivers.StopPending, Startup: drivers.Disabled}, st)
	f.assertOnlyRecognised(t)
}

func TestServiceNamesByKeyName(t *testing.T) {
	f := newFixture(t, func(c *winrm.Config) {
		c.ServiceNames = map[drivers.Service]string{drivers.SchedulerService: "outsystems scheduler"}
	})
	require.NoError(t, f.drv.StopService(context.Background(), f.target, drivers.SchedulerService))
	got, _ := f.svcs.Get(testHost, "OutSystems Scheduler")
	assert.Equal(t, drivers.Disabled, got.Startup, "a key name matches too, ignoring case as WQL does")
}

// TestRestoreDelayedStartExactly restores a service captured as Automatic
// (Delayed Start) and one captured as Automatic over a delayed one: the
// scripts must use sc.exe start= delayed-auto and start= auto, because
// Set-Service -StartupType Automatic keeps the delayed flag on PowerShell 5.1
// and cannot set it at all before PowerShell 6.
func TestRestoreDelayedStartExactly(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	key := "OutSystems Scheduler"
	f.svcs.Add(testHost, winrmtest.Service{Name: key, DisplayName: "OutSystems Scheduler Service", Run: drivers.Running, Startup: drivers.AutomaticDelayedStart})
	before, err := f.drv.ServiceState(ctx, f.target, drivers.SchedulerService)
	require.NoError(t, err)
	require.Equal(t, drivers.AutomaticDelayedStart, before.Startup)

	require.NoError(t, f.drv.StopService(ctx, f.target, drivers.SchedulerService))
	require.NoError(t, f.drv.RestoreService(ctx, f.target, drivers.SchedulerService, before))
	got, _ := f.svcs.Get(testHost, key)
	assert.Equal(t, drivers.AutomaticDelayedStart, got.Startup)

	auto := drivers.ServiceState{Run: drivers.Running, Startup: drivers.Automatic}
	require.NoError(t, f.drv.RestoreService(ctx, f.target, drivers.SchedulerService, auto))
	got, _ = f.svcs.Get(testHost, key)
	assert.Equal(t, drivers.Automatic, got.Startup, "restoring Automatic clears delayed start")
	f.assertOnlyRecognised(t)
	for _, sc := range f.srv.Scripts() {
		assert.NotContains(t, sc.Text, "::new(", "PowerShell 4 has no ::new()")
	}
}
