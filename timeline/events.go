package timeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/farm/event"
	"github.com/balanced-deploy/balanced/progress"
	"github.com/balanced-deploy/balanced/simulate"
)

// Version labels of a real run's picture: the load balancer does not say
// which release a member runs, so members serving as they did before the
// run are drawn as PreviousRelease, and those that came back into traffic
// after the publish step started as NewRelease (PreviousRelease again when
// they came back during a rollback).
const (
	PreviousRelease = "previous"
	NewRelease      = "new"
)

// WriteEvents draws a real run from its events as JSON lines (what
// progress.NewJSONLines writes, balancedctl's -json progress or -events
// file): per zone, the load-balancer members serving over time as the run
// saw them (the members-seen events that farm.ObserveMembers sends: each
// status read back and each state the load balancer accepted), and the
// steps. Time counts from the first event. Members out of traffic fill the
// rest of each band up to the zone's members; installs and requests are not
// drawn (a real run does not see them).
//
// Errors name the line that cannot be read and wrap
// drivers.ErrInvalidArgument; nothing is written to w unless the whole
// picture could be drawn.
func WriteEvents(w io.Writer, events io.Reader, opts Options) error {
	rec, err := readEvents(events)
	if err != nil {
		return err
	}
	if len(rec.zones) == 0 {
		return fmt.Errorf("timeline: no members-seen event: want the events of a run whose load balancers were observed (farm.ObserveMembers; balancedctl records them): %w", drivers.ErrInvalidArgument)
	}
	sim, run := rec.reports()
	if opts.Title == "" {
		opts.Title = "Deployment run of " + rec.first.UTC().Format(time.RFC3339)
	}
	c, err := build(sim, run, Options{Start: rec.first, Title: opts.Title, Width: opts.Width})
	if err != nil {
		return err
	}
	c.real = true
	for i := range c.zones {
		c.zones[i].members = max(c.zones[i].members, len(rec.zones[i].order))
	}
	c.summary = rec.summary(run)
	var buf bytes.Buffer
	c.render(&buf)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("timeline: writing the SVG: %w", err)
	}
	return nil
}

// recorded is what the events say.
type recorded struct {
	first, last time.Time
	zones       []*zoneSeen
	steps       []farm.StepReport
	outcome     farm.Outcome
	failedStep  string
	rollback    time.Time
	reads       int
	// publishing is set once the publish step started; rollingBack once
	// an undo started.
	publishing, rollingBack bool
}

// zoneSeen follows one zone's members.
type zoneSeen struct {
	name    string
	order   []string
	state   map[string]drivers.MemberStatus
	version map[string]string
	points  []simulate.TimelinePoint
}

func readEvents(r io.Reader) (*recorded, error) {
	rec := &recorded{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var e progress.JSONEvent
		if err := json.Unmarshal([]byte(text), &e); err != nil {
			return nil, fmt.Errorf("timeline: events line %d: %w (want one JSON object per line, as progress.JSONLines writes): %w", line, err, drivers.ErrInvalidArgument)
		}
		if e.Time.IsZero() || e.Kind == "" {
			return nil, fmt.Errorf("timeline: events line %d: no time or kind: want a progress.JSONEvent: %w", line, drivers.ErrInvalidArgument)
		}
		rec.add(e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("timeline: reading events: %w", err)
	}
	if line == 0 {
		return nil, fmt.Errorf("timeline: no event: %w", drivers.ErrInvalidArgument)
	}
	return rec, nil
}

func (rec *recorded) add(e progress.JSONEvent) {
	if rec.first.IsZero() || e.Time.Before(rec.first) {
		rec.first = e.Time
	}
	if e.Time.After(rec.last) {
		rec.last = e.Time
	}
	switch event.Kind(e.Kind) {
	case event.StepStarted:
		if strings.HasPrefix(e.Message, "undo: ") {
			if !rec.rollingBack {
				rec.rollback = e.Time
			}
			rec.rollingBack = true
			return
		}
		if e.Step == "publish" {
			rec.publishing = true
		}
		rec.setStep(e.Step, func(s *farm.StepReport) {
			*s = farm.StepReport{ID: e.Step, Status: farm.StepRunning, Started: e.Time}
		})
	case event.StepFinished:
		if strings.HasPrefix(e.Message, "undone: ") {
			rec.setStep(e.Step, func(s *farm.StepReport) { s.Status = farm.StepUndone })
			return
		}
		rec.setStep(e.Step, func(s *farm.StepReport) {
			s.Finished, s.Status = e.Time, farm.StepDone
			if e.Error != "" {
				s.Status, s.Error = farm.StepFailed, e.Error
			}
		})
	case event.RunFinished:
		rec.outcome = farm.Outcome(strings.TrimPrefix(e.Message, "run "))
		rec.failedStep = e.Step
	case event.MembersSeen:
		rec.reads++
		rec.zone(e.Zone).see(e, rec)
	}
}

func (rec *recorded) setStep(id string, f func(*farm.StepReport)) {
	i := slices.IndexFunc(rec.steps, func(s farm.StepReport) bool { return s.ID == id })
	if i < 0 {
		rec.steps = append(rec.steps, farm.StepReport{ID: id})
		i = len(rec.steps) - 1
	}
	f(&rec.steps[i])
}

func (rec *recorded) zone(name string) *zoneSeen {
	if name == "" {
		name = farm.DefaultZone
	}
	for _, z := range rec.zones {
		if z.name == name {
			return z
		}
	}
	z := &zoneSeen{name: name, state: map[string]drivers.MemberStatus{}, version: map[string]string{}}
	rec.zones = append(rec.zones, z)
	return z
}

// serving is what the timeline counts as serving: new requests go there.
func serving(st drivers.MemberStatus) bool {
	return st.State == drivers.Serving && st.Health != drivers.Unhealthy
}

// see folds one members-seen event into the zone and adds a point.
func (z *zoneSeen) see(e progress.JSONEvent, rec *recorded) {
	for _, m := range e.Members {
		st := drivers.MemberStatus{Member: m.Member, State: drivers.MemberState(m.State), Health: drivers.Health(m.Health)}
		old, known := z.state[m.Member]
		if !known {
			z.order = append(z.order, m.Member)
			z.version[m.Member] = PreviousRelease
		}
		// A member coming back into traffic after the publish started
		// serves the new release; during a rollback, the previous one.
		if known && !serving(old) && serving(st) {
			switch {
			case rec.rollingBack:
				z.version[m.Member] = PreviousRelease
			case rec.publishing:
				z.version[m.Member] = NewRelease
			}
		}
		// A status set without a health check keeps the health last read.
		if st.Health == drivers.HealthUnknown && known {
			st.Health = old.Health
		}
		z.state[m.Member] = st
	}
	p := simulate.TimelinePoint{Elapsed: e.Time.Sub(rec.first), Versions: map[string]int{}}
	for _, m := range z.order {
		if serving(z.state[m]) {
			p.Serving++
			p.Versions[z.version[m]]++
		}
	}
	p.Capacity = p.Serving
	if n := len(z.points); n > 0 && z.points[n-1].Elapsed == p.Elapsed {
		z.points[n-1] = p
		return
	}
	z.points = append(z.points, p)
}

// reports turns what was recorded into the reports the picture is built
// from.
func (rec *recorded) reports() (simulate.Report, *farm.Report) {
	sim := simulate.Report{Elapsed: rec.last.Sub(rec.first)}
	for _, z := range rec.zones {
		pts := z.points
		// Every zone starts at the first event, as it was first seen.
		if len(pts) > 0 && pts[0].Elapsed > 0 {
			first := pts[0]
			first.Elapsed = 0
			pts = append([]simulate.TimelinePoint{first}, pts...)
		}
		sim.Zones = append(sim.Zones, simulate.ZoneReport{Name: z.name, Timeline: pts})
	}
	run := &farm.Report{Started: rec.first, Finished: rec.last, Outcome: rec.outcome, FailedStep: rec.failedStep,
		RollbackStarted: rec.rollback, Steps: rec.steps}
	return sim, run
}

// summary is the line under the title of a real run's picture.
func (rec *recorded) summary(run *farm.Report) string {
	s := fmt.Sprintf("%s from the first event to the last · %d load-balancer reads and changes seen", formatDuration(rec.last.Sub(rec.first), time.Second), rec.reads)
	if run.Outcome != "" {
		s += " · run " + string(run.Outcome)
		if run.FailedStep != "" {
			s += " at " + run.FailedStep
		}
	} else {
		s += " · the run did not finish"
	}
	return s
}
