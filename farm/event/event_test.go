package event_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/balanced-deploy/balanced/farm/event"
)

type ctxKey struct{}

// tagger is a ContextObserver that records the value it finds in the
// context and returns a context carrying its own name.
type tagger struct {
	name string
	seen *[]string
}

func (t tagger) Observe(e event.Event) { *t.seen = append(*t.seen, t.name+" plain "+string(e.Kind)) }

func (t tagger) ObserveContext(ctx context.Context, e event.Event) context.Context {
	prev, _ := ctx.Value(ctxKey{}).(string)
	*t.seen = append(*t.seen, t.name+" after "+prev)
	return context.WithValue(ctx, ctxKey{}, t.name)
}

func TestObserversPassTheContextAlong(t *testing.T) {
	var seen []string
	var plain []event.Kind
	obs := event.Observers(
		tagger{name: "a", seen: &seen},
		nil, // skipped
		event.ObserverFunc(func(e event.Event) { plain = append(plain, e.Kind) }),
		tagger{name: "b", seen: &seen},
	)
	ctx := context.WithValue(t.Context(), ctxKey{}, "root")
	got := event.Send(ctx, obs, event.Event{Kind: event.StepStarted})
	assert.Equal(t, []string{"a after root", "b after a"}, seen, "each ContextObserver gets the context the one before returned")
	assert.Equal(t, []event.Kind{event.StepStarted}, plain, "a plain observer gets the event")
	assert.Equal(t, "b", got.Value(ctxKey{}), "the last context is returned")

	// Observe on the fan-out itself: every observer, without contexts.
	seen = nil
	obs.Observe(event.Event{Kind: event.Warning})
	assert.Equal(t, []string{"a plain warning", "b plain warning"}, seen)
}

func TestSendKeepsTheContext(t *testing.T) {
	ctx := context.WithValue(t.Context(), ctxKey{}, "root")
	var got event.Kind
	out := event.Send(ctx, event.ObserverFunc(func(e event.Event) { got = e.Kind }), event.Event{Kind: event.RunStarted})
	assert.Equal(t, event.RunStarted, got)
	assert.Equal(t, "root", out.Value(ctxKey{}), "a plain observer leaves the context as it was")
	assert.Equal(t, ctx, event.Send(ctx, nil, event.Event{Kind: event.RunStarted}), "no observer: nothing happens")

	nilCtx := nilReturner{}
	assert.Equal(t, ctx, event.Send(ctx, nilCtx, event.Event{}), "a ContextObserver returning nil leaves the context as it was")
}

type nilReturner struct{}

func (nilReturner) Observe(event.Event) {}

func (nilReturner) ObserveContext(context.Context, event.Event) context.Context { return nil }

// ExampleObservers sends each event of a run to two observers: a line per
// finished step, and a count of warnings.
func ExampleObservers() {
	warnings := 0
	obs := event.Observers(
		event.ObserverFunc(func(e event.Event) {
			if e.Kind == event.StepFinished {
				fmt.Println("done:", e.Step)
			}
		}),
		event.ObserverFunc(func(e event.Event) {
			if e.Kind == event.Warning {
				warnings++
			}
		}),
	)
	// The engine calls obs.Observe (or ObserveContext) for every event;
	// here, three by hand.
	obs.Observe(event.Event{Kind: event.Warning, Message: "fe03 drained with 2 connections left"})
	obs.Observe(event.Event{Kind: event.StepFinished, Step: "drain-updating"})
	obs.Observe(event.Event{Kind: event.StepFinished, Step: "block-loaded"})
	fmt.Println("warnings:", warnings)
	// Output:
	// done: drain-updating
	// done: block-loaded
	// warnings: 1
}
