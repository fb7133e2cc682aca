package bench

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idlePlatform is the fake farm's platform with its DeploymentIdle counted:
// the most calls in flight at once.
type idlePlatform struct {
	*fakeFarm
	mu          sync.Mutex
	now, most   int
	idleQueries int
}

func (p *idlePlatform) DeploymentIdle(ctx context.Context, t drivers.Target) (bool, error) {
	p.mu.Lock()
	p.now++
	p.most = max(p.most, p.now)
	p.idleQueries++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.now--
		p.mu.Unlock()
	}()
	return p.fakeFarm.DeploymentIdle(ctx, t)
}

// TestPlatformLimitHoldsForIdleQueries: where the platform (not the service
// controller) says whether a server's deployment service is idle, the
// await-loaded step asks it once per Loaded server; those calls stay within
// Limits.Platform instead of reaching the platform all at once.
func TestPlatformLimitHoldsForIdleQueries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := defaultSettings(40, 0)
		s.Latency = 100 * time.Millisecond
		var plat *idlePlatform
		plan, ff, err := newPlan(s, farm.PlanConfig{Limits: farm.Limits{Platform: 3}}, func(c *steps.Config) {
			plat = &idlePlatform{fakeFarm: c.Platform.(*fakeFarm)}
			// Services without DeploymentIdle: the platform answers it.
			c.Services = struct{ drivers.ServiceController }{c.Services}
			c.Platform = plat
		})
		require.NoError(t, err)
		_, err = plan.Run(context.Background())
		require.NoError(t, err)
		require.NoError(t, ff.checkEnd(benchRelease.Version))
		assert.GreaterOrEqual(t, plat.idleQueries, 20, "every Loaded server asked")
		assert.Equal(t, 3, plat.most, "at most Limits.Platform idle queries at once")
	})
}
