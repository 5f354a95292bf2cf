package web

import (
	"net/http"
	"strconv"
	"strings"

	"ekbom"
	"ekbom/dose"
	"ekbom/kb"
)

type taperData struct {
	Drugs    []option
	Drug     string
	Dose     string
	Start    string
	Step     string
	Days     string
	Errors   *fieldErrors
	Schedule []ekbom.ScheduleItem
	Name     string
	StepMg   float64
	Warning  string
	Rule     string
}

// toolTaper is the dopamine-agonist taper planner. It is a GET form: it
// computes, it stores nothing.
func (s *Server) toolTaper(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	stepTh, _ := s.kb.Threshold("augmentation.taper_step_ppx_mg")
	daysTh, _ := s.kb.Threshold("augmentation.taper_step_days")
	d := taperData{
		Drug: q.Get("drug"), Dose: strings.TrimSpace(q.Get("dose")), Start: q.Get("start"),
		Step: q.Get("step"), Days: q.Get("days"), Errors: &fieldErrors{},
	}
	if d.Start == "" {
		d.Start = s.today().String()
	}
	if d.Step == "" && stepTh != nil {
		d.Step = strconv.FormatFloat(stepTh.Value, 'f', -1, 64)
	}
	if d.Days == "" && daysTh != nil {
		d.Days = strconv.Itoa(int(daysTh.Value))
	}
	for _, dr := range s.kb.DrugList {
		if taperable(dr) {
			d.Drugs = append(d.Drugs, option{dr.ID, dr.Name})
		}
	}
	if d.Drug == "" || d.Dose == "" {
		s.render(w, r, http.StatusOK, "taper", "Taper planner", "tools", d)
		return
	}
	dr, ok := s.kb.Drug(d.Drug)
	if !ok || !taperable(dr) {
		d.Errors.add("drug", "Drug", "choose a dopaminergic drug from the list")
	}
	b := &formBuilder{e: d.Errors}
	daily := b.num(field("dose", "current daily dose"), d.Dose)
	step := b.num(field("step", "step"), d.Step)
	start := b.date(field("start", "start date"), d.Start)
	days, err := strconv.Atoi(d.Days)
	if err != nil {
		d.Errors.add("days", "Days between steps", "want a whole number of days")
	}
	if d.Errors.Any() || daily == nil || step == nil || start == nil {
		s.render(w, r, http.StatusUnprocessableEntity, "taper", "Taper planner", "tools", d)
		return
	}
	t := dose.Taper{Drug: dr.Name, CurrentDailyMg: *daily, PPXPerMg: dr.PPXPerMg, StepPPXMg: *step, StepDays: days, IncrementMg: dr.RLSDose.IncrementMg}
	sched, err := dose.TaperSchedule(*start, t)
	if err != nil {
		inputs := map[string]at{"CurrentDailyMg": {"dose", "Current daily dose"}, "StepPPXMg": {"step", "Step"}, "StepDays": {"days", "Days between steps"}}
		if ve, ok := err.(*ekbom.ValidationError); ok {
			for _, p := range ve.Problems {
				in, ok := inputs[p.Path]
				if !ok {
					in = at{"form", p.Path}
				}
				d.Errors.add(in.name, in.path, p.Message)
			}
		} else {
			d.Errors.add("form", "Form", err.Error())
		}
		s.render(w, r, http.StatusUnprocessableEntity, "taper", "Taper planner", "tools", d)
		return
	}
	_, d.StepMg, _ = t.StepMg()
	d.Schedule, d.Name = sched, dr.Name
	if rule, ok := s.kb.Rule("warn.abrupt_stop"); ok {
		d.Warning, _ = kb.Render(rule.Text, map[string]string{"drug": dr.Name})
	}
	s.render(w, r, http.StatusOK, "taper", "Taper planner", "tools", d)
}

func taperable(d *kb.Drug) bool {
	return d.Dopaminergic && d.PPXPerMg > 0 && d.RLSDose != nil && d.RLSDose.IncrementMg > 0
}

type ironData struct {
	Ferritin, Target, TSAT, DoseMg string
	Errors                         *fieldErrors
	Refused                        string
	Computed                       bool
	LowMg, HighMg                  float64
	RiseLow, RiseHigh              float64
	HasRise                        bool
	PerLow, PerHigh                float64
	Overload, TSATOverload         float64
	Conflict                       *kb.Conflict
	Thresholds                     []*kb.Threshold
}

// toolIron estimates the IV iron for a ferritin target from the knowledge
// base's rise per 100 mg: a rough informational estimate (conflict C17),
// never a dosing instruction. It refuses in iron overload.
func (s *Server) toolIron(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := ironData{Ferritin: strings.TrimSpace(q.Get("ferritin")), Target: strings.TrimSpace(q.Get("target")),
		TSAT: strings.TrimSpace(q.Get("tsat")), DoseMg: strings.TrimSpace(q.Get("dose_mg")), Errors: &fieldErrors{}}
	d.Conflict, _ = s.kb.Conflict("C17")
	val := func(id string) float64 {
		if t, ok := s.kb.Threshold(id); ok {
			d.Thresholds = append(d.Thresholds, t)
			return t.Value
		}
		return 0
	}
	d.PerLow, d.PerHigh = val("iron.ferritin_rise_per_100mg_low"), val("iron.ferritin_rise_per_100mg_high")
	d.Overload, d.TSATOverload = val("iron.ferritin_overload"), val("iron.tsat_overload")
	if d.Ferritin == "" && d.Target == "" && d.DoseMg == "" {
		s.render(w, r, http.StatusOK, "iron", "IV iron estimate", "tools", d)
		return
	}
	b := &formBuilder{e: d.Errors}
	fer := b.num(field("ferritin", "ferritin"), d.Ferritin)
	target := b.num(field("target", "target"), d.Target)
	tsat := b.num(field("tsat", "tsat"), d.TSAT)
	doseMg := b.num(field("dose_mg", "dose"), d.DoseMg)
	if fer == nil && d.Ferritin == "" {
		d.Errors.add("ferritin", "Current ferritin", "required")
	}
	if fer != nil && *fer < 0 {
		d.Errors.add("ferritin", "Current ferritin", "must not be negative")
	}
	if tsat != nil && (*tsat < 0 || *tsat > 100) {
		d.Errors.add("tsat", "TSAT", "must be 0–100 %")
	}
	if d.Errors.Any() {
		s.render(w, r, http.StatusUnprocessableEntity, "iron", "IV iron estimate", "tools", d)
		return
	}
	num := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	switch {
	case d.Overload > 0 && *fer >= d.Overload:
		d.Refused = "Ferritin " + num(*fer) + " ng/mL is at or above " + num(d.Overload) + " ng/mL (iron.ferritin_overload): no iron is planned."
	case tsat != nil && d.TSATOverload > 0 && *tsat > d.TSATOverload:
		d.Refused = "TSAT " + num(*tsat) + " % is above " + num(d.TSATOverload) + " % (iron.tsat_overload): no iron is planned."
	case target != nil && d.Overload > 0 && *target >= d.Overload:
		d.Refused = "A target of " + num(*target) + " ng/mL is at or above " + num(d.Overload) + " ng/mL (iron.ferritin_overload): no iron is planned."
	}
	if d.Refused != "" {
		s.render(w, r, http.StatusOK, "iron", "IV iron estimate", "tools", d)
		return
	}
	d.Computed = true
	if target != nil {
		d.LowMg, d.HighMg = dose.IronDoseForTarget(*fer, *target, d.PerLow, d.PerHigh)
	}
	if doseMg != nil && *doseMg > 0 {
		d.RiseLow, d.RiseHigh = dose.FerritinRise(*doseMg, d.PerLow, d.PerHigh)
		d.HasRise = true
	}
	s.render(w, r, http.StatusOK, "iron", "IV iron estimate", "tools", d)
}
