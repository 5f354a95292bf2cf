package fhir

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"ekbom"
)

// qItem is one question of ekbom's Questionnaire.
type qItem struct {
	typ     string            // boolean | decimal | integer | choice | open-choice | group
	repeats bool              // several answers allowed
	options map[string]string // answer code → its code system
}

type questionnaireDef struct {
	LinkID       string                         `json:"linkId"`
	Text         string                         `json:"text"`
	Type         string                         `json:"type"`
	Repeats      bool                           `json:"repeats"`
	AnswerOption []struct{ ValueCoding coding } `json:"answerOption"`
	Item         []questionnaireDef             `json:"item"`
}

// questions returns the items of the embedded Questionnaire by linkId.
var questions = sync.OnceValue(func() map[string]qItem {
	var q questionnaireDef
	if err := json.Unmarshal(questionnaireJSON, &q); err != nil {
		panic("fhir: embedded questionnaire.json: " + err.Error()) // a build error, caught by the tests
	}
	out := map[string]qItem{}
	var walk func([]questionnaireDef)
	walk = func(items []questionnaireDef) {
		for _, it := range items {
			qi := qItem{typ: it.Type, repeats: it.Repeats, options: map[string]string{}}
			for _, o := range it.AnswerOption {
				qi.options[o.ValueCoding.Code] = o.ValueCoding.System
			}
			out[it.LinkID] = qi
			walk(it.Item)
		}
	}
	walk(q.Item)
	return out
})

// FormItem is one question of ekbom's Questionnaire (questionnaire.json),
// for forms that ask the same things: the web app's visit form uses the
// IRLS and augmentation groups, so both say the same words.
type FormItem struct {
	LinkID  string   // the field name ("earlier_onset", "irls-3")
	Text    string   // the question
	Type    string   // boolean | decimal | integer | choice | …
	Options []string // the answers' displays, in order (choice items)
}

// FormGroup returns the questions of one group of the embedded
// Questionnaire ("irls", "augmentation", …), in order; nil for an unknown
// group.
func FormGroup(linkID string) []FormItem {
	var q questionnaireDef
	if err := json.Unmarshal(questionnaireJSON, &q); err != nil {
		panic("fhir: embedded questionnaire.json: " + err.Error())
	}
	for _, g := range q.Item {
		if g.LinkID != linkID {
			continue
		}
		out := make([]FormItem, 0, len(g.Item))
		for _, it := range g.Item {
			fi := FormItem{LinkID: it.LinkID, Text: it.Text, Type: it.Type}
			for _, o := range it.AnswerOption {
				fi.Options = append(fi.Options, o.ValueCoding.Display)
			}
			out = append(out, fi)
		}
		return out
	}
	return nil
}

type qrCand struct {
	e        *entry
	qr       questionnaireResponse
	authored time.Time
}

// questionnaireResponse collects a response to ekbom's Questionnaire; the
// newest is read in finishQuestionnaire.
func (r *reader) questionnaireResponse(e *entry) {
	var qr questionnaireResponse
	if !decode(r, e, &qr) || !r.forPatient(e, qr.Subject) {
		return
	}
	canon, _, _ := strings.Cut(qr.Questionnaire, "|")
	if canon != QuestionnaireURL {
		r.note(e.name(), "answers %q, not ekbom's questionnaire (%s): not read", truncate(qr.Questionnaire, 80), QuestionnaireURL)
		return
	}
	switch qr.Status {
	case "completed", "amended":
	default:
		s := qr.Status
		if s == "" {
			s = "missing"
		}
		r.note(e.name(), "status %s: not read", s)
		return
	}
	if qr.Authored != "" {
		if _, _, ok := parseDate(qr.Authored); !ok {
			r.fail(e.path+".authored", "%q is not a FHIR dateTime", truncate(qr.Authored, 40))
			return
		}
		if d, _, _ := parseDate(qr.Authored); d.After(r.asOf) {
			r.note(e.name(), "authored %s, after as_of %s: not read", qr.Authored, r.asOf)
			return
		}
	}
	r.qrs = append(r.qrs, qrCand{e: e, qr: qr, authored: instant(qr.Authored)})
	r.rls = append(r.rls, e.name()) // ekbom's questionnaire is asked of RLS patients only
}

// finishQuestionnaire reads the newest response (the last of equally new
// ones) into the patient.
func (r *reader) finishQuestionnaire() {
	if len(r.qrs) == 0 {
		return
	}
	best := 0
	for i, c := range r.qrs {
		if !c.authored.Before(r.qrs[best].authored) {
			best = i
		}
	}
	c := r.qrs[best]
	for i, o := range r.qrs {
		if i != best {
			r.note(o.e.name(), "an older answer to ekbom's questionnaire than %s: not read", c.e.name())
		}
	}
	a := answerReader{r: r, e: c.e}
	a.read(c.qr.Item)
}

// answerReader reads one QuestionnaireResponse into the patient.
type answerReader struct {
	r       *reader
	e       *entry
	irls    [10]*int
	sym     ekbom.Symptoms
	aug     ekbom.AugmentationFeatures
	life    ekbom.Lifestyle
	scr     ekbom.Screening
	prefs   ekbom.Preferences
	unknown []string
}

func (a *answerReader) read(items []qrItem) {
	bools := map[string]**bool{
		"earlier_onset":              &a.aug.EarlierOnset,
		"spread_to_other_body_parts": &a.aug.SpreadToOtherBodyParts,
		"increased_intensity":        &a.aug.IncreasedIntensity,
		"shorter_latency_at_rest":    &a.aug.ShorterLatencyAtRest,
		"shorter_medication_effect":  &a.aug.ShorterMedicationEffect,
		"worse_after_dose_increase":  &a.aug.WorseAfterDoseIncrease,
		"better_after_dose_decrease": &a.aug.BetterAfterDoseDecrease,
		"worse_most_days":            &a.aug.WorseMostDays,
		"prior_positive_response":    &a.aug.PriorPositiveResponse,
		"daytime_symptoms":           &a.sym.DaytimeSymptoms,
		"hyperarousal":               &a.sym.Hyperarousal,
		"smoker":                     &a.life.Smoker,
		"pdmp_checked":               &a.scr.PDMPChecked,
	}
	nums := map[string]**float64{
		"onset_advance_hours":     &a.aug.OnsetAdvanceHours,
		"alcohol_drinks_per_week": &a.life.AlcoholDrinksPerWeek,
		"caffeine_mg_per_day":     &a.life.CaffeineMgPerDay,
		"sleep_hours":             &a.life.SleepHours,
	}
	strs := map[string]*string{
		"opioid_risk": &a.scr.OpioidRisk,
		"osa_screen":  &a.scr.OSAScreen,
	}
	a.walk(a.e.path, items, func(path string, it qrItem) {
		def, ok := questions()[it.LinkID]
		if !ok {
			a.unknown = append(a.unknown, it.LinkID)
			return
		}
		if def.typ == "group" || len(it.Answer) == 0 {
			return
		}
		answers := it.Answer
		if !def.repeats && len(answers) > 1 {
			a.r.note(a.e.name(), "%d answers to %s, which takes one: the first is read", len(answers), it.LinkID)
			answers = answers[:1]
		}
		for j := range answers {
			ap := fmt.Sprintf("%s.answer[%d]", path, j)
			a.answer(ap, it.LinkID, def, &answers[j], bools, nums, strs)
		}
	})
	r, p := a.r, a.r.p
	if len(a.unknown) > 0 {
		sort.Strings(a.unknown)
		r.note(a.e.name(), "unknown linkIds not read: %s", truncate(strings.Join(a.unknown, ", "), 200))
	}
	n := 0
	for _, x := range a.irls {
		if x != nil {
			n++
		}
	}
	switch n {
	case 0:
	case 10:
		a.sym.IRLSItems = make([]int, 10)
		for i, x := range a.irls {
			a.sym.IRLSItems[i] = *x
		}
	default:
		r.note(a.e.name(), "%d of the 10 IRLS items answered: items not read", n)
	}
	if a.aug != (ekbom.AugmentationFeatures{}) {
		a.sym.Augmentation = ptr(a.aug)
	}
	p.Symptoms, p.Lifestyle, p.Screening, p.Preferences = a.sym, a.life, a.scr, a.prefs
	for _, f := range []string{"symptoms", "lifestyle", "screening", "preferences"} {
		r.origin[f] = a.e.path
	}
}

// walk calls f for every item, depth first, including items nested in
// answers.
func (a *answerReader) walk(path string, items []qrItem, f func(string, qrItem)) {
	for i, it := range items {
		p := fmt.Sprintf("%s.item[%d]", path, i)
		f(p, it)
		a.walk(p, it.Item, f)
		for j, ans := range it.Answer {
			a.walk(fmt.Sprintf("%s.answer[%d]", p, j), ans.Item, f)
		}
	}
}

// answer reads one answer into its field.
func (a *answerReader) answer(path, link string, def qItem, ans *qrAnswer,
	bools map[string]**bool, nums map[string]**float64, strs map[string]*string) {
	r := a.r
	wrong := func(want string) {
		r.note(a.e.name(), "%s wants %s: answer not read", link, want)
	}
	switch def.typ {
	case "boolean":
		if ans.ValueBoolean == nil {
			wrong("valueBoolean")
			return
		}
		if f, ok := bools[link]; ok {
			*f = ptr(*ans.ValueBoolean)
		}
	case "decimal", "integer":
		d, field := ans.ValueDecimal, "valueDecimal"
		if !d.set {
			d, field = ans.ValueInteger, "valueInteger"
		}
		if !d.set {
			wrong("a number")
			return
		}
		v, ok := r.number(path+"."+field, d)
		if !ok {
			return
		}
		if def.typ == "integer" {
			if v != math.Trunc(v) {
				wrong("a whole number")
				return
			}
			if link == "irls_total" {
				a.sym.IRLSTotal = ptr(int(v))
			}
			return
		}
		if f, ok := nums[link]; ok {
			*f = ptr(v)
		}
	case "choice", "open-choice":
		code := ""
		switch {
		case ans.ValueCoding != nil:
			code = ans.ValueCoding.Code
			if sys, known := def.options[code]; known && ans.ValueCoding.System != "" && ans.ValueCoding.System != sys {
				r.note(a.e.name(), "%s answer %q is coded in %s, not %s: answer not read", link, truncate(code, 40), truncate(ans.ValueCoding.System, 80), sys)
				return
			}
		case ans.ValueString != nil:
			code = strings.TrimSpace(*ans.ValueString)
		}
		if code == "" {
			wrong("valueCoding or valueString")
			return
		}
		if _, known := def.options[code]; !known && def.typ == "choice" {
			r.note(a.e.name(), "%s answer %q is not one of its options: answer not read", link, truncate(code, 40))
			return
		}
		a.choice(link, code, strs)
	}
}

func (a *answerReader) choice(link, code string, strs map[string]*string) {
	r := a.r
	switch {
	case strings.HasPrefix(link, "irls-"):
		i, err1 := strconv.Atoi(strings.TrimPrefix(link, "irls-"))
		v, err2 := strconv.Atoi(code)
		if err1 == nil && err2 == nil && i >= 1 && i <= 10 {
			a.irls[i-1] = ptr(v)
		}
	case link == "declines":
		a.prefs.Declines = append(a.prefs.Declines, code)
	case link == "pregnancy":
		r.preg = append(r.preg, pregCand{state: ekbom.Pregnancy(code), origin: a.e.path, name: a.e.name()})
	case link == "conditions":
		r.condOut = append(r.condOut, condCand{cond: ekbom.Condition(code), origin: a.e.path, name: a.e.name()})
	default:
		if f, ok := strs[link]; ok {
			*f = code
		}
	}
}
