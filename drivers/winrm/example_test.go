package winrm_test

import (
	"context"
	"errors"
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

// Hold the farm lease on the Deployment Controller server while a run
// lives: a second orchestrator is told who holds it.
func ExampleDriver_AcquireLease() {
	srv := winrmtest.NewServer(winrmtest.Config{Host: "fe01", Username: `CORP\deployer`, Password: "pw", TLS: true})
	defer srv.Close()
	drv, err := winrm.New(winrm.Config{CACert: srv.CACertPEM(), Username: `CORP\deployer`, Password: drivers.NewSecret("pw")})
	if err != nil {
		log.Fatal(err)
	}
	dc := drivers.Target{Name: "fe01", Address: srv.Addr()}
	ctx := context.Background()
	holder := drivers.LeaseHolder{Host: "ops-1", PID: 4242, User: "alice", RunID: "run-1", Release: "2.4.0"}

	if _, err := drv.AcquireLease(ctx, dc, drivers.LeaseRequest{Farm: "farm-a", Holder: holder, TTL: time.Minute}); err != nil {
		log.Fatal(err)
	}
	other := drivers.LeaseHolder{Host: "ops-2", PID: 77, User: "bob", RunID: "run-2", Release: "2.5.0"}
	_, err = drv.AcquireLease(ctx, dc, drivers.LeaseRequest{Farm: "farm-a", Holder: other, TTL: time.Minute})
	var held *drivers.LeaseHeldError
	if errors.As(err, &held) {
		fmt.Println("held by", held.Lease.Holder)
	}
	if err := drv.ReleaseLease(ctx, dc, "farm-a", "run-1"); err != nil {
		log.Fatal(err)
	}
	_, ok, _ := drv.ReadLease(ctx, dc, "farm-a")
	fmt.Println("after release, held:", ok)
	// Output:
	// held by alice@ops-1 pid 4242 run run-1 (release 2.4.0)
	// after release, held: false
}
