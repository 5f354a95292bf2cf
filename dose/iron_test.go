package dose

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestFerritinRise(t *testing.T) {
	tests := []struct {
		name              string
		dose, low, high   float64
		wantLow, wantHigh float64
	}{
		// 1000 mg = 10 × 100 mg: 10 × 10 = 100, 10 × 12 = 120 ng/mL.
		{name: "1000 mg", dose: 1000, low: 10, high: 12, wantLow: 100, wantHigh: 120},
		// 510 mg = 5.1 × 100 mg: 51 and 61.2 ng/mL.
		{name: "510 mg", dose: 510, low: 10, high: 12, wantLow: 51, wantHigh: 61.2},
		{name: "bounds swapped", dose: 1000, low: 12, high: 10, wantLow: 100, wantHigh: 120},
		{name: "zero dose", dose: 0, low: 10, high: 12},
		{name: "negative dose", dose: -100, low: 10, high: 12},
		{name: "NaN dose", dose: math.NaN(), low: 10, high: 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			low, high := FerritinRise(tc.dose, tc.low, tc.high)
			if diff := cmp.Diff([]float64{tc.wantLow, tc.wantHigh}, []float64{low, high}); diff != "" {
				t.Errorf("FerritinRise(%v, %v, %v) mismatch (-want +got):\n%s", tc.dose, tc.low, tc.high, diff)
			}
		})
	}
}

func TestIronDoseForTarget(t *testing.T) {
	tests := []struct {
		name                  string
		current, target       float64
		low, high             float64
		wantLowMg, wantHighMg float64
	}{
		// Gap 120: 120/12×100 = 1000 mg; 120/10×100 = 1200 mg.
		{name: "exact hundreds", current: 30, target: 150, low: 10, high: 12, wantLowMg: 1000, wantHighMg: 1200},
		// Gap 50: 50/12×100 = 416.7 → 500; 50/10×100 = 500.
		{name: "rounds up", current: 50, target: 100, low: 10, high: 12, wantLowMg: 500, wantHighMg: 500},
		// Gap 25: 208.3 → 300; 250 → 300.
		{name: "small gap", current: 75, target: 100, low: 10, high: 12, wantLowMg: 300, wantHighMg: 300},
		// Gap 1: 8.3 → 100; 10 → 100.
		{name: "tiny gap is one 100 mg unit", current: 99, target: 100, low: 10, high: 12, wantLowMg: 100, wantHighMg: 100},
		{name: "bounds swapped", current: 30, target: 150, low: 12, high: 10, wantLowMg: 1000, wantHighMg: 1200},
		// 2.1/0.3×100 is 700.0000000000001 in float64; it must stay 700.
		{name: "float drift", current: 0, target: 2.1, low: 0.3, high: 0.3, wantLowMg: 700, wantHighMg: 700},
		{name: "at target", current: 100, target: 100, low: 10, high: 12},
		{name: "above target", current: 150, target: 100, low: 10, high: 12},
		{name: "zero rise", current: 30, target: 150, low: 0, high: 12},
		{name: "negative rise", current: 30, target: 150, low: -10, high: 12},
		{name: "NaN ferritin", current: math.NaN(), target: 150, low: 10, high: 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lowMg, highMg := IronDoseForTarget(tc.current, tc.target, tc.low, tc.high)
			if diff := cmp.Diff([]float64{tc.wantLowMg, tc.wantHighMg}, []float64{lowMg, highMg}); diff != "" {
				t.Errorf("IronDoseForTarget(%v, %v, %v, %v) mismatch (-want +got):\n%s",
					tc.current, tc.target, tc.low, tc.high, diff)
			}
		})
	}
}
