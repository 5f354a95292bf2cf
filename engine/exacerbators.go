package engine

import (
	"fmt"
	"strings"

	"ekbom"
)

// exacerbators is step 2: drugs and habits that worsen RLS.
func (ev *eval) stepExacerbators() {
	p, t := ev.p, ev.t
	seen := map[string]bool{}
	for _, m := range ev.current {
		d := ev.drug(m)
		if d == nil || d.Exacerbator == nil || seen[d.ID] {
			continue
		}
		seen[d.ID] = true
		x := d.Exacerbator
		rule := map[string]string{"stop": "exacerbators.stop_drug", "switch": "exacerbators.switch_drug", "evaluate": "exacerbators.review_drug"}[x.Action]
		because := []string{"taking " + medText(m)}
		if p.Has(ekbom.Depression) && (x.Mechanism == "serotonergic" || x.Mechanism == "tricyclic") {
			because = append(because, "condition depression: change only with the prescriber")
		}
		name := d.Name
		ev.rec(rule, d.ID, map[string]string{
			"drug":        strings.ToUpper(name[:1]) + name[1:],
			"detail":      strings.TrimSpace(x.Text),
			"alternative": strings.TrimSpace(x.Alternative),
		}, because)
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
		ev.rec("exacerbators.evaluate_osa", "", map[string]string{"reason": "the screening questionnaire is positive"},
			[]string{"screening.osa_screen positive"})
		ev.monitor("sleep_apnea_evaluation", ekbom.Date{}, "")
	case p.Screening.OSAScreen == "" && !p.Has(ekbom.SleepApneaTreated):
		ev.missing("sleep apnea screening (e.g. STOP-BANG)")
	}

	l := p.Lifestyle
	if v := l.AlcoholDrinksPerWeek; v == nil {
		ev.missing("alcohol intake")
	} else if *v > t.alcoholMax {
		ev.rec("exacerbators.alcohol", "", nil, []string{fmt.Sprintf("alcohol %s drinks/week", num(*v))})
	}
	if v := l.CaffeineMgPerDay; v == nil {
		ev.missing("caffeine intake")
	} else if *v > t.caffeineMax {
		ev.rec("exacerbators.caffeine", "", nil, []string{fmt.Sprintf("caffeine %s mg/day", num(*v))})
	}
	if isTrue(l.Smoker) {
		ev.rec("exacerbators.nicotine", "", nil, []string{"smoker"})
	}
	if v := l.SleepHours; v != nil && *v < t.sleepMin {
		ev.rec("exacerbators.sleep", "", nil, []string{fmt.Sprintf("sleeps %s h a night (< %s h)", num(*v), num(t.sleepMin))})
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
