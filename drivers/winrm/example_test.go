package winrm_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/winrm"
	"github.com/balanced-deploy/balanced/drivers/winrm/winrmtest"
)

// Stop the Scheduler on a front-end, then put back the state read before.
// A fake WinRM server on loopback stands in for the Windows server.
func Example() {
	svcs := &winrmtest.MapServices{}
	svcs.Add("fe01", winrmtest.Service{Name: "OutSystems Scheduler", DisplayName: "OutSystems Scheduler Service",
		Run: drivers.Running, Startup: drivers.Automatic})
	srv := winrmtest.NewServer(winrmtest.Config{Host: "fe01", Services: svcs, Username: `CORP\deployer`, Password: "pw", TLS: true})
	defer srv.Close()

	// The defaults: Negotiate (NTLM) over HTTPS, certificate verified.
	drv, err := winrm.New(winrm.Config{
		CACert:   srv.CACertPEM(), // the fake's self-signed certificate; omit for a CA the system trusts
		Username: `CORP\deployer`,
		Password: drivers.NewSecret("pw"), // in real code: read from a vault, never from source
		Timeout:  30 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	// In a real farm Address is the server's host name; the fake listens on
	// 127.0.0.1:<port>, so the port travels with the address.
	fe01 := drivers.Target{Name: "fe01", Address: srv.Addr()}
	ctx := context.Background()

	before, err := drv.ServiceState(ctx, fe01, drivers.SchedulerService)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("before:", before.Run, before.Startup)

	if err := drv.StopService(ctx, fe01, drivers.SchedulerService); err != nil {
		log.Fatal(err)
	}
	during, _ := drv.ServiceState(ctx, fe01, drivers.SchedulerService)
	fmt.Println("during:", during.Run, during.Startup)

	if err := drv.RestoreService(ctx, fe01, drivers.SchedulerService, before); err != nil {
		log.Fatal(err)
	}
	after, _ := drv.ServiceState(ctx, fe01, drivers.SchedulerService)
	fmt.Println("after:", after.Run, after.Startup)
	// Output:
	// before: running Automatic
	// during: stopped Disabled
	// after: running Automatic
}
