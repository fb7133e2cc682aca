package spec_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/spec"
	"github.com/balanced-deploy/balanced/steps"
)

// withPlatformKeys adds lines to the base spec's platform block.
func withPlatformKeys(lines string) string {
	return strings.Replace(base, "  target_environment: Production\n", "  target_environment: Production\n"+lines, 1)
}

// TestPrepareAtFullCapacityKeys: platform.two_stage reaches the LifeTime
// client (its plan prepares at full capacity), prepare_at_full_capacity
// off turns it off, and a bad value or require without two_stage is
// refused at its key.
func TestPrepareAtFullCapacityKeys(t *testing.T) {
	tests := []struct {
		name    string
		keys    string
		prepare bool
		err     string
	}{
		{"stock", "", false, ""},
		{"two_stage", "  two_stage: true\n", true, ""},
		{"two_stage, auto", "  two_stage: true\n  prepare_at_full_capacity: auto\n", true, ""},
		{"two_stage, require", "  two_stage: true\n  prepare_at_full_capacity: require\n", true, ""},
		{"two_stage, off", "  two_stage: true\n  prepare_at_full_capacity: off\n", false, ""},
		{"require without two_stage", "  prepare_at_full_capacity: require\n", false, "prepare_at_full_capacity require: two_stage is false"},
		{"unknown value", "  prepare_at_full_capacity: always\n", false, `prepare_at_full_capacity "always": want auto (the default), off or require`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parse(withPlatformKeys(tc.keys))
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			s.Journal = ""
			sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Name: "east", Servers: 4}}, Seed: 1})
			require.NoError(t, err)
			// The real LifeTime client, built from the spec (no call is
			// made while building); the simulator for the rest.
			_, plan, err := s.BuildWith(t.Context(), spec.Drivers{
				LoadBalancer: func(z string) drivers.LoadBalancer { return sim.LoadBalancer(z) },
				Services:     sim.Services(), Prober: sim.Prober(),
			})
			require.NoError(t, err)
			assert.Equal(t, tc.prepare, plan.StepIDs()[1] == steps.Prepare, "%v", plan.StepIDs())
		})
	}
}
