package drivertest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// common is what every harness shares.
type common struct {
	bubble func(t *testing.T, f func(*testing.T))
	prompt time.Duration
	known  map[string]string
}

// run runs body as the subtest name of t, in a bubble when the harness asks
// for one.
func (c common) run(t *testing.T, name string, body func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if why, ok := c.known[name]; ok {
			t.Skipf("known defect: %s", why)
		}
		if c.bubble != nil {
			c.bubble(t, body)
			return
		}
		body(t)
	})
}

func (c common) promptly() time.Duration {
	if c.prompt > 0 {
		return c.prompt
	}
	return 2 * time.Second
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
func (c common) checkDone(t *testing.T, what string, call func(ctx context.Context) error) {
	t.Helper()
	for name, dc := range doneContexts(t) {
		start := time.Now()
		err := call(dc.ctx)
		assert.ErrorIs(t, err, dc.want, "%s with a %s context must return an error wrapping %v", what, name, dc.want)
		assert.Less(t, time.Since(start), c.promptly(), "%s with a %s context must return promptly", what, name)
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
