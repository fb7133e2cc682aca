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

// frame returns the lines of the status block.
func (t *Terminal) frame() []string {
	r := &t.run
	el := clock(r.elapsed(r.now))
	s := r.step
	if r.finished {
		head := t.finalHead(el)
		return slices.Concat(head[:2], t.groupRows(), head[2:])
	}
	if s == nil {
		if r.begun {
			return append([]string{"run started, elapsed " + el}, t.groupRows()...)
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
	out = append(out, t.groupRows()...)
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
	case r.ended != "" && r.step != nil && r.step.id == r.ended && !(r.step.finished && r.step.err == nil && r.step.of > 0):
		where = " at " + r.step.label()
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
// them the current step has done. Without the farm (SetFarm), one row per
// zone the load balancer showed.
func (t *Terminal) groupRows() []string {
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
			if s := r.step; s != nil && !r.finished {
				started, ok := 0, 0
				for _, sv := range g.Servers {
					if s.serversStarted[sv.Name] {
						started++
					}
					if s.serversOK[sv.Name] {
						ok++
					}
				}
				if started > 0 {
					row += fmt.Sprintf(" | step %d/%d done", ok, len(g.Servers))
				}
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
