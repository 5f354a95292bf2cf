package synth

import (
	"encoding/json"
	"strconv"
	"strings"

	"ekbom"
	"ekbom/fhir"
	"ekbom/kb"
)

// Code systems written by the generator.
const (
	systemLOINC        = "http://loinc.org"
	systemSNOMED       = "http://snomed.info/sct"
	systemICD10CM      = "http://hl7.org/fhir/sid/icd-10-cm"
	systemRxNorm       = "http://www.nlm.nih.gov/research/umls/rxnorm"
	systemUCUM         = "http://unitsofmeasure.org"
	systemFasting      = "http://terminology.hl7.org/CodeSystem/v2-0916"
	systemClinical     = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	systemVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
	systemGTS          = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
	systemObsCategory  = "http://terminology.hl7.org/CodeSystem/observation-category"
	systemCondCategory = "http://terminology.hl7.org/CodeSystem/condition-category"
	systemActCode      = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	systemMRN          = "https://ehr.example/mrn"
)

// The FHIR R4 elements the generator writes. Field order is the JSON order.

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

type reference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

type quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	System string  `json:"system,omitempty"`
	Code   string  `json:"code,omitempty"`
}

type period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type extension struct {
	URL          string `json:"url"`
	ValueBoolean *bool  `json:"valueBoolean,omitempty"`
	ValueCode    string `json:"valueCode,omitempty"`
}

type meta struct {
	LastUpdated string `json:"lastUpdated"`
}

type patientResource struct {
	ResourceType string      `json:"resourceType"`
	ID           string      `json:"id"`
	Meta         *meta       `json:"meta,omitempty"`
	Extension    []extension `json:"extension,omitempty"`
	Identifier   []struct {
		System string `json:"system"`
		Value  string `json:"value"`
	} `json:"identifier,omitempty"`
	Name []struct {
		Family string   `json:"family"`
		Given  []string `json:"given"`
	} `json:"name,omitempty"`
	Gender    string `json:"gender"`
	BirthDate string `json:"birthDate"`
}

type specimen struct {
	ResourceType string  `json:"resourceType"`
	ID           string  `json:"id"`
	Type         concept `json:"type"`
	Collection   struct {
		CollectedDateTime            string   `json:"collectedDateTime"`
		FastingStatusCodeableConcept *concept `json:"fastingStatusCodeableConcept,omitempty"`
	} `json:"collection"`
}

type component struct {
	Code          concept   `json:"code"`
	ValueQuantity *quantity `json:"valueQuantity,omitempty"`
}

type observationResource struct {
	ResourceType      string      `json:"resourceType"`
	ID                string      `json:"id"`
	Status            string      `json:"status"`
	Category          []concept   `json:"category,omitempty"`
	Code              concept     `json:"code"`
	Subject           *reference  `json:"subject,omitempty"`
	Encounter         *reference  `json:"encounter,omitempty"`
	EffectiveDateTime string      `json:"effectiveDateTime,omitempty"`
	Issued            string      `json:"issued,omitempty"`
	ValueQuantity     *quantity   `json:"valueQuantity,omitempty"`
	Component         []component `json:"component,omitempty"`
	Extension         []extension `json:"extension,omitempty"`
	Contained         []specimen  `json:"contained,omitempty"`
	Specimen          *reference  `json:"specimen,omitempty"`
}

type conditionResource struct {
	ResourceType       string     `json:"resourceType"`
	ID                 string     `json:"id"`
	ClinicalStatus     *concept   `json:"clinicalStatus,omitempty"`
	VerificationStatus *concept   `json:"verificationStatus,omitempty"`
	Category           []concept  `json:"category,omitempty"`
	Code               concept    `json:"code"`
	Subject            *reference `json:"subject,omitempty"`
	OnsetDateTime      string     `json:"onsetDateTime,omitempty"`
	AbatementDateTime  string     `json:"abatementDateTime,omitempty"`
	RecordedDate       string     `json:"recordedDate,omitempty"`
}

type timing struct {
	Repeat *repeat  `json:"repeat,omitempty"`
	Code   *concept `json:"code,omitempty"`
}

type repeat struct {
	BoundsPeriod *period  `json:"boundsPeriod,omitempty"`
	Frequency    float64  `json:"frequency,omitempty"`
	Period       float64  `json:"period,omitempty"`
	PeriodUnit   string   `json:"periodUnit,omitempty"`
	When         []string `json:"when,omitempty"`
}

type doseAndRate struct {
	DoseQuantity *quantity `json:"doseQuantity,omitempty"`
	RateQuantity *quantity `json:"rateQuantity,omitempty"`
}

type dosage struct {
	Text            string        `json:"text,omitempty"`
	Timing          *timing       `json:"timing,omitempty"`
	AsNeededBoolean *bool         `json:"asNeededBoolean,omitempty"`
	DoseAndRate     []doseAndRate `json:"doseAndRate,omitempty"`
}

type medicationResource struct {
	ResourceType string   `json:"resourceType"`
	ID           string   `json:"id"`
	Code         *concept `json:"code,omitempty"`
}

type medicationUse struct {
	ResourceType              string               `json:"resourceType"`
	ID                        string               `json:"id"`
	Contained                 []medicationResource `json:"contained,omitempty"`
	Status                    string               `json:"status"`
	StatusReason              any                  `json:"statusReason,omitempty"` // Request: one concept; Statement: a list
	Intent                    string               `json:"intent,omitempty"`
	MedicationCodeableConcept *concept             `json:"medicationCodeableConcept,omitempty"`
	MedicationReference       *reference           `json:"medicationReference,omitempty"`
	Subject                   *reference           `json:"subject,omitempty"`
	AuthoredOn                string               `json:"authoredOn,omitempty"`
	EffectiveDateTime         string               `json:"effectiveDateTime,omitempty"`
	EffectivePeriod           *period              `json:"effectivePeriod,omitempty"`
	DosageInstruction         []dosage             `json:"dosageInstruction,omitempty"`
	Dosage                    any                  `json:"dosage,omitempty"` // Statement: a list; Administration: one object
}

type administrationDosage struct {
	Route concept  `json:"route"`
	Dose  quantity `json:"dose"`
}

type encounterResource struct {
	ResourceType string     `json:"resourceType"`
	ID           string     `json:"id"`
	Status       string     `json:"status"`
	Class        coding     `json:"class"`
	Subject      *reference `json:"subject,omitempty"`
	Period       *period    `json:"period,omitempty"`
}

type qrResource struct {
	ResourceType  string     `json:"resourceType"`
	ID            string     `json:"id"`
	Questionnaire string     `json:"questionnaire"`
	Status        string     `json:"status"`
	Subject       *reference `json:"subject,omitempty"`
	Authored      string     `json:"authored"`
	Item          []qrItem   `json:"item"`
}

type qrItem struct {
	LinkID string     `json:"linkId"`
	Answer []qrAnswer `json:"answer,omitempty"`
	Item   []qrItem   `json:"item,omitempty"`
}

type qrAnswer struct {
	ValueBoolean *bool    `json:"valueBoolean,omitempty"`
	ValueDecimal *float64 `json:"valueDecimal,omitempty"`
	ValueInteger *int     `json:"valueInteger,omitempty"`
	ValueString  string   `json:"valueString,omitempty"`
	ValueCoding  *coding  `json:"valueCoding,omitempty"`
}

// Resource is one FHIR resource of an export: its type and one line of JSON
// (without the newline).
type Resource struct {
	Type string
	JSON []byte
}

// render writes p as FHIR resources, the Patient first.
func (g *Generator) render(p *person) []Resource {
	w := &writer{g: g, p: p, subject: &reference{Reference: "Patient/" + p.id}}
	w.patient()
	w.observations()
	w.conditions()
	w.medications()
	w.administrations()
	w.questionnaire()
	w.encounters()
	return w.out
}

type writer struct {
	g       *Generator
	p       *person
	subject *reference
	out     []Resource
	n       int // resources written, for ids
}

func (w *writer) add(typ string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("synth: " + err.Error()) // the types above always marshal
	}
	w.out = append(w.out, Resource{Type: typ, JSON: b})
}

// id returns a resource id unique in the export: the patient id and a
// counter.
func (w *writer) id(kind string) string {
	w.n++
	return w.p.id + "-" + kind + strconv.Itoa(w.n)
}

// date returns the date days before the reference date.
func (w *writer) date(days int) ekbom.Date { return w.g.asOf.AddDays(-days) }

// dateTime writes a date with a clinic time of day and zone; h varies the
// hour.
func (w *writer) dateTime(days, h int) string {
	return w.date(days).String() + "T" + twoDigits(7+h%10) + ":" + twoDigits((h*17)%60) + ":00" + zones[h%len(zones)]
}

var zones = []string{"-05:00", "Z", "+01:00", "-08:00"}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

func (w *writer) patient() {
	p := w.p
	r := patientResource{ResourceType: "Patient", ID: p.id, Gender: p.sex,
		Meta: &meta{LastUpdated: w.g.asOf.String() + "T02:00:00Z"}}
	sex := "M"
	if p.sex == "female" {
		sex = "F"
	}
	r.Extension = []extension{{URL: "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex", ValueCode: sex}}
	r.Identifier = append(r.Identifier, struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}{systemMRN, "MRN-" + p.id[:10]})
	r.Name = append(r.Name, struct {
		Family string   `json:"family"`
		Given  []string `json:"given"`
	}{p.family, []string{p.given}})
	switch b := p.birth.String(); p.birthPrec {
	case 1:
		r.BirthDate = b[:7]
	case 2:
		r.BirthDate = b[:4]
	default:
		r.BirthDate = b
	}
	w.add("Patient", r)
}

var labCategory = []concept{{Coding: []coding{{System: systemObsCategory, Code: "laboratory"}}}}
var vitalCategory = []concept{{Coding: []coding{{System: systemObsCategory, Code: "vital-signs"}}}}

// unitDisplay is how labs print a UCUM unit.
var unitDisplay = map[string]string{"ug/L": "µg/L", "ug/dL": "µg/dL", "umol/L": "µmol/L", "mL/min/{1.73_m2}": "mL/min/1.73 m²", "[lb_av]": "lb"}

func (w *writer) observations() {
	p := w.p
	if p.weightKg > 0 {
		q := &quantity{Value: p.weightKg, Unit: "kg", System: systemUCUM, Code: "kg"}
		if p.weightLb {
			q = &quantity{Value: roundN(p.weightKg/0.45359237, 1), Unit: "lb", System: systemUCUM, Code: "[lb_av]"}
		}
		w.add("Observation", observationResource{ResourceType: "Observation", ID: w.id("wt"), Status: "final",
			Category: vitalCategory, Code: concept{Coding: []coding{{System: systemLOINC, Code: "29463-7", Display: "Body weight"}}, Text: "Weight"},
			Subject: w.subject, EffectiveDateTime: w.date(p.weightDays).String(), ValueQuantity: q})
	}
	for i, l := range p.labs {
		lc := w.g.loinc[l.test]
		code := lc[i%len(lc)]
		o := observationResource{ResourceType: "Observation", ID: w.id(l.test), Status: "final", Category: labCategory,
			Code:          concept{Coding: []coding{{System: systemLOINC, Code: code.LOINC, Display: code.Display}}, Text: l.test},
			Subject:       w.subject,
			ValueQuantity: &quantity{Value: l.value, Unit: displayUnit(l.unit), System: systemUCUM, Code: l.unit},
		}
		if i%3 == 0 {
			o.EffectiveDateTime = w.date(l.days).String()
		} else {
			o.EffectiveDateTime = w.dateTime(l.days, i)
			o.Issued = w.date(l.days).String() + "T16:02:11Z"
		}
		if l.ironWithin24h != nil {
			o.Extension = []extension{{URL: fhir.IronWithin24hURL, ValueBoolean: l.ironWithin24h}}
		}
		if l.fasting != nil {
			sp := specimen{ResourceType: "Specimen", ID: "s1", Type: concept{Text: "serum"}}
			sp.Collection.CollectedDateTime = w.date(l.days).String()
			code := "NF"
			if *l.fasting {
				code = "F"
			}
			sp.Collection.FastingStatusCodeableConcept = &concept{Coding: []coding{{System: systemFasting, Code: code}}}
			o.Contained = []specimen{sp}
			o.Specimen = &reference{Reference: "#s1"}
		}
		if p.labs[i].test == "hemoglobin" || p.labs[i].test == "crp" {
			o.Issued = ""
		}
		w.add("Observation", o)
	}
	for k := 0; k < p.vitals; k++ {
		days := (k*37 + len(p.id)) % 300
		if k%2 == 0 {
			w.add("Observation", observationResource{ResourceType: "Observation", ID: w.id("hr"), Status: "final", Category: vitalCategory,
				Code: concept{Coding: []coding{{System: systemLOINC, Code: "8867-4", Display: "Heart rate"}}}, Subject: w.subject,
				EffectiveDateTime: w.dateTime(days, k), ValueQuantity: &quantity{Value: float64(58 + (k*13+len(p.given))%40), Unit: "/min", System: systemUCUM, Code: "/min"}})
			continue
		}
		w.add("Observation", observationResource{ResourceType: "Observation", ID: w.id("bp"), Status: "final", Category: vitalCategory,
			Code: concept{Coding: []coding{{System: systemLOINC, Code: "85354-9", Display: "Blood pressure panel"}}}, Subject: w.subject,
			EffectiveDateTime: w.dateTime(days, k),
			Component: []component{
				{Code: concept{Coding: []coding{{System: systemLOINC, Code: "8480-6", Display: "Systolic blood pressure"}}},
					ValueQuantity: &quantity{Value: float64(112 + (k*7+p.age)%45), Unit: "mmHg", System: systemUCUM, Code: "mm[Hg]"}},
				{Code: concept{Coding: []coding{{System: systemLOINC, Code: "8462-4", Display: "Diastolic blood pressure"}}},
					ValueQuantity: &quantity{Value: float64(65 + (k*5+p.age)%25), Unit: "mmHg", System: systemUCUM, Code: "mm[Hg]"}},
			}})
	}
}

func displayUnit(code string) string {
	if d, ok := unitDisplay[code]; ok {
		return d
	}
	return code
}

var activeStatus = &concept{Coding: []coding{{System: systemClinical, Code: "active"}}}
var resolvedStatus = &concept{Coding: []coding{{System: systemClinical, Code: "resolved"}}}
var confirmed = &concept{Coding: []coding{{System: systemVerification, Code: "confirmed"}}}
var problemList = []concept{{Coding: []coding{{System: systemCondCategory, Code: "problem-list-item"}}}}

func (w *writer) conditions() {
	p := w.p
	// RLS itself is on the problem list of 15 patients in 16 (the id's last
	// hex digit is not 0, so the random draws are untouched); the others are
	// known to be RLS patients only through the questionnaire, or not at all,
	// as in a real export where the diagnosis was never coded.
	if last := p.id[len(p.id)-1]; last != '0' {
		rc := w.g.rlsCode
		cd := coding{System: systemSNOMED, Code: rc.SNOMED[0], Display: "Restless legs syndrome"}
		if last%2 == 1 {
			cd = coding{System: systemICD10CM, Code: rc.ICD10CM[0], Display: "Restless legs syndrome"}
		}
		w.add("Condition", conditionResource{ResourceType: "Condition", ID: w.id("rls"), ClinicalStatus: activeStatus, VerificationStatus: confirmed,
			Category: problemList, Code: concept{Coding: []coding{cd}, Text: "Restless legs syndrome"}, Subject: w.subject,
			OnsetDateTime: w.date(365 + int(last)*97).String()})
	}
	for i, c := range p.conds {
		cc, ok := w.g.condCodes[c]
		if !ok || c == "sleep_apnea_treated" {
			continue // reported in the questionnaire
		}
		if len(cc.SNOMED) == 0 && len(cc.ICD10CM) == 0 {
			continue
		}
		var cd coding
		if (i+len(p.id))%2 == 0 && len(cc.SNOMED) > 0 || len(cc.ICD10CM) == 0 {
			cd = coding{System: systemSNOMED, Code: cc.SNOMED[(i+p.age)%len(cc.SNOMED)]}
		} else {
			cd = coding{System: systemICD10CM, Code: cc.ICD10CM[(i+p.age)%len(cc.ICD10CM)]}
		}
		cd.Display = conditionDisplay[c]
		r := conditionResource{ResourceType: "Condition", ID: w.id("cond"), ClinicalStatus: activeStatus, VerificationStatus: confirmed,
			Category: problemList, Code: concept{Coding: []coding{cd}, Text: conditionDisplay[c]}, Subject: w.subject}
		if i%2 == 1 {
			r.OnsetDateTime = w.date(200 + (i*331+p.age*7)%3000).String()
		}
		w.add("Condition", r)
	}
	if p.pregnancy == "pregnant" && (!p.hasQR || len(p.id)%2 == 0 || p.id[0] < '8') {
		pc := w.g.pregnancyCode
		cd := coding{System: systemSNOMED, Code: pc.SNOMED[0], Display: "Pregnant"}
		if len(pc.ICD10CM) > 0 && p.age%2 == 0 {
			cd = coding{System: systemICD10CM, Code: pc.ICD10CM[0], Display: "Pregnant state, incidental"}
		}
		w.add("Condition", conditionResource{ResourceType: "Condition", ID: w.id("preg"), ClinicalStatus: activeStatus, VerificationStatus: confirmed,
			Category: problemList, Code: concept{Coding: []coding{cd}}, Subject: w.subject, RecordedDate: w.date(30 + p.age%60).String()})
	}
	for k, oc := range p.otherConds {
		r := conditionResource{ResourceType: "Condition", ID: w.id("cond"), ClinicalStatus: activeStatus, VerificationStatus: confirmed,
			Category: problemList, Code: concept{Coding: []coding{{System: oc.system, Code: oc.code, Display: oc.display}}, Text: oc.display},
			Subject: w.subject, OnsetDateTime: w.date(400 + k*250).String()}
		if oc.resolved {
			r.ClinicalStatus = resolvedStatus
			r.AbatementDateTime = w.date(100 + k*30).String()
		}
		w.add("Condition", r)
	}
}

var conditionDisplay = map[string]string{
	"sleep_apnea": "Obstructive sleep apnea", "esrd": "End stage renal disease", "ckd": "Chronic kidney disease",
	"copd": "Chronic obstructive pulmonary disease", "opioid_use_disorder": "Opioid use disorder",
	"hemochromatosis": "Hereditary hemochromatosis", "iron_deficiency_anemia": "Iron deficiency anemia",
}

// timesCode are GTS abbreviations for whole doses a day.
var timesCode = map[float64]string{1: "QD", 2: "BID", 3: "TID", 4: "QID"}

// timesText is the frequency in words.
var timesText = map[float64]string{0.5: "every other day", 1: "once daily", 2: "twice daily", 3: "three times daily", 4: "four times daily"}

var outcomeText = map[string]string{"ineffective": "not effective", "intolerant": "side effects", "augmentation": "augmentation", "partial": "partial response"}

func (w *writer) medications() {
	p := w.p
	for i, m := range p.meds {
		typ := "MedicationRequest"
		if m.statement {
			typ = "MedicationStatement"
		}
		r := medicationUse{ResourceType: typ, ID: w.id("med"), Subject: w.subject}
		switch {
		case typ == "MedicationRequest" && m.past:
			r.Status = []string{"completed", "stopped"}[i%2]
		case typ == "MedicationRequest":
			r.Status = "active"
		case m.past:
			r.Status = []string{"completed", "stopped"}[i%2]
		default:
			r.Status = "active"
		}
		if typ == "MedicationRequest" {
			r.Intent = "order"
		}
		w.medication(&r, m, i)
		if m.outcome != "" {
			reason := concept{Coding: []coding{{System: fhir.OutcomeSystem, Code: m.outcome}}, Text: outcomeText[m.outcome]}
			if m.statement {
				r.StatusReason = []concept{reason}
			} else {
				r.StatusReason = reason
			}
		}
		var d *dosage
		if m.d != nil {
			d = w.dosage(m)
		}
		start, stop := "", ""
		if m.startDays >= 0 {
			start = w.date(m.startDays).String()
		}
		if m.past && m.stopDays >= 0 && (m.startDays < 0 || m.stopDays <= m.startDays) {
			stop = w.date(m.stopDays).String()
		}
		if m.statement {
			if start != "" || stop != "" {
				r.EffectivePeriod = &period{Start: start, End: stop}
			}
			if d != nil {
				r.Dosage = []dosage{*d}
			}
		} else {
			if d != nil {
				if stop != "" && d.Timing != nil && d.Timing.Repeat != nil {
					d.Timing.Repeat.BoundsPeriod = &period{Start: start, End: stop}
				}
				r.DosageInstruction = []dosage{*d}
			}
			r.AuthoredOn = start
		}
		w.add(typ, r)
	}
}

// medication sets medication[x]: text, an RxNorm code, a shared or a
// contained Medication.
func (w *writer) medication(r *medicationUse, m med, i int) {
	if m.d == nil {
		r.MedicationCodeableConcept = &concept{Text: m.unknown}
		return
	}
	text := m.displayName
	switch {
	case m.d.Route == "transdermal":
		text += " transdermal system"
	case m.perDose > 0:
		text += " " + num(m.perDose) + " mg " + []string{"tablet", "tablet", "capsule", "oral tablet"}[i%4]
	}
	rx := func() coding { return coding{System: systemRxNorm, Code: m.d.RxNorm.Code, Display: m.d.RxNorm.Display} }
	switch m.nameStyle {
	case 1:
		r.MedicationCodeableConcept = &concept{Coding: []coding{rx()}, Text: text}
	case 2:
		r.MedicationCodeableConcept = &concept{Coding: []coding{rx()}}
	case 3:
		r.MedicationReference = &reference{Reference: "Medication/" + w.g.sharedMedication(m.d)}
	case 4:
		r.Contained = []medicationResource{{ResourceType: "Medication", ID: "m", Code: &concept{Text: text}}}
		r.MedicationReference = &reference{Reference: "#m"}
	default:
		r.MedicationCodeableConcept = &concept{Text: text}
	}
}

// dosage writes the dose and timing of m; nil when the record has none.
func (w *writer) dosage(m med) *dosage {
	if m.form == 2 || m.perDose <= 0 {
		return nil
	}
	if m.d.Route == "transdermal" {
		rate := &quantity{Value: m.perDose, Unit: "mg/24 h", System: systemUCUM, Code: "mg/(24.h)"}
		if m.mcgPerHour > 0 {
			rate = &quantity{Value: m.mcgPerHour, Unit: "mcg/h", System: systemUCUM, Code: "ug/h"}
		}
		return &dosage{Timing: &timing{Repeat: &repeat{Frequency: 1, Period: 1, PeriodUnit: "d"}},
			DoseAndRate: []doseAndRate{{DoseQuantity: &quantity{Value: 1, Unit: "patch", System: systemUCUM, Code: "{patch}"}, RateQuantity: rate}}}
	}
	d := &dosage{DoseAndRate: []doseAndRate{{DoseQuantity: &quantity{Value: m.perDose, Unit: "mg", System: systemUCUM, Code: "mg"}}}}
	if m.form == 1 && timesText[m.times] != "" {
		d.Text = timesText[m.times]
		if m.bedtime {
			d.Text = "at bedtime"
		}
		return d
	}
	switch {
	case m.bedtime:
		d.Timing = &timing{Repeat: &repeat{When: []string{"HS"}}}
		if len(m.d.ID)%2 == 0 {
			d.Timing = &timing{Repeat: &repeat{Frequency: 1, Period: 1, PeriodUnit: "d", When: []string{"HS"}}}
		}
	case m.times == 0.5:
		d.Timing = &timing{Repeat: &repeat{Frequency: 1, Period: 2, PeriodUnit: "d"}}
	case timesCode[m.times] != "" && int(m.perDose*8)%2 == 0:
		d.Timing = &timing{Code: &concept{Coding: []coding{{System: systemGTS, Code: timesCode[m.times]}}}}
	case m.times > 0:
		d.Timing = &timing{Repeat: &repeat{Frequency: m.times, Period: 1, PeriodUnit: "d"}}
	}
	if m.form == 3 {
		d.AsNeededBoolean = ptr(true)
	}
	return d
}

func (w *writer) administrations() {
	for _, inf := range w.p.infusions {
		r := medicationUse{ResourceType: "MedicationAdministration", ID: w.id("inf"), Status: "completed", Subject: w.subject,
			MedicationCodeableConcept: &concept{Text: inf.product + " injection"},
			EffectiveDateTime:         w.dateTime(inf.days, int(inf.doseMg)),
			Dosage:                    administrationDosage{Route: concept{Text: "intravenous"}, Dose: quantity{Value: inf.doseMg, Unit: "mg", System: systemUCUM, Code: "mg"}}}
		w.add("MedicationAdministration", r)
	}
}

// questionnaire writes the answers to ekbom's Questionnaire.
func (w *writer) questionnaire() {
	p := w.p
	if !p.hasQR {
		return
	}
	g := w.g
	var items []qrItem
	boolItem := func(link string, v *bool) []qrItem {
		if v == nil {
			return nil
		}
		return []qrItem{{LinkID: link, Answer: []qrAnswer{{ValueBoolean: v}}}}
	}
	decItem := func(link string, v *float64) []qrItem {
		if v == nil {
			return nil
		}
		return []qrItem{{LinkID: link, Answer: []qrAnswer{{ValueDecimal: v}}}}
	}
	codeItem := func(link, code string) []qrItem {
		if code == "" {
			return nil
		}
		return []qrItem{{LinkID: link, Answer: []qrAnswer{{ValueCoding: &coding{System: g.answerSystem[link], Code: code}}}}}
	}
	group := func(link string, sub []qrItem) {
		if len(sub) > 0 {
			items = append(items, qrItem{LinkID: link, Item: sub})
		}
	}

	sy := p.sym
	var irls []qrItem
	switch {
	case sy.irlsItems != nil:
		for i, x := range sy.irlsItems {
			irls = append(irls, codeItem("irls-"+strconv.Itoa(i+1), strconv.Itoa(x))...)
		}
	case sy.irlsTotal != nil:
		irls = []qrItem{{LinkID: "irls_total", Answer: []qrAnswer{{ValueInteger: sy.irlsTotal}}}}
	}
	group("irls", irls)
	var sym []qrItem
	sym = append(sym, boolItem("daytime_symptoms", sy.daytime)...)
	sym = append(sym, boolItem("hyperarousal", sy.hyper)...)
	group("symptoms", sym)
	if a := sy.aug; a != nil {
		var aug []qrItem
		aug = append(aug, boolItem("earlier_onset", a.earlierOnset)...)
		aug = append(aug, decItem("onset_advance_hours", a.advanceHours)...)
		aug = append(aug, boolItem("spread_to_other_body_parts", a.spread)...)
		aug = append(aug, boolItem("increased_intensity", a.intensity)...)
		aug = append(aug, boolItem("shorter_latency_at_rest", a.latency)...)
		aug = append(aug, boolItem("shorter_medication_effect", a.shorterEffect)...)
		aug = append(aug, boolItem("worse_after_dose_increase", a.worseAfterIncrease)...)
		aug = append(aug, boolItem("better_after_dose_decrease", a.betterAfterDecrease)...)
		aug = append(aug, boolItem("worse_most_days", a.worseMostDays)...)
		aug = append(aug, boolItem("prior_positive_response", a.priorResponse)...)
		group("augmentation", aug)
	}
	if l := p.life; l != nil {
		var life []qrItem
		life = append(life, decItem("alcohol_drinks_per_week", l.alcohol)...)
		life = append(life, decItem("caffeine_mg_per_day", l.caffeine)...)
		life = append(life, boolItem("smoker", l.smoker)...)
		life = append(life, decItem("sleep_hours", l.sleep)...)
		group("lifestyle", life)
	}
	if sc := p.screen; sc != nil {
		var scr []qrItem
		scr = append(scr, codeItem("opioid_risk", sc.opioidRisk)...)
		scr = append(scr, codeItem("osa_screen", sc.osa)...)
		scr = append(scr, boolItem("pdmp_checked", sc.pdmp)...)
		group("screening", scr)
	}
	if len(p.declines) > 0 {
		var ans []qrAnswer
		for _, d := range p.declines {
			if _, ok := g.declineOptions[d]; ok {
				ans = append(ans, qrAnswer{ValueCoding: &coding{System: g.answerSystem["declines"], Code: d}})
			} else {
				ans = append(ans, qrAnswer{ValueString: d})
			}
		}
		group("preferences", []qrItem{{LinkID: "declines", Answer: ans}})
	}
	var clinical []qrItem
	if p.pregnancy != "" {
		clinical = append(clinical, codeItem("pregnancy", p.pregnancy)...)
	}
	if conds := g.qrConditions(p); len(conds) > 0 {
		var ans []qrAnswer
		for _, c := range conds {
			ans = append(ans, qrAnswer{ValueCoding: &coding{System: g.answerSystem["conditions"], Code: c}})
		}
		clinical = append(clinical, qrItem{LinkID: "conditions", Answer: ans})
	}
	group("clinical", clinical)

	authored := 1 + len(p.id)%20
	if p.olderQR {
		old := qrResource{ResourceType: "QuestionnaireResponse", ID: w.id("qr"), Questionnaire: fhir.QuestionnaireURL + "|1", Status: "completed",
			Subject: w.subject, Authored: w.dateTime(authored+180, 3),
			Item: []qrItem{{LinkID: "irls", Item: []qrItem{{LinkID: "irls_total", Answer: []qrAnswer{{ValueInteger: ptr(12 + p.age%20)}}}}}}}
		w.add("QuestionnaireResponse", old)
	}
	if items == nil {
		items = []qrItem{}
	}
	w.add("QuestionnaireResponse", qrResource{ResourceType: "QuestionnaireResponse", ID: w.id("qr"), Questionnaire: fhir.QuestionnaireURL + "|1",
		Status: "completed", Subject: w.subject, Authored: w.dateTime(authored, 1), Item: items})
}

func (w *writer) encounters() {
	for k := 0; k < w.p.encounters; k++ {
		d := w.date(k*90 + len(w.p.id)%30)
		w.add("Encounter", encounterResource{ResourceType: "Encounter", ID: w.id("enc"), Status: "finished",
			Class: coding{System: systemActCode, Code: "AMB", Display: "ambulatory"}, Subject: w.subject,
			Period: &period{Start: d.String() + "T09:00:00Z", End: d.String() + "T09:30:00Z"}})
	}
}

// sharedMedication returns the id of the shared Medication resource for d
// (Medication.ndjson): its RxNorm code when verified, else its name.
func (g *Generator) sharedMedication(d *kb.Drug) string {
	return "rx-" + strings.ReplaceAll(d.ID, "_", "-")
}

// medicationResources returns the shared Medication resources, one per
// drug the generator may reference, in drug-list order.
func (g *Generator) medicationResources() []Resource {
	var out []Resource
	for _, d := range g.b.DrugList {
		if d.Class == "iv_iron" {
			continue
		}
		c := &concept{Text: d.Name}
		if d.RxNorm != nil && d.RxNorm.Verified {
			c.Coding = []coding{{System: systemRxNorm, Code: d.RxNorm.Code, Display: d.RxNorm.Display}}
		}
		b, err := json.Marshal(medicationResource{ResourceType: "Medication", ID: g.sharedMedication(d), Code: c})
		if err != nil {
			panic("synth: " + err.Error())
		}
		out = append(out, Resource{Type: "Medication", JSON: b})
	}
	return out
}
