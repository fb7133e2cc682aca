package farm_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/simulate"
)

func TestObserveMembers(t *testing.T) {
	sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Name: "a", Servers: 2}}, Seed: 1})
	require.NoError(t, err)
	var mu sync.Mutex
	var seen []event.Event
	obs := event.ObserverFunc(func(e event.Event) { mu.Lock(); seen = append(seen, e); mu.Unlock() })

	for _, tc := range []struct {
		name     string
		lb       drivers.LoadBalancer
		isSwitch bool
	}{{"switcher", sim.LoadBalancer("a"), true}, {"plain", sim.PlainLoadBalancer("a"), false}} {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			lb := farm.ObserveMembers(tc.lb, map[string]string{"fe01": "a", "fe02": "a"}, obs)
			_, isSw := lb.(drivers.Switcher)
			require.Equal(t, tc.isSwitch, isSw, "Switcher kept exactly when the driver has it")
			wantID, hasID := tc.lb.(drivers.Identifier)
			gotID, keptID := lb.(drivers.Identifier)
			require.Equal(t, hasID, keptID, "Identifier kept exactly when the driver has it")
			if hasID {
				assert.Equal(t, wantID.Identity(), gotID.Identity())
			}

			sts, err := lb.Status(t.Context(), "fe01", "fe02")
			require.NoError(t, err)
			require.NoError(t, lb.SetState(t.Context(), drivers.Draining, "fe01"))
			_, err = lb.Status(t.Context(), "nope")
			require.Error(t, err)
			require.ErrorIs(t, lb.SetState(t.Context(), drivers.Out, "nope"), drivers.ErrNotFound)
			want := 2
			if sw, ok := lb.(drivers.Switcher); ok {
				require.NoError(t, sw.Switch(t.Context(), []string{"fe01"}, []string{"fe02"}))
				want = 3
			}
			require.Len(t, seen, want, "one event per accepted call, none for errors")
			assert.Equal(t, event.MembersSeen, seen[0].Kind)
			assert.Equal(t, "a", seen[0].Zone)
			assert.Equal(t, sts, seen[0].Members)
			assert.Equal(t, []drivers.MemberStatus{{Member: "fe01", State: drivers.Draining, Health: drivers.HealthUnknown}}, seen[1].Members)
			if want == 3 {
				assert.Equal(t, []drivers.MemberStatus{
					{Member: "fe01", State: drivers.Serving, Health: drivers.HealthUnknown},
					{Member: "fe02", State: drivers.Draining, Health: drivers.HealthUnknown}}, seen[2].Members)
			}
		})
	}
	assert.Nil(t, farm.ObserveMembers(nil, nil, obs))
	lb := sim.LoadBalancer("a")
	assert.Equal(t, lb, farm.ObserveMembers(lb, nil, nil))
}
