package timeline

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/balanced-deploy/balanced/simulate"
)

// segment is one stretch of a stacked series: from t0 to t1 it fills the
// counts lo to hi.
type segment struct {
	t0, t1 time.Duration
	lo, hi int
}

// series computes a stacked series over a zone's timeline: level returns,
// for one point, the counts below the series and of the series itself.
// Consecutive equal stretches are merged. It also returns the series'
// own count at every change, as "<seconds>:<count>" pairs.
func series(points []simulate.TimelinePoint, end time.Duration, level func(simulate.TimelinePoint) (below, n int)) ([]segment, string) {
	var segs []segment
	var data []string
	last := -1
	for i, p := range points {
		t1 := end
		if i+1 < len(points) {
			t1 = points[i+1].Elapsed
		}
		if t1 < p.Elapsed {
			t1 = p.Elapsed
		}
		below, n := level(p)
		if n != last {
			data = append(data, seconds(p.Elapsed)+":"+strconv.Itoa(n))
			last = n
		}
		s := segment{t0: p.Elapsed, t1: t1, lo: below, hi: below + n}
		if k := len(segs) - 1; k >= 0 && segs[k].lo == s.lo && segs[k].hi == s.hi {
			segs[k].t1 = s.t1
			continue
		}
		segs = append(segs, s)
	}
	return segs, strings.Join(data, " ")
}

// areaPath outlines a stacked series: along its top from left to right,
// back along its bottom. A series that is empty everywhere is a bare move.
func (c *chart) areaPath(segs []segment, y func(int) float64) string {
	empty := true
	for _, s := range segs {
		if s.hi > s.lo {
			empty = false
		}
	}
	if len(segs) == 0 || empty {
		return fmt.Sprintf("M%s %s", num(c.layout.plotLeft), num(y(0)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "M%s %s", num(c.x(segs[0].t0)), num(y(segs[0].hi)))
	for k, s := range segs {
		if k > 0 {
			fmt.Fprintf(&b, "V%s", num(y(s.hi)))
		}
		fmt.Fprintf(&b, "H%s", num(c.x(s.t1)))
	}
	for k := len(segs) - 1; k >= 0; k-- {
		fmt.Fprintf(&b, "V%s", num(y(segs[k].lo)))
		fmt.Fprintf(&b, "H%s", num(c.x(segs[k].t0)))
	}
	b.WriteString("Z")
	return b.String()
}

// linePath draws the top of a series as a step line.
func (c *chart) linePath(segs []segment, y func(int) float64) string {
	if len(segs) == 0 {
		return fmt.Sprintf("M%s %s", num(c.layout.plotLeft), num(y(0)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "M%s %s", num(c.x(segs[0].t0)), num(y(segs[0].hi)))
	for k, s := range segs {
		if k > 0 {
			fmt.Fprintf(&b, "V%s", num(y(s.hi)))
		}
		fmt.Fprintf(&b, "H%s", num(c.x(s.t1)))
	}
	return b.String()
}

// renderBand draws zone i: the frame and grid, the serving members per
// version and the installing ones stacked above, the failures and the
// violations.
func (c *chart) renderBand(b *svg, i int, ts []time.Duration) {
	l := c.layout
	z := c.zones[i]
	top := l.bandTop[i]
	bottom := top + bandH
	y := func(n int) float64 { return bottom - float64(n)/float64(z.members)*(bandH-bandHead) }
	pts := z.zone.Timeline

	b.printf(`<g id="%s" class="zone" data-zone="%s" data-members="%d" data-served="%d" data-failed="%d">`+"\n",
		z.id, esc(z.zone.Name), z.members, z.zone.Served, z.zone.Failed)
	// Label column.
	name := z.zone.Name
	if r := []rune(name); len(r) > 13 {
		name = string(r[:12]) + "…"
	}
	b.printf(`<text x="16" y="%s" font-size="13" font-weight="bold">%s<title>zone %s</title></text>`+"\n", num(top+14), esc(name), esc(z.zone.Name))
	failColor := colorMuted
	if z.zone.Failed > 0 {
		failColor = colorFailed
	}
	b.printf(`<text x="16" y="%s" fill="%s">%d members</text>`+"\n", num(top+32), colorMuted, z.members)
	if !c.real {
		b.printf(`<text x="16" y="%s" fill="%s">%d served</text>`+"\n", num(top+47), colorMuted, z.zone.Served)
		b.printf(`<text x="16" y="%s" fill="%s">%d failed</text>`+"\n", num(top+62), failColor, z.zone.Failed)
	}

	// Frame and grid.
	b.printf(`<rect class="frame" x="%s" y="%s" width="%s" height="%d" fill="#fcfcfc" stroke="%s"/>`+"\n",
		num(l.plotLeft), num(top), num(l.plotRight-l.plotLeft), bandH, colorFrame)
	for _, t := range ts[1:] {
		x := c.x(t)
		b.printf(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(x), num(top), num(x), num(bottom), colorGrid)
	}
	ystep := countStep(z.members)
	for n := 0; n <= z.members; n += ystep {
		yy := y(n)
		if n > 0 {
			b.printf(`<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`, num(l.plotLeft), num(yy), num(l.plotRight), num(yy), colorGrid)
		}
		b.printf(`<text x="%s" y="%s" text-anchor="end" font-size="10" fill="%s">%d</text>`+"\n", num(l.plotLeft-6), num(yy+3.5), colorMuted, n)
	}

	// Serving members per version, stacked in order, then the installing.
	for vi, v := range c.versions {
		segs, data := series(pts, c.end, func(p simulate.TimelinePoint) (int, int) {
			below := 0
			for _, u := range c.versions[:vi] {
				below += p.Versions[u]
			}
			return below, p.Versions[v]
		})
		b.printf(`<path class="serving %s" data-version="%s" data-serving="%s" fill="%s" d="%s"><title>members serving %s</title></path>`+"\n",
			token(v), esc(v), data, c.colors[v], c.areaPath(segs, y), esc(v))
	}
	segs, data := series(pts, c.end, func(p simulate.TimelinePoint) (int, int) { return sum(p.Versions), installingOut(p) })
	b.printf(`<path class="installing" data-installing="%s" fill="url(#installing-hatch)" stroke="%s" stroke-width="0.6" d="%s"><title>members installing</title></path>`+"\n",
		data, colorInstall, c.areaPath(segs, y))
	// The serving total as a line, over the capacity (serving members whose
	// application answers) where that is lower.
	segs, data = series(pts, c.end, func(p simulate.TimelinePoint) (int, int) { return 0, p.Serving })
	capSegs, capData := series(pts, c.end, func(p simulate.TimelinePoint) (int, int) { return 0, p.Capacity })
	if capData != data {
		b.printf(`<path class="capacity" data-capacity="%s" fill="none" stroke="%s" stroke-width="1.4" stroke-dasharray="5,3" d="%s"><title>serving members whose application answers</title></path>`+"\n",
			capData, colorFailed, c.linePath(capSegs, y))
	}
	b.printf(`<path class="serving-total" data-total="%s" fill="none" stroke="#333" stroke-width="1.4" d="%s"/>`+"\n", data, c.linePath(segs, y))

	// Failed requests and violations.
	for _, f := range z.failed {
		x0, x1 := c.x(f.from), c.x(f.to)
		x1 = max(x1, x0+2)
		// A faint column over the sample, a strip along the band's top
		// and a marker in its middle.
		b.printf(`<g class="failed" data-elapsed="%s" data-failed="%d"><title>%d failed requests between %s and %s</title>`+
			`<rect x="%s" y="%s" width="%s" height="%d" fill="%s" fill-opacity="0.08"/>`+
			`<rect x="%s" y="%s" width="%s" height="4" fill="%s"/><path d="%s" fill="%s" stroke="#fff" stroke-width="0.6"/></g>`+"\n",
			seconds(f.from), f.count, f.count, formatDuration(f.from, time.Millisecond), formatDuration(f.to, time.Millisecond),
			num(x0), num(top), num(x1-x0), bandH, colorFailed,
			num(x0), num(top), num(x1-x0), colorFailed, triangle((x0+x1)/2, top+2), colorFailed)
	}
	for _, vs := range [][]simulate.Violation{z.violations, c.farmViolations} {
		for _, v := range vs {
			b.printf(`<path class="violation inv-%d" data-elapsed="%s" d="%s" fill="%s" stroke="#fff" stroke-width="0.5"><title>%s</title></path>`+"\n",
				v.Invariant, seconds(v.Elapsed), diamond(c.x(v.Elapsed), bottom-7), colorViolated, esc(v.String()))
		}
	}
	b.printf("</g>\n")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// countStep is the spacing of a band's y axis: 1, 2, 5, 10, 20... members,
// for at most six intervals.
func countStep(members int) int {
	for s := 1; ; s *= 10 {
		for _, m := range []int{1, 2, 5} {
			if members/(s*m) <= 6 {
				return s * m
			}
		}
	}
}
