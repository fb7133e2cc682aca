package steps_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// cancelInPublish runs the plan and cancels it 5 s into publish, while the
// platform deploys (the simulator's publish takes 20 s).
func cancelInPublish(t *testing.T, sf *simFarm, j journal.Journal) {
	t.Helper()
	p := sf.plan(t, nil, j, farm.Halt, "v2")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	require.NoError(t, p.Before(steps.Publish, farm.Hook{Name: "cancel soon", Func: func(context.Context, *farm.Run) error {
		time.AfterFunc(5*time.Second, cancel)
		return nil
	}}))
	rep, err := p.Run(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, steps.Publish, rep.FailedStep)
	assert.Empty(t, sf.sim.CheckSafeState())
}

// resumeToTheEnd resumes the journal's run and checks the farm ends exact.
func resumeToTheEnd(t *testing.T, sf *simFarm, recs []journal.Record) {
	t.Helper()
	rep, err := sf.plan(t, nil, &memJournal{recs: recs}, farm.Halt, "v2").Resume(t.Context(), recs)
	require.NoError(t, err)
	assert.Equal(t, farm.Succeeded, rep.Outcome)
	sf.endsExact(t, "v2")
}

// deploymentIDs returns the deployment IDs the journal recorded.
func deploymentIDs(recs []journal.Record) []string {
	var ids []string
	for _, r := range recs {
		if r.Kind == journal.Value && r.Key == steps.CapturedDeploymentID && !r.Deleted {
			ids = append(ids, r.Value)
		}
	}
	return ids
}

// TestCancelDuringPublishThenResume cancels a run while the platform
// deploys: the deployment keeps running and stays recorded, and the resumed
// run follows that same deployment to its end (deployments started: 1).
func TestCancelDuringPublishThenResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 51})
		j := &memJournal{}
		require.NoError(t, sf.sim.Start(t.Context()))
		cancelInPublish(t, sf, j)
		assert.Empty(t, sf.sim.Actions(simulate.OpAbortDeployment), "cancelling the run does not abort the deployment")
		st, err := sf.sim.Platform().DeploymentStatus(t.Context(), "dep-1")
		require.NoError(t, err)
		assert.Equal(t, drivers.DeploymentRunning, st.State, "still running on the platform")
		assert.Equal(t, []string{"dep-1"}, deploymentIDs(j.records()), "and recorded")

		resumeToTheEnd(t, sf, j.records())
		assert.Len(t, sf.sim.Actions(simulate.OpStartDeployment), 1, "deployments started: 1")
		assert.Empty(t, sf.sim.Actions(simulate.OpAbortDeployment))
	})
}

// TestResumeWithLostIDAdoptsTheRunningDeployment cancels a run during
// publish and drops the deployment ID from the journal, as a crash between
// the platform's answer and the journal write would: the resumed run finds
// the platform's running deployment of the release and follows it instead
// of starting a second one (deployments started: 1).
func TestResumeWithLostIDAdoptsTheRunningDeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 52})
		j := &memJournal{}
		require.NoError(t, sf.sim.Start(t.Context()))
		cancelInPublish(t, sf, j)
		var lost []journal.Record
		for _, r := range j.records() {
			if r.Kind == journal.Value && r.Key == steps.CapturedDeploymentID {
				continue
			}
			if r.Captured != nil {
				delete(r.Captured.Values, steps.CapturedDeploymentID)
			}
			lost = append(lost, r)
		}
		require.Empty(t, deploymentIDs(lost))

		resumeToTheEnd(t, sf, lost)
		assert.Len(t, sf.sim.Actions(simulate.OpStartDeployment), 1, "deployments started: 1")
		assert.NotEmpty(t, sf.sim.Actions(simulate.OpFindDeployment))
	})
}

// TestAbortPublishOnStop is the explicit option: a run cancelled in publish
// aborts the deployment and forgets it, and the resumed run deploys again.
func TestAbortPublishOnStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 53})
		sf.tune = func(c *steps.Config) { c.AbortPublishOnStop = true }
		j := &memJournal{}
		require.NoError(t, sf.sim.Start(t.Context()))
		cancelInPublish(t, sf, j)
		assert.Len(t, sf.sim.Actions(simulate.OpAbortDeployment), 1, "the deployment was aborted")
		st, err := sf.sim.Platform().DeploymentStatus(t.Context(), "dep-1")
		require.NoError(t, err)
		assert.Equal(t, drivers.DeploymentAborted, st.State)

		resumeToTheEnd(t, sf, j.records())
		assert.Len(t, sf.sim.Actions(simulate.OpStartDeployment), 2, "deployed again after the abort")
	})
}

// journalFirst is a platform that checks, at every status read, that the
// journal already holds the ID it is asked about.
type journalFirst struct {
	drivers.PlatformClient
	j  *memJournal
	mu sync.Mutex
	// unjournaled lists the IDs read before the journal had them.
	unjournaled []string
	reads       int
}

func (p *journalFirst) DeploymentStatus(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	p.mu.Lock()
	p.reads++
	found := false
	for _, r := range p.j.records() {
		found = found || (r.Kind == journal.Value && r.Value == id)
	}
	if !found {
		p.unjournaled = append(p.unjournaled, id)
	}
	p.mu.Unlock()
	return p.PlatformClient.DeploymentStatus(ctx, id)
}

// TestDeploymentIDJournaledBeforeAnyWait checks that the deployment's ID is
// in the journal before its status is first read.
func TestDeploymentIDJournaledBeforeAnyWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 54})
		j := &memJournal{}
		jf := &journalFirst{j: j}
		sf.platform = func(p drivers.PlatformClient) drivers.PlatformClient { jf.PlatformClient = p; return jf }
		require.NoError(t, sf.sim.Start(t.Context()))
		rep, err := sf.plan(t, nil, j, farm.Halt, "v2").Run(t.Context())
		sf.sim.Stop()
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, rep.Outcome)
		jf.mu.Lock()
		defer jf.mu.Unlock()
		assert.Positive(t, jf.reads)
		assert.Empty(t, jf.unjournaled)
	})
}

// TestPublishTimeoutLeavesTheDeploymentRunning lets PublishTimeout pass:
// the step fails, the deployment keeps running and stays recorded.
func TestPublishTimeoutLeavesTheDeploymentRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sf := newSimFarm(t, simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 55, PublishDuration: time.Hour})
		sf.tune = func(c *steps.Config) { c.PublishTimeout = time.Minute; c.Plan.Retry = farm.RetryPolicy{MaxAttempts: 1} }
		j := &memJournal{}
		require.NoError(t, sf.sim.Start(t.Context()))
		_, err := sf.plan(t, nil, j, farm.Halt, "v2").Run(t.Context())
		sf.sim.Stop()
		require.ErrorIs(t, err, farm.ErrHalted)
		assert.Contains(t, err.Error(), "did not finish within 1m0s (last state running)")
		assert.Empty(t, sf.sim.Actions(simulate.OpAbortDeployment))
		assert.Equal(t, []string{"dep-1"}, deploymentIDs(j.records()))
	})
}
