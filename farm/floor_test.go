package farm_test

import (
	"testing"

	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"
)

// TestNewChecksBothGroupsAgainstTheFloor: each group carries its zone alone
// once (Loaded while Updating installs, Updating after the switch until the
// Loaded group is back), so both must hold the capacity floor.
func TestNewChecksBothGroupsAgainstTheFloor(t *testing.T) {
	lb := drivermock.NewMockLoadBalancer(gomock.NewController(t)) // no calls expected
	list := servers(4)
	for _, tc := range []struct {
		name             string
		updating, loaded []farm.Server
		floor            float64
		want             string
	}{
		{"1-of-4 Updating group", list[:1], list[1:], 0, "zone default: Updating group holds 1 of 4 servers (25%): want at least 33% (the capacity floor)"},
		{"1-of-4 Loaded group", list[:3], list[3:], 0, "zone default: Loaded group holds 1 of 4 servers (25%): want at least 33%"},
		{"2-of-4 Updating, floor 60%", list[:2], list[2:], 0.6, "zone default: Updating group holds 2 of 4 servers (50%): want at least 60%"},
		{"halves", list[:2], list[2:], 0, ""},
		{"1-of-4 Updating, floor disabled", list[:1], list[1:], -1, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := farm.New(farm.Config{LoadBalancer: lb, CapacityFloor: tc.floor,
				Zones: []farm.ZoneSpec{{Updating: tc.updating, Loaded: tc.loaded}}})
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, farm.ErrInvalidFarm)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
