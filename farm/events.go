package farm

import (
	"context"
	"log/slog"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// EventKind says what an [Event] reports.
type EventKind string

// Event kinds, in the order a run emits them.
const (
	RunStarted     EventKind = "run-started"
	StepStarted    EventKind = "step-started"
	HookStarted    EventKind = "hook-started"
	ActionStarted  EventKind = "action-started"  // one server or zone action began
	ActionRetry    EventKind = "action-retry"    // a transient error; the action will be tried again
	ActionFinished EventKind = "action-finished" // one server or zone action ended (Err says how)
	Progress       EventKind = "progress"        // a long wait reports where it stands
	Warning        EventKind = "warning"         // something the operator should know; the run goes on
	StepFinished   EventKind = "step-finished"   // Err is set when the step failed
	StepSkipped    EventKind = "step-skipped"    // already done (resume)
	RunFinished    EventKind = "run-finished"    // Err is set when the run did not succeed
	// MembersSeen reports load-balancer members as the run saw them:
	// read back, or set and accepted (Members). Only a load balancer
	// wrapped by [ObserveMembers] sends it.
	MembersSeen EventKind = "members-seen"
)

// Event is one thing that happened during a run. Fields that do not apply
// are zero.
type Event struct {
	// Time is when it happened.
	Time time.Time
	// Kind says what happened.
	Kind EventKind
	// Step is the step it concerns; empty for run-started and run-finished
	// (unless the run halted at a step).
	Step string
	// Zone and Server say what an action or a wait concerned.
	Zone   string
	Server string
	// Attempt counts the attempts of an action (retries, action-finished).
	Attempt int
	// Done and Total count finished and all actions of a step, or the
	// progress of a wait.
	Done, Total int
	// Message is a human-readable line.
	Message string
	// Err is the error an action, a step or the run ended with.
	Err error
	// Members are the members a [MembersSeen] event reports.
	Members []drivers.MemberStatus
}

// Observer receives the events of a run. Observe is called from the engine's
// goroutines, possibly concurrently, and must not block for long.
type Observer interface {
	Observe(Event)
}

// ContextObserver is an optional capability of an [Observer], found by type
// assertion: ObserveContext receives each event with the context it
// happened in, and returns the context the engine goes on with for what the
// event starts. The engine passes the context returned for [RunStarted] to
// the steps, the one returned for [StepStarted] to the step's hooks and
// actions, and the one returned for [ActionStarted] to the action (and so
// to the driver calls it makes); the finishing events ([ActionFinished],
// [StepFinished]) come with the context their start returned. A tracing
// observer starts a span at each start event and returns a context holding
// it, so that spans nest: run, step, action, and any span a driver starts.
//
// Events sent with [Run.Emit] come with context.Background(); [RunFinished]
// too. ObserveContext may return nil to leave the context as it was. Like
// Observe, it is called concurrently and must not block for long.
type ContextObserver interface {
	Observer
	ObserveContext(ctx context.Context, e Event) context.Context
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(Event)

// Observe calls f(e).
func (f ObserverFunc) Observe(e Event) { f(e) }

// Observers returns an observer that passes each event to every one of obs.
// It is a [ContextObserver]: the context each ContextObserver among obs
// returns is handed to the next, and the last one is returned.
func Observers(obs ...Observer) Observer {
	return observers(obs)
}

type observers []Observer

func (obs observers) Observe(e Event) {
	for _, o := range obs {
		if o != nil {
			o.Observe(e)
		}
	}
}

func (obs observers) ObserveContext(ctx context.Context, e Event) context.Context {
	for _, o := range obs {
		ctx = observe(ctx, o, e)
	}
	return ctx
}

// observe sends e to o with ctx when o is a ContextObserver, and returns the
// context to go on with.
func observe(ctx context.Context, o Observer, e Event) context.Context {
	switch o := o.(type) {
	case nil:
	case ContextObserver:
		if next := o.ObserveContext(ctx, e); next != nil {
			return next
		}
	default:
		o.Observe(e)
	}
	return ctx
}

// EmitContext is [Run.Emit] with the context the event happened in: an
// observer that is a [ContextObserver] receives ctx, and the context it
// returns is returned (ctx itself for any other observer). Steps that start
// something worth a span of its own may emit their events with it.
func (r *Run) EmitContext(ctx context.Context, e Event) context.Context {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if e.Step == "" && e.Kind != RunStarted && e.Kind != RunFinished {
		e.Step = r.StepID()
	}
	return observe(ctx, r.obs, e)
}

// SlogObserver returns an observer that logs every event with logger:
// failures at Error, retries and warnings at Warn, step and run boundaries
// at Info, the rest at Debug.
func SlogObserver(logger *slog.Logger) Observer {
	return ObserverFunc(func(e Event) {
		level := slog.LevelDebug
		switch {
		case e.Err != nil && e.Kind != ActionRetry:
			level = slog.LevelError
		case e.Kind == ActionRetry || e.Kind == Warning:
			level = slog.LevelWarn
		case e.Kind == RunStarted || e.Kind == RunFinished || e.Kind == StepStarted || e.Kind == StepFinished || e.Kind == StepSkipped || e.Kind == Progress:
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
