package report

import (
	"bytes"
	"strings"
	"testing"

	"ekbom"
)

func samplePlan() *ekbom.Plan {
	irls := 25
	return &ekbom.Plan{
		PatientID: "p1", AsOf: ekbom.DateOf(2026, 11, 21), EngineVersion: "0", KnowledgeVersion: "2026.11.1",
		Pathway: "standard", Severity: ekbom.Severity{IRLS: &irls, Band: "severe"}, Status: ekbom.NotYetRefractory,
		StatusReasons: []string{"iron not yet optimized"},
		Warnings:      []ekbom.Warning{{Code: "augmentation", Severity: "high", Text: "Do not increase.", Because: []string{"onset 5 h earlier"}}},
		Steps: []ekbom.Step{{ID: "iron", Title: "1. Verify and optimize iron", Recommendations: []ekbom.Recommendation{{
			Rule: "iron.start_oral", Action: "start", Target: "ferrous_sulfate", Text: "Start oral iron.",
			Strength: "conditional", Certainty: "low", GradeVerified: false, Sources: []string{"aasm2025"},
			Because: []string{"ferritin 40 ng/mL ≤ 75"}, Priority: 1,
			Schedule: []ekbom.ScheduleItem{{Date: ekbom.DateOf(2026, 12, 1), DailyMg: 325, Text: "325 mg"}},
		}}}},
		Avoid:      []ekbom.Avoid{{Target: "cabergoline", Text: "Valvulopathy.", Strength: "strong", Certainty: "moderate", CurrentlyTaking: true}},
		Monitoring: []ekbom.Monitor{{What: "irls", Due: ekbom.DateOf(2027, 1, 2), Text: "IRLS at 4–6 weeks."}},
		Missing:    []string{"PDMP check"},
		Sources:    map[string]ekbom.SourceRef{"aasm2025": {Citation: "Winkelman 2025", URL: "https://doi.org/x"}},
	}
}

func TestWrite(t *testing.T) {
	for _, f := range []Format{Text, Markdown} {
		var buf bytes.Buffer
		if err := Write(&buf, samplePlan(), f); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		for _, want := range []string{Disclaimer, "IRLS 25 (severe)", "Do not increase.", "ferritin 40 ng/mL ≤ 75",
			"conditional · low certainty · grade unverified", "2026-12-01: 325 mg", "CURRENTLY TAKING", "PDMP check", "https://doi.org/x"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s output lacks %q", f, want)
			}
		}
		if strings.Index(out, "Do not increase.") > strings.Index(out, "Start oral iron.") {
			t.Errorf("%s: warnings must come before the steps", f)
		}
	}
}

func TestBadge(t *testing.T) {
	for _, tc := range []struct {
		s, c string
		v    bool
		want string
	}{
		{"strong", "moderate", true, "strong · moderate certainty"},
		{"expert_opinion", "not_graded", true, "expert opinion"},
		{"conditional", "very_low", false, "conditional · very low certainty · grade unverified"},
	} {
		if got := Badge(tc.s, tc.c, tc.v); got != tc.want {
			t.Errorf("Badge(%s,%s,%v) = %q, want %q", tc.s, tc.c, tc.v, got, tc.want)
		}
	}
}
