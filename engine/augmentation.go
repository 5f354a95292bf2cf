package engine

import (
	"math"
	"strconv"

	"ekbom"
	"ekbom/dose"
	"ekbom/kb"
)

// mpi is the result of applying the MPI augmentation criteria.
type mpi struct {
	met, suspected bool
	because        []string
	severity       string
}

// assessMPI applies the MPI criteria (kb source "mpi") to the symptom record.
// Augmentation is met when the basic features (A) hold together with a
// paradoxical dose response (B) or earlier onset (C). It is suspected when some
// features are present but A is unknown or incomplete.
func (ev *eval) assessMPI(aboveMax bool) mpi {
	t := ev.t
	var r mpi
	af := ev.p.Symptoms.Augmentation
	if af == nil {
		af = &ekbom.AugmentationFeatures{}
	}
	a := isTrue(af.WorseMostDays) && isTrue(af.PriorPositiveResponse)
	b := isTrue(af.WorseAfterDoseIncrease) && isTrue(af.BetterAfterDoseDecrease)
	var extras []string
	for _, x := range []struct {
		v    *bool
		name string
	}{
		{af.ShorterLatencyAtRest, "shorter latency to symptoms at rest"},
		{af.SpreadToOtherBodyParts, "spread to other body parts"},
		{af.IncreasedIntensity, "greater intensity"},
		{af.ShorterMedicationEffect, "shorter relief from each dose"},
	} {
		if isTrue(x.v) {
			extras = append(extras, x.name)
		}
	}
	hours := af.OnsetAdvanceHours
	c1 := hours != nil && *hours >= t.onsetC1
	c2 := hours != nil && *hours >= t.onsetC2 && *hours < t.onsetC1 && len(extras) > 0
	if a {
		r.because = append(r.because, "worse on at least 5 of the last 7 days, after a prior good response (MPI A)")
	}
	if b {
		r.because = append(r.because, "worse after dose increases and better after decreases (MPI B)")
	}
	if hours != nil && *hours > 0 {
		r.because = append(r.because, "symptoms start "+num(*hours)+" h earlier than before treatment")
	} else if isTrue(af.EarlierOnset) {
		r.because = append(r.because, "symptoms start earlier in the day")
	}
	r.because = append(r.because, extras...)
	if isTrue(af.WorseAfterDoseIncrease) && !b {
		r.because = append(r.because, "worse after a dose increase")
	}
	r.met = a && (b || c1 || c2)
	r.suspected = !r.met && (b || c1 || c2 || isTrue(af.EarlierOnset) || len(extras) > 0 ||
		(hours != nil && *hours >= t.onsetC2) || isTrue(af.WorseAfterDoseIncrease) || aboveMax)
	if (r.met || r.suspected) && !a {
		if af.WorseMostDays == nil || af.PriorPositiveResponse == nil {
			ev.missing("MPI basic features: worse on ≥5 of 7 days, and a prior good response to the drug")
		}
	}
	switch {
	case hours != nil && *hours >= t.verySevereHours:
		r.severity = "very_severe"
	case hours != nil && *hours >= t.severeHours:
		r.severity = "severe"
	case hours != nil && *hours >= t.onsetC2 && !aboveMax && (ev.irls == nil || *ev.irls < t.irlsSevere):
		r.severity = "mild"
	case aboveMax || (hours != nil && *hours >= t.onsetC2):
		r.severity = "severe"
	default:
		r.severity = "unclassified"
	}
	if r.severity != "very_severe" && isTrue(ev.p.Symptoms.DaytimeSymptoms) && (r.met || r.suspected) && isTrue(af.SpreadToOtherBodyParts) {
		r.severity = "very_severe"
	}
	return r
}

var severityText = map[string]string{
	"mild": "mild", "severe": "severe", "very_severe": "very severe", "unclassified": "severity not classified",
}

// augmentation is step 3.
func (ev *eval) stepAugmentation() {
	for _, m := range ev.pastOf(func(d *kb.Drug) bool { return d.Dopaminergic }) {
		if m.Outcome == ekbom.Augmented {
			ev.finding("finding.augmentation_history", textVars{{"drug", m.Resolved.Ingredient}},
				[]string{"past " + m.Resolved.Ingredient + ": outcome augmentation"})
		}
	}
	ev.dopaminergic = ev.currentOf(func(d *kb.Drug) bool { return d.Dopaminergic })
	for _, m := range ev.dopaminergic {
		ev.manageDopaminergic(m)
	}
}

func (ev *eval) manageDopaminergic(m *ekbom.Medication) {
	d := ev.drug(m)
	daily := m.Resolved.DailyMg
	ev.monitor("augmentation_screen", ekbom.Date{}, "")
	if daily == nil {
		ev.missing("dose of " + d.Name + " (to compare with the RLS maximum and plan a taper)")
	}
	aboveMax := false
	var maxText string
	if rd := d.RLSDose; rd != nil && rd.Verified && daily != nil && *daily > rd.MaxMg+1e-9 {
		aboveMax = true
		maxText = num(rd.MaxMg) + " " + rd.Unit
		ev.finding("finding.da_above_max", textVars{{"drug", d.Name}, {"dose", doseText(m, d)}, {"max", maxText}},
			[]string{"taking " + medText(m), "RLS maximum " + maxText})
	}
	r := ev.assessMPI(aboveMax)
	vars := textVars{{"drug", d.Name}, {"dose", doseText(m, d)}}
	if !r.met && !r.suspected {
		ev.finding("finding.on_dopaminergic", vars, []string{"taking " + medText(m)})
		ev.assessAlpha2Delta()
		if !ev.pregnant() && !ev.a2dDeclined && !ev.allA2DIntolerant() {
			ev.rec("augmentation.plan_switch", "", vars, []string{"taking " + medText(m)})
			ev.warn("warn.abrupt_stop", textVars{{"drug", d.Name}}, []string{"a switch off " + medText(m) + " is suggested"})
		}
		return
	}
	ev.augmentation = true
	ev.augSeverity = r.severity
	because := append([]string{"taking " + medText(m)}, r.because...)
	if aboveMax {
		because = append(because, "dose above the RLS maximum of "+maxText)
	}
	if r.met {
		ev.finding("finding.augmentation_met", textVars{{"drug", d.Name}, {"severity", severityText[r.severity]}}, because)
		ev.warn("warn.augmentation_met", vars, because)
	} else {
		ev.finding("finding.augmentation_suspected", vars, because)
		ev.warn("warn.augmentation_suspected", vars, because)
	}
	ev.rec("augmentation.no_increase", d.ID, vars, because)
	if ev.iron == ironDeficient || ev.iron == ironUnknown || ev.iron == ironBorderline || ev.exacerbators {
		ev.rec("augmentation.rule_out_triggers", "", nil, ev.triggerFacts())
	}
	if ev.pregnant() {
		return // the pregnancy pathway plans the withdrawal (special populations)
	}
	if r.severity == "mild" && !aboveMax {
		rec := ev.rec("augmentation.mild_options", d.ID, vars, because)
		if daily != nil {
			rec.Dose = &ekbom.Dose{Text: "same or lower total daily dose: at most " + doseText(m, d), DailyMg: ptr(*daily), MaxDailyMg: ptr(*daily)}
		}
		ev.warn("warn.abrupt_stop", textVars{{"drug", d.Name}}, []string{"a switch off " + medText(m) + " is one of the options"})
		return
	}
	ev.planCover(d, r.severity, because)
	ev.planTaper(m, d, because)
}

// triggerFacts lists what may be driving the worsening.
func (ev *eval) triggerFacts() []string {
	var out []string
	switch ev.iron {
	case ironDeficient, ironBorderline:
		out = append(out, "iron below the RLS targets")
	case ironUnknown:
		out = append(out, "iron status unknown")
	}
	if ev.exacerbators {
		out = append(out, "exacerbating factors present")
	}
	return out
}

// planCover chooses what to add before the taper: an alpha-2-delta ligand, or
// an opioid when augmentation is very severe or alpha-2-delta ligands failed
// (conflict C10).
func (ev *eval) planCover(d *kb.Drug, severity string, because []string) {
	ev.assessAlpha2Delta()
	a2dUsable := !ev.a2dDeclined && !ev.allA2DIntolerant()
	// An opioid can cover the switch only if one would actually be started
	// now: not declined, no substance use disorder, no high misuse risk, and
	// no untreated sleep apnea (the opioid step would defer it).
	opioidUsable := ev.opioidChoice() != "" && !ev.oud && ev.p.Screening.OpioidRisk != "high" && !ev.osaUntreated
	var reason string
	switch {
	case severity == "very_severe":
		reason = "Augmentation is very severe"
	case ev.a2dFailed:
		reason = "An alpha-2-delta ligand has already failed"
	case !a2dUsable:
		reason = "Alpha-2-delta ligands are declined or not tolerated"
	}
	vars := textVars{{"drug", d.Name}, {"reason", reason}}
	if reason != "" && opioidUsable {
		ev.opioidForAug = true
		ev.rec("augmentation.add_opioid", "", vars, because)
		if a2dUsable && !ev.a2dFailed {
			ev.rec("augmentation.alternative_alpha2delta", "", vars, because)
		}
		return
	}
	if a2dUsable {
		ev.rec("augmentation.add_alpha2delta", "", vars, because)
	} else if opioidUsable {
		ev.opioidForAug = true
		ev.rec("augmentation.add_opioid", "", vars, because)
	}
}

// planTaper writes the dated taper in pramipexole-equivalent steps.
func (ev *eval) planTaper(m *ekbom.Medication, d *kb.Drug, because []string) {
	t := ev.t
	start := ev.asOf.AddDays(t.taperStartDays)
	inc := 0.0
	if d.RLSDose != nil {
		inc = d.RLSDose.IncrementMg
	}
	stepMg := t.taperStepPPX
	if d.PPXPerMg > 0 {
		stepMg = t.taperStepPPX / d.PPXPerMg
	}
	if inc > 0 {
		// The calendar moves in whole practical dose units (dose.TaperSchedule).
		stepMg = math.Max(inc, math.Floor(stepMg/inc+1e-9)*inc)
	}
	stepText := mg(stepMg) + " of " + d.Name + " (about " + mg(stepMg*d.PPXPerMg) + " pramipexole-equivalent)"
	if d.ID == "pramipexole" {
		stepText = mg(stepMg) + " of pramipexole"
	}
	vars := textVars{{"drug", d.Name}, {"step", stepText}, {"days", strconv.Itoa(t.taperStepDays)}, {"start", start.String()}}
	rec := ev.rec("augmentation.taper", d.ID, vars, because)
	ev.warn("warn.abrupt_stop", textVars{{"drug", d.Name}}, []string{"taper of " + medText(m) + " planned"})
	ev.rec("augmentation.bridge", "", nil, nil)
	daily := m.Resolved.DailyMg
	if daily == nil || d.PPXPerMg <= 0 || inc <= 0 {
		return
	}
	sched, err := dose.TaperSchedule(start, dose.Taper{
		Drug: d.Name, CurrentDailyMg: *daily, PPXPerMg: d.PPXPerMg,
		StepPPXMg: t.taperStepPPX, StepDays: t.taperStepDays, IncrementMg: inc,
	})
	if err != nil {
		rec.Because = append(rec.Because, "no calendar: "+err.Error())
		return
	}
	rec.Schedule = sched
	rec.Dose = &ekbom.Dose{Text: "from " + doseText(m, d) + " to stop by " + dateText(sched[len(sched)-1].Date), DailyMg: ptr(0.0)}
}
