package engine

import (
	"strconv"

	"ekbom"
	"ekbom/dose"
	"ekbom/kb"
)

// renal works out creatinine clearance for dosing: Cockcroft–Gault from the
// latest creatinine, weight, age and sex; else eGFR as an approximation; ESRD
// counts as dialysis whatever the numbers.
func (ev *eval) renal() {
	p := ev.p
	ev.dialysis = p.Has(ekbom.ESRD)
	cr := ev.lab(ekbom.Creatinine)
	var because []string
	switch {
	case ev.dialysis:
		ev.renalText = "end-stage renal disease on dialysis"
		because = append(because, "condition esrd")
	case cr != nil && p.WeightKg != nil:
		c, err := dose.CockcroftGault(ev.age, *p.WeightKg, cr.Value, p.Sex == ekbom.Female)
		if err == nil {
			ev.crcl = &c
			ev.renalText = "creatinine clearance " + num(roundTo(c, 1)) + " mL/min (Cockcroft–Gault)"
			because = append(because, labText(cr), "weight "+num(*p.WeightKg)+" kg",
				"age "+strconv.Itoa(ev.age), "sex "+string(p.Sex))
		}
	case ev.lab(ekbom.EGFR) != nil:
		g := ev.lab(ekbom.EGFR)
		v := g.Value
		ev.crcl = &v
		ev.renalText = "eGFR " + num(v) + " mL/min/1.73m2 used in place of creatinine clearance"
		because = append(because, labText(g))
		if cr != nil && p.WeightKg == nil {
			ev.missing("weight (to calculate creatinine clearance by Cockcroft–Gault)")
		}
	default:
		if cr != nil {
			ev.missing("weight (to calculate creatinine clearance by Cockcroft–Gault)")
		} else {
			ev.missing("serum creatinine and weight (kidney function for dosing)")
		}
	}
	ev.renalReduced = ev.dialysis || p.Has(ekbom.CKD) || (ev.crcl != nil && *ev.crcl < ev.t.crclReduced)
	if p.Has(ekbom.CKD) && ev.renalText == "" {
		ev.renalText = "chronic kidney disease (clearance not known)"
		because = append(because, "condition ckd")
	}
	if ev.renalText != "" {
		ev.finding("finding.crcl", textVars{{"renal", ev.renalText}}, because)
	}
}

func roundTo(v float64, places int) float64 {
	f := 1.0
	for i := 0; i < places; i++ {
		f *= 10
	}
	return float64(int64(v*f+0.5)) / f
}

// iron is step 1: verify and optimize iron.
func (ev *eval) stepIron() {
	p, t := ev.p, ev.t
	fer, ts := ev.lab(ekbom.Ferritin), ev.lab(ekbom.TSAT)

	// Is the latest test usable? Judged first, so that a value distorted by a
	// non-fasting draw or recent iron is flagged before anything is concluded.
	var problems []string
	stale := fer != nil && ev.asOf.DaysSince(fer.Date) > t.testMaxAgeDays
	if stale {
		problems = append(problems, "ferritin from "+dateText(fer.Date)+" is more than "+strconv.Itoa(t.testMaxAgeDays*12/365)+" months old")
	}
	improperTSAT := false
	for _, l := range []*ekbom.Lab{fer, ts} {
		if l == nil {
			continue
		}
		if isFalse(l.Fasting) {
			problems = append(problems, string(l.Test)+" on "+dateText(l.Date)+" was not drawn fasting")
			improperTSAT = improperTSAT || l == ts
		}
		if isTrue(l.IronSupplementWithin24h) {
			problems = append(problems, string(l.Test)+" on "+dateText(l.Date)+" was drawn within 24 h of taking iron")
			improperTSAT = improperTSAT || l == ts
		}
	}
	if fer != nil && fer.Fasting == nil && !stale {
		ev.missing("whether the latest iron studies were drawn fasting, in the morning, 24 h after any iron")
	}
	if len(problems) > 0 {
		ev.warn("warn.stale_iron", textVars{{"problem", joinAnd(problems)}}, problems)
		ev.rec("iron.retest", "", textVars{{"problem", joinAnd(problems)}}, problems)
	}

	// Iron overload rules iron out whatever else is true. A high TSAT from an
	// improper draw still stops iron until a proper test says otherwise.
	var overload []string
	if p.Has(ekbom.Hemochromatosis) {
		overload = append(overload, "hemochromatosis")
	}
	if fer != nil && fer.Value > t.ferritinOverload {
		overload = append(overload, labText(fer)+" > "+num(t.ferritinOverload)+" ng/mL")
	}
	if ts != nil && ts.Value > t.tsatOverload {
		o := labText(ts) + " > " + num(t.tsatOverload) + " %"
		if improperTSAT {
			o += " (drawn after iron or not fasting: may be falsely high — hold iron and repeat the test)"
		}
		overload = append(overload, o)
	}
	if len(overload) > 0 {
		ev.iron = ironOverload
		ev.finding("finding.iron_overload", nil, overload)
		ev.warn("warn.iron_overload", textVars{{"reason", joinAnd(overload)}}, overload)
		ev.rec("iron.overload_no_iron", "", nil, overload)
		for _, m := range ev.currentOf(func(d *kb.Drug) bool { return d.Class == "oral_iron" || d.Class == "iv_iron" }) {
			ev.rec("iron.stop_iron_overload", m.Resolved.Ingredient, textVars{{"drug", medText(m)}},
				append([]string{"taking " + medText(m)}, overload...))
		}
		return
	}

	if fer == nil {
		ev.iron = ironUnknown
		ev.missing("ferritin (morning fasting iron studies)")
		if ts == nil {
			ev.missing("transferrin saturation (TSAT)")
		}
		ev.finding("finding.iron_unknown", nil, []string{"no ferritin on record"})
		if !ev.has("iron.retest") {
			ev.rec("iron.test_panel", "", nil, []string{"no ferritin on record"})
		}
		return
	}
	if stale {
		ev.iron = ironUnknown
		ev.finding("finding.iron_unknown", nil, problems)
		return
	}

	// A recent infusion has to be given time before it is judged.
	last := ev.lastInfusion()
	if last != nil {
		days := ev.asOf.DaysSince(last.Date)
		ev.postInfusionMonitoring(last.Date)
		if days < t.ivJudgeDays {
			ev.iron = ironPending
			judge := last.Date.AddDays(t.ivJudgeDays)
			because := []string{"IV " + ev.productName(last.Product) + " " + mg(last.DoseMg) + " on " + dateText(last.Date) + " (" + strconv.Itoa(days) + " days ago)"}
			ev.finding("finding.iron_infusion_pending", nil, because)
			ev.rec("iron.wait_after_infusion", "", textVars{{"date", last.Date.String()}, {"judge_date", judge.String()}}, because)
			return
		}
	}

	ev.ferritinConfounders(fer)

	switch {
	case ev.pregnant():
		ev.ironPregnancy(fer)
		return
	case ev.dialysis:
		ev.ironESRD(fer, ts)
		return
	}

	if ts == nil {
		ev.missing("transferrin saturation (TSAT)")
		ev.rec("iron.test_tsat", "", nil, []string{labText(fer) + " without a TSAT"})
		if fer.Value <= t.ferritinStartMax {
			ev.iron = ironDeficient
			ev.finding("finding.iron_deficient", textVars{{"detail", "ferritin " + num(fer.Value) + " ng/mL ≤ " + num(t.ferritinStartMax)}},
				[]string{labText(fer)})
		} else {
			ev.iron = ironUnknown
			ev.finding("finding.iron_unknown", nil, []string{"no TSAT on record"})
		}
		return
	}

	ferLow := fer.Value <= t.ferritinStartMax
	tsLow := ts.Value < t.tsatLow
	var infusionNote []string
	if last != nil {
		infusionNote = []string{"previous IV " + ev.productName(last.Product) + " " + mg(last.DoseMg) + " on " + dateText(last.Date)}
	}
	switch {
	case ferLow || tsLow:
		ev.iron = ironDeficient
		var because []string
		if ferLow {
			because = append(because, labText(fer)+" ≤ "+num(t.ferritinStartMax)+" ng/mL")
		}
		if tsLow {
			because = append(because, labText(ts)+" < "+num(t.tsatLow)+" %")
		}
		ev.finding("finding.iron_deficient", textVars{{"detail", joinAnd(because)}}, because)
		oralFailed, oralWhy := ev.oralIronFailed()
		severe := ev.irls != nil && *ev.irls >= t.ivPreferredIRLS
		ivOK := !ev.declined("ferric_carboxymaltose")
		oralOK := !ev.declined("ferrous_sulfate") && !oralFailed
		because = append(because, infusionNote...)
		switch {
		case ivOK && (oralFailed || severe || !oralOK):
			why := append([]string{}, because...)
			why = append(why, oralWhy...)
			if severe {
				why = append(why, "IRLS "+strconv.Itoa(*ev.irls)+" ≥ "+strconv.Itoa(t.ivPreferredIRLS)+": IV iron preferred for a faster, larger effect")
			}
			ev.startFCM("iron.start_iv_fcm", why)
		case oralOK:
			ev.rec("iron.start_oral", "", nil, because)
			ev.monitor("iron_panel_after_oral", ekbom.Date{}, "")
		default:
			ev.finding("finding.iron_declined", textVars{{"what", "the iron options that remain"}}, append(because, oralWhy...))
		}
	case fer.Value <= t.ferritinIVOnlyMax:
		because := append([]string{labText(fer) + " between " + num(t.ferritinStartMax) + " and " + num(t.ferritinIVOnlyMax) + " ng/mL",
			labText(ts) + " ≥ " + num(t.tsatLow) + " %"}, infusionNote...)
		if ev.declined("ferric_carboxymaltose") {
			ev.iron = ironOptimized
			ev.ironDeclined = true
			ev.conflict("C7")
			ev.finding("finding.iron_declined", textVars{{"what", "IV iron"}}, because)
			return
		}
		ev.iron = ironBorderline
		ev.finding("finding.iron_borderline", nil, because)
		ev.startFCM("iron.iv_only_75_100", because)
	default:
		ev.iron = ironOptimized
		because := []string{labText(fer) + " > " + num(t.ferritinIVOnlyMax) + " ng/mL",
			labText(ts) + " ≥ " + num(t.tsatLow) + " %"}
		ev.finding("finding.iron_optimized", nil, because)
		symptomatic := ev.irls == nil || *ev.irls >= t.irlsModerate
		if !symptomatic || ev.declined("ferric_carboxymaltose") || fer.Value >= t.ferritinFCMMax {
			break
		}
		if ev.irls == nil {
			because = append(because, "IRLS unknown: only if symptoms are moderate or worse")
		} else {
			because = append(because, "IRLS "+strconv.Itoa(*ev.irls)+": symptoms persist")
		}
		if last != nil {
			lo, hi := dose.FerritinRise(1000, t.risePer100Low, t.risePer100High)
			est := num(fer.Value+lo) + "–" + num(fer.Value+hi)
			ev.rec("iron.redose_iv", "", textVars{{"ferritin", num(fer.Value)}, {"estimate", est}}, append(because, infusionNote...))
			ev.phosphateCheck()
		} else {
			ev.rec("iron.consider_fcm_below_300", "", nil, because)
			ev.phosphateCheck()
		}
		ev.crpCheck(fer)
	}
	if ev.iron == ironBorderline {
		ev.crpCheck(fer)
	}
}

// startFCM recommends ferric carboxymaltose with its follow-up.
func (ev *eval) startFCM(rule string, because []string) {
	r := ev.rec(rule, "", nil, because)
	r.Dose = ev.courseDose("ferric_carboxymaltose")
	ev.phosphateCheck()
	for i := 0; i < ev.t.postInfCount; i++ {
		ev.monitor("ferritin_after_infusion", ev.asOf.AddDays(ev.t.postInfFirstDays+i*ev.t.postInfIntervalDays), "")
	}
}

func (ev *eval) courseDose(id string) *ekbom.Dose {
	d, ok := ev.e.kb.Drug(id)
	if !ok || d.RLSDose == nil {
		return nil
	}
	return &ekbom.Dose{Text: d.RLSDose.StartText, AmountMg: ptr(d.RLSDose.StartMg), Route: d.Route}
}

// phosphateCheck asks for phosphate before a repeat FCM course.
func (ev *eval) phosphateCheck() {
	var prior []string
	for _, inf := range ev.p.IronInfusions {
		if inf.Product == "ferric_carboxymaltose" && !inf.Date.After(ev.asOf) {
			prior = append(prior, "ferric carboxymaltose "+mg(inf.DoseMg)+" on "+dateText(inf.Date))
		}
	}
	if len(prior) == 0 || ev.has("iron.check_phosphate") {
		return
	}
	ev.rec("iron.check_phosphate", "", nil, prior)
	ev.monitor("phosphate_before_repeat_fcm", ekbom.Date{}, "")
}

func (ev *eval) crpCheck(fer *ekbom.Lab) {
	if crp := ev.lab(ekbom.CRP); crp != nil && ev.asOf.DaysSince(crp.Date) <= ev.t.testMaxAgeDays {
		return
	}
	if ev.p.Has(ekbom.InflammatoryDisease) {
		return
	}
	ev.rec("iron.test_crp", "", nil, []string{labText(fer) + " above the AASM threshold with no recent CRP"})
}

// ferritinConfounders warns when ferritin may overstate iron stores.
func (ev *eval) ferritinConfounders(fer *ekbom.Lab) {
	var why []string
	if ev.p.Has(ekbom.InflammatoryDisease) {
		why = append(why, "inflammatory disease")
	}
	if crp := ev.lab(ekbom.CRP); crp != nil && crp.Value > ev.t.crpHigh {
		why = append(why, labText(crp)+" > "+num(ev.t.crpHigh)+" mg/L")
	}
	if ev.dialysis {
		why = append(why, "end-stage renal disease")
	} else if ev.p.Has(ekbom.CKD) {
		why = append(why, "chronic kidney disease")
	}
	if ev.elderly() {
		why = append(why, "age "+strconv.Itoa(ev.age))
	}
	if len(why) == 0 {
		return
	}
	ev.warn("warn.ferritin_confounded", textVars{{"reason", joinAnd(why)}}, append([]string{labText(fer)}, why...))
}

// oralIronFailed reports an oral-iron trial that did not work.
func (ev *eval) oralIronFailed() (bool, []string) {
	var why []string
	for _, m := range ev.pastOf(classIs("oral_iron")) {
		if m.Outcome == ekbom.Ineffective || m.Outcome == ekbom.Intolerant || m.Outcome == ekbom.Partial {
			why = append(why, "oral iron ("+m.Resolved.Ingredient+") "+outcomeText(m.Outcome))
		}
	}
	for _, m := range ev.currentOf(classIs("oral_iron")) {
		if m.Outcome == ekbom.Intolerant {
			why = append(why, "oral iron ("+m.Resolved.Ingredient+") not tolerated")
		} else if m.Start != nil && ev.asOf.DaysSince(*m.Start) >= ev.t.oralTrialDays {
			why = append(why, "on oral iron since "+dateText(*m.Start)+" and iron is still low")
		}
	}
	return len(why) > 0, why
}

func outcomeText(o ekbom.Outcome) string {
	switch o {
	case ekbom.Ineffective:
		return "was ineffective"
	case ekbom.Intolerant:
		return "was not tolerated"
	case ekbom.Partial:
		return "helped only partly"
	case ekbom.Augmented:
		return "caused augmentation"
	}
	return "outcome not recorded"
}

func (ev *eval) lastInfusion() *ekbom.Infusion {
	var last *ekbom.Infusion
	for i := range ev.p.IronInfusions {
		inf := &ev.p.IronInfusions[i]
		if inf.Date.After(ev.asOf) {
			continue
		}
		if last == nil || inf.Date.After(last.Date) {
			last = inf
		}
	}
	return last
}

// postInfusionMonitoring schedules ferritin about 8 weeks after an infusion
// and then at 4-week intervals, for the checks still ahead.
func (ev *eval) postInfusionMonitoring(d ekbom.Date) {
	for i := 0; i < ev.t.postInfCount; i++ {
		due := d.AddDays(ev.t.postInfFirstDays + i*ev.t.postInfIntervalDays)
		if !due.Before(ev.asOf) {
			ev.monitor("ferritin_after_infusion", due, "")
		}
	}
}

func (ev *eval) ironESRD(fer, ts *ekbom.Lab) {
	t := ev.t
	if ts == nil {
		ev.iron = ironUnknown
		ev.missing("transferrin saturation (TSAT)")
		ev.rec("iron.test_tsat", "", nil, []string{labText(fer) + " without a TSAT"})
		return
	}
	because := []string{"end-stage renal disease", labText(fer), labText(ts)}
	if fer.Value < t.esrdFerritinMax && ts.Value < t.esrdTSATMax {
		ev.iron = ironDeficient
		ev.finding("finding.iron_deficient", textVars{{"detail", "ESRD: ferritin < " + num(t.esrdFerritinMax) + " ng/mL and TSAT < " + num(t.esrdTSATMax) + " %"}}, because)
		if ev.declined("iron_sucrose") {
			ev.finding("finding.iron_declined", textVars{{"what", "IV iron"}}, because)
			return
		}
		r := ev.rec("iron.esrd_iv_sucrose", "", nil, because)
		r.Dose = ev.courseDose("iron_sucrose")
		for k := 0; k < ev.t.postInfCount; k++ {
			ev.monitor("ferritin_after_infusion", ev.asOf.AddDays(ev.t.postInfFirstDays+k*ev.t.postInfIntervalDays), "")
		}
		return
	}
	ev.iron = ironOptimized
	ev.finding("finding.esrd_iron_not_indicated", nil, because)
}

func (ev *eval) ironPregnancy(fer *ekbom.Lab) {
	t := ev.t
	because := []string{string(ev.p.Pregnancy), labText(fer)}
	if fer.Value >= t.pregOralFerritinMax {
		ev.iron = ironOptimized
		ev.finding("finding.iron_optimized", nil, because)
		return
	}
	ev.iron = ironDeficient
	ev.finding("finding.iron_deficient", textVars{{"detail", "ferritin " + num(fer.Value) + " ng/mL < " + num(t.pregOralFerritinMax) + " in pregnancy or lactation"}}, because)
	if !ev.declined("ferrous_sulfate") {
		ev.rec("iron.pregnancy_oral", "", nil, because)
	}
	if fer.Value < t.pregIVFerritinMax && ev.p.Pregnancy == ekbom.Pregnant && !ev.declined("ferric_carboxymaltose") {
		ev.rec("iron.pregnancy_iv", "", nil, append(because, "ferritin < "+num(t.pregIVFerritinMax)+" ng/mL"))
	}
}

// productName names an infusion product by the knowledge base's drug name.
func (ev *eval) productName(id string) string {
	if d, ok := ev.e.kb.Drug(id); ok {
		return d.Name
	}
	return id
}
