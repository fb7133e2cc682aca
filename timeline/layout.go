package timeline

import (
	"time"
	"unicode/utf8"
)

// Geometry of the picture, in pixels.
const (
	marginLeft  = 150 // zone labels and the y axis
	marginRight = 28
	titleY      = 30
	summaryY    = 52
	legendTop   = 66
	legendRowH  = 20
	laneRowH    = 18
	bandH       = 130 // one zone's plot
	bandHead    = 14  // room above a band's highest count for failure markers
	bandGap     = 26
	axisH       = 52
	// charW estimates the width of one character of 11px sans-serif text,
	// generously, so that labels estimated not to overlap do not.
	charW = 6.6
)

// layout is where everything goes.
type layout struct {
	plotLeft, plotRight float64
	legend              []legendItem
	laneTop             float64
	rows                int
	labels              []stepLabel // one per chart step
	bandTop             []float64   // one per zone
	axisTop             float64
	height              float64
}

// legendItem is one entry of the legend.
type legendItem struct {
	kind, label, color string
	x, y               float64
}

// stepLabel places one step's bar and label in the step lane.
type stepLabel struct {
	row           int
	x0, x1, textX float64
	anchorEnd     bool // the label ends at textX
	inside        bool // the label is on its bar
}

// textWidth estimates the width of s in 11px sans-serif.
func textWidth(s string) float64 { return float64(utf8.RuneCountInString(s)) * charW }

// x maps an instant of the simulation to the picture.
func (c *chart) x(t time.Duration) float64 {
	l := c.layout
	t = min(max(t, 0), c.end)
	return l.plotLeft + (l.plotRight-l.plotLeft)*float64(t)/float64(c.end)
}

// computeLayout places the legend, the step lane, the bands and the axis.
func (c *chart) computeLayout() layout {
	c.layout = layout{plotLeft: marginLeft, plotRight: float64(c.width - marginRight)}
	l := &c.layout

	// Legend, wrapped to the width.
	var items []legendItem
	for _, v := range c.versions {
		items = append(items, legendItem{kind: "version", label: "members serving " + v, color: c.colors[v]})
	}
	items = append(items,
		legendItem{kind: "installing", label: "members installing"},
		legendItem{kind: "out", label: "out of traffic"},
	)
	if c.capacityShort {
		items = append(items, legendItem{kind: "capacity", label: "members answering, when fewer"})
	}
	items = append(items,
		legendItem{kind: "failed", label: "failed requests"},
		legendItem{kind: "violation", label: "invariant violation"},
		legendItem{kind: "step", label: "step start"},
	)
	x, y := l.plotLeft, float64(legendTop)
	for i := range items {
		w := 22 + textWidth(items[i].label) + 18
		if x+w > l.plotRight && x > l.plotLeft {
			x, y = l.plotLeft, y+legendRowH
		}
		items[i].x, items[i].y = x, y
		x += w
	}
	l.legend = items

	// Step lane: each step's bar and label on the first row where it
	// overlaps nothing.
	l.laneTop = y + legendRowH + 8
	var rows [][][2]float64
	for _, s := range c.steps {
		x0 := c.x(s.start)
		x1 := max(c.x(s.end), x0+2)
		// The label goes inside the step's bar when it fits, else right
		// of the bar, or left of its start when there is no room.
		w := textWidth(s.id)
		lb := stepLabel{x0: x0, x1: x1, textX: x1 + 3}
		if x1-x0 >= w+6 {
			lb.textX, lb.inside = x0+3, true
		}
		left := lb.textX
		if left+w > l.plotRight {
			lb.textX, lb.anchorEnd, lb.inside = x0-3, true, false
			left = lb.textX - w
			if left < 0 {
				lb.textX, lb.anchorEnd = 0, false
				left = 0
			}
		}
		ext := [2]float64{min(x0, left) - 4, max(x1, left+w) + 4}
		row := 0
		for ; row < len(rows); row++ {
			free := true
			for _, iv := range rows[row] {
				if ext[0] < iv[1] && iv[0] < ext[1] {
					free = false
					break
				}
			}
			if free {
				break
			}
		}
		if row == len(rows) {
			rows = append(rows, nil)
		}
		rows[row] = append(rows[row], ext)
		lb.row = row
		l.labels = append(l.labels, lb)
	}
	l.rows = len(rows)

	top := l.laneTop + float64(l.rows)*laneRowH + 14
	for range c.zones {
		l.bandTop = append(l.bandTop, top)
		top += bandH + bandGap
	}
	l.axisTop = top - bandGap
	l.height = l.axisTop + axisH
	return *l
}
