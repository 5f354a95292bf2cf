package dose

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// The property tests draw many random valid inputs from a fixed seed, so a
// failure reproduces.

// pick returns a random element of s.
func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func TestTaperScheduleProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	drugs := []Taper{pramipexole, ropinirole, rotigotine}
	start := d26(time.January, 1)
	for i := range 20000 {
		tp := pick(r, drugs)
		tp.StepDays = 1 + r.IntN(28)
		tp.StepPPXMg = pick(r, []float64{0.0625, 0.125, 0.25, 0.5, 1}) * (0.5 + r.Float64())
		if r.IntN(2) == 0 {
			tp.CurrentDailyMg = float64(1+r.IntN(40)) * tp.IncrementMg // on the grid
		} else {
			tp.CurrentDailyMg = 0.001 + r.Float64()*10*tp.IncrementMg // anywhere
		}
		items, err := TaperSchedule(start, tp)
		if err != nil {
			t.Fatalf("case %d: TaperSchedule(%+v): %v", i, tp, err)
		}
		_, stepMg, _ := tp.StepMg()
		last := items[len(items)-1]
		if last.DailyMg != 0 || last.Text != "stop "+tp.Drug {
			t.Fatalf("case %d: %+v: last item %+v, want 0 mg and %q", i, tp, last, "stop "+tp.Drug)
		}
		prev := tp.CurrentDailyMg
		for k, it := range items {
			if want := start.AddDays(k * tp.StepDays); it.Date != want {
				t.Fatalf("case %d: %+v: item %d on %v, want %v", i, tp, k, it.Date, want)
			}
			if it.DailyMg < 0 || it.DailyMg >= prev {
				t.Fatalf("case %d: %+v: item %d is %v mg after %v mg, want a strict decrease to at least 0",
					i, tp, k, it.DailyMg, prev)
			}
			if prev-it.DailyMg > stepMg+eps {
				t.Fatalf("case %d: %+v: item %d drops %v mg, more than the %v mg step",
					i, tp, k, prev-it.DailyMg, stepMg)
			}
			if units := it.DailyMg / tp.IncrementMg; math.Abs(units-math.Round(units)) > eps {
				t.Fatalf("case %d: %+v: item %d is %v mg, not a whole number of %v mg increments",
					i, tp, k, it.DailyMg, tp.IncrementMg)
			}
			if k < len(items)-1 && !strings.HasPrefix(it.Text, tp.Drug+" ") {
				t.Fatalf("case %d: item %d text %q does not name %s", i, k, it.Text, tp.Drug)
			}
			prev = it.DailyMg
		}
	}
}

func TestTitrationScheduleProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	start := d26(time.January, 1)
	units := []float64{0.125, 0.5, 25, 50, 75, 100, 150, 300}
	for i := range 20000 {
		u := pick(r, units)
		tt := Titration{
			Drug:          "drug",
			StartDailyMg:  float64(1+r.IntN(6)) * u,
			StepMg:        float64(1+r.IntN(4)) * u,
			StepDays:      1 + r.IntN(14),
			TargetDailyMg: float64(1+r.IntN(30)) * u,
			TimesPerDay:   float64(r.IntN(4)),
		}
		if r.IntN(2) == 0 {
			tt.MaxDailyMg = float64(1+r.IntN(30)) * u
		}
		if r.IntN(4) == 0 {
			tt.MaxDailyMg = r.Float64() * 30 * u // off every grid
		}
		limit := tt.TargetDailyMg
		if tt.MaxDailyMg > 0 {
			limit = math.Min(limit, tt.MaxDailyMg)
		}
		items, err := TitrationSchedule(start, tt)
		if err != nil {
			t.Fatalf("case %d: TitrationSchedule(%+v): %v", i, tt, err)
		}
		if got := items[len(items)-1].DailyMg; math.Abs(got-limit) > eps {
			t.Fatalf("case %d: %+v: last item %v mg, want the cap %v mg", i, tt, got, limit)
		}
		prev := 0.0
		for k, it := range items {
			if tt.MaxDailyMg > 0 && it.DailyMg > tt.MaxDailyMg+eps {
				t.Fatalf("case %d: %+v: item %d is %v mg, above MaxDailyMg", i, tt, k, it.DailyMg)
			}
			if it.DailyMg > tt.TargetDailyMg+eps {
				t.Fatalf("case %d: %+v: item %d is %v mg, above TargetDailyMg", i, tt, k, it.DailyMg)
			}
			if it.DailyMg <= prev {
				t.Fatalf("case %d: %+v: item %d is %v mg after %v mg, want a strict increase", i, tt, k, it.DailyMg, prev)
			}
			if k > 0 && it.DailyMg-prev > tt.StepMg+eps {
				t.Fatalf("case %d: %+v: item %d rises %v mg, more than the step", i, tt, k, it.DailyMg-prev)
			}
			if want := start.AddDays(k * tt.StepDays); it.Date != want {
				t.Fatalf("case %d: %+v: item %d on %v, want %v", i, tt, k, it.Date, want)
			}
			doses := SplitDoses(it.DailyMg, max(int(tt.TimesPerDay), 1), tt.StartDailyMg, tt.StepMg)
			sum := 0.0
			for _, d := range doses {
				sum += d
			}
			if math.Abs(sum-it.DailyMg) > eps || len(doses) > max(int(tt.TimesPerDay), 1) {
				t.Fatalf("case %d: %+v: item %d split %v does not fit %v mg in %v doses",
					i, tt, k, doses, it.DailyMg, tt.TimesPerDay)
			}
			prev = it.DailyMg
		}
	}
}
