package progress

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/stretchr/testify/assert"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  string
	}{
		{"hello", 0, "hello"},
		{"hello", 5, "hello"},
		{"hello", 6, "hello"},
		{"hello world", 8, "hello..."},
		{"héllo wörld", 8, "héllo..."},
		{"hello", 4, "h..."},
		{"hello", 3, "hel"},
		{"hello", 1, "h"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, truncate(tt.in, tt.width), "truncate(%q, %d)", tt.in, tt.width)
	}
}

func TestDurationAndStamp(t *testing.T) {
	tests := []struct {
		d            time.Duration
		dur, stamped string
	}{
		{0, "0s", "[00:00:00]"},
		{-time.Second, "0s", "[00:00:00]"},
		{1234567 * time.Microsecond, "1.2s", "[00:00:01]"},
		{250 * time.Millisecond, "250ms", "[00:00:00]"},
		{62*time.Second + 400*time.Millisecond, "1m2s", "[00:01:02]"},
		{100*time.Hour + 59*time.Minute, "100h59m0s", "[100:59:00]"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.dur, duration(tt.d), "duration(%v)", tt.d)
		assert.Equal(t, tt.stamped, stamp(tt.d), "stamp(%v)", tt.d)
	}
}

func TestErrTextFlattensAggregates(t *testing.T) {
	two := multierror.Append(nil, errors.New("a\nb"), errors.New("c"))
	assert.Equal(t, "2 errors: a b; c", errText(two))
	wrapped := fmt.Errorf("run halted at step x: %w", multierror.Append(nil, errors.New("only")))
	assert.Equal(t, "run halted at step x: only", errText(wrapped))
	assert.Equal(t, "", errText(nil))
	assert.Equal(t, "bell? esc?[0m del?", errText(errors.New("bell\a esc\x1b[0m del\x7f")))
}
