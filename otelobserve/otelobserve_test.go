package otelobserve_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/fault"
	"github.com/balanced-deploy/balanced/otelobserve"
	"github.com/balanced-deploy/balanced/simulate"
	"github.com/balanced-deploy/balanced/steps"
)

func recorder(t *testing.T) (*tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return exp, tp
}

func byName(spans tracetest.SpanStubs) map[string][]tracetest.SpanStub {
	m := map[string][]tracetest.SpanStub{}
	for _, s := range spans {
		m[s.Name] = append(m[s.Name], s)
	}
	return m
}

func server(s tracetest.SpanStub) string {
	for _, a := range s.Attributes {
		if a.Key == otelobserve.AttrServer {
			return a.Value.AsString()
		}
	}
	return ""
}

// TestSpansNest runs a one-step plan whose actions start a span of their
// own, as a traced driver would, and fail on one server.
func TestSpansNest(t *testing.T) {
	exp, tp := recorder(t)
	sim, err := simulate.New(simulate.Config{Seed: 1})
	require.NoError(t, err)
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
	require.NoError(t, err)
	driverTracer := tp.Tracer("driver")
	obs := otelobserve.New(otelobserve.Config{TracerProvider: tp})
	plan, err := farm.NewPlan(f, farm.PlanConfig{Observer: obs, Retry: farm.RetryPolicy{MaxAttempts: 1}}, farm.Step{ID: "touch", Title: "Touch every server",
		Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachServer(ctx, f.Servers(), func(ctx context.Context, s farm.Server) error {
				_, span := driverTracer.Start(ctx, "driver call "+s.Name)
				defer span.End()
				if s.Name == "fe02" {
					return fmt.Errorf("connection refused: %w", drivers.ErrPermissionDenied)
				}
				return nil
			})
		}})
	require.NoError(t, err)
	_, err = plan.Run(t.Context())
	require.ErrorIs(t, err, farm.ErrHalted)

	spans := byName(exp.GetSpans())
	require.Len(t, spans["balanced.run"], 1)
	run := spans["balanced.run"][0]
	require.Len(t, spans["balanced.step touch"], 1)
	step := spans["balanced.step touch"][0]
	assert.Equal(t, run.SpanContext.SpanID(), step.Parent.SpanID(), "step under run")
	assert.Equal(t, codes.Error, step.Status.Code)
	assert.Equal(t, codes.Error, run.Status.Code)
	actions := spans["balanced.action touch"]
	require.Len(t, actions, len(f.Servers()))
	bySrv := map[string]tracetest.SpanStub{}
	for _, a := range actions {
		assert.Equal(t, step.SpanContext.SpanID(), a.Parent.SpanID(), "action under step")
		assert.Equal(t, run.SpanContext.TraceID(), a.SpanContext.TraceID())
		bySrv[server(a)] = a
	}
	for _, s := range f.Servers() {
		calls := spans["driver call "+s.Name]
		require.Len(t, calls, 1, s.Name)
		assert.Equal(t, bySrv[s.Name].SpanContext.SpanID(), calls[0].Parent.SpanID(), "the driver's span under its action")
	}
	failed := bySrv["fe02"]
	assert.Equal(t, codes.Error, failed.Status.Code)
	require.NotEmpty(t, failed.Events)
	assert.Equal(t, "exception", failed.Events[0].Name, "the driver error is a span event")
	assert.Contains(t, fmt.Sprint(failed.Events[0].Attributes), "connection refused")
	assert.Equal(t, codes.Unset, bySrv["fe01"].Status.Code)
}

// TestBalancedRunSpans traces a whole balanced run on the simulator, with a
// transient error retried: one span per step, every span ended, the retry
// an event.
func TestBalancedRunSpans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exp, tp := recorder(t)
		sim, err := simulate.New(simulate.Config{Seed: 3})
		require.NoError(t, err)
		require.NoError(t, sim.Inject(fault.Fault{Op: simulate.OpStopService, Target: "fe03",
			Err: fmt.Errorf("timeout: %w", drivers.ErrUnavailable), Times: 1}))
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(sim.Servers()), LoadBalancer: sim.LoadBalancer("")})
		require.NoError(t, err)
		plan, err := steps.Balanced(f, steps.Config{Services: sim.Services(), Platform: sim.Platform(), Prober: sim.Prober(),
			Release: drivers.Release{Version: "v2"},
			Plan:    farm.PlanConfig{Observer: otelobserve.New(otelobserve.Config{TracerProvider: tp})}})
		require.NoError(t, err)
		require.NoError(t, sim.Start(t.Context()))
		_, err = plan.Run(t.Context())
		require.NoError(t, err)
		time.Sleep(time.Second)
		sim.Stop()

		all := exp.GetSpans()
		spans := byName(all)
		require.Len(t, spans["balanced.run"], 1)
		for _, id := range steps.IDs() {
			assert.Len(t, spans["balanced.step "+id], 1, id)
		}
		retried := false
		for _, s := range all {
			assert.False(t, s.EndTime.IsZero(), "%s ended", s.Name)
			for _, ev := range s.Events {
				if ev.Name == "retry" && server(s) == "fe03" {
					retried = true
				}
			}
		}
		assert.True(t, retried, "the retry is an event of fe03's action")
	})
}

// TestGlobalProviderByDefault checks the zero Config records nothing and
// does not fail.
func TestGlobalProviderByDefault(t *testing.T) {
	o := otelobserve.New(otelobserve.Config{})
	ctx := o.ObserveContext(context.Background(), event.Event{Kind: event.RunStarted, Time: time.Now()})
	assert.False(t, trace.SpanContextFromContext(ctx).IsSampled())
	o.ObserveContext(ctx, event.Event{Kind: event.RunFinished, Time: time.Now(), Err: errors.New("x")})
}
