package spec

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAWSLogThroughSlog checks that the SDK's log reaches the spec's
// logger at the matching level, and that the load options the ALB driver
// gets carry the adapter.
func TestAWSLogThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l := awsLogger(log)
	l.Logf(logging.Warn, "retrying %s", "DescribeTargetHealth")
	l.(logging.ContextLogger).WithContext(context.Background()).Logf(logging.Debug, "request %d", 7)
	assert.Contains(t, buf.String(), `level=WARN msg="aws: retrying DescribeTargetHealth"`)
	assert.Contains(t, buf.String(), `level=DEBUG msg="aws: request 7"`)

	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	cfg, err := config.LoadDefaultConfig(t.Context(), config.WithRegion("eu-west-1"), config.WithLogger(awsLogger(log)))
	require.NoError(t, err)
	buf.Reset()
	cfg.Logger.Logf(logging.Warn, "from the config")
	assert.Contains(t, buf.String(), "aws: from the config")
}
