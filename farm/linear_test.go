package farm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/hashicorp/go-multierror"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"
)

func TestFormatErrorsCapsTheList(t *testing.T) {
	stepErrs := func(n int) []error {
		out := make([]error, n)
		for i := range out {
			out[i] = &farm.StepError{Step: "s", Server: fmt.Sprintf("fe%04d", i+1), Err: errors.New("down")}
		}
		return out
	}
	tests := []struct {
		name   string
		errs   []error
		lines  int // "* " lines
		suffix string
	}{
		{"one", stepErrs(1), 1, "* step s: server fe0001: down\n\n"},
		{"at the cap", stepErrs(farm.MaxListedErrors), farm.MaxListedErrors, "server fe0010: down\n\n"},
		{"2000 servers", stepErrs(2000), farm.MaxListedErrors + 1, "* and 1,990 more servers\n\n"},
		{"not all servers", append(stepErrs(farm.MaxListedErrors), errors.New("zone a down"), errors.New("b")), farm.MaxListedErrors + 1, "* and 2 more errors\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := farm.FormatErrors(tt.errs)
			assert.Equal(t, tt.lines, strings.Count(got, "\n\t* "), got)
			assert.True(t, strings.HasSuffix(got, tt.suffix), got)
			assert.True(t, strings.HasPrefix(got, fmt.Sprintf("%d error", len(tt.errs))), got)
			// The head and bullets are go-multierror's own (the
			// progress package renders them on one line).
			want := strings.SplitN(multierror.ListFormatFunc(tt.errs), "\n", 3)
			assert.Equal(t, want[:2], strings.SplitN(got, "\n", 3)[:2])
		})
	}
}

// TestEachKeepsTheDeadlineOnce: when a fan-out's context ends while most
// servers still wait for a slot, each of them returns the context's error;
// the aggregate holds it once, not once per server.
func TestEachKeepsTheDeadlineOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
		f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(50)), LoadBalancer: lb})
		require.NoError(t, err)
		var got error
		plan, err := farm.NewPlan(f, farm.PlanConfig{Concurrency: 2}, farm.Step{ID: "s", Title: "s", Run: func(ctx context.Context, r *farm.Run) error {
			ctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
			defer cancel()
			got = r.Each(ctx, r.Farm().Servers(), func(ctx context.Context, s farm.Server) error {
				select { // 100 ms a call: 2 done, 2 in flight, 46 waiting at the deadline
				case <-time.After(100 * time.Millisecond):
					return nil
				case <-ctx.Done():
					return fmt.Errorf("%s: %w", s.Name, ctx.Err())
				}
			})
			return nil
		}})
		require.NoError(t, err)
		_, err = plan.Run(context.Background())
		require.NoError(t, err)
		var merr *multierror.Error
		require.ErrorAs(t, got, &merr)
		assert.Len(t, merr.Errors, 3, "two servers' own errors and the deadline once: %v", got)
		assert.ErrorIs(t, got, context.DeadlineExceeded)
		assert.Equal(t, 1, strings.Count(got.Error(), "\n\t* context deadline exceeded"), got.Error())
	})
}

// TestReportListsEveryFailureOnce: a step failing on 300 servers puts all
// 300 in the step's Failures, each with its own error, while the error's
// text, the step's Error and the report's text list MaxListedErrors.
func TestReportListsEveryFailureOnce(t *testing.T) {
	lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(300)), LoadBalancer: lb})
	require.NoError(t, err)
	plan, err := farm.NewPlan(f, farm.PlanConfig{}, farm.Step{ID: "s", Title: "s", Run: func(ctx context.Context, r *farm.Run) error {
		return r.ForEachServer(ctx, r.Farm().Servers(), func(ctx context.Context, s farm.Server) error {
			return errors.New("refused on " + s.Name)
		})
	}})
	require.NoError(t, err)
	rep, err := plan.Run(context.Background())
	require.ErrorIs(t, err, farm.ErrHalted)
	st, ok := rep.Step("s")
	require.True(t, ok)
	require.Len(t, st.Failures, 300)
	seen := map[string]bool{}
	for _, fl := range st.Failures {
		assert.False(t, seen[fl.Server])
		seen[fl.Server] = true
		assert.Equal(t, "step s: zone default: server "+fl.Server+": refused on "+fl.Server, fl.Error)
	}
	assert.Contains(t, err.Error(), "and 290 more servers")
	assert.Less(t, len(err.Error()), 2000, err.Error())
	assert.Less(t, len(st.Error), 2000)
	var text bytes.Buffer
	require.NoError(t, rep.Write(&text))
	assert.Equal(t, 2*farm.MaxListedErrors, strings.Count(text.String(), ": refused on "), "the failed actions, then the run's error: %s", text.String())
	assert.Contains(t, text.String(), "and 290 more (every one is in the JSON report)")
}

// TestNoCapturedCopyWithoutJournal: with no journal, finishing a step does
// not copy the captured state (the copy was 21% of the engine's CPU and
// 42-57% of its bytes at 1000 servers, with nothing reading it). A plan
// sets 20,000 values, then runs 20 steps that do nothing: without the copy
// they allocate a few kilobytes each, with it over a megabyte each.
func TestNoCapturedCopyWithoutJournal(t *testing.T) {
	lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(2)), LoadBalancer: lb})
	require.NoError(t, err)
	noop := func(ctx context.Context, r *farm.Run) error { return nil }
	list := []farm.Step{{ID: "fill", Title: "fill", Run: func(ctx context.Context, r *farm.Run) error {
		for i := range 20000 {
			r.Captured().SetValue(fmt.Sprintf("key-%05d", i), "value")
		}
		return nil
	}}}
	for i := range 20 {
		list = append(list, farm.Step{ID: fmt.Sprintf("noop-%02d", i), Title: "noop", Run: noop})
	}
	var mid, end uint64
	list[1].Run = func(ctx context.Context, r *farm.Run) error { mid = totalAlloc(); return nil }
	plan, err := farm.NewPlan(f, farm.PlanConfig{}, list...)
	require.NoError(t, err)
	require.NoError(t, plan.After(list[len(list)-1].ID, farm.Hook{Name: "measure", Func: func(context.Context, *farm.Run) error {
		end = totalAlloc()
		return nil
	}}))
	_, err = plan.Run(context.Background())
	require.NoError(t, err)
	perStep := (end - mid) / 19
	t.Logf("%d B allocated per step", perStep)
	assert.Less(t, perStep, uint64(64<<10), "a step's bookkeeping, not a copy of 20,000 values")
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}
