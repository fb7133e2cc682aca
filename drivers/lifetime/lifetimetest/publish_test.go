package lifetimetest_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/journal"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// TestPublishFollowsEveryStatus forces each LifeTime status (and each Info
// of needs_user_intervention) on the run's deployment and checks what the
// publish step, the project's one deployment state machine, does with it.
func TestPublishFollowsEveryStatus(t *testing.T) {
	type outcome int
	const (
		fails      outcome = iota // the step fails naming the end state
		needsHuman                // the step fails naming the Info; left waiting
		timesOut                  // still polled when PublishTimeout passes
	)
	tests := []struct {
		state     drivers.DeploymentState
		info      string
		abortStop bool // AbortPublishOnStop
		want      outcome
		wantAbort bool
	}{
		{state: drivers.DeploymentSaved, want: timesOut},
		{state: drivers.DeploymentRunning, want: timesOut},
		{state: drivers.DeploymentRunning, abortStop: true, want: timesOut, wantAbort: true},
		{state: drivers.DeploymentAborting, abortStop: true, want: timesOut},
		{state: drivers.DeploymentNeedsUserIntervention, info: drivers.InfoBusinessProcessImpact, want: needsHuman},
		{state: drivers.DeploymentNeedsUserIntervention, info: drivers.InfoNeedsConfigurationOrConfirmation, want: needsHuman},
		{state: drivers.DeploymentNeedsUserIntervention, info: drivers.InfoDeploymentSuspended, want: needsHuman},
		{state: drivers.DeploymentNeedsUserIntervention, info: drivers.InfoDeployPrepared, want: needsHuman},
		{state: drivers.DeploymentNeedsUserIntervention, info: drivers.InfoDeploymentPrepared, want: needsHuman},
		{state: drivers.DeploymentAborted, want: fails},
		{state: drivers.DeploymentFailed, want: fails},
		{state: drivers.DeploymentForceFinished, want: fails},
	}
	for _, tc := range tests {
		name := string(tc.state)
		if tc.info != "" {
			name += "/" + tc.info
		}
		if tc.abortStop {
			name += "/AbortPublishOnStop"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var fake *lifetimetest.Fake
				sim, fake := simAndFake(t, func(*simulate.Sim) lifetimetest.Backend {
					return lifetimetest.BackendFunc(func(ctx context.Context, rel drivers.Release, job *lifetimetest.Job) error {
						job.Log("Info", "forcing "+string(tc.state))
						if err := fake.SetStatus(job.Key(), tc.state, tc.info); err != nil {
							return err
						}
						<-ctx.Done()
						return ctx.Err()
					})
				})
				defer fake.Close()
				plan, rel := throughLifeTime(t, sim, fake, func(c *steps.Config) {
					c.PublishTimeout = 10 * time.Minute
					c.AbortPublishOnStop = tc.abortStop
					c.Plan.Retry = farm.RetryPolicy{MaxAttempts: 1}
				})
				start := time.Now()
				_, err := sim.RunPlan(t.Context(), plan, rel, time.Second)
				require.ErrorIs(t, err, farm.ErrHalted)
				deps := fake.Deployments()
				require.Len(t, deps, 1)
				key := deps[0].Key
				switch tc.want {
				case fails:
					assert.Contains(t, err.Error(), "ended "+string(tc.state))
					assert.Contains(t, err.Error(), "forcing "+string(tc.state), "quotes the log")
				case needsHuman:
					assert.Contains(t, err.Error(), "needs user intervention ("+tc.info+")")
					assert.Zero(t, fake.Count(http.MethodPost, "/deployments/"+key+"/continue/"))
				case timesOut:
					assert.Contains(t, err.Error(), "did not finish within 10m0s")
					assert.GreaterOrEqual(t, time.Since(start), 10*time.Minute)
					polls := fake.Count(http.MethodGet, "/deployments/"+key+"/status/")
					// Every 2 s (the default): about 300 reads in 10 minutes.
					assert.Greater(t, polls, 250)
					assert.Less(t, polls, 350)
				}
				aborts := fake.Count(http.MethodPost, "/deployments/"+key+"/abort/")
				if tc.wantAbort {
					assert.Equal(t, 1, aborts)
				} else {
					assert.Zero(t, aborts, "left as it is")
				}
			})
		})
	}
}

// TestPublishRetriesAnUnavailableContinue makes LifeTime answer 503 to the
// first two continue commands of a prepared deployment: the step tries again
// at its next reads and the run succeeds.
func TestPublishRetriesAnUnavailableContinue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, fake := simAndFake(t, func(sim *simulate.Sim) lifetimetest.Backend {
			return lifetimetest.PlatformBackend{Platform: sim.Platform(), PollInterval: time.Second}
		})
		defer fake.Close()
		fake.SetScript(lifetimetest.Script{PauseInfo: drivers.InfoDeployPrepared})
		fake.Inject(fault.Fault{Op: http.MethodPost, Target: "/continue/", Status: http.StatusServiceUnavailable, Times: 2})
		plan, rel := throughLifeTime(t, sim, fake, func(c *steps.Config) { c.ContinuePrepared = true })
		rep, err := sim.RunPlan(t.Context(), plan, rel, 10*time.Second)
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, rep.Outcome)
		deps := fake.Deployments()
		require.Len(t, deps, 1)
		assert.Equal(t, 3, fake.Count(http.MethodPost, "/deployments/"+deps[0].Key+"/continue/"))
	})
}

// TestResumeAdoptsTheLifeTimeDeployment cancels a run during publish, drops
// the deployment key from the journal, and resumes: the LifeTime client
// finds the running deployment through GET /deployments/ and the resumed
// run follows it (LifeTime deployments: 1).
func TestResumeAdoptsTheLifeTimeDeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sim, fake := simAndFake(t, func(sim *simulate.Sim) lifetimetest.Backend {
			return lifetimetest.PlatformBackend{Platform: sim.Platform(), PollInterval: time.Second}
		})
		defer fake.Close()
		j := &memJournal{}
		plan, rel := throughLifeTime(t, sim, fake, func(c *steps.Config) { c.Plan.Journal = j })
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		require.NoError(t, plan.Before(steps.Publish, farm.Hook{Name: "cancel soon", Func: func(context.Context, *farm.Run) error {
			time.AfterFunc(30*time.Second, cancel)
			return nil
		}}))
		require.NoError(t, sim.Start(t.Context()))
		_, err := plan.Run(ctx)
		require.ErrorIs(t, err, context.Canceled)
		require.Len(t, fake.Deployments(), 1)
		assert.Equal(t, drivers.DeploymentRunning, fake.Deployments()[0].State, "left running")

		var lost []journal.Record
		j.mu.Lock()
		recs := slices.Clone(j.recs)
		j.mu.Unlock()
		for _, r := range recs {
			if r.Kind == journal.Value && r.Key == steps.CapturedDeploymentID {
				continue
			}
			if r.Captured != nil {
				delete(r.Captured.Values, steps.CapturedDeploymentID)
			}
			lost = append(lost, r)
		}
		plan2, _ := throughLifeTime(t, sim, fake, func(c *steps.Config) { c.Plan.Journal = &memJournal{recs: lost} })
		rep, err := plan2.Resume(t.Context(), lost)
		require.NoError(t, err)
		assert.Equal(t, farm.Succeeded, rep.Outcome)
		time.Sleep(10 * time.Second)
		sim.Stop()
		assert.Len(t, fake.Deployments(), 1, "LifeTime deployments: 1")
		assert.Positive(t, fake.Count(http.MethodGet, "/deployments/"))
		assert.Equal(t, "v2", fake.Running("Production", "Portal"))
		assert.Empty(t, sim.CheckEndState(rel))
		assert.Zero(t, sim.Report().TotalViolations(), sim.Report().String())
	})
}

// memJournal is an in-memory journal.Journal.
type memJournal struct {
	mu   sync.Mutex
	recs []journal.Record
}

func (j *memJournal) Append(rec journal.Record) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.recs = append(j.recs, rec)
	return nil
}

func (j *memJournal) LastRun(context.Context) (journal.State, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return journal.LastRunOf(j.recs)
}
