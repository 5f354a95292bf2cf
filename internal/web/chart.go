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
	markerMarginDays = 60 // markers drawn up to this many days outside the results
	maxLabelledMarks = 12
)

// buildChart lays out points with threshold lines and event markers.
func buildChart(id, title, unit string, pts []Point, th []Threshold, marks ...chartMarks) Chart {
	c := Chart{ID: id, Title: title, Unit: unit, Width: chartW, Height: chartH,
		Left: padL, Top: padT, Right: chartW - padR, Bottom: chartH - padB}
	if len(pts) == 0 {
		c.Empty = true
		c.Desc = fmt.Sprintf("No %s results recorded.", title)
		return c
	}
	var dates []ekbom.Date
	for _, p := range pts {
		dates = append(dates, p.Date)
	}
	// Markers are drawn only within the data's own date range (plus a
	// margin), so an old medication start cannot squeeze the results into
	// a corner; the ones left out are counted in the description.
	first, last := pts[0].Date, pts[0].Date
	for _, p := range pts {
		if p.Date.Before(first) {
			first = p.Date
		}
		if p.Date.After(last) {
			last = p.Date
		}
	}
	from, to := first.AddDays(-markerMarginDays), last.AddDays(markerMarginDays)
	nMarks, hidden := 0, 0
	for i := range marks {
		kept := marks[i].Markers[:0:0]
		for _, mk := range marks[i].Markers {
			if mk.Date.Before(from) || mk.Date.After(to) {
				hidden++
				continue
			}
			kept = append(kept, mk)
			dates = append(dates, mk.Date)
			nMarks++
		}
		marks[i].Markers = kept
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
	for _, t := range dateTicks(lo, hi) {
		c.XTicks = append(c.XTicks, Tick{Pos: x(t.date), Label: t.label})
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
	latest := pts[len(pts)-1]
	c.Desc = fmt.Sprintf("%d %s results from %s to %s; latest %s %s on %s.",
		len(pts), title, pts[0].Date, latest.Date, strconv.FormatFloat(latest.Value, 'f', -1, 64), unit, latest.Date)
	if len(thText) > 0 {
		c.Desc += " Reference lines: " + strings.Join(thText, "; ") + "."
	}
	if nMarks > 0 {
		c.Desc += fmt.Sprintf(" %d event markers.", nMarks)
	}
	if hidden > 0 {
		c.Desc += fmt.Sprintf(" %d earlier or later events outside the results' dates are not drawn.", hidden)
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

type dateTick struct {
	date  ekbom.Date
	label string
}

// dateTicks returns at most about six ticks between lo and hi on calendar
// boundaries, so labels never repeat or skip: days for short spans, the
// first of every k months for medium spans, 1 January of every k years for
// long ones.
func dateTicks(lo, hi ekbom.Date) []dateTick {
	span := hi.DaysSince(lo)
	var out []dateTick
	switch {
	case span < 120:
		for i := 0; i <= 5; i++ {
			d := lo.AddDays(span * i / 5)
			out = append(out, dateTick{d, d.String()})
		}
	case span < 3*365:
		months := span/30 + 1
		k := (months + 5) / 6
		t := lo.Time()
		d := ekbom.DateOf(t.Year(), t.Month(), 1).AddMonths(1)
		for !d.After(hi) {
			if int(d.Time().Month()-1)%k == 0 {
				out = append(out, dateTick{d, d.Time().Format("2006-01")})
			}
			d = d.AddMonths(1)
		}
	default:
		years := span/365 + 1
		k := (years + 5) / 6
		y := lo.Time().Year() + 1
		for d := ekbom.DateOf(y, 1, 1); !d.After(hi); d = d.AddMonths(12) {
			if d.Time().Year()%k == 0 {
				out = append(out, dateTick{d, d.Time().Format("2006")})
			}
		}
	}
	return out
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
