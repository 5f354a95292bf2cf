package engine

import (
	"fmt"
	"math"
	"slices"
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

	latest  [len(labTests)]*ekbom.Lab // newest result of each test, indexed like labTests
	current []*ekbom.Medication       // resolved current medications
	past    []*ekbom.Medication       // resolved past medications
	drugs   []*kb.Drug                // knowledge-base drug of each p.Medications entry (nil if unresolved)
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
	a2dTried       []a2dTrial // per drug id: failed | adequate | inadequate | intolerant | unknown | titrating | timing
	a2dFacts       []string
	a2dStarted     string // drug id recommended to start
	opioidBlocked  bool
	opioidDeclined bool
	recentChange   []string
	oud            bool

	plan          *ekbom.Plan
	recs          []recEntry             // every recommendation, in the order made
	recBuf        []ekbom.Recommendation // where recs point: filled, never grown in place
	conflictOrder []string
	cited         []bool // indexed like Engine.sources
	nCited        int
	citedBuf      [64]bool
	bufs          evalBufs
	err           error
}

// recEntry is a recommendation with the index of its step in ekbom.StepOrder.
type recEntry struct {
	step int
	rec  *ekbom.Recommendation
}

// a2dTrial is how a trial of one alpha-2-delta ligand went.
type a2dTrial struct{ drug, state string }

// labTests are the tests the engine reads; eval.latest is indexed like it.
var labTests = [...]ekbom.LabTest{ekbom.Ferritin, ekbom.TSAT, ekbom.Iron, ekbom.TIBC,
	ekbom.Hemoglobin, ekbom.Creatinine, ekbom.EGFR, ekbom.CRP, ekbom.Phosphate}

func labSlot(t ekbom.LabTest) int {
	for i, x := range labTests {
		if x == t {
			return i
		}
	}
	return -1
}

// lab returns the newest result of test t on or before as_of, or nil.
func (ev *eval) lab(t ekbom.LabTest) *ekbom.Lab {
	if i := labSlot(t); i >= 0 {
		return ev.latest[i]
	}
	return nil
}

// tried returns the state of the alpha-2-delta trial of drug id, or "".
func (ev *eval) tried(id string) string {
	for _, t := range ev.a2dTried {
		if t.drug == id {
			return t.state
		}
	}
	return ""
}

// setTried records the state of the alpha-2-delta trial of drug id.
func (ev *eval) setTried(id, state string) {
	for i := range ev.a2dTried {
		if ev.a2dTried[i].drug == id {
			ev.a2dTried[i].state = state
			return
		}
	}
	ev.a2dTried = append(ev.a2dTried, a2dTrial{id, state})
}

// planAlloc is a plan with the first backing arrays of its lists, so that
// newEval allocates them at once.
type planAlloc struct {
	plan          ekbom.Plan
	statusReasons [4]string
	findings      [8]ekbom.Finding
	steps         [len(stepTitles)]ekbom.Step
	warnings      [4]ekbom.Warning
	monitoring    [8]ekbom.Monitor
	missing       [4]string
	conflicts     [8]ekbom.ConflictNote
}

// evalBufs are the first backing arrays of an evaluation's own lists.
type evalBufs struct {
	recs          [24]recEntry
	conflictOrder [8]string
	meds          [8]*ekbom.Medication
	drugs         [8]*kb.Drug
}

func newEval(e *Engine, p *ekbom.Patient) *eval {
	pa := &planAlloc{}
	pa.plan = ekbom.Plan{
		PatientID:        p.ID,
		AsOf:             p.AsOf,
		EngineVersion:    ekbom.EngineVersion,
		KnowledgeVersion: e.kb.Meta.Version,
		Pathway:          "standard",
		StatusReasons:    pa.statusReasons[:0],
		Findings:         pa.findings[:0],
		Steps:            pa.steps[:0],
		Warnings:         pa.warnings[:0],
		Avoid:            make([]ekbom.Avoid, 0, len(e.avoid)),
		Monitoring:       pa.monitoring[:0],
		Missing:          pa.missing[:0],
		Conflicts:        pa.conflicts[:0],
	}
	ev := &eval{
		e: e, t: &e.t, p: p, asOf: p.AsOf, age: *p.Age,
		recBuf: make([]ekbom.Recommendation, 0, 24),
		plan:   &pa.plan,
	}
	ev.recs = ev.bufs.recs[:0]
	ev.conflictOrder = ev.bufs.conflictOrder[:0]
	if n := len(e.sources); n <= len(ev.citedBuf) {
		ev.cited = ev.citedBuf[:n]
	} else {
		ev.cited = make([]bool, n)
	}
	for i := range p.Labs {
		l := &p.Labs[i]
		if l.Date.After(p.AsOf) {
			continue
		}
		slot := labSlot(l.Test)
		if slot < 0 {
			continue // not a test the engine reads
		}
		if cur := ev.latest[slot]; cur == nil || l.Date.After(cur.Date) || (l.Date == cur.Date && cur.Derived && !l.Derived) {
			ev.latest[slot] = l
		}
	}
	// current and past share one backing array: current from the front,
	// past after all of it.
	nCurrent, nMeds := 0, len(p.Medications)
	for i := range p.Medications {
		if p.Medications[i].IsCurrent() {
			nCurrent++
		}
	}
	meds, drugs := ev.bufs.meds[:0], ev.bufs.drugs[:0]
	if nMeds > len(ev.bufs.meds) {
		meds, drugs = make([]*ekbom.Medication, 0, nMeds), make([]*kb.Drug, 0, nMeds)
	}
	ev.drugs = drugs[:nMeds]
	ev.current, ev.past = meds[:0:nCurrent], meds[nCurrent:nCurrent:nMeds]
	for i := range p.Medications {
		m := &p.Medications[i]
		if m.Resolved.Ingredient == "" {
			continue
		}
		ev.drugs[i], _ = e.kb.Drug(m.Resolved.Ingredient)
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
func (ev *eval) rec(id, target string, vars textVars, because []string) *ekbom.Recommendation {
	info, ok := ev.e.rules[id]
	if !ok || info.step < 0 {
		ev.fail(fmt.Errorf("engine: rule %q is not a recommendation in the knowledge base", id))
		return &ekbom.Recommendation{}
	}
	r := info.rule
	text := ev.render(info, &info.text, vars)
	class := info.class
	if target == "" {
		target = r.Target
	} else if target != r.Target {
		class = r.Class
		if d, ok := ev.e.kb.Drug(target); ok {
			class = d.Class
		}
	}
	strength, certainty, verified := info.strength, info.certainty, info.verified
	sources, cites := info.sources, info.cites
	if r.Evidence == kb.ByTarget {
		pop := 0
		if ev.dialysis {
			pop = 1
		}
		if g := info.byTarget[target]; g != nil && g[pop].ok {
			strength, certainty, verified = g[pop].strength, g[pop].certainty, g[pop].verified
			sources, cites = g[pop].sources, g[pop].cites
		} else {
			ev.fail(fmt.Errorf("engine: rule %q: no guideline evidence for %q", id, target))
		}
	}
	for _, i := range cites {
		ev.citeIndex(i)
	}
	for _, c := range r.Conflicts {
		ev.conflict(c)
	}
	patientText := ""
	if r.PatientText != "" {
		var err error
		if patientText, err = info.patientText.render(vars); err != nil {
			ev.fail(fmt.Errorf("engine: rule %q patient_text: %v", r.ID, err))
		}
	}
	if len(ev.recBuf) == cap(ev.recBuf) {
		// A new block: recommendations already made keep their address.
		ev.recBuf = make([]ekbom.Recommendation, 0, 16)
	}
	ev.recBuf = append(ev.recBuf, ekbom.Recommendation{
		Rule: r.ID, Action: ekbom.Action(r.Action), Target: target, Class: class,
		Text: text, PatientText: patientText, Strength: strength, Certainty: certainty, GradeVerified: verified,
		Sources: sources, Because: nonNil(because), Priority: r.Priority,
		Conflicts: r.Conflicts,
	})
	rec := &ev.recBuf[len(ev.recBuf)-1]
	ev.recs = append(ev.recs, recEntry{step: info.step, rec: rec})
	return rec
}

// has reports whether a recommendation of rule id was made.
func (ev *eval) has(id string) bool {
	for _, r := range ev.recs {
		if r.rec.Rule == id {
			return true
		}
	}
	return false
}

// render fills the rule text t of info (its text) from vars.
func (ev *eval) render(info *ruleInfo, t *tmpl, vars textVars) string {
	text, err := t.render(vars)
	if err != nil {
		ev.fail(fmt.Errorf("engine: rule %q: %v", info.rule.ID, err))
	}
	return text
}

func (ev *eval) finding(id string, vars textVars, because []string) {
	info, ok := ev.e.rules[id]
	if !ok || info.rule.Kind != "finding" {
		ev.fail(fmt.Errorf("engine: rule %q is not a finding", id))
		return
	}
	ev.plan.Findings = append(ev.plan.Findings, ekbom.Finding{Code: info.rule.Code, Text: ev.render(info, &info.text, vars), Because: nonNil(because)})
}

func (ev *eval) warn(id string, vars textVars, because []string) {
	info, ok := ev.e.rules[id]
	if !ok || info.rule.Kind != "warning" {
		ev.fail(fmt.Errorf("engine: rule %q is not a warning", id))
		return
	}
	r := info.rule
	text := ev.render(info, &info.text, vars)
	for _, w := range ev.plan.Warnings {
		if w.Code == r.Code && w.Text == text {
			return
		}
	}
	for _, i := range info.ownCites {
		ev.citeIndex(i)
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
	info, ok := ev.e.rules[id]
	if !ok || info.rule.Kind != "status" {
		ev.fail(fmt.Errorf("engine: rule %q is not a status reason", id))
		return
	}
	ev.plan.StatusReasons = append(ev.plan.StatusReasons, info.rule.Text)
}

func (ev *eval) monitor(id string, due ekbom.Date, extra string) {
	info, ok := ev.e.monitors[id]
	if !ok {
		ev.fail(fmt.Errorf("engine: unknown monitoring rule %q", id))
		return
	}
	m := info.m
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
	for _, i := range info.cites {
		ev.citeIndex(i)
	}
	ev.plan.Monitoring = append(ev.plan.Monitoring, ekbom.Monitor{What: m.What, Due: due, Text: text})
}

func (ev *eval) missing(s string) {
	if !slices.Contains(ev.plan.Missing, s) {
		ev.plan.Missing = append(ev.plan.Missing, s)
	}
}

// cite adds source id to the plan's sources.
func (ev *eval) cite(id string) {
	if i, ok := ev.e.sourceIndex[id]; ok {
		ev.citeIndex(i)
	}
}

func (ev *eval) citeIndex(i int) {
	if !ev.cited[i] {
		ev.cited[i] = true
		ev.nCited++
	}
}

func (ev *eval) conflict(id string) {
	if !slices.Contains(ev.conflictOrder, id) {
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
	for i := range ev.p.Medications {
		if &ev.p.Medications[i] == m {
			return ev.drugs[i]
		}
	}
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

// Formatting helpers. They write exactly what fmt and strconv would, without
// their overhead: the engine formats dozens of numbers and dates per plan.

// num writes v rounded to 3 decimals in the shortest form: 600, 0.375, 1.5.
func num(v float64) string {
	r := math.Round(v * 1000)
	if r == 0 || math.Abs(r) >= 1e15 || math.IsNaN(r) {
		// Zero (keeping a negative zero's sign), huge or not a number.
		return strconv.FormatFloat(r/1000, 'f', -1, 64)
	}
	// r/1000 has at most 15 significant digits, so its shortest round-trip
	// form is the decimal r/1000 itself: the digits of r with the point
	// moved three places and trailing zeros dropped.
	return scaledDecimal(int64(r), 3)
}

// scaledDecimal writes n / 10^places as a decimal without trailing zeros.
func scaledDecimal(n int64, places int) string {
	var buf [32]byte
	neg := n < 0
	if neg {
		n = -n
	}
	i := len(buf)
	frac := false
	for p := 0; p < places; p++ {
		d := byte(n % 10)
		n /= 10
		if d != 0 || frac {
			frac = true
			i--
			buf[i] = '0' + d
		}
	}
	if frac {
		i--
		buf[i] = '.'
	}
	for {
		i--
		buf[i] = '0' + byte(n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// dateText is d.String() (YYYY-MM-DD) without time.Format.
func dateText(d ekbom.Date) string {
	if d.IsZero() {
		return ""
	}
	y, m, day := d.Time().Date()
	if y < 0 || y > 9999 {
		return d.String()
	}
	b := [10]byte{
		byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + int(m)/10), byte('0' + int(m)%10), '-',
		byte('0' + day/10), byte('0' + day%10),
	}
	return string(b[:])
}

func mg(v float64) string { return num(v) + " mg" }

func mgDay(v float64) string { return num(v) + " mg/day" }

func labText(l *ekbom.Lab) string {
	s := string(l.Test) + " " + num(l.Value) + " " + l.Unit + " (" + dateText(l.Date) + ")"
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
