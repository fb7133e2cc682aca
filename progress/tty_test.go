package progress_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// screen is a minimal terminal: it understands the escapes the status
// block uses (cursor up, carriage return, erase to end of screen) and
// refuses any other, so a test can read what an operator would see.
type screen struct {
	mu       sync.Mutex
	lines    [][]rune
	row, col int
	raw      bytes.Buffer
	redraws  int
}

var escape = regexp.MustCompile(`^\x1b\[(\d*)([A-Za-z])`)

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw.Write(p)
	for i := 0; i < len(p); {
		if p[i] == 0x1b {
			m := escape.FindSubmatch(p[i:])
			if m == nil {
				return i, fmt.Errorf("unexpected escape %q", p[i:min(len(p), i+8)])
			}
			n, _ := strconv.Atoi(string(m[1]))
			switch string(m[2]) {
			case "A":
				s.row = max(0, s.row-n)
			case "J":
				s.redraws++
				s.grow()
				s.lines[s.row] = s.lines[s.row][:s.col]
				s.lines = s.lines[:s.row+1]
			default:
				return i, fmt.Errorf("unexpected escape %q", m[0])
			}
			i += len(m[0])
			continue
		}
		r, size := utf8.DecodeRune(p[i:])
		i += size
		switch r {
		case '\n':
			s.row++
			s.col = 0
		case '\r':
			s.col = 0
		default:
			s.grow()
			line := s.lines[s.row]
			if s.col < len(line) {
				line[s.col] = r
			} else {
				line = append(line, r)
			}
			s.lines[s.row] = line
			s.col++
		}
	}
	return len(p), nil
}

func (s *screen) grow() {
	for len(s.lines) <= s.row {
		s.lines = append(s.lines, nil)
	}
}

// text returns the screen's lines, without the empty line under the cursor.
func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for i, l := range s.lines {
		if i == len(s.lines)-1 && len(l) == 0 {
			break
		}
		b.WriteString(string(l) + "\n")
	}
	return b.String()
}

// frame returns the lines of the last status block drawn: what follows the
// last erase in the raw output.
func (s *screen) frame() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw := s.raw.String()
	last := raw[strings.LastIndex(raw, "\x1b[J")+len("\x1b[J"):]
	return strings.Split(strings.TrimSuffix(last, "\n"), "\n")
}

// TestTerminalRedrawsInPlace feeds a whole run to a terminal and checks
// that escapes were used, that what stays on the screen is the history of
// the run with the final frame under it (no stale frames), and that every
// frame line fits the width.
func TestTerminalRedrawsInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		scr := &screen{}
		term := progress.NewTerminal(scr, progress.TerminalConfig{ForceTTY: true})
		require.True(t, term.TTY())
		for _, e := range succeeded() {
			term.Observe(e)
		}
		require.NoError(t, term.Err())

		raw := scr.raw.String()
		assert.Contains(t, raw, "\x1b[J", "erases the old block")
		assert.Regexp(t, `\x1b\[\d+A`, raw, "moves the cursor up over the old block")
		assert.Greater(t, scr.redraws, 12, "redraws at least on every step change")

		frame := scr.frame()
		require.GreaterOrEqual(t, len(frame), 3, raw)
		assert.Equal(t, "run succeeded: 12 of 12 steps done", frame[0], "the last frame says where the run ended")
		assert.Equal(t, "  elapsed 00:01:41 | 12 steps done | 21 actions | 1 retry", frame[1])
		assert.Contains(t, frame[len(frame)-2], "last warning at 00:00:00: zone default: Updating member fe02 reads draining")
		assert.Equal(t, "[00:01:41] run succeeded in 1m41s (12 steps, 21 actions, 1 retry, 1 warning)", frame[len(frame)-1])

		golden(t, "tty-succeeded-screen", scr.text())
		for _, l := range strings.Split(scr.text(), "\n") {
			if !strings.HasPrefix(l, "[") { // frame lines, not history
				assert.LessOrEqual(t, utf8.RuneCountInString(l), progress.DefaultWidth, l)
			}
		}
	})
}

// TestTerminalFrameDuringDrain checks the block in the middle of a step:
// the step and its title, the latest progress of the drain, the last
// warning, and lines cut to the configured width.
func TestTerminalFrameDuringDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		scr := &screen{}
		term := progress.NewTerminal(scr, progress.TerminalConfig{ForceTTY: true, Width: 60})
		for _, e := range firstSteps().events {
			term.Observe(e)
		}
		time.Sleep(progress.DefaultRefreshInterval) // the throttled redraw
		synctest.Wait()
		frame := scr.frame()
		assert.Equal(t, []string{
			"step 3/12 drain-updating: Take the Updating servers out o...",
			"  elapsed 00:00:13 | actions 0 done, 1 running, 0 failed ...",
			"  zone default: 1/2 draining fe02 (2 active): 2 connectio...",
			"  last warning at 00:00:00: zone default: Updating member...",
		}, frame)
	})
}

// TestTerminalThrottles checks that a burst of events redraws the block
// once, that the last state is drawn within the refresh interval even when
// no event follows, and that step changes are drawn at once.
func TestTerminalThrottles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		scr := &screen{}
		term := progress.NewTerminal(scr, progress.TerminalConfig{ForceTTY: true, RefreshInterval: time.Second})
		s := newSeq()
		s.emit(event.Event{Kind: event.RunStarted, Total: 2})
		s.start(1, 2, "stop-schedulers", "Stop")
		for i := range 100 {
			s.emit(event.Event{Kind: event.ActionStarted, Server: fmt.Sprintf("fe%03d", i)})
		}
		for i := range 100 {
			s.emit(event.Event{Kind: event.ActionFinished, Server: fmt.Sprintf("fe%03d", i)})
		}
		for _, e := range s.events {
			term.Observe(e)
		}
		assert.Equal(t, 2, scr.redraws, "run start and step start only: the burst is throttled")
		assert.Contains(t, scr.frame()[1], "actions 0 done, 0 running", "not drawn yet")

		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, 3, scr.redraws, "one trailing redraw for the burst")
		assert.Contains(t, scr.frame()[1], "actions 100 done, 0 running, 0 failed")

		// The step ends (its result line is drawn at once), then the next
		// starts: a step that starts while another runs would overlap it.
		term.Observe(event.Event{Kind: event.StepFinished, Step: "stop-schedulers", Done: 1, Total: 2, Time: t0.Add(time.Second), Message: "Stop"})
		assert.Equal(t, 4, scr.redraws, "a step's result is drawn at once")
		term.Observe(event.Event{Kind: event.StepStarted, Step: "drain-updating", Done: 1, Total: 2, Time: t0.Add(time.Second), Message: "Drain"})
		assert.Equal(t, 5, scr.redraws, "a step change is drawn at once")
		assert.Equal(t, "step 2/2 drain-updating: Drain", scr.frame()[0])
	})
}

// TestTerminalConcurrentObserve sends events from many goroutines, as the
// engine does, with the race detector watching the state and the timer.
func TestTerminalConcurrentObserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		scr := &screen{}
		term := progress.NewTerminal(scr, progress.TerminalConfig{ForceTTY: true})
		term.Observe(event.Event{Kind: event.RunStarted, Time: t0, Total: 1})
		term.Observe(event.Event{Kind: event.StepStarted, Time: t0, Step: "s", Total: 1, Message: "S"})
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				sv := fmt.Sprintf("fe%02d", i)
				term.Observe(event.Event{Kind: event.ActionStarted, Time: t0, Step: "s", Server: sv})
				time.Sleep(time.Duration(i) * 10 * time.Millisecond)
				term.Observe(event.Event{Kind: event.Progress, Time: t0, Step: "s", Server: sv, Message: "waiting"})
				term.Observe(event.Event{Kind: event.ActionFinished, Time: t0, Step: "s", Server: sv})
			})
		}
		wg.Wait()
		term.Observe(event.Event{Kind: event.StepFinished, Time: t0, Step: "s", Done: 1, Total: 1})
		term.Observe(event.Event{Kind: event.RunFinished, Time: t0, Message: "run succeeded"})
		require.NoError(t, term.Err())
		assert.Contains(t, scr.text(), "step 1/1 s done in 0s (50 actions)")
		assert.Contains(t, scr.frame()[1], "| 50 actions")
	})
}

// TestTerminalMode checks how the mode is chosen.
func TestTerminalMode(t *testing.T) {
	var buf bytes.Buffer
	assert.False(t, progress.NewTerminal(&buf, progress.TerminalConfig{}).TTY(), "a buffer is not a terminal")
	assert.True(t, progress.NewTerminal(&buf, progress.TerminalConfig{ForceTTY: true}).TTY())
	assert.False(t, progress.NewTerminal(&buf, progress.TerminalConfig{ForceTTY: true, Plain: true}).TTY(), "Plain wins")

	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, progress.NewTerminal(f, progress.TerminalConfig{}).TTY(), "a regular file is not a terminal")

	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer null.Close()
	assert.True(t, progress.NewTerminal(null, progress.TerminalConfig{}).TTY(), "a character device counts as a terminal")
	assert.False(t, progress.NewTerminal(null, progress.TerminalConfig{Plain: true}).TTY())
}

// failingWriter fails every write after the first n.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, assert.AnError
	}
	w.n--
	return len(p), nil
}

// TestTerminalKeepsWriteError checks that a broken output is reported, not
// retried on every event.
func TestTerminalKeepsWriteError(t *testing.T) {
	for _, tty := range []bool{false, true} {
		w := &failingWriter{n: 2}
		term := progress.NewTerminal(w, progress.TerminalConfig{ForceTTY: tty})
		for _, e := range halted() {
			term.Observe(e)
		}
		assert.ErrorIs(t, term.Err(), assert.AnError)
	}
}
