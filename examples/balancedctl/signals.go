package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/spec"
	"github.com/balanced-deploy/balanced/steps"
)

// stopSignals are the signals that stop a run at its next safe point:
// Ctrl-C, a service manager's stop, and a terminal or SSH session that goes
// away (SIGHUP).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// stopper turns the stop signals into a cancellation of the run's context:
// the engine then halts at the next safe point, and resume continues from
// there. The first signal says what the run is finishing and about how long
// that may take; later ones say the run is already stopping. It watches the
// run's events to know the steps in progress: several at once where the
// plan's steps overlap (stop-schedulers, drain-updating and block-loaded
// run together).
type stopper struct {
	cancel context.CancelFunc

	mu       sync.Mutex
	stderr   io.Writer
	signals  int
	first    time.Time
	started  bool                   // a step has started
	running  map[string]runningStep // by step ID
	timeouts spec.Timeouts
	source   string
}

// runningStep is a step in progress, as its StepStarted event said.
type runningStep struct {
	id           string
	index, total int
	since        time.Time
}

// notifyStop returns a context cancelled by the first stop signal, the
// stopper, and the function that stops listening. SIGPIPE is ignored, so
// that writing to standard error or output after an SSH session dropped
// fails with EPIPE instead of killing the process in the middle of a step.
func notifyStop(parent context.Context, stderr io.Writer) (context.Context, *stopper, func()) {
	ctx, cancel := context.WithCancel(parent)
	s := &stopper{cancel: cancel, stderr: stderr}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, listened(stopSignals)...)
	signal.Ignore(syscall.SIGPIPE)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				s.handle(sig)
			case <-done:
				return
			}
		}
	}()
	return ctx, s, func() {
		signal.Stop(ch)
		close(done)
		cancel()
	}
}

// listened drops the signals this process was started with ignored: nohup
// ignores SIGHUP, and a shell starts background jobs with SIGINT ignored.
// Listening to them would undo that (Go installs a handler), and a run
// started under nohup would halt when its session goes away.
func listened(sigs []os.Signal) []os.Signal {
	var out []os.Signal
	for _, s := range sigs {
		if !signal.Ignored(s) {
			out = append(out, s)
		}
	}
	return out
}

// watch returns the observer that keeps the stopper informed of the run of
// sp, or nil when there is no stopper (tests that call cli.main).
func (s *stopper) watch(sp *spec.Spec) event.Observer {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	s.timeouts, s.source = sp.Timeouts, sp.Source
	s.mu.Unlock()
	return s
}

// Observe follows the steps in progress.
func (s *stopper) Observe(e event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch e.Kind {
	case event.RunStarted:
		s.running = nil
	case event.StepStarted:
		if s.running == nil {
			s.running = map[string]runningStep{}
		}
		s.started = true
		s.running[e.Step] = runningStep{id: e.Step, index: e.Done + 1, total: e.Total, since: e.Time}
	case event.StepFinished, event.StepSkipped:
		delete(s.running, e.Step)
	}
}

// handle reacts to one stop signal.
func (s *stopper) handle(sig os.Signal) {
	s.mu.Lock()
	s.signals++
	n := s.signals
	if n == 1 {
		s.first = time.Now()
	}
	msg := s.message(sig, n)
	s.mu.Unlock()
	// After SIGHUP the terminal may be gone: the write may fail, which
	// changes nothing.
	_, _ = fmt.Fprintln(s.stderr, msg)
	s.cancel()
}

// message says what the run does after the n-th signal. The caller holds
// s.mu.
func (s *stopper) message(sig os.Signal, n int) string {
	name := signalName(sig)
	resume := "balancedctl resume <spec>"
	if s.source != "" {
		resume = "balancedctl resume " + s.source
	}
	if n > 1 {
		return fmt.Sprintf("balancedctl: %s again: the run is already stopping (since %s, %s); it halts at the next safe point, then %s continues it. Killing it (kill -9 %d) would stop it wherever it is.",
			name, s.first.Format(time.TimeOnly), s.where(), resume, os.Getpid())
	}
	where := s.where()
	if f := s.finishing(); f != "" {
		where += " " + f
	}
	return fmt.Sprintf("balancedctl: %s: stopping at the next safe point: %s; then the run halts and %s continues it. Another signal changes nothing.",
		name, where, resume)
}

// where names the steps in progress, in plan order. The caller holds s.mu.
func (s *stopper) where() string {
	live := s.live()
	switch {
	case len(live) == 0 && !s.started:
		return "no step has started yet, so nothing to finish"
	case len(live) == 0:
		return "between steps, so nothing to finish"
	case len(live) == 1:
		st := live[0]
		return fmt.Sprintf("step %d/%d %s (running for %s)", st.index, st.total, st.id, time.Since(st.since).Round(time.Second))
	}
	parts := make([]string, len(live))
	for i, st := range live {
		parts[i] = fmt.Sprintf("%d/%d %s", st.index, st.total, st.id)
	}
	return fmt.Sprintf("steps %s at once (running for %s)", andList(parts), time.Since(live[0].since).Round(time.Second))
}

// live returns the steps in progress in plan order. The caller holds s.mu.
func (s *stopper) live() []runningStep {
	live := make([]runningStep, 0, len(s.running))
	for _, st := range s.running {
		live = append(live, st)
	}
	slices.SortFunc(live, func(a, b runningStep) int { return a.index - b.index })
	return live
}

// finishing says what each step in progress finishes before the run stops,
// and roughly how long it may take: "is finishing ..." for one step,
// "drain-updating is finishing ...; stop-schedulers and block-loaded are
// finishing ..." for several. The caller holds s.mu.
func (s *stopper) finishing() string {
	live := s.live()
	switch len(live) {
	case 0:
		return ""
	case 1:
		return s.finishingStep(live[0].id)
	}
	// Steps that finish the same way are named together.
	var phrases []string
	byPhrase := map[string][]string{}
	for _, st := range live {
		ph := s.finishingStep(st.id)
		if _, ok := byPhrase[ph]; !ok {
			phrases = append(phrases, ph)
		}
		byPhrase[ph] = append(byPhrase[ph], st.id)
	}
	parts := make([]string, len(phrases))
	for i, ph := range phrases {
		ids := byPhrase[ph]
		if len(ids) > 1 {
			ph = forSeveral(ph)
		}
		parts[i] = andList(ids) + " " + ph
	}
	return "(" + strings.Join(parts, "; ") + ")"
}

// forSeveral turns a finishing phrase for one step into one for several.
func forSeveral(phrase string) string {
	for _, verb := range [][2]string{{"is ", "are "}, {"stops ", "stop "}} {
		if rest, ok := strings.CutPrefix(phrase, verb[0]); ok {
			return verb[1] + rest
		}
	}
	return phrase
}

// andList is "a", "a and b", or "a, b and c".
func andList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// finishingStep says what step finishes before it stops, and roughly how
// long it may take, from the spec's timeouts.
func (s *stopper) finishingStep(step string) string {
	or := func(d spec.Duration, def time.Duration) time.Duration {
		if d != 0 {
			return d.D()
		}
		return def
	}
	t := s.timeouts
	drain := or(t.Drain, steps.DefaultDrainTimeout)
	health := or(t.Health, steps.DefaultHealthTimeout)
	poll := or(t.DeployPollInterval, steps.DefaultDeployPollInterval)
	switch step {
	case steps.DrainUpdating:
		return fmt.Sprintf("is finishing the drain it started (members are never left half-drained): up to the drain timeout, %s", drain)
	case steps.SwitchTraffic:
		return fmt.Sprintf("is finishing the switch of traffic (on a load balancer without an atomic switch, both moves: the Updating group in, then the Loaded group drained and out, so both groups never stay serving): up to the health timeout plus the drain timeout, %s", health+drain)
	case steps.RestoreTraffic:
		return fmt.Sprintf("is finishing putting the Loaded servers back: up to the health timeout, %s", health)
	case steps.Publish, steps.VerifyUpdating, steps.AwaitLoaded:
		return fmt.Sprintf("stops waiting at its next poll: within %s", poll)
	}
	return "is finishing the driver calls in flight: a few seconds"
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT (Ctrl-C)"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP (the terminal or SSH session went away)"
	}
	return sig.String()
}
