package steps_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idleCounter records when each server's deployment service was asked
// whether it is idle.
// The first busy answers of each server that runs the release say busy (a
// post-install task).
type idleCounter struct {
	*simulate.Services
	sim   *simulate.Sim
	busy  int
	mu    sync.Mutex
	asked map[string][]time.Time
}

func (c *idleCounter) DeploymentIdle(ctx context.Context, t drivers.Target) (bool, error) {
	idle, err := c.Services.DeploymentIdle(ctx, t)
	st, serr := c.sim.ServerState(t.Name)
	if err != nil || serr != nil || !idle || st.Version != "v2" {
		return idle, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked[t.Name] = append(c.asked[t.Name], time.Now())
	return len(c.asked[t.Name]) > c.busy, nil
}

// TestInstallWaitEndsWithinAProbeInterval: await-loaded probes the Loaded
// servers every PollInterval (1 s here), so it ends within about one of
// them after the last install, while each server's deployment service is
// asked whether it is idle no more often than every DeployPollInterval
// (5 s here): the faster probes do not raise that rate. With the probes at
// DeployPollInterval, await-loaded took up to 5 s more.
func TestInstallWaitEndsWithinAProbeInterval(t *testing.T) {
	for _, busy := range []int{0, 3} {
		t.Run(fmt.Sprintf("busy=%d", busy), func(t *testing.T) { installWait(t, busy) })
	}
}

func installWait(t *testing.T, busy int) {
	synctest.Test(t, func(t *testing.T) {
		const install = 31 * time.Second // not a multiple of either interval
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 93,
			PublishDuration: 20 * time.Second, InstallDuration: install})
		require.NoError(t, err)
		svc := &idleCounter{Services: sim.Services(), sim: sim, busy: busy, asked: map[string][]time.Time{}}
		p, _ := simPlan(t, sim, sim.LoadBalancer(""), svc, nil)
		require.NoError(t, sim.Start(t.Context()))
		rep, err := p.Run(t.Context())
		sim.Stop()
		require.NoError(t, err)
		unblock, ok := rep.Step(steps.UnblockLoaded)
		require.True(t, ok)
		await, ok := rep.Step(steps.AwaitLoaded)
		require.True(t, ok)
		// The Loaded installs start when unblock-loaded restarts their
		// Deployment service and take install.
		late := await.Finished.Sub(unblock.Started) - install
		t.Logf("await-loaded ended %v after the installs could end", late)
		if busy == 0 {
			// One 1 s probe interval, plus unblock-loaded's read-back
			// and the simulated calls: 2 s (5 s with the probes asked
			// every DeployPollInterval).
			assert.Less(t, late, 3*time.Second, "within about one probe interval of the installs")
		}

		svc.mu.Lock()
		defer svc.mu.Unlock()
		require.NotEmpty(t, svc.asked, "the deployment services were asked")
		if busy > 0 {
			for server, at := range svc.asked {
				assert.Len(t, at, busy+1, "%s: asked until it answered idle", server)
			}
		}
		for server, at := range svc.asked {
			for i := 1; i < len(at); i++ {
				assert.GreaterOrEqual(t, at[i].Sub(at[i-1]), 5*time.Second, "%s asked %v after the previous time", server, at[i].Sub(at[i-1]))
			}
		}
	})
}
