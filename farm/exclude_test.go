package farm_test

import (
	"context"
	"errors"
	"testing"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/internal/fakefarm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestExcludeTakesAServingMemberOutOfTraffic: a server excluded by an Ask
// decision stops receiving new requests (its member is set draining), and a
// member already out stays out.
func TestExcludeTakesAServingMemberOutOfTraffic(t *testing.T) {
	ff := fakefarm.New("fe01", "fe02", "fe03", "fe04", "fe05", "fe06")
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(ff.Servers()), LoadBalancer: ff})
	require.NoError(t, err)
	require.NoError(t, ff.SetState(t.Context(), drivers.Out, "fe04"))
	tries := 0
	p, err := farm.NewPlan(f, farm.PlanConfig{OnFailure: farm.Ask,
		Ask: func(context.Context, farm.Failure) farm.Decision { return farm.DecideExclude }},
		farm.Step{ID: "flaky", Excludable: true, Run: func(ctx context.Context, r *farm.Run) error {
			tries++
			var failing []farm.Server
			for _, s := range r.Included(r.Farm().Servers()) {
				if s.Name == "fe01" || s.Name == "fe04" {
					failing = append(failing, s)
				}
			}
			return r.ForEachServer(ctx, failing, func(context.Context, farm.Server) error { return errors.New("fails here") })
		}})
	require.NoError(t, err)
	rep, err := p.Run(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 2, tries)
	assert.ElementsMatch(t, []string{"fe01", "fe04"}, rep.Excluded)
	assert.Equal(t, drivers.Draining, ff.MemberState("fe01"), "the serving member gets no new requests")
	assert.Equal(t, drivers.Out, ff.MemberState("fe04"), "the member that was out stays out")
	assert.Equal(t, drivers.Serving, ff.MemberState("fe02"))
}
