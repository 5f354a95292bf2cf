package fhir_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"ekbom"
	"ekbom/fhir"
	"ekbom/intake"

	"github.com/google/go-cmp/cmp"
)

type qItem struct {
	LinkID       string `json:"linkId"`
	Type         string `json:"type"`
	Repeats      bool   `json:"repeats"`
	AnswerOption []struct {
		ValueCoding struct{ System, Code string } `json:"valueCoding"`
	} `json:"answerOption"`
	Item []qItem `json:"item"`
}

func questionnaireItems(t *testing.T) map[string]qItem {
	t.Helper()
	var q struct {
		ResourceType, URL, Status string
		Item                      []qItem
	}
	if err := json.Unmarshal(fhir.Questionnaire(), &q); err != nil {
		t.Fatal(err)
	}
	if q.ResourceType != "Questionnaire" || q.URL != fhir.QuestionnaireURL || q.Status != "active" {
		t.Errorf("resourceType %q url %q status %q", q.ResourceType, q.URL, q.Status)
	}
	out := map[string]qItem{}
	var walk func([]qItem)
	walk = func(items []qItem) {
		for _, it := range items {
			if _, dup := out[it.LinkID]; dup {
				t.Errorf("linkId %s twice", it.LinkID)
			}
			out[it.LinkID] = it
			walk(it.Item)
		}
	}
	walk(q.Item)
	return out
}

// TestQuestionnaireCoversContract checks that every contract field the
// questionnaire is meant to carry is a question of the right type, named
// after the field's JSON name.
func TestQuestionnaireCoversContract(t *testing.T) {
	items := questionnaireItems(t)
	want := map[string]string{
		"irls_total": "integer", "declines": "open-choice", "opioid_risk": "choice", "osa_screen": "choice",
		"pregnancy": "choice", "conditions": "choice",
	}
	for i := 1; i <= 10; i++ {
		want[fmt.Sprintf("irls-%d", i)] = "choice"
	}
	for _, v := range []any{ekbom.AugmentationFeatures{}, ekbom.Lifestyle{}, ekbom.Screening{}} {
		rt := reflect.TypeOf(v)
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch f.Type.String() {
			case "*bool":
				want[name] = "boolean"
			case "*float64":
				want[name] = "decimal"
			}
		}
	}
	want["daytime_symptoms"], want["hyperarousal"] = "boolean", "boolean"
	for link, typ := range want {
		it, ok := items[link]
		switch {
		case !ok:
			t.Errorf("no question %s", link)
		case it.Type != typ:
			t.Errorf("%s is %s, want %s", link, it.Type, typ)
		}
	}
	for i := 1; i <= 10; i++ {
		var codes []string
		for _, o := range items[fmt.Sprintf("irls-%d", i)].AnswerOption {
			codes = append(codes, o.ValueCoding.Code)
		}
		if diff := cmp.Diff([]string{"0", "1", "2", "3", "4"}, codes); diff != "" {
			t.Errorf("irls-%d options (-want +got):\n%s", i, diff)
		}
	}
	var conds []string
	for _, o := range items["conditions"].AnswerOption {
		conds = append(conds, o.ValueCoding.Code)
	}
	var all []string
	for _, c := range ekbom.Conditions {
		all = append(all, string(c))
	}
	sort.Strings(conds)
	sort.Strings(all)
	if diff := cmp.Diff(all, conds); diff != "" {
		t.Errorf("conditions options differ from ekbom.Conditions (-want +got):\n%s", diff)
	}
	if !items["declines"].Repeats || !items["conditions"].Repeats {
		t.Error("declines and conditions must repeat")
	}
}

const qURL = `"https://ekbom.example/fhir/Questionnaire/ekbom-rls|1"`

func qr(id, authored, items string) string {
	return fmt.Sprintf(`{"resourceType":"QuestionnaireResponse","id":%q,"questionnaire":%s,"status":"completed","authored":%q,"item":[%s]}`,
		id, qURL, authored, items)
}

func answer(link string, values ...string) string {
	return fmt.Sprintf(`{"linkId":%q,"answer":[%s]}`, link, strings.Join(values, ","))
}

func coding(system, code string) string {
	return fmt.Sprintf(`{"valueCoding":{"system":"https://ekbom.example/fhir/CodeSystem/%s","code":%q}}`, system, code)
}

// TestQuestionnaireResponseAllFields answers every question and checks the
// whole patient that comes out.
func TestQuestionnaireResponseAllFields(t *testing.T) {
	b := defaultBase(t)
	yes, no := `{"valueBoolean":true}`, `{"valueBoolean":false}`
	num := func(v float64) string { return fmt.Sprintf(`{"valueDecimal":%v}`, v) }
	var irls []string
	for i, v := range []int{3, 3, 2, 3, 2, 3, 3, 2, 2, 2} {
		irls = append(irls, answer(fmt.Sprintf("irls-%d", i+1), coding("irls-item-score", fmt.Sprint(v))))
	}
	items := strings.Join([]string{
		`{"linkId":"irls","item":[` + strings.Join(irls, ",") + `,` + answer("irls_total", `{"valueInteger":25}`) + `]}`,
		`{"linkId":"symptoms","item":[` + answer("daytime_symptoms", yes) + `,` + answer("hyperarousal", no) + `]}`,
		`{"linkId":"augmentation","item":[` + strings.Join([]string{
			answer("earlier_onset", yes), answer("onset_advance_hours", num(2.5)), answer("spread_to_other_body_parts", no),
			answer("increased_intensity", yes), answer("shorter_latency_at_rest", no), answer("shorter_medication_effect", yes),
			answer("worse_after_dose_increase", no), answer("better_after_dose_decrease", yes), answer("worse_most_days", yes),
			answer("prior_positive_response", yes)}, ",") + `]}`,
		`{"linkId":"lifestyle","item":[` + strings.Join([]string{
			answer("alcohol_drinks_per_week", num(4)), answer("caffeine_mg_per_day", `{"valueInteger":200}`),
			answer("smoker", no), answer("sleep_hours", num(6.5))}, ",") + `]}`,
		`{"linkId":"screening","item":[` + strings.Join([]string{
			answer("opioid_risk", coding("opioid-risk", "moderate")), answer("osa_screen", `{"valueString":"positive"}`),
			answer("pdmp_checked", yes)}, ",") + `]}`,
		answer("declines", coding("target", "opioid"), `{"valueString":"Lyrica"}`),
		`{"linkId":"clinical","item":[` + answer("pregnancy", coding("pregnancy", "lactating")) + `,` +
			answer("conditions", coding("condition", "fall_risk"), coding("condition", "depression")) + `]}`,
	}, ",")
	res := read(t, b, qr("q", "2026-11-20T10:00:00Z", items))
	want := &ekbom.Patient{
		ID: "p1", AsOf: asOf, Age: ptr(56), Sex: ekbom.Female,
		Pregnancy:  ekbom.Lactating,
		Conditions: []ekbom.Condition{ekbom.FallRisk, ekbom.Depression},
		Symptoms: ekbom.Symptoms{
			IRLSTotal: ptr(25), IRLSItems: []int{3, 3, 2, 3, 2, 3, 3, 2, 2, 2},
			DaytimeSymptoms: ptr(true), Hyperarousal: ptr(false),
			Augmentation: &ekbom.AugmentationFeatures{
				EarlierOnset: ptr(true), OnsetAdvanceHours: ptr(2.5), SpreadToOtherBodyParts: ptr(false),
				IncreasedIntensity: ptr(true), ShorterLatencyAtRest: ptr(false), ShorterMedicationEffect: ptr(true),
				WorseAfterDoseIncrease: ptr(false), BetterAfterDoseDecrease: ptr(true), WorseMostDays: ptr(true),
				PriorPositiveResponse: ptr(true),
			},
		},
		Lifestyle:   ekbom.Lifestyle{AlcoholDrinksPerWeek: ptr(4.0), CaffeineMgPerDay: ptr(200.0), Smoker: ptr(false), SleepHours: ptr(6.5)},
		Screening:   ekbom.Screening{OpioidRisk: "moderate", OSAScreen: "positive", PDMPChecked: ptr(true)},
		Preferences: ekbom.Preferences{Declines: []string{"opioid", "Lyrica"}},
	}
	if diff := cmp.Diff(want, res.Patient, dateCmp); diff != "" {
		t.Errorf("(-want +got):\n%s\nnotes:\n%s", diff, notes(res))
	}
	if len(res.Notes) != 0 {
		t.Errorf("notes:\n%s", notes(res))
	}
	if err := intake.Normalize(res.Patient, b, intake.Options{}); err != nil {
		t.Errorf("intake.Normalize: %v", res.Locate(err))
	}
}

func TestQuestionnaireResponse(t *testing.T) {
	b := defaultBase(t)
	total := func(n int) string { return answer("irls_total", fmt.Sprintf(`{"valueInteger":%d}`, n)) }
	for _, tc := range []struct {
		name      string
		resources []string
		irls      *int
		check     func(t *testing.T, p *ekbom.Patient)
		note      string
	}{
		{"no version", []string{strings.Replace(qr("q", "2026-11-20", total(12)), "|1", "", 1)}, ptr(12), nil, ""},
		{"another questionnaire", []string{strings.Replace(qr("q", "2026-11-20", total(12)), "ekbom-rls|1", "phq-9", 1)}, nil, nil, "not ekbom's questionnaire"},
		{"in progress", []string{strings.Replace(qr("q", "2026-11-20", total(12)), "completed", "in-progress", 1)}, nil, nil, "status in-progress"},
		{"amended", []string{strings.Replace(qr("q", "2026-11-20", total(12)), "completed", "amended", 1)}, ptr(12), nil, ""},
		{"newest wins", []string{qr("new", "2026-11-20T08:00:00Z", total(20)), qr("old", "2026-11-20T07:00:00Z", total(10))}, ptr(20), nil,
			"QuestionnaireResponse/old: an older answer"},
		{"newest wins across offsets", []string{qr("a", "2026-11-20T08:00:00+02:00", total(20)), qr("b", "2026-11-20T07:00:00Z", total(10))}, ptr(10), nil, ""},
		{"future", []string{qr("q", "2026-12-20", total(12))}, nil, nil, "after as_of"},
		{"unknown linkIds", []string{qr("q", "2026-11-20", total(12)+`,{"linkId":"mood","answer":[{"valueBoolean":true}]}`)}, ptr(12), nil, "unknown linkIds not read: mood"},
		{"some IRLS items", []string{qr("q", "2026-11-20", answer("irls-1", coding("irls-item-score", "3")))}, nil,
			func(t *testing.T, p *ekbom.Patient) {
				if p.Symptoms.IRLSItems != nil {
					t.Errorf("items %v", p.Symptoms.IRLSItems)
				}
			}, "1 of the 10 IRLS items answered"},
		{"option not offered", []string{qr("q", "2026-11-20", answer("irls-1", coding("irls-item-score", "5")))}, nil, nil, `irls-1 answer "5" is not one of its options`},
		{"option in another system", []string{qr("q", "2026-11-20", answer("opioid_risk", `{"valueCoding":{"system":"http://loinc.org","code":"low"}}`))}, nil,
			func(t *testing.T, p *ekbom.Patient) {
				if p.Screening.OpioidRisk != "" {
					t.Errorf("opioid risk %q", p.Screening.OpioidRisk)
				}
			}, "is coded in http://loinc.org"},
		{"wrong value type", []string{qr("q", "2026-11-20", answer("smoker", `{"valueString":"yes"}`))}, nil,
			func(t *testing.T, p *ekbom.Patient) {
				if p.Lifestyle.Smoker != nil {
					t.Errorf("smoker %v", *p.Lifestyle.Smoker)
				}
			}, "smoker wants valueBoolean"},
		{"fractional integer", []string{qr("q", "2026-11-20", answer("irls_total", `{"valueDecimal":12.5}`))}, nil, nil, "wants a whole number"},
		{"two answers to one question", []string{qr("q", "2026-11-20", answer("irls_total", `{"valueInteger":12}`, `{"valueInteger":13}`))}, ptr(12), nil, "2 answers to irls_total"},
		{"nested under an answer", []string{qr("q", "2026-11-20", `{"linkId":"earlier_onset","answer":[{"valueBoolean":true,"item":[`+answer("onset_advance_hours", `{"valueDecimal":3}`)+`]}]}`)}, nil,
			func(t *testing.T, p *ekbom.Patient) {
				a := p.Symptoms.Augmentation
				if a == nil || a.OnsetAdvanceHours == nil || *a.OnsetAdvanceHours != 3 || !*a.EarlierOnset {
					t.Errorf("augmentation %+v", a)
				}
			}, ""},
		{"other patient", []string{strings.Replace(qr("q", "2026-11-20", total(12)), `"status"`, `"subject":{"reference":"Patient/zz"},"status"`, 1)}, nil, nil, "is not the patient"},
		{"pregnancy: the more restrictive state wins", []string{cond(snomed, "77386006", ""),
			qr("q", "2026-11-20", answer("pregnancy", coding("pregnancy", "lactating")))}, nil,
			func(t *testing.T, p *ekbom.Patient) {
				if p.Pregnancy != ekbom.Pregnant {
					t.Errorf("pregnancy %q", p.Pregnancy)
				}
			}, "pregnancy lactating disagrees with Condition/c-77386006 (pregnant)"},
		{"treated sleep apnea replaces coded", []string{cond(icd, "G47.33", ""), cond(snomed, "13645005", ""),
			qr("q", "2026-11-20", answer("conditions", coding("condition", "sleep_apnea_treated"), coding("condition", "copd")))}, nil,
			func(t *testing.T, p *ekbom.Patient) {
				if diff := cmp.Diff([]ekbom.Condition{ekbom.COPD, ekbom.SleepApneaTreated}, p.Conditions); diff != "" {
					t.Errorf("conditions (-want +got):\n%s", diff)
				}
			}, "read as sleep_apnea_treated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := read(t, b, tc.resources...)
			if diff := cmp.Diff(tc.irls, res.Patient.Symptoms.IRLSTotal); diff != "" {
				t.Errorf("irls_total (-want +got):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, res.Patient)
			}
			wantNote(t, res, tc.note)
		})
	}
}

func TestPrefetch(t *testing.T) {
	b := defaultBase(t)
	searchset := func(resources ...string) json.RawMessage {
		var entries []string
		for _, r := range resources {
			entries = append(entries, `{"resource":`+r+`,"search":{"mode":"match"}}`)
		}
		return json.RawMessage(`{"resourceType":"Bundle","type":"searchset","total":` + fmt.Sprint(len(resources)) +
			`,"entry":[` + strings.Join(entries, ",") + `]}`)
	}
	prefetch := map[string]json.RawMessage{
		"patient":    json.RawMessage(patientJSON),
		"labs":       searchset(obs("2276-4", 45, "ng/mL", "2026-11-03"), obs("2502-3", 18, "%", "2026-11-03")),
		"conditions": searchset(cond(icd, "N18.6", "")),
		"meds":       searchset(medRequest("r", "active", medText("pregabalin"), dose(75, "mg", repeat(2, 1, "d")), "")),
		"answers":    searchset(),
		"infusions":  json.RawMessage("null"),
	}
	res, err := fhir.ReadPrefetch(prefetch, b, fhir.Options{AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	p := res.Patient
	if *p.Age != 56 || len(p.Labs) != 2 || len(p.Medications) != 1 || len(p.Conditions) != 1 || p.Conditions[0] != ekbom.ESRD {
		t.Errorf("patient %+v", p)
	}
	wantNote(t, res, "prefetch.infusions: empty")
	if res.Origin["labs[1]"] != "prefetch.labs.entry[1].resource" || res.Origin["age"] != "prefetch.patient" {
		t.Errorf("origin %v", res.Origin)
	}

	t.Run("errors", func(t *testing.T) {
		bad := map[string]json.RawMessage{
			"patient": json.RawMessage(`{"resourceType":"Patient","gender":"female"}`),
			"labs":    searchset(obs("2276-4", -45, "ng/mL", "2026-11-03")),
			"broken":  json.RawMessage(`{"resourceType":`),
		}
		_, err := fhir.ReadPrefetch(bad, b, fhir.Options{AsOf: asOf})
		got := problems(t, err)
		want := []string{"prefetch.broken: not valid JSON"}
		if len(got) != 1 || !strings.HasPrefix(got[0], want[0]) {
			t.Errorf("problems %q, want %q", got, want)
		}
		delete(bad, "broken")
		_, err = fhir.ReadPrefetch(bad, b, fhir.Options{AsOf: asOf})
		got = problems(t, err)
		want = []string{"prefetch.patient.birthDate: missing", "prefetch.labs.entry[0].resource.valueQuantity.value: -45 is negative"}
		if len(got) != 2 || !strings.HasPrefix(got[0], want[0]) || !strings.HasPrefix(got[1], want[1]) {
			t.Errorf("problems %q, want %q", got, want)
		}
	})
	t.Run("no patient", func(t *testing.T) {
		_, err := fhir.ReadPrefetch(map[string]json.RawMessage{"labs": searchset()}, b, fhir.Options{AsOf: asOf})
		if got := problems(t, err); len(got) != 1 || !strings.Contains(got[0], "no Patient") {
			t.Errorf("problems %q", got)
		}
	})
}
