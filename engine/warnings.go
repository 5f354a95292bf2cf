package engine

import (
	"fmt"
	"strconv"

	"ekbom"
	"ekbom/kb"
)

// exposure is what the patient takes now or is advised to take.
type exposure struct {
	drugs []*kb.Drug // distinct drugs
	// names lists, in order, each drug (or recommended class) with its
	// class and display name.
	names []classedName
}

type classedName struct{ class, name string }

// has reports exposure to class c.
func (x *exposure) has(c string) bool {
	for _, n := range x.names {
		if n.class == c {
			return true
		}
	}
	return false
}

// namesOf returns the display names that expose the patient to class c.
func (x *exposure) namesOf(c string) []string {
	var out []string
	for _, n := range x.names {
		if n.class == c {
			out = append(out, n.name)
		}
	}
	return out
}

// recommendedActions are the actions that put a drug in the patient's hands.
var recommendedActions = map[ekbom.Action]bool{
	ekbom.ActStart: true, ekbom.ActConsider: true, ekbom.ActOptimize: true,
	ekbom.ActContinue: true, ekbom.ActIncrease: true,
}

func (ev *eval) exposure() exposure {
	x := exposure{drugs: make([]*kb.Drug, 0, 8), names: make([]classedName, 0, 8)}
	add := func(d *kb.Drug, label string) {
		for _, y := range x.drugs {
			if y.ID == d.ID {
				return
			}
		}
		x.drugs = append(x.drugs, d)
		x.names = append(x.names, classedName{d.Class, label})
	}
	for _, m := range ev.current {
		if d := ev.drug(m); d != nil {
			add(d, d.Name)
		}
	}
	for step := range ekbom.StepOrder {
		for _, re := range ev.recs {
			if re.step != step {
				continue
			}
			r := re.rec
			if !recommendedActions[r.Action] {
				continue
			}
			if d, ok := ev.e.kb.Drug(r.Target); ok {
				add(d, d.Name+" (recommended)")
			} else if r.Target == "alpha2delta_ligand" || r.Target == "opioid" || r.Target == "benzodiazepine" {
				x.names = append(x.names, classedName{r.Target, ev.e.kb.ClassName(r.Target) + " (recommended)"})
			}
		}
	}
	return x
}

// warnings adds the warnings that depend on the whole plan.
func (ev *eval) warnings() {
	p := ev.p
	x := ev.exposure()

	// Opioid with another respiratory depressant or risk.
	if x.has("opioid") {
		var with, because []string
		because = append(because, x.namesOf("opioid")...)
		if x.has("alpha2delta_ligand") {
			with = append(with, "an alpha-2-delta ligand")
			because = append(because, x.namesOf("alpha2delta_ligand")...)
		}
		if x.has("benzodiazepine") {
			with = append(with, "a benzodiazepine")
			because = append(because, x.namesOf("benzodiazepine")...)
		}
		if ev.osaUntreated {
			with = append(with, "untreated sleep apnea")
			because = append(because, "untreated sleep apnea")
		}
		if p.Has(ekbom.COPD) {
			with = append(with, "COPD")
			because = append(because, "condition copd")
		}
		if len(with) > 0 {
			if x.has("alpha2delta_ligand") && x.has("benzodiazepine") {
				because = append(because, "triple combination opioid + alpha-2-delta ligand + benzodiazepine: highest risk")
			}
			ev.warn("warn.respiratory_depression", textVars{{"with", joinAnd(with)}}, because)
		}
	}

	// Renally cleared drugs with reduced kidney function.
	if ev.renalReduced {
		var drugs []string
		for _, d := range x.drugs {
			if d.RenallyCleared {
				drugs = append(drugs, d.Name)
			}
		}
		if len(drugs) > 0 {
			sortStrings(drugs)
			renal := ev.renalText
			if renal == "" {
				renal = "chronic kidney disease"
			}
			ev.warn("warn.renal_dosing", textVars{{"renal", renal}, {"drugs", joinAnd(drugs)}},
				append([]string{renal}, drugs...))
		}
	}

	// Sedating drugs in the elderly or those at risk of falls.
	if ev.elderly() || p.Has(ekbom.FallRisk) {
		var drugs []string
		for _, d := range x.drugs {
			if d.Sedating {
				drugs = append(drugs, d.Name)
			}
		}
		for _, c := range []string{"alpha2delta_ligand", "opioid"} {
			if x.has(c) && len(drugs) == 0 {
				drugs = append(drugs, ev.e.kb.ClassName(c))
			}
		}
		if len(drugs) > 0 {
			sortStrings(drugs)
			who := "Age " + strconv.Itoa(ev.age)
			if !ev.elderly() {
				who = "Fall risk"
			} else if p.Has(ekbom.FallRisk) {
				who += " with fall risk"
			}
			ev.warn("warn.falls_sedation", textVars{{"who", who}, {"drugs", joinAnd(drugs)}}, append([]string{who}, drugs...))
		}
	}

	// Substance use disorder when opioids are current or would be considered.
	if ev.oud && (x.has("opioid") || ev.opioidBlocked) && !ev.hasWarning(ekbom.WarnOpioidUseDisorder) {
		cond := ev.oudText()
		ev.warn("warn.opioid_use_disorder", textVars{{"condition", cond}}, []string{cond})
	}
}

// avoidList lists the drugs not to start, and flags the ones taken now.
func (ev *eval) avoidList() {
	taking := map[string]bool{}
	for _, m := range ev.current {
		taking[m.Resolved.Ingredient] = true
	}
	augmented := map[string]bool{}
	for _, m := range ev.past {
		if m.Outcome == ekbom.Augmented {
			augmented[m.Resolved.Ingredient] = true
		}
	}
	for _, i := range ev.e.avoidCites {
		ev.citeIndex(i)
	}
	ev.plan.Avoid = append(ev.plan.Avoid[:0], ev.e.avoid...)
	for i := range ev.plan.Avoid {
		a := &ev.plan.Avoid[i]
		if taking[a.Target] {
			a.CurrentlyTaking = true
			for _, c := range ev.e.avoidConflicts[i] {
				ev.conflict(c)
			}
		}
		if augmented[a.Target] {
			a.Text += " This patient has had augmentation on it before."
		}
	}
}

// status decides whether the RLS meets the definition of refractory.
func (ev *eval) status() {
	for _, m := range ev.current {
		if m.Start != nil && ev.asOf.DaysSince(*m.Start) < ev.t.recentDays {
			if d := ev.drug(m); d != nil && (d.Class == "alpha2delta_ligand" || d.Class == "opioid" || d.Class == "iv_iron") {
				ev.recentChange = append(ev.recentChange, d.Name)
				ev.finding("finding.recent_change", textVars{{"drug", d.Name}}, []string{d.Name + " started " + dateText(*m.Start)})
			}
		}
	}
	var notYet, unknown bool
	if ev.iron == ironUnknown {
		ev.reason("status.iron_unknown")
		unknown = true
	} else if !ev.ironAddressed() {
		ev.reason("status.iron")
		notYet = true
	}
	a2dDone := ev.a2dFailed || ev.a2dIntolerant || ev.a2dDeclined
	if !a2dDone && !ev.augmentation {
		if ev.a2dUnknown {
			ev.reason("status.a2d_unknown")
			unknown = true
		} else {
			ev.reason("status.a2d_not_tried")
			notYet = true
		}
	}
	if ev.exacerbators {
		ev.reason("status.exacerbators")
		notYet = true
	}
	if len(ev.recentChange) > 0 {
		ev.reason("status.recent_change")
		notYet = true
	}
	switch {
	case ev.irls == nil:
		ev.reason("status.severity_unknown")
		unknown = true
	case *ev.irls < ev.t.irlsModerate && !ev.augmentation:
		ev.reason("status.controlled")
		notYet = true
	}
	switch {
	case notYet:
		ev.plan.Status = ekbom.NotYetRefractory
	case unknown:
		ev.plan.Status = ekbom.Undetermined
	default:
		ev.plan.Status = ekbom.Refractory
		ev.plan.StatusReasons = ev.plan.StatusReasons[:0]
		if ev.augmentation {
			ev.reason("status.augmentation")
		}
		if a2dDone {
			ev.reason("status.refractory")
		}
	}
}

// monitoring adds the follow-up that does not belong to one step.
func (ev *eval) monitoring() {
	changed := false
	for _, r := range ev.recs {
		switch r.rec.Action {
		case ekbom.ActStart, ekbom.ActOptimize, ekbom.ActDecrease, ekbom.ActTaper, ekbom.ActSwitch, ekbom.ActStop:
			changed = true
		}
	}
	switch {
	case ev.irls == nil:
		ev.monitor("irls_baseline", ekbom.Date{}, "")
		ev.missing("IRLS severity score (10 items)")
	case changed:
		ev.monitor("irls_after_change", ekbom.Date{}, "")
	default:
		ev.monitor("irls_routine", ekbom.Date{}, "")
	}
	if fer := ev.lab(ekbom.Ferritin); fer != nil && ev.iron != ironPending {
		due := fer.Date.AddDays(ev.t.routineIronDays)
		if ev.has("iron.retest") {
			due = ev.asOf
		}
		ev.monitor("iron_panel_routine", due, "")
	}
}

// unrecognised reports medications the knowledge base does not know.
func (ev *eval) unrecognised() {
	for i, m := range ev.p.Medications {
		if m.Resolved.Ingredient == "" {
			name := m.Name
			if name == "" {
				name = m.Sig
			}
			ev.missing(fmt.Sprintf("medications[%d] %q is not in the knowledge base and was not assessed", i, name))
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
