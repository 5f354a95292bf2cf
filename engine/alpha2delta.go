package engine

import (
	"fmt"
	"math"
	"strconv"

	"ekbom"
	"ekbom/dose"
	"ekbom/kb"
)

// assessAlpha2Delta judges current and past alpha-2-delta trials. It is
// idempotent: the augmentation step may call it early.
func (ev *eval) assessAlpha2Delta() {
	if ev.a2dAssessed {
		return
	}
	ev.a2dAssessed = true
	ev.a2dDeclined = ev.p.Declined("", "alpha2delta_ligand")
	judge := func(m *ekbom.Medication, current bool) {
		d := ev.drug(m)
		rd := d.RLSDose
		name := d.Name
		switch {
		case m.Outcome == ekbom.Intolerant:
			ev.a2dIntolerant = true
			ev.setTried(d.ID, "intolerant")
			ev.a2dFacts = append(ev.a2dFacts, name+" not tolerated")
			return
		case m.Resolved.DailyMg == nil:
			ev.a2dUnknown = true
			ev.finding("finding.a2d_unknown_dose", textVars{{"drug", name}}, []string{medText(m)})
			ev.missing("dose of " + name)
			ev.setTried(d.ID, "unknown")
			return
		}
		daily := *m.Resolved.DailyMg
		adequateDose := rd != nil && daily+1e-9 >= rd.AdequateMg
		days := -1
		if m.Start != nil {
			end := ev.asOf
			if !current && m.Stop != nil {
				end = *m.Stop
			}
			days = end.DaysSince(*m.Start)
		}
		longEnough := days < 0 || days >= ev.t.a2dMinTrialDays
		desc := name + " " + mgDay(daily)
		if days >= 0 {
			desc += " for " + strconv.Itoa(days) + " days"
		}
		failedOutcome := m.Outcome == ekbom.Ineffective || m.Outcome == ekbom.Partial
		persisting := current && ev.irls != nil && *ev.irls >= ev.t.irlsModerate
		if current && ev.singleEveningDoseWithDaytimeSymptoms(m) {
			// Conflict C5: split the dose before judging the trial.
			ev.setTried(d.ID, "timing")
			return
		}
		switch {
		case adequateDose && longEnough && (failedOutcome || persisting):
			ev.a2dFailed = true
			ev.a2dAdequate = true
			ev.setTried(d.ID, "failed")
			ev.a2dFacts = append(ev.a2dFacts, desc+", symptoms persist")
		case adequateDose && longEnough:
			ev.a2dAdequate = true
			ev.setTried(d.ID, "adequate")
		case failedOutcome || !current:
			ev.setTried(d.ID, "inadequate")
			why := "below the adequate dose of " + mgDay(rd.AdequateMg)
			if adequateDose {
				why = "shorter than " + strconv.Itoa(ev.t.a2dMinTrialDays) + " days"
			}
			ev.finding("finding.a2d_inadequate", textVars{{"detail", desc + ", " + why}}, []string{medText(m)})
		default:
			ev.setTried(d.ID, "titrating")
		}
	}
	for _, m := range ev.pastOf(classIs("alpha2delta_ligand")) {
		judge(m, false)
	}
	for _, m := range ev.currentOf(classIs("alpha2delta_ligand")) {
		judge(m, true)
	}
}

// singleEveningDoseWithDaytimeSymptoms reports gabapentin taken once in the
// evening while symptoms start earlier in the day.
func (ev *eval) singleEveningDoseWithDaytimeSymptoms(m *ekbom.Medication) bool {
	single := m.Resolved.Bedtime || (m.TimesPerDay != nil && *m.TimesPerDay == 1)
	return m.Resolved.Ingredient == "gabapentin" && single && isTrue(ev.p.Symptoms.DaytimeSymptoms)
}

func (ev *eval) allA2DIntolerant() bool {
	for _, id := range ev.e.kb.Choices.Alpha2DeltaOrder.Drugs {
		if ev.tried(id) != "intolerant" {
			return false
		}
	}
	return true
}

// renalBand returns the dose band of d for this patient's kidney function.
func (ev *eval) renalBand(d *kb.Drug) (dose.RenalBand, bool) {
	var bands []dose.RenalBand
	for _, b := range d.RenalBands {
		if b.Dialysis != ev.dialysis {
			continue
		}
		bands = append(bands, dose.RenalBand{MinCrCl: b.MinCrCl, MaxCrCl: b.MaxCrCl,
			MinDailyMg: b.MinDailyMg, MaxDailyMg: b.MaxDailyMg, TimesPerDay: b.TimesPerDay, Note: b.Note})
	}
	if len(bands) == 0 {
		return dose.RenalBand{}, false
	}
	if ev.dialysis {
		return bands[0], true
	}
	if ev.crcl == nil {
		return dose.RenalBand{}, false
	}
	return dose.RenalLimit(bands, *ev.crcl)
}

// doseCap is the highest daily dose allowed for d: the RLS maximum, lowered
// by the renal band. When kidney function is unknown the lowest band applies
// until it is measured. The second result explains a renal cap.
func (ev *eval) doseCap(d *kb.Drug) (float64, string) {
	cap := d.RLSDose.MaxMg
	if len(d.RenalBands) == 0 {
		return cap, ""
	}
	if b, ok := ev.renalBand(d); ok {
		if b.MaxDailyMg < cap {
			return b.MaxDailyMg, ev.renalText
		}
		return cap, ""
	}
	low := math.Inf(1)
	for _, b := range d.RenalBands {
		if !b.Dialysis && b.MaxDailyMg < low {
			low = b.MaxDailyMg
		}
	}
	if low < cap {
		return low, "kidney function not yet known"
	}
	return cap, ""
}

// alpha2delta is step 4.
func (ev *eval) alpha2delta() {
	ev.assessAlpha2Delta()
	if ev.pregnant() {
		return
	}
	cur := ev.currentOf(classIs("alpha2delta_ligand"))
	if len(cur) > 0 {
		for _, m := range cur {
			ev.optimizeCurrent(m)
		}
		ev.a2dSummary()
		return
	}
	if ev.a2dDeclined {
		ev.finding("finding.a2d_declined", nil, []string{"preferences.declines alpha2delta_ligand"})
		return
	}
	if ev.opioidForAug && !ev.a2dFailed {
		return // one change at a time: the opioid covers the switch first (C10)
	}
	// Offer the first untried, tolerated, accepted agent.
	var failed []string
	for _, id := range ev.e.kb.Choices.Alpha2DeltaOrder.Drugs {
		switch ev.tried(id) {
		case "failed":
			d, _ := ev.e.kb.Drug(id)
			failed = append(failed, d.Name)
		}
	}
	for _, id := range ev.e.kb.Choices.Alpha2DeltaOrder.Drugs {
		st := ev.tried(id)
		if st == "intolerant" || st == "failed" || ev.declined(id) {
			continue
		}
		if ev.dialysis && id != "gabapentin" {
			continue // conflict C8: gabapentin is the ESRD choice
		}
		if id == "gabapentin_enacarbil" && ev.tried("gabapentin") != "" && ev.tried("gabapentin") != "inadequate" {
			continue // same active moiety as gabapentin
		}
		d, _ := ev.e.kb.Drug(id)
		if len(failed) > 0 {
			r := ev.rec("alpha2delta.switch_agent", id, textVars{{"tried", joinAnd(failed)}, {"drug", d.Name}}, ev.a2dFacts)
			ev.startSchedule(r, d, nil)
			break
		}
		ev.startAlpha2Delta(d, st == "inadequate")
		break
	}
	ev.a2dSummary()
}

func (ev *eval) a2dSummary() {
	if ev.a2dFailed {
		ev.finding("finding.a2d_failed", textVars{{"detail", joinAnd(ev.a2dFacts)}}, ev.a2dFacts)
	} else if ev.a2dIntolerant && !ev.a2dAdequate {
		ev.finding("finding.a2d_intolerant", textVars{{"detail", joinAnd(ev.a2dFacts)}}, ev.a2dFacts)
	}
}

func (ev *eval) startAlpha2Delta(d *kb.Drug, retrial bool) {
	var because []string
	if retrial {
		because = append(because, "previous trial was not adequate")
	}
	if ev.augmentation {
		because = append(because, "augmentation: alpha-2-delta ligand added before the dopamine-agonist taper")
	}
	if len(ev.dopaminergic) == 0 && !retrial {
		because = append(because, "no adequate alpha-2-delta trial on record; first-line (AASM strong)")
	}
	if ev.dialysis {
		r := ev.rec("alpha2delta.esrd_start", d.ID, nil, append(because, "end-stage renal disease"))
		ev.startSchedule(r, d, nil)
		return
	}
	alts := "Pregabalin or gabapentin enacarbil are equally recommended alternatives; the drugs are not interchangeable."
	switch d.ID {
	case "pregabalin":
		alts = "Gabapentin or gabapentin enacarbil are equally recommended alternatives; the drugs are not interchangeable."
	case "gabapentin_enacarbil":
		alts = "Gabapentin or pregabalin are alternatives; the drugs are not interchangeable."
	}
	r := ev.rec("alpha2delta.start", d.ID, textVars{{"drug", d.Name}, {"timing", d.RLSDose.Divided}, {"alternatives", alts}}, because)
	ev.startSchedule(r, d, nil)
}

// startSchedule attaches to r a titration from the start dose (or from the
// current dose when cur is set).
func (ev *eval) startSchedule(r *ekbom.Recommendation, d *kb.Drug, cur *float64) {
	rd := d.RLSDose
	cap, capWhy := ev.doseCap(d)
	start := rd.StartMg
	if ev.elderly() && rd.ElderlyStartMg > 0 {
		start = rd.ElderlyStartMg
		r.Because = append(r.Because, "age "+strconv.Itoa(ev.age)+": lower start dose")
	}
	target := rd.UsualMaxMg
	if target <= 0 {
		target = rd.MaxMg
	}
	if cur != nil {
		start = math.Min(*cur+rd.StepMg, target)
	}
	if start > cap {
		start = cap
	}
	if capWhy != "" {
		r.Because = append(r.Because, "capped at "+mgDay(cap)+": "+capWhy)
		if capWhy == "kidney function not yet known" {
			ev.renalTest(d)
		}
	}
	times := rd.TimesPerDay
	if b, ok := ev.renalBand(d); ok && b.TimesPerDay > 0 && b.TimesPerDay < times {
		times = b.TimesPerDay
	}
	if times < 1 {
		times = 1
	}
	step := rd.StepMg
	if ev.dialysis && d.ID == "gabapentin" {
		start = math.Min(100, cap)
	}
	if (ev.elderly() || ev.dialysis) && cur == nil && start < step {
		step = start // start low, go slow: raise by the start dose
	}
	timing := rd.Timing
	if ev.dialysis {
		timing = "after dialysis on dialysis days, otherwise at bedtime"
	}
	sched, err := dose.TitrationSchedule(ev.asOf, dose.Titration{
		Drug: d.Name, StartDailyMg: start, StepMg: step, StepDays: rd.StepDays,
		TargetDailyMg: target, MaxDailyMg: cap, TimesPerDay: times, Timing: timing,
	})
	if err != nil {
		ev.fail(fmt.Errorf("engine: titration for %s: %w", d.ID, err))
		return
	}
	end := sched[len(sched)-1].DailyMg
	r.Schedule = sched
	r.Dose = &ekbom.Dose{
		Text:       "start " + mgDay(start) + ", titrate by " + mg(step) + " every " + strconv.Itoa(rd.StepDays) + " days to " + mgDay(end) + " (maximum " + mgDay(cap) + ")",
		AmountMg:   ptr(start),
		DailyMg:    ptr(end),
		MaxDailyMg: ptr(cap),
		Route:      d.Route,
	}
	if ev.dialysis && d.ID == "gabapentin" {
		r.Dose.Text = "100 mg after each dialysis or at bedtime; at most " + mgDay(cap)
	}
	ev.a2dStarted = d.ID
	ev.monitor("irls_after_change", ekbom.Date{}, "")
}

func (ev *eval) renalTest(d *kb.Drug) {
	if ev.has("alpha2delta.test_renal") {
		return
	}
	ev.rec("alpha2delta.test_renal", "", nil, []string{d.Name + " is renally cleared", "no creatinine clearance on record"})
	ev.monitor("renal_function_check", ekbom.Date{}, "")
}

// optimizeCurrent reviews an alpha-2-delta ligand the patient takes now.
func (ev *eval) optimizeCurrent(m *ekbom.Medication) {
	d := ev.drug(m)
	rd := d.RLSDose
	vars := textVars{{"drug", d.Name}, {"current", doseText(m, d)}}
	because := []string{"taking " + medText(m)}
	daily := m.Resolved.DailyMg
	if daily == nil {
		if _, why := ev.doseCap(d); why == "kidney function not yet known" {
			ev.renalTest(d)
		}
		return
	}
	if ev.dialysis && d.ID != "gabapentin" && ev.tried("gabapentin") != "intolerant" && !ev.declined("gabapentin") {
		g, _ := ev.e.kb.Drug("gabapentin")
		r := ev.rec("alpha2delta.esrd_prefer_gabapentin", "gabapentin", textVars{{"drug", d.Name}}, append(because, "end-stage renal disease"))
		ev.startSchedule(r, g, nil)
	}
	cap, capWhy := ev.doseCap(d)
	if capWhy != "" && capWhy != "kidney function not yet known" && *daily > cap+1e-9 {
		vars = vars.with("max", mgDay(cap))
		vars = vars.with("renal", capWhy)
		r := ev.rec("alpha2delta.reduce_renal", d.ID, vars, append(because, capWhy))
		r.Dose = &ekbom.Dose{Text: "at most " + mgDay(cap), DailyMg: ptr(cap), MaxDailyMg: ptr(cap), Route: d.Route}
		ev.monitor("irls_after_change", ekbom.Date{}, "")
		return
	}
	if capWhy == "kidney function not yet known" {
		ev.renalTest(d)
	}
	if m.Outcome == ekbom.Intolerant {
		return
	}
	target := rd.UsualMaxMg
	controlled := ev.irls != nil && *ev.irls < ev.t.irlsModerate
	if ev.iron == ironPending {
		because = append(because, "recent IV iron: do not change other RLS drugs until it can be judged (C18)")
		ev.conflict("C18")
	} else if controlled {
		because = append(because, "IRLS "+strconv.Itoa(*ev.irls)+": symptoms controlled — titrate to effect, not to a number")
	}
	if *daily+1e-9 < rd.AdequateMg && *daily+1e-9 < cap && !controlled && ev.iron != ironPending {
		vars = vars.with("target", mgDay(math.Min(target, cap)))
		vars = vars.with("adequate", mgDay(rd.AdequateMg))
		r := ev.rec("alpha2delta.optimize", d.ID, vars, because)
		ev.startSchedule(r, d, daily)
		return
	}
	if ev.singleEveningDoseWithDaytimeSymptoms(m) {
		r := ev.rec("alpha2delta.divide", d.ID, vars, append(because, "daytime symptoms on a single evening dose"))
		half := *daily / 2
		if *daily <= cap+1e-9 {
			r.Dose = &ekbom.Dose{Text: "same total, " + mgDay(*daily) + ": " + mg(half) + " in the afternoon and " + mg(*daily-half) + " at bedtime",
				AmountMg: ptr(half), TimesPerDay: ptr(2.0), DailyMg: ptr(*daily), MaxDailyMg: ptr(*daily), Route: d.Route}
		} else {
			// Kidney function unknown and the dose above the lowest band: no
			// numbers until creatinine clearance confirms the dose is allowed.
			r.Dose = &ekbom.Dose{Text: "same total daily dose, split into an afternoon and a bedtime dose, once kidney function confirms the dose is within limits", Route: d.Route}
		}
		ev.conflict("C5")
	}
	ev.rec("alpha2delta.continue", d.ID, vars, because)
	// An adequate trial that failed: the other ligand may still help.
	if ev.tried(d.ID) == "failed" {
		other := ""
		switch d.ID {
		case "gabapentin", "gabapentin_enacarbil":
			other = "pregabalin"
		case "pregabalin":
			other = "gabapentin"
		}
		if ev.dialysis {
			other = "gabapentin" // conflict C8: gabapentin is the ESRD choice
			ev.conflict("C8")
		}
		if other != d.ID && ev.tried(other) == "" && !ev.declined(other) {
			od, _ := ev.e.kb.Drug(other)
			r := ev.rec("alpha2delta.switch_agent", other, textVars{{"tried", d.Name}, {"drug", od.Name}}, ev.a2dFacts)
			ev.startSchedule(r, od, nil)
		}
	}
}
