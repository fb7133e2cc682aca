package progress

import (
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
)

// TerminalConfig tunes a [Terminal]. The zero value renders a status block
// on a terminal and plain lines anywhere else.
type TerminalConfig struct {
	// ForceTTY renders the status block with ANSI escapes even when the
	// writer is not a terminal (for a terminal wrapped in another writer,
	// or a test).
	ForceTTY bool
	// Plain writes plain lines even on a terminal. It wins over ForceTTY.
	// Set it for consoles that do not interpret ANSI escapes (the legacy
	// Windows console host without virtual-terminal processing), and
	// when the output goes to a character device that is not a terminal
	// (a serial line, /dev/null), which the detection takes for one.
	Plain bool
	// Verbose prints a line for every action that succeeded, too. By
	// default they are counted in the step's summary line, so that a farm
	// of hundreds of servers does not flood the output; failed actions are
	// always printed.
	Verbose bool
	// RefreshInterval is the least time between two redraws of the status
	// block on a terminal. Step changes, warnings, retries and failures
	// redraw at once. Zero means 100ms.
	RefreshInterval time.Duration
	// Width is the width of the terminal in columns: status-block lines
	// are cut to it so that they never wrap (a wrapped line would break
	// the redraw in place). Zero means the terminal's width, read at each
	// redraw (golang.org/x/term.GetSize, so a resized window is followed),
	// or DefaultWidth when it cannot be read.
	Width int
	// Farm gives the status block one row per zone and group, with the
	// group's members, their load-balancer states as last seen
	// (event.MembersSeen events) and each running step's progress over
	// them. Nil shows one row per zone whose members were seen. Set it
	// later with [Terminal.SetFarm] when the farm is built after the
	// observer.
	Farm *farm.Farm
}

// Defaults of [TerminalConfig].
const (
	DefaultRefreshInterval = 100 * time.Millisecond
	DefaultWidth           = 80
)

// Terminal shows a run's progress to a person; it is an [event.Observer].
//
// In plain mode (w is not a terminal, or TerminalConfig.Plain) it writes one
// line per meaningful event, stamped with the time since the run started:
//
//	[00:00:03] step 3/12 drain-updating: Take the Updating servers out of the load balancer
//	[00:00:05]   drain-updating zone default: 1/3 draining fe02 (2 active): 2 connections left
//	[00:00:07]   retry fe03 (attempt 1): connection refused; transient error, retrying in 1s
//	[00:00:09] step 3/12 drain-updating done in 6s (3 actions, 1 retry)
//	[00:01:02] run succeeded in 1m2s (12 steps, 40 actions, 1 retry)
//
// Long waits are never silent: every progress event of the engine (sent
// every steps.Config.ProgressInterval) gets a line.
//
// On a terminal it prints the same lines for step results, retries,
// warnings and failures, and below them keeps a status block up to date in
// place: the current step, its actions (one per server, or per zone for
// load-balancer work) done, running and failed, the latest progress of
// every wait in the step, retries, elapsed time and the last warning:
//
//	step 3/12 drain-updating: Take the Updating servers out of the load...
//	  elapsed 00:00:13 | actions 0 done, 1 running, 0 failed | retries 0
//	  zone default: 1/2 draining fe02 (2 active): 2 connections left
//	  last warning at 00:00:00: zone default: Updating member fe02 reads...
//
// While several steps run at once (the engine starts a step as soon as the
// steps it needs are done), the block lists them in the plan's order, each
// with its own actions, failures, retries and waits; at most four steps and
// two waits each, so that it stays a few lines high on any farm:
//
//	steps 2-4 of 12 running
//	  elapsed 00:00:01 | actions 5 done, 2 running, 0 failed | retries 1
//	  step 2/12 stop-schedulers: 3 done, 1 running, 1 retry
//	  step 3/12 drain-updating: 0 done, 1 running
//	    zone default: 0/2 draining fe01 (3 active), fe02 (2 active): 5 con...
//	  step 4/12 block-loaded: 2 done, 0 running
//
// and the retry, warning and hook lines name their step ("retry
// stop-schedulers fe03 (attempt 1): ..."). Every step's result line counts
// its own actions, whichever ends first.
//
// Elapsed time is as of the latest event. The block is redrawn at most every RefreshInterval, and at once
// on every step change; when the run ends its last frame stays on screen.
//
// Observe is safe for concurrent use. Write errors do not disturb the run:
// the first one stops the output and is kept for [Terminal.Err].
type Terminal struct {
	w       io.Writer
	tty     bool
	verbose bool
	every   time.Duration
	width   int
	fd      int // the terminal's file descriptor when width is measured; -1 otherwise

	mu       sync.Mutex
	farm     *farm.Farm
	run      runState
	err      error
	drawn    int       // status-block lines on screen below the cursor
	lastDraw time.Time // wall clock of the last redraw
	dirty    bool      // the block changed since it was drawn
	timer    *time.Timer
}

var _ event.Observer = (*Terminal)(nil)

// NewTerminal returns a Terminal writing to w. It renders the status block
// when w is an *os.File that is a character device (a terminal) or
// cfg.ForceTTY is set, and plain lines otherwise or when cfg.Plain is set.
func NewTerminal(w io.Writer, cfg TerminalConfig) *Terminal {
	t := &Terminal{w: w, verbose: cfg.Verbose, every: cfg.RefreshInterval, width: cfg.Width, fd: -1, farm: cfg.Farm}
	if t.every <= 0 {
		t.every = DefaultRefreshInterval
	}
	if f, ok := w.(*os.File); ok && f != nil && t.width <= 0 && isTerminal(w) {
		t.fd = int(f.Fd())
	}
	if t.width <= 0 {
		t.width = DefaultWidth
	}
	t.tty = !cfg.Plain && (cfg.ForceTTY || isTerminal(w))
	return t
}

// SetFarm gives the status block its rows per zone and group (see
// TerminalConfig.Farm). It is safe to call while a run is observed.
func (t *Terminal) SetFarm(f *farm.Farm) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.farm = f
}

// columns is the width to cut status-block lines to: the terminal's
// current width when it can be read, else the configured one.
func (t *Terminal) columns() int {
	if t.fd >= 0 {
		if w, _, err := term.GetSize(t.fd); err == nil && w > 0 {
			return w
		}
	}
	return t.width
}

// isTerminal reports whether w is a character device, the well-known test
// for an interactive terminal that needs no system-specific calls.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || f == nil {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// TTY reports whether the Terminal renders the status block (true) or plain
// lines (false).
func (t *Terminal) TTY() bool { return t.tty }

// Err returns the first error writing to w, or nil.
func (t *Terminal) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Observe renders e. It implements [event.Observer].
func (t *Terminal) Observe(e event.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return
	}
	t.run.update(e)
	text, ok := t.run.line(e, t.verbose)
	if !t.tty {
		at := stamp(t.run.elapsed(t.run.now))
		if e.Kind == event.StepFinished {
			for _, c := range t.run.completed {
				t.write([]byte(at + "   " + c + "\n"))
			}
		}
		if ok {
			t.write([]byte(at + " " + text + "\n"))
		}
		return
	}
	t.observeTTY(e, text, ok)
}

// write writes b to w in one call, keeping the first error.
func (t *Terminal) write(b []byte) {
	if t.err != nil {
		return
	}
	if _, err := t.w.Write(b); err != nil {
		t.err = err
	}
}
