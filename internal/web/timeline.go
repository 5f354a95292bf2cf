package web

import (
	"fmt"
	"sort"
	"strings"

	"ekbom"
	"ekbom/intake"
	"ekbom/kb"
)

// Point is one dated measurement in canonical units.
type Point struct {
	Date  ekbom.Date
	Value float64
}

// IRLSPoint is one dated IRLS total (0–40).
type IRLSPoint struct {
	Date  ekbom.Date
	Total int
}

// Marker is a dated event drawn as a vertical line on a chart.
type Marker struct {
	Date  ekbom.Date
	Label string
}

// Pair is an IRLS score with the latest ferritin drawn within
// BestFerritinWindowDays before it (or the same day).
type Pair struct {
	IRLSDate     ekbom.Date
	IRLS         int
	FerritinDate ekbom.Date
	Ferritin     float64 // ng/mL
}

// BestFerritin is the answer to "at which ferritin were symptoms best?".
type BestFerritin struct {
	Pairs  []Pair // every IRLS that has a ferritin to pair with, oldest first
	Enough bool   // at least BestFerritinMinPairs pairs
	Best   *Pair  // the pair with the lowest IRLS (ties: most recent); nil unless Enough
}

// Parameters of FerritinAtBest.
const (
	// BestFerritinWindowDays is how old a ferritin may be, relative to the
	// IRLS it is paired with, in days.
	BestFerritinWindowDays = 90
	// BestFerritinMinPairs is the fewest pairs worth drawing a conclusion from.
	BestFerritinMinPairs = 3
)

// FerritinAtBest pairs each IRLS score with the latest ferritin measured on
// the same day or up to BestFerritinWindowDays days before it, and reports
// the ferritin of the pair with the lowest IRLS; among equal scores the most
// recent IRLS wins. With fewer than BestFerritinMinPairs pairs it reports
// the pairs but no best, because so few points say little. It is a pure
// function: the inputs may be in any order and are not modified.
func FerritinAtBest(irls []IRLSPoint, ferritin []Point) BestFerritin {
	fs := append([]Point(nil), ferritin...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].Date.Before(fs[j].Date) })
	is := append([]IRLSPoint(nil), irls...)
	sort.SliceStable(is, func(i, j int) bool { return is[i].Date.Before(is[j].Date) })

	var out BestFerritin
	for _, p := range is {
		// The latest ferritin on or before the IRLS date: the last index
		// whose date is not after p.Date.
		k := sort.Search(len(fs), func(i int) bool { return fs[i].Date.After(p.Date) }) - 1
		if k < 0 || p.Date.DaysSince(fs[k].Date) > BestFerritinWindowDays {
			continue
		}
		out.Pairs = append(out.Pairs, Pair{IRLSDate: p.Date, IRLS: p.Total, FerritinDate: fs[k].Date, Ferritin: fs[k].Value})
	}
	if len(out.Pairs) < BestFerritinMinPairs {
		return out
	}
	out.Enough = true
	best := 0
	for i, p := range out.Pairs {
		b := out.Pairs[best]
		if p.IRLS < b.IRLS || (p.IRLS == b.IRLS && !p.IRLSDate.Before(b.IRLSDate)) {
			best = i
		}
	}
	out.Best = &out.Pairs[best]
	return out
}

// Timeline is a patient's history gathered from their visits: labs in
// canonical units, IRLS totals by visit date, iron infusions and medication
// starts and stops. The same lab or event recorded at several visits
// appears once.
type Timeline struct {
	Ferritin  []Point // ng/mL
	TSAT      []Point // %
	IRLS      []IRLSPoint
	Infusions []Marker
	MedEvents []Marker
}

// BuildTimeline gathers the timeline of visits. Each visit is normalised
// (canonical units, TSAT derived from iron and TIBC); a visit that no longer
// passes validation contributes only labs already written in canonical units.
func BuildTimeline(visits []ekbom.Visit, b *kb.Base) Timeline {
	var t Timeline
	seen := map[string]bool{}
	once := func(key string) bool {
		if seen[key] {
			return false
		}
		seen[key] = true
		return true
	}
	for _, v := range visits {
		p := v.Data
		if p.AsOf.IsZero() {
			p.AsOf = v.Date
		}
		normalised := intake.Normalize(&p, b, intake.Options{Today: v.Date}) == nil
		for _, l := range p.Labs {
			if !normalised && !canonicalUnit(l) {
				continue
			}
			pt := Point{Date: l.Date, Value: l.Value}
			switch l.Test {
			case ekbom.Ferritin:
				if once(fmt.Sprintf("f|%s|%g", l.Date, l.Value)) {
					t.Ferritin = append(t.Ferritin, pt)
				}
			case ekbom.TSAT:
				if once(fmt.Sprintf("t|%s|%g", l.Date, l.Value)) {
					t.TSAT = append(t.TSAT, pt)
				}
			}
		}
		if total, ok := irlsTotal(p.Symptoms); ok {
			t.IRLS = append(t.IRLS, IRLSPoint{Date: v.Date, Total: total})
		}
		for _, f := range p.IronInfusions {
			label := fmt.Sprintf("%s %g mg", strings.ReplaceAll(f.Product, "_", " "), f.DoseMg)
			if !f.Date.IsZero() && once("i|"+f.Date.String()+"|"+f.Product) {
				t.Infusions = append(t.Infusions, Marker{Date: f.Date, Label: label})
			}
		}
		for _, m := range p.Medications {
			name := medName(m)
			if m.Start != nil && once("ms|"+m.Start.String()+"|"+name) {
				t.MedEvents = append(t.MedEvents, Marker{Date: *m.Start, Label: "start " + name})
			}
			if m.Stop != nil && once("mp|"+m.Stop.String()+"|"+name) {
				t.MedEvents = append(t.MedEvents, Marker{Date: *m.Stop, Label: "stop " + name})
			}
		}
	}
	byDate := func(ps []Point) {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Date.Before(ps[j].Date) })
	}
	byDate(t.Ferritin)
	byDate(t.TSAT)
	sort.SliceStable(t.IRLS, func(i, j int) bool { return t.IRLS[i].Date.Before(t.IRLS[j].Date) })
	for _, ms := range [][]Marker{t.Infusions, t.MedEvents} {
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].Date.Before(ms[j].Date) })
	}
	return t
}

// canonicalUnit reports whether a raw lab is ferritin in ng/mL (or the equal
// µg/L) or TSAT in %.
func canonicalUnit(l ekbom.Lab) bool {
	u := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(l.Unit), "µ", "u"))
	switch l.Test {
	case ekbom.Ferritin:
		return u == "ng/ml" || u == "ug/l" || u == "mcg/l"
	case ekbom.TSAT:
		return u == "%"
	}
	return false
}

// irlsTotal is the IRLS total of s: irls_total, else the sum of ten valid
// items.
func irlsTotal(s ekbom.Symptoms) (int, bool) {
	if s.IRLSTotal != nil {
		return *s.IRLSTotal, *s.IRLSTotal >= 0 && *s.IRLSTotal <= 40
	}
	if len(s.IRLSItems) != 10 {
		return 0, false
	}
	sum := 0
	for _, x := range s.IRLSItems {
		if x < 0 || x > 4 {
			return 0, false
		}
		sum += x
	}
	return sum, true
}

// medName names a medication for a chart marker: the resolved ingredient
// when known, else what was written, shortened.
func medName(m ekbom.Medication) string {
	name := m.Resolved.Ingredient
	if name == "" {
		name = m.Name
	}
	if name == "" {
		name = m.Sig
	}
	name = strings.ReplaceAll(name, "_", " ")
	if r := []rune(name); len(r) > 40 {
		name = string(r[:40]) + "…"
	}
	return name
}
