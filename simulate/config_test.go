package simulate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
)

func TestNewDefaults(t *testing.T) {
	sim, err := simulate.New(simulate.Config{})
	require.NoError(t, err)
	servers := sim.Servers()
	require.Len(t, servers, simulate.DefaultServers)
	assert.Equal(t, farm.Server{Name: "fe01", Member: "fe01", Zone: "default", DeploymentController: true, ProbeURL: "sim://fe01/"}, servers[0])
	assert.Equal(t, farm.Server{Name: "fe04", Member: "fe04", Zone: "default", ProbeURL: "sim://fe04/"}, servers[3])
	cfg := sim.Config()
	assert.Equal(t, simulate.DefaultInstallDuration, cfg.InstallDuration)
	assert.Equal(t, simulate.DefaultPublishDuration, cfg.PublishDuration)
	assert.Equal(t, farm.DefaultCapacityFloor, cfg.CapacityFloor)
	assert.Equal(t, "v1", cfg.InitialVersion)
	assert.Equal(t, []string{"default"}, sim.Zones())
	assert.Equal(t, "v1", sim.Schema())

	// The servers build a valid farm, the controller in Updating.
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers), LoadBalancer: sim.LoadBalancer("")})
	require.NoError(t, err)
	assert.Equal(t, []string{"fe01", "fe02"}, f.Zones()[0].Updating.Names())
}

func TestNewNegativeDurationsMeanNone(t *testing.T) {
	sim, err := simulate.New(simulate.Config{InstallDuration: -1, HealthCheckDelay: -1, ServiceLatency: -1, CapacityFloor: -1})
	require.NoError(t, err)
	cfg := sim.Config()
	assert.Zero(t, cfg.InstallDuration)
	assert.Zero(t, cfg.HealthCheckDelay)
	assert.Zero(t, cfg.ServiceLatency)
	assert.Zero(t, cfg.CapacityFloor)
}

func TestNewZonesAndNames(t *testing.T) {
	sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{
		{Servers: 2}, {Name: "eu", Names: []string{"web-a", "web-b", "web-c"}}, {Servers: 1},
	}, Controller: "web-b"})
	require.NoError(t, err)
	assert.Equal(t, []string{"zone1", "eu", "zone3"}, sim.Zones())
	var names []string
	for _, s := range sim.Servers() {
		names = append(names, s.Zone+"/"+s.Name)
		assert.Equal(t, s.Name == "web-b", s.DeploymentController)
	}
	assert.Equal(t, []string{"zone1/fe01", "zone1/fe02", "eu/web-a", "eu/web-b", "eu/web-c", "zone3/fe03"}, names)
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  simulate.Config
		want error
		text string
	}{
		{"hostile server name", simulate.Config{Zones: []simulate.ZoneConfig{{Names: []string{"fe01", "fe02'; Stop-Computer"}}}},
			drivers.ErrInvalidArgument, `"fe02'; Stop-Computer"`},
		{"newline in name", simulate.Config{Zones: []simulate.ZoneConfig{{Names: []string{"fe01\nset server"}}}}, drivers.ErrInvalidArgument, "server name"},
		{"empty name", simulate.Config{Zones: []simulate.ZoneConfig{{Names: []string{""}}}}, drivers.ErrInvalidArgument, `""`},
		{"hostile zone", simulate.Config{Zones: []simulate.ZoneConfig{{Name: "eu;rm -rf"}}}, drivers.ErrInvalidArgument, `"eu;rm -rf"`},
		{"duplicate server", simulate.Config{Zones: []simulate.ZoneConfig{{Names: []string{"a"}}, {Names: []string{"a"}}}}, drivers.ErrInvalidArgument, "a is used twice"},
		{"duplicate zone", simulate.Config{Zones: []simulate.ZoneConfig{{Name: "z"}, {Name: "z"}}}, drivers.ErrInvalidArgument, "zone z is used twice"},
		{"negative servers", simulate.Config{Zones: []simulate.ZoneConfig{{Servers: -2}}}, drivers.ErrInvalidArgument, "-2 servers"},
		{"unknown controller", simulate.Config{Controller: "fe09"}, drivers.ErrNotFound, `"fe09"`},
		{"floor above one", simulate.Config{CapacityFloor: 1.5}, drivers.ErrInvalidArgument, "1.5"},
		{"negative request duration", simulate.Config{Traffic: simulate.Traffic{Duration: -time.Second}}, drivers.ErrInvalidArgument, "-1s"},
		{"negative clients", simulate.Config{Traffic: simulate.Traffic{Clients: -1}}, drivers.ErrInvalidArgument, "-1 clients"},
		{"unknown initial service", simulate.Config{InitialServices: map[drivers.Service]drivers.ServiceState{"iis": {Run: drivers.Running, Startup: drivers.Automatic}}},
			drivers.ErrInvalidArgument, `"iis"`},
		{"running and disabled", simulate.Config{InitialServices: map[drivers.Service]drivers.ServiceState{drivers.SchedulerService: {Run: drivers.Running, Startup: drivers.Disabled}}},
			drivers.ErrInvalidArgument, "Disabled"},
		{"pending initial state", simulate.Config{InitialServices: map[drivers.Service]drivers.ServiceState{drivers.SchedulerService: {Run: drivers.StopPending, Startup: drivers.Manual}}},
			drivers.ErrInvalidArgument, "stop-pending"},
		{"negative scheduler interval", simulate.Config{SchedulerInterval: -1}, drivers.ErrInvalidArgument, "scheduler interval"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := simulate.New(tc.cfg)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			assert.ErrorContains(t, err, tc.text)
		})
	}
}

func TestConfigScaled(t *testing.T) {
	c, err := simulate.Config{HealthCheckDelay: -1, CapacityFloor: -1, Traffic: simulate.Traffic{Rate: 30}}.Scaled(0.01)
	require.NoError(t, err)
	sim, err := simulate.New(c)
	require.NoError(t, err)
	got := sim.Config()
	assert.Equal(t, 1200*time.Millisecond, got.InstallDuration)
	assert.Equal(t, 600*time.Millisecond, got.PublishDuration)
	assert.Equal(t, 2*time.Millisecond, got.ServiceLatency)
	assert.Equal(t, 2*time.Millisecond, got.Traffic.Duration)
	assert.Equal(t, 300*time.Millisecond, got.SchedulerInterval)
	assert.Zero(t, got.HealthCheckDelay, "none stays none")
	assert.Zero(t, got.LoadBalancerLatency, "none stays none")
	assert.Equal(t, 30.0, got.Traffic.Rate)
	assert.Zero(t, got.CapacityFloor, "disabled stays disabled")
	for _, f := range []float64{0, -1, 2} {
		_, err := simulate.Config{}.Scaled(f)
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument, "%v", f)
	}
	_, err = simulate.Config{Controller: "nope"}.Scaled(0.5)
	assert.ErrorIs(t, err, drivers.ErrNotFound)
}
