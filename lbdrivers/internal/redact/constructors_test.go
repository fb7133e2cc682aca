package redact_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/lbdrivers/awsalb"
	"github.com/balanced-deploy/balanced/lbdrivers/f5"
	"github.com/balanced-deploy/balanced/lbdrivers/nginx"
)

// badURLs hold secrets in their user information: a token as the user
// name (which url.URL.Redacted would print), a password, and a password
// with a bad %-escape (which url.Parse refuses, quoting the whole URL in
// its error).
var badURLs = []struct{ name, url string }{
	{"token as user", "https://TOKEN-s3cr3t@lb.example:8443/"},
	{"user and password", "https://u:s3cr3t@lb.example:8443/"},
	{"bad escape in password", "https://u:pa%zzs3cr3t@lb.example:8443/"},
	{"bad escape with a query", "https://u:pa%zzs3cr3t@lb.example:8443/api?token=s3cr3t"},
	{"token in the query", "https://lb.example:8443/api?token=s3cr3t"},
}

// TestConstructorsNeverEchoSecrets runs every load-balancer constructor
// that takes a URL over URLs holding secrets: each refuses them with
// ErrInvalidArgument and an error that does not contain the secret.
func TestConstructorsNeverEchoSecrets(t *testing.T) {
	constructors := map[string]func(raw string) error{
		"f5.New": func(raw string) error {
			_, err := f5.New(f5.Config{BaseURL: raw, Username: "admin", Password: drivers.NewSecret("pw"), Pool: "web"})
			return err
		},
		"nginx.NewPlus": func(raw string) error {
			_, err := nginx.NewPlus(nginx.PlusConfig{Endpoint: raw, Upstream: "backend"})
			return err
		},
	}
	for cname, construct := range constructors {
		for _, tc := range badURLs {
			t.Run(cname+"/"+tc.name, func(t *testing.T) {
				err := construct(tc.url)
				require.Error(t, err)
				assert.ErrorIs(t, err, drivers.ErrInvalidArgument)
				assert.NotContains(t, err.Error(), "s3cr3t")
				assert.Contains(t, err.Error(), "lb.example:8443", "the host is still named")
			})
		}
	}
}

// TestALBErrorsNeverEchoEndpointSecrets: the ALB driver takes no URL, but a
// client built with a custom endpoint (a VPC endpoint, a proxy) has one.
// The SDK does not send the endpoint's user information, and its errors do
// not quote it (net/http alone would print a user name); this pins that the
// driver's errors stay free of it.
func TestALBErrorsNeverEchoEndpointSecrets(t *testing.T) {
	for _, endpoint := range []string{"http://TOKEN-s3cr3t@127.0.0.1:1", "http://u:s3cr3t@127.0.0.1:1"} {
		c := elbv2.New(elbv2.Options{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1})
		lb, err := awsalb.New(context.Background(), awsalb.Config{TargetGroupARN: "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef", Client: c})
		require.NoError(t, err)
		_, err = lb.Status(t.Context(), "10.0.0.1")
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "s3cr3t")
		assert.Contains(t, err.Error(), "127.0.0.1:1")
		assert.ErrorIs(t, err, drivers.ErrUnavailable, "classification still sees the dial error: %v", err)
	}
}
