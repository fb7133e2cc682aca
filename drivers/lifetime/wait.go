package lifetime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Wait follows deployment id until it ends and returns its last status.
//
//   - saved, running and aborting: it keeps polling, first after
//     PollInterval, then each delay half as long again, up to
//     MaxPollInterval (the delay restarts when the state changes).
//   - finished_successful and finished_with_warnings: it returns the status
//     and nil.
//   - finished_with_errors, aborted and force_finished: it returns the status
//     and an error wrapping [ErrDeploymentFailed] that quotes the log's
//     last errors.
//   - needs_user_intervention with Info deployment_prepared: it continues the
//     deployment once when Config.ContinuePrepared is set. Any other Info,
//     or deployment_prepared without ContinuePrepared, returns an error
//     wrapping [ErrNeedsUserIntervention] that names the Info; the
//     deployment is left waiting for a human.
//
// Up to MaxPollErrors consecutive retryable errors (wrapping
// [drivers.ErrUnavailable]) of the status read, and as many of continue,
// are tolerated; any other error is returned.
// Every new deployment log line goes to Config.OnLog once.
//
// When ctx ends, Wait reads the status once more on a fresh context bounded
// by AbortTimeout and, if the deployment is still running or waiting for
// user intervention (the states in which LifeTime accepts an abort), or its
// state could not be read, sends abort. It then returns an error wrapping
// ctx.Err().
func (c *Client) Wait(ctx context.Context, id string) (drivers.DeploymentStatus, error) {
	if err := checkID(id); err != nil {
		return drivers.DeploymentStatus{}, err
	}
	var (
		last      drivers.DeploymentStatus
		delay     = c.cfg.PollInterval
		seen      int  // log lines already passed to OnLog
		failures  int  // consecutive retryable errors
		continued bool // continue sent for the current pause

		continueFailures int // retryable errors of continue
	)
	for {
		st, err := c.DeploymentStatus(ctx, id)
		switch {
		case err != nil && ctx.Err() != nil:
			return c.abandon(ctx, id, last)
		case err != nil && drivers.IsRetryable(err) && failures < c.cfg.MaxPollErrors:
			failures++
			c.logger.Warn("lifetime: deployment status unavailable; retrying", "deployment", id, "attempt", failures, "error", err)
		case err != nil:
			return last, err
		default:
			failures = 0
			seen = c.report(id, st.Log, seen)
			if st.State != last.State || st.Info != last.Info {
				c.logger.Info("lifetime: deployment state", "deployment", id, "state", st.State, "info", st.Info)
				delay = c.cfg.PollInterval
			}
			last = st
			if st.State.Done() {
				if st.State.Succeeded() {
					return st, nil
				}
				return st, fmt.Errorf("lifetime: deployment %s ended %s: %w%s", id, st.State, ErrDeploymentFailed, lastMessages(st))
			}
			if st.State == drivers.DeploymentNeedsUserIntervention {
				if !st.Prepared() || !c.cfg.ContinuePrepared {
					hint := ""
					if st.Prepared() {
						hint = " (set ContinuePrepared to continue prepared deployments automatically)"
					}
					return st, fmt.Errorf("lifetime: deployment %s stopped with Info %q: %w%s", id, st.Info, ErrNeedsUserIntervention, hint)
				}
				if !continued {
					err := c.ContinueDeployment(ctx, id)
					switch {
					case err == nil:
						c.logger.Info("lifetime: continued the prepared deployment", "deployment", id)
						continued = true
					case ctx.Err() != nil:
						return c.abandon(ctx, id, last)
					case errors.Is(err, drivers.ErrInvalidArgument):
						// 400: the state moved on meanwhile; the next poll tells.
						c.logger.Warn("lifetime: continue refused; polling again", "deployment", id, "error", err)
						continued = true
					case drivers.IsRetryable(err) && continueFailures < c.cfg.MaxPollErrors:
						continueFailures++
						c.logger.Warn("lifetime: continue unavailable; retrying at the next poll", "deployment", id, "attempt", continueFailures, "error", err)
					default:
						return st, err
					}
				}
			} else {
				continued = false
			}
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return c.abandon(ctx, id, last)
		case <-timer.C:
		}
		delay = min(delay+delay/2, c.cfg.MaxPollInterval)
	}
}

// report passes log lines from index seen on to OnLog and returns the new
// count.
func (c *Client) report(id string, log []drivers.LogEntry, seen int) int {
	if seen > len(log) {
		seen = len(log) // the log shrank: never report twice
	}
	if c.cfg.OnLog != nil {
		for _, e := range log[seen:] {
			c.cfg.OnLog(id, e)
		}
	}
	return len(log)
}

// abandon runs once Wait's context has ended: it aborts the deployment while
// LifeTime still accepts an abort, on a fresh context.
func (c *Client) abandon(ctx context.Context, id string, last drivers.DeploymentStatus) (drivers.DeploymentStatus, error) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.AbortTimeout)
	defer cancel()
	cause := fmt.Errorf("lifetime: wait for deployment %s: %w", id, ctx.Err())
	st, err := c.DeploymentStatus(actx, id)
	if err != nil {
		c.logger.Warn("lifetime: could not read the deployment state before aborting; aborting anyway", "deployment", id, "error", err)
		st = last
	} else if st.State != drivers.DeploymentRunning && st.State != drivers.DeploymentNeedsUserIntervention {
		return st, cause // LifeTime would refuse the abort
	}
	if err := c.AbortDeployment(actx, id); err != nil {
		c.logger.Error("lifetime: abort after cancellation failed", "deployment", id, "error", err)
		return st, fmt.Errorf("%w (abort failed: %v)", cause, err)
	}
	c.logger.Warn("lifetime: deployment aborted because the wait was cancelled", "deployment", id)
	return st, cause
}

// lastMessages quotes the last log lines, whatever they say: LifeTime's
// log entries have no type (Swagger DeploymentMessage).
func lastMessages(st drivers.DeploymentStatus) string {
	msgs := st.LastMessages(3)
	if len(msgs) == 0 {
		return ""
	}
	return ": " + strings.Join(msgs, "; ")
}
