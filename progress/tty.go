package progress

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
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
func (t *Terminal) observeTTY(e event.Event, text string, ok bool) {
	var lines []string
	if e.Kind == event.StepFinished {
		for _, c := range t.run.completed {
			lines = append(lines, stamp(t.run.elapsed(t.run.now))+"   "+c)
		}
	}
	if ok && e.Kind != event.StepStarted && e.Kind != event.Progress && e.Kind != event.RunFinished {
		lines = append(lines, stamp(t.run.elapsed(t.run.now))+" "+text)
	}
	switch {
	case e.Kind == event.RunFinished:
		// The last frame stays on screen with the result under it.
		t.stopTimer()
		t.redraw(nil, stamp(t.run.elapsed(t.run.now))+" "+text)
		t.drawn = 0
	case len(lines) > 0 || e.Kind == event.StepStarted || e.Kind == event.RunStarted:
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
	width := t.columns()
	for _, l := range frame {
		b.WriteString(truncate(l, width) + "\n")
	}
	if after != "" {
		b.WriteString(after + "\n")
	}
	t.drawn = len(frame)
	t.dirty = false
	t.lastDraw = time.Now()
	t.write(b.Bytes())
}

// maxZoneRows is how many zones the status block gives rows before "and N
// more zones".
const maxZoneRows = 6

// maxStepRows is how many running steps the status block lists, and
// maxStepWaits how many waits it lists under each, when several steps run
// at once: the block stays within about 30 lines whatever the farm's size.
const (
	maxStepRows  = 4
	maxStepWaits = 2
)

// frame returns the lines of the status block.
func (t *Terminal) frame() []string {
	r := &t.run
	el := clock(r.elapsed(r.now))
	if r.finished {
		head := t.finalHead(el)
		return slices.Concat(head[:2], t.groupRows(nil), head[2:])
	}
	live := r.running()
	if len(live) > 1 {
		return t.stepsFrame(live, el)
	}
	// One step running, or none: the step running, else the one that
	// just ended.
	s := r.step
	if len(live) == 1 {
		s = live[0]
	}
	if s == nil {
		if r.begun {
			return append([]string{"run started, elapsed " + el}, t.groupRows(nil)...)
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
	counts := fmt.Sprintf("  elapsed %s | actions %d done, %d running, %d failed | retries %d", el, s.done, s.inFlight(), s.failed, s.retries)
	if r.retries > s.retries {
		counts += fmt.Sprintf(" (%d in run)", r.retries)
	}
	out := []string{head, counts}
	out = append(out, t.groupRows([]*stepState{s})...)
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

// stepsFrame is the status block while several steps run at once: which
// steps, their actions together, the rows per zone and group, then one
// line per step with its own actions, failures and retries and its waits
// under it:
//
//	steps 2-4 of 12 running
//	  elapsed 00:00:01 | actions 5 done, 2 running, 0 failed | retries 1
//	  step 2/12 stop-schedulers: 3 done, 1 running, 1 retry
//	  step 3/12 drain-updating: 0 done, 1 running
//	    zone default: 0/2 draining fe01 (3 active), fe02 (2 active): 5 conn...
//	  step 4/12 block-loaded: 2 done, 0 running
func (t *Terminal) stepsFrame(live []*stepState, el string) []string {
	r := &t.run
	var done, inFlight, failed, retries int
	for _, s := range live {
		done, inFlight, failed, retries = done+s.done, inFlight+s.inFlight(), failed+s.failed, retries+s.retries
	}
	counts := fmt.Sprintf("  elapsed %s | actions %d done, %d running, %d failed | retries %d", el, done, inFlight, failed, retries)
	if r.retries > retries {
		counts += fmt.Sprintf(" (%d in run)", r.retries)
	}
	out := []string{stepsHead(live), counts}
	out = append(out, t.groupRows(live)...)
	for i, s := range live {
		if i == maxStepRows {
			out = append(out, fmt.Sprintf("  and %d more steps running", len(live)-maxStepRows))
			break
		}
		row := fmt.Sprintf("  %s: %d done, %d running", s.label(), s.done, s.inFlight())
		if s.failed > 0 {
			row += fmt.Sprintf(", %d failed", s.failed)
		}
		if s.retries > 0 {
			row += ", " + plural(s.retries, "retry", "retries")
		}
		out = append(out, row)
		waits := s.waiting()
		for j, w := range waits {
			if j == maxStepWaits {
				out = append(out, fmt.Sprintf("    and %d more waiting", len(waits)-maxStepWaits))
				break
			}
			out = append(out, "    "+progressText(w, false))
		}
	}
	if r.warning != "" {
		out = append(out, "  last warning at "+clock(r.warningAt)+": "+r.warning)
	}
	return out
}

// stepsHead is "steps 2-4 of 12 running", "steps 2, 4 of 12 running", or
// "3 steps running" when a position is not known.
func stepsHead(live []*stepState) string {
	var parts []string
	for i := 0; i < len(live); i++ {
		if live[i].of == 0 {
			return fmt.Sprintf("%d steps running", len(live))
		}
		j := i
		for j+1 < len(live) && live[j+1].number == live[j].number+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", live[i].number, live[j].number))
		} else {
			parts = append(parts, fmt.Sprint(live[i].number))
		}
		i = j
	}
	return fmt.Sprintf("steps %s of %d running", strings.Join(parts, ", "), live[0].of)
}

// finalHead is the head of the last frame: where the run ended.
func (t *Terminal) finalHead(el string) []string {
	r := &t.run
	outcome := strings.TrimPrefix(oneLine(r.result), "run ")
	if outcome == "" {
		outcome = "finished"
	}
	var where string
	switch {
	case outcome == string(farm.Succeeded) && r.step != nil && r.step.of > 0:
		where = fmt.Sprintf(": %d of %d steps done", r.steps, r.step.of)
	case outcome == string(farm.Succeeded):
	case r.ended != "" && r.byID[r.ended] != nil && !(r.byID[r.ended].finished && r.byID[r.ended].err == nil && r.byID[r.ended].of > 0):
		// Several steps may have run at once: the step the run ended
		// at, by its ID.
		where = " at " + r.byID[r.ended].label()
	case r.ended != "":
		where = " at step " + oneLine(r.ended)
	case r.step != nil && r.step.of > 0:
		where = fmt.Sprintf(" after %s (%d of %d steps done)", r.step.label(), r.steps, r.step.of)
	}
	head := "run " + outcome + where
	counts := fmt.Sprintf("  elapsed %s | %s | %s", el, plural(r.steps, "step done", "steps done"), plural(r.actions, "action", "actions"))
	if r.retries > 0 {
		counts += " | " + plural(r.retries, "retry", "retries")
	}
	out := []string{head, counts}
	if r.warning != "" {
		out = append(out, "  last warning at "+clock(r.warningAt)+": "+r.warning)
	}
	return out
}

// groupRows are one row per zone and group: its members, their states as
// the load balancer last showed them (MembersSeen events), and how many of
// them each of steps has done ("step 1/2 done" for one step, "step 2 1/2,
// step 4 0/2 done" for several). Without the farm (SetFarm), one row per
// zone the load balancer showed.
func (t *Terminal) groupRows(steps []*stepState) []string {
	r := &t.run
	if t.farm == nil {
		zones := make([]string, 0, len(r.members))
		for z := range r.members {
			zones = append(zones, z)
		}
		slices.Sort(zones)
		var out []string
		for i, z := range zones {
			if i == maxZoneRows {
				out = append(out, fmt.Sprintf("  and %d more zones", len(zones)-maxZoneRows))
				break
			}
			members := make([]string, 0, len(r.members[z]))
			for m := range r.members[z] {
				members = append(members, m)
			}
			out = append(out, fmt.Sprintf("  zone %s: %s: %s", oneLine(z), plural(len(members), "member", "members"), states(r.members[z], members)))
		}
		return out
	}
	zones := t.farm.Zones()
	width := 0
	for _, z := range zones {
		width = max(width, len([]rune(oneLine(z.Name))))
	}
	var out []string
	for i, z := range zones {
		if i == maxZoneRows {
			out = append(out, fmt.Sprintf("  and %d more zones", len(zones)-maxZoneRows))
			break
		}
		for _, g := range []farm.Group{z.Updating, z.Loaded} {
			role := "Updating"
			if g.Role == farm.Loaded {
				role = "Loaded"
			}
			row := fmt.Sprintf("  %-*s %-8s %s", width, oneLine(z.Name), role, plural(len(g.Servers), "member", "members"))
			if st := states(r.members[z.Name], g.Members()); st != "" {
				row += ": " + st
			}
			var done []string
			for _, s := range steps {
				started, ok := 0, 0
				for _, sv := range g.Servers {
					if s.serversStarted[sv.Name] {
						started++
					}
					if s.serversOK[sv.Name] {
						ok++
					}
				}
				if started == 0 {
					continue
				}
				switch {
				case len(steps) == 1:
					done = append(done, fmt.Sprintf("step %d/%d", ok, len(g.Servers)))
				case s.of > 0: // the step's own row names it
					done = append(done, fmt.Sprintf("step %d %d/%d", s.number, ok, len(g.Servers)))
				default:
					done = append(done, fmt.Sprintf("%s %d/%d", oneLine(s.id), ok, len(g.Servers)))
				}
			}
			if len(done) > 0 {
				row += " | " + strings.Join(done, ", ") + " done"
			}
			out = append(out, row)
		}
	}
	return out
}

// states renders the members' states as last seen: "2/2 serving" or "1/2
// serving, 1/2 out"; "" when none was seen.
func states(seen map[string]drivers.MemberStatus, members []string) string {
	if len(seen) == 0 {
		return ""
	}
	counts := map[string]int{}
	var order []string
	known := 0
	for _, m := range members {
		st, ok := seen[m]
		if !ok {
			continue
		}
		known++
		name := string(st.State)
		if st.Health == drivers.Unhealthy {
			name += " unhealthy"
		}
		if counts[name] == 0 {
			order = append(order, name)
		}
		counts[name]++
	}
	if known == 0 {
		return ""
	}
	rank := func(s string) int {
		switch {
		case strings.HasPrefix(s, string(drivers.Serving)):
			return 0
		case strings.HasPrefix(s, string(drivers.Draining)):
			return 1
		}
		return 2
	}
	slices.SortStableFunc(order, func(a, b string) int { return rank(a) - rank(b) })
	parts := make([]string, len(order))
	for i, name := range order {
		parts[i] = fmt.Sprintf("%d/%d %s", counts[name], len(members), oneLine(name))
	}
	return strings.Join(parts, ", ")
}
