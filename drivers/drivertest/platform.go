package drivertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
)

// PlatformClientHarness is what a [drivers.PlatformClient]'s test gives the
// suite.
type PlatformClientHarness struct {
	// New returns a fresh client over a platform where deploying Release
	// succeeds. It is called once per subtest. Required.
	New func(t *testing.T) drivers.PlatformClient
	// Release is a release the platform deploys successfully. Required.
	Release drivers.Release
	// Deploy bounds how long a deployment may take to end. Zero means one
	// minute.
	Deploy time.Duration
	// Poll is the wait between two status reads. Zero means 20ms.
	Poll time.Duration
	// Abortable is true when a deployment stays running (or waiting) long
	// enough after StartDeployment returns for AbortDeployment to catch it.
	// False skips the abort subtest as unimplemented.
	Abortable bool
	// Paused, when set, starts a deployment of Release that stops in
	// DeploymentNeedsUserIntervention (a prepared two-stage deployment) on
	// the client New returned, and returns its ID. Nil skips the continue
	// subtest as unimplemented.
	Paused func(t *testing.T, pc drivers.PlatformClient) string
	// Options are the settings every harness has (Prompt, KnownDefects,
	// Bubble).
	Options
}

// RunPlatformClient runs the PlatformClient conformance suite. Each check is
// a named subtest of t.
func RunPlatformClient(t *testing.T, h PlatformClientHarness) {
	t.Helper()
	require.NotNil(t, h.New, "drivertest: PlatformClientHarness.New is required")
	require.NotEmpty(t, h.Release.Version, "drivertest: PlatformClientHarness.Release is required")
	p := platform{h: h}
	p.h.run(t, "Deploy", p.deploy)
	p.h.run(t, "EndStateHolds", p.endStateHolds)
	p.h.run(t, "UnknownDeployment", p.unknownDeployment)
	p.h.run(t, "DeployedRelease", p.deployedRelease)
	p.h.run(t, "Abort", p.abort)
	p.h.run(t, "AbortIdempotent", p.abortIdempotent)
	p.h.run(t, "Continue", p.continueDeployment)
	p.h.run(t, "FindDeployment", p.findDeployment)
	p.h.run(t, "ContextDone", p.contextDone)
	p.h.run(t, "ConcurrentStatus", p.concurrentStatus)
}

type platform struct {
	h PlatformClientHarness
}

var deploymentStates = []drivers.DeploymentState{
	drivers.DeploymentSaved, drivers.DeploymentRunning, drivers.DeploymentNeedsUserIntervention,
	drivers.DeploymentAborting, drivers.DeploymentAborted, drivers.DeploymentSucceeded,
	drivers.DeploymentSucceededWithWarnings, drivers.DeploymentFailed, drivers.DeploymentForceFinished,
}

func (p platform) fresh(t *testing.T) drivers.PlatformClient {
	return fresh(t, p.h.New, "PlatformClientHarness")
}

func (p platform) deployBudget() time.Duration {
	if p.h.Deploy > 0 {
		return p.h.Deploy
	}
	return time.Minute
}

func (p platform) poll() time.Duration {
	if p.h.Poll > 0 {
		return p.h.Poll
	}
	return 20 * time.Millisecond
}

// status reads a deployment's status and checks its shape.
func (p platform) status(t *testing.T, pc drivers.PlatformClient, id string) drivers.DeploymentStatus {
	t.Helper()
	st, err := pc.DeploymentStatus(ctx(t), id)
	require.NoError(t, err, "DeploymentStatus(%s)", id)
	require.Contains(t, deploymentStates, st.State, "DeploymentStatus(%s): state", id)
	for _, e := range st.Log {
		assert.Contains(t, []string{"", "Info", "Warning", "Error"}, e.Type, "DeploymentStatus(%s): log entry %q type (empty where the platform does not say)", id, e.Message)
	}
	return st
}

// wait polls until the deployment reads a state done(state) accepts, and
// checks that a deployment that has ended never reads otherwise again.
func (p platform) wait(t *testing.T, pc drivers.PlatformClient, id string, done func(drivers.DeploymentState) bool) drivers.DeploymentStatus {
	t.Helper()
	deadline := time.Now().Add(p.deployBudget())
	var ended drivers.DeploymentState
	for {
		st := p.status(t, pc, id)
		if ended != "" {
			require.Equal(t, ended, st.State, "deployment %s ended %s, then read %s: an ended deployment must stay ended", id, ended, st.State)
		} else if st.State.Done() {
			ended = st.State
		}
		if done(st.State) {
			return st
		}
		if time.Now().After(deadline) {
			require.Failf(t, "deployment did not reach the expected state", "deployment %s still %s after %v", id, st.State, p.deployBudget())
		}
		time.Sleep(p.poll())
	}
}

func (p platform) start(t *testing.T, pc drivers.PlatformClient) string {
	t.Helper()
	id, err := pc.StartDeployment(ctx(t), p.h.Release)
	require.NoError(t, err, "StartDeployment(%s)", p.h.Release.Version)
	require.NotEmpty(t, id, "StartDeployment must return the deployment's identifier")
	return id
}

func (p platform) deploy(t *testing.T) {
	pc := p.fresh(t)
	id := p.start(t, pc)
	st := p.wait(t, pc, id, drivers.DeploymentState.Done)
	assert.True(t, st.State.Succeeded(), "deploying the harness's release must succeed, got %s (%s)", st.State, st.Info)
}

func (p platform) endStateHolds(t *testing.T) {
	pc := p.fresh(t)
	id := p.start(t, pc)
	end := p.wait(t, pc, id, drivers.DeploymentState.Done).State
	for range 3 {
		assert.Equal(t, end, p.status(t, pc, id).State, "an ended deployment must keep its end state")
	}
}

// unknownID looks like an ID (a GUID, as LifeTime's keys are) but names no
// deployment.
const unknownID = "00000000-0000-4000-8000-00000000d7e5"

func (p platform) unknownDeployment(t *testing.T) {
	pc := p.fresh(t)
	_, err := pc.DeploymentStatus(ctx(t), unknownID)
	require.Error(t, err, "DeploymentStatus of an unknown deployment")
	assert.ErrorIs(t, err, drivers.ErrNotFound, "DeploymentStatus of an unknown deployment")
}

func (p platform) deployedRelease(t *testing.T) {
	pc := p.fresh(t)
	rr, ok := pc.(drivers.DeployedReleaseReader)
	if !ok {
		t.Skipf("unimplemented: %T does not implement drivers.DeployedReleaseReader", pc)
	}
	before, err := rr.DeployedRelease(ctx(t))
	require.NoError(t, err, "DeployedRelease before any deployment")
	id := p.start(t, pc)
	require.True(t, p.wait(t, pc, id, drivers.DeploymentState.Done).State.Succeeded())
	after, err := rr.DeployedRelease(ctx(t))
	require.NoError(t, err, "DeployedRelease after a deployment")
	if len(p.h.Release.Applications) > 0 {
		got := map[string]string{}
		for _, a := range after.Applications {
			got[a.Name] = a.Version
		}
		for _, a := range p.h.Release.Applications {
			assert.Equal(t, a.Version, got[a.Name], "after deploying, DeployedRelease must report application %s at the deployed version (before: %+v)", a.Name, before)
		}
	} else {
		assert.Equal(t, p.h.Release.Version, after.Version, "after deploying, DeployedRelease must report the deployed release")
	}
}

// aborter returns a fresh client and its DeploymentAborter, or skips.
func (p platform) aborter(t *testing.T) (drivers.PlatformClient, drivers.DeploymentAborter) {
	pc := p.fresh(t)
	ab, ok := pc.(drivers.DeploymentAborter)
	if !ok {
		t.Skipf("unimplemented: %T does not implement drivers.DeploymentAborter", pc)
	}
	p.needAbortable(t, "aborted")
	return pc, ab
}

func (p platform) needAbortable(t *testing.T, what string) {
	if !p.h.Abortable {
		t.Skipf("unimplemented: the harness's deployments end before they can be %s (PlatformClientHarness.Abortable is false)", what)
	}
}

func (p platform) abort(t *testing.T) {
	pc, ab := p.aborter(t)
	id := p.start(t, pc)
	require.NoError(t, ab.AbortDeployment(ctx(t), id), "AbortDeployment of a running deployment")
	st := p.wait(t, pc, id, drivers.DeploymentState.Done)
	assert.Equal(t, drivers.DeploymentAborted, st.State, "an aborted deployment ends aborted")
	err := ab.AbortDeployment(ctx(t), unknownID)
	assert.ErrorIs(t, err, drivers.ErrNotFound, "AbortDeployment of an unknown deployment")
}

// abortIdempotent checks the rule every mutating method follows: aborting
// an aborted deployment again succeeds and changes nothing.
func (p platform) abortIdempotent(t *testing.T) {
	pc, ab := p.aborter(t)
	id := p.start(t, pc)
	require.NoError(t, ab.AbortDeployment(ctx(t), id))
	p.wait(t, pc, id, drivers.DeploymentState.Done)
	assert.NoError(t, ab.AbortDeployment(ctx(t), id), "aborting an aborted deployment again must succeed")
	assert.Equal(t, drivers.DeploymentAborted, p.status(t, pc, id).State)
}

func (p platform) continueDeployment(t *testing.T) {
	pc := p.fresh(t)
	co, ok := pc.(drivers.DeploymentContinuer)
	if !ok {
		t.Skipf("unimplemented: %T does not implement drivers.DeploymentContinuer", pc)
	}
	if p.h.Paused == nil {
		t.Skip("unimplemented: the harness cannot pause a deployment for user intervention (PlatformClientHarness.Paused is nil)")
	}
	id := p.h.Paused(t, pc)
	p.wait(t, pc, id, func(s drivers.DeploymentState) bool { return s == drivers.DeploymentNeedsUserIntervention })
	require.NoError(t, co.ContinueDeployment(ctx(t), id), "ContinueDeployment of a paused deployment")
	st := p.wait(t, pc, id, drivers.DeploymentState.Done)
	assert.True(t, st.State.Succeeded(), "a continued deployment ends succeeded, got %s", st.State)
	err := co.ContinueDeployment(ctx(t), unknownID)
	assert.ErrorIs(t, err, drivers.ErrNotFound, "ContinueDeployment of an unknown deployment")
}

// findDeployment checks that a deployment that has not ended is found by
// its release, and that none is found once it ended.
func (p platform) findDeployment(t *testing.T) {
	pc := p.fresh(t)
	fd, ok := pc.(drivers.DeploymentFinder)
	if !ok {
		t.Skipf("unimplemented: %T does not implement drivers.DeploymentFinder", pc)
	}
	p.needAbortable(t, "found")
	_, found, err := fd.FindDeployment(ctx(t), p.h.Release)
	require.NoError(t, err, "FindDeployment with no deployment")
	assert.False(t, found, "FindDeployment must find nothing before any deployment")
	id := p.start(t, pc)
	got, found, err := fd.FindDeployment(ctx(t), p.h.Release)
	require.NoError(t, err, "FindDeployment of a running deployment")
	assert.True(t, found, "a deployment that has not ended must be found")
	assert.Equal(t, id, got, "FindDeployment must return the ID StartDeployment returned")
	p.wait(t, pc, id, drivers.DeploymentState.Done)
	_, found, err = fd.FindDeployment(ctx(t), p.h.Release)
	require.NoError(t, err)
	assert.False(t, found, "a deployment that ended is not found")
}

func (p platform) contextDone(t *testing.T) {
	pc := p.fresh(t)
	p.h.checkDone(t, "StartDeployment", func(c context.Context) error { _, err := pc.StartDeployment(c, p.h.Release); return err })
	p.h.checkDone(t, "DeploymentStatus", func(c context.Context) error { _, err := pc.DeploymentStatus(c, unknownID); return err })
	if rr, ok := pc.(drivers.DeployedReleaseReader); ok {
		p.h.checkDone(t, "DeployedRelease", func(c context.Context) error { _, err := rr.DeployedRelease(c); return err })
	}
	if ab, ok := pc.(drivers.DeploymentAborter); ok {
		p.h.checkDone(t, "AbortDeployment", func(c context.Context) error { return ab.AbortDeployment(c, unknownID) })
	}
	if co, ok := pc.(drivers.DeploymentContinuer); ok {
		p.h.checkDone(t, "ContinueDeployment", func(c context.Context) error { return co.ContinueDeployment(c, unknownID) })
	}
	if fd, ok := pc.(drivers.DeploymentFinder); ok {
		p.h.checkDone(t, "FindDeployment", func(c context.Context) error { _, _, err := fd.FindDeployment(c, p.h.Release); return err })
	}
}

func (p platform) concurrentStatus(t *testing.T) {
	pc := p.fresh(t)
	id := p.start(t, pc)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 8 {
		wg.Go(func() {
			for range 5 {
				if _, err := pc.DeploymentStatus(ctx(t), id); err != nil {
					errs <- fmt.Errorf("DeploymentStatus(%s): %w", id, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}
	p.wait(t, pc, id, drivers.DeploymentState.Done)
}
