package winrm_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivertest"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
)

// TestConformance runs the ServiceController conformance suite against the
// driver over two fake WinRM hosts in their stock configuration (NTLM over
// HTTPS). fe02 has no Deployment Controller service. Each subtest gets a new
// driver and the services' initial states back.
func TestConformance(t *testing.T) {
	svcs := &winrmtest.MapServices{}
	reset := func() {
		for _, host := range []string{"fe01", "fe02"} {
			svcs.Add(host, winrmtest.Service{Name: "OutSystems Scheduler", DisplayName: "OutSystems Scheduler Service", Run: drivers.Running, Startup: drivers.Automatic})
			svcs.Add(host, winrmtest.Service{Name: "OutSystems Deployment Service", DisplayName: "OutSystems Deployment Service", Run: drivers.Running, Startup: drivers.Automatic})
		}
		svcs.Add("fe01", winrmtest.Service{Name: "OutSystems Deployment Controller", DisplayName: "OutSystems Deployment Controller Service", Run: drivers.Running, Startup: drivers.Automatic})
	}
	var targets []drivers.Target
	var ca []byte
	for _, host := range []string{"fe02", "fe01"} {
		srv := winrmtest.NewServer(winrmtest.Config{Host: host, Services: svcs, Username: testUser, Password: testPassword, TLS: true})
		t.Cleanup(srv.Close)
		targets = append(targets, drivers.Target{Name: host, Address: srv.Addr()})
		ca = append(ca, srv.CACertPEM()...)
	}
	drivertest.RunServiceController(t, drivertest.ServiceControllerHarness{
		New: func(t *testing.T) drivers.ServiceController {
			reset()
			d, err := winrm.New(winrm.Config{CACert: ca, Username: testUser, Password: drivers.NewSecret(testPassword), Timeout: 5 * time.Second})
			require.NoError(t, err)
			return d
		},
		Targets: targets,
		Missing: drivers.DeploymentControllerService,
	})
}
