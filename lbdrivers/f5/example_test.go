package f5_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/f5/f5test"
)

// Drain a pool member, then take it out, on a fake BIG-IP. Against a real
// device, set BaseURL to its management address and leave HTTPClient nil
// (set CACert if the device uses a private CA).
func Example() {
	store := f5test.NewMemStore("10.0.0.1:80", "10.0.0.2:80")
	bigip := httptest.NewTLSServer(f5test.New(f5test.Config{Password: "s3cret", Pool: "web", Store: store}))
	defer bigip.Close()

	lb, err := f5.New(f5.Config{
		BaseURL:    bigip.URL,
		Username:   "admin",
		Password:   drivers.NewSecret("s3cret"),
		Pool:       "web",
		HTTPClient: bigip.Client(), // trusts the fake's certificate
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	store.SetConns("10.0.0.1:80", 2) // two connections still open
	if err := lb.SetState(ctx, drivers.Draining, "10.0.0.1:80"); err != nil {
		fmt.Println(err)
		return
	}
	st, _ := lb.Status(ctx)
	for _, m := range st {
		fmt.Println(m.Member, m.State, m.Health, m.ActiveConnections)
	}
	store.SetConns("10.0.0.1:80", 0)
	_ = lb.SetState(ctx, drivers.Out, "10.0.0.1:80")
	st, _ = lb.Status(ctx, "10.0.0.1:80")
	fmt.Println(st[0].Member, st[0].State)
	// Output:
	// 10.0.0.1:80 draining healthy 2
	// 10.0.0.2:80 serving healthy 0
	// 10.0.0.1:80 out
}
