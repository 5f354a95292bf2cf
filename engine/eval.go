package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"ekbom"
	"ekbom/dose"
	"ekbom/kb"
)

// ironState summarises step 1 for the later steps and the status.
type ironState int

const (
	ironUnknown    ironState = iota // no usable iron studies
	ironOverload                    // iron contraindicated
	ironDeficient                   // ferritin ≤ 75 or TSAT < 20 %, or ESRD rule met
	ironBorderline                  // ferritin 75–100: IV iron still indicated
	ironPending                     // recent infusion not yet judged
	ironOptimized                   // above all thresholds (or IV declined at 75–100)
)

// eval is the state of one evaluation.
type eval struct {
	e    *Engine
	t    *params
	p    *ekbom.Patient
	asOf ekbom.Date
	age  int

	latest  map[ekbom.LabTest]*ekbom.Lab
	current []*ekbom.Medication // resolved current medications
	past    []*ekbom.Medication // resolved past medications
	irls    *int

	// Facts from the renal pseudo-step.
	crcl         *float64 // mL/min; nil when unknown
	renalText    string   // e.g. "creatinine clearance 42 mL/min (Cockcroft–Gault)"
	dialysis     bool
	renalReduced bool

	// Conclusions later steps use.
	iron           ironState
	ironDeclined   bool // IV iron declined at ferritin 75–100
	exacerbators   bool // exacerbating drugs or untreated sleep apnea
	exacerbatorRx  bool // exacerbating drugs
	osaUntreated   bool
	dopaminergic   []*ekbom.Medication
	augmentation   bool   // met or suspected, or dose above maximum
	augSeverity    string // mild | severe | very_severe | unclassified
	opioidForAug   bool
	a2dFailed      bool // adequate trial without control
	a2dIntolerant  bool
	a2dDeclined    bool
	a2dUnknown     bool // dose of the current/past trial unknown
	a2dAdequate    bool // an adequate trial is under way or done
	a2dAssessed    bool
	a2dTried       map[string]string // drug id → failed | adequate | inadequate | intolerant | unknown | titrating
	a2dFacts       []string
	a2dStarted     string // drug id recommended to start
	opioidBlocked  bool
	opioidDeclined bool
	recentChange   []string
	oud            bool

	plan          *ekbom.Plan
	steps         map[string][]*ekbom.Recommendation
	conflictSeen  map[string]bool
	conflictOrder []string
	missingSeen   map[string]bool
	err           error
}

func newEval(e *Engine, p *ekbom.Patient) *eval {
	ev := &eval{
		e: e, t: &e.t, p: p, asOf: p.AsOf, age: *p.Age,
		latest:       map[ekbom.LabTest]*ekbom.Lab{},
		steps:        map[string][]*ekbom.Recommendation{},
		conflictSeen: map[string]bool{},
		missingSeen:  map[string]bool{},
		plan: &ekbom.Plan{
			PatientID:        p.ID,
			AsOf:             p.AsOf,
			EngineVersion:    ekbom.EngineVersion,
			KnowledgeVersion: e.kb.Meta.Version,
			Pathway:          "standard",
			StatusReasons:    make([]string, 0, 4),
			Findings:         make([]ekbom.Finding, 0, 8),
			Steps:            make([]ekbom.Step, 0, len(ekbom.StepOrder)),
			Warnings:         make([]ekbom.Warning, 0, 4),
			Avoid:            make([]ekbom.Avoid, 0, len(e.avoid)),
			Monitoring:       make([]ekbom.Monitor, 0, 8),
			Missing:          make([]string, 0, 4),
			Conflicts:        make([]ekbom.ConflictNote, 0, 8),
			Sources:          make(map[string]ekbom.SourceRef, 48),
		},
	}
	for i := range p.Labs {
		l := &p.Labs[i]
		if l.Date.After(p.AsOf) {
			continue
		}
		if cur, ok := ev.latest[l.Test]; !ok || l.Date.After(cur.Date) || (l.Date == cur.Date && cur.Derived && !l.Derived) {
			ev.latest[l.Test] = l
		}
	}
	for i := range p.Medications {
		m := &p.Medications[i]
		if m.Resolved.Ingredient == "" {
			continue
		}
		if m.IsCurrent() {
			ev.current = append(ev.current, m)
		} else {
			ev.past = append(ev.past, m)
		}
	}
	ev.irls = p.Symptoms.IRLSTotal
	if ev.irls == nil && len(p.Symptoms.IRLSItems) == 10 {
		if total, err := dose.IRLSTotal(p.Symptoms.IRLSItems); err == nil {
			ev.irls = &total
		}
	}
	switch p.Pregnancy {
	case ekbom.Pregnant, ekbom.Lactating:
		ev.plan.Pathway = "pregnancy"
	default:
		if p.Has(ekbom.ESRD) {
			ev.plan.Pathway = "esrd"
		}
	}
	ev.oud = p.Has(ekbom.OpioidUseDisorder) || p.Has(ekbom.SubstanceUseDisorder)
	ev.osaUntreated = p.Has(ekbom.SleepApnea) ||
		(p.Screening.OSAScreen == "positive" && !p.Has(ekbom.SleepApneaTreated))
	ev.severity()
	return ev
}

func (ev *eval) pregnant() bool { return ev.plan.Pathway == "pregnancy" }

func (ev *eval) elderly() bool { return ev.age >= ev.t.elderlyAge }

// severity fills the plan's IRLS band from the knowledge-base cut-offs.
func (ev *eval) severity() {
	ev.plan.Severity = ekbom.Severity{IRLS: ev.irls, Band: "unknown"}
	if ev.irls == nil {
		return
	}
	bands := []dose.Band{
		{Min: 0, Max: ev.t.irlsMild - 1, Name: "none"},
		{Min: ev.t.irlsMild, Max: ev.t.irlsModerate - 1, Name: "mild"},
		{Min: ev.t.irlsModerate, Max: ev.t.irlsSevere - 1, Name: "moderate"},
		{Min: ev.t.irlsSevere, Max: ev.t.irlsVery - 1, Name: "severe"},
		{Min: ev.t.irlsVery, Max: 40, Name: "very_severe"},
	}
	if b, ok := dose.IRLSBand(*ev.irls, bands); ok {
		ev.plan.Severity.Band = b
	}
}

// rec adds the recommendation of rule id to its step. target overrides the
// rule's generic target (a class) with a specific drug when non-empty.
func (ev *eval) rec(id, target string, vars map[string]string, because []string) *ekbom.Recommendation {
	info, ok := ev.e.rules[id]
	if !ok || info.rule.Kind != "recommendation" {
		ev.fail(fmt.Errorf("engine: rule %q is not a recommendation in the knowledge base", id))
		return &ekbom.Recommendation{}
	}
	r := info.rule
	text := ev.render(r, vars)
	if target == "" {
		target = r.Target
	}
	class := r.Class
	if d, ok := ev.e.kb.Drug(target); ok {
		class = d.Class
	}
	strength, certainty, verified := info.strength, info.certainty, info.verified
	sources := info.sources
	if r.Evidence == kb.ByTarget {
		pop := "adults"
		if ev.dialysis {
			pop = "adults_esrd"
		}
		if g, ok := ev.e.kb.EvidenceFor(target, pop); ok {
			strength, certainty, verified = g.Strength, g.Certainty, g.Verified()
			sources = appendNew(append([]string(nil), sources...), g.Sources...)
		} else {
			ev.fail(fmt.Errorf("engine: rule %q: no guideline evidence for %q", id, target))
		}
	}
	for _, s := range sources {
		ev.cite(s)
	}
	for _, c := range r.Conflicts {
		ev.conflict(c)
	}
	patientText := ""
	if r.PatientText != "" {
		var err error
		if patientText, err = kb.Render(r.PatientText, vars); err != nil {
			ev.fail(fmt.Errorf("engine: rule %q patient_text: %v", r.ID, err))
		}
	}
	rec := &ekbom.Recommendation{
		Rule: r.ID, Action: ekbom.Action(r.Action), Target: target, Class: class,
		Text: text, PatientText: patientText, Strength: strength, Certainty: certainty, GradeVerified: verified,
		Sources: sources, Because: nonNil(because), Priority: r.Priority,
		Conflicts: r.Conflicts,
	}
	ev.steps[r.Step] = append(ev.steps[r.Step], rec)
	return rec
}

// has reports whether a recommendation of rule id was made.
func (ev *eval) has(id string) bool {
	for _, recs := range ev.steps {
		for _, r := range recs {
			if r.Rule == id {
				return true
			}
		}
	}
	return false
}

func (ev *eval) render(r *kb.Rule, vars map[string]string) string {
	text, err := kb.Render(r.Text, vars)
	if err != nil {
		ev.fail(fmt.Errorf("engine: rule %q: %v", r.ID, err))
	}
	return text
}

func (ev *eval) finding(id string, vars map[string]string, because []string) {
	r, ok := ev.e.kb.Rule(id)
	if !ok || r.Kind != "finding" {
		ev.fail(fmt.Errorf("engine: rule %q is not a finding", id))
		return
	}
	ev.plan.Findings = append(ev.plan.Findings, ekbom.Finding{Code: r.Code, Text: ev.render(r, vars), Because: nonNil(because)})
}

func (ev *eval) warn(id string, vars map[string]string, because []string) {
	r, ok := ev.e.kb.Rule(id)
	if !ok || r.Kind != "warning" {
		ev.fail(fmt.Errorf("engine: rule %q is not a warning", id))
		return
	}
	text := ev.render(r, vars)
	for _, w := range ev.plan.Warnings {
		if w.Code == r.Code && w.Text == text {
			return
		}
	}
	for _, s := range r.Sources {
		ev.cite(s)
	}
	ev.plan.Warnings = append(ev.plan.Warnings, ekbom.Warning{
		Code: r.Code, Severity: r.Severity, Text: text,
		Because: nonNil(because), Sources: r.Sources,
	})
}

func (ev *eval) hasWarning(code string) bool {
	for _, w := range ev.plan.Warnings {
		if w.Code == code {
			return true
		}
	}
	return false
}

func (ev *eval) reason(id string) {
	r, ok := ev.e.kb.Rule(id)
	if !ok || r.Kind != "status" {
		ev.fail(fmt.Errorf("engine: rule %q is not a status reason", id))
		return
	}
	ev.plan.StatusReasons = append(ev.plan.StatusReasons, r.Text)
}

func (ev *eval) monitor(id string, due ekbom.Date, extra string) {
	m, ok := ev.e.kb.Monitor(id)
	if !ok {
		ev.fail(fmt.Errorf("engine: unknown monitoring rule %q", id))
		return
	}
	if due.IsZero() {
		due = ev.asOf.AddDays(m.Days)
	}
	if due.Before(ev.asOf) {
		due = ev.asOf
	}
	text := m.Text
	if extra != "" {
		text += " " + extra
	}
	for _, x := range ev.plan.Monitoring {
		if x.What == m.What && x.Due == due {
			return
		}
	}
	for _, s := range m.Sources {
		ev.cite(s)
	}
	ev.plan.Monitoring = append(ev.plan.Monitoring, ekbom.Monitor{What: m.What, Due: due, Text: text})
}

func (ev *eval) missing(s string) {
	if !ev.missingSeen[s] {
		ev.missingSeen[s] = true
		ev.plan.Missing = append(ev.plan.Missing, s)
	}
}

func (ev *eval) cite(id string) {
	if _, ok := ev.plan.Sources[id]; ok {
		return
	}
	if s, ok := ev.e.kb.Source(id); ok {
		ev.plan.Sources[id] = ekbom.SourceRef{Citation: s.Citation, URL: s.URL}
	}
}

func (ev *eval) conflict(id string) {
	if !ev.conflictSeen[id] {
		ev.conflictSeen[id] = true
		ev.conflictOrder = append(ev.conflictOrder, id)
	}
}

func (ev *eval) fail(err error) {
	if ev.err == nil {
		ev.err = err
	}
}

// drug returns the knowledge-base drug of a resolved medication.
func (ev *eval) drug(m *ekbom.Medication) *kb.Drug {
	d, _ := ev.e.kb.Drug(m.Resolved.Ingredient)
	return d
}

// currentOf returns the current medications whose drug satisfies pred.
func (ev *eval) currentOf(pred func(*kb.Drug) bool) []*ekbom.Medication {
	var out []*ekbom.Medication
	for _, m := range ev.current {
		if d := ev.drug(m); d != nil && pred(d) {
			out = append(out, m)
		}
	}
	return out
}

func (ev *eval) pastOf(pred func(*kb.Drug) bool) []*ekbom.Medication {
	var out []*ekbom.Medication
	for _, m := range ev.past {
		if d := ev.drug(m); d != nil && pred(d) {
			out = append(out, m)
		}
	}
	return out
}

func classIs(class string) func(*kb.Drug) bool {
	return func(d *kb.Drug) bool { return d.Class == class }
}

// declined reports whether the patient declines the drug or its class.
func (ev *eval) declined(target string) bool {
	class := ""
	if d, ok := ev.e.kb.Drug(target); ok {
		class = d.Class
	}
	return ev.p.Declined(target, class)
}

// Formatting helpers.

func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

func mg(v float64) string { return num(v) + " mg" }

func mgDay(v float64) string { return num(v) + " mg/day" }

func labText(l *ekbom.Lab) string {
	s := fmt.Sprintf("%s %s %s (%s)", l.Test, num(l.Value), l.Unit, l.Date)
	if l.Derived {
		s += ", calculated from iron and TIBC"
	}
	return s
}

func medText(m *ekbom.Medication) string {
	if m.Resolved.Display != "" {
		return m.Resolved.Display
	}
	if m.Resolved.DailyMg != nil {
		return m.Resolved.Ingredient + " " + mgDay(*m.Resolved.DailyMg)
	}
	return m.Resolved.Ingredient
}

func drugName(d *kb.Drug) string { return d.Name }

func doseText(m *ekbom.Medication, d *kb.Drug) string {
	if m.Resolved.DailyMg == nil {
		return "dose unknown"
	}
	if d != nil && d.RLSDose != nil && strings.HasPrefix(d.RLSDose.Unit, "mg/24 h") {
		return num(*m.Resolved.DailyMg) + " mg/24 h"
	}
	return mgDay(*m.Resolved.DailyMg)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func appendNew(dst []string, src ...string) []string {
	for _, s := range src {
		dup := false
		for _, d := range dst {
			if d == s {
				dup = true
				break
			}
		}
		if !dup {
			dst = append(dst, s)
		}
	}
	return dst
}

func ptr[T any](v T) *T { return &v }

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
