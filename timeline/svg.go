package timeline

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Colours other than the versions'.
const (
	colorText     = "#222"
	colorMuted    = "#666"
	colorGrid     = "#e6e6e6"
	colorFrame    = "#c8c8c8"
	colorFailed   = "#d62728"
	colorViolated = "#ff7f0e"
	colorStep     = "#555"
	colorInstall  = "#9a9a9a"
)

// svg accumulates the document.
type svg struct{ bytes.Buffer }

func (b *svg) printf(format string, args ...any) { fmt.Fprintf(b, format, args...) }

// esc escapes s for XML text and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder does not fail
	return b.String()
}

// num formats a coordinate: one decimal, none when whole.
func num(f float64) string {
	return strings.TrimSuffix(strconv.FormatFloat(f, 'f', 1, 64), ".0")
}

// render writes the whole document.
func (c *chart) render(buf *bytes.Buffer) {
	l := c.layout
	b := &svg{}
	w, h := c.width, num(l.height)
	b.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%s" viewBox="0 0 %d %s" font-family="sans-serif" font-size="11" fill="%s">`+"\n", w, h, w, h, colorText)
	b.printf("<title>%s</title>\n", esc(c.title))
	b.printf("<desc>%s</desc>\n", esc(c.summary))
	b.printf(`<defs><pattern id="installing-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
		`<rect width="6" height="6" fill="#ececec"/><line x1="0" y1="0" x2="0" y2="6" stroke="` + colorInstall + `" stroke-width="2.5"/></pattern></defs>` + "\n")
	b.printf(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	b.printf(`<text x="16" y="%d" font-size="18" font-weight="bold">%s</text>`+"\n", titleY, esc(c.title))
	b.printf(`<text x="16" y="%d" font-size="12" fill="%s">%s</text>`+"\n", summaryY, colorMuted, esc(c.summary))
	c.renderLegend(b)
	step, ts := ticks(c.end, int((l.plotRight-l.plotLeft)/90))
	for i := range c.zones {
		c.renderBand(b, i, ts)
	}
	c.renderStepLines(b)
	c.renderLane(b)
	c.renderAxis(b, step, ts)
	b.printf("</svg>\n")
	buf.Write(b.Bytes())
}

func (c *chart) renderLegend(b *svg) {
	b.printf(`<g id="legend">` + "\n")
	for _, it := range c.layout.legend {
		x, y := it.x, it.y
		switch it.kind {
		case "version":
			b.printf(`<rect class="legend-version" x="%s" y="%s" width="16" height="11" fill="%s"/>`, num(x), num(y), it.color)
		case "installing":
			b.printf(`<rect class="legend-installing" x="%s" y="%s" width="16" height="11" fill="url(#installing-hatch)" stroke="%s" stroke-width="0.5"/>`, num(x), num(y), colorInstall)
		case "out":
			b.printf(`<rect class="legend-out" x="%s" y="%s" width="16" height="11" fill="#fcfcfc" stroke="%s"/>`, num(x), num(y), colorFrame)
		case "capacity":
			b.printf(`<line class="legend-capacity" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.4" stroke-dasharray="5,3"/>`, num(x), num(y+5.5), num(x+16), num(y+5.5), colorFailed)
		case "failed":
			b.printf(`<path class="legend-failed" d="%s" fill="%s"/>`, triangle(x+8, y), colorFailed)
		case "violation":
			b.printf(`<path class="legend-violation" d="%s" fill="%s"/>`, diamond(x+8, y+5.5), colorViolated)
		case "step":
			b.printf(`<line class="legend-step" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-dasharray="3,2"/>`, num(x+8), num(y-1), num(x+8), num(y+12), colorStep)
		}
		b.printf(`<text x="%s" y="%s">%s</text>`+"\n", num(x+22), num(y+10), esc(it.label))
	}
	b.printf("</g>\n")
}

// renderLane draws the steps as bars with their IDs, above the bands and
// over the step lines.
func (c *chart) renderLane(b *svg) {
	l := c.layout
	if len(c.steps) == 0 {
		return
	}
	b.printf(`<g id="step-lane">`+"\n"+`<text x="16" y="%s" font-weight="bold">steps</text>`+"\n", num(l.laneTop+13))
	for i, s := range c.steps {
		lb := l.labels[i]
		y := l.laneTop + float64(lb.row)*laneRowH
		fill, stroke := stepColors(s.status)
		b.printf(`<g class="step-bar %s" data-step="%s"><title>%s</title>`, token(s.status), esc(s.id), esc(stepTitle(s)))
		if s.status != "mark" && s.status != "rollback" {
			b.printf(`<rect x="%s" y="%s" width="%s" height="14" fill="%s" stroke="%s" stroke-width="0.6"/>`,
				num(lb.x0), num(y+1), num(lb.x1-lb.x0), fill, stroke)
		}
		anchor := ""
		if lb.anchorEnd {
			anchor = ` text-anchor="end"`
		}
		// A halo of the background keeps the label readable over other
		// steps' lines.
		halo := "#fff"
		if lb.inside {
			halo = fill
		}
		b.printf(`<text x="%s" y="%s"%s fill="%s" stroke="%s" stroke-width="3" stroke-linejoin="round" paint-order="stroke">%s</text></g>`+"\n",
			num(lb.textX), num(y+12), anchor, stroke, halo, esc(s.id))
	}
	b.printf("</g>\n")
}

// stepColors returns a step bar's fill and its label's colour.
func stepColors(status string) (fill, text string) {
	switch status {
	case "failed":
		return "#f7c4c4", colorFailed
	case "rollback":
		return "none", colorFailed
	case "undone":
		return "#e2d5ee", "#6a3d9a"
	case "running":
		return "#fde9b3", "#8a5a00"
	}
	return "#e4e4e4", colorText
}

func stepTitle(s span) string {
	if s.status == "mark" {
		return s.id + " at " + formatDuration(s.start, time.Millisecond)
	}
	if s.status == "rollback" {
		return "rollback started at " + formatDuration(s.start, time.Millisecond)
	}
	return fmt.Sprintf("%s (%s): %s to %s", s.id, s.status, formatDuration(s.start, time.Millisecond), formatDuration(s.end, time.Millisecond))
}

// renderStepLines draws a dashed line where each step started, across the
// lane and every band.
func (c *chart) renderStepLines(b *svg) {
	l := c.layout
	if len(c.steps) == 0 {
		return
	}
	b.printf(`<g id="step-lines">` + "\n")
	for i, s := range c.steps {
		lb := l.labels[i]
		color := colorStep
		if s.status == "rollback" || s.status == "failed" {
			color = colorFailed
		}
		top := l.laneTop + float64(lb.row)*laneRowH + 1
		b.printf(`<line class="step %s" data-step="%s" data-elapsed="%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1" stroke-dasharray="4,3" stroke-opacity="0.7"/>`+"\n",
			token(s.status), esc(s.id), seconds(s.start), num(lb.x0), num(top), num(lb.x0), num(l.axisTop), color)
	}
	b.printf("</g>\n")
}

// renderAxis draws the time axis under the last band.
func (c *chart) renderAxis(b *svg, step time.Duration, ts []time.Duration) {
	l := c.layout
	y := l.axisTop
	b.printf(`<g id="time-axis" data-end="%s">`+"\n", seconds(c.end))
	b.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>`+"\n", num(l.plotLeft), num(y), num(l.plotRight), num(y), colorMuted)
	for _, t := range ts {
		x := c.x(t)
		b.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/><text x="%s" y="%s" text-anchor="middle" fill="%s">%s</text>`+"\n",
			num(x), num(y), num(x), num(y+5), colorMuted, num(x), num(y+18), colorMuted, formatDuration(t, step))
	}
	b.printf(`<text x="%s" y="%s" text-anchor="middle" fill="%s">time since the simulation started</text>`+"\n",
		num((l.plotLeft+l.plotRight)/2), num(y+38), colorMuted)
	b.printf("</g>\n")
}

// triangle is a marker pointing down with its top edge at y.
func triangle(x, y float64) string {
	return fmt.Sprintf("M%s %sL%s %sL%s %sZ", num(x-5), num(y), num(x+5), num(y), num(x), num(y+9))
}

// diamond is a marker centred on x, y.
func diamond(x, y float64) string {
	return fmt.Sprintf("M%s %sL%s %sL%s %sL%s %sZ", num(x), num(y-5), num(x+5), num(y), num(x), num(y+5), num(x-5), num(y))
}
