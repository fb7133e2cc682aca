package drivertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Options are the settings every harness has.
type Options struct {
	// Prompt is how soon a call with a cancelled or expired context must
	// return. Zero means 2 seconds.
	Prompt time.Duration
	// KnownDefects skips subtests by name, each with the reason (a defect of
	// the driver that is known and being fixed): the skip message starts
	// "known defect:", so `go test -v` lists it. Keep it empty.
	KnownDefects map[string]string
	// Bubble, when set, runs each subtest's body: synctest.Test for a driver
	// over a simulated clock (package simulate). The harness's New is called
	// inside it.
	Bubble func(t *testing.T, f func(*testing.T))
}

// run runs body as the subtest name of t, in a bubble when the harness asks
// for one.
func (o Options) run(t *testing.T, name string, body func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if why, ok := o.KnownDefects[name]; ok {
			t.Skipf("known defect: %s", why)
		}
		if o.Bubble != nil {
			o.Bubble(t, body)
			return
		}
		body(t)
	})
}

func (o Options) promptly() time.Duration {
	if o.Prompt > 0 {
		return o.Prompt
	}
	return 2 * time.Second
}

// fresh calls a harness's New and checks it returned a driver.
func fresh[D any](t *testing.T, newDriver func(*testing.T) D, harness string) D {
	t.Helper()
	d := newDriver(t)
	require.NotNil(t, d, "drivertest: %s.New returned nil", harness)
	return d
}

// ctx returns a context for one driver call, cancelled at the end of the
// test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// doneContexts returns a cancelled context and an expired one, with the
// error each must produce.
func doneContexts(t *testing.T) map[string]struct {
	ctx  context.Context
	want error
} {
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	t.Cleanup(cancel2)
	return map[string]struct {
		ctx  context.Context
		want error
	}{
		"canceled": {canceled, context.Canceled},
		"expired":  {expired, context.DeadlineExceeded},
	}
}

// checkDone runs call with each done context: it must fail with an error
// wrapping the context's error, promptly.
func (o Options) checkDone(t *testing.T, what string, call func(ctx context.Context) error) {
	t.Helper()
	for name, dc := range doneContexts(t) {
		start := time.Now()
		err := call(dc.ctx)
		assert.ErrorIs(t, err, dc.want, "%s with a %s context must return an error wrapping %v", what, name, dc.want)
		assert.Less(t, time.Since(start), o.promptly(), "%s with a %s context must return promptly", what, name)
	}
}

// isAny reports whether err wraps one of targets.
func isAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
