package timeline

import (
	"strconv"
	"strings"
	"time"
)

// tickSteps are the spacings the time axis may use, smallest first.
var tickSteps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond,
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// ticks returns the tick spacing for an axis from 0 to end with at most
// maxTicks intervals, and the tick positions (0 included).
func ticks(end time.Duration, maxTicks int) (time.Duration, []time.Duration) {
	maxTicks = max(maxTicks, 1)
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if end/s <= time.Duration(maxTicks) {
			step = s
			break
		}
	}
	for end/step > time.Duration(maxTicks) { // beyond the table: days
		step *= 2
	}
	var out []time.Duration
	for t := time.Duration(0); t <= end; t += step {
		out = append(out, t)
	}
	return step, out
}

// formatDuration writes d, which is not negative, for an axis whose ticks
// are step apart: "0s", "0.25s", "45s", "2m", "2m30s", "1h05m". Sub-second
// steps show seconds with as many decimals as the step needs.
func formatDuration(d, step time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if step < time.Second {
		prec := 3
		switch {
		case step >= 100*time.Millisecond:
			prec = 1
		case step >= 10*time.Millisecond:
			prec = 2
		}
		m := d / time.Minute
		str := strconv.FormatFloat((d - m*time.Minute).Seconds(), 'f', prec, 64)
		str = strings.TrimRight(strings.TrimRight(str, "0"), ".")
		if m > 0 {
			return strconv.Itoa(int(m)) + "m" + str + "s"
		}
		return str + "s"
	}
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	switch {
	case h > 0:
		out := strconv.Itoa(h) + "h"
		if m > 0 || s > 0 {
			out += twoDigits(m) + "m"
		}
		if s > 0 {
			out += twoDigits(s) + "s"
		}
		return out
	case m > 0:
		if s > 0 {
			return strconv.Itoa(m) + "m" + strconv.Itoa(s) + "s"
		}
		return strconv.Itoa(m) + "m"
	}
	return strconv.Itoa(s) + "s"
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// seconds formats d in seconds for data attributes: "0", "61.25".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
