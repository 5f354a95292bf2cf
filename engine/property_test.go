package engine_test

// Property tests: safety and structural invariants of engine.Evaluate over
// thousands of generated, valid adult patients (gen_test.go). Every patient
// goes through intake.Read exactly like real input.
//
// A failure names the seed and index of the patient, prints its record as
// JSON and a shrunk (minimal) record that still fails. Reproduce one patient
// with
//
//	go test ./engine -run 'TestProperty' -prop.seed=SEED -prop.index=INDEX -v

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"ekbom"
	"ekbom/engine"
	"ekbom/intake"
	"ekbom/kb"
)

var (
	propSeed  = flag.Uint64("prop.seed", 20261121, "seed of the generated patients")
	propN     = flag.Int("prop.n", 0, "number of generated patients (default 10000; 1000 with -short)")
	propIndex = flag.Int("prop.index", -1, "check only the generated patient with this index")
)

// propRange returns the first index and the number of patients to generate.
func propRange() (start, n int) {
	switch {
	case *propIndex >= 0:
		return *propIndex, 1
	case *propN > 0:
		return 0, *propN
	case testing.Short():
		return 0, 1000
	}
	return 0, 10000
}

// ---- one evaluated patient

type propRec struct {
	step string
	ekbom.Recommendation
}

type propCase struct {
	gc      genCase
	b       *kb.Base
	p       *ekbom.Patient
	plan    *ekbom.Plan
	json1   []byte
	json2   []byte
	evalErr error
	jsonErr error
	recs    []propRec
}

// runCase reads and evaluates one generated record. The error is intake's.
func runCase(e *engine.Engine, gc genCase) (*propCase, error) {
	p, err := intake.Read(gc.Document(), gc.Format, e.KB(), intake.Options{Today: genToday})
	if err != nil {
		return nil, err
	}
	c := &propCase{gc: gc, b: e.KB(), p: p}
	c.plan, c.evalErr = e.Evaluate(p)
	if c.evalErr != nil {
		return c, nil
	}
	c.json1, c.jsonErr = json.Marshal(c.plan)
	if plan2, err := e.Evaluate(p); err != nil {
		c.evalErr = fmt.Errorf("second evaluation: %w", err)
	} else {
		c.json2, _ = json.Marshal(plan2)
	}
	for _, s := range c.plan.Steps {
		for _, r := range s.Recommendations {
			c.recs = append(c.recs, propRec{step: s.ID, Recommendation: r})
		}
	}
	return c, nil
}

// ---- helpers over a case

var recommendedActions = map[ekbom.Action]bool{
	ekbom.ActStart: true, ekbom.ActConsider: true, ekbom.ActOptimize: true,
	ekbom.ActContinue: true, ekbom.ActIncrease: true,
}

func (c *propCase) drug(id string) (*kb.Drug, bool) { return c.b.Drug(id) }

// isClass reports whether the recommendation is about class cls: its class,
// a class target, or a drug target of that class.
func (c *propCase) isClass(r propRec, cls string) bool {
	if r.Class == cls || r.Target == cls {
		return true
	}
	d, ok := c.drug(r.Target)
	return ok && d.Class == cls
}

func (c *propCase) isDopaminergic(r propRec) bool {
	if d, ok := c.drug(r.Target); ok && d.Dopaminergic {
		return true
	}
	return c.isClass(r, "dopamine_agonist") || c.isClass(r, "dopamine_precursor")
}

func (c *propCase) currentMeds() []*ekbom.Medication {
	var out []*ekbom.Medication
	for i := range c.p.Medications {
		m := &c.p.Medications[i]
		if m.IsCurrent() && m.Resolved.Ingredient != "" {
			out = append(out, m)
		}
	}
	return out
}

func (c *propCase) currentClass(cls string) bool {
	for _, m := range c.currentMeds() {
		if d, ok := c.drug(m.Resolved.Ingredient); ok && d.Class == cls {
			return true
		}
	}
	return false
}

func (c *propCase) recommendedClass(cls string) bool {
	for _, r := range c.recs {
		if recommendedActions[r.Action] && c.isClass(r, cls) {
			return true
		}
	}
	return false
}

// currentDaily is the total current daily dose of a drug; known is false when
// some current entry has no daily dose.
func (c *propCase) currentDaily(id string) (total float64, known, taking bool) {
	known = true
	for _, m := range c.currentMeds() {
		if m.Resolved.Ingredient != id {
			continue
		}
		taking = true
		if m.Resolved.DailyMg == nil {
			known = false
			continue
		}
		total += *m.Resolved.DailyMg
	}
	return total, known, taking
}

func (c *propCase) hasRule(id string) bool {
	for _, r := range c.recs {
		if r.Rule == id {
			return true
		}
	}
	return false
}

func (c *propCase) hasWarning(code string) bool {
	for _, w := range c.plan.Warnings {
		if w.Code == code {
			return true
		}
	}
	return false
}

// latest returns the latest lab of test by date (not after as_of); on the
// same date a measured value wins over a derived one.
func (c *propCase) latest(test ekbom.LabTest) *ekbom.Lab {
	var best *ekbom.Lab
	for i := range c.p.Labs {
		l := &c.p.Labs[i]
		if l.Test != test || l.Date.After(c.p.AsOf) {
			continue
		}
		if best == nil || l.Date.After(best.Date) || (l.Date == best.Date && best.Derived && !l.Derived) {
			best = l
		}
	}
	return best
}

// doseNumbers lists every daily amount a recommendation carries.
func doseNumbers(r propRec) []struct {
	what string
	v    float64
} {
	var out []struct {
		what string
		v    float64
	}
	add := func(what string, v *float64) {
		if v != nil {
			out = append(out, struct {
				what string
				v    float64
			}{what, *v})
		}
	}
	if r.Dose != nil {
		add("dose.amount_mg", r.Dose.AmountMg)
		add("dose.daily_mg", r.Dose.DailyMg)
		add("dose.max_daily_mg", r.Dose.MaxDailyMg)
	}
	for _, s := range r.Schedule {
		add("schedule "+s.Date.String()+" daily_mg", genPtr(s.DailyMg))
	}
	return out
}

func recLabel(r propRec) string {
	return fmt.Sprintf("%s %s %s (rule %s, class %q, step %s)", r.Action, r.Target, doseLabel(r), r.Rule, r.Class, r.step)
}

func doseLabel(r propRec) string {
	if r.Dose == nil {
		return ""
	}
	return "[" + r.Dose.Text + "]"
}

// ---- the properties

type propCheck struct {
	name    string
	applies func(*propCase) bool // the patients the property says something about
	check   func(*propCase) []string
}

var propChecks = []propCheck{
	{"1_no_dopaminergic_increase", appliesDopaminergic, checkDopaminergic},
	{"2_no_iron_in_overload", func(c *propCase) bool { return len(c.overloadReasons()) > 0 }, checkIronOverload},
	{"3_opioid_safety_bundle", func(c *propCase) bool { return len(c.opioidStarts()) > 0 }, checkOpioidBundle},
	{"4_alpha2delta_renal_limit", appliesA2DRenal, checkA2DRenal},
	{"5_no_start_of_avoided_drug", always, checkAvoid},
	{"6_structure", always, checkStructure},
	{"7_deterministic", always, checkDeterministic},
	{"8_pregnancy_pathway", func(c *propCase) bool {
		return c.p.Pregnancy == ekbom.Pregnant || c.p.Pregnancy == ekbom.Lactating
	}, checkPregnancy},
}

func always(*propCase) bool { return true }

func appliesDopaminergic(c *propCase) bool {
	for _, m := range c.currentMeds() {
		if d, ok := c.drug(m.Resolved.Ingredient); ok && d.Dopaminergic {
			return true
		}
	}
	for _, r := range c.recs {
		if c.isDopaminergic(r) {
			return true
		}
	}
	return false
}

func appliesA2DRenal(c *propCase) bool {
	for _, r := range c.recs {
		if slices.Contains(a2dIDs, r.Target) && len(doseNumbers(r)) > 0 {
			return true
		}
	}
	return false
}

var namedDopaminergic = []string{"pramipexole", "ropinirole", "rotigotine", "cabergoline", "levodopa"}

// 1. Never increase (or start/consider, or optimize upwards) a dopamine
// agonist or levodopa.
func checkDopaminergic(c *propCase) []string {
	if c.plan == nil {
		return nil
	}
	var out []string
	for _, r := range c.recs {
		dopa := c.isDopaminergic(r) || slices.Contains(namedDopaminergic, r.Target)
		if !dopa {
			continue
		}
		switch r.Action {
		case ekbom.ActIncrease, ekbom.ActStart, ekbom.ActConsider:
			out = append(out, "dopaminergic "+recLabel(r))
		case ekbom.ActOptimize:
			cur, known, taking := c.currentDaily(r.Target)
			for _, n := range doseNumbers(r) {
				switch {
				case !taking || !known:
					out = append(out, fmt.Sprintf("optimize of dopaminergic %s carries %s %v but the current daily dose is unknown: %s", r.Target, n.what, n.v, recLabel(r)))
				case n.v > cur+1e-9:
					out = append(out, fmt.Sprintf("optimize of dopaminergic %s raises %s to %v above the current %v mg/day: %s", r.Target, n.what, n.v, cur, recLabel(r)))
				}
			}
		}
	}
	return out
}

// overloadReasons are the patient's iron-overload facts, worked out here
// independently of the engine.
func (c *propCase) overloadReasons() []string {
	var why []string
	if c.p.Has(ekbom.Hemochromatosis) {
		why = append(why, "hemochromatosis")
	}
	if f := c.latest(ekbom.Ferritin); f != nil && f.Value > 300 {
		why = append(why, fmt.Sprintf("latest ferritin %v ng/mL (%s) > 300", f.Value, f.Date))
	}
	if t := c.latest(ekbom.TSAT); t != nil && t.Value > 45 {
		why = append(why, fmt.Sprintf("latest TSAT %v %% (%s, derived %v) > 45", t.Value, t.Date, t.Derived))
	}
	return why
}

// 2. No iron with iron overload, and the iron_overload warning.
func checkIronOverload(c *propCase) []string {
	if c.plan == nil {
		return nil
	}
	why := c.overloadReasons()
	if len(why) == 0 {
		return nil
	}
	var out []string
	for _, r := range c.recs {
		iron := c.isClass(r, "oral_iron") || c.isClass(r, "iv_iron") || (r.Target == "vitamin_c" && r.step == ekbom.StepIron)
		if iron && recommendedActions[r.Action] {
			out = append(out, fmt.Sprintf("iron despite %s: %s", strings.Join(why, "; "), recLabel(r)))
		}
	}
	if !c.hasWarning(ekbom.WarnIronOverload) {
		out = append(out, fmt.Sprintf("no iron_overload warning despite %s", strings.Join(why, "; ")))
	}
	return out
}

func (c *propCase) opioidStarts() []string {
	var starts []string
	for _, r := range c.recs {
		if (r.Action == ekbom.ActStart || r.Action == ekbom.ActConsider) && c.isClass(r, "opioid") {
			starts = append(starts, recLabel(r))
		}
	}
	return starts
}

// 3. Every opioid start/consider comes with the screening bundle and the
// respiratory-depression warning when it applies; every opioid start also
// comes with naloxone (a deferred "consider" waits for the prescription).
func checkOpioidBundle(c *propCase) []string {
	if c.plan == nil {
		return nil
	}
	starts := c.opioidStarts()
	if len(starts) == 0 {
		return nil
	}
	what := strings.Join(starts, "; ")
	var out []string
	if !c.hasRule("opioids.screening") {
		out = append(out, "opioid start/consider without opioids.screening: "+what)
	}
	if c.opioidStarted() && !c.hasRule("opioids.naloxone") {
		out = append(out, "opioid start without naloxone (opioids.naloxone): "+what)
	}
	var risk []string
	if c.currentClass("alpha2delta_ligand") {
		risk = append(risk, "current alpha-2-delta ligand")
	}
	if c.recommendedClass("alpha2delta_ligand") {
		risk = append(risk, "recommended alpha-2-delta ligand")
	}
	if c.currentClass("benzodiazepine") {
		risk = append(risk, "current benzodiazepine")
	}
	if c.recommendedClass("benzodiazepine") {
		risk = append(risk, "recommended benzodiazepine")
	}
	if c.p.Has(ekbom.SleepApnea) {
		risk = append(risk, "untreated sleep apnea")
	}
	if c.p.Has(ekbom.COPD) {
		risk = append(risk, "COPD")
	}
	if len(risk) > 0 && !c.hasWarning(ekbom.WarnRespiratoryDepression) {
		out = append(out, fmt.Sprintf("no respiratory_depression warning with %s and %s", what, strings.Join(risk, ", ")))
	}
	return out
}

// opioidStarted reports a recommendation that starts an opioid.
func (c *propCase) opioidStarted() bool {
	for _, s := range c.plan.Steps {
		for _, r := range s.Recommendations {
			if r.Action == ekbom.ActStart && (r.Class == "opioid" || r.Target == "opioid") {
				return true
			}
		}
	}
	return false
}

// renalLimit works out the daily ceiling of an alpha-2-delta ligand for this
// patient from the kb renal bands, independently of the engine.
func (c *propCase) renalLimit(d *kb.Drug) (float64, string) {
	limit := math.Inf(1)
	why := "no RLS maximum"
	if d.RLSDose != nil && d.RLSDose.MaxMg > 0 {
		limit, why = d.RLSDose.MaxMg, fmt.Sprintf("RLS maximum %v mg/day", d.RLSDose.MaxMg)
	}
	lowest := func() (*kb.RenalBand, string) {
		var low *kb.RenalBand
		for i := range d.RenalBands {
			b := &d.RenalBands[i]
			if !b.Dialysis && (low == nil || b.MaxDailyMg < low.MaxDailyMg) {
				low = b
			}
		}
		return low, "lowest non-dialysis band"
	}
	byCrCl := func(crcl float64) *kb.RenalBand {
		var best *kb.RenalBand
		for i := range d.RenalBands {
			b := &d.RenalBands[i]
			if b.Dialysis || crcl < b.MinCrCl || (b.MaxCrCl != 0 && crcl >= b.MaxCrCl) {
				continue
			}
			if best == nil || b.MaxDailyMg < best.MaxDailyMg {
				best = b
			}
		}
		return best
	}
	if len(d.RenalBands) == 0 {
		return limit, why
	}
	var band *kb.RenalBand
	var bandWhy string
	cr, eg := c.latest(ekbom.Creatinine), c.latest(ekbom.EGFR)
	switch {
	case c.p.Has(ekbom.ESRD):
		for i := range d.RenalBands {
			if d.RenalBands[i].Dialysis {
				band, bandWhy = &d.RenalBands[i], "dialysis band (esrd)"
			}
		}
		if band == nil {
			band, bandWhy = lowest()
			bandWhy = "esrd, no dialysis band: " + bandWhy
		}
	case cr != nil && c.p.WeightKg != nil:
		crcl := float64(140-*c.p.Age) * *c.p.WeightKg / (72 * cr.Value)
		if c.p.Sex == ekbom.Female {
			crcl *= 0.85
		}
		band, bandWhy = byCrCl(crcl), fmt.Sprintf("Cockcroft–Gault CrCl %.1f mL/min", crcl)
	case eg != nil:
		band, bandWhy = byCrCl(eg.Value), fmt.Sprintf("eGFR %v", eg.Value)
	}
	if band == nil {
		band, bandWhy = lowest()
		if bandWhy == "" {
			bandWhy = "kidney function unknown"
		} else {
			bandWhy = "kidney function unknown: " + bandWhy
		}
	}
	if band != nil && band.MaxDailyMg < limit {
		limit, why = band.MaxDailyMg, fmt.Sprintf("%s → renal band max %v mg/day", bandWhy, band.MaxDailyMg)
	}
	return limit, why
}

var a2dIDs = []string{"gabapentin", "pregabalin", "gabapentin_enacarbil"}

// 4. No alpha-2-delta dose above the renal limit or the RLS maximum.
func checkA2DRenal(c *propCase) []string {
	if c.plan == nil {
		return nil
	}
	var out []string
	for _, r := range c.recs {
		if !slices.Contains(a2dIDs, r.Target) {
			continue
		}
		d, _ := c.drug(r.Target)
		limit, why := c.renalLimit(d)
		for _, n := range doseNumbers(r) {
			if n.v > limit+1e-9 {
				out = append(out, fmt.Sprintf("%s %s = %v mg/day > limit %v (%s): %s", r.Target, n.what, n.v, limit, why, recLabel(r)))
			}
		}
	}
	return out
}

// 5. Nothing from the avoid list is started.
func checkAvoid(c *propCase) []string {
	if c.plan == nil {
		return nil
	}
	avoid := map[string]bool{}
	for _, d := range c.b.DrugList {
		if d.Avoid != nil {
			avoid[d.ID] = true
		}
	}
	for _, a := range c.plan.Avoid {
		avoid[a.Target] = true
	}
	var out []string
	for _, r := range c.recs {
		if r.Action == ekbom.ActStart && avoid[r.Target] {
			out = append(out, "start of avoid-list drug: "+recLabel(r))
		}
	}
	return out
}

var (
	propStrengths   = []string{"strong", "conditional", "good_practice", "expert_opinion", "label", "regulatory", "not_graded"}
	propCertainties = []string{"high", "moderate", "low", "very_low", "not_graded"}
	propPlaceholder = regexp.MustCompile(`\{[a-z_]+\}`)
)

// 6. Structural invariants of the plan.
func checkStructure(c *propCase) []string {
	if c.evalErr != nil {
		return []string{"Evaluate failed: " + c.evalErr.Error()}
	}
	plan := c.plan
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if c.jsonErr != nil {
		bad("plan does not marshal to JSON: %v", c.jsonErr)
	}
	if plan.AsOf != c.p.AsOf {
		bad("plan as_of %s != patient as_of %s", plan.AsOf, c.p.AsOf)
	}
	prev := -1
	for _, s := range plan.Steps {
		i := slices.Index(ekbom.StepOrder, s.ID)
		switch {
		case i < 0:
			bad("unknown step %q", s.ID)
		case i <= prev:
			bad("step %q out of contract order or duplicated (steps %v)", s.ID, stepIDs(plan))
		}
		if i > prev {
			prev = i
		}
	}
	for _, r := range c.recs {
		where := fmt.Sprintf("rule %s (%s %s)", r.Rule, r.Action, r.Target)
		if rule, ok := c.b.Rule(r.Rule); !ok || rule.Kind != "recommendation" {
			bad("%s: not a recommendation rule of the kb", where)
		} else if rule.Step != r.step {
			bad("%s: in step %s but the rule belongs to step %s", where, r.step, rule.Step)
		}
		if strings.TrimSpace(r.Text) == "" {
			bad("%s: empty text", where)
		}
		if m := propPlaceholder.FindString(r.Text); m != "" {
			bad("%s: unfilled placeholder %s in text", where, m)
		}
		if r.Dose != nil && propPlaceholder.MatchString(r.Dose.Text) {
			bad("%s: unfilled placeholder in dose text", where)
		}
		if !slices.Contains(ekbom.Actions, r.Action) {
			bad("%s: action %q not in the vocabulary", where, r.Action)
		}
		if strings.TrimSpace(r.Target) == "" {
			bad("%s: empty target", where)
		}
		if !slices.Contains(propStrengths, r.Strength) {
			bad("%s: strength %q not in the kb vocabulary", where, r.Strength)
		}
		if !slices.Contains(propCertainties, r.Certainty) {
			bad("%s: certainty %q not in the kb vocabulary", where, r.Certainty)
		}
		if len(r.Sources) == 0 {
			bad("%s: no source", where)
		}
		for _, s := range r.Sources {
			if _, ok := plan.Sources[s]; !ok {
				bad("%s: cites %q, which is missing from plan.sources", where, s)
			}
		}
	}
	for _, w := range plan.Warnings {
		if !slices.Contains(ekbom.WarningCodes, w.Code) {
			bad("warning code %q not in ekbom.WarningCodes", w.Code)
		}
		if !slices.Contains([]string{"high", "moderate", "info"}, w.Severity) {
			bad("warning %s: severity %q", w.Code, w.Severity)
		}
		if strings.TrimSpace(w.Text) == "" || propPlaceholder.MatchString(w.Text) {
			bad("warning %s: empty text or unfilled placeholder: %q", w.Code, w.Text)
		}
		for _, s := range w.Sources {
			if _, ok := plan.Sources[s]; !ok {
				bad("warning %s cites %q, missing from plan.sources", w.Code, s)
			}
		}
	}
	for _, f := range plan.Findings {
		if strings.TrimSpace(f.Text) == "" || propPlaceholder.MatchString(f.Text) {
			bad("finding %s: empty text or unfilled placeholder: %q", f.Code, f.Text)
		}
	}
	for _, a := range plan.Avoid {
		if len(a.Sources) == 0 {
			bad("avoid %s: no source", a.Target)
		}
		for _, s := range a.Sources {
			if _, ok := plan.Sources[s]; !ok {
				bad("avoid %s cites %q, missing from plan.sources", a.Target, s)
			}
		}
		if !slices.Contains(propStrengths, a.Strength) || !slices.Contains(propCertainties, a.Certainty) {
			bad("avoid %s: grade %q/%q not in the kb vocabulary", a.Target, a.Strength, a.Certainty)
		}
	}
	for _, m := range plan.Monitoring {
		if m.Due.Before(plan.AsOf) {
			bad("monitoring %s due %s before as_of %s", m.What, m.Due, plan.AsOf)
		}
	}
	return out
}

func stepIDs(plan *ekbom.Plan) []string {
	var ids []string
	for _, s := range plan.Steps {
		ids = append(ids, s.ID)
	}
	return ids
}

// 7. Evaluating the same patient twice gives the same JSON.
func checkDeterministic(c *propCase) []string {
	if c.plan == nil || c.json2 == nil {
		return nil
	}
	if !bytes.Equal(c.json1, c.json2) {
		return []string{"two evaluations differ: " + firstDiff(c.json1, c.json2)}
	}
	return nil
}

func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-80)
	return fmt.Sprintf("at byte %d: …%s… vs …%s…", i, a[lo:min(len(a), i+80)], b[lo:min(len(b), i+80)])
}

// 8. The pregnancy pathway: the warning, and no start of an opioid,
// alpha-2-delta ligand, dipyridamole or dopaminergic drug. The pathway's own
// considers (lactation gabapentin; oxycodone and clonazepam in severe RLS in
// pregnancy) are allowed.
func checkPregnancy(c *propCase) []string {
	if c.plan == nil {
		return nil
	}
	preg := c.p.Pregnancy
	if preg != ekbom.Pregnant && preg != ekbom.Lactating {
		return nil
	}
	var out []string
	if !c.hasWarning(ekbom.WarnPregnancy) {
		out = append(out, "no pregnancy warning for "+string(preg))
	}
	if c.plan.Pathway != "pregnancy" {
		out = append(out, "pathway "+c.plan.Pathway+" for "+string(preg))
	}
	for _, r := range c.recs {
		var kind string
		switch {
		case c.isClass(r, "opioid"):
			kind = "opioid"
		case c.isClass(r, "alpha2delta_ligand"):
			kind = "alpha-2-delta ligand"
		case r.Target == "dipyridamole":
			kind = "dipyridamole"
		case c.isDopaminergic(r):
			kind = "dopaminergic drug"
		default:
			continue
		}
		switch r.Action {
		case ekbom.ActStart, ekbom.ActIncrease, ekbom.ActOptimize:
			out = append(out, fmt.Sprintf("%s: %s of %s: %s", preg, r.Action, kind, recLabel(r)))
		case ekbom.ActConsider:
			allowed := (r.Rule == "special.lactation_gabapentin" && preg == ekbom.Lactating) ||
				(r.Rule == "special.pregnancy_oxycodone" && preg == ekbom.Pregnant)
			if !allowed {
				out = append(out, fmt.Sprintf("%s: consider of %s outside the pregnancy pathway: %s", preg, kind, recLabel(r)))
			}
		}
	}
	return out
}

// ---- which kb rules a plan shows

type ruleTmpl struct {
	id       string
	severity string
	re       *regexp.Regexp
}

type ruleMatcher struct {
	findings map[string][]ruleTmpl // code → templates
	warnings map[string][]ruleTmpl
	status   map[string][]string // text → ids
	all      []string            // ids of kind recommendation, warning, finding, status
}

func newRuleMatcher(b *kb.Base) *ruleMatcher {
	m := &ruleMatcher{findings: map[string][]ruleTmpl{}, warnings: map[string][]ruleTmpl{}, status: map[string][]string{}}
	for _, r := range b.RuleList {
		switch r.Kind {
		case "recommendation", "warning", "finding", "status":
			m.all = append(m.all, r.ID)
		default:
			continue
		}
		text := strings.TrimSpace(r.Text)
		parts := propPlaceholder.Split(text, -1)
		for i := range parts {
			parts[i] = regexp.QuoteMeta(parts[i])
		}
		t := ruleTmpl{id: r.ID, severity: r.Severity, re: regexp.MustCompile(`^(?s:` + strings.Join(parts, `.*`) + `)$`)}
		switch r.Kind {
		case "finding":
			m.findings[r.Code] = append(m.findings[r.Code], t)
		case "warning":
			m.warnings[r.Code] = append(m.warnings[r.Code], t)
		case "status":
			m.status[text] = append(m.status[text], r.ID)
		}
	}
	sort.Strings(m.all)
	return m
}

// reached returns the rule ids the plan shows.
func (m *ruleMatcher) reached(plan *ekbom.Plan) []string {
	seen := map[string]bool{}
	for _, s := range plan.Steps {
		for _, r := range s.Recommendations {
			seen[r.Rule] = true
		}
	}
	for _, f := range plan.Findings {
		for _, t := range m.findings[f.Code] {
			if t.re.MatchString(f.Text) {
				seen[t.id] = true
			}
		}
	}
	for _, w := range plan.Warnings {
		for _, t := range m.warnings[w.Code] {
			if t.severity == w.Severity && t.re.MatchString(w.Text) {
				seen[t.id] = true
			}
		}
	}
	for _, s := range plan.StatusReasons {
		for _, id := range m.status[strings.TrimSpace(s)] {
			seen[id] = true
		}
	}
	out := make([]string, 0, len(seen))
	for id := range seen {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// ---- the corpus: every generated patient evaluated and checked once

type propFailure struct {
	gc   genCase
	msgs []string
}

type propResult struct {
	checked  int
	applied  int
	count    int
	failures []propFailure  // the first few
	kinds    map[string]int // violation signature → patients
}

type propCorpus struct {
	seed        uint64
	start, n    int
	e           *engine.Engine
	matcher     *ruleMatcher
	rejected    []string
	nRejected   int
	results     map[string]*propResult
	ruleHits    map[string]int
	warnHits    map[string]int
	drugSeen    map[string]int
	condSeen    map[string]int
	archSeen    map[string]int
	formatSeen  map[string]int
	unknownMeds int
	pregnant    int
	elapsed     time.Duration
}

type caseOut struct {
	gc       genCase
	rejected error
	fails    map[string][]string
	applies  map[string]bool
	rules    []string
	warns    []string
	drugs    []string
	conds    []string
	unknown  int
	pregnant bool
}

var (
	corpusOnce sync.Once
	corpus     *propCorpus
	corpusErr  error
)

const propKeepFailures = 5

func loadCorpus(t *testing.T) *propCorpus {
	t.Helper()
	corpusOnce.Do(func() { corpus, corpusErr = buildCorpus() })
	if corpusErr != nil {
		t.Fatal(corpusErr)
	}
	return corpus
}

func buildCorpus() (*propCorpus, error) {
	began := time.Now()
	b, err := kb.Default()
	if err != nil {
		return nil, err
	}
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		return nil, err
	}
	start, n := propRange()
	c := &propCorpus{seed: *propSeed, start: start, n: n, e: e, matcher: newRuleMatcher(b),
		results: map[string]*propResult{}, ruleHits: map[string]int{}, warnHits: map[string]int{},
		drugSeen: map[string]int{}, condSeen: map[string]int{}, archSeen: map[string]int{}, formatSeen: map[string]int{}}
	for _, pc := range propChecks {
		c.results[pc.name] = &propResult{kinds: map[string]int{}}
	}
	g := newGenerator(b, c.seed)
	outs := make([]caseOut, n)
	workers := max(1, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := w; k < n; k += workers {
				outs[k] = c.evaluate(g.patient(start + k))
			}
		}(w)
	}
	wg.Wait()
	for _, o := range outs {
		c.archSeen[o.gc.Archetype]++
		c.formatSeen[o.gc.Format]++
		if o.rejected != nil {
			c.nRejected++
			if len(c.rejected) < 10 {
				c.rejected = append(c.rejected, fmt.Sprintf("index %d (%s): %v\n%s", o.gc.Index, o.gc.Archetype, o.rejected, o.gc.JSON()))
			}
			continue
		}
		for _, pc := range propChecks {
			r := c.results[pc.name]
			r.checked++
			if o.applies[pc.name] {
				r.applied++
			}
			if msgs := o.fails[pc.name]; len(msgs) > 0 {
				r.count++
				seen := map[string]bool{}
				for _, m := range msgs {
					if sig := violationKind(m); !seen[sig] {
						seen[sig] = true
						r.kinds[sig]++
					}
				}
				if len(r.failures) < propKeepFailures {
					r.failures = append(r.failures, propFailure{gc: o.gc, msgs: msgs})
				}
			}
		}
		for _, id := range o.rules {
			c.ruleHits[id]++
		}
		for _, w := range o.warns {
			c.warnHits[w]++
		}
		for _, d := range o.drugs {
			c.drugSeen[d]++
		}
		for _, x := range o.conds {
			c.condSeen[x]++
		}
		c.unknownMeds += o.unknown
		if o.pregnant {
			c.pregnant++
		}
	}
	c.elapsed = time.Since(began)
	return c, nil
}

func (c *propCorpus) evaluate(gc genCase) caseOut {
	o := caseOut{gc: gc}
	pc, err := runCase(c.e, gc)
	if err != nil {
		o.rejected = err
		return o
	}
	o.fails = map[string][]string{}
	o.applies = map[string]bool{}
	for _, chk := range propChecks {
		if pc.plan != nil && chk.applies(pc) {
			o.applies[chk.name] = true
		}
		if msgs := chk.check(pc); len(msgs) > 0 {
			o.fails[chk.name] = msgs
		}
	}
	if pc.plan != nil {
		o.rules = c.matcher.reached(pc.plan)
		seen := map[string]bool{}
		for _, w := range pc.plan.Warnings {
			if !seen[w.Code] {
				seen[w.Code] = true
				o.warns = append(o.warns, w.Code)
			}
		}
	}
	seen := map[string]bool{}
	for _, m := range pc.p.Medications {
		if m.Resolved.Ingredient == "" {
			o.unknown++
		} else if !seen[m.Resolved.Ingredient] {
			seen[m.Resolved.Ingredient] = true
			o.drugs = append(o.drugs, m.Resolved.Ingredient)
		}
	}
	for _, x := range pc.p.Conditions {
		o.conds = append(o.conds, string(x))
	}
	o.pregnant = pc.p.Pregnancy == ekbom.Pregnant || pc.p.Pregnancy == ekbom.Lactating
	return o
}

var (
	kindDigits = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)
	kindDose   = regexp.MustCompile(`\[[^\]]*\]`)
)

// violationKind reduces a violation message to its kind: numbers and dose
// texts are blanked so that patients with the same problem count together.
func violationKind(m string) string {
	m = kindDose.ReplaceAllString(m, "[…]")
	m = kindDigits.ReplaceAllString(m, "#")
	if len(m) > 240 {
		m = m[:240] + "…"
	}
	return m
}

// ---- shrinking a failing record

// shrink removes fields and list elements from the record while it stays
// valid and still violates check; the result is a small reproducer.
func shrink(e *engine.Engine, gc genCase, check func(*propCase) []string) (genCase, []string) {
	fails := func(x genCase) []string {
		pc, err := runCase(e, x)
		if err != nil {
			return nil
		}
		return check(pc)
	}
	cur := gc.clone()
	msgs := fails(cur)
	budget := 2500
	for changed := true; changed && budget > 0; {
		changed = false
		tree := toTree(cur.In)
		var paths [][]any
		treePaths(tree, nil, &paths)
		for _, path := range paths {
			if budget--; budget <= 0 {
				break
			}
			cand := cur
			cand.In = fromTree(deleteAt(toTree(cur.In), path))
			if cand.In == nil {
				continue
			}
			if m := fails(cand); len(m) > 0 {
				cur, msgs, changed = cand, m, true
				break
			}
		}
	}
	return cur, msgs
}

func toTree(p *genPatient) any {
	b, _ := json.Marshal(p)
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

func fromTree(v any) *genPatient {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var p genPatient
	if err := json.Unmarshal(b, &p); err != nil {
		return nil
	}
	return &p
}

// treePaths lists every map key and list element, parents first.
func treePaths(v any, prefix []any, out *[][]any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := append(slices.Clone(prefix), k)
			*out = append(*out, p)
			treePaths(x[k], p, out)
		}
	case []any:
		for i := range x {
			p := append(slices.Clone(prefix), i)
			*out = append(*out, p)
			treePaths(x[i], p, out)
		}
	}
}

// deleteAt removes the element at path from tree (which it modifies).
func deleteAt(tree any, path []any) any {
	if len(path) == 0 {
		return tree
	}
	parent := tree
	for _, step := range path[:len(path)-1] {
		switch s := step.(type) {
		case string:
			parent = parent.(map[string]any)[s]
		case int:
			parent = parent.([]any)[s]
		}
	}
	last := path[len(path)-1]
	switch s := last.(type) {
	case string:
		delete(parent.(map[string]any), s)
	case int:
		// Lists are replaced in their parent, so rebuild through the path.
		list := parent.([]any)
		newList := append(slices.Clone(list[:s]), list[s+1:]...)
		return setAt(tree, path[:len(path)-1], newList)
	}
	return tree
}

func setAt(tree any, path []any, v any) any {
	if len(path) == 0 {
		return v
	}
	switch s := path[0].(type) {
	case string:
		m := tree.(map[string]any)
		m[s] = setAt(m[s], path[1:], v)
		return m
	case int:
		l := tree.([]any)
		l[s] = setAt(l[s], path[1:], v)
		return l
	}
	return tree
}

// ---- tests

func TestProperty(t *testing.T) {
	c := loadCorpus(t)
	t.Logf("seed %d: %d patients (indices %d–%d) generated, %d rejected by intake, evaluated and checked in %v",
		c.seed, c.n, c.start, c.start+c.n-1, c.nRejected, c.elapsed.Round(time.Millisecond))

	t.Run("0_intake_accepts_generated", func(t *testing.T) {
		for _, r := range c.rejected {
			t.Logf("rejected: %s", r)
		}
		if limit := float64(c.n) * 0.01; float64(c.nRejected) > limit {
			t.Errorf("intake rejected %d of %d generated patients (> 1 %%): the generator is wrong", c.nRejected, c.n)
		}
	})

	for _, pc := range propChecks {
		t.Run(pc.name, func(t *testing.T) {
			r := c.results[pc.name]
			if r.applied == 0 && c.n >= 1000 {
				// A property no generated patient reaches checks nothing:
				// the generator (or the applies condition) has drifted.
				t.Errorf("applies to none of the %d generated patients: the property is vacuous", c.n)
			}
			if r.count == 0 {
				t.Logf("holds for all %d patients (it applies to %d of them)", r.checked, r.applied)
				return
			}
			t.Errorf("%d of %d patients violate %s (it applies to %d)", r.count, r.checked, pc.name, r.applied)
			kinds := make([]string, 0, len(r.kinds))
			for k := range r.kinds {
				kinds = append(kinds, k)
			}
			sort.Slice(kinds, func(i, j int) bool {
				if r.kinds[kinds[i]] != r.kinds[kinds[j]] {
					return r.kinds[kinds[i]] > r.kinds[kinds[j]]
				}
				return kinds[i] < kinds[j]
			})
			for _, k := range kinds {
				t.Errorf("%5d patients: %s", r.kinds[k], k)
			}
			for k, f := range r.failures {
				t.Errorf("failure %d: seed %d index %d (archetype %s, %s):\n  %s\npatient:\n%s",
					k+1, f.gc.Seed, f.gc.Index, f.gc.Archetype, f.gc.Format, strings.Join(f.msgs, "\n  "), f.gc.JSON())
			}
			small, msgs := shrink(c.e, r.failures[0].gc, pc.check)
			t.Errorf("minimal reproducer (shrunk from seed %d index %d):\n  %s\npatient:\n%s",
				small.Seed, small.Index, strings.Join(msgs, "\n  "), small.JSON())
		})
	}
}

// TestPropertyUnder18 checks that intake refuses minors as out of scope.
func TestPropertyUnder18(t *testing.T) {
	b, err := kb.Default()
	if err != nil {
		t.Fatal(err)
	}
	g := newGenerator(b, *propSeed)
	for i := 0; i < 40; i++ {
		gc := g.under18(i)
		_, err := intake.Read(gc.Document(), gc.Format, b, intake.Options{Today: genToday})
		if !errors.Is(err, ekbom.ErrOutOfScope) {
			t.Errorf("seed %d under18 %d: age %d: err = %v, want ErrOutOfScope\n%s", gc.Seed, i, gc.In.Age, err, gc.JSON())
		}
	}
}

// TestPropertyCoverage logs what the generated patients reached and checks
// that the generator covers every drug and condition of the contract.
func TestPropertyCoverage(t *testing.T) {
	c := loadCorpus(t)
	t.Logf("archetypes: %v; formats: %v; pregnant or lactating: %d; unknown medications: %d",
		c.archSeen, c.formatSeen, c.pregnant, c.unknownMeds)
	for _, code := range ekbom.WarningCodes {
		t.Logf("warning %-30s %5d patients", code, c.warnHits[code])
	}
	for _, id := range c.matcher.all {
		t.Logf("rule %-36s %5d patients", id, c.ruleHits[id])
	}
	var never []string
	for _, id := range c.matcher.all {
		if c.ruleHits[id] == 0 {
			never = append(never, id)
		}
	}
	t.Logf("rules never hit by the %d generated patients: %v", c.n, never)
	if c.n < 1000 {
		return
	}
	b := c.e.KB()
	for _, d := range b.DrugList {
		if c.drugSeen[d.ID] == 0 {
			t.Errorf("generator never produced drug %s", d.ID)
		}
	}
	for _, x := range ekbom.Conditions {
		if c.condSeen[string(x)] == 0 {
			t.Errorf("generator never produced condition %s", x)
		}
	}
	for _, u := range genUnknownMeds {
		if _, err := intake.ParseSig(u, b); err == nil {
			t.Errorf("generator: %q is meant to be unknown but names a kb drug", u)
		}
	}
}

// TestRuleReachability fails when a rule of the kb (recommendation, warning,
// finding or status) is shown by no plan: not by the generated patients, the
// bundled examples or the vignettes.
func TestRuleReachability(t *testing.T) {
	c := loadCorpus(t)
	if *propIndex >= 0 {
		t.Skip("single patient")
	}
	reached := map[string]string{}
	for id, n := range c.ruleHits {
		if n > 0 {
			reached[id] = "generated"
		}
	}
	files, _ := filepath.Glob("../examples/*.yaml")
	vignettes, _ := filepath.Glob("../testdata/vignettes/*/patient.yaml")
	files = append(files, vignettes...)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := intake.Read(data, "", c.e.KB(), intake.Options{Today: genToday})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		plan, err := c.e.Evaluate(p)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, id := range c.matcher.reached(plan) {
			if _, ok := reached[id]; !ok {
				reached[id] = f
			}
		}
	}
	var unreachable []string
	for _, id := range c.matcher.all {
		if _, ok := reached[id]; !ok {
			unreachable = append(unreachable, id)
		}
	}
	var onlyFiles []string
	for id, from := range reached {
		if from != "generated" {
			onlyFiles = append(onlyFiles, id+" ("+filepath.Base(filepath.Dir(from))+"/"+filepath.Base(from)+")")
		}
	}
	sort.Strings(onlyFiles)
	t.Logf("%d rules; %d reached by generated patients; only by examples/vignettes (%d files): %v",
		len(c.matcher.all), len(c.ruleHits), len(files), onlyFiles)
	if len(unreachable) > 0 {
		t.Errorf("%d rules are never produced by %d generated patients nor the %d examples/vignettes:\n  %s",
			len(unreachable), c.n, len(files), strings.Join(unreachable, "\n  "))
	}
}
