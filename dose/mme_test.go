package dose

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The factors below are test data for the arithmetic, not a factor table.

func TestMME(t *testing.T) {
	tests := []struct {
		name            string
		dailyMg, factor float64
		want            float64
	}{
		{name: "10 mg × 1.5", dailyMg: 10, factor: 1.5, want: 15},
		{name: "30 mg × 1", dailyMg: 30, factor: 1, want: 30},
		{name: "5 mg × 4.7", dailyMg: 5, factor: 4.7, want: 23.5},
		// 3 × 0.1 is 0.30000000000000004 in float64.
		{name: "float drift", dailyMg: 3, factor: 0.1, want: 0.3},
		{name: "zero dose", dailyMg: 0, factor: 1.5},
		{name: "negative dose", dailyMg: -10, factor: 1.5},
		{name: "zero factor", dailyMg: 10, factor: 0},
		{name: "NaN factor", dailyMg: 10, factor: math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, MME(tc.dailyMg, tc.factor)); diff != "" {
				t.Errorf("MME(%v, %v) mismatch (-want +got):\n%s", tc.dailyMg, tc.factor, diff)
			}
		})
	}
}

func TestTotalMME(t *testing.T) {
	tests := []struct {
		name         string
		doses        []OpioidDose
		wantTotal    float64
		wantExcluded []string
	}{
		{name: "none"},
		{
			// 10 × 1.5 + 30 × 1 = 45.
			name: "two included",
			doses: []OpioidDose{
				{Drug: "oxycodone", DailyMg: 10, Factor: 1.5, Included: true},
				{Drug: "morphine", DailyMg: 30, Factor: 1, Included: true},
			},
			wantTotal: 45,
		},
		{
			name: "buprenorphine is excluded, not guessed",
			doses: []OpioidDose{
				{Drug: "buprenorphine", DailyMg: 8, Factor: 30},
				{Drug: "oxycodone", DailyMg: 10, Factor: 1.5, Included: true},
			},
			wantTotal: 15, wantExcluded: []string{"buprenorphine"},
		},
		{
			name: "excluded names once, in input order",
			doses: []OpioidDose{
				{Drug: "z-drug"},
				{Drug: "buprenorphine"},
				{Drug: "z-drug"},
			},
			wantExcluded: []string{"z-drug", "buprenorphine"},
		},
		{
			// 0.1 × 3 twice: 0.6, not 0.6000000000000001.
			name: "total does not drift",
			doses: []OpioidDose{
				{Drug: "a", DailyMg: 3, Factor: 0.1, Included: true},
				{Drug: "b", DailyMg: 3, Factor: 0.1, Included: true},
				{Drug: "c", DailyMg: 1, Factor: 0.1, Included: true},
			},
			wantTotal: 0.7,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			total, excluded := TotalMME(tc.doses)
			if diff := cmp.Diff(tc.wantTotal, total); diff != "" {
				t.Errorf("TotalMME total mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantExcluded, excluded); diff != "" {
				t.Errorf("TotalMME excluded mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPPXEquivalent(t *testing.T) {
	tests := []struct {
		name              string
		dailyMg, ppxPerMg float64
		want              float64
	}{
		{name: "pramipexole 0.5 × 1", dailyMg: 0.5, ppxPerMg: 1, want: 0.5},
		{name: "ropinirole 3 × 0.2", dailyMg: 3, ppxPerMg: 0.2, want: 0.6},
		// 3 × 0.3 is 0.8999999999999999 in float64.
		{name: "rotigotine 3 × 0.3", dailyMg: 3, ppxPerMg: 0.3, want: 0.9},
		{name: "zero dose", dailyMg: 0, ppxPerMg: 1},
		{name: "negative factor", dailyMg: 1, ppxPerMg: -1},
		{name: "NaN dose", dailyMg: math.NaN(), ppxPerMg: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, PPXEquivalent(tc.dailyMg, tc.ppxPerMg)); diff != "" {
				t.Errorf("PPXEquivalent(%v, %v) mismatch (-want +got):\n%s", tc.dailyMg, tc.ppxPerMg, diff)
			}
		})
	}
}
