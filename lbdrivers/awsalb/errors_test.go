package awsalb_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
)

func TestErrorClasses(t *testing.T) {
	tests := []struct {
		name  string
		fault fault.Fault
		call  string // "set" (drain members[0]) or "status"
		class error  // nil: unclassified
	}{
		{"deregister throttled", fault.Fault{Op: "DeregisterTargets", Code: "Throttling", Status: 400, Times: 1}, "set", drivers.ErrUnavailable},
		{"deregister unavailable", fault.Fault{Op: "DeregisterTargets", Code: "ServiceUnavailable", Status: 503, Times: 1}, "set", drivers.ErrUnavailable},
		{"deregister internal failure", fault.Fault{Op: "DeregisterTargets", Code: "InternalFailure", Status: 500, Times: 1}, "set", nil},
		{"deregister access denied", fault.Fault{Op: "DeregisterTargets", Code: "AccessDenied", Status: 403, Times: 1}, "set", drivers.ErrPermissionDenied},
		{"deregister validation", fault.Fault{Op: "DeregisterTargets", Code: "ValidationError", Status: 400, Times: 1}, "set", drivers.ErrInvalidArgument},
		{"describe throttled", fault.Fault{Op: "DescribeTargetHealth", Code: "Throttling", Status: 400, Times: 1}, "status", drivers.ErrUnavailable},
		{"describe internal failure", fault.Fault{Op: "DescribeTargetHealth", Code: "InternalFailure", Status: 500, Times: 1}, "status", drivers.ErrUnavailable},
		{"describe before set throttled", fault.Fault{Op: "DescribeTargetHealth", Code: "RequestLimitExceeded", Status: 400, Times: 1}, "set", drivers.ErrUnavailable},
		{"target group gone", fault.Fault{Code: "TargetGroupNotFound", Status: 400, Times: 1}, "status", drivers.ErrNotFound},
		{"expired credentials", fault.Fault{Code: "ExpiredToken", Status: 403, Times: 1}, "status", drivers.ErrPermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, albtest.MemConfig{})
			e.fake.Inject(tc.fault)
			var err error
			if tc.call == "set" {
				err = e.lb.SetState(context.Background(), drivers.Draining, members[0])
			} else {
				_, err = e.lb.Status(context.Background(), members[0])
			}
			require.Error(t, err)
			assert.Equal(t, tc.class, drivers.Class(err), "class of %v", err)
			assert.Contains(t, err.Error(), members[0])
			assert.Contains(t, err.Error(), tc.fault.Code)
			h, err := e.store.Describe(context.Background(), []albtest.Target{{ID: ids[0]}})
			require.NoError(t, err)
			assert.Equal(t, "healthy", h[0].State, "a refused call changes nothing")
		})
	}
}

func TestUnknownTargetChangesNothing(t *testing.T) {
	e := newEnv(t, albtest.MemConfig{})
	err := e.lb.SetState(context.Background(), drivers.Out, members[0], "10.9.9.9:80")
	require.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), "10.9.9.9")
	for _, r := range e.fake.Requests()[1:] { // after newEnv's registration
		assert.NotEqual(t, "DeregisterTargets", r.Action)
	}
}

func TestOneCallForSeveralMembers(t *testing.T) {
	e := newEnv(t, albtest.MemConfig{})
	require.NoError(t, e.lb.SetState(context.Background(), drivers.Draining, members...))
	require.NoError(t, e.lb.SetState(context.Background(), drivers.Out, members...)) // already deregistered
	var calls []string
	for _, r := range e.fake.Requests() {
		if r.Action == "DeregisterTargets" {
			calls = append(calls, r.Form.Get("Targets.member.3.Id"))
			assert.Equal(t, "80", r.Form.Get("Targets.member.1.Port"))
		}
	}
	assert.Equal(t, []string{ids[2]}, calls, "one DeregisterTargets call with all three targets, none for the no-op")
	assert.Contains(t, e.logs.String(), "deregistered")
}

func TestOtherTargetGroupNotFound(t *testing.T) {
	e := newEnv(t, albtest.MemConfig{})
	lb, err := awsalb.New(context.Background(), awsalb.Config{
		TargetGroupARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/other/fedcba9876543210",
		Client:         client(e.fake, ""),
	})
	require.NoError(t, err)
	_, err = lb.Status(context.Background())
	require.ErrorIs(t, err, drivers.ErrNotFound)
	assert.Contains(t, err.Error(), "TargetGroupNotFound")
}

func TestConnectionRefusedIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	lb, err := awsalb.New(context.Background(), awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Client: client(albtest.New(albtest.Config{}), url)})
	require.NoError(t, err)
	err = lb.SetState(context.Background(), drivers.Out, members[0])
	require.ErrorIs(t, err, drivers.ErrUnavailable)
	_, err = lb.DeregistrationDelay(context.Background())
	require.ErrorIs(t, err, drivers.ErrUnavailable)
}

func TestHostileAndValidNames(t *testing.T) {
	e := newEnv(t, albtest.MemConfig{Targets: append([]string{"2001:db8::1"}, ids...)})
	for _, m := range []string{"", "a b", "i-1;x", "10.0.0.1:0", "10.0.0.1:65536", "x:080", "fe80::1%eth0", "../x", "a&Action=DeleteTargetGroup", "i-1\n"} {
		err := e.lb.SetState(context.Background(), drivers.Out, m)
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, "member %q", m)
	}
	require.NoError(t, e.lb.SetState(context.Background(), drivers.Serving, "[2001:db8::1]:443", "2001:db8::1"))
	st, err := e.lb.Status(context.Background(), "[2001:db8::1]:443")
	require.NoError(t, err)
	assert.Equal(t, drivers.Serving, st[0].State)
}

func TestConfig(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	ctx := context.Background()
	for _, arn := range []string{"", "arn:aws:elasticloadbalancing:us-east-1:123:targetgroup/web/0123456789abcdef", "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/0123456789abcdef", "web"} {
		_, err := awsalb.New(ctx, awsalb.Config{TargetGroupARN: arn})
		require.ErrorIs(t, err, drivers.ErrInvalidArgument, "ARN %q", arn)
		assert.Contains(t, err.Error(), "TargetGroupARN")
	}
	_, err := awsalb.New(ctx, awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Region: "us east"})
	require.ErrorIs(t, err, drivers.ErrInvalidArgument)
	// No client: the SDK's default configuration, region from the ARN. No
	// API call is made.
	lb, err := awsalb.New(ctx, awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN})
	require.NoError(t, err)
	require.NotNil(t, lb)
}

// TestErrorsNeverEchoEndpointSecrets: the driver takes no URL, but a client
// built with a custom endpoint (a VPC endpoint, a proxy) has one. The SDK
// does not send the endpoint's user information and its errors do not
// quote it (net/http alone would print a user name); this pins that the
// driver's errors stay free of it.
func TestErrorsNeverEchoEndpointSecrets(t *testing.T) {
	for _, endpoint := range []string{"http://TOKEN-s3cr3t@127.0.0.1:1", "http://u:s3cr3t@127.0.0.1:1"} {
		c := elbv2.New(elbv2.Options{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1})
		lb, err := awsalb.New(context.Background(), awsalb.Config{TargetGroupARN: albtest.DefaultTargetGroupARN, Client: c})
		require.NoError(t, err)
		_, err = lb.Status(t.Context(), "10.0.0.1")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cr3t")
		assert.Contains(t, err.Error(), "127.0.0.1:1")
		assert.ErrorIs(t, err, drivers.ErrUnavailable, "%v", err)
	}
}
