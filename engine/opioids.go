package engine

import (
	"strconv"
	"strings"

	"ekbom"
	"ekbom/dose"
	"ekbom/kb"
)

// ironAddressed reports whether iron no longer stands in the way of calling
// the RLS refractory or of moving on to opioids (conflict C7).
func (ev *eval) ironAddressed() bool {
	return ev.iron == ironOptimized || ev.iron == ironOverload
}

// opioidChoice returns the opioid ekbom would start: methadone when
// symptoms run through the day (long action), otherwise extended-release
// oxycodone; whichever the patient has not declined. "" when both are.
func (ev *eval) opioidChoice() string {
	order := ev.e.kb.Choices.OpioidOrder.Drugs
	if isTrue(ev.p.Symptoms.DaytimeSymptoms) {
		order = ev.e.kb.Choices.OpioidOrderDaytime.Drugs
	}
	for _, id := range order {
		if !ev.declined(id) {
			return id
		}
	}
	return ""
}

// readyForSecondLine reports whether the earlier steps are satisfied: iron
// addressed, exacerbating factors removed, and an alpha-2-delta ligand failed,
// not tolerated or declined.
func (ev *eval) readyForSecondLine() bool {
	// Untreated sleep apnea is handled where it matters (opioids are deferred
	// until it is treated), so only exacerbating drugs hold this back.
	return ev.ironAddressed() && !ev.exacerbatorRx && (ev.a2dFailed || ev.a2dIntolerant || ev.a2dDeclined)
}

// secondLine is step 5: dipyridamole, placed after opioids and peroneal nerve
// stimulation by priority (conflict C4).
func (ev *eval) secondLine() {
	if ev.pregnant() || ev.declined("dipyridamole") {
		return
	}
	if !ev.readyForSecondLine() || ev.osaUntreated {
		return // treat the sleep apnea first; then judge refractoriness
	}
	because := append([]string{}, ev.a2dFacts...)
	if ev.a2dDeclined {
		because = append(because, "alpha-2-delta ligands declined")
	}
	r := ev.rec("second_line.dipyridamole", "", nil, because)
	if d, ok := ev.e.kb.Drug("dipyridamole"); ok && d.RLSDose != nil {
		r.Dose = &ekbom.Dose{Text: d.RLSDose.StartText, MaxDailyMg: ptr(d.RLSDose.MaxMg), Route: d.Route}
	}
}

// opioids is step 6.
func (ev *eval) opioids() {
	if ev.pregnant() {
		return
	}
	p := ev.p
	current := ev.currentOf(classIs("opioid"))
	ev.opioidDeclined = p.Declined("", "opioid")
	if len(current) > 0 {
		ev.reviewCurrentOpioids(current)
		return
	}
	eligible := ev.opioidForAug || ev.readyForSecondLine()
	if !eligible {
		if ev.a2dFailed || ev.a2dIntolerant {
			var why []string
			if !ev.ironAddressed() {
				why = append(why, "iron is not yet optimized")
			}
			if ev.exacerbatorRx {
				why = append(why, "drugs that worsen RLS are still taken")
			}
			if len(why) > 0 {
				ev.finding("finding.opioids_deferred", textVars{{"reason", joinAnd(why) + " — deal with them first"}}, ev.triggerFacts())
			}
		}
		return
	}
	because := append([]string{}, ev.a2dFacts...)
	if ev.opioidForAug {
		because = append(because, "opioid chosen to cover the dopamine-agonist switch")
	}
	drug := ev.opioidChoice()
	if ev.opioidDeclined || drug == "" {
		ev.finding("finding.opioids_declined", nil, []string{"preferences.declines opioids"})
		ev.opioidDeclined = true
		return
	}
	if ev.oud {
		ev.opioidBlocked = true
		cond := ev.oudText()
		ev.warn("warn.opioid_use_disorder", textVars{{"condition", cond}}, []string{cond})
		ev.rec("opioids.use_disorder", "", textVars{{"condition", cond}}, []string{cond})
		ev.finding("finding.opioids_blocked", textVars{{"reason", strings.ToLower(cond)}}, []string{cond})
		return
	}
	if p.Screening.OpioidRisk == "high" {
		ev.opioidBlocked = true
		ev.rec("opioids.high_risk", "", nil, []string{"screening.opioid_risk high"})
		ev.finding("finding.opioids_blocked", textVars{{"reason", "high misuse risk on screening"}}, []string{"screening.opioid_risk high"})
		ev.screening()
		return
	}
	rule := "opioids.start_oxycodone"
	if drug == "methadone" {
		rule = "opioids.start_methadone"
		if isTrue(p.Symptoms.DaytimeSymptoms) {
			because = append(because, "daytime symptoms: long-acting methadone covers day and night")
		}
	}
	d, _ := ev.e.kb.Drug(drug)
	if ev.osaUntreated {
		// The screening bundle still applies; naloxone, bowel care and the
		// opioid review wait for the prescription itself.
		ev.rec("opioids.defer_osa", drug, nil, append(because, "untreated sleep apnea"))
		ev.screening()
		return
	}
	r := ev.rec(rule, drug, nil, because)
	rd := d.RLSDose
	r.Dose = &ekbom.Dose{Text: rd.StartText, AmountMg: ptr(rd.StartMg), TimesPerDay: ptr(1.0),
		DailyMg: ptr(rd.StartMg), MaxDailyMg: ptr(rd.UsualMaxMg), Route: d.Route}
	if ev.elderly() {
		r.Because = append(r.Because, "age "+strconv.Itoa(ev.age)+": start at the lowest dose")
	}
	if drug == "methadone" {
		ev.rec("opioids.methadone_ecg", "", nil, []string{"methadone start"})
	}
	ev.screening()
	ev.naloxone(d.RLSDose.StartMg * *d.MMEFactor)
	ev.rec("opioids.bowel", "", nil, []string{"opioid start"})
	ev.benzoTaper()
	ev.monitor("opioid_review_start", ekbom.Date{}, "")
}

func (ev *eval) oudText() string {
	var c []string
	if ev.p.Has(ekbom.OpioidUseDisorder) {
		c = append(c, "opioid use disorder")
	}
	if ev.p.Has(ekbom.SubstanceUseDisorder) {
		c = append(c, "substance use disorder")
	}
	s := joinAnd(c)
	return strings.ToUpper(s[:1]) + s[1:]
}

func (ev *eval) reviewCurrentOpioids(current []*ekbom.Medication) {
	var doses []dose.OpioidDose
	for _, m := range current {
		d := ev.drug(m)
		vars := textVars{{"drug", d.Name}, {"dose", doseText(m, d)}}
		because := []string{"taking " + medText(m)}
		above := false
		if m.Resolved.DailyMg == nil {
			ev.missing("dose of " + d.Name)
		} else {
			f := 0.0
			if d.MMEFactor != nil {
				f = *d.MMEFactor
			}
			doses = append(doses, dose.OpioidDose{Drug: d.Name, DailyMg: *m.Resolved.DailyMg, Factor: f, Included: d.MMEFactor != nil})
			if rd := d.RLSDose; rd != nil && rd.UsualMaxMg > 0 && *m.Resolved.DailyMg > rd.UsualMaxMg+1e-9 {
				vars = vars.with("range", num(rd.UsualMinMg)+"–"+mgDay(rd.UsualMaxMg))
				ev.rec("opioids.above_range", d.ID, vars, because)
				above = true
				ev.monitor("opioid_review_start", ekbom.Date{}, "")
			}
		}
		if !ev.oud && !above {
			ev.rec("opioids.continue", d.ID, vars, because)
		}
		if d.ID == "methadone" {
			ev.rec("opioids.methadone_ecg", "", nil, []string{"taking methadone"})
		}
		if d.ID == "tramadol" {
			ev.missing("tramadol can itself cause augmentation — screen for it")
		}
	}
	total, excluded := dose.TotalMME(doses)
	ex := ""
	if len(excluded) > 0 {
		ex = " (not counted: " + joinAnd(excluded) + " — no CDC factor or dose)"
	}
	if len(doses) > 0 {
		ev.finding("finding.mme", textVars{{"mme", num(roundTo(total, 1))}, {"excluded", ex}}, nil)
	}
	if ev.oud {
		cond := ev.oudText()
		ev.warn("warn.opioid_use_disorder", textVars{{"condition", cond}}, []string{cond, "taking an opioid"})
		ev.rec("opioids.use_disorder", "", textVars{{"condition", cond}}, []string{cond})
	}
	ev.screening()
	ev.naloxone(total)
	ev.benzoTaper()
	ev.monitor("opioid_review_maintenance", ekbom.Date{}, "")
}

// screening adds the mandatory opioid safety screening bundle, showing what
// is done and what is still open.
func (ev *eval) screening() {
	p := ev.p
	s := p.Screening
	var items, open []string
	switch s.OpioidRisk {
	case "":
		items = append(items, "misuse-risk questionnaire (e.g. Opioid Risk Tool or SOAPP-R): not yet done")
		open = append(open, "opioid misuse risk screening")
		ev.missing("opioid misuse risk screening (e.g. Opioid Risk Tool)")
	default:
		items = append(items, "misuse-risk questionnaire: "+s.OpioidRisk+" risk")
	}
	if isTrue(s.PDMPChecked) {
		items = append(items, "prescription drug monitoring program (PDMP): checked")
	} else {
		items = append(items, "prescription drug monitoring program (PDMP): not yet checked")
		open = append(open, "PDMP check")
		ev.missing("PDMP check")
	}
	items = append(items, "urine drug screen", "written opioid agreement")
	switch {
	case ev.osaUntreated:
		items = append(items, "sleep apnea: untreated — treat before an opioid")
	case p.Has(ekbom.SleepApneaTreated):
		items = append(items, "sleep apnea: treated — confirm adherence")
	case s.OSAScreen == "negative":
		items = append(items, "sleep apnea: screen negative")
	default:
		items = append(items, "sleep apnea: not yet screened (e.g. STOP-BANG)")
		ev.missing("sleep apnea screening (e.g. STOP-BANG)")
	}
	if p.Has(ekbom.COPD) {
		items = append(items, "COPD present: higher risk of respiratory depression")
	} else {
		items = append(items, "COPD or reduced lung function: none recorded")
	}
	var benzos []string
	for _, m := range ev.currentOf(func(d *kb.Drug) bool { return d.Class == "benzodiazepine" }) {
		benzos = append(benzos, ev.drug(m).Name)
	}
	if len(benzos) > 0 {
		items = append(items, "benzodiazepines: "+joinAnd(benzos)+" — avoid the combination")
	} else {
		items = append(items, "benzodiazepines and other CNS depressants: none recorded")
	}
	if ev.oud {
		items = append(items, "substance use disorder: present")
	} else {
		items = append(items, "history of opioid or other substance use disorder: none recorded")
	}
	ev.rec("opioids.screening", "", textVars{{"items", strings.Join(items, "; ")}}, open)
}

func (ev *eval) naloxone(mme float64) {
	var why []string
	if mme >= ev.t.naloxoneMME {
		why = append(why, "about "+num(roundTo(mme, 1))+" MME/day ≥ "+num(ev.t.naloxoneMME))
	}
	if len(ev.currentOf(classIs("benzodiazepine"))) > 0 {
		why = append(why, "concurrent benzodiazepine")
	}
	if ev.oud {
		why = append(why, "substance use disorder")
	}
	extra := ""
	if len(why) > 0 {
		extra = " — especially important here (" + joinAnd(why) + ")"
	}
	ev.rec("opioids.naloxone", "", textVars{{"extra", extra}}, append([]string{"opioid current or recommended"}, why...))
}

func (ev *eval) benzoTaper() {
	for _, m := range ev.currentOf(classIs("benzodiazepine")) {
		d := ev.drug(m)
		ev.rec("opioids.benzo_taper", d.ID, textVars{{"drug", d.Name}}, []string{"taking " + medText(m)})
	}
}

// nonDrug is step 7.
func (ev *eval) nonDrug() {
	ev.rec("non_drug.measures", "", nil, nil)
	// The device is authorised for primary RLS, so not for RLS secondary to
	// kidney failure or in pregnancy.
	if ev.pregnant() || ev.dialysis || ev.declined("peroneal_nerve_stimulation") {
		return
	}
	refractory := (ev.readyForSecondLine() && !ev.osaUntreated) || ev.augmentation
	if !refractory || (ev.irls != nil && *ev.irls < ev.t.tomacIRLS) {
		return
	}
	because := append([]string{}, ev.a2dFacts...)
	if ev.augmentation {
		because = append(because, "dopaminergic augmentation")
	}
	if ev.irls != nil {
		because = append(because, "IRLS "+strconv.Itoa(*ev.irls)+" ≥ "+strconv.Itoa(ev.t.tomacIRLS)+" (moderate to severe)")
	} else {
		because = append(because, "IRLS unknown: for moderate to severe RLS only")
	}
	r := ev.rec("non_drug.tomac", "", nil, because)
	if ev.opioidDeclined || ev.opioidBlocked {
		r.Priority = 2
		r.Because = append(r.Because, "opioids declined or not suitable")
	}
}

// specialPopulations is step 8.
func (ev *eval) specialPopulations() {
	p := ev.p
	if ev.dialysis {
		if !ev.declined("vitamin_c") && ev.iron != ironOverload {
			r := ev.rec("special.esrd_vitamin_c", "", nil, []string{"end-stage renal disease"})
			r.Dose = ev.courseDose("vitamin_c")
		}
		if ev.a2dStarted != "" || len(ev.currentOf(classIs("alpha2delta_ligand"))) > 0 {
			ev.rec("special.esrd_caution", "", nil, []string{"end-stage renal disease", "alpha-2-delta ligand current or recommended"})
		}
	}
	if p.PregnancyDefaulted {
		// The contract's default, never assumed silently: iron, drug and
		// opioid choices all change in pregnancy and lactation.
		ev.missing("pregnancy or breastfeeding: not recorded, planned as neither")
	}
	if ev.pregnant() {
		state := map[ekbom.Pregnancy]string{ekbom.Pregnant: "Pregnancy", ekbom.Lactating: "Lactation"}[p.Pregnancy]
		ev.warn("warn.pregnancy", textVars{{"state", state}}, []string{"pregnancy: " + string(p.Pregnancy)})
		ev.rec("special.pregnancy", "", textVars{{"state", state}}, []string{"pregnancy: " + string(p.Pregnancy)})
		severe := ev.irls != nil && *ev.irls >= ev.t.irlsSevere
		refractory := severe && ev.ironAddressed() && !ev.exacerbators
		switch {
		case p.Pregnancy == ekbom.Lactating:
			if !ev.declined("gabapentin") {
				ev.rec("special.lactation_gabapentin", "", nil, []string{"lactating"})
			}
		case refractory:
			because := []string{"pregnant", "IRLS " + strconv.Itoa(*ev.irls) + " (severe)", "iron replete and no exacerbating factors left"}
			if !ev.declined("clonazepam") {
				ev.rec("special.pregnancy_clonazepam", "", nil, because)
			}
			if !ev.declined("oxycodone") && !ev.oud && p.Screening.OpioidRisk != "high" {
				ev.rec("special.pregnancy_oxycodone", "", nil, because)
				ev.screening()
				ev.naloxone(0)
			}
		}
		for _, m := range ev.dopaminergic {
			d := ev.drug(m)
			ev.rec("special.pregnancy_stop_da", d.ID, textVars{{"drug", d.Name}}, []string{"taking " + medText(m), string(p.Pregnancy)})
			ev.warn("warn.abrupt_stop", textVars{{"drug", d.Name}}, []string{"withdrawal of " + medText(m) + " planned"})
		}
	}
	if ev.elderly() {
		ev.rec("special.elderly", "", textVars{{"age", strconv.Itoa(ev.age)}}, []string{"age " + strconv.Itoa(ev.age) + " ≥ " + strconv.Itoa(ev.t.elderlyAge)})
	}
	if isTrue(p.Symptoms.Hyperarousal) {
		ev.finding("finding.hyperarousal", nil, []string{"symptoms.hyperarousal"})
	}
}
