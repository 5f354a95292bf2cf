package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"ekbom"
)

// Chart is a time-series chart laid out for the SVG template: every
// coordinate is computed here so the template only draws.
type Chart struct {
	ID, Title, Desc, Unit string
	Width, Height         float64
	Left, Top             float64 // plot area origin
	Right, Bottom         float64 // plot area far corner
	XTicks, YTicks        []Tick
	Points                []ChartPoint
	Line                  string // polyline points "x,y x,y …"
	HLines                []HLine
	VMarks                []VMark
	Empty                 bool
}

// Tick is an axis label at a position.
type Tick struct {
	Pos   float64
	Label string
}

// ChartPoint is one plotted value.
type ChartPoint struct {
	X, Y  float64
	Label string // e.g. "2026-03-01: 85 ng/mL"
}

// HLine is a horizontal reference line (a knowledge-base threshold).
type HLine struct {
	Y     float64
	Label string
	Class string
}

// VMark is a vertical event marker (an infusion, a medication change).
type VMark struct {
	X     float64
	Label string
	Class string
}

// Threshold is a horizontal line to draw, in the chart's unit.
type Threshold struct {
	Value float64
	Label string
	Class string
}

// chartMarks is a set of markers drawn with one CSS class.
type chartMarks struct {
	Markers []Marker
	Class   string
}

const (
	chartW, chartH   = 720.0, 260.0
	padL, padR       = 48.0, 150.0 // right margin holds the threshold labels
	padT, padB       = 14.0, 30.0
	dayPad           = 15 // days added around a single date
	maxLabelledMarks = 12
)

// buildChart lays out points with threshold lines and event markers.
func buildChart(id, title, unit string, pts []Point, th []Threshold, marks ...chartMarks) Chart {
	c := Chart{ID: id, Title: title, Unit: unit, Width: chartW, Height: chartH,
		Left: padL, Top: padT, Right: chartW - padR, Bottom: chartH - padB}
	var dates []ekbom.Date
	for _, p := range pts {
		dates = append(dates, p.Date)
	}
	nMarks := 0
	for _, m := range marks {
		for _, mk := range m.Markers {
			dates = append(dates, mk.Date)
			nMarks++
		}
	}
	if len(pts) == 0 {
		c.Empty = true
		c.Desc = fmt.Sprintf("No %s results recorded.", title)
		return c
	}
	lo, hi := dates[0], dates[0]
	for _, d := range dates {
		if d.Before(lo) {
			lo = d
		}
		if d.After(hi) {
			hi = d
		}
	}
	lo, hi = lo.AddDays(-dayPad), hi.AddDays(dayPad)
	span := float64(hi.DaysSince(lo))
	x := func(d ekbom.Date) float64 {
		return round1(c.Left + float64(d.DaysSince(lo))/span*(c.Right-c.Left))
	}
	ymax := 0.0
	for _, p := range pts {
		ymax = math.Max(ymax, p.Value)
	}
	for _, t := range th {
		ymax = math.Max(ymax, t.Value)
	}
	step := niceStep(ymax*1.1, 5)
	ytop := math.Ceil(ymax*1.1/step) * step
	if ytop <= 0 {
		ytop, step = 1, 0.2
	}
	y := func(v float64) float64 {
		return round1(c.Bottom - v/ytop*(c.Bottom-c.Top))
	}
	for v := 0.0; v <= ytop+step/2; v += step {
		c.YTicks = append(c.YTicks, Tick{Pos: y(v), Label: strconv.FormatFloat(round1(v), 'f', -1, 64)})
	}
	for _, d := range dateTicks(lo, hi) {
		format := "2006-01"
		if span < 120 {
			format = "2006-01-02"
		}
		c.XTicks = append(c.XTicks, Tick{Pos: x(d), Label: d.Time().Format(format)})
	}
	var line []string
	for _, p := range pts {
		cp := ChartPoint{X: x(p.Date), Y: y(p.Value), Label: fmt.Sprintf("%s: %s %s", p.Date, strconv.FormatFloat(p.Value, 'f', -1, 64), unit)}
		c.Points = append(c.Points, cp)
		line = append(line, fmt.Sprintf("%g,%g", cp.X, cp.Y))
	}
	c.Line = strings.Join(line, " ")
	var thText []string
	for _, t := range th {
		c.HLines = append(c.HLines, HLine{Y: y(t.Value), Label: t.Label, Class: t.Class})
		thText = append(thText, t.Label)
	}
	for _, m := range marks {
		for _, mk := range m.Markers {
			c.VMarks = append(c.VMarks, VMark{X: x(mk.Date), Label: mk.Date.String() + ": " + mk.Label, Class: m.Class})
		}
	}
	last := pts[len(pts)-1]
	c.Desc = fmt.Sprintf("%d %s results from %s to %s; latest %s %s on %s.",
		len(pts), title, pts[0].Date, last.Date, strconv.FormatFloat(last.Value, 'f', -1, 64), unit, last.Date)
	if len(thText) > 0 {
		c.Desc += " Reference lines: " + strings.Join(thText, "; ") + "."
	}
	if nMarks > 0 {
		c.Desc += fmt.Sprintf(" %d event markers.", nMarks)
	}
	return c
}

// niceStep returns a 1, 2 or 5 × 10^k step giving about n intervals up to max.
func niceStep(max float64, n int) float64 {
	if max <= 0 {
		return 1
	}
	raw := max / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

// dateTicks returns up to six evenly spaced dates between lo and hi.
func dateTicks(lo, hi ekbom.Date) []ekbom.Date {
	span := hi.DaysSince(lo)
	n := 5
	var out []ekbom.Date
	for i := 0; i <= n; i++ {
		out = append(out, lo.AddDays(span*i/n))
	}
	return out
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
