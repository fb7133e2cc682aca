package nginx_test

import (
	"fmt"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/lbtest"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/stretchr/testify/require"
)

// TestConformance runs the lbtest suite against the open-source driver in
// front of a real NGINX (one per subtest). Active connections are not known
// in this mode, so the suite skips those subtests as unimplemented.
func TestConformance(t *testing.T) {
	members := []nginx.Member{
		{Name: "fe1", Address: "127.0.0.1:1"},
		{Name: "fe2", Address: "127.0.0.1:2"},
		{Name: "fe3", Address: "127.0.0.1:3"},
		{Name: "fe4.example:8080", Address: "[::1]:4"},
	}
	lbtest.Run(t, lbtest.Harness{
		New: func(t *testing.T) drivers.LoadBalancer {
			var d *nginx.OSS
			startNginx(t, func(n *realNginx) {
				var err error
				d, err = nginx.NewOSS(n.ossConfig(members))
				require.NoError(t, err)
				require.NoError(t, d.Init(t.Context()))
			})
			return d
		},
		Members:               []string{"fe1", "fe2", "fe4.example:8080", "fe3"},
		UnknownChangesNothing: true,
	})
}

func ExampleNewOSS() {
	d, err := nginx.NewOSS(nginx.OSSConfig{
		File:       "/etc/nginx/balanced/frontends.conf", // included in nginx.conf's http block
		Upstream:   "frontends",
		Members:    []nginx.Member{{Name: "fe01", Address: "10.0.0.11:443"}, {Name: "fe02", Address: "10.0.0.12:443"}},
		Directives: []string{"zone frontends 64k", "keepalive 32"},
		MainConfig: "/etc/nginx/nginx.conf",
		PIDFile:    "/run/nginx.pid",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%T ready; call Init before NGINX first reads the file\n", d)
	// Output: *nginx.OSS ready; call Init before NGINX first reads the file
}
