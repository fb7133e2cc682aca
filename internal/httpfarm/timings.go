package httpfarm

import (
	"time"

	"github.com/balanced-deploy/balanced/steps"
)

// Timings returns c with the waits of steps.Balanced scaled down for a
// real-time run on loopback against a Farm (installs of about a second):
// 50 ms load-balancer polls, 100 ms platform polls, 5 s drain timeout that
// fails the step, 10 s health timeout, 30 s publish and install timeouts.
func Timings(c steps.Config) steps.Config {
	c.PollInterval = 50 * time.Millisecond
	c.DeployPollInterval = 100 * time.Millisecond
	c.ProgressInterval = time.Second
	c.DrainTimeout = 5 * time.Second
	c.FailOnDrainTimeout = true
	c.HealthTimeout = 10 * time.Second
	c.ConfirmDelay = 50 * time.Millisecond
	c.PublishTimeout = 30 * time.Second
	c.InstallTimeout = 30 * time.Second
	return c
}
