package haproxy_test

import (
	"testing"

	"github.com/balanced-deploy/balanced/lbdrivers/haproxy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdentityNamesSocketAndBackend(t *testing.T) {
	id := func(cfg haproxy.Config) string {
		d, err := haproxy.New(cfg)
		require.NoError(t, err)
		return d.Identity()
	}
	a := id(haproxy.Config{Network: "unix", Address: "/run/haproxy/admin.sock", Backend: "app"})
	assert.Equal(t, "haproxy:unix:/run/haproxy/admin.sock#app", a)
	assert.Equal(t, a, id(haproxy.Config{Network: "unix", Address: "/run/haproxy/admin.sock", Backend: "app", Members: []string{"fe1"}}), "members do not change the load balancer")
	assert.NotEqual(t, a, id(haproxy.Config{Network: "unix", Address: "/run/other/admin.sock", Backend: "app"}))
	assert.NotEqual(t, a, id(haproxy.Config{Network: "unix", Address: "/run/haproxy/admin.sock", Backend: "api"}))
}
