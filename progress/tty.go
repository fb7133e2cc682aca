package progress

import (
	"bytes"
	"fmt"
	"time"

	"github.com/balanced-deploy/balanced/farm"
)

// ANSI escapes of the status block.
const (
	escUp    = "\x1b[%dA" // cursor up n lines
	escClear = "\r\x1b[J" // to column 1, erase to the end of the screen
)

// maxWaits is how many waits the status block lists before "and N more".
const maxWaits = 4

// observeTTY renders e on a terminal: lines that belong in the history are
// printed above the status block, which is redrawn now or soon.
func (t *Terminal) observeTTY(e farm.Event, text string, ok bool) {
	var lines []string
	if ok && e.Kind != farm.StepStarted && e.Kind != farm.Progress && e.Kind != farm.RunFinished {
		lines = append(lines, stamp(t.run.elapsed(t.run.now))+" "+text)
	}
	switch {
	case e.Kind == farm.RunFinished:
		// The last frame stays on screen with the result under it.
		t.stopTimer()
		t.redraw(nil, stamp(t.run.elapsed(t.run.now))+" "+text)
		t.drawn = 0
	case len(lines) > 0 || e.Kind == farm.StepStarted || e.Kind == farm.RunStarted:
		t.redraw(lines, "")
	default:
		t.dirty = true
		if wait := t.every - time.Since(t.lastDraw); wait <= 0 {
			t.redraw(nil, "")
		} else if t.timer == nil {
			t.timer = time.AfterFunc(wait, t.flush)
		}
	}
}

// flush redraws a block left dirty by throttled events.
func (t *Terminal) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.timer = nil
	if t.dirty && !t.run.finished && t.err == nil {
		t.redraw(nil, "")
	}
}

func (t *Terminal) stopTimer() {
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}

// redraw erases the status block, prints lines, draws the block again and
// prints after under it, in one write.
func (t *Terminal) redraw(lines []string, after string) {
	var b bytes.Buffer
	if t.drawn > 0 {
		fmt.Fprintf(&b, escUp, t.drawn)
	}
	b.WriteString(escClear)
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	frame := t.frame()
	for _, l := range frame {
		b.WriteString(truncate(l, t.width) + "\n")
	}
	if after != "" {
		b.WriteString(after + "\n")
	}
	t.drawn = len(frame)
	t.dirty = false
	t.lastDraw = time.Now()
	t.write(b.Bytes())
}

// frame returns the lines of the status block.
func (t *Terminal) frame() []string {
	r := &t.run
	el := clock(r.elapsed(r.now))
	s := r.step
	if s == nil {
		if r.begun {
			return []string{"run started, elapsed " + el}
		}
		return []string{"waiting for the run to start"}
	}
	head := s.label()
	switch {
	case s.finished && s.err != nil:
		head += " FAILED"
	case s.finished:
		head += " done"
	case s.title != "":
		head += ": " + oneLine(s.title)
	}
	counts := fmt.Sprintf("  elapsed %s | actions %d done, %d running, %d failed | retries %d", el, s.done, s.running(), s.failed, s.retries)
	if r.retries > s.retries {
		counts += fmt.Sprintf(" (%d in run)", r.retries)
	}
	out := []string{head, counts}
	waits := s.waiting()
	for i, w := range waits {
		if i == maxWaits {
			out = append(out, fmt.Sprintf("  and %d more waiting", len(waits)-maxWaits))
			break
		}
		out = append(out, "  "+progressText(w, false))
	}
	if r.warning != "" {
		out = append(out, "  last warning at "+clock(r.warningAt)+": "+r.warning)
	}
	return out
}
