package web

import (
	"strings"
	"testing"

	"ekbom"

	"github.com/google/go-cmp/cmp"
)

func d(s string) ekbom.Date {
	x, err := ekbom.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return x
}

func TestFerritinAtBest(t *testing.T) {
	type want struct {
		pairs  int
		enough bool
		best   *Pair
	}
	tests := []struct {
		name     string
		irls     []IRLSPoint
		ferritin []Point
		want     want
	}{
		{"no data", nil, nil, want{}},
		{"no ferritin", []IRLSPoint{{d("2025-01-01"), 20}}, nil, want{}},
		{
			"too few pairs",
			[]IRLSPoint{{d("2025-01-10"), 25}, {d("2025-03-10"), 12}},
			[]Point{{d("2025-01-01"), 40}, {d("2025-03-01"), 150}},
			want{pairs: 2},
		},
		{
			"lowest IRLS wins",
			[]IRLSPoint{{d("2025-01-10"), 25}, {d("2025-03-10"), 12}, {d("2025-06-10"), 18}},
			[]Point{{d("2025-01-01"), 40}, {d("2025-03-01"), 150}, {d("2025-06-01"), 110}},
			want{3, true, &Pair{d("2025-03-10"), 12, d("2025-03-01"), 150}},
		},
		{
			"ties: most recent IRLS",
			[]IRLSPoint{{d("2025-01-10"), 10}, {d("2025-03-10"), 20}, {d("2025-06-10"), 10}},
			[]Point{{d("2025-01-01"), 80}, {d("2025-03-01"), 60}, {d("2025-06-01"), 130}},
			want{3, true, &Pair{d("2025-06-10"), 10, d("2025-06-01"), 130}},
		},
		{
			"latest ferritin before the IRLS is used",
			[]IRLSPoint{{d("2025-05-01"), 8}, {d("2025-07-01"), 15}, {d("2025-09-01"), 16}},
			[]Point{{d("2025-03-01"), 50}, {d("2025-04-20"), 90}, {d("2025-05-02"), 300}, {d("2025-06-30"), 100}, {d("2025-08-30"), 100}},
			want{3, true, &Pair{d("2025-05-01"), 8, d("2025-04-20"), 90}},
		},
		{
			"same-day ferritin counts",
			[]IRLSPoint{{d("2025-01-01"), 5}, {d("2025-02-01"), 6}, {d("2025-03-01"), 7}},
			[]Point{{d("2025-01-01"), 120}, {d("2025-02-01"), 110}, {d("2025-03-01"), 100}},
			want{3, true, &Pair{d("2025-01-01"), 5, d("2025-01-01"), 120}},
		},
		{
			"ferritin older than 90 days is not paired",
			[]IRLSPoint{{d("2025-01-10"), 30}, {d("2025-06-10"), 5}, {d("2025-07-10"), 20}, {d("2025-08-10"), 22}},
			[]Point{{d("2025-01-01"), 40}, {d("2025-03-11"), 200}, {d("2025-07-01"), 70}},
			// 2025-06-10 is 91 days after 2025-03-11: unpaired.
			want{3, true, &Pair{d("2025-07-10"), 20, d("2025-07-01"), 70}},
		},
		{
			"exactly 90 days is paired",
			[]IRLSPoint{{d("2025-04-01"), 3}, {d("2025-05-01"), 9}, {d("2025-06-01"), 9}},
			[]Point{{d("2025-01-01"), 95}, {d("2025-04-15"), 50}},
			want{3, true, &Pair{d("2025-04-01"), 3, d("2025-01-01"), 95}},
		},
		{
			"ferritin after the IRLS is not used",
			[]IRLSPoint{{d("2025-01-01"), 3}, {d("2025-02-01"), 9}, {d("2025-03-01"), 9}},
			[]Point{{d("2025-01-02"), 95}, {d("2025-02-01"), 60}},
			want{pairs: 2},
		},
		{
			"unsorted input",
			[]IRLSPoint{{d("2025-06-10"), 18}, {d("2025-01-10"), 25}, {d("2025-03-10"), 12}},
			[]Point{{d("2025-06-01"), 110}, {d("2025-03-01"), 150}, {d("2025-01-01"), 40}},
			want{3, true, &Pair{d("2025-03-10"), 12, d("2025-03-01"), 150}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			irls := append([]IRLSPoint(nil), tc.irls...)
			fer := append([]Point(nil), tc.ferritin...)
			got := FerritinAtBest(tc.irls, tc.ferritin)
			if len(got.Pairs) != tc.want.pairs || got.Enough != tc.want.enough {
				t.Errorf("pairs %d enough %v, want %d %v", len(got.Pairs), got.Enough, tc.want.pairs, tc.want.enough)
			}
			if diff := cmp.Diff(tc.want.best, got.Best, cmp.AllowUnexported(ekbom.Date{})); diff != "" {
				t.Errorf("best (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(irls, tc.irls, cmp.AllowUnexported(ekbom.Date{})); diff != "" {
				t.Error("input modified")
			}
			if diff := cmp.Diff(fer, tc.ferritin, cmp.AllowUnexported(ekbom.Date{})); diff != "" {
				t.Error("input modified")
			}
		})
	}
}

func TestBuildTimeline(t *testing.T) {
	b := sharedEngine(t).KB()
	v1 := ekbom.Visit{Date: d("2025-01-10"), Data: ekbom.Patient{AsOf: d("2025-01-10"), Age: ptrTo(50), Sex: ekbom.Male,
		Labs: []ekbom.Lab{
			{Test: ekbom.Ferritin, Value: 40, Unit: "ug/L", Date: d("2025-01-01")},
			{Test: ekbom.Iron, Value: 50, Unit: "µg/dL", Date: d("2025-01-01")},
			{Test: ekbom.TIBC, Value: 400, Unit: "µg/dL", Date: d("2025-01-01")},
		},
		Symptoms:    ekbom.Symptoms{IRLSItems: []int{3, 3, 3, 3, 3, 3, 3, 3, 3, 3}},
		Medications: []ekbom.Medication{{Sig: "pregabalin 75 mg at bedtime", Start: ptrTo(d("2024-12-01"))}},
	}}
	v2 := ekbom.Visit{Date: d("2025-04-10"), Data: ekbom.Patient{AsOf: d("2025-04-10"), Age: ptrTo(50), Sex: ekbom.Male,
		Labs: []ekbom.Lab{
			{Test: ekbom.Ferritin, Value: 40, Unit: "ug/L", Date: d("2025-01-01")}, // repeated from v1
			{Test: ekbom.Ferritin, Value: 180, Unit: "ng/mL", Date: d("2025-04-01")},
		},
		IronInfusions: []ekbom.Infusion{{Date: d("2025-02-01"), Product: "Injectafer", DoseMg: 750}},
		Symptoms:      ekbom.Symptoms{IRLSTotal: ptrTo(14)},
		Medications:   []ekbom.Medication{{Sig: "pregabalin 75 mg at bedtime", Start: ptrTo(d("2024-12-01")), Stop: ptrTo(d("2025-04-01")), Status: ekbom.Past}},
	}}
	// A visit that no longer validates (unknown condition) still gives its
	// canonical-unit labs.
	v3 := ekbom.Visit{Date: d("2025-06-10"), Data: ekbom.Patient{AsOf: d("2025-06-10"), Age: ptrTo(50), Sex: ekbom.Male,
		Conditions: []ekbom.Condition{"gout"},
		Labs: []ekbom.Lab{
			{Test: ekbom.Ferritin, Value: 150, Unit: "ng/mL", Date: d("2025-06-01")},
			{Test: ekbom.Ferritin, Value: 1, Unit: "mmol/L", Date: d("2025-06-02")},
		}}}
	tl := BuildTimeline([]ekbom.Visit{v1, v2, v3}, b)
	wantF := []Point{{d("2025-01-01"), 40}, {d("2025-04-01"), 180}, {d("2025-06-01"), 150}}
	if diff := cmp.Diff(wantF, tl.Ferritin, cmp.AllowUnexported(ekbom.Date{})); diff != "" {
		t.Errorf("ferritin (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Point{{d("2025-01-01"), 12.5}}, tl.TSAT, cmp.AllowUnexported(ekbom.Date{})); diff != "" {
		t.Errorf("derived TSAT (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]IRLSPoint{{d("2025-01-10"), 30}, {d("2025-04-10"), 14}}, tl.IRLS, cmp.AllowUnexported(ekbom.Date{})); diff != "" {
		t.Errorf("IRLS (-want +got):\n%s", diff)
	}
	if len(tl.Infusions) != 1 || tl.Infusions[0].Label != "ferric carboxymaltose 750 mg" {
		t.Errorf("infusions %+v", tl.Infusions)
	}
	var meds []string
	for _, m := range tl.MedEvents {
		meds = append(meds, m.Date.String()+" "+m.Label)
	}
	if diff := cmp.Diff([]string{"2024-12-01 start pregabalin", "2025-04-01 stop pregabalin"}, meds); diff != "" {
		t.Errorf("medication events (-want +got):\n%s", diff)
	}
}

func TestBuildChart(t *testing.T) {
	c := buildChart("ferritin-chart", "ferritin", "ng/mL",
		[]Point{{d("2025-01-01"), 40}, {d("2025-06-01"), 180}},
		[]Threshold{{75, "75 ng/mL", "th-low"}, {300, "300 ng/mL", "th-high"}},
		chartMarks{[]Marker{{d("2025-02-01"), "infusion"}}, "mark-infusion"})
	if c.Empty || len(c.Points) != 2 || len(c.HLines) != 2 || len(c.VMarks) != 1 {
		t.Fatalf("chart %+v", c)
	}
	// Higher values are drawn higher (smaller y); later dates further right.
	if !(c.Points[1].Y < c.Points[0].Y && c.Points[1].X > c.Points[0].X) {
		t.Errorf("points %+v", c.Points)
	}
	// The 300 line is inside the plot, above the 75 line.
	if !(c.HLines[1].Y >= c.Top && c.HLines[1].Y < c.HLines[0].Y && c.HLines[0].Y <= c.Bottom) {
		t.Errorf("lines %+v (plot %v–%v)", c.HLines, c.Top, c.Bottom)
	}
	if m := c.VMarks[0]; !(m.X > c.Points[0].X && m.X < c.Points[1].X) {
		t.Errorf("marker at %v not between the points", m.X)
	}
	if !strings.Contains(c.Desc, "2 ferritin results") || !strings.Contains(c.Desc, "latest 180 ng/mL") {
		t.Errorf("desc %q", c.Desc)
	}
	one := buildChart("x", "IRLS", "points", []Point{{d("2025-01-01"), 0}}, nil)
	if one.Empty || len(one.Points) != 1 || one.Points[0].X <= one.Left || one.Points[0].X >= one.Right {
		t.Errorf("single zero point: %+v", one)
	}
	if e := buildChart("x", "TSAT", "%", nil, nil); !e.Empty || !strings.Contains(e.Desc, "No TSAT") {
		t.Errorf("empty chart %+v", e)
	}
}

func TestLabUnitsAccepted(t *testing.T) {
	b := sharedEngine(t).KB()
	for _, g := range labUnits {
		for _, u := range g.Units {
			p := ekbom.Patient{AsOf: d("2025-01-01"), Age: ptrTo(40), Sex: ekbom.Male,
				Labs: []ekbom.Lab{{Test: ekbom.LabTest(g.Test), Value: 1, Unit: u, Date: d("2025-01-01")}}}
			if err := intakeNormalize(&p, b); err != nil {
				t.Errorf("%s %s: %v", g.Test, u, err)
			}
		}
	}
}

func TestAgeAt(t *testing.T) {
	tests := []struct {
		birth, on string
		want      int
	}{
		{"1964-03-02", "2026-11-21", 62},
		{"1964-11-21", "2026-11-21", 62},
		{"1964-11-22", "2026-11-21", 61},
		{"2000-02-29", "2026-02-28", 25},
		{"2000-02-29", "2026-03-01", 26},
	}
	for _, tc := range tests {
		if got := ageAt(d(tc.birth), d(tc.on)); got != tc.want {
			t.Errorf("ageAt(%s, %s) = %d, want %d", tc.birth, tc.on, got, tc.want)
		}
	}
}
