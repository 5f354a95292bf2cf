package dose

import (
	"fmt"
	"math"
	"testing"
	"time"

	"ekbom"

	"github.com/google/go-cmp/cmp"
)

// Illustrative taper inputs; the numbers are test data, not clinical advice.
var (
	pramipexole = Taper{Drug: "pramipexole", CurrentDailyMg: 0.75, PPXPerMg: 1,
		StepPPXMg: 0.125, StepDays: 14, IncrementMg: 0.125}
	ropinirole = Taper{Drug: "ropinirole", CurrentDailyMg: 3, PPXPerMg: 0.2,
		StepPPXMg: 0.25, StepDays: 7, IncrementMg: 0.25}
	rotigotine = Taper{Drug: "rotigotine", CurrentDailyMg: 3, PPXPerMg: 0.3,
		StepPPXMg: 0.125, StepDays: 14, IncrementMg: 1}
)

// taperItem is a shorthand for a dosed taper item.
func taperItem(date ekbom.Date, drug string, mg float64, k, n int) ekbom.ScheduleItem {
	return ekbom.ScheduleItem{Date: date, DailyMg: mg,
		Text: fmt.Sprintf("%s %s mg/day (step %d of %d)", drug, formatMg(mg), k, n)}
}

func TestTaperSchedule(t *testing.T) {
	start := d26(time.January, 1)
	with := func(base Taper, f func(*Taper)) Taper {
		f(&base)
		return base
	}
	tests := []struct {
		name    string
		t       Taper
		want    []ekbom.ScheduleItem
		wantErr string
	}{
		{
			name: "pramipexole 0.75 mg by 0.125 every 14 days",
			t:    pramipexole,
			want: []ekbom.ScheduleItem{
				taperItem(d26(time.January, 1), "pramipexole", 0.625, 1, 6),
				taperItem(d26(time.January, 15), "pramipexole", 0.5, 2, 6),
				taperItem(d26(time.January, 29), "pramipexole", 0.375, 3, 6),
				taperItem(d26(time.February, 12), "pramipexole", 0.25, 4, 6),
				taperItem(d26(time.February, 26), "pramipexole", 0.125, 5, 6),
				{Date: d26(time.March, 12), Text: "stop pramipexole"},
			},
		},
		{
			name: "pramipexole 0.5 mg",
			t:    with(pramipexole, func(t *Taper) { t.CurrentDailyMg, t.StepDays = 0.5, 7 }),
			want: []ekbom.ScheduleItem{
				{Date: d26(time.January, 1), DailyMg: 0.375, Text: "pramipexole 0.375 mg/day (step 1 of 4)"},
				{Date: d26(time.January, 8), DailyMg: 0.25, Text: "pramipexole 0.25 mg/day (step 2 of 4)"},
				{Date: d26(time.January, 15), DailyMg: 0.125, Text: "pramipexole 0.125 mg/day (step 3 of 4)"},
				{Date: d26(time.January, 22), Text: "stop pramipexole"},
			},
		},
		{
			name: "pramipexole in 0.25 mg steps",
			t:    with(pramipexole, func(t *Taper) { t.StepPPXMg = 0.25 }),
			want: []ekbom.ScheduleItem{
				taperItem(d26(time.January, 1), "pramipexole", 0.5, 1, 3),
				taperItem(d26(time.January, 15), "pramipexole", 0.25, 2, 3),
				{Date: d26(time.January, 29), Text: "stop pramipexole"},
			},
		},
		{
			// Step 0.25 PPX mg / 0.2 = 1.25 mg = 5 increments: 3 → 1.75 → 0.5 → 0.
			name: "ropinirole converted step",
			t:    ropinirole,
			want: []ekbom.ScheduleItem{
				taperItem(d26(time.January, 1), "ropinirole", 1.75, 1, 3),
				taperItem(d26(time.January, 8), "ropinirole", 0.5, 2, 3),
				{Date: d26(time.January, 15), Text: "stop ropinirole"},
			},
		},
		{
			// Step 0.125 PPX mg / 0.2 = 0.625 mg = 2.5 increments, rounded
			// down to 2 (0.5 mg): 2 → 1.5 → 1 → 0.5 → 0.
			name: "ropinirole step rounds down",
			t:    with(ropinirole, func(t *Taper) { t.CurrentDailyMg, t.StepPPXMg = 2, 0.125 }),
			want: []ekbom.ScheduleItem{
				taperItem(d26(time.January, 1), "ropinirole", 1.5, 1, 4),
				taperItem(d26(time.January, 8), "ropinirole", 1, 2, 4),
				taperItem(d26(time.January, 15), "ropinirole", 0.5, 3, 4),
				{Date: d26(time.January, 22), Text: "stop ropinirole"},
			},
		},
		{
			// Step 0.125 PPX mg / 0.3 = 0.417 mg, less than one 1 mg
			// increment, so one increment.
			name: "rotigotine step at least one increment",
			t:    rotigotine,
			want: []ekbom.ScheduleItem{
				taperItem(d26(time.January, 1), "rotigotine", 2, 1, 3),
				taperItem(d26(time.January, 15), "rotigotine", 1, 2, 3),
				{Date: d26(time.January, 29), Text: "stop rotigotine"},
			},
		},
		{
			// 0.7 mg is 5.6 increments: doses round up to the grid, so the
			// first reduction is 0.075 mg and later ones 0.125 mg.
			name: "current dose off the increment grid",
			t:    with(pramipexole, func(t *Taper) { t.CurrentDailyMg, t.StepDays = 0.7, 7 }),
			want: []ekbom.ScheduleItem{
				taperItem(d26(time.January, 1), "pramipexole", 0.625, 1, 6),
				taperItem(d26(time.January, 8), "pramipexole", 0.5, 2, 6),
				taperItem(d26(time.January, 15), "pramipexole", 0.375, 3, 6),
				taperItem(d26(time.January, 22), "pramipexole", 0.25, 4, 6),
				taperItem(d26(time.January, 29), "pramipexole", 0.125, 5, 6),
				{Date: d26(time.February, 5), Text: "stop pramipexole"},
			},
		},
		{
			name: "current dose below one increment stops at once",
			t:    with(pramipexole, func(t *Taper) { t.CurrentDailyMg = 0.0625 }),
			want: []ekbom.ScheduleItem{{Date: start, Text: "stop pramipexole"}},
		},
		{
			name: "current dose equal to one step stops at once",
			t:    with(pramipexole, func(t *Taper) { t.CurrentDailyMg = 0.125 }),
			want: []ekbom.ScheduleItem{{Date: start, Text: "stop pramipexole"}},
		},
		{
			name: "step larger than the dose stops at once",
			t:    with(pramipexole, func(t *Taper) { t.CurrentDailyMg, t.StepPPXMg = 0.25, 0.5 }),
			want: []ekbom.ScheduleItem{{Date: start, Text: "stop pramipexole"}},
		},
		{
			name: "huge step stops at once",
			t:    with(pramipexole, func(t *Taper) { t.StepPPXMg = 1e300 }),
			want: []ekbom.ScheduleItem{{Date: start, Text: "stop pramipexole"}},
		},
		{
			name: "float drift: 0.3 mg in 0.1 mg steps",
			t: Taper{Drug: "x", CurrentDailyMg: 0.3, PPXPerMg: 1, StepPPXMg: 0.1,
				StepDays: 1, IncrementMg: 0.1},
			want: []ekbom.ScheduleItem{
				taperItem(d26(time.January, 1), "x", 0.2, 1, 3),
				taperItem(d26(time.January, 2), "x", 0.1, 2, 3),
				{Date: d26(time.January, 3), Text: "stop x"},
			},
		},
		{
			name: "200 items is the limit",
			t:    with(pramipexole, func(t *Taper) { t.CurrentDailyMg, t.StepDays = 25, 1 }),
			want: func() []ekbom.ScheduleItem {
				var items []ekbom.ScheduleItem
				for k := 1; k < 200; k++ {
					items = append(items, taperItem(start.AddDays(k-1), "pramipexole", 25-0.125*float64(k), k, 200))
				}
				return append(items, ekbom.ScheduleItem{Date: start.AddDays(199), Text: "stop pramipexole"})
			}(),
		},
		{
			name:    "201 items is an error",
			t:       with(pramipexole, func(t *Taper) { t.CurrentDailyMg = 25.125 }),
			wantErr: "StepPPXMg: taper would take more than 200 steps",
		},
		{
			name:    "huge dose is an error, not a panic",
			t:       with(pramipexole, func(t *Taper) { t.CurrentDailyMg = 1e300 }),
			wantErr: "StepPPXMg: taper would take more than 200 steps",
		},
		{name: "zero current", t: with(pramipexole, func(t *Taper) { t.CurrentDailyMg = 0 }),
			wantErr: "CurrentDailyMg: must be a positive number, got 0"},
		{name: "zero factor", t: with(pramipexole, func(t *Taper) { t.PPXPerMg = 0 }),
			wantErr: "PPXPerMg: must be a positive number, got 0"},
		{name: "negative step", t: with(pramipexole, func(t *Taper) { t.StepPPXMg = -0.125 }),
			wantErr: "StepPPXMg: must be a positive number, got -0.125"},
		{name: "zero step days", t: with(pramipexole, func(t *Taper) { t.StepDays = 0 }),
			wantErr: "StepDays: must be a positive number of days, got 0"},
		{name: "NaN increment", t: with(pramipexole, func(t *Taper) { t.IncrementMg = math.NaN() }),
			wantErr: "IncrementMg: must be a positive number, got NaN"},
		{
			name: "every problem at once",
			t:    Taper{StepDays: -1, CurrentDailyMg: math.Inf(1)},
			wantErr: "Drug: is empty\n" +
				"CurrentDailyMg: must be a positive number, got +Inf\n" +
				"PPXPerMg: must be a positive number, got 0\n" +
				"StepPPXMg: must be a positive number, got 0\n" +
				"StepDays: must be a positive number of days, got -1\n" +
				"IncrementMg: must be a positive number, got 0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := TaperSchedule(start, tc.t)
			checkInvalid(t, err, tc.wantErr)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(ekbom.Date{})); diff != "" {
				t.Errorf("TaperSchedule mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTaperStepMg(t *testing.T) {
	tests := []struct {
		name     string
		t        Taper
		wantIncs int64
		wantMg   float64
		wantErr  string
	}{
		{name: "pramipexole one increment", t: pramipexole, wantIncs: 1, wantMg: 0.125},
		{name: "ropinirole 0.25 PPX = 1.25 mg", t: ropinirole, wantIncs: 5, wantMg: 1.25},
		{name: "rotigotine minimum one increment", t: rotigotine, wantIncs: 1, wantMg: 1},
		// 0.9 PPX mg / 0.3 = 2.9999999999999996 mg before the drift guard.
		{name: "drift does not lose an increment", t: Taper{Drug: "rotigotine", CurrentDailyMg: 4,
			PPXPerMg: 0.3, StepPPXMg: 0.9, StepDays: 7, IncrementMg: 1}, wantIncs: 3, wantMg: 3},
		{name: "invalid", t: Taper{Drug: "x"}, wantErr: "CurrentDailyMg: must be a positive number, got 0\n" +
			"PPXPerMg: must be a positive number, got 0\n" +
			"StepPPXMg: must be a positive number, got 0\n" +
			"StepDays: must be a positive number of days, got 0\n" +
			"IncrementMg: must be a positive number, got 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			incs, mg, err := tc.t.StepMg()
			checkInvalid(t, err, tc.wantErr)
			if diff := cmp.Diff([]any{tc.wantIncs, tc.wantMg}, []any{incs, mg}); diff != "" {
				t.Errorf("StepMg mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func BenchmarkTaperSchedule(b *testing.B) {
	start := d26(time.January, 1)
	tp := Taper{Drug: "ropinirole", CurrentDailyMg: 4, PPXPerMg: 0.2,
		StepPPXMg: 0.05, StepDays: 7, IncrementMg: 0.25}
	for b.Loop() {
		if _, err := TaperSchedule(start, tp); err != nil {
			b.Fatal(err)
		}
	}
}
