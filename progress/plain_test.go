package progress_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/hashicorp/go-multierror"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// render feeds events to a Terminal and returns what it wrote.
func render(t *testing.T, cfg progress.TerminalConfig, events []event.Event) string {
	t.Helper()
	var buf bytes.Buffer
	term := progress.NewTerminal(&buf, cfg)
	for _, e := range events {
		term.Observe(e)
	}
	require.NoError(t, term.Err())
	return buf.String()
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	assert.Equal(t, string(want), got, "output differs from %s (go test -update rewrites it)", path)
}

// TestPlainGolden renders hand-built runs in plain mode and compares them
// with the golden files, which are the reference for what an operator reads.
func TestPlainGolden(t *testing.T) {
	tests := []struct {
		name   string
		cfg    progress.TerminalConfig
		events []event.Event
	}{
		{"succeeded", progress.TerminalConfig{}, succeeded()},
		{"halted", progress.TerminalConfig{}, halted()},
		{"rolled-back", progress.TerminalConfig{}, rolledBack()},
		{"verbose", progress.TerminalConfig{Verbose: true}, halted()},
		{"hostile", progress.TerminalConfig{}, hostile()},
		{"resumed", progress.TerminalConfig{}, resumed()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, tt.cfg, tt.events)
			golden(t, "plain-"+tt.name, got)
			assertReadable(t, got)
		})
	}
}

// assertReadable checks the plain output line by line: every line is
// stamped, printable and free of escapes.
func assertReadable(t *testing.T, out string) {
	t.Helper()
	require.True(t, strings.HasSuffix(out, "\n"), "output ends with a newline")
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		assert.Regexp(t, `^\[\d\d:\d\d:\d\d\] (  )?\S`, l, "line %d is stamped", i+1)
		assert.NotContains(t, l, "\x1b", "line %d has no escape", i+1)
		assert.NotContains(t, l, "\r", "line %d has no carriage return", i+1)
		assert.NotContains(t, l, "\t", "line %d has no tab", i+1)
	}
}

// TestPlainSummarisesSuccesses checks that a big step is one line, not one
// per server, unless Verbose, and that failures are printed one by one.
func TestPlainSummarisesSuccesses(t *testing.T) {
	s := newSeq()
	s.emit(event.Event{Kind: event.RunStarted, Total: 1, Message: "1 steps over 200 servers in 1 zones"})
	s.start(1, 1, "stop-schedulers", "Stop")
	var servers []string
	for i := range 200 {
		servers = append(servers, "fe"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	s.actions("default", 0, servers[:198]...)
	var errs *multierror.Error
	for _, sv := range servers[198:] {
		err := stepErr("stop-schedulers", "default", sv, 1, assert.AnError)
		errs = multierror.Append(errs, err)
		s.emit(event.Event{Kind: event.ActionStarted, Server: sv})
		s.emit(event.Event{Kind: event.ActionFinished, Server: sv, Err: err})
	}
	s.finish(1, 1, "Stop", errs)

	out := render(t, progress.TerminalConfig{}, s.events)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Len(t, lines, 5, out) // run started, step started, 2 failures, step failed
	assert.Contains(t, out, "FAILED stop-schedulers "+servers[198]+" (zone default): "+assert.AnError.Error())
	assert.Contains(t, out, "FAILED stop-schedulers "+servers[199]+": the same error as "+servers[198]+"\n", "each error printed once")
	assert.Equal(t, 1, strings.Count(out, "FAILED stop-schedulers "+servers[198]+" (zone default): "+assert.AnError.Error()))
	assert.Contains(t, out, "step 1/1 stop-schedulers FAILED after 0s (200 actions, 2 failed)\n", "the failures are not repeated")

	verbose := render(t, progress.TerminalConfig{Verbose: true}, s.events)
	assert.Len(t, strings.Split(strings.TrimSpace(verbose), "\n"), 5+198)
	assert.Contains(t, verbose, "ok stop-schedulers "+servers[0]+"\n")
}

// TestPlainStampsAreRelativeToRunStart checks that times come from the
// events and count from RunStarted, hours included.
func TestPlainStampsAreRelativeToRunStart(t *testing.T) {
	s := newSeq()
	s.emit(event.Event{Kind: event.RunStarted, Total: 1})
	s.wait(25*time.Hour + 61*time.Second + 500*time.Millisecond)
	s.emit(event.Event{Kind: event.Warning, Message: "late"})
	out := render(t, progress.TerminalConfig{}, s.events)
	assert.Equal(t, "[00:00:00] run started\n[25:01:01]   warning: late\n", out)
}
