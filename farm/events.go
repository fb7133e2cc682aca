package farm

import (
	"context"
	"log/slog"
	"time"

	"github.com/balanced-deploy/balanced/farm/event"
)

// EmitContext is [Run.Emit] with the context the event happened in: an
// observer that is an [event.ContextObserver] receives ctx, and the context it
// returns is returned (ctx itself for any other observer). Steps that start
// something worth a span of its own may emit their events with it.
func (r *Run) EmitContext(ctx context.Context, e event.Event) context.Context {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Step == "" && e.Kind != event.RunStarted && e.Kind != event.RunFinished {
		e.Step = r.StepID()
	}
	return event.Send(ctx, r.obs, e)
}

// SlogObserver returns an observer that logs every event with logger:
// failures at Error, retries and warnings at Warn, step and run boundaries
// at Info, the rest at Debug.
func SlogObserver(logger *slog.Logger) event.Observer {
	return event.ObserverFunc(func(e event.Event) {
		level := slog.LevelDebug
		switch {
		case e.Err != nil && e.Kind != event.ActionRetry:
			level = slog.LevelError
		case e.Kind == event.ActionRetry || e.Kind == event.Warning:
			level = slog.LevelWarn
		case e.Kind == event.RunStarted || e.Kind == event.RunFinished || e.Kind == event.StepStarted || e.Kind == event.StepFinished || e.Kind == event.StepSkipped || e.Kind == event.Progress:
			level = slog.LevelInfo
		}
		attrs := []slog.Attr{slog.String("event", string(e.Kind))}
		if e.Step != "" {
			attrs = append(attrs, slog.String("step", e.Step))
		}
		if e.Zone != "" {
			attrs = append(attrs, slog.String("zone", e.Zone))
		}
		if e.Server != "" {
			attrs = append(attrs, slog.String("server", e.Server))
		}
		if e.Attempt > 0 {
			attrs = append(attrs, slog.Int("attempt", e.Attempt))
		}
		if e.Total > 0 {
			attrs = append(attrs, slog.Int("done", e.Done), slog.Int("total", e.Total))
		}
		if e.Err != nil {
			attrs = append(attrs, slog.String("error", errorLine(e.Err)))
		}
		msg := e.Message
		if msg == "" {
			msg = string(e.Kind)
		}
		logger.LogAttrs(context.Background(), level, msg, attrs...)
	})
}
