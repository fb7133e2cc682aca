package awsalb_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
)

// The timing tests run in a synctest bubble: the fake's MemStore moves
// targets through initial/healthy and draining/unused with time.Now, the
// bubble's virtual clock, and the SDK client reaches the fake in process
// (albtest.Server.Client), since sockets do not work in a bubble.

func TestDeregistrationDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, albtest.MemConfig{DeregistrationDelay: 300 * time.Second})
		ctx := context.Background()
		d, err := e.lb.DeregistrationDelay(ctx)
		require.NoError(t, err)
		assert.Equal(t, 300*time.Second, d)

		require.NoError(t, e.lb.SetState(ctx, drivers.Draining, members[0]))
		// A driver without memory of the request (a new process) reads
		// ALB's own states.
		fresh, err := awsalb.New(ctx, awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Client: client(e.fake, "")})
		require.NoError(t, err)
		for _, lb := range []*awsalb.Driver{e.lb, fresh} {
			st, err := lb.Status(ctx, members[0])
			require.NoError(t, err)
			assert.Equal(t, drivers.MemberStatus{Member: members[0], State: drivers.Draining, Health: drivers.HealthUnknown}, st[0])
		}
		time.Sleep(299 * time.Second)
		st, err := fresh.Status(ctx, members[0])
		require.NoError(t, err)
		assert.Equal(t, drivers.Draining, st[0].State, "still within the deregistration delay")
		time.Sleep(time.Second)
		st, err = fresh.Status(ctx, members[0])
		require.NoError(t, err)
		assert.Equal(t, drivers.Out, st[0].State, "the delay has passed: unused")
		st, err = e.lb.Status(ctx, members[0])
		require.NoError(t, err)
		assert.Equal(t, drivers.Out, st[0].State, "the drain is over: the engine may take it out")

		// Draining an unused target: Draining for one delay, as ALB would
		// drain a registered one, then Out.
		require.NoError(t, e.lb.SetState(ctx, drivers.Draining, members[0]))
		st, err = e.lb.Status(ctx, members[0])
		require.NoError(t, err)
		assert.Equal(t, drivers.Draining, st[0].State)
		time.Sleep(300 * time.Second)
		st, err = e.lb.Status(ctx, members[0])
		require.NoError(t, err)
		assert.Equal(t, drivers.Out, st[0].State)
		require.NoError(t, e.lb.SetState(ctx, drivers.Draining, members[0]))

		// Out after SetState(Out) once the settle period has passed (ALB
		// may route new requests to it until then), even while ALB drains.
		require.NoError(t, e.lb.SetState(ctx, drivers.Out, members[1]))
		st, err = e.lb.Status(ctx, members[1])
		require.NoError(t, err)
		assert.Equal(t, drivers.Draining, st[0].State, "within the settle period")
		time.Sleep(awsalb.DefaultSettlePeriod)
		st, err = e.lb.Status(ctx, members[1])
		require.NoError(t, err)
		assert.Equal(t, drivers.Out, st[0].State)
		st, err = fresh.Status(ctx, members[1])
		require.NoError(t, err)
		assert.Equal(t, drivers.Draining, st[0].State, "ALB itself still drains it")

		// Listing: unused targets vanish from ALB's list; the driver still
		// lists the ones it took out.
		all, err := e.lb.Status(ctx)
		require.NoError(t, err)
		got := map[string]drivers.MemberState{}
		for _, s := range all {
			got[s.Member] = s.State
		}
		assert.Equal(t, map[string]drivers.MemberState{members[0]: drivers.Draining, members[1]: drivers.Out, members[2]: drivers.Serving}, got)
		all, err = fresh.Status(ctx)
		require.NoError(t, err)
		assert.Len(t, all, 2, "ALB lists registered and draining targets only")
	})
}

func TestHealthCheckDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, albtest.MemConfig{HealthCheckDelay: 30 * time.Second})
		ctx := context.Background()
		st, err := e.lb.Status(ctx, members...)
		require.NoError(t, err)
		for _, s := range st {
			assert.Equal(t, drivers.Serving, s.State)
			assert.Equal(t, drivers.HealthUnknown, s.Health, "initial: health checks not passed yet")
			assert.False(t, s.ConnectionsKnown)
		}
		time.Sleep(30 * time.Second)
		e.store.SetHealthy(ids[1], false)
		st, err = e.lb.Status(ctx, members...)
		require.NoError(t, err)
		assert.Equal(t, []drivers.Health{drivers.Healthy, drivers.Unhealthy, drivers.Healthy}, []drivers.Health{st[0].Health, st[1].Health, st[2].Health})

		// Re-registering a draining target starts it over as initial.
		require.NoError(t, e.lb.SetState(ctx, drivers.Draining, members[0]))
		time.Sleep(10 * time.Second)
		require.NoError(t, e.lb.SetState(ctx, drivers.Serving, members[0]))
		st, err = e.lb.Status(ctx, members[0])
		require.NoError(t, err)
		assert.Equal(t, drivers.Serving, st[0].State)
		assert.Equal(t, drivers.HealthUnknown, st[0].Health)
	})
}

// TestThrottlingThroughSDKRetries keeps the SDK's own retryer (3 attempts,
// with backoff in virtual time): the exhausted retries still classify as
// ErrUnavailable, and every attempt reached the fake.
func TestThrottlingThroughSDKRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := albtest.NewMemStore(albtest.MemConfig{Targets: ids})
		fake := albtest.New(albtest.Config{Store: store})
		c := elbv2.New(elbv2.Options{
			Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
			BaseEndpoint: aws.String("http://elb.test"), HTTPClient: fake.Client(), RetryMaxAttempts: 3,
		})
		lb, err := awsalb.New(context.Background(), awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Client: c})
		require.NoError(t, err)
		fake.Inject(fault.Fault{Op: "RegisterTargets", Code: "Throttling", Status: 400})
		err = lb.SetState(context.Background(), drivers.Serving, members[0])
		require.ErrorIs(t, err, drivers.ErrUnavailable)
		n := 0
		for _, r := range fake.Requests() {
			if r.Action == "RegisterTargets" {
				n++
				assert.Equal(t, "Throttling", r.Code)
			}
		}
		assert.Equal(t, 3, n, "the SDK retried throttling itself")
		h, err := store.Describe(context.Background(), []albtest.Target{{ID: ids[0]}})
		require.NoError(t, err)
		assert.Equal(t, "unused", h[0].State)
	})
}

// TestOutOnlyOnceNoLongerRouted: ALB deregisters asynchronously; new
// requests can reach a target for a while after DeregisterTargets although
// DescribeTargetHealth reads it draining (the fake's RoutingLag, 10 s by
// default). The driver reports a deregistered target Out only once it reads
// draining or unused and the settle period has passed, so "Out" never
// names a target that can still receive a new request; and it never reads
// Serving again (the engine treats that as someone else's change).
func TestOutOnlyOnceNoLongerRouted(t *testing.T) {
	for _, tc := range []struct {
		name  string
		state drivers.MemberState
		delay time.Duration
	}{
		{"out", drivers.Out, 300 * time.Second},
		{"draining, short delay", drivers.Draining, 5 * time.Second},
		{"draining, no delay", drivers.Draining, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, albtest.MemConfig{DeregistrationDelay: tc.delay})
				ctx := context.Background()
				target := albtest.Target{ID: ids[0], Port: 80}
				require.True(t, e.store.Routes(target))
				start := time.Now()
				require.NoError(t, e.lb.SetState(ctx, tc.state, members[0]))
				var outAt time.Duration
				for time.Since(start) < 2*awsalb.DefaultSettlePeriod {
					st, err := e.lb.Status(ctx, members[0])
					require.NoError(t, err)
					require.NotEqual(t, drivers.Serving, st[0].State, "at %v", time.Since(start))
					if st[0].State == drivers.Out {
						require.False(t, e.store.Routes(target), "reads out at %v while ALB still routes new requests to it", time.Since(start))
						if outAt == 0 {
							outAt = time.Since(start)
						}
					}
					time.Sleep(time.Second)
				}
				require.NotZero(t, outAt, "reads out eventually")
				assert.LessOrEqual(t, outAt, awsalb.DefaultSettlePeriod+time.Second, "out once the settle period has passed")
			})
		})
	}
}

// TestSettlePeriodConfigurable: SettlePeriod sets the wait; negative
// disables it; a driver with no memory of the deregistration (a new
// process) counts the settle period from its first reading.
func TestSettlePeriodConfigurable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		for _, tc := range []struct {
			settle, want time.Duration
		}{{0, awsalb.DefaultSettlePeriod}, {3 * time.Second, 3 * time.Second}, {-1, 0}} {
			e := newEnv(t, albtest.MemConfig{RoutingLag: -1})
			lb, err := awsalb.New(ctx, awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Client: client(e.fake, ""), SettlePeriod: tc.settle})
			require.NoError(t, err)
			require.NoError(t, lb.SetState(ctx, drivers.Out, members[1]))
			fresh, err := awsalb.New(ctx, awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Client: client(e.fake, ""), SettlePeriod: tc.settle})
			require.NoError(t, err)
			state := func(d *awsalb.Driver) drivers.MemberState {
				st, err := d.Status(ctx, members[1])
				require.NoError(t, err)
				return st[0].State
			}
			if tc.want > 0 {
				assert.Equal(t, drivers.Draining, state(lb), "settle %v: not out yet", tc.settle)
				assert.Equal(t, drivers.Draining, state(fresh))
				time.Sleep(tc.want - time.Millisecond)
				assert.Equal(t, drivers.Draining, state(lb), "settle %v: not out yet", tc.settle)
				time.Sleep(time.Millisecond)
			}
			assert.Equal(t, drivers.Out, state(lb), "settle %v: out", tc.settle)
			// ALB still drains it (300 s): a new driver reads draining.
			assert.Equal(t, drivers.Draining, state(fresh))
		}
		_, err := awsalb.New(ctx, awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Client: client(nil, "http://127.0.0.1:1"), SettlePeriod: 2 * time.Hour})
		assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
	})
}
