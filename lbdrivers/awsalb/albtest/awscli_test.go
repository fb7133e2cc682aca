package albtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/lbdrivers/awsalb/albtest"
)

// awsCLI is the Debian package awscli's program. It is named by path: a
// different "aws" (pyenv, a user install) may come first on PATH.
const awsCLI = "/usr/bin/aws"

// needAWSCLI skips the test when the AWS CLI is not installed, or fails it
// when CI=true (.ci/run installs it).
func needAWSCLI(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but %s is missing (apt-get install awscli): %v", awsCLI, err)
		}
		t.Skipf("%s not installed (apt-get install awscli)", awsCLI)
	}
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("-short: the AWS CLI takes about a second a call")
	}
}

// cli runs "aws elbv2 <args>" against endpoint with dummy credentials, an
// empty configuration, no instance metadata lookups and one attempt per
// call, so nothing leaves loopback. It returns stdout, stderr and the exit
// code.
type cli struct {
	endpoint string
	env      []string
}

func newCLI(t *testing.T, endpoint string) *cli {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	return &cli{endpoint: endpoint, env: []string{
		"HOME=" + dir, "PATH=/usr/bin:/bin", "LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=" + cliKeyID, "AWS_SECRET_ACCESS_KEY=" + cliSecret,
		"AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard",
		"AWS_PAGER=", "AWS_CLI_AUTO_PROMPT=off",
	}}
}

// Dummy credentials (the example key of the AWS documentation).
const (
	cliKeyID  = "AKIAIOSFODNN7EXAMPLE"
	cliSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

func (c *cli) run(ctx context.Context, args ...string) (stdout, stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	full := append([]string{"elbv2"}, args...)
	full = append(full, "--endpoint-url", c.endpoint, "--region", "us-east-1", "--output", "json")
	cmd := exec.CommandContext(ctx, awsCLI, full...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), errb.String(), exit.ExitCode(), nil
	}
	return out.String(), errb.String(), 0, err
}

// ok runs a call that must succeed and decodes its JSON output into v
// (when not nil).
func (c *cli) ok(ctx context.Context, v any, args ...string) error {
	out, stderr, code, err := c.run(ctx, args...)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("aws elbv2 %s: exit %d: %s", args[0], code, strings.TrimSpace(stderr))
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("aws elbv2 %s: output is not the expected JSON: %w: %q", args[0], err, out)
	}
	return nil
}

// cliHealth is the CLI's JSON for describe-target-health.
type cliHealth struct {
	TargetHealthDescriptions []struct {
		Target struct {
			ID   string `json:"Id"`
			Port int    `json:"Port"`
		}
		HealthCheckPort string
		TargetHealth    struct{ State, Reason string }
	}
}

func (h cliHealth) String() string {
	var b []string
	for _, d := range h.TargetHealthDescriptions {
		b = append(b, fmt.Sprintf("%s:%d=%s(%s)", d.Target.ID, d.Target.Port, d.TargetHealth.State, d.TargetHealth.Reason))
	}
	return strings.Join(b, " ")
}

// checkWithAWSCLI drives a fresh fake through the AWS CLI: register,
// describe, deregister, describe one target, an unknown target, and the
// target group's attributes. It returns the first answer that is not what
// the CLI, parsing the fake's wire format with AWS's own service model,
// should report.
func checkWithAWSCLI(ctx context.Context, c *cli, store *albtest.MemStore) error {
	arn := []string{"--target-group-arn", albtest.DefaultTargetGroupARN}
	with := func(args ...string) []string { return append(args, arn...) }

	if err := c.ok(ctx, nil, with("register-targets", "--targets", "Id=i-0abc,Port=8080", "Id=10.0.0.2")...); err != nil {
		return err
	}
	// The CLI's form encoding reached the store as the SDK's does.
	got, err := store.Describe(ctx, []albtest.Target{{ID: "i-0abc", Port: 8080}, {ID: "10.0.0.2"}})
	if err != nil {
		return fmt.Errorf("store after register-targets: %w", err)
	}
	if got[0].State != "healthy" || got[1].State != "healthy" {
		return fmt.Errorf("store after register-targets: %+v: want both healthy", got)
	}

	var all cliHealth
	if err := c.ok(ctx, &all, with("describe-target-health")...); err != nil {
		return err
	}
	if s := all.String(); s != "i-0abc:8080=healthy() 10.0.0.2:80=healthy()" {
		return fmt.Errorf("describe-target-health: %q: want i-0abc:8080 and 10.0.0.2:80 healthy", s)
	}
	if hp := all.TargetHealthDescriptions[0].HealthCheckPort; hp != "8080" {
		return fmt.Errorf("describe-target-health: HealthCheckPort %q: want 8080", hp)
	}

	if err := c.ok(ctx, nil, with("deregister-targets", "--targets", "Id=i-0abc,Port=8080")...); err != nil {
		return err
	}
	var one cliHealth
	if err := c.ok(ctx, &one, with("describe-target-health", "--targets", "Id=i-0abc,Port=8080")...); err != nil {
		return err
	}
	if s := one.String(); s != "i-0abc:8080=draining(Target.DeregistrationInProgress)" {
		return fmt.Errorf("describe-target-health after deregister-targets: %q: want i-0abc:8080 draining (Target.DeregistrationInProgress)", s)
	}

	_, stderr, code, err := c.run(ctx, with("describe-target-health", "--targets", "Id=i-404")...)
	if err != nil {
		return err
	}
	if code != 254 || !strings.Contains(stderr, "An error occurred (InvalidTarget) when calling the DescribeTargetHealth operation") {
		return fmt.Errorf("describe-target-health of an unknown target: exit %d, %q: want exit 254 and the InvalidTarget error", code, stderr)
	}

	var attrs struct{ Attributes []struct{ Key, Value string } }
	if err := c.ok(ctx, &attrs, with("describe-target-group-attributes")...); err != nil {
		return err
	}
	for _, a := range attrs.Attributes {
		if a.Key == "deregistration_delay.timeout_seconds" {
			if a.Value != "300" {
				return fmt.Errorf("deregistration_delay.timeout_seconds %q: want 300", a.Value)
			}
			return nil
		}
	}
	return fmt.Errorf("describe-target-group-attributes: %+v: no deregistration_delay.timeout_seconds", attrs)
}

// newCLIFake starts a fake on loopback with two known targets.
func newCLIFake(t *testing.T, cfg albtest.Config) (*albtest.Server, *albtest.MemStore, *cli) {
	store := albtest.NewMemStore(albtest.MemConfig{Targets: []string{"i-0abc", "10.0.0.2"}})
	cfg.Store = store
	fake := albtest.New(cfg)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, store, newCLI(t, srv.URL)
}

// TestAWSCLI checks the fake's wire format with a client nobody here wrote:
// the AWS CLI (Debian package awscli), which parses answers with AWS's own
// ELBv2 service model. Requests are signed (SigV4) with dummy credentials,
// and the fake verifies them.
func TestAWSCLI(t *testing.T) {
	needAWSCLI(t)
	fake, store, c := newCLIFake(t, albtest.Config{Credentials: map[string]string{cliKeyID: cliSecret}})
	require.NoError(t, checkWithAWSCLI(t.Context(), c, store))
	for _, r := range fake.Requests() {
		assert.Contains(t, []string{"", "InvalidTarget"}, r.Code, "%s", r.Action)
	}

	// Wrong credentials are refused as ELBv2 refuses them.
	bad := newCLI(t, c.endpoint)
	for i, e := range bad.env {
		if strings.HasPrefix(e, "AWS_SECRET_ACCESS_KEY=") {
			bad.env[i] = "AWS_SECRET_ACCESS_KEY=not-the-secret"
		}
	}
	_, stderr, code, err := bad.run(t.Context(), "describe-target-health", "--target-group-arn", albtest.DefaultTargetGroupARN)
	require.NoError(t, err)
	assert.Equal(t, 254, code)
	assert.Contains(t, stderr, "(SignatureDoesNotMatch)")
}

// TestAWSCLICatchesBrokenFake proves that the check above notices a fake
// whose wire format drifts: with one element misnamed
// (TargetHealthDescriptions), the CLI reports no target and the check
// fails.
func TestAWSCLICatchesBrokenFake(t *testing.T) {
	needAWSCLI(t)
	fake, store, c := newCLIFake(t, albtest.Config{})
	albtest.SetMangle(fake, func(b []byte) []byte {
		return bytes.ReplaceAll(b, []byte("TargetHealthDescriptions>"), []byte("TargetHealthDescription>"))
	})
	err := checkWithAWSCLI(t.Context(), c, store)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "describe-target-health")
	t.Logf("broken fake caught: %v", err)
}
