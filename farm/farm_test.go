package farm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"
)

func servers(n int, zones ...string) []farm.Server {
	out := make([]farm.Server, n)
	for i := range out {
		out[i] = farm.Server{Name: fmt.Sprintf("fe%02d", i+1)}
		if len(zones) > 0 {
			out[i].Zone = zones[i%len(zones)]
		}
	}
	return out
}

func TestAutoSplit(t *testing.T) {
	list := servers(7, "a", "b")
	list[5].DeploymentController = true // fe06, zone b
	specs := farm.AutoSplit(list)
	require.Len(t, specs, 2)
	names := func(ss []farm.Server) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Name)
		}
		return out
	}
	assert.Equal(t, "a", specs[0].Name)
	assert.Equal(t, []string{"fe01", "fe03"}, names(specs[0].Updating))
	assert.Equal(t, []string{"fe05", "fe07"}, names(specs[0].Loaded))
	assert.Equal(t, []string{"fe06", "fe02"}, names(specs[1].Updating), "controller first, in Updating")
	assert.Equal(t, []string{"fe04"}, names(specs[1].Loaded))

	lb := drivermock.NewMockLoadBalancer(gomock.NewController(t)) // no calls expected
	f, err := farm.New(farm.Config{Zones: specs, LoadBalancer: lb})
	require.NoError(t, err)
	assert.Len(t, f.Servers(), 7)
	s, ok := f.Server("fe06")
	require.True(t, ok)
	assert.Equal(t, "b", s.Zone)
	assert.Equal(t, "fe06", s.MemberID())
	assert.InDelta(t, farm.DefaultCapacityFloor, f.CapacityFloor(), 1e-12)
}

func TestRetryPolicyBackoff(t *testing.T) {
	p := farm.RetryPolicy{InitialBackoff: 100 * time.Millisecond, Multiplier: 2, MaxBackoff: time.Second}
	var got []time.Duration
	for next := 1; next <= 7; next++ {
		got = append(got, p.Backoff(next))
	}
	ms := time.Millisecond
	assert.Equal(t, []time.Duration{0, 100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}, got)
	assert.Equal(t, time.Second, farm.RetryPolicy{}.Backoff(2), "default initial backoff")
	assert.Equal(t, 2*time.Second, farm.RetryPolicy{}.Backoff(3), "default multiplier")
}

func TestPlanEditing(t *testing.T) {
	lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: lb})
	require.NoError(t, err)
	noop := func(ctx context.Context, r *farm.Run) error { return nil }
	step := func(id string) farm.Step { return farm.Step{ID: id, Title: id, Run: noop} }
	p, err := farm.NewPlan(f, farm.PlanConfig{}, step("a"), step("b"), step("c"))
	require.NoError(t, err)
	require.NoError(t, p.InsertBefore("b", step("x")))
	require.NoError(t, p.InsertAfter("c", step("y")))
	assert.Equal(t, []string{"a", "x", "b", "c", "y"}, p.StepIDs())
	require.NoError(t, p.Remove("x"))
	require.NoError(t, p.Move("a", "c"))
	assert.Equal(t, []string{"b", "c", "a", "y"}, p.StepIDs())
	require.NoError(t, p.Move("y", ""))
	assert.Equal(t, []string{"y", "b", "c", "a"}, p.StepIDs())

	assert.ErrorContains(t, p.InsertAfter("c", step("a")), "step ID a is used twice")
	assert.ErrorIs(t, p.Remove("zzz"), farm.ErrUnknownStep)
	assert.ErrorContains(t, p.InsertAfter("c", farm.Step{ID: "n"}), "has no Run function")
	assert.ErrorContains(t, p.Before("c", farm.Hook{Name: "h"}), "want a Name and a Func")
	_, err = farm.NewPlan(f, farm.PlanConfig{Retry: farm.RetryPolicy{Multiplier: 0.5}})
	assert.ErrorContains(t, err, "multiplier 0.5")
	_, err = farm.NewPlan(nil, farm.PlanConfig{})
	assert.ErrorIs(t, err, farm.ErrInvalidFarm)
}

// TestRunRetriesWithJitterAndMock runs a custom plan whose step calls a
// mocked load balancer, and checks retries, jitter bounds and the report.
func TestRunRetriesWithJitterAndMock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctrl := gomock.NewController(t)
		lb := drivermock.NewMockLoadBalancer(ctrl)
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: lb})
		require.NoError(t, err)
		var calls []time.Time
		lb.EXPECT().SetState(gomock.Any(), drivers.Out, "fe01").DoAndReturn(func(context.Context, drivers.MemberState, ...string) error {
			calls = append(calls, time.Now())
			if len(calls) < 4 {
				return drivers.Classify(drivers.ErrUnavailable, errors.New("socket busy"))
			}
			return nil
		}).Times(4)
		var retries int
		p, err := farm.NewPlan(f, farm.PlanConfig{
			Retry:    farm.RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Second, Multiplier: 2, Jitter: 0.5},
			Observer: event.ObserverFunc(func(e event.Event) { retries += map[bool]int{true: 1}[e.Kind == event.ActionRetry] }),
			Seed:     7,
		}, farm.Step{ID: "out", Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachZone(ctx, func(ctx context.Context, z *farm.Zone) error {
				return z.LoadBalancer.SetState(ctx, drivers.Out, "fe01")
			})
		}})
		require.NoError(t, err)
		rep, err := p.Run(t.Context())
		require.NoError(t, err)
		require.Len(t, calls, 4)
		assert.Equal(t, 3, retries)
		for i, base := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
			d := calls[i+1].Sub(calls[i])
			assert.GreaterOrEqual(t, d, base/2, "jitter keeps the wait within ±50%%")
			assert.LessOrEqual(t, d, base*3/2)
		}
		s, ok := rep.Step("out")
		require.True(t, ok)
		require.Len(t, s.Actions, 1)
		assert.Equal(t, 4, s.Actions[0].Attempts)
		assert.Equal(t, "default", s.Actions[0].Zone)
	})
}

func TestGenericStepTimeoutAndReport(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: lb})
		require.NoError(t, err)
		ranSecond := false
		p, err := farm.NewPlan(f, farm.PlanConfig{StepTimeout: time.Minute},
			farm.Step{ID: "slow", Title: "waits forever", Run: func(ctx context.Context, r *farm.Run) error {
				<-ctx.Done()
				return ctx.Err()
			}},
			farm.Step{ID: "next", Run: func(ctx context.Context, r *farm.Run) error { ranSecond = true; return nil }},
		)
		require.NoError(t, err)
		start := time.Now()
		rep, err := p.Run(t.Context())
		require.Error(t, err)
		assert.Equal(t, time.Minute, time.Since(start))
		assert.ErrorIs(t, err, farm.ErrHalted)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "step slow timed out after 1m0s")
		assert.False(t, ranSecond)
		assert.Equal(t, farm.Halted, rep.Outcome)
		assert.Equal(t, "slow", rep.ResumeFrom)
		var buf bytes.Buffer
		require.NoError(t, rep.Write(&buf))
		assert.Contains(t, buf.String(), "slow")
		assert.Contains(t, buf.String(), "failed")
		assert.Contains(t, buf.String(), "resume from: slow")
	})
}
