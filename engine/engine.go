// Package engine turns a normalised patient record into a stepwise, cited
// management plan for refractory restless legs syndrome.
//
// Each clinical step is a function of the patient facts, the knowledge base
// and the evaluation date (iron.go, exacerbators.go, augmentation.go, …); the
// steps run in the fixed order of Engine.Evaluate. The engine decides when a
// rule fires; what the rule says, its grade and its sources come from package
// kb. The engine does no I/O and never reads the clock.
package engine

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"ekbom"
	"ekbom/kb"
)

// Options tune the engine. The zero value uses the knowledge-base defaults.
type Options struct {
	// TaperStepPPXMg overrides the dopamine-agonist taper step in
	// pramipexole-equivalent mg (default: threshold augmentation.taper_step_ppx_mg).
	TaperStepPPXMg float64
	// TaperStepDays overrides the days between taper steps (default:
	// threshold augmentation.taper_step_days).
	TaperStepDays int
}

// Engine evaluates patients against one knowledge base. It is safe for
// concurrent use.
//
// Everything an evaluation looks up repeatedly (rule grades and sources, the
// sources as indices, conflict notes, evidence by target) is resolved once
// here, so Evaluate does little more than decide and format.
type Engine struct {
	kb        *kb.Base
	t         params
	rules     map[string]*ruleInfo     // resolved grade and sources per rule
	monitors  map[string]*monitorInfo  // monitoring rules with their sources
	conflicts map[string]*conflictInfo // conflict notes as plans show them
	avoid     []ekbom.Avoid            // the avoid list before currently_taking is set
	// avoidConflicts is indexed like avoid.
	avoidConflicts [][]string
	avoidCites     []int // sources of the avoid list, as indices into sources

	// sources are the knowledge-base sources in a fixed order; plans cite
	// them by index (eval.cited) and sourceIndex maps an id to it.
	sources     []sourceInfo
	sourceIndex map[string]int
}

// sourceInfo is a source as plans cite it.
type sourceInfo struct {
	id  string
	ref ekbom.SourceRef
}

// ruleInfo is a rule with its grade and sources resolved once.
type ruleInfo struct {
	rule                *kb.Rule
	strength, certainty string
	verified            bool
	sources             []string // RuleSources: the rule's own, then its evidence's
	cites               []int    // sources as indices
	ownCites            []int    // the rule's own sources (warnings cite only these)
	text, patientText   tmpl     // Text and PatientText, split at their placeholders
	step                int      // index into ekbom.StepOrder; −1 when not a recommendation
	class               string   // class of the rule's own target
	// byTarget is the evidence of a by_target rule for each target the
	// guideline names: [0] adults, [1] adults on dialysis (falling back
	// to adults, as kb.EvidenceFor does).
	byTarget map[string]*[2]targetEvidence
}

// targetEvidence is the grade and sources of a by_target rule for one
// target and population.
type targetEvidence struct {
	ok                  bool
	strength, certainty string
	verified            bool
	sources             []string
	cites               []int
}

type monitorInfo struct {
	m     *kb.MonitorRule
	cites []int
}

type conflictInfo struct {
	note  ekbom.ConflictNote // Positions shared by every plan: read-only
	cites []int
}

// New returns an engine for the knowledge base b. It fails if b lacks a
// threshold, rule or monitoring interval the engine needs.
func New(b *kb.Base, opt Options) (*Engine, error) {
	if b == nil {
		return nil, errors.New("engine: nil knowledge base")
	}
	t, err := loadParams(b)
	if err != nil {
		return nil, err
	}
	if opt.TaperStepPPXMg < 0 || opt.TaperStepDays < 0 {
		return nil, errors.New("engine: taper options must not be negative")
	}
	if opt.TaperStepPPXMg > 0 {
		t.taperStepPPX = opt.TaperStepPPXMg
	}
	if opt.TaperStepDays > 0 {
		t.taperStepDays = opt.TaperStepDays
	}
	var missing []string
	for _, id := range usedRules {
		if _, ok := b.Rule(id); !ok {
			missing = append(missing, "rule "+id)
		}
	}
	for _, id := range usedMonitors {
		if _, ok := b.Monitor(id); !ok {
			missing = append(missing, "monitoring "+id)
		}
	}
	// The preference orders may only name drugs the engine can start: the
	// opioids with a start rule, and ligands with RLS dosing for a titration.
	for _, id := range append(append([]string{}, b.Choices.OpioidOrder.Drugs...), b.Choices.OpioidOrderDaytime.Drugs...) {
		if id != "oxycodone" && id != "methadone" {
			missing = append(missing, "a start rule for opioid "+id+" (choices.yaml)")
		}
	}
	for _, id := range b.Choices.Alpha2DeltaOrder.Drugs {
		if d, ok := b.Drug(id); !ok || d.RLSDose == nil || d.RLSDose.StepMg <= 0 {
			missing = append(missing, "RLS dosing for "+id+" (choices.yaml)")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("engine: knowledge base %s lacks %v", b.Meta.Version, missing)
	}
	e := &Engine{kb: b, t: t}
	e.buildSources()
	e.buildRules()
	e.buildAvoid()
	return e, nil
}

// buildSources numbers the sources and resolves monitoring and conflicts.
func (e *Engine) buildSources() {
	b := e.kb
	e.sourceIndex = make(map[string]int, len(b.SourceList))
	for _, s := range b.SourceList {
		if _, dup := e.sourceIndex[s.ID]; dup {
			continue
		}
		e.sourceIndex[s.ID] = len(e.sources)
		e.sources = append(e.sources, sourceInfo{id: s.ID, ref: ekbom.SourceRef{Citation: s.Citation, URL: s.URL}})
	}
	e.monitors = make(map[string]*monitorInfo, len(b.MonitorList))
	for _, m := range b.MonitorList {
		e.monitors[m.ID] = &monitorInfo{m: m, cites: e.citesOf(m.Sources)}
	}
	e.conflicts = make(map[string]*conflictInfo, len(b.ConflictList))
	for _, c := range b.ConflictList {
		info := &conflictInfo{note: ekbom.ConflictNote{ID: c.ID, Topic: c.Topic, Resolution: c.Resolution}}
		var cited []string
		for _, pos := range c.Positions {
			s, _ := b.Source(pos.Source)
			info.note.Positions = append(info.note.Positions, s.Short+": "+pos.Says)
			cited = append(cited, pos.Source)
		}
		info.note.Positions = slices.Clip(info.note.Positions)
		info.cites = e.citesOf(cited)
		e.conflicts[c.ID] = info
	}
}

// citesOf returns the indices of the known sources among ids, in order.
func (e *Engine) citesOf(ids []string) []int {
	var out []int
	for _, id := range ids {
		if i, ok := e.sourceIndex[id]; ok {
			out = append(out, i)
		}
	}
	return out
}

// buildRules resolves every rule's grade, sources, step and target class,
// and the guideline evidence of by_target rules.
func (e *Engine) buildRules() {
	b := e.kb
	steps := make(map[string]int, len(ekbom.StepOrder))
	for i, id := range ekbom.StepOrder {
		steps[id] = i
	}
	// The targets any guideline recommendation names: EvidenceFor finds
	// nothing for any other.
	var targets []string
	for _, g := range b.Guideline {
		for _, t := range g.Targets {
			if !slices.Contains(targets, t) {
				targets = append(targets, t)
			}
		}
	}
	e.rules = make(map[string]*ruleInfo, len(b.RuleList))
	for _, r := range b.RuleList {
		st, c, v := b.Grade(r)
		info := &ruleInfo{rule: r, strength: st, certainty: c, verified: v, sources: b.RuleSources(r),
			ownCites: e.citesOf(r.Sources), step: -1, class: r.Class,
			text: compileTmpl(r.Text), patientText: compileTmpl(r.PatientText)}
		info.cites = e.citesOf(info.sources)
		if i, ok := steps[r.Step]; ok && r.Kind == "recommendation" {
			info.step = i
		}
		if d, ok := b.Drug(r.Target); ok {
			info.class = d.Class
		}
		if r.Evidence == kb.ByTarget {
			info.byTarget = make(map[string]*[2]targetEvidence, len(targets))
			for _, t := range targets {
				var ev [2]targetEvidence
				for i, pop := range [2]string{"adults", "adults_esrd"} {
					g, ok := b.EvidenceFor(t, pop)
					if !ok {
						continue
					}
					sources := appendNew(append([]string(nil), info.sources...), g.Sources...)
					ev[i] = targetEvidence{ok: true, strength: g.Strength, certainty: g.Certainty,
						verified: g.Verified(), sources: sources, cites: e.citesOf(sources)}
				}
				info.byTarget[t] = &ev
			}
		}
		e.rules[r.ID] = info
	}
}

// buildAvoid resolves the avoid list once; Evaluate only marks what is taken.
func (e *Engine) buildAvoid() {
	var all []string
	for _, d := range e.kb.DrugList {
		a := d.Avoid
		if a == nil {
			continue
		}
		strength, certainty, verified := a.Strength, a.Certainty, a.Verified
		sources := append([]string{}, a.Sources...)
		if g, ok := e.kb.GuidelineRec(a.Evidence); ok {
			strength, certainty, verified = g.Strength, g.Certainty, g.Verified()
			sources = appendNew(sources, g.Sources...)
		}
		all = appendNew(all, sources...)
		e.avoid = append(e.avoid, ekbom.Avoid{
			Target: d.ID, Class: d.Class, Text: a.Reason, Strength: strength, Certainty: certainty,
			GradeVerified: verified, Sources: sources,
		})
		e.avoidConflicts = append(e.avoidConflicts, a.Conflicts)
	}
	e.avoidCites = e.citesOf(all)
}

// KB returns the engine's knowledge base.
func (e *Engine) KB() *kb.Base { return e.kb }

// Evaluate builds the plan for p, which must have been normalised by
// intake.Normalize (AsOf set, medications resolved). It returns an error only
// for programming errors (a non-normalised patient or a broken rule text);
// missing clinical data becomes test recommendations and `missing` entries.
func (e *Engine) Evaluate(p *ekbom.Patient) (*ekbom.Plan, error) {
	if p == nil {
		return nil, errors.New("engine: nil patient")
	}
	if p.AsOf.IsZero() {
		return nil, errors.New("engine: patient has no as_of date (normalise it first)")
	}
	if p.Age == nil || *p.Age < 18 {
		return nil, fmt.Errorf("engine: %w: adults only", ekbom.ErrOutOfScope)
	}
	ev := newEval(e, p)
	// The clinical steps, in contract order. Later steps read what earlier
	// steps concluded (iron state, augmentation plan, alpha-2-delta status).
	for _, step := range []func(){
		ev.renal, // a fact, not a step: creatinine clearance for dosing
		ev.stepIron,
		ev.stepExacerbators,
		ev.stepAugmentation,
		ev.alpha2delta,
		ev.secondLine,
		ev.opioids,
		ev.nonDrug,
		ev.specialPopulations,
	} {
		step()
	}
	ev.warnings()
	ev.avoidList()
	ev.status()
	ev.monitoring()
	ev.unrecognised()
	if ev.err != nil {
		return nil, ev.err
	}
	return ev.finish(), nil
}

// finish assembles the plan in contract order.
func (ev *eval) finish() *ekbom.Plan {
	plan := ev.plan
	// The recommendations in plan order: by step, then priority, else in
	// the order made.
	var buf [32]int
	order := buf[:0]
	for i := range ev.recs {
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := ev.recs[a], ev.recs[b]
		if c := cmp.Compare(ra.step, rb.step); c != 0 {
			return c
		}
		return cmp.Compare(ra.rec.Priority, rb.rec.Priority)
	})
	var stepBuf [32]int
	stepAt := stepBuf[:0] // the step of each place in order
	for _, i := range order {
		stepAt = append(stepAt, ev.recs[i].step)
	}
	// One array holds them all; each step's slice is a window of it
	// (clipped, so appending to one step never overwrites the next).
	all := ev.inOrder(order)
	for k := 0; k < len(all); {
		end := k + 1
		for end < len(all) && stepAt[end] == stepAt[k] {
			end++
		}
		step := stepAt[k]
		plan.Steps = append(plan.Steps, ekbom.Step{ID: ekbom.StepOrder[step], Title: stepTitles[step], Recommendations: all[k:end:end]})
		k = end
	}
	slices.SortStableFunc(plan.Warnings, func(a, b ekbom.Warning) int {
		return cmp.Compare(severityRank(a.Severity), severityRank(b.Severity))
	})
	slices.SortStableFunc(plan.Monitoring, func(a, b ekbom.Monitor) int {
		return a.Due.Time().Compare(b.Due.Time())
	})
	for _, id := range ev.conflictOrder {
		c := ev.e.conflicts[id]
		plan.Conflicts = append(plan.Conflicts, c.note)
		for _, i := range c.cites {
			ev.citeIndex(i)
		}
	}
	plan.Sources = make(map[string]ekbom.SourceRef, ev.nCited)
	for i, s := range ev.e.sources {
		if ev.cited[i] {
			plan.Sources[s.id] = s.ref
		}
	}
	return plan
}

// inOrder returns the recommendations as values, all[k] being the one made
// order[k]-th. When they all sit in recBuf in the order made (the usual
// case), it permutes recBuf in place rather than copying them, and uses
// order up.
func (ev *eval) inOrder(order []int) []ekbom.Recommendation {
	all := ev.recBuf
	if len(all) != len(ev.recs) || (len(all) > 0 && ev.recs[0].rec != &all[0]) {
		all = make([]ekbom.Recommendation, len(order))
		for k, i := range order {
			all[k] = *ev.recs[i].rec
		}
		return all
	}
	// Follow each cycle of the permutation; order[k] = k marks a place
	// already filled.
	for start := range order {
		if order[start] == start {
			continue
		}
		saved := all[start]
		k := start
		for {
			from := order[k]
			order[k] = k
			if from == start {
				all[k] = saved
				break
			}
			all[k] = all[from]
			k = from
		}
	}
	return all
}

// severityRank orders warnings: high, then moderate, then info. (The
// knowledge base allows no other severity; one would sort with high.)
func severityRank(s string) int {
	switch s {
	case "moderate":
		return 1
	case "info":
		return 2
	}
	return 0
}

// stepTitles is indexed like ekbom.StepOrder.
var stepTitles = [...]string{
	"1. Verify and optimize iron",
	"2. Remove exacerbating factors",
	"3. Dopaminergic augmentation",
	"4. Alpha-2-delta ligands",
	"5. Second-line medication",
	"6. Low-dose opioids",
	"7. Non-drug treatment",
	"8. Special populations",
}
