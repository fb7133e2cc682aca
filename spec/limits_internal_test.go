package spec

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/balanced-deploy/balanced/farm"
)

// TestPlanConfigLimits checks that the limits block reaches the engine.
func TestPlanConfigLimits(t *testing.T) {
	s := &Spec{Concurrency: 8, Limits: Limits{Host: 1, LoadBalancer: 3, Platform: 16}}
	cfg := s.planConfig(Drivers{})
	assert.Equal(t, farm.Limits{Host: 1, LoadBalancer: 3, Platform: 16}, cfg.Limits)
	assert.Equal(t, 8, cfg.Concurrency)
	assert.Equal(t, farm.Limits{}, (&Spec{}).planConfig(Drivers{}).Limits, "absent: the engine's defaults")
}
