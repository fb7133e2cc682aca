package spec_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/spec"
)

// statusClock records when the deployment's status is read.
type statusClock struct {
	*simulate.Platform
	mu    sync.Mutex
	reads []time.Time
}

func (p *statusClock) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	p.mu.Lock()
	p.reads = append(p.reads, time.Now())
	p.mu.Unlock()
	return p.Platform.DeploymentStatus(ctx, id)
}

// TestPlatformPollIntervalsTakeEffect runs the plan a spec builds and checks
// that platform.poll_interval and max_poll_interval set how often the
// deployment's status is read: 3 s, then half as long again each time, up to
// 10 s, during a 2-minute publish.
func TestPlatformPollIntervalsTakeEffect(t *testing.T) {
	doc := strings.Replace(base, "  target_environment: Production\n",
		"  target_environment: Production\n  poll_interval: 3s\n  max_poll_interval: 10s\n", 1)
	s, err := parse(doc)
	require.NoError(t, err)
	s.Journal = ""
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Name: "east", Servers: 4}}, Seed: 1, PublishDuration: 2 * time.Minute})
		require.NoError(t, err)
		clock := &statusClock{Platform: sim.Platform()}
		_, plan, err := s.BuildWith(t.Context(), spec.Drivers{
			LoadBalancer: func(z string) drivers.LoadBalancer { return sim.LoadBalancer(z) },
			Services:     sim.Services(), Platform: clock, Prober: sim.Prober(),
		})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		_, err = plan.Run(t.Context())
		sim.Stop()
		require.NoError(t, err)
		clock.mu.Lock()
		defer clock.mu.Unlock()
		var gaps []time.Duration
		for i := 1; i < len(clock.reads); i++ {
			gaps = append(gaps, clock.reads[i].Sub(clock.reads[i-1]).Round(time.Millisecond))
		}
		require.GreaterOrEqual(t, len(gaps), 4, "%v", gaps)
		assert.Equal(t, []time.Duration{3 * time.Second, 4500 * time.Millisecond, 6750 * time.Millisecond, 10 * time.Second}, gaps[:4])
		for _, g := range gaps[4:] {
			assert.LessOrEqual(t, g, 10*time.Second)
		}
	})
}

func TestPlatformMaxPollBelowPollIsRefused(t *testing.T) {
	doc := strings.Replace(base, "  target_environment: Production\n",
		"  target_environment: Production\n  poll_interval: 30s\n  max_poll_interval: 10s\n", 1)
	_, err := parse(doc)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max_poll_interval 10s is below poll_interval 30s")
}
