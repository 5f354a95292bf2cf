package dose

import (
	"math"
	"testing"
	"time"

	"ekbom"

	"github.com/google/go-cmp/cmp"
)

// d26 returns the given date in 2026.
func d26(month time.Month, day int) ekbom.Date {
	return ekbom.DateOf(2026, month, day)
}

// gabapentin is an illustrative titration used across tests; the numbers
// are test data, not clinical advice.
var gabapentin = Titration{
	Drug:          "gabapentin",
	StartDailyMg:  300,
	StepMg:        300,
	StepDays:      7,
	TargetDailyMg: 900,
	TimesPerDay:   3,
	Timing:        "1–3 h before symptoms usually begin",
}

func TestTitrationSchedule(t *testing.T) {
	start := d26(time.January, 1)
	with := func(f func(*Titration)) Titration {
		t := gabapentin
		f(&t)
		return t
	}
	tests := []struct {
		name    string
		t       Titration
		want    []ekbom.ScheduleItem
		wantErr string
	}{
		{
			name: "three steps to a split target",
			t:    gabapentin,
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 300, Text: "gabapentin 300 mg/day once daily, 1–3 h before symptoms usually begin"},
				{Date: d26(time.January, 8), DailyMg: 600, Text: "gabapentin 600 mg/day: 300 mg in the afternoon and 300 mg at bedtime"},
				{Date: d26(time.January, 15), DailyMg: 900, Text: "gabapentin 900 mg/day: 300 mg in the morning, 300 mg in the afternoon and 300 mg at bedtime"},
			},
		},
		{
			name: "renal maximum caps below target and off the step",
			t: with(func(t *Titration) {
				t.TargetDailyMg, t.MaxDailyMg, t.TimesPerDay = 1200, 700, 2
			}),
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 300, Text: "gabapentin 300 mg/day once daily, 1–3 h before symptoms usually begin"},
				{Date: d26(time.January, 8), DailyMg: 600, Text: "gabapentin 600 mg/day: 300 mg in the afternoon and 300 mg at bedtime"},
				// 700 = 7 × 100 mg units: 3 + 4.
				{Date: d26(time.January, 15), DailyMg: 700, Text: "gabapentin 700 mg/day: 300 mg in the afternoon and 400 mg at bedtime"},
			},
		},
		{
			name: "maximum above target is ignored",
			t: with(func(t *Titration) {
				t.TargetDailyMg, t.MaxDailyMg, t.TimesPerDay = 600, 3600, 1
			}),
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 300, Text: "gabapentin 300 mg/day once daily, 1–3 h before symptoms usually begin"},
				{Date: d26(time.January, 8), DailyMg: 600, Text: "gabapentin 600 mg/day once daily, 1–3 h before symptoms usually begin"},
			},
		},
		{
			name: "target off the step is the last item",
			t: with(func(t *Titration) {
				t.TargetDailyMg, t.StepDays, t.TimesPerDay, t.Timing = 1000, 14, 0, ""
			}),
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 300, Text: "gabapentin 300 mg/day once daily"},
				{Date: d26(time.January, 15), DailyMg: 600, Text: "gabapentin 600 mg/day once daily"},
				{Date: d26(time.January, 29), DailyMg: 900, Text: "gabapentin 900 mg/day once daily"},
				{Date: d26(time.February, 12), DailyMg: 1000, Text: "gabapentin 1000 mg/day once daily"},
			},
		},
		{
			name: "start above the cap gives the cap",
			t: with(func(t *Titration) {
				t.StartDailyMg, t.MaxDailyMg = 1200, 600
			}),
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 600, Text: "gabapentin 600 mg/day: 300 mg in the afternoon and 300 mg at bedtime"},
			},
		},
		{
			name: "start at the target",
			t: with(func(t *Titration) {
				t.StartDailyMg = 900
			}),
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 900, Text: "gabapentin 900 mg/day: 300 mg in the morning, 300 mg in the afternoon and 300 mg at bedtime"},
			},
		},
		{
			name: "start smaller than the step sets the unit",
			t: with(func(t *Titration) {
				t.StartDailyMg = 100
			}),
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 100, Text: "gabapentin 100 mg/day once daily, 1–3 h before symptoms usually begin"},
				// 400 = 4 × 100: 1 + 1 + 2.
				{Date: d26(time.January, 8), DailyMg: 400, Text: "gabapentin 400 mg/day: 100 mg in the morning, 100 mg in the afternoon and 200 mg at bedtime"},
				// 700 = 7 × 100: 2 + 2 + 3.
				{Date: d26(time.January, 15), DailyMg: 700, Text: "gabapentin 700 mg/day: 200 mg in the morning, 200 mg in the afternoon and 300 mg at bedtime"},
				{Date: d26(time.January, 22), DailyMg: 900, Text: "gabapentin 900 mg/day: 300 mg in the morning, 300 mg in the afternoon and 300 mg at bedtime"},
			},
		},
		{
			name: "pregabalin twice daily",
			t: Titration{Drug: "pregabalin", StartDailyMg: 75, StepMg: 75, StepDays: 7,
				TargetDailyMg: 300, TimesPerDay: 2, Timing: "in the evening"},
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 75, Text: "pregabalin 75 mg/day once daily, in the evening"},
				{Date: d26(time.January, 8), DailyMg: 150, Text: "pregabalin 150 mg/day: 75 mg in the afternoon and 75 mg at bedtime"},
				{Date: d26(time.January, 15), DailyMg: 225, Text: "pregabalin 225 mg/day: 75 mg in the afternoon and 150 mg at bedtime"},
				{Date: d26(time.January, 22), DailyMg: 300, Text: "pregabalin 300 mg/day: 150 mg in the afternoon and 150 mg at bedtime"},
			},
		},
		{
			name: "fractional steps do not drift",
			t: Titration{Drug: "x", StartDailyMg: 0.1, StepMg: 0.1, StepDays: 1,
				TargetDailyMg: 0.3, TimesPerDay: 1},
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 0.1, Text: "x 0.1 mg/day once daily"},
				{Date: d26(time.January, 2), DailyMg: 0.2, Text: "x 0.2 mg/day once daily"},
				{Date: d26(time.January, 3), DailyMg: 0.3, Text: "x 0.3 mg/day once daily"},
			},
		},
		{
			name: "200 items is the limit",
			t:    Titration{Drug: "x", StartDailyMg: 1, StepMg: 1, StepDays: 1, TargetDailyMg: 200},
			want: func() []ekbom.ScheduleItem {
				var items []ekbom.ScheduleItem
				for k := range 200 {
					mg := float64(k + 1)
					items = append(items, ekbom.ScheduleItem{
						Date: start.AddDays(k), DailyMg: mg,
						Text: "x " + formatMg(mg) + " mg/day once daily",
					})
				}
				return items
			}(),
		},
		{
			name:    "201 items is an error",
			t:       Titration{Drug: "x", StartDailyMg: 1, StepMg: 1, StepDays: 1, TargetDailyMg: 201},
			wantErr: "StepMg: titration would take more than 200 steps",
		},
		{
			name:    "huge target is an error, not a panic",
			t:       with(func(t *Titration) { t.TargetDailyMg = 1e300 }),
			wantErr: "StepMg: titration would take more than 200 steps",
		},
		{
			name:    "zero step",
			t:       with(func(t *Titration) { t.StepMg = 0 }),
			wantErr: "StepMg: must be a positive number, got 0",
		},
		{
			name:    "zero step days",
			t:       with(func(t *Titration) { t.StepDays = 0 }),
			wantErr: "StepDays: must be a positive number of days, got 0",
		},
		{
			name:    "negative start",
			t:       with(func(t *Titration) { t.StartDailyMg = -300 }),
			wantErr: "StartDailyMg: must be a positive number, got -300",
		},
		{
			name:    "zero target",
			t:       with(func(t *Titration) { t.TargetDailyMg = 0 }),
			wantErr: "TargetDailyMg: must be a positive number, got 0",
		},
		{
			name:    "infinite target",
			t:       with(func(t *Titration) { t.TargetDailyMg = math.Inf(1) }),
			wantErr: "TargetDailyMg: must be a positive number, got +Inf",
		},
		{
			name:    "negative maximum",
			t:       with(func(t *Titration) { t.MaxDailyMg = -1 }),
			wantErr: "MaxDailyMg: must be 0 (no extra limit) or a positive number, got -1",
		},
		{
			name:    "four doses a day",
			t:       with(func(t *Titration) { t.TimesPerDay = 4 }),
			wantErr: "TimesPerDay: must be 1, 2 or 3, got 4",
		},
		{
			name:    "fractional doses a day",
			t:       with(func(t *Titration) { t.TimesPerDay = 1.5 }),
			wantErr: "TimesPerDay: must be 1, 2 or 3, got 1.5",
		},
		{
			name: "every problem at once",
			t:    Titration{Drug: " ", StartDailyMg: math.NaN(), StepDays: -7, MaxDailyMg: math.NaN(), TimesPerDay: -1},
			wantErr: "Drug: is empty\n" +
				"StartDailyMg: must be a positive number, got NaN\n" +
				"StepMg: must be a positive number, got 0\n" +
				"StepDays: must be a positive number of days, got -7\n" +
				"TargetDailyMg: must be a positive number, got 0\n" +
				"MaxDailyMg: must be 0 (no extra limit) or a positive number, got NaN\n" +
				"TimesPerDay: must be 1, 2 or 3, got -1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TitrationSchedule(start, tc.t)
			checkInvalid(t, err, tc.wantErr)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(ekbom.Date{})); diff != "" {
				t.Errorf("TitrationSchedule mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitDoses(t *testing.T) {
	tests := []struct {
		name  string
		daily float64
		times int
		sizes []float64
		want  []float64
	}{
		{name: "even split", daily: 900, times: 3, sizes: []float64{300}, want: []float64{300, 300, 300}},
		{name: "fewer units than doses", daily: 600, times: 3, sizes: []float64{300}, want: []float64{300, 300}},
		{name: "one unit", daily: 300, times: 3, sizes: []float64{300}, want: []float64{300}},
		{name: "uneven split puts more later", daily: 1200, times: 3, sizes: []float64{300}, want: []float64{300, 300, 600}},
		{name: "unit from several sizes", daily: 1200, times: 3, sizes: []float64{300, 100}, want: []float64{400, 400, 400}},
		{name: "no sizes: the whole dose is the unit", daily: 900, times: 3, want: []float64{900}},
		{name: "non-positive sizes are ignored", daily: 900, times: 3, sizes: []float64{0, -300, math.NaN(), 300}, want: []float64{300, 300, 300}},
		{name: "huge sizes are ignored", daily: 600, times: 2, sizes: []float64{1e300, 300}, want: []float64{300, 300}},
		{name: "huge dose is not split", daily: 1e12, times: 2, sizes: []float64{300}, want: []float64{1e12}},
		{name: "below a nanogram is not split", daily: 1e-10, times: 2, sizes: []float64{300}, want: []float64{1e-10}},
		{name: "fractional mg", daily: 0.75, times: 2, sizes: []float64{0.125}, want: []float64{0.375, 0.375}},
		{name: "fractional mg uneven", daily: 0.625, times: 2, sizes: []float64{0.125}, want: []float64{0.25, 0.375}},
		{name: "times below 1", daily: 600, times: 0, sizes: []float64{300}, want: []float64{600}},
		{name: "zero dose", daily: 0, times: 2, sizes: []float64{300}},
		{name: "NaN dose", daily: math.NaN(), times: 2, sizes: []float64{300}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitDoses(tc.daily, tc.times, tc.sizes...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SplitDoses(%v, %d, %v) mismatch (-want +got):\n%s", tc.daily, tc.times, tc.sizes, diff)
			}
		})
	}
}

func BenchmarkTitrationSchedule(b *testing.B) {
	start := d26(time.January, 1)
	tt := Titration{Drug: "gabapentin", StartDailyMg: 100, StepMg: 100, StepDays: 3,
		TargetDailyMg: 2400, MaxDailyMg: 1800, TimesPerDay: 3, Timing: "in the evening"}
	for b.Loop() {
		if _, err := TitrationSchedule(start, tt); err != nil {
			b.Fatal(err)
		}
	}
}
