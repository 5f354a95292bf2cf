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
	"errors"
	"fmt"
	"sort"

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
type Engine struct {
	kb    *kb.Base
	t     params
	rules map[string]*ruleInfo // resolved grade and sources per rule
	avoid []ekbom.Avoid        // the avoid list before currently_taking is set
	// avoidConflicts and avoidSources are indexed like avoid.
	avoidConflicts [][]string
	avoidSources   []string
}

// ruleInfo is a rule with its grade and sources resolved once.
type ruleInfo struct {
	rule                *kb.Rule
	strength, certainty string
	verified            bool
	sources             []string
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
	if len(missing) > 0 {
		return nil, fmt.Errorf("engine: knowledge base %s lacks %v", b.Meta.Version, missing)
	}
	e := &Engine{kb: b, t: t, rules: map[string]*ruleInfo{}}
	for _, r := range b.RuleList {
		st, c, v := b.Grade(r)
		e.rules[r.ID] = &ruleInfo{rule: r, strength: st, certainty: c, verified: v, sources: b.RuleSources(r)}
	}
	e.buildAvoid()
	return e, nil
}

// buildAvoid resolves the avoid list once; Evaluate only marks what is taken.
func (e *Engine) buildAvoid() {
	seen := map[string]bool{}
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
		for _, s := range sources {
			if !seen[s] {
				seen[s] = true
				e.avoidSources = append(e.avoidSources, s)
			}
		}
		e.avoid = append(e.avoid, ekbom.Avoid{
			Target: d.ID, Class: d.Class, Text: a.Reason, Strength: strength, Certainty: certainty,
			GradeVerified: verified, Sources: sources,
		})
		e.avoidConflicts = append(e.avoidConflicts, a.Conflicts)
	}
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
	for _, id := range ekbom.StepOrder {
		recs := ev.steps[id]
		if len(recs) == 0 {
			continue
		}
		sort.SliceStable(recs, func(i, j int) bool { return recs[i].Priority < recs[j].Priority })
		out := make([]ekbom.Recommendation, len(recs))
		for i, r := range recs {
			out[i] = *r
		}
		plan.Steps = append(plan.Steps, ekbom.Step{ID: id, Title: stepTitles[id], Recommendations: out})
	}
	rank := map[string]int{"high": 0, "moderate": 1, "info": 2}
	sort.SliceStable(plan.Warnings, func(i, j int) bool {
		return rank[plan.Warnings[i].Severity] < rank[plan.Warnings[j].Severity]
	})
	sort.SliceStable(plan.Monitoring, func(i, j int) bool {
		return plan.Monitoring[i].Due.Before(plan.Monitoring[j].Due)
	})
	for _, id := range ev.conflictOrder {
		c, _ := ev.e.kb.Conflict(id)
		note := ekbom.ConflictNote{ID: c.ID, Topic: c.Topic, Resolution: c.Resolution}
		for _, pos := range c.Positions {
			s, _ := ev.e.kb.Source(pos.Source)
			note.Positions = append(note.Positions, s.Short+": "+pos.Says)
			ev.cite(pos.Source)
		}
		plan.Conflicts = append(plan.Conflicts, note)
	}
	return plan
}

var stepTitles = map[string]string{
	ekbom.StepIron:               "1. Verify and optimize iron",
	ekbom.StepExacerbatingFactor: "2. Remove exacerbating factors",
	ekbom.StepAugmentation:       "3. Dopaminergic augmentation",
	ekbom.StepAlpha2Delta:        "4. Alpha-2-delta ligands",
	ekbom.StepSecondLine:         "5. Second-line medication",
	ekbom.StepOpioids:            "6. Low-dose opioids",
	ekbom.StepNonDrug:            "7. Non-drug treatment",
	ekbom.StepSpecialPopulations: "8. Special populations",
}
