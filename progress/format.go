package progress

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// stamp renders the time since the run started as [hh:mm:ss].
func stamp(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("[%02d:%02d:%02d]", s/3600, s/60%60, s%60)
}

// clock renders an elapsed time as hh:mm:ss, without brackets.
func clock(d time.Duration) string {
	s := stamp(d)
	return s[1 : len(s)-1]
}

// duration renders how long something took, precise enough to read:
// milliseconds under a second, tenths under a minute, seconds above.
func duration(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
	case d < time.Second:
		d = d.Round(time.Millisecond)
	case d < time.Minute:
		d = d.Round(100 * time.Millisecond)
	default:
		d = d.Round(time.Second)
	}
	return d.String()
}

// oneLine makes text from drivers, platforms and load balancers safe to
// print on one line: line breaks and tabs become single spaces (aggregated
// errors are multi-line) and other control characters, which could move the
// cursor or recolour the operator's terminal, are replaced with '?'.
func oneLine(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t' || r == ' ':
			space = b.Len() > 0
			continue
		case unicode.IsControl(r):
			r = '?'
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// errText is [ErrorText]: err on one line, each distinct failure once.
func errText(err error) string { return ErrorText(err) }

// where names what an event concerns: the server (server names are unique
// in a farm, so the zone would add nothing), else the zone, else "".
func where(server, zone string) string {
	switch {
	case server != "":
		return oneLine(server)
	case zone != "":
		return "zone " + oneLine(zone)
	}
	return ""
}

// failure describes a failed action: what failed, after how many attempts,
// and the underlying error without the step/zone/server prefix the
// *farm.StepError repeats.
func failure(e event.Event) string {
	var se *farm.StepError
	if errors.As(e.Err, &se) {
		w := where(se.Server, se.Zone)
		detail := ""
		if se.Server != "" && se.Zone != "" {
			detail = "zone " + oneLine(se.Zone)
		}
		if se.Attempts > 1 {
			if detail != "" {
				detail += ", "
			}
			detail += fmt.Sprintf("%d attempts", se.Attempts)
		}
		if detail != "" {
			w += " (" + detail + ")"
		}
		return fmt.Sprintf("FAILED %s %s: %s", oneLine(se.Step), w, errText(se.Err))
	}
	w := where(e.Server, e.Zone)
	if w != "" {
		w = " " + w
	}
	return fmt.Sprintf("FAILED %s%s: %s", oneLine(e.Step), w, errText(e.Err))
}

// plural renders "1 retry", "2 retries", "3 actions".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// truncate cuts s to at most width runes, marking the cut with "...".
// A width of zero or less means no limit.
func truncate(s string, width int) string {
	if width <= 0 {
		return s
	}
	n := 0
	for i := range s {
		if n == width-3 && width > 3 && len([]rune(s[i:])) > 3 {
			return s[:i] + "..."
		}
		if n == width {
			return s[:i]
		}
		n++
	}
	return s
}
