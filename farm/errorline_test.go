package farm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/balanced-deploy/balanced/drivers/drivermock"
	"github.com/balanced-deploy/balanced/farm"
)

// TestStoredErrorsOnOneLine: a step failing on several servers has an
// error whose text is go-multierror's list (one "\t* " line each, for
// people); the journal's records, the report's Error fields (the JSON
// report) and the engine's structured logs hold it on one line, every
// server's failure still said.
func TestStoredErrorsOnOneLine(t *testing.T) {
	lb := drivermock.NewMockLoadBalancer(gomock.NewController(t))
	f, err := farm.New(farm.Config{Zones: farm.AutoSplit(servers(12)), LoadBalancer: lb})
	require.NoError(t, err)
	j := &memJournal{}
	var logs bytes.Buffer
	plan, err := farm.NewPlan(f, farm.PlanConfig{Journal: j, Observer: farm.SlogObserver(slog.New(slog.NewJSONHandler(&logs, nil)))},
		farm.Step{ID: "s", Title: "s", Run: func(ctx context.Context, r *farm.Run) error {
			return r.ForEachServer(ctx, r.Farm().Servers(), func(ctx context.Context, s farm.Server) error {
				if s.Name == "fe01" {
					// A wrapped errors.Join: two lines of its own.
					return fmt.Errorf("drain: %w", errors.Join(errors.New("socket refused"), errors.New("retry refused")))
				}
				return errors.New("refused on " + s.Name)
			})
		}})
	require.NoError(t, err)
	rep, err := plan.Run(context.Background())
	require.ErrorIs(t, err, farm.ErrHalted)
	require.Contains(t, err.Error(), "\n\t* ", "the error itself keeps go-multierror's list")

	noBullets := func(what, s string) {
		t.Helper()
		assert.NotContains(t, s, "\n", what)
		assert.NotContains(t, s, "\t", what)
		assert.NotContains(t, s, "* ", what)
	}
	st, ok := rep.Step("s")
	require.True(t, ok)
	noBullets("step error", st.Error)
	assert.Contains(t, st.Error, "12 errors occurred: step s: zone default: server fe01: drain: socket refused; retry refused; ")
	assert.Contains(t, st.Error, "server fe02: refused on fe02; ")
	assert.True(t, strings.HasSuffix(st.Error, "; and 2 more servers"), st.Error)
	noBullets("run error", rep.Error)
	assert.Contains(t, rep.Error, "server fe10: refused on fe10")
	for _, fl := range st.Failures {
		noBullets("failure", fl.Error)
	}
	var lastErrors int
	for _, rec := range j.records() {
		noBullets("journal record "+string(rec.Kind), rec.Error)
		if rec.Error != "" {
			lastErrors++
		}
	}
	assert.Positive(t, lastErrors)
	state, ok, err := j.LastRun(context.Background())
	require.NoError(t, err)
	require.True(t, ok)
	noBullets("journal last_error", state.LastError)
	assert.Contains(t, state.LastError, "server fe02: refused on fe02")

	data, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.NotContains(t, string(data), `\n`, "the JSON report")
	assert.NotContains(t, string(data), `\t`, "the JSON report")
	assert.Contains(t, logs.String(), "refused on fe02")
	assert.NotContains(t, logs.String(), `\n\t* `, "the JSON logs")
}
