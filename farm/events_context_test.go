package farm_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm/event"

	"github.com/balanced-deploy/balanced/farm"
)

type ctxKey struct{}

// nesting is a ContextObserver that records, for each start event, the
// chain of starts its context holds (run > step > action).
type nesting struct {
	mu     sync.Mutex
	chains map[string]string // "kind step server" -> chain of the context it came with
}

func (n *nesting) Observe(event.Event) { panic("a ContextObserver gets ObserveContext") }

func (n *nesting) ObserveContext(ctx context.Context, e event.Event) context.Context {
	chain, _ := ctx.Value(ctxKey{}).(string)
	n.mu.Lock()
	n.chains[string(e.Kind)+" "+e.Step+" "+e.Server] = chain
	n.mu.Unlock()
	switch e.Kind {
	case event.RunStarted:
		return context.WithValue(ctx, ctxKey{}, "run")
	case event.StepStarted:
		return context.WithValue(ctx, ctxKey{}, chain+">"+e.Step)
	case event.ActionStarted:
		return context.WithValue(ctx, ctxKey{}, chain+">"+e.Server)
	}
	return nil
}

// TestContextObserverNests checks that the contexts a ContextObserver
// returns reach the step, the action's function and the finishing events,
// also through Observers.
func TestContextObserverNests(t *testing.T) {
	lb := drivermock.NewMockLoadBalancer(gomock.NewController(t)) // no calls expected
	f, err := farm.New(farm.Config{Zones: []farm.ZoneSpec{{Updating: []farm.Server{{Name: "a"}}, Loaded: []farm.Server{{Name: "b"}}}},
		LoadBalancer: lb, CapacityFloor: -1})
	require.NoError(t, err)
	n := &nesting{chains: map[string]string{}}
	var plain []event.Kind
	var mu sync.Mutex
	obs := event.Observers(event.ObserverFunc(func(e event.Event) { mu.Lock(); plain = append(plain, e.Kind); mu.Unlock() }), n)
	var inFn []string
	plan, err := farm.NewPlan(f, farm.PlanConfig{Observer: obs}, farm.Step{ID: "s1", Title: "one", Run: func(ctx context.Context, r *farm.Run) error {
		return r.ForEachServer(ctx, f.Servers(), func(ctx context.Context, s farm.Server) error {
			chain, _ := ctx.Value(ctxKey{}).(string)
			mu.Lock()
			inFn = append(inFn, chain)
			mu.Unlock()
			return nil
		})
	}})
	require.NoError(t, err)
	_, err = plan.Run(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "", n.chains["run-started  "])
	assert.Equal(t, "run", n.chains["step-started s1 "])
	assert.Equal(t, "run>s1", n.chains["action-started s1 a"])
	assert.Equal(t, "run>s1>a", n.chains["action-finished s1 a"])
	assert.Equal(t, "run>s1", n.chains["step-finished s1 "])
	assert.ElementsMatch(t, []string{"run>s1>a", "run>s1>b"}, inFn, "the action's function gets the action's context")
	assert.Contains(t, plain, event.RunFinished, "plain observers still get every event")
}
