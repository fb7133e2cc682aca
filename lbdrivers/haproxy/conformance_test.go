package haproxy_test

import (
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/internal/httpfarm"
	"github.com/balanced-deploy/balanced/lbdrivers/lbtest"
)

// TestConformance runs the load-balancer conformance suite against a real
// HAProxy (a fresh process per subtest) in front of real HTTP backends.
func TestConformance(t *testing.T) {
	httpfarm.Binary(t, "haproxy")
	f := httpfarm.New(t, httpfarm.Config{Backends: 4})
	var current *realHAProxy
	lbtest.Run(t, lbtest.Harness{
		New: func(t *testing.T) drivers.LoadBalancer {
			current = startHAProxy(t, f.Backends())
			return current.Driver
		},
		Members: []string{"fe1", "fe2", "fe3", "fe4"},
		Hold: func(t *testing.T, member string) func() {
			return hold(t, current, f, member)
		},
		UnknownChangesNothing: true,
	})
}
