package bench

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/balanced-deploy/balanced/steps"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCriticalPathArithmetic checks the bound against sums done by hand.
func TestCriticalPathArithmetic(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		s    settings
		want time.Duration
	}{
		// 34 dependent round trips (34 × 2 ms), two drains (2 × 50),
		// two confirm delays (2 × 10), a publish (100), two installs
		// (2 × 100): 68 + 100 + 20 + 100 + 200; and the guards read at
		// the step boundaries, 35 round trips (70): 2 + 4 + 2×5 + 5 + 3 +
		// 4 + 3 + 3 + 1, less await-loaded's 3, read while the Loaded
		// installs run (the install still ends last): 64.
		{"4 servers", strict(defaultSettings(4, 0)), 552 * ms},
		// Same chain whatever the farm size when K is unlimited.
		{"1000 servers, K=1000", strict(defaultSettings(1000, 1000)), 552 * ms},
		// K=1 over 4 servers (2 Updating, 2 Loaded): preflight
		// L + 13L, stop 4L + C + 4L, block 2L + C + 2L, publish probes
		// 2L before and 2L after the installs, verify 2L, the three
		// restores 4L each; the guards' reads of a group take 2L instead
		// of L: 56 round trips at the boundaries instead of 35, of which
		// await-loaded's 4 run beside the installs: 52.
		{"4 servers, K=1", strict(defaultSettings(4, 1)), 488*ms + (14-5+8-2+4-2+2-1+1+2-1+3*(4-2))*2*ms + 52*2*ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			terms := criticalPath(tt.s)
			assert.Equal(t, tt.want, sum(terms), describe(terms))
			got, err := boundOf(tt.s)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "in the strict order the path is the sum")
		})
	}
	// With overlap: stop-schedulers (L + C + L = 14 ms), drain-updating
	// (4L + D = 58 ms) and block-loaded (14 ms) run beside each other after
	// preflight, and the two that started beside stop-schedulers read no
	// guard: 552 - (14 + 62 + 22) + 58; and start-schedulers-loaded (2L)
	// runs beside restore-traffic (5L, and its guard's L left out: the
	// guard may be gone when it starts): - 6.
	got, err := boundOf(defaultSettings(4, 0))
	require.NoError(t, err)
	assert.Equal(t, 506*ms, got)
}

func strict(s settings) settings {
	s.Strict = true
	return s
}

// TestCriticalPathCoversThePlan checks the bound has one term per step of
// steps.Balanced, in order: a step added to the plan must be added here.
func TestCriticalPathCoversThePlan(t *testing.T) {
	var ids []string
	for _, term := range criticalPath(defaultSettings(4, 0)) {
		ids = append(ids, term.Step)
	}
	assert.Equal(t, steps.IDs(), ids)
}

// TestCriticalPathIsALowerBound runs the plan on a tiny fake farm with the
// real-time benchmarks' settings (2 ms calls, 50 ms drains, 100 ms publish
// and installs), in simulated time: it must take at least the bound (else
// the bound is wrong) and at most the bound plus the poll allowance.
func TestCriticalPathIsALowerBound(t *testing.T) {
	for _, k := range []int{0, 1} {
		for _, strictOrder := range []bool{false, true} {
			t.Run(fmt.Sprintf("K=%d/strict=%v", k, strictOrder), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					s := defaultSettings(4, k)
					s.Strict = strictOrder
					res, err := runBalanced(t.Context(), s, nil)
					require.NoError(t, err)
					bound, err := boundOf(s)
					require.NoError(t, err)
					t.Logf("run %s (simulated), bound %s, poll allowance %s, %d driver calls", res.Wall, bound, s.pollAllowance(), res.Calls)
					assert.GreaterOrEqual(t, res.Wall, bound, describe(criticalPath(s)))
					assert.LessOrEqual(t, res.Wall, bound+s.pollAllowance(), "each poll sees its condition at most one interval late")
				})
			})
		}
	}
}
