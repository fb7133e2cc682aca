package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
)

func TestUpstreamMembers(t *testing.T) {
	servers := []farm.Server{
		{Name: "fe01", Address: "10.0.0.1"},
		{Name: "fe02", Address: "2001:db8::2", Member: "m2"},
		{Name: "fe03"},
		{Name: "fe04", Address: "10.0.0.4"},
	}
	assert.Equal(t, []nginx.Member{
		{Name: "fe01", Address: "10.0.0.1:443"},
		{Name: "m2", Address: "[2001:db8::2]:443"},
		{Name: "fe03", Address: "fe03:443"},
		{Name: "fe04", Address: "10.9.9.9:8443"},
	}, upstreamMembers(servers, 443, map[string]string{"fe04": "10.9.9.9:8443"}))
	assert.Equal(t, []nginx.Member{{Name: "fe01", Address: "10.0.0.1"}, {Name: "m2", Address: "[2001:db8::2]"}},
		upstreamMembers(servers[:2], 0, nil))
}
