package farm_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"
)

// TestAskRetryBacksOffAndIsBounded: a retry decided by the Ask policy waits
// the retry policy's backoff and counts against its MaxAttempts; the Ask
// function is told the attempt number. (Before: the step ran again at once,
// without limit, and a step failing the same way every time livelocked.)
func TestAskRetryBacksOffAndIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: lb})
		require.NoError(t, err)
		var runs []time.Time
		var attempts []int
		p, err := farm.NewPlan(f, farm.PlanConfig{
			Retry:     farm.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Second, Multiplier: 2, Jitter: -1},
			OnFailure: farm.Ask,
			Ask: func(_ context.Context, fl farm.Failure) farm.Decision {
				attempts = append(attempts, fl.Attempt)
				return farm.DecideRetry
			},
		}, farm.Step{ID: "always-fails", Run: func(context.Context, *farm.Run) error {
			runs = append(runs, time.Now())
			if len(runs) > 10 {
				return nil // bound the test if retries were unbounded
			}
			return errors.New("the same failure every time")
		}})
		require.NoError(t, err)
		rep, err := p.Run(t.Context())
		require.ErrorIs(t, err, farm.ErrHalted)
		assert.Contains(t, err.Error(), "3 attempts")
		require.Len(t, runs, 3, "MaxAttempts bounds the retries Ask decides")
		assert.Equal(t, []int{1, 2, 3}, attempts)
		assert.Equal(t, 10*time.Second, runs[1].Sub(runs[0]), "the retry policy's first backoff")
		assert.Equal(t, 20*time.Second, runs[2].Sub(runs[1]), "then multiplied")
		assert.Equal(t, farm.Halted, rep.Outcome)
		assert.Equal(t, "always-fails", rep.ResumeFrom)
	})
}

// TestAskRetryWaitEndsWithTheContext: cancelling during the backoff of an
// Ask retry halts at once.
func TestAskRetryWaitEndsWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: lb})
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		runs := 0
		p, err := farm.NewPlan(f, farm.PlanConfig{
			Retry:     farm.RetryPolicy{InitialBackoff: time.Minute, Jitter: -1},
			OnFailure: farm.Ask,
			Ask:       func(context.Context, farm.Failure) farm.Decision { return farm.DecideRetry },
		}, farm.Step{ID: "fails", Run: func(context.Context, *farm.Run) error {
			runs++
			return errors.New("failure")
		}})
		require.NoError(t, err)
		start := time.Now()
		_, err = p.Run(ctx)
		require.ErrorIs(t, err, farm.ErrHalted)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 1, runs)
		assert.Equal(t, 5*time.Second, time.Since(start))
	})
}
