package dose

import (
	"errors"
	"math"
	"testing"

	"ekbom"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// errText returns err's message, or "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkInvalid fails t unless err is nil exactly when want is "", has the
// message want, and matches ekbom.ErrInvalid.
func checkInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if diff := cmp.Diff(want, errText(err)); diff != "" {
		t.Errorf("error mismatch (-want +got):\n%s", diff)
	}
	if err != nil && !errors.Is(err, ekbom.ErrInvalid) {
		t.Errorf("errors.Is(%v, ekbom.ErrInvalid) = false, want true", err)
	}
}

func TestCockcroftGault(t *testing.T) {
	tests := []struct {
		name       string
		age        int
		weight, cr float64
		female     bool
		want       float64
		wantErr    string
	}{
		// (140−80)×60/(72×1.2)×0.85 = 3600/86.4×0.85 = 35.41666…
		{name: "female 80 y", age: 80, weight: 60, cr: 1.2, female: true, want: 3600.0 / 86.4 * 0.85},
		// Same without the female factor: 41.666…
		{name: "male 80 y", age: 80, weight: 60, cr: 1.2, want: 3600.0 / 86.4},
		// (140−40)×72/(72×1.0) = 100
		{name: "male 40 y 72 kg", age: 40, weight: 72, cr: 1, want: 100},
		// (140−18)×400/(72×30) = 48800/2160 = 22.592…
		{name: "upper weight and creatinine, lower age", age: 18, weight: 400, cr: 30, want: 48800.0 / 2160},
		// (140−120)×50/(72×0.5) = 1000/36 = 27.77…; ×0.85 = 23.611…
		{name: "age 120 female", age: 120, weight: 50, cr: 0.5, female: true, want: 1000.0 / 36 * 0.85},
		{name: "age 17", age: 17, weight: 60, cr: 1, wantErr: "age: 17 years is outside 18–120"},
		{name: "age 121", age: 121, weight: 60, cr: 1, wantErr: "age: 121 years is outside 18–120"},
		{name: "weight 0", age: 50, weight: 0, cr: 1, wantErr: "weight: 0 kg is outside 0–400 (zero excluded)"},
		{name: "weight 400.5", age: 50, weight: 400.5, cr: 1, wantErr: "weight: 400.5 kg is outside 0–400 (zero excluded)"},
		{name: "weight NaN", age: 50, weight: math.NaN(), cr: 1, wantErr: "weight: NaN kg is outside 0–400 (zero excluded)"},
		{name: "creatinine 0", age: 50, weight: 60, cr: 0, wantErr: "creatinine: 0 mg/dL is outside 0–30 (zero excluded)"},
		{name: "creatinine negative", age: 50, weight: 60, cr: -1, wantErr: "creatinine: -1 mg/dL is outside 0–30 (zero excluded)"},
		{name: "creatinine 30.1", age: 50, weight: 60, cr: 30.1, wantErr: "creatinine: 30.1 mg/dL is outside 0–30 (zero excluded)"},
		{name: "creatinine +Inf", age: 50, weight: 60, cr: math.Inf(1), wantErr: "creatinine: +Inf mg/dL is outside 0–30 (zero excluded)"},
		{
			name: "every problem at once", age: 10, weight: -5, cr: 0,
			wantErr: "age: 10 years is outside 18–120\n" +
				"weight: -5 kg is outside 0–400 (zero excluded)\n" +
				"creatinine: 0 mg/dL is outside 0–30 (zero excluded)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CockcroftGault(tc.age, tc.weight, tc.cr, tc.female)
			checkInvalid(t, err, tc.wantErr)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("CockcroftGault(%d, %v, %v, %v) mismatch (-want +got):\n%s",
					tc.age, tc.weight, tc.cr, tc.female, diff)
			}
		})
	}
}

// testBands is an illustrative band table, deliberately out of order. The
// numbers are test data, not clinical advice.
var testBands = []RenalBand{
	{MinCrCl: 15, MaxCrCl: 30, MinDailyMg: 200, MaxDailyMg: 700, TimesPerDay: 1, Note: "c"},
	{MinCrCl: 60, MinDailyMg: 900, MaxDailyMg: 3600, TimesPerDay: 3, Note: "a"},
	{MinCrCl: 0, MaxCrCl: 15, MinDailyMg: 100, MaxDailyMg: 300, TimesPerDay: 1, Note: "d"},
	{MinCrCl: 30, MaxCrCl: 60, MinDailyMg: 400, MaxDailyMg: 1400, TimesPerDay: 2, Note: "b"},
}

func TestRenalLimit(t *testing.T) {
	tests := []struct {
		name   string
		bands  []RenalBand
		crcl   float64
		want   RenalBand
		wantOK bool
	}{
		{name: "open top band", bands: testBands, crcl: 120, want: testBands[1], wantOK: true},
		{name: "min is inclusive", bands: testBands, crcl: 60, want: testBands[1], wantOK: true},
		{name: "max is exclusive", bands: testBands, crcl: 59.999, want: testBands[3], wantOK: true},
		{name: "middle band", bands: testBands, crcl: 30, want: testBands[3], wantOK: true},
		{name: "low band", bands: testBands, crcl: 29.9, want: testBands[0], wantOK: true},
		{name: "zero", bands: testBands, crcl: 0, want: testBands[2], wantOK: true},
		{name: "35.4 from the CG example", bands: testBands, crcl: 3600.0 / 86.4 * 0.85, want: testBands[3], wantOK: true},
		{name: "negative", bands: testBands, crcl: -1},
		{name: "NaN", bands: testBands, crcl: math.NaN()},
		{name: "no bands", crcl: 50},
		{
			name:  "gap between bands",
			bands: []RenalBand{{MinCrCl: 0, MaxCrCl: 15, MaxDailyMg: 300}, {MinCrCl: 30, MaxDailyMg: 900}},
			crcl:  20,
		},
		{
			name: "overlap picks the lower maximum",
			bands: []RenalBand{
				{MinCrCl: 30, MaxDailyMg: 1400, Note: "wide"},
				{MinCrCl: 50, MaxCrCl: 70, MaxDailyMg: 900, Note: "narrow"},
			},
			crcl: 55, want: RenalBand{MinCrCl: 50, MaxCrCl: 70, MaxDailyMg: 900, Note: "narrow"}, wantOK: true,
		},
		{
			name: "overlap tie picks the earlier band",
			bands: []RenalBand{
				{MinCrCl: 30, MaxDailyMg: 900, Note: "first"},
				{MinCrCl: 50, MaxDailyMg: 900, Note: "second"},
			},
			crcl: 55, want: RenalBand{MinCrCl: 30, MaxDailyMg: 900, Note: "first"}, wantOK: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := RenalLimit(tc.bands, tc.crcl)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("RenalLimit(%v) band mismatch (-want +got):\n%s", tc.crcl, diff)
			}
			if ok != tc.wantOK {
				t.Errorf("RenalLimit(%v) ok = %v, want %v", tc.crcl, ok, tc.wantOK)
			}
		})
	}
}

func TestCheckRenalBands(t *testing.T) {
	tests := []struct {
		name    string
		bands   []RenalBand
		wantErr string
	}{
		{name: "valid table", bands: testBands},
		{name: "empty table"},
		{name: "gap is allowed", bands: []RenalBand{
			{MinCrCl: 0, MaxCrCl: 15, MaxDailyMg: 300, TimesPerDay: 1},
			{MinCrCl: 30, MaxDailyMg: 900, TimesPerDay: 0.5},
		}},
		{
			name: "overlap",
			bands: []RenalBand{
				{MinCrCl: 30, MaxDailyMg: 1400, TimesPerDay: 2},
				{MinCrCl: 0, MaxCrCl: 31, MaxDailyMg: 700, TimesPerDay: 1},
			},
			wantErr: "bands[1].MinCrCl: band overlaps bands[0]",
		},
		{
			name: "two open bands overlap",
			bands: []RenalBand{
				{MinCrCl: 30, MaxDailyMg: 1400, TimesPerDay: 2},
				{MinCrCl: 60, MaxDailyMg: 3600, TimesPerDay: 3},
			},
			wantErr: "bands[1].MinCrCl: band overlaps bands[0]",
		},
		{
			name: "bad fields",
			bands: []RenalBand{
				{MinCrCl: 60, MaxCrCl: 30, MinDailyMg: 900, MaxDailyMg: 300},
				{MinCrCl: -1, MaxCrCl: -2, MinDailyMg: math.NaN(), MaxDailyMg: 0, TimesPerDay: -1},
			},
			wantErr: "bands[0].MaxCrCl: 30 is not above MinCrCl 60\n" +
				"bands[0].MinDailyMg: 900 is above MaxDailyMg 300\n" +
				"bands[0].TimesPerDay: must be a positive number, got 0\n" +
				"bands[1].MinCrCl: must be a number of at least 0, got -1\n" +
				"bands[1].MaxCrCl: must be 0 (no upper bound) or a positive number, got -2\n" +
				"bands[1].MinDailyMg: must be a number of at least 0, got NaN\n" +
				"bands[1].MaxDailyMg: must be a positive number, got 0\n" +
				"bands[1].TimesPerDay: must be a positive number, got -1",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkInvalid(t, CheckRenalBands(tc.bands), tc.wantErr)
		})
	}
}
