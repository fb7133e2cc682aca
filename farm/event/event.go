// Package event defines the events a run of a [github.com/balanced-deploy/balanced/farm.Plan] emits and the
// observers that receive them: progress displays, logs, traces, webhooks.
//
// A run sends every [Event] to the [Observer] of its farm.PlanConfig. An
// observer is called from the engine's goroutines, possibly at the same
// time, and must not block for long. [Observers] fans one event out to
// several observers; farm.SlogObserver logs them; an observer that also
// implements [ContextObserver] receives the context each event happened in
// (otelobserve uses it to nest spans).
package event

import (
	"context"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
)

// Kind says what an [Event] reports.
type Kind string

// Event kinds, in the order a run emits them.
const (
	RunStarted     Kind = "run-started"
	StepStarted    Kind = "step-started"
	HookStarted    Kind = "hook-started"
	ActionStarted  Kind = "action-started"  // one server or zone action began
	ActionRetry    Kind = "action-retry"    // a transient error; the action will be tried again
	ActionFinished Kind = "action-finished" // one server or zone action ended (Err says how)
	Progress       Kind = "progress"        // a long wait reports where it stands
	Warning        Kind = "warning"         // something the operator should know; the run goes on
	StepFinished   Kind = "step-finished"   // Err is set when the step failed
	StepSkipped    Kind = "step-skipped"    // already done (resume)
	RunFinished    Kind = "run-finished"    // Err is set when the run did not succeed
	// MembersSeen reports load-balancer members as the run saw them:
	// read back, or set and accepted (Members). Only a load balancer
	// wrapped by farm.ObserveMembers sends it.
	MembersSeen Kind = "members-seen"
)

// Event is one thing that happened during a run. Fields that do not apply
// are zero.
type Event struct {
	// Time is when it happened.
	Time time.Time
	// Kind says what happened.
	Kind Kind
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
// Events sent with farm.Run.Emit come with context.Background(); [RunFinished]
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
		ctx = Send(ctx, o, e)
	}
	return ctx
}

// Send sends e to o as the engine does: with ctx when o is a
// [ContextObserver] (returning the context it returns, or ctx when it
// returns nil), with Observe otherwise (returning ctx); a nil o receives
// nothing. An observer that wraps another (a filter, a rate limiter) uses
// it to pass events on, so that the wrapped observer's contexts, and the
// spans a tracing observer nests in them, survive the wrapper.
func Send(ctx context.Context, o Observer, e Event) context.Context {
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
