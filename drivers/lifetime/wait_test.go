package lifetime_test

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/drivers/lifetime"
	"github.com/balanced-deploy/balanced/drivers/lifetime/lifetimetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gate is a backend that blocks until released (or aborted).
type gate chan struct{}

func (g gate) Deploy(ctx context.Context, rel drivers.Release, job *lifetimetest.Job) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-g:
		return nil
	}
}

// TestWaitEveryStatus forces each LifeTime status (and each Info of
// needs_user_intervention) on a running deployment and checks what Wait
// does with it.
func TestWaitEveryStatus(t *testing.T) {
	type outcome int
	const (
		succeeds     outcome = iota // returns the status and nil
		fails                       // ErrDeploymentFailed
		needsHuman                  // ErrNeedsUserIntervention naming the Info
		keepsPolling                // still waiting when the context ends
	)
	tests := []struct {
		state            drivers.DeploymentState
		info             string
		continuePrepared bool
		want             outcome
		wantAbort        bool // abort sent when the wait is cancelled
		wantContinue     bool
	}{
		{state: drivers.DeploymentSaved, want: keepsPolling},
		{state: drivers.DeploymentRunning, want: keepsPolling, wantAbort: true},
		{state: drivers.DeploymentAborting, want: keepsPolling},
		{state: drivers.DeploymentNeedsUserIntervention, info: lifetime.InfoBusinessProcessImpact, want: needsHuman},
		{state: drivers.DeploymentNeedsUserIntervention, info: lifetime.InfoNeedsConfigurationOrConfirmation, want: needsHuman},
		{state: drivers.DeploymentNeedsUserIntervention, info: lifetime.InfoDeploymentSuspended, want: needsHuman},
		{state: drivers.DeploymentNeedsUserIntervention, info: lifetime.InfoDeploymentSuspended, continuePrepared: true, want: needsHuman},
		{state: drivers.DeploymentNeedsUserIntervention, info: lifetime.InfoDeploymentPrepared, want: needsHuman},
		{state: drivers.DeploymentNeedsUserIntervention, info: lifetime.InfoDeploymentPrepared, continuePrepared: true, want: succeeds, wantContinue: true},
		{state: drivers.DeploymentAborted, want: fails},
		{state: drivers.DeploymentSucceeded, want: succeeds},
		{state: drivers.DeploymentSucceededWithWarnings, want: succeeds},
		{state: drivers.DeploymentFailed, want: fails},
		{state: drivers.DeploymentForceFinished, want: fails},
	}
	for _, tc := range tests {
		name := string(tc.state)
		if tc.info != "" {
			name += "/" + tc.info
		}
		if tc.continuePrepared {
			name += "/ContinuePrepared"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				g := make(gate)
				f := lifetimetest.New(fakeConfig(g))
				defer f.Close()
				c, logs := inProcess(t, f, func(cfg *lifetime.Config) { cfg.ContinuePrepared = tc.continuePrepared })
				if tc.wantContinue {
					// The fake itself pauses before the backend runs; the
					// backend, once reached, finishes at once.
					f.SetScript(lifetimetest.Script{PauseInfo: tc.info})
					close(g)
				}
				id, err := c.StartDeployment(t.Context(), release2)
				require.NoError(t, err)
				if !tc.wantContinue {
					require.NoError(t, f.SetStatus(id, tc.state, tc.info))
				}

				ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
				defer cancel()
				start := time.Now()
				st, err := c.Wait(ctx, id)
				synctest.Wait()

				switch tc.want {
				case succeeds:
					require.NoError(t, err)
					assert.True(t, st.State.Succeeded())
				case fails:
					require.ErrorIs(t, err, lifetime.ErrDeploymentFailed)
					assert.Contains(t, err.Error(), string(tc.state))
					assert.Equal(t, tc.state, st.State)
				case needsHuman:
					require.ErrorIs(t, err, lifetime.ErrNeedsUserIntervention)
					assert.Contains(t, err.Error(), tc.info)
					assert.Less(t, time.Since(start), time.Second, "returns at once")
				case keepsPolling:
					require.ErrorIs(t, err, context.DeadlineExceeded)
					assert.Equal(t, time.Hour, time.Since(start))
					polls := f.Count(http.MethodGet, "/deployments/"+id+"/status/")
					// 1 s growing by half up to 10 s: about 360 polls in an hour,
					// plus the one read on cancellation.
					assert.Greater(t, polls, 300)
					assert.Less(t, polls, 400)
				}
				aborts := f.Count(http.MethodPost, "/deployments/"+id+"/abort/")
				if tc.wantAbort {
					assert.Equal(t, 1, aborts, "abort sent on cancellation")
					d, _ := f.Deployment(id)
					assert.Equal(t, drivers.DeploymentAborted, d.State)
					assert.Contains(t, logs.String(), "deployment aborted because the wait was cancelled")
				} else {
					assert.Zero(t, aborts)
				}
				continues := f.Count(http.MethodPost, "/deployments/"+id+"/continue/")
				if tc.wantContinue {
					assert.Equal(t, 1, continues)
				} else {
					assert.Zero(t, continues)
				}
			})
		})
	}
}

func TestWaitAbortsOnCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(fakeConfig(lifetimetest.DelayBackend{Duration: 2 * time.Hour}))
		defer f.Close()
		c, _ := inProcess(t, f, nil)
		id, err := c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)

		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(10*time.Minute, cancel)
		st, err := c.Wait(ctx, id)
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, drivers.DeploymentRunning, st.State)
		assert.Equal(t, 1, f.Count(http.MethodPost, "/deployments/"+id+"/abort/"))
		synctest.Wait()
		d, _ := f.Deployment(id)
		assert.Equal(t, drivers.DeploymentAborted, d.State)
		assert.Equal(t, "1.0", f.Running("Production", "Portal"), "nothing installed")
	})
}

func TestWaitAbortsWhilePaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(fakeConfig(nil))
		defer f.Close()
		f.SetScript(lifetimetest.Script{PauseInfo: lifetime.InfoDeploymentPrepared})
		c, _ := inProcess(t, f, nil)
		id, err := c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		// Without ContinuePrepared Wait stops; the caller then gives up.
		_, err = c.Wait(t.Context(), id)
		require.ErrorIs(t, err, lifetime.ErrNeedsUserIntervention)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = c.Wait(ctx, id)
		require.ErrorIs(t, err, context.Canceled)
		synctest.Wait()
		assert.Equal(t, 1, f.Count(http.MethodPost, "/deployments/"+id+"/abort/"))
		d, _ := f.Deployment(id)
		assert.Equal(t, drivers.DeploymentAborted, d.State)
	})
}

func TestWaitContinuesPreparedDeployment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(fakeConfig(lifetimetest.DelayBackend{Duration: 3 * time.Minute}))
		defer f.Close()
		f.SetScript(lifetimetest.Script{PauseInfo: lifetime.InfoDeploymentPrepared})
		c, _ := inProcess(t, f, func(cfg *lifetime.Config) { cfg.ContinuePrepared = true })
		id, err := c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		start := time.Now()
		st, err := c.Wait(t.Context(), id)
		require.NoError(t, err)
		assert.Equal(t, drivers.DeploymentSucceeded, st.State)
		assert.GreaterOrEqual(t, time.Since(start), 3*time.Minute)
		assert.Equal(t, 1, f.Count(http.MethodPost, "/deployments/"+id+"/continue/"))
		assert.Equal(t, "2.0", f.Running("Production", "Backoffice"))
	})
}

func TestWaitEndStatesFromTheFake(t *testing.T) {
	tests := []struct {
		name    string
		backend lifetimetest.Backend
		script  lifetimetest.Script
		want    drivers.DeploymentState
		wantErr error
		inError string
	}{
		{"success", lifetimetest.DelayBackend{Duration: time.Minute}, lifetimetest.Script{}, drivers.DeploymentSucceeded, nil, ""},
		{"warnings", lifetimetest.BackendFunc(func(ctx context.Context, rel drivers.Release, job *lifetimetest.Job) error {
			job.Log("Warning", "module X has a broken reference")
			return nil
		}), lifetimetest.Script{}, drivers.DeploymentSucceededWithWarnings, nil, ""},
		{"errors", lifetimetest.BackendFunc(func(ctx context.Context, rel drivers.Release, job *lifetimetest.Job) error {
			return context.DeadlineExceeded // any error
		}), lifetimetest.Script{}, drivers.DeploymentFailed, lifetime.ErrDeploymentFailed, "context deadline exceeded"},
		{"force finished", nil, lifetimetest.Script{Result: drivers.DeploymentForceFinished}, drivers.DeploymentForceFinished, lifetime.ErrDeploymentFailed, "force_finished"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := lifetimetest.New(fakeConfig(tc.backend))
				defer f.Close()
				f.SetScript(tc.script)
				c, _ := inProcess(t, f, nil)
				id, err := c.StartDeployment(t.Context(), release2)
				require.NoError(t, err)
				st, err := c.Wait(t.Context(), id)
				assert.Equal(t, tc.want, st.State)
				if tc.wantErr == nil {
					require.NoError(t, err)
					return
				}
				require.ErrorIs(t, err, tc.wantErr)
				assert.Contains(t, err.Error(), tc.inError)
			})
		})
	}
}

func TestWaitToleratesTransientErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(fakeConfig(lifetimetest.DelayBackend{Duration: time.Minute}))
		defer f.Close()
		c, logs := inProcess(t, f, func(cfg *lifetime.Config) { cfg.MaxPollErrors = 3 })
		id, err := c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		f.InjectError(http.MethodGet, "/status/", http.StatusServiceUnavailable, 3)
		_, err = c.Wait(t.Context(), id)
		require.NoError(t, err)
		assert.Contains(t, logs.String(), "deployment status unavailable; retrying")

		id, err = c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		f.InjectError(http.MethodGet, "/status/", http.StatusServiceUnavailable, 4)
		_, err = c.Wait(t.Context(), id)
		require.ErrorIs(t, err, drivers.ErrUnavailable, "the fourth consecutive error is returned")
	})
}

func TestWaitBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(fakeConfig(lifetimetest.DelayBackend{Duration: 10 * time.Minute}))
		defer f.Close()
		c, _ := inProcess(t, f, func(cfg *lifetime.Config) {
			cfg.PollInterval = 2 * time.Second
			cfg.MaxPollInterval = 30 * time.Second
		})
		id, err := c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		start := time.Now()
		_, err = c.Wait(t.Context(), id)
		require.NoError(t, err)
		elapsed := time.Since(start)
		polls := f.Count(http.MethodGet, "/deployments/"+id+"/status/")
		// 2, 3, 4.5, 6.75, 10.1, 15.2, 22.8, 30, 30, ... seconds: about 25
		// polls in ten minutes, not the 300 a fixed 2 s would make.
		assert.Greater(t, polls, 15)
		assert.Less(t, polls, 35)
		assert.GreaterOrEqual(t, elapsed, 10*time.Minute)
		assert.Less(t, elapsed, 10*time.Minute+31*time.Second, "done within one max interval")
	})
}

func TestWaitAbortsWhenStateUnreadable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(fakeConfig(lifetimetest.DelayBackend{Duration: time.Hour}))
		defer f.Close()
		c, logs := inProcess(t, f, func(cfg *lifetime.Config) { cfg.MaxPollErrors = 1000 })
		id, err := c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		f.InjectError(http.MethodGet, "/status/", http.StatusServiceUnavailable, 1_000_000)
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
		defer cancel()
		_, err = c.Wait(ctx, id)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 1, f.Count(http.MethodPost, "/deployments/"+id+"/abort/"), "aborted although its state could not be read")
		assert.Contains(t, logs.String(), "aborting anyway")
		synctest.Wait()
		d, _ := f.Deployment(id)
		assert.Equal(t, drivers.DeploymentAborted, d.State)
	})
}

func TestWaitReportsFailedAbort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(fakeConfig(lifetimetest.DelayBackend{Duration: time.Hour}))
		defer f.Close()
		c, _ := inProcess(t, f, nil)
		id, err := c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		f.InjectError(http.MethodPost, "/abort/", http.StatusForbidden, 1)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err = c.Wait(ctx, id)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "abort failed")
		assert.Contains(t, err.Error(), "HTTP 403")
	})
}

func TestWaitRetriesAnUnavailableContinue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := lifetimetest.New(fakeConfig(nil))
		defer f.Close()
		f.SetScript(lifetimetest.Script{PauseInfo: lifetime.InfoDeploymentPrepared})
		c, _ := inProcess(t, f, func(cfg *lifetime.Config) { cfg.ContinuePrepared = true; cfg.MaxPollErrors = 2 })
		id, err := c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		f.InjectError(http.MethodPost, "/continue/", http.StatusServiceUnavailable, 2)
		_, err = c.Wait(t.Context(), id)
		require.NoError(t, err)
		assert.Equal(t, 3, f.Count(http.MethodPost, "/deployments/"+id+"/continue/"))

		id, err = c.StartDeployment(t.Context(), release2)
		require.NoError(t, err)
		f.InjectError(http.MethodPost, "/continue/", http.StatusServiceUnavailable, 3)
		_, err = c.Wait(t.Context(), id)
		require.ErrorIs(t, err, drivers.ErrUnavailable)
		assert.Contains(t, err.Error(), "continue deployment")
	})
}
