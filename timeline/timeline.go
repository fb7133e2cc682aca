package timeline

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/balanced-deploy/balanced/drivers"
	"github.com/balanced-deploy/balanced/farm"
	"github.com/balanced-deploy/balanced/simulate"
)

// DefaultWidth is the width of the picture, in pixels, when Options.Width is
// zero; MinWidth is the narrowest picture Write draws.
const (
	DefaultWidth = 1200
	MinWidth     = 480
)

// Options tunes the picture Write draws. The zero value is ready to use when
// the simulate report can place the run's steps by itself (see Start).
type Options struct {
	// Start is the instant every Elapsed of the simulate report counts from:
	// when simulate.New built the simulation. It places the run's steps,
	// whose times farm.Report gives as times of day, on the simulated
	// timeline. Take it with time.Now().Add(-sim.Elapsed()) at any moment.
	// Zero means: derive it from a violation of the simulate report (Time
	// minus Elapsed) or from marks (simulate.Sim.Mark) labelled with the
	// run's step IDs; Write fails when run is not nil and neither exists.
	// Unused when run is nil.
	Start time.Time
	// Title is the picture's heading. Empty means a title naming the
	// versions, such as "Balanced deployment: v1 → v2".
	Title string
	// Width is the picture's width in pixels. Zero means DefaultWidth;
	// otherwise it must be at least MinWidth.
	Width int
}

// Write draws the simulated run described by sim (from simulate.Sim.Report)
// as an SVG document on w. run is the engine's report of the deployment
// (from farm.Plan.Run); it may be nil, and then the simulator's marks stand
// for the step boundaries. See the package documentation for what is drawn.
//
// Errors name the bad value and wrap drivers.ErrInvalidArgument; nothing is
// written to w unless the whole picture could be drawn.
func Write(w io.Writer, sim simulate.Report, run *farm.Report, opts Options) error {
	c, err := build(sim, run, opts)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	c.render(&buf)
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("timeline: writing the SVG: %w", err)
	}
	return nil
}

// chart is everything the picture shows, in simulated time (Elapsed).
type chart struct {
	title    string
	summary  string
	width    int
	end      time.Duration // right edge of the time axis
	versions []string      // in order of first appearance: stacking and legend order
	colors   map[string]string
	zones    []band
	steps    []span
	// capacityShort is true when members served without answering.
	capacityShort bool
	// violations without a zone, drawn in every band.
	farmViolations []simulate.Violation
	layout         layout
	// real is true for a real run drawn from its events: no requests were
	// counted, so the bands do not say how many were served or failed.
	real bool
}

// band is one zone's part of the picture.
type band struct {
	id         string // element id, unique
	zone       simulate.ZoneReport
	members    int // top of the y scale
	failed     []failMark
	violations []simulate.Violation
}

// failMark is one traffic sample in which requests failed.
type failMark struct {
	from, to time.Duration
	count    int
}

// build checks the inputs and computes what to draw.
func build(sim simulate.Report, run *farm.Report, opts Options) (*chart, error) {
	if len(sim.Zones) == 0 {
		return nil, fmt.Errorf("timeline: the simulate report has no zone (expected a report from simulate.Sim.Report): %w", drivers.ErrInvalidArgument)
	}
	c := &chart{width: opts.Width, title: opts.Title}
	if c.width == 0 {
		c.width = DefaultWidth
	}
	if c.width < MinWidth {
		return nil, fmt.Errorf("timeline: Options.Width %d is too narrow (expected 0 for %d, or at least %d): %w", opts.Width, DefaultWidth, MinWidth, drivers.ErrInvalidArgument)
	}
	c.end = sim.Elapsed
	c.versions = versionsOf(sim)
	c.colors = colorsFor(c.versions)
	if c.title == "" {
		c.title = defaultTitle(c.versions)
	}

	steps, err := stepsOf(sim, run, opts.Start)
	if err != nil {
		return nil, err
	}
	c.steps = steps
	for _, s := range c.steps {
		c.end = max(c.end, s.end)
	}

	ids := map[string]bool{}
	for _, z := range sim.Zones {
		b := band{zone: z, id: uniqueID("zone-"+token(z.Name), ids)}
		for _, p := range z.Timeline {
			b.members = max(b.members, p.Serving+installingOut(p), p.Capacity)
			c.end = max(c.end, p.Elapsed)
			c.capacityShort = c.capacityShort || p.Capacity != p.Serving
		}
		b.members = max(b.members, 1)
		b.failed = failuresOf(z.Traffic, sim.Elapsed)
		for _, f := range b.failed {
			c.end = max(c.end, f.to)
		}
		c.zones = append(c.zones, b)
	}
	for _, v := range sim.Violations {
		c.end = max(c.end, v.Elapsed)
		i := slices.IndexFunc(c.zones, func(b band) bool { return b.zone.Name == v.Zone })
		if v.Zone == "" || i < 0 {
			c.farmViolations = append(c.farmViolations, v)
			continue
		}
		c.zones[i].violations = append(c.zones[i].violations, v)
	}
	if c.end <= 0 {
		c.end = time.Second
	}
	c.summary = summary(sim, run)
	c.layout = c.computeLayout()
	return c, nil
}

// installingOut counts the members installing that the load balancer does
// not send requests to: those in traffic are counted in Serving already, and
// stacking them again above the serving members would count them twice.
func installingOut(p simulate.TimelinePoint) int {
	return max(0, p.Installing-p.InstallingServing)
}

// failuresOf returns the traffic samples in which requests failed. A
// sample's width is the distance to the next one; the last one ends at end
// (or is as wide as the one before it).
func failuresOf(samples []simulate.TrafficSample, end time.Duration) []failMark {
	var out []failMark
	for i, s := range samples {
		if s.Failed <= 0 {
			continue
		}
		to := end
		switch {
		case i+1 < len(samples):
			to = samples[i+1].Elapsed
		case i > 0:
			to = min(end, s.Elapsed+s.Elapsed-samples[i-1].Elapsed)
		}
		out = append(out, failMark{from: s.Elapsed, to: max(to, s.Elapsed), count: s.Failed})
	}
	return out
}

// versionsOf lists the versions the zones' members served, in the order
// they first appear (the release deployed before the run comes first), ties
// broken by name.
func versionsOf(sim simulate.Report) []string {
	type first struct {
		at   time.Duration
		name string
	}
	seen := map[string]time.Duration{}
	for _, z := range sim.Zones {
		for _, p := range z.Timeline {
			for v, n := range p.Versions {
				if at, ok := seen[v]; n > 0 && (!ok || p.Elapsed < at) {
					seen[v] = p.Elapsed
				}
			}
		}
	}
	var all []first
	for v, at := range seen {
		all = append(all, first{at, v})
	}
	slices.SortFunc(all, func(a, b first) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	out := make([]string, len(all))
	for i, f := range all {
		out[i] = f.name
	}
	return out
}

// palette colours the versions in order; red is kept for failures.
var palette = []string{"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac"}

func colorsFor(versions []string) map[string]string {
	out := make(map[string]string, len(versions))
	for i, v := range versions {
		out[v] = palette[i%len(palette)]
	}
	return out
}

func defaultTitle(versions []string) string {
	switch len(versions) {
	case 0:
		return "Simulated deployment"
	case 1:
		return "Simulated deployment: " + versions[0]
	}
	return "Balanced deployment: " + versions[0] + " → " + versions[len(versions)-1]
}

// summary is the line under the title.
func summary(sim simulate.Report, run *farm.Report) string {
	unit := time.Second
	if sim.Elapsed < 10*time.Second {
		unit = 10 * time.Millisecond
	}
	s := fmt.Sprintf("%s simulated · %d requests served · %d failed · %d invariant violations",
		formatDuration(sim.Elapsed, unit), sim.Served, sim.Failed, sim.TotalViolations())
	if sim.ReducedCapacity > 0 {
		s += " · " + formatDuration(sim.ReducedCapacity, unit) + " at reduced capacity"
	}
	if run != nil && run.Outcome != "" {
		s += " · run " + string(run.Outcome)
		if run.FailedStep != "" {
			s += " at " + run.FailedStep
		}
	}
	return s
}

// uniqueID returns id, or id with a number appended when taken.
func uniqueID(id string, taken map[string]bool) string {
	out := id
	for n := 2; taken[out]; n++ {
		out = fmt.Sprintf("%s-%d", id, n)
	}
	taken[out] = true
	return out
}

// token makes s usable as an id or class name: letters, digits, '-', '_'
// and '.' are kept, anything else becomes '_'.
func token(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}
