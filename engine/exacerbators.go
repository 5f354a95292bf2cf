package engine

import (
	"slices"
	"strings"

	"ekbom"
)

// exacerbators is step 2: drugs and habits that worsen RLS.
func (ev *eval) stepExacerbators() {
	p, t := ev.p, ev.t
	var seen []string // drug ids already reviewed
	for _, m := range ev.current {
		d := ev.drug(m)
		if d == nil || d.Exacerbator == nil || slices.Contains(seen, d.ID) {
			continue
		}
		seen = append(seen, d.ID)
		x := d.Exacerbator
		rule := ""
		switch x.Action {
		case "stop":
			rule = "exacerbators.stop_drug"
		case "switch":
			rule = "exacerbators.switch_drug"
		case "evaluate":
			rule = "exacerbators.review_drug"
		}
		because := []string{"taking " + medText(m)}
		if p.Has(ekbom.Depression) && (x.Mechanism == "serotonergic" || x.Mechanism == "tricyclic") {
			because = append(because, "condition depression: change only with the prescriber")
		}
		name := d.Name
		ev.rec(rule, d.ID, textVars{{"drug", strings.ToUpper(name[:1]) + name[1:]}, {"detail", strings.TrimSpace(x.Text)}, {"alternative", strings.TrimSpace(x.Alternative)}}, because)
		for _, s := range x.Sources {
			ev.cite(s)
		}
		ev.exacerbators = true
		ev.exacerbatorRx = true
	}

	switch {
	case p.Has(ekbom.SleepApnea):
		ev.exacerbators = true
		ev.rec("exacerbators.treat_osa", "", nil, []string{"condition sleep_apnea (untreated)"})
	case p.Screening.OSAScreen == "positive" && !p.Has(ekbom.SleepApneaTreated):
		ev.exacerbators = true
		ev.rec("exacerbators.evaluate_osa", "", textVars{{"reason", "the screening questionnaire is positive"}},
			[]string{"screening.osa_screen positive"})
		ev.monitor("sleep_apnea_evaluation", ekbom.Date{}, "")
	case p.Screening.OSAScreen == "" && !p.Has(ekbom.SleepApneaTreated):
		ev.missing("sleep apnea screening (e.g. STOP-BANG)")
	}

	l := p.Lifestyle
	if v := l.AlcoholDrinksPerWeek; v == nil {
		ev.missing("alcohol intake")
	} else if *v > t.alcoholMax {
		ev.rec("exacerbators.alcohol", "", nil, []string{"alcohol " + num(*v) + " drinks/week"})
	}
	if v := l.CaffeineMgPerDay; v == nil {
		ev.missing("caffeine intake")
	} else if *v > t.caffeineMax {
		ev.rec("exacerbators.caffeine", "", nil, []string{"caffeine " + num(*v) + " mg/day"})
	}
	if isTrue(l.Smoker) {
		ev.rec("exacerbators.nicotine", "", nil, []string{"smoker"})
	}
	if v := l.SleepHours; v != nil && *v < t.sleepMin {
		ev.rec("exacerbators.sleep", "", nil, []string{"sleeps " + num(*v) + " h a night (< " + num(t.sleepMin) + " h)"})
	}
	if len(seen) > 0 {
		var names []string
		for _, m := range ev.current {
			if d := ev.drug(m); d != nil && d.Exacerbator != nil {
				names = append(names, d.Name)
			}
		}
		ev.finding("finding.exacerbators", nil, names)
	}
}
