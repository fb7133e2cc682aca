package timeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d, step time.Duration
		want    string
	}{
		{0, time.Second, "0s"},
		{-time.Second, time.Second, "0s"},
		{500 * time.Millisecond, 500 * time.Millisecond, "0.5s"},
		{1500 * time.Millisecond, 500 * time.Millisecond, "1.5s"},
		{2 * time.Second, 500 * time.Millisecond, "2s"},
		{250 * time.Millisecond, 50 * time.Millisecond, "0.25s"},
		{5 * time.Millisecond, time.Millisecond, "0.005s"},
		{61500 * time.Millisecond, 100 * time.Millisecond, "1m1.5s"},
		{45 * time.Second, 15 * time.Second, "45s"},
		{2 * time.Minute, 30 * time.Second, "2m"},
		{150 * time.Second, 30 * time.Second, "2m30s"},
		{5*time.Minute + 57400*time.Millisecond, time.Second, "5m57s"},
		{time.Hour, 10 * time.Minute, "1h"},
		{time.Hour + 5*time.Minute, 5 * time.Minute, "1h05m"},
		{time.Hour + 30*time.Second, 30 * time.Second, "1h00m30s"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, formatDuration(tc.d, tc.step), "%v at step %v", tc.d, tc.step)
	}
}

func TestTicks(t *testing.T) {
	tests := []struct {
		end      time.Duration
		max      int
		step     time.Duration
		ticks    int
		lastTick time.Duration
	}{
		{7390 * time.Millisecond, 11, time.Second, 8, 7 * time.Second},
		{357 * time.Second, 11, 30 * time.Second, 12, 330 * time.Second},
		{100 * time.Second, 8, 15 * time.Second, 7, 90 * time.Second},
		{300 * time.Millisecond, 10, 50 * time.Millisecond, 7, 300 * time.Millisecond},
		{3 * time.Hour, 10, 30 * time.Minute, 7, 3 * time.Hour},
		{30 * 24 * time.Hour, 10, 96 * time.Hour, 8, 28 * 24 * time.Hour},
		{time.Second, 0, time.Second, 2, time.Second},
	}
	for _, tc := range tests {
		step, ts := ticks(tc.end, tc.max)
		assert.Equal(t, tc.step, step, "end %v", tc.end)
		if assert.Len(t, ts, tc.ticks, "end %v", tc.end) {
			assert.Zero(t, ts[0])
			assert.Equal(t, tc.lastTick, ts[len(ts)-1])
		}
	}
}

func TestCountStep(t *testing.T) {
	for members, want := range map[int]int{1: 1, 6: 1, 7: 2, 13: 2, 14: 5, 34: 5, 35: 10, 69: 10, 70: 20, 400: 100} {
		assert.Equal(t, want, countStep(members), "%d members", members)
	}
}

func TestToken(t *testing.T) {
	assert.Equal(t, "east", token("east"))
	assert.Equal(t, "v1.2-rc_3", token("v1.2-rc_3"))
	assert.Equal(t, "__script_", token(`<"script>`))
	assert.Equal(t, "_", token(""))
	assert.Equal(t, "zone___", token("zone é")) // é is two bytes
}
