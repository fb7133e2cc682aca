package farm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// RetryPolicy says how actions that fail with a transient error
// (drivers.ErrUnavailable) are retried: exponential backoff with jitter. No
// other error is retried. The zero value of each field is its documented default.
type RetryPolicy struct {
	// MaxAttempts is the most times an action is tried, the first included.
	// Zero means 5; 1 disables retries.
	MaxAttempts int
	// InitialBackoff is the wait before the second attempt. Zero means 1s.
	InitialBackoff time.Duration
	// MaxBackoff caps the wait between attempts. Zero means 30s.
	MaxBackoff time.Duration
	// Multiplier grows the wait after each attempt. Zero means 2.
	Multiplier float64
	// Jitter is the share (0 to 1) by which each wait is randomly shortened
	// or lengthened. Zero means 0.2; a negative value disables jitter.
	Jitter float64
}

// Retry defaults, as the fields of [RetryPolicy] document them.
const (
	defaultMaxAttempts    = 5
	defaultInitialBackoff = time.Second
	defaultMaxBackoff     = 30 * time.Second
	defaultMultiplier     = 2.0
	defaultJitter         = 0.2
)

func (p RetryPolicy) validate() error {
	switch {
	case p.MaxAttempts < 0:
		return fmt.Errorf("retry policy: max attempts %d: want 0 (default) or more", p.MaxAttempts)
	case p.InitialBackoff < 0 || p.MaxBackoff < 0:
		return fmt.Errorf("retry policy: backoff %v..%v: want durations of 0 (default) or more", p.InitialBackoff, p.MaxBackoff)
	case p.Multiplier != 0 && (p.Multiplier < 1 || math.IsNaN(p.Multiplier) || math.IsInf(p.Multiplier, 0)):
		return fmt.Errorf("retry policy: multiplier %v: want 0 (default) or a finite number of at least 1", p.Multiplier)
	case p.Jitter > 1 || math.IsNaN(p.Jitter):
		return fmt.Errorf("retry policy: jitter %v: want a share of at most 1 (negative disables jitter)", p.Jitter)
	}
	return nil
}

// withDefaults returns p with zero fields set to their defaults.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = defaultMaxAttempts
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = defaultInitialBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = defaultMaxBackoff
	}
	if p.Multiplier == 0 {
		p.Multiplier = defaultMultiplier
	}
	if p.Jitter == 0 {
		p.Jitter = defaultJitter
	}
	return p
}

// Backoff returns the wait before attempt number next (2 for the first
// retry), before jitter: InitialBackoff × Multiplier^(next-2), capped at
// MaxBackoff.
func (p RetryPolicy) Backoff(next int) time.Duration {
	p = p.withDefaults()
	if next < 2 {
		return 0
	}
	d := float64(p.InitialBackoff) * math.Pow(p.Multiplier, float64(next-2))
	if d > float64(p.MaxBackoff) {
		return p.MaxBackoff
	}
	return time.Duration(d)
}

// jittered applies the policy's jitter to d with r.
func (p RetryPolicy) jittered(d time.Duration, r *rand.Rand) time.Duration {
	p = p.withDefaults()
	if p.Jitter <= 0 || d <= 0 {
		return d
	}
	f := 1 + p.Jitter*(2*r.Float64()-1)
	return time.Duration(float64(d) * f)
}
