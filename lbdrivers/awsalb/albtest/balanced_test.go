package albtest_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

// TestBalancedThroughALB runs steps.Balanced on a simulated farm under load
// whose load balancer is reached only through the real awsalb driver, the
// AWS SDK and the fake ELBv2 endpoint, backed by the simulator's load
// balancer: deregistered targets drain for the target group's
// deregistration delay, and the engine's drain period is set from it, as
// the awsalb docs advise. Every invariant is checked.
//
// With a deregistration delay shorter than ALB's routing lag (5 s against
// the fake's 10 s), a driver that took "draining" at its word would let the
// engine install on a server that still receives new requests.
func TestBalancedThroughALB(t *testing.T) {
	for _, delay := range []time.Duration{45 * time.Second, 5 * time.Second} {
		t.Run(delay.String(), func(t *testing.T) { balancedThroughALB(t, delay) })
	}
}

func balancedThroughALB(t *testing.T, deregistrationDelay time.Duration) {
	synctest.Test(t, func(t *testing.T) {
		sim, err := simulate.New(simulate.Config{Zones: []simulate.ZoneConfig{{Servers: 4}}, Seed: 7})
		require.NoError(t, err)
		// ALB swaps no two groups in one transaction: the zone is driven
		// through the simulator's plain (non-atomic) load balancer, where
		// stale responses are counted, not violations.
		fake := albtest.New(albtest.Config{Store: albtest.LoadBalancerStore(sim.PlainLoadBalancer(""), deregistrationDelay)})
		ctx := t.Context()
		lb, err := awsalb.New(ctx, awsalb.Config{
			TargetGroupARN: albtest.DefaultTargetGroupARN,
			Client: elbv2.New(elbv2.Options{
				Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
				BaseEndpoint: aws.String("http://elb.test"), HTTPClient: fake.Client(), RetryMaxAttempts: 1,
			}),
		})
		require.NoError(t, err)
		delay, err := lb.DeregistrationDelay(ctx)
		require.NoError(t, err)

		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: lb})
		require.NoError(t, err)
		rel := drivers.Release{Version: "v2"}
		plan, err := steps.Balanced(f, steps.Config{
			Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(), Release: rel,
			DrainPeriod: delay,
			Plan:        farm.PlanConfig{Seed: 1},
		})
		require.NoError(t, err)
		rep, runErr := sim.RunPlan(ctx, plan, rel, 10*time.Second)
		require.NoError(t, runErr)
		r := sim.Report()

		assert.Equal(t, farm.Succeeded, rep.Outcome)
		assert.Zero(t, r.Failed, r.String())
		assert.Zero(t, r.TotalViolations(), r.String())
		assert.Positive(t, r.ServedByVersion["v2"])

		// The drain ends once the deregistration delay has passed (the
		// driver reads the targets out), not at the engine's drain timeout.
		for _, st := range rep.Steps {
			if st.ID == "drain-updating" {
				took := st.Finished.Sub(st.Started)
				assert.GreaterOrEqual(t, took, delay, "drain-updating must wait the deregistration delay")
				assert.Less(t, took, steps.DefaultDrainTimeout, "drain-updating must not run into the drain timeout")
			}
		}

		calls := map[string]int{}
		for _, q := range fake.Requests() {
			calls[q.Action]++
			assert.Empty(t, q.Code, "%s failed", q.Action)
		}
		assert.Positive(t, calls["RegisterTargets"])
		assert.Positive(t, calls["DeregisterTargets"])
		t.Logf("simulated %v, %d requests served, ELBv2 calls %v", r.Elapsed, r.Served, calls)
	})
}
