package haproxy_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/haproxy"
)

// ExampleNew drains a member, waits for its sessions to end and takes it out.
// It needs a running HAProxy with an admin socket, so it is compiled but not
// run by go test (TestConformance and TestBalancedZeroDowntime run the same
// calls against a real haproxy).
func ExampleNew() {
	lb, err := haproxy.New(haproxy.Config{
		Address: "/run/haproxy/admin.sock", // stats socket ... level admin
		Backend: "outsystems",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lb.SetState(ctx, drivers.Draining, "fe1", "fe2"); err != nil {
		log.Fatal(err)
	}
	for {
		st, err := lb.Status(ctx, "fe1", "fe2")
		if err != nil {
			log.Fatal(err)
		}
		if st[0].ActiveConnections+st[1].ActiveConnections == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err := lb.SetState(ctx, drivers.Out, "fe1", "fe2"); err != nil {
		log.Fatal(err)
	}
}

// ExampleServerMap maps farm members to HAProxy server names; a name that
// could inject a Runtime API command is refused before anything is sent.
func ExampleServerMap() {
	lb, err := haproxy.New(haproxy.Config{
		Address:    "/run/haproxy/admin.sock",
		Backend:    "outsystems",
		ServerName: haproxy.ServerMap(map[string]string{"fe01.corp": "fe01", "fe02.corp": "bad;name"}),
	})
	if err != nil {
		log.Fatal(err)
	}
	err = lb.SetState(context.Background(), drivers.Out, "fe02.corp")
	fmt.Println(err)
	err = lb.SetState(context.Background(), drivers.Out, "fe03.corp")
	fmt.Println(err)
	// Output:
	// member "fe02.corp": invalid argument: server name "bad;name": character ';' at 3: want letters, digits, '-', '_', '.' or ':'
	// haproxy backend outsystems: member "fe03.corp": not found (no server name for it)
}
