package nginx_test

import (
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIdentity(t *testing.T) {
	oss := func(file, upstream string) string {
		d, err := nginx.NewOSS(nginx.OSSConfig{File: file, Upstream: upstream, MainConfig: "/etc/nginx/nginx.conf", Members: []nginx.Member{{Name: "fe1", Address: "10.0.0.1:80"}}})
		require.NoError(t, err)
		return d.Identity()
	}
	assert.Equal(t, "nginx:/etc/nginx/conf.d/up.conf#app", oss("/etc/nginx/conf.d/up.conf", "app"))
	assert.NotEqual(t, oss("/etc/nginx/conf.d/up.conf", "app"), oss("/etc/nginx/conf.d/other.conf", "app"))

	plus, err := nginx.NewPlus(nginx.PlusConfig{Endpoint: "https://lb.internal/api", Upstream: "app", Username: "ops", Password: drivers.NewSecret("s3cret")})
	require.NoError(t, err)
	assert.Equal(t, "nginx-plus:https://lb.internal/api#app", plus.Identity())
	assert.NotContains(t, plus.Identity(), "s3cret")
}
