// Package otelobserve records a balanced deployment as OpenTelemetry
// traces: one span for the run, a child span per step (undo steps of a
// rollback included), and a child span per action (one server or one zone)
// of a step. Driver errors become span events (RecordError) on the action
// that met them, retries are events with the attempt and the error, progress
// reports and warnings are events on their step's span, and every span that
// failed has status Error.
//
// The [Observer] is an [event.ContextObserver]: the engine hands each action
// the context holding the action's span, so a driver that traces its own
// calls (an HTTP client instrumented with OpenTelemetry, for example) nests
// its spans under the action's:
//
//	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
//	defer tp.Shutdown(ctx)
//	obs := otelobserve.New(otelobserve.Config{TracerProvider: tp})
//	plan, err := steps.Balanced(f, steps.Config{..., Plan: farm.PlanConfig{
//		Observer: event.Observers(progress.NewTerminal(os.Stderr, progress.TerminalConfig{}), obs),
//	}})
//
// Span names are "balanced.run", "balanced.step <id>" and
// "balanced.action <id>"; attributes carry the step ID, zone, server and
// attempts under the "balanced." prefix. Errors are recorded with their
// text only (drivers keep secrets out of error texts).
package otelobserve

import (
	"context"
	"sync"

	"github.com/balanced-deploy/balanced/farm/event"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the tracer the Observer uses.
const ScopeName = "github.com/balanced-deploy/balanced/otelobserve"

// Attribute keys set on the spans.
const (
	AttrStep     = attribute.Key("balanced.step")
	AttrZone     = attribute.Key("balanced.zone")
	AttrServer   = attribute.Key("balanced.server")
	AttrAttempts = attribute.Key("balanced.attempts")
	AttrSteps    = attribute.Key("balanced.steps")
	AttrOutcome  = attribute.Key("balanced.outcome")
)

// Config tunes an [Observer]. The zero value uses the global tracer
// provider (otel.GetTracerProvider), which records nothing until a program
// installs one.
type Config struct {
	// TracerProvider provides the tracer. Nil means
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// Observer turns a run's events into spans; see the package documentation.
// It is safe for concurrent use, and may watch several runs one after the
// other (a run, then its resume); not two runs at once.
type Observer struct {
	tracer trace.Tracer

	mu      sync.Mutex
	run     trace.Span
	runCtx  context.Context
	steps   map[string]stepSpan
	actions map[actionKey]trace.Span
}

type stepSpan struct {
	span trace.Span
	ctx  context.Context
}

type actionKey struct{ step, zone, server string }

var _ event.ContextObserver = (*Observer)(nil)

// New returns an Observer.
func New(cfg Config) *Observer {
	tp := cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return &Observer{tracer: tp.Tracer(ScopeName), steps: map[string]stepSpan{}, actions: map[actionKey]trace.Span{}}
}

// Observe records e with no context of its own (spans then hang under the
// run's or the step's span). It implements [event.Observer].
func (o *Observer) Observe(e event.Event) { o.ObserveContext(context.Background(), e) }

// ObserveContext records e and returns the context holding the span e
// started, if any. It implements [event.ContextObserver].
func (o *Observer) ObserveContext(ctx context.Context, e event.Event) context.Context {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch e.Kind {
	case event.RunStarted:
		o.endAll("the run started again")
		var span trace.Span
		o.runCtx, span = o.tracer.Start(ctx, "balanced.run", trace.WithTimestamp(e.Time),
			trace.WithAttributes(AttrSteps.Int(e.Total)))
		o.run = span
		if e.Message != "" {
			span.AddEvent(e.Message, trace.WithTimestamp(e.Time))
		}
		return o.runCtx
	case event.StepStarted:
		parent := o.parent(ctx, "")
		if old, ok := o.steps[e.Step]; ok {
			old.span.End(trace.WithTimestamp(e.Time))
		}
		sctx, span := o.tracer.Start(parent, "balanced.step "+e.Step, trace.WithTimestamp(e.Time),
			trace.WithAttributes(AttrStep.String(e.Step)))
		if e.Message != "" {
			span.AddEvent(e.Message, trace.WithTimestamp(e.Time))
		}
		o.steps[e.Step] = stepSpan{span: span, ctx: sctx}
		return sctx
	case event.ActionStarted:
		parent := o.parent(ctx, e.Step)
		attrs := []attribute.KeyValue{AttrStep.String(e.Step)}
		if e.Zone != "" {
			attrs = append(attrs, AttrZone.String(e.Zone))
		}
		if e.Server != "" {
			attrs = append(attrs, AttrServer.String(e.Server))
		}
		actx, span := o.tracer.Start(parent, "balanced.action "+e.Step, trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...))
		o.actions[actionKey{e.Step, e.Zone, e.Server}] = span
		return actx
	case event.ActionRetry:
		if span, ok := o.actions[actionKey{e.Step, e.Zone, e.Server}]; ok {
			attrs := []attribute.KeyValue{AttrAttempts.Int(e.Attempt)}
			if e.Err != nil {
				attrs = append(attrs, attribute.String("exception.message", e.Err.Error()))
			}
			span.AddEvent("retry", trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...))
		}
	case event.ActionFinished:
		key := actionKey{e.Step, e.Zone, e.Server}
		if span, ok := o.actions[key]; ok {
			delete(o.actions, key)
			span.SetAttributes(AttrAttempts.Int(e.Attempt))
			fail(span, e)
			span.End(trace.WithTimestamp(e.Time))
		}
	case event.StepFinished:
		if s, ok := o.steps[e.Step]; ok {
			delete(o.steps, e.Step)
			fail(s.span, e)
			s.span.End(trace.WithTimestamp(e.Time))
		}
	case event.StepSkipped:
		if o.run != nil {
			o.run.AddEvent("step skipped: "+e.Step, trace.WithTimestamp(e.Time), trace.WithAttributes(AttrStep.String(e.Step)))
		}
	case event.RunFinished:
		o.endAll("the run ended first")
		if o.run != nil {
			o.run.SetAttributes(AttrOutcome.String(e.Message))
			fail(o.run, e)
			o.run.End(trace.WithTimestamp(e.Time))
			o.run, o.runCtx = nil, nil
		}
	default: // progress, warnings, hooks, kinds to come
		span := o.eventSpan(e)
		if span == nil {
			return nil
		}
		attrs := []attribute.KeyValue{}
		if e.Zone != "" {
			attrs = append(attrs, AttrZone.String(e.Zone))
		}
		if e.Server != "" {
			attrs = append(attrs, AttrServer.String(e.Server))
		}
		if e.Total > 0 {
			attrs = append(attrs, attribute.Int("balanced.done", e.Done), attribute.Int("balanced.total", e.Total))
		}
		if e.Err != nil {
			attrs = append(attrs, attribute.String("exception.message", e.Err.Error()))
		}
		name := string(e.Kind)
		if e.Message != "" {
			name += ": " + e.Message
		}
		span.AddEvent(name, trace.WithTimestamp(e.Time), trace.WithAttributes(attrs...))
	}
	return nil
}

// parent is the context a new span hangs under: ctx when it holds a span,
// else the step's span, else the run's.
func (o *Observer) parent(ctx context.Context, step string) context.Context {
	if trace.SpanContextFromContext(ctx).IsValid() {
		return ctx
	}
	if s, ok := o.steps[step]; ok {
		return s.ctx
	}
	if o.runCtx != nil {
		return o.runCtx
	}
	return ctx
}

// eventSpan is the span an event that starts nothing belongs to.
func (o *Observer) eventSpan(e event.Event) trace.Span {
	if s, ok := o.steps[e.Step]; ok {
		return s.span
	}
	return o.run
}

// endAll ends the spans left open (a step that failed in a rollback, an
// action cut short) with an error status.
func (o *Observer) endAll(why string) {
	for k, span := range o.actions {
		span.SetStatus(codes.Error, why)
		span.End()
		delete(o.actions, k)
	}
	for k, s := range o.steps {
		s.span.SetStatus(codes.Error, why)
		s.span.End()
		delete(o.steps, k)
	}
}

// fail records e's error on span, if any.
func fail(span trace.Span, e event.Event) {
	if e.Err == nil {
		return
	}
	span.RecordError(e.Err, trace.WithTimestamp(e.Time))
	span.SetStatus(codes.Error, e.Err.Error())
}
