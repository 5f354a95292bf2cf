package engine_test

import (
	"slices"
	"testing"

	"ekbom"
	"ekbom/intake"
)

// TestPregnancyDefaultIsShown: the contract's pregnancy default ("none") is
// never assumed silently — a woman's plan says pregnancy was not recorded;
// an explicit "none", and a man's record, do not.
func TestPregnancyDefaultIsShown(t *testing.T) {
	e := newEngine(t)
	const note = "pregnancy or breastfeeding: not recorded, planned as neither"
	for _, tc := range []struct {
		name, extra string
		want        bool
	}{
		{"woman, not recorded", "sex: female\n", true},
		{"woman, none recorded", "sex: female\npregnancy: none\n", false},
		{"man", "sex: male\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := "as_of: 2026-11-21\nage: 34\n" + tc.extra +
				"labs:\n  - {test: ferritin, value: 40, unit: ng/mL, date: 2026-11-01, fasting: true, iron_supplement_within_24h: false}\n"
			p, err := intake.Read([]byte(yaml), "", e.KB(), intake.Options{Today: ekbom.DateOf(2026, 11, 21)})
			if err != nil {
				t.Fatal(err)
			}
			plan, err := e.Evaluate(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(plan.Missing, note); got != tc.want {
				t.Errorf("missing %q: %v, want %v (missing: %q)", note, got, tc.want, plan.Missing)
			}
		})
	}
}
