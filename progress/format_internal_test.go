package progress

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-multierror"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/balanced-deploy/balanced/farm"
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
	assert.Equal(t, "2 failures: a b; c", errText(two))
	wrapped := fmt.Errorf("run halted at step x: %w", multierror.Append(nil, errors.New("only")))
	assert.Equal(t, "run halted at step x: only", errText(wrapped))
	assert.Equal(t, "", errText(nil))
	assert.Equal(t, "bell? esc?[0m del?", errText(errors.New("bell\a esc\x1b[0m del\x7f")))
}

// TestErrorTextSaysEachFailureOnce checks that one error on many servers is
// said once with the servers counted, walking the error's structure.
func TestErrorTextSaysEachFailureOnce(t *testing.T) {
	var merr *multierror.Error
	for i := range 20 {
		merr = multierror.Append(merr, &farm.StepError{Step: "preflight", Zone: "default", Server: fmt.Sprintf("fe%02d", i+1),
			Err: errors.New("dial unix /run/haproxy/admin.sock: connect: no such file or directory")})
	}
	merr = multierror.Append(merr, &farm.StepError{Step: "preflight", Zone: "default", Err: errors.New("platform: 401")})
	run := fmt.Errorf("%w at step preflight: %w", farm.ErrHalted, merr)
	got := ErrorText(run)
	assert.Equal(t, "run halted at step preflight: 2 failures: step preflight: on 20 servers (fe01, fe02, fe03, fe04, fe05, ...): "+
		"dial unix /run/haproxy/admin.sock: connect: no such file or directory; step preflight: zone default: platform: 401", got)
	fs := Failures(run)
	require.Len(t, fs, 2)
	assert.Len(t, fs[0].Servers, 20)
	assert.Equal(t, []string{"default"}, fs[1].Zones)
	assert.Equal(t, 1, strings.Count(got, "no such file"))
	assert.Nil(t, Failures(nil))
}
