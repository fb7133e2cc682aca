package winrm_test

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// TestBalancedDeploymentThroughWinRM runs the whole balanced procedure on a
// simulated farm, with every service call going through this driver, the
// WinRM wire protocol and one fake WinRM server per front-end, backed by the
// simulated farm's services. It runs in virtual time.
func TestBalancedDeploymentThroughWinRM(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		sim, err := simulate.New(simulate.Config{
			Zones:             []simulate.ZoneConfig{{Name: "east", Servers: 3}, {Name: "west", Servers: 2}},
			Seed:              7,
			PublishDuration:   time.Second,
			InstallDuration:   1500 * time.Millisecond,
			ServiceLatency:    20 * time.Millisecond,
			HealthCheckDelay:  200 * time.Millisecond,
			SchedulerInterval: 500 * time.Millisecond,
			Tick:              50 * time.Millisecond,
			Traffic:           simulate.Traffic{Rate: 50, Duration: 50 * time.Millisecond, MaxDuration: 300 * time.Millisecond, Clients: 10},
		})
		require.NoError(t, err)

		// One fake WinRM server per front-end, reached through Config.Dial.
		fakes := map[string]*winrmtest.Server{}
		for _, s := range sim.Servers() {
			srv := winrmtest.NewInMemoryServer(winrmtest.Config{
				Host: s.Name, Services: winrmtest.ControllerServices{Controller: sim.Services()},
				Username: testUser, Password: testPassword,
				// In-memory servers are plain HTTP and need Config.Dial, which the
				// encrypting transport cannot use: Basic over HTTP, enabled on purpose.
				AllowBasic: true, AllowUnencrypted: true,
			})
			defer srv.Close()
			fakes[s.Name] = srv
		}
		dial := func(network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if srv, ok := fakes[host]; ok && err == nil {
				return srv.Dial(network, addr)
			}
			return nil, &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
		drv, err := winrm.New(winrm.Config{PlainHTTP: true, Auth: winrm.AuthBasic, Username: testUser, Password: drivers.NewSecret(testPassword), Timeout: 30 * time.Second, Dial: dial})
		require.NoError(t, err)

		zones := farm.AutoSplit(sim.Servers())
		for i := range zones {
			zones[i].LoadBalancer = sim.LoadBalancer(zones[i].Name)
		}
		f, err := farm.New(farm.Config{Zones: zones})
		require.NoError(t, err)
		release := drivers.Release{Version: "v2"}
		plan, err := steps.Balanced(f, steps.Config{
			Services: drv, Platform: sim.Platform(), Prober: sim.Prober(), Release: release,
			PollInterval: 50 * time.Millisecond, DeployPollInterval: 100 * time.Millisecond,
			ConfirmDelay: 200 * time.Millisecond, DrainTimeout: 10 * time.Second, HealthTimeout: 10 * time.Second,
			PublishTimeout: 30 * time.Second, InstallTimeout: 30 * time.Second,
		})
		require.NoError(t, err)

		require.NoError(t, sim.Start(ctx))
		time.Sleep(300 * time.Millisecond)
		report, runErr := plan.Run(ctx)
		time.Sleep(300 * time.Millisecond)
		sim.Stop()

		require.NoError(t, runErr)
		assert.Empty(t, report.FailedStep)
		assert.Empty(t, report.Error)
		assert.Empty(t, sim.CheckEndState(release), "end state must be exact")
		res := sim.Report()
		assert.Empty(t, res.Violations)
		for _, z := range res.Zones {
			assert.Zero(t, z.Failed, "zone %s", z.Name)
			assert.Positive(t, z.Served, "zone %s", z.Name)
		}
		ops := map[winrmtest.Op]int{}
		for name, srv := range fakes {
			assert.Empty(t, srv.Unrecognised(), name)
			assert.Zero(t, srv.OpenShells(), name)
			for _, sc := range srv.Scripts() {
				ops[sc.Op]++
			}
		}
		assert.Positive(t, ops[winrmtest.OpStop], fmt.Sprint(ops))
		assert.Positive(t, ops[winrmtest.OpRestore], fmt.Sprint(ops))
		t.Logf("WinRM scripts run: %v", ops)
	})
}
