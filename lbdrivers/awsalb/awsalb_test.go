package awsalb_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
	"github.com/balanced-deploy/balanced/lbdrivers/lbtest"
)

var (
	ids     = []string{"10.0.1.1", "10.0.1.2", "i-0123456789abcdef0"}
	members = []string{"10.0.1.1:80", "10.0.1.2:80", "i-0123456789abcdef0:80"}
)

// env is a driver wired to a fake.
type env struct {
	fake  *albtest.Server
	store *albtest.MemStore
	lb    *awsalb.Driver
	logs  *bytes.Buffer
}

// client returns an SDK client for the fake: anonymous credentials, one
// attempt (no SDK retries), and either a loopback URL or the in-process
// transport (endpoint "" means in process, for synctest bubbles).
func client(fake *albtest.Server, endpoint string) *elbv2.Client {
	o := elbv2.Options{
		Region:           "us-east-1",
		Credentials:      aws.AnonymousCredentials{},
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 1,
	}
	if endpoint == "" {
		o.BaseEndpoint = aws.String("http://elb.test")
		o.HTTPClient = fake.Client()
	}
	return elbv2.New(o)
}

// newEnv registers every member in a fresh fake and returns a driver that
// reaches it in process.
func newEnv(t *testing.T, mc albtest.MemConfig) *env {
	t.Helper()
	if mc.Targets == nil {
		mc.Targets = ids
	}
	store := albtest.NewMemStore(mc)
	fake := albtest.New(albtest.Config{Store: store})
	logs := &bytes.Buffer{}
	lb, err := awsalb.New(context.Background(), awsalb.Config{
		TargetGroupARN: albtest.DefaultTargetGroupARN,
		Client:         client(fake, ""),
		Logger:         slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	require.NoError(t, err)
	require.NoError(t, lb.SetState(context.Background(), drivers.Serving, members...))
	return &env{fake: fake, store: store, lb: lb, logs: logs}
}

// TestConformance runs the lbtest suite against the driver talking to the
// fake over HTTP on loopback.
func TestConformance(t *testing.T) {
	lbtest.Run(t, lbtest.Harness{
		New: func(t *testing.T) drivers.LoadBalancer {
			// Real time here: no routing lag and no settle period (both
			// are tested in synctest bubbles, delay_test.go).
			store := albtest.NewMemStore(albtest.MemConfig{Targets: ids, DeregistrationDelay: time.Minute, RoutingLag: -1})
			fake := albtest.New(albtest.Config{Store: store})
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			lb, err := awsalb.New(t.Context(), awsalb.Config{
				TargetGroupARN: albtest.DefaultTargetGroupARN,
				Client:         client(fake, srv.URL),
				SettlePeriod:   -1,
			})
			require.NoError(t, err)
			require.NoError(t, lb.SetState(t.Context(), drivers.Serving, members...))
			return lb
		},
		Members: members,
		// ALB counts no connections per target: ConnectionsKnown is false,
		// so the suite skips the connection checks as unimplemented.
		UnknownChangesNothing: true,
	})
}
