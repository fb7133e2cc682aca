package spec

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/smithy-go/logging"
)

// awsLogger routes the AWS SDK's log (retries, deprecations, clock skew,
// and whatever aws.Config.ClientLogMode turns on) through the spec's
// slog.Logger: smithy's Warn at slog.LevelWarn, Debug at slog.LevelDebug,
// anything else at Info, each message prefixed "aws: ".
func awsLogger(l *slog.Logger) logging.Logger { return slogAWS{l: l, ctx: context.Background()} }

type slogAWS struct {
	l   *slog.Logger
	ctx context.Context
}

// Logf implements logging.Logger.
func (s slogAWS) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelInfo
	switch c {
	case logging.Warn:
		level = slog.LevelWarn
	case logging.Debug:
		level = slog.LevelDebug
	}
	s.l.Log(s.ctx, level, "aws: "+fmt.Sprintf(format, v...))
}

// WithContext implements logging.ContextLogger: the SDK hands the
// operation's context, which slog handlers may read (trace IDs).
func (s slogAWS) WithContext(ctx context.Context) logging.Logger {
	return slogAWS{l: s.l, ctx: ctx}
}
