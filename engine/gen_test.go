package engine_test

// A deterministic generator of realistic, valid adult patient records in the
// input format of the contract (shared/spec/contract.md §1). Each record is
// built as a plain document (genPatient), marshalled to JSON or YAML and read
// through intake.Read, so it is normalised exactly like real input.
//
// Patient i of seed s is drawn from its own PCG stream (s, i): any single
// patient can be regenerated from its seed and index alone.

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"ekbom"
	"ekbom/kb"

	"go.yaml.in/yaml/v3"
)

// genToday is the reference date of generated records (and Options.Today for
// records without as_of).
var genToday = ekbom.DateOf(2026, 11, 21)

// genPatient is one input record, with the contract's field names.
type genPatient struct {
	ID            string        `json:"id,omitempty" yaml:"id,omitempty"`
	AsOf          string        `json:"as_of,omitempty" yaml:"as_of,omitempty"`
	Age           int           `json:"age" yaml:"age"`
	Sex           string        `json:"sex" yaml:"sex"`
	WeightKg      *float64      `json:"weight_kg,omitempty" yaml:"weight_kg,omitempty"`
	Pregnancy     string        `json:"pregnancy,omitempty" yaml:"pregnancy,omitempty"`
	Conditions    []string      `json:"conditions,omitempty" yaml:"conditions,omitempty"`
	Labs          []genLab      `json:"labs,omitempty" yaml:"labs,omitempty"`
	Medications   []genMed      `json:"medications,omitempty" yaml:"medications,omitempty"`
	IronInfusions []genInfusion `json:"iron_infusions,omitempty" yaml:"iron_infusions,omitempty"`
	Symptoms      *genSymptoms  `json:"symptoms,omitempty" yaml:"symptoms,omitempty"`
	Lifestyle     *genLifestyle `json:"lifestyle,omitempty" yaml:"lifestyle,omitempty"`
	Preferences   *genPrefs     `json:"preferences,omitempty" yaml:"preferences,omitempty"`
	Screening     *genScreening `json:"screening,omitempty" yaml:"screening,omitempty"`
}

type genLab struct {
	Test          string  `json:"test" yaml:"test"`
	Value         float64 `json:"value" yaml:"value"`
	Unit          string  `json:"unit" yaml:"unit"`
	Date          string  `json:"date" yaml:"date"`
	Fasting       *bool   `json:"fasting,omitempty" yaml:"fasting,omitempty"`
	IronWithin24h *bool   `json:"iron_supplement_within_24h,omitempty" yaml:"iron_supplement_within_24h,omitempty"`
}

type genMed struct {
	Name         string   `json:"name,omitempty" yaml:"name,omitempty"`
	Sig          string   `json:"sig,omitempty" yaml:"sig,omitempty"`
	DoseMg       *float64 `json:"dose_mg,omitempty" yaml:"dose_mg,omitempty"`
	TimesPerDay  *float64 `json:"times_per_day,omitempty" yaml:"times_per_day,omitempty"`
	DoseMgPer24h *float64 `json:"dose_mg_per_24h,omitempty" yaml:"dose_mg_per_24h,omitempty"`
	Status       string   `json:"status,omitempty" yaml:"status,omitempty"`
	Outcome      string   `json:"outcome,omitempty" yaml:"outcome,omitempty"`
	Start        string   `json:"start,omitempty" yaml:"start,omitempty"`
	Stop         string   `json:"stop,omitempty" yaml:"stop,omitempty"`
}

type genInfusion struct {
	Date    string  `json:"date" yaml:"date"`
	Product string  `json:"product" yaml:"product"`
	DoseMg  float64 `json:"dose_mg" yaml:"dose_mg"`
}

type genSymptoms struct {
	IRLSTotal       *int    `json:"irls_total,omitempty" yaml:"irls_total,omitempty"`
	IRLSItems       []int   `json:"irls_items,omitempty" yaml:"irls_items,omitempty"`
	Augmentation    *genAug `json:"augmentation,omitempty" yaml:"augmentation,omitempty"`
	DaytimeSymptoms *bool   `json:"daytime_symptoms,omitempty" yaml:"daytime_symptoms,omitempty"`
	Hyperarousal    *bool   `json:"hyperarousal,omitempty" yaml:"hyperarousal,omitempty"`
}

type genAug struct {
	EarlierOnset            *bool    `json:"earlier_onset,omitempty" yaml:"earlier_onset,omitempty"`
	OnsetAdvanceHours       *float64 `json:"onset_advance_hours,omitempty" yaml:"onset_advance_hours,omitempty"`
	SpreadToOtherBodyParts  *bool    `json:"spread_to_other_body_parts,omitempty" yaml:"spread_to_other_body_parts,omitempty"`
	IncreasedIntensity      *bool    `json:"increased_intensity,omitempty" yaml:"increased_intensity,omitempty"`
	ShorterLatencyAtRest    *bool    `json:"shorter_latency_at_rest,omitempty" yaml:"shorter_latency_at_rest,omitempty"`
	ShorterMedicationEffect *bool    `json:"shorter_medication_effect,omitempty" yaml:"shorter_medication_effect,omitempty"`
	WorseAfterDoseIncrease  *bool    `json:"worse_after_dose_increase,omitempty" yaml:"worse_after_dose_increase,omitempty"`
	BetterAfterDoseDecrease *bool    `json:"better_after_dose_decrease,omitempty" yaml:"better_after_dose_decrease,omitempty"`
	WorseMostDays           *bool    `json:"worse_most_days,omitempty" yaml:"worse_most_days,omitempty"`
	PriorPositiveResponse   *bool    `json:"prior_positive_response,omitempty" yaml:"prior_positive_response,omitempty"`
}

type genLifestyle struct {
	AlcoholDrinksPerWeek *float64 `json:"alcohol_drinks_per_week,omitempty" yaml:"alcohol_drinks_per_week,omitempty"`
	CaffeineMgPerDay     *float64 `json:"caffeine_mg_per_day,omitempty" yaml:"caffeine_mg_per_day,omitempty"`
	Smoker               *bool    `json:"smoker,omitempty" yaml:"smoker,omitempty"`
	SleepHours           *float64 `json:"sleep_hours,omitempty" yaml:"sleep_hours,omitempty"`
}

type genPrefs struct {
	Declines []string `json:"declines,omitempty" yaml:"declines,omitempty"`
}

type genScreening struct {
	OpioidRisk  string `json:"opioid_risk,omitempty" yaml:"opioid_risk,omitempty"`
	OSAScreen   string `json:"osa_screen,omitempty" yaml:"osa_screen,omitempty"`
	PDMPChecked *bool  `json:"pdmp_checked,omitempty" yaml:"pdmp_checked,omitempty"`
}

// genCase is one generated record with how to reproduce it.
type genCase struct {
	Seed      uint64
	Index     int
	Archetype string
	Format    string // json | yaml
	In        *genPatient
}

// Document returns the record in its format.
func (c genCase) Document() []byte {
	if c.Format == "yaml" {
		b, err := yaml.Marshal(c.In)
		if err != nil {
			panic(err)
		}
		return b
	}
	b, err := json.Marshal(c.In)
	if err != nil {
		panic(err)
	}
	return b
}

// JSON returns the record as indented JSON for a failure message.
func (c genCase) JSON() string {
	b, _ := json.MarshalIndent(c.In, "", "  ")
	return string(b)
}

func (c genCase) clone() genCase {
	b, _ := json.Marshal(c.In)
	var q genPatient
	if err := json.Unmarshal(b, &q); err != nil {
		panic(err)
	}
	c.In = &q
	return c
}

// generator draws patients from the knowledge base's drug list.
type generator struct {
	b          *kb.Base
	seed       uint64
	drugs      []*kb.Drug // every drug
	rlsDrugs   []*kb.Drug // drugs the RLS pathway reasons about most
	ivProducts []string   // IV iron ids, names and brands
}

func newGenerator(b *kb.Base, seed uint64) *generator {
	g := &generator{b: b, seed: seed, drugs: b.DrugList}
	for _, d := range b.DrugList {
		switch d.Class {
		case "oral_iron", "iv_iron", "alpha2delta_ligand", "dopamine_agonist", "dopamine_precursor", "opioid", "benzodiazepine":
			g.rlsDrugs = append(g.rlsDrugs, d)
		}
		if d.Class == "iv_iron" {
			g.ivProducts = append(g.ivProducts, d.ID, d.Name)
			g.ivProducts = append(g.ivProducts, d.Brands...)
		}
	}
	return g
}

// genUnknownMeds are medicines the knowledge base does not know.
var genUnknownMeds = []string{
	"metformin 500 mg twice daily", "lisinopril 10 mg daily", "atorvastatin 40 mg at bedtime",
	"levothyroxine 75 mcg daily", "omeprazole 20 mg daily", "amlodipine 5 mg daily",
	"Zorbitrex 5 mg bid", "magnesium glycinate 400 mg nightly",
}

// genStrengths are realistic strengths per administration (patches: mg/24 h).
var genStrengths = map[string][]float64{
	"ferrous_sulfate": {325}, "ferrous_bisglycinate": {25, 28, 36}, "vitamin_c": {100, 250, 500},
	"ferric_carboxymaltose": {500, 750, 1000}, "iron_dextran": {250, 500, 1000}, "ferumoxytol": {510},
	"iron_sucrose": {100, 200}, "ferric_derisomaltose": {500, 1000},
	"gabapentin": {100, 300, 400, 600, 800}, "pregabalin": {25, 50, 75, 100, 150, 200, 300},
	"gabapentin_enacarbil": {300, 600},
	"pramipexole":          {0.125, 0.25, 0.5, 0.75, 1, 1.5}, "ropinirole": {0.25, 0.5, 1, 2, 3, 4},
	"rotigotine": {1, 2, 3, 4, 6, 8}, "levodopa": {50, 100, 200}, "cabergoline": {0.5, 1, 2},
	"oxycodone": {5, 10, 15, 20, 40}, "oxycodone_naloxone": {5, 10, 20, 40},
	"methadone": {2.5, 5, 10, 20}, "buprenorphine": {0.12, 0.24, 0.48}, "tramadol": {50, 100},
	"hydrocodone": {5, 10}, "morphine": {15, 30}, "codeine": {30, 60}, "hydromorphone": {2, 4},
	"oxymorphone": {5, 10}, "tapentadol": {50, 100}, "fentanyl": {0.288, 0.6, 1.2},
	"clonazepam": {0.25, 0.5, 1, 2}, "diazepam": {2, 5, 10}, "lorazepam": {0.5, 1, 2}, "alprazolam": {0.25, 0.5, 1},
	"diphenhydramine": {25, 50}, "doxylamine": {25}, "chlorpheniramine": {4}, "hydroxyzine": {25, 50},
	"promethazine": {12.5, 25}, "metoclopramide": {10}, "prochlorperazine": {5, 10}, "haloperidol": {0.5, 2, 5},
	"olanzapine": {2.5, 5, 10}, "risperidone": {0.5, 1, 2}, "quetiapine": {25, 50, 100, 300}, "lurasidone": {40, 80},
	"sertraline": {50, 100}, "fluoxetine": {20, 40}, "paroxetine": {20}, "citalopram": {20}, "escitalopram": {10, 20},
	"fluvoxamine": {50, 100}, "venlafaxine": {75, 150}, "duloxetine": {30, 60}, "mirtazapine": {15, 30},
	"amitriptyline": {10, 25, 50}, "nortriptyline": {10, 25}, "lithium": {300, 450},
	"bupropion": {150, 300}, "carbamazepine": {200}, "valproate": {250, 500}, "valerian": {400, 800},
	"dipyridamole": {25, 75, 100}, "amantadine": {100}, "perampanel": {2, 4}, "lamotrigine": {25, 100},
	"naltrexone": {1.5, 4.5, 50}, "ketamine": {25}, "clonidine": {0.1, 0.2}, "ondansetron": {4, 8},
	"naloxone": {4},
}

// genPatchMcgPerHour are drugs whose sigs are often written in mcg/h.
var genPatchMcgPerHour = map[string][]float64{"fentanyl": {12, 25, 50}, "buprenorphine": {5, 10, 20}}

var genFreq = map[float64][]string{
	0.5: {"every other day", "on alternate days"},
	1:   {"once daily", "daily", "at bedtime", "qhs", "every evening", "nightly", "qd", "once a day"},
	2:   {"twice daily", "bid", "b.i.d.", "q12h", "twice a day", "2x daily"},
	3:   {"three times daily", "tid", "t.i.d.", "q8h", "3 times a day"},
	4:   {"four times daily", "qid", "q6h"},
}

var genDeclines = []string{"opioid", "Opioid", "iv_iron", "IV iron", "oral_iron", "alpha2delta_ligand",
	"gabapentin", "pregabalin", "Lyrica", "methadone", "oxycodone", "ferric_carboxymaltose", "ferric carboxymaltose",
	"dipyridamole", "peroneal_nerve_stimulation", "vitamin_c", "iron_sucrose", "ferrous sulfate", "benzodiazepine"}

// genState is the state of drawing one patient.
type genState struct {
	g    *generator
	r    *rand.Rand
	asOf ekbom.Date
	p    *genPatient
	used map[string]map[int]bool // lab test → day offsets used
}

func (s *genState) chance(p float64) bool          { return s.r.Float64() < p }
func (s *genState) between(lo, hi int) int         { return lo + s.r.IntN(hi-lo+1) }
func (s *genState) uniform(lo, hi float64) float64 { return lo + s.r.Float64()*(hi-lo) }
func (s *genState) ago(days int) string            { return s.asOf.AddDays(-days).String() }

func genPick[T any](s *genState, list []T) T { return list[s.r.IntN(len(list))] }

// weighted returns an index drawn with the given weights.
func (s *genState) weighted(w ...int) int {
	total := 0
	for _, x := range w {
		total += x
	}
	n := s.r.IntN(total)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

func (s *genState) triBool(pTrue, pFalse float64) *bool {
	x := s.r.Float64()
	switch {
	case x < pTrue:
		return genPtr(true)
	case x < pTrue+pFalse:
		return genPtr(false)
	}
	return nil
}

func genPtr[T any](v T) *T { return &v }

func roundN(x float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(x*p) / p
}

func genNum(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// freeDay returns a day offset not yet used for test (0..max).
func (s *genState) freeDay(test string, max int) int {
	if s.used[test] == nil {
		s.used[test] = map[int]bool{}
	}
	for {
		d := s.r.IntN(max + 1)
		if !s.used[test][d] {
			s.used[test][d] = true
			return d
		}
	}
}

func (s *genState) dropLabs(tests ...string) {
	s.p.Labs = slices.DeleteFunc(s.p.Labs, func(l genLab) bool { return slices.Contains(tests, l.Test) })
	for _, t := range tests {
		delete(s.used, t)
	}
}

func (s *genState) hasCondition(c string) bool { return slices.Contains(s.p.Conditions, c) }

func (s *genState) addCondition(c string) {
	if !s.hasCondition(c) {
		s.p.Conditions = append(s.p.Conditions, c)
	}
}

func (s *genState) dropCondition(c string) {
	s.p.Conditions = slices.DeleteFunc(s.p.Conditions, func(x string) bool { return x == c })
}

// Archetypes steer a share of the patients towards the parts of the pathway
// that random records rarely reach.
var genArchetypes = []struct {
	name   string
	weight int
}{
	{"random", 33}, {"refractory", 18}, {"augmentation", 14}, {"iron_deficient", 10},
	{"esrd", 7}, {"pregnancy", 7}, {"opioid", 11},
}

// patient draws patient i.
func (g *generator) patient(i int) genCase {
	r := rand.New(rand.NewPCG(g.seed, uint64(i)))
	s := &genState{g: g, r: r, p: &genPatient{}, used: map[string]map[int]bool{}}
	w := make([]int, len(genArchetypes))
	for k, a := range genArchetypes {
		w[k] = a.weight
	}
	arch := genArchetypes[s.weighted(w...)].name
	c := genCase{Seed: g.seed, Index: i, Archetype: arch, Format: "json", In: s.p}
	if s.chance(0.3) {
		c.Format = "yaml"
	}

	p := s.p
	if s.chance(0.85) {
		s.asOf = genToday.AddDays(-s.r.IntN(200))
		p.AsOf = s.asOf.String()
	} else {
		s.asOf = genToday
	}
	if s.chance(0.9) {
		p.ID = "gen-" + strconv.FormatUint(g.seed, 10) + "-" + strconv.Itoa(i)
	}
	s.person()
	s.conditions()
	s.labs()
	s.medications()
	s.infusions()
	s.symptoms()
	s.lifestyle()
	s.preferences()
	s.screening()

	switch arch {
	case "refractory":
		s.refractory()
	case "augmentation":
		s.augmentationCase()
	case "iron_deficient":
		s.ironDeficient()
	case "esrd":
		s.esrd()
	case "pregnancy":
		s.pregnancyCase()
	case "opioid":
		s.opioidCase()
	}
	return c
}

func (s *genState) person() {
	p := s.p
	switch s.weighted(2, 3, 5) {
	case 0:
		p.Age = s.between(18, 29)
	case 1:
		p.Age = s.between(30, 64)
	default:
		p.Age = s.between(60, 95)
	}
	p.Sex = "male"
	if s.chance(0.62) { // RLS is more common in women
		p.Sex = "female"
	}
	if s.chance(0.87) {
		w := roundN(s.uniform(42, 150), 1)
		if p.Sex == "female" {
			w = roundN(s.uniform(40, 125), 1)
		}
		p.WeightKg = &w
	}
	switch {
	case p.Sex == "female" && p.Age <= 45:
		switch s.weighted(70, 8, 5, 17) {
		case 1:
			p.Pregnancy = "pregnant"
		case 2:
			p.Pregnancy = "lactating"
		case 3:
			p.Pregnancy = "none"
		}
	case s.chance(0.15):
		p.Pregnancy = "none"
	}
}

func (s *genState) conditions() {
	for _, c := range ekbom.Conditions {
		pr := 0.07
		switch c {
		case ekbom.ESRD:
			pr = 0.03
		case ekbom.Hemochromatosis:
			pr = 0.035
		case ekbom.FallRisk, ekbom.Depression, ekbom.PeripheralNeuropathy:
			pr = 0.1
		}
		if s.chance(pr) {
			s.p.Conditions = append(s.p.Conditions, string(c))
		}
	}
	if s.hasCondition("sleep_apnea") && s.hasCondition("sleep_apnea_treated") && s.chance(0.85) {
		s.dropCondition("sleep_apnea_treated")
	}
	if s.hasCondition("esrd") && s.chance(0.5) {
		s.addCondition("ckd")
	}
	s.r.Shuffle(len(s.p.Conditions), func(i, j int) {
		s.p.Conditions[i], s.p.Conditions[j] = s.p.Conditions[j], s.p.Conditions[i]
	})
}

// labDays draws how old a lab is: mostly within a year, up to 800 days.
func (s *genState) labDays() int {
	if s.chance(0.65) {
		return 300
	}
	return 800
}

func (s *genState) ferritinValue() float64 {
	switch s.weighted(15, 70, 15) {
	case 0: // at and around the thresholds
		return float64(genPick(s, []int{75, 100, 300})+s.between(-2, 2)) + genPick(s, []float64{0, 0, 0.5})
	case 1:
		return math.Round(math.Exp(s.uniform(math.Log(5), math.Log(400))))
	}
	return math.Round(math.Exp(s.uniform(math.Log(5), math.Log(1500))))
}

func (s *genState) tsatValue() float64 {
	switch s.weighted(15, 70, 15) {
	case 0:
		return roundN(float64(genPick(s, []int{20, 45}))+s.uniform(-2, 2), 1)
	case 1:
		return roundN(s.uniform(5, 42), 1)
	}
	return roundN(s.uniform(3, 90), 1)
}

var genFerritinUnits = []string{"ng/mL", "µg/L", "ug/L", "ng/ml", "mcg/L"}

// ironPanel adds ferritin and TSAT (measured, or as iron and TIBC) drawn
// `days` ago. fer or tsat < 0 leave the test out.
func (s *genState) ironPanel(days int, fer, tsat float64, tsatForm int, fasting, within *bool) {
	date := s.ago(days)
	mark := func(test string) {
		if s.used[test] == nil {
			s.used[test] = map[int]bool{}
		}
		s.used[test][days] = true
	}
	if fer >= 0 {
		mark("ferritin")
		s.p.Labs = append(s.p.Labs, genLab{Test: "ferritin", Value: fer, Unit: genPick(s, genFerritinUnits), Date: date, Fasting: fasting, IronWithin24h: within})
	}
	if tsat < 0 {
		return
	}
	switch tsatForm {
	case 0: // measured
		mark("tsat")
		s.p.Labs = append(s.p.Labs, genLab{Test: "tsat", Value: tsat, Unit: "%", Date: date, Fasting: fasting, IronWithin24h: within})
	default: // iron and TIBC, in µg/dL (1) or µmol/L (2)
		mark("iron")
		mark("tibc")
		tibc := float64(s.between(200, 480))
		iron := math.Round(tibc * tsat / 100)
		if iron < 1 {
			iron = 1
		}
		unit := "µg/dL"
		if tsatForm == 2 {
			unit = genPick(s, []string{"µmol/L", "umol/L"})
			tibc, iron = roundN(tibc/5.585, 1), roundN(iron/5.585, 1)
			if iron <= 0 {
				iron = 0.2
			}
		}
		s.p.Labs = append(s.p.Labs,
			genLab{Test: "iron", Value: iron, Unit: unit, Date: date, Fasting: fasting, IronWithin24h: within},
			genLab{Test: "tibc", Value: tibc, Unit: unit, Date: date, Fasting: fasting})
	}
}

func (s *genState) labs() {
	n := s.weighted(10, 55, 25, 10)
	for k := 0; k < n; k++ {
		days := s.freeDay("ferritin", s.labDays())
		fer := s.ferritinValue()
		if s.chance(0.05) {
			fer = -1
		}
		tsat, form := -1.0, 0
		switch s.weighted(55, 15, 10, 20) {
		case 0:
			tsat = s.tsatValue()
		case 1:
			tsat, form = s.tsatValue(), 1
		case 2:
			tsat, form = s.tsatValue(), 2
		}
		if fer < 0 && tsat < 0 {
			fer = s.ferritinValue()
		}
		s.ironPanel(days, fer, tsat, form, s.triBool(0.45, 0.3), s.triBool(0.12, 0.3))
	}
	s.renalLabs(false)
	if s.chance(0.35) {
		v := roundN(math.Exp(s.uniform(math.Log(0.2), math.Log(80))), 1)
		unit := "mg/L"
		if s.chance(0.3) {
			unit, v = "mg/dL", roundN(v/10, 2)
			if v == 0 {
				v = 0.02
			}
		}
		s.p.Labs = append(s.p.Labs, genLab{Test: "crp", Value: v, Unit: unit, Date: s.ago(s.freeDay("crp", s.labDays()))})
	}
	if s.chance(0.35) {
		v := roundN(s.uniform(8, 16.5), 1)
		unit := "g/dL"
		if s.chance(0.4) {
			unit, v = "g/L", math.Round(v*10)
		}
		s.p.Labs = append(s.p.Labs, genLab{Test: "hemoglobin", Value: v, Unit: unit, Date: s.ago(s.freeDay("hemoglobin", s.labDays()))})
	}
}

// renalLabs adds creatinine and eGFR; esrd draws dialysis-range values.
func (s *genState) renalLabs(esrd bool) {
	nCr := 0
	if s.chance(0.65) || esrd {
		nCr = 1
		if s.chance(0.12) {
			nCr = 2
		}
	}
	for k := 0; k < nCr; k++ {
		var v float64
		switch {
		case esrd:
			v = s.uniform(4, 11)
		default:
			switch s.weighted(70, 20, 10) {
			case 0:
				v = s.uniform(0.5, 1.4)
			case 1:
				v = s.uniform(1.4, 3)
			default:
				v = s.uniform(3, 9)
			}
		}
		v = roundN(v, 2)
		unit := "mg/dL"
		if s.chance(0.4) {
			unit, v = genPick(s, []string{"µmol/L", "umol/L", "μmol/L"}), math.Round(v*88.42)
		}
		s.p.Labs = append(s.p.Labs, genLab{Test: "creatinine", Value: v, Unit: unit, Date: s.ago(s.freeDay("creatinine", 400))})
	}
	if s.chance(0.5) || (esrd && s.chance(0.5)) {
		v := float64(s.between(5, 125))
		if esrd {
			v = float64(s.between(4, 14))
		}
		s.p.Labs = append(s.p.Labs, genLab{Test: "egfr", Value: v, Unit: genPick(s, []string{"mL/min/1.73m2", "mL/min/1.73 m²", "ml/min/1.73m2"}),
			Date: s.ago(s.freeDay("egfr", 400))})
	}
}

// nameFor returns how a record may name d: id, name, synonym, brand or (not
// in sigs) a verified RxNorm code.
func (s *genState) nameFor(d *kb.Drug, forSig bool) string {
	v := []string{d.ID, d.Name, d.Name}
	v = append(v, d.Synonyms...)
	v = append(v, d.Brands...)
	if !forSig && d.RxNorm != nil && d.RxNorm.Verified {
		v = append(v, d.RxNorm.Code)
	}
	return genPick(s, v)
}

func (s *genState) timesFor(d *kb.Drug) float64 {
	switch d.Class {
	case "alpha2delta_ligand":
		if d.ID == "gabapentin_enacarbil" {
			return 1
		}
		if d.ID == "pregabalin" {
			return genPick(s, []float64{1, 1, 2})
		}
		return genPick(s, []float64{1, 1, 2, 3, 3})
	case "dopamine_agonist", "dopamine_precursor":
		return genPick(s, []float64{1, 1, 1, 2, 3})
	case "oral_iron":
		return genPick(s, []float64{0.5, 1, 1, 2})
	case "opioid":
		return genPick(s, []float64{1, 2, 2, 3})
	}
	return genPick(s, []float64{1, 1, 2, 3})
}

// addMed adds d at perDose × times (perDose is mg/24 h for patches).
func (s *genState) addMed(d *kb.Drug, perDose, times float64, status, outcome string, startAgo int) {
	m := genMed{Status: status, Outcome: outcome}
	patch := d.Route == "transdermal"
	switch form := s.weighted(45, 45, 5, 5); {
	case patch && form == 0:
		m.Name = s.nameFor(d, false)
		m.DoseMgPer24h = genPtr(perDose)
	case patch && form == 1:
		name := s.nameFor(d, true)
		if mcg, ok := genPatchMcgPerHour[d.ID]; ok && s.chance(0.5) {
			h := genPick(s, mcg)
			m.Sig = name + " " + genNum(h) + " mcg/h patch"
		} else {
			m.Sig = name + " " + genNum(perDose) + " mg/24h patch"
		}
	case form == 0:
		m.Name = s.nameFor(d, false)
		m.DoseMg = genPtr(perDose)
		if s.chance(0.93) {
			m.TimesPerDay = genPtr(times)
		}
	case form == 1:
		m.Sig = s.sig(d, perDose, times)
	case form == 2:
		m.Name = s.nameFor(d, false) // dose unknown
	default:
		m.Sig = s.nameFor(d, true) + " " + genNum(perDose) + " mg " + genPick(s, []string{"as needed", "prn", ""})
		m.Sig = strings.TrimSpace(m.Sig)
	}
	if startAgo >= 0 {
		m.Start = s.ago(startAgo)
	}
	if status == "past" && s.chance(0.7) {
		if startAgo >= 0 {
			m.Stop = s.ago(s.r.IntN(startAgo + 1))
		} else {
			m.Stop = s.ago(s.r.IntN(1500))
		}
	}
	s.p.Medications = append(s.p.Medications, m)
}

func (s *genState) sig(d *kb.Drug, perDose, times float64) string {
	name := s.nameFor(d, true)
	amount := genNum(perDose) + genPick(s, []string{" mg", "mg", " mg"})
	switch {
	case d.ID == "levodopa" && perDose >= 100 && s.chance(0.5):
		name = genPick(s, []string{"carbidopa/levodopa", "Sinemet"})
		amount = "25/" + genNum(perDose) + " mg"
	case d.ID == "oxycodone_naloxone" && s.chance(0.5):
		name = genPick(s, []string{"oxycodone/naloxone", "Targin"})
		amount = genNum(perDose) + "/" + genNum(perDose/2) + " mg"
	}
	freq := ""
	if s.chance(0.95) {
		freq = " " + genPick(s, genFreq[times])
	}
	return name + " " + amount + freq
}

// strength draws a strength for d; sometimes a large one.
func (s *genState) strength(d *kb.Drug) float64 {
	if list, ok := genStrengths[d.ID]; ok {
		return genPick(s, list)
	}
	return genPick(s, []float64{5, 10, 25, 50, 100})
}

func (s *genState) statusOutcome(d *kb.Drug) (status, outcome string) {
	if s.chance(0.35) {
		status = "past"
		switch s.weighted(30, 25, 10, 15, 20) {
		case 0:
			outcome = "ineffective"
		case 1:
			outcome = "intolerant"
		case 2:
			if d.Dopaminergic || s.chance(0.1) {
				outcome = "augmentation"
			} else {
				outcome = "partial"
			}
		case 3:
			outcome = "partial"
		}
		return
	}
	if s.chance(0.5) {
		status = "current"
	}
	switch s.weighted(85, 8, 4, 3) {
	case 1:
		outcome = "partial"
	case 2:
		outcome = "intolerant"
	case 3:
		outcome = "ineffective"
	}
	return
}

func (s *genState) startAgo() int {
	if !s.chance(0.65) {
		return -1
	}
	if s.chance(0.2) {
		return s.r.IntN(42)
	}
	return 42 + s.r.IntN(2500)
}

func (s *genState) medications() {
	n := s.weighted(15, 25, 25, 18, 10, 7)
	for k := 0; k < n; k++ {
		if s.chance(0.04) {
			m := genMed{}
			u := genPick(s, genUnknownMeds)
			if s.chance(0.5) {
				m.Sig = u
			} else {
				m.Name = strings.Fields(u)[0]
			}
			s.p.Medications = append(s.p.Medications, m)
			continue
		}
		var d *kb.Drug
		if s.chance(0.5) {
			d = genPick(s, s.g.drugs)
		} else {
			d = genPick(s, s.g.rlsDrugs)
		}
		status, outcome := s.statusOutcome(d)
		s.addMed(d, s.strength(d), s.timesFor(d), status, outcome, s.startAgo())
	}
}

func (s *genState) infusions() {
	if !s.chance(0.2) {
		return
	}
	for k := s.between(1, 3); k > 0; k-- {
		s.p.IronInfusions = append(s.p.IronInfusions, genInfusion{
			Date:    s.ago(s.r.IntN(900)),
			Product: genPick(s, s.g.ivProducts),
			DoseMg:  genPick(s, []float64{200, 500, 510, 750, 1000, 1020}),
		})
	}
}

func (s *genState) irlsTotal(lo, hi int) {
	if s.p.Symptoms == nil {
		s.p.Symptoms = &genSymptoms{}
	}
	s.p.Symptoms.IRLSItems = nil
	s.p.Symptoms.IRLSTotal = genPtr(s.between(lo, hi))
}

func (s *genState) symptoms() {
	sy := &genSymptoms{}
	switch s.weighted(55, 25, 20) {
	case 0:
		sy.IRLSTotal = genPtr(genPick(s, []int{s.between(0, 40), s.between(10, 35), s.between(10, 35)}))
	case 1:
		sy.IRLSItems = make([]int, 10)
		for i := range sy.IRLSItems {
			sy.IRLSItems[i] = s.between(0, 4)
		}
		if s.chance(0.2) {
			sum := 0
			for _, x := range sy.IRLSItems {
				sum += x
			}
			sy.IRLSTotal = genPtr(sum)
		}
	}
	if s.chance(0.12) {
		sy.Augmentation = s.augFeatures()
	}
	sy.DaytimeSymptoms = s.triBool(0.3, 0.4)
	sy.Hyperarousal = s.triBool(0.15, 0.3)
	if sy.IRLSTotal != nil || sy.IRLSItems != nil || sy.Augmentation != nil || sy.DaytimeSymptoms != nil || sy.Hyperarousal != nil || s.chance(0.3) {
		s.p.Symptoms = sy
	}
}

func (s *genState) augFeatures() *genAug {
	a := &genAug{
		EarlierOnset:            s.triBool(0.4, 0.2),
		SpreadToOtherBodyParts:  s.triBool(0.3, 0.2),
		IncreasedIntensity:      s.triBool(0.3, 0.2),
		ShorterLatencyAtRest:    s.triBool(0.25, 0.2),
		ShorterMedicationEffect: s.triBool(0.3, 0.2),
		WorseAfterDoseIncrease:  s.triBool(0.3, 0.2),
		BetterAfterDoseDecrease: s.triBool(0.25, 0.2),
		WorseMostDays:           s.triBool(0.45, 0.15),
		PriorPositiveResponse:   s.triBool(0.5, 0.1),
	}
	if s.chance(0.6) {
		a.OnsetAdvanceHours = genPtr(genPick(s, []float64{0, 1, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 14}))
	}
	return a
}

func (s *genState) lifestyle() {
	if !s.chance(0.7) {
		return
	}
	l := &genLifestyle{}
	if s.chance(0.75) {
		l.AlcoholDrinksPerWeek = genPtr(float64(genPick(s, []int{0, 0, s.between(0, 7), s.between(0, 28)})))
	}
	if s.chance(0.75) {
		l.CaffeineMgPerDay = genPtr(float64(50 * s.between(0, 12)))
	}
	l.Smoker = s.triBool(0.15, 0.55)
	if s.chance(0.7) {
		l.SleepHours = genPtr(float64(s.between(6, 20)) / 2)
	}
	s.p.Lifestyle = l
}

func (s *genState) preferences() {
	if !s.chance(0.22) {
		return
	}
	pr := &genPrefs{}
	for k := s.between(1, 3); k > 0; k-- {
		pr.Declines = append(pr.Declines, genPick(s, genDeclines))
	}
	s.p.Preferences = pr
}

func (s *genState) screening() {
	if !s.chance(0.6) {
		return
	}
	sc := &genScreening{
		OpioidRisk:  genPick(s, []string{"", "low", "low", "moderate", "high"}),
		OSAScreen:   genPick(s, []string{"", "negative", "negative", "positive"}),
		PDMPChecked: s.triBool(0.5, 0.2),
	}
	s.p.Screening = sc
}

// ---- archetypes

func (s *genState) drug(id string) *kb.Drug {
	d, ok := s.g.b.Drug(id)
	if !ok {
		panic("generator: no drug " + id)
	}
	return d
}

func (s *genState) notPregnant() {
	if s.p.Pregnancy != "" {
		s.p.Pregnancy = genPick(s, []string{"", "none"})
	}
}

// refractory: iron optimised, an adequate alpha-2-delta trial, persisting
// symptoms, few exacerbating factors.
func (s *genState) refractory() {
	s.notPregnant()
	s.dropLabs("ferritin", "tsat", "iron", "tibc")
	days := s.r.IntN(250)
	fasting := genPtr(true)
	if s.chance(0.15) {
		fasting = nil
	}
	form := s.weighted(70, 15, 15)
	s.ironPanel(days, float64(s.between(101, 299)), float64(s.between(21, 44)), form, fasting, genPick(s, []*bool{nil, genPtr(false)}))
	if s.chance(0.8) {
		s.dropCondition("hemochromatosis")
	}
	s.dropCondition("sleep_apnea")
	if s.chance(0.7) {
		s.p.Medications = nil
	}
	switch s.weighted(50, 30, 20) {
	case 0: // past adequate trial that failed
		id := genPick(s, []string{"gabapentin", "gabapentin", "pregabalin", "gabapentin_enacarbil"})
		per, times := genPick(s, []float64{300, 400, 600}), 3.0
		switch id {
		case "pregabalin":
			per, times = genPick(s, []float64{75, 150}), 2
		case "gabapentin_enacarbil":
			per, times = 600, 1
		}
		start := s.between(200, 900)
		m := genMed{Name: s.nameFor(s.drug(id), false), DoseMg: genPtr(per), TimesPerDay: genPtr(times), Status: "past",
			Outcome: genPick(s, []string{"ineffective", "ineffective", "partial"}), Start: s.ago(start), Stop: s.ago(s.between(20, start-30))}
		s.p.Medications = append(s.p.Medications, m)
	case 1: // current adequate dose, symptoms persist
		id := genPick(s, []string{"gabapentin", "pregabalin", "gabapentin_enacarbil"})
		per := map[string]float64{"gabapentin": genPick(s, []float64{300, 600}), "pregabalin": genPick(s, []float64{150, 300}), "gabapentin_enacarbil": 600}[id]
		times := map[string]float64{"gabapentin": genPick(s, []float64{1, 3}), "pregabalin": 1, "gabapentin_enacarbil": 1}[id]
		if id == "gabapentin" && times == 1 {
			per = 900
		}
		start := s.between(30, 700)
		m := genMed{Start: s.ago(start), Status: genPick(s, []string{"", "current"})}
		if s.chance(0.5) {
			m.Name, m.DoseMg, m.TimesPerDay = s.nameFor(s.drug(id), false), genPtr(per), genPtr(times)
		} else {
			m.Sig = s.sig(s.drug(id), per, times)
		}
		s.p.Medications = append(s.p.Medications, m)
	default: // not tolerated
		for _, id := range []string{"gabapentin", "pregabalin", "gabapentin_enacarbil"} {
			if id != "gabapentin" && s.chance(0.5) {
				continue
			}
			d := s.drug(id)
			s.p.Medications = append(s.p.Medications, genMed{Name: s.nameFor(d, false), DoseMg: genPtr(s.strength(d)), TimesPerDay: genPtr(1.0), Status: "past", Outcome: "intolerant"})
		}
	}
	s.irlsTotal(12, 36)
	if s.chance(0.8) {
		s.p.Lifestyle = &genLifestyle{AlcoholDrinksPerWeek: genPtr(float64(s.between(0, 5))), CaffeineMgPerDay: genPtr(float64(50 * s.between(0, 4))),
			Smoker: genPtr(false), SleepHours: genPtr(float64(s.between(12, 17)) / 2)}
	}
	if s.p.Screening == nil || s.chance(0.5) {
		s.p.Screening = &genScreening{OpioidRisk: genPick(s, []string{"low", "low", "moderate", "high", ""}), OSAScreen: genPick(s, []string{"negative", "negative", "positive", ""}),
			PDMPChecked: s.triBool(0.6, 0.2)}
	}
}

func (s *genState) augmentationCase() {
	s.notPregnant()
	id := genArchDA[s.weighted(40, 25, 15, 15, 5)]
	d := s.drug(id)
	st := s.strength(d)
	times := 1.0
	if d.Route != "transdermal" && s.chance(0.25) {
		times = 2
	}
	s.addMed(d, st, times, genPick(s, []string{"", "current"}), "", s.between(200, 3000))
	if s.p.Symptoms == nil {
		s.p.Symptoms = &genSymptoms{}
	}
	if s.chance(0.85) {
		s.p.Symptoms.Augmentation = s.augFeatures()
	}
	if s.chance(0.7) {
		s.irlsTotal(12, 38)
	}
}

var genArchDA = []string{"pramipexole", "ropinirole", "rotigotine", "levodopa", "cabergoline"}

func (s *genState) ironDeficient() {
	s.dropLabs("ferritin", "tsat", "iron", "tibc")
	fasting := s.triBool(0.7, 0.15)
	s.ironPanel(s.r.IntN(300), float64(s.between(5, 100)), roundN(s.uniform(4, 45), 1), s.weighted(70, 15, 15), fasting, s.triBool(0.1, 0.4))
	if s.chance(0.4) {
		d := s.drug("ferrous_sulfate")
		if s.chance(0.3) {
			d = s.drug("ferrous_bisglycinate")
		}
		status, outcome := "past", genPick(s, []string{"ineffective", "intolerant", "partial", ""})
		if s.chance(0.4) {
			status, outcome = "current", ""
		}
		s.addMed(d, s.strength(d), 1, status, outcome, s.between(10, 400))
	}
	if s.chance(0.6) {
		s.irlsTotal(8, 38)
	}
}

func (s *genState) esrd() {
	s.notPregnant()
	s.addCondition("esrd")
	if s.chance(0.5) {
		s.addCondition("ckd")
	}
	s.dropLabs("creatinine", "egfr", "ferritin", "tsat", "iron", "tibc")
	s.renalLabs(true)
	s.ironPanel(s.r.IntN(250), float64(s.between(40, 900)), roundN(s.uniform(8, 50), 1), s.weighted(70, 15, 15), s.triBool(0.6, 0.2), nil)
	if s.chance(0.45) {
		id := genPick(s, []string{"gabapentin", "gabapentin", "pregabalin", "gabapentin_enacarbil"})
		d := s.drug(id)
		s.addMed(d, s.strength(d), genPick(s, []float64{1, 1, 2, 3}), genPick(s, []string{"", "current", "past"}), "", s.startAgo())
	}
	if s.chance(0.7) {
		s.irlsTotal(8, 36)
	}
}

func (s *genState) pregnancyCase() {
	s.p.Sex = "female"
	s.p.Age = s.between(20, 42)
	s.p.Pregnancy = genPick(s, []string{"pregnant", "pregnant", "lactating"})
	s.dropCondition("esrd")
	if s.chance(0.3) {
		d := s.drug(genPick(s, genArchDA))
		s.addMed(d, s.strength(d), 1, "", "", s.between(50, 900))
	}
	if s.chance(0.25) {
		d := s.drug(genPick(s, []string{"gabapentin", "pregabalin", "oxycodone", "clonazepam"}))
		s.addMed(d, s.strength(d), s.timesFor(d), "", "", s.startAgo())
	}
	s.dropLabs("ferritin", "tsat", "iron", "tibc")
	if s.chance(0.9) {
		s.ironPanel(s.r.IntN(200), float64(s.between(8, 200)), roundN(s.uniform(8, 45), 1), 0, s.triBool(0.6, 0.2), nil)
	}
	s.irlsTotal(10, 38)
}

func (s *genState) opioidCase() {
	s.notPregnant()
	id := genArchOpioids[s.weighted(35, 18, 10, 10, 10, 5, 5, 4, 3)]
	d := s.drug(id)
	s.addMed(d, s.strength(d), s.timesFor(d), genPick(s, []string{"", "current"}), "", s.startAgo())
	if s.chance(0.2) {
		b := s.drug(genPick(s, []string{"clonazepam", "diazepam", "lorazepam", "alprazolam"}))
		s.addMed(b, s.strength(b), 1, "", "", s.startAgo())
	}
	if s.chance(0.4) {
		a := s.drug(genPick(s, []string{"gabapentin", "pregabalin"}))
		s.addMed(a, s.strength(a), s.timesFor(a), "", "", s.startAgo())
	}
	for _, c := range []string{"copd", "sleep_apnea", "opioid_use_disorder"} {
		if s.chance(0.15) {
			s.addCondition(c)
		}
	}
	if s.chance(0.7) {
		s.irlsTotal(8, 36)
	}
}

var genArchOpioids = []string{"oxycodone", "methadone", "oxycodone_naloxone", "buprenorphine", "tramadol",
	"hydrocodone", "morphine", "fentanyl", "tapentadol"}

// under18 draws a record that is valid except for the age.
func (g *generator) under18(i int) genCase {
	c := g.patient(1_000_000 + i)
	r := rand.New(rand.NewPCG(g.seed^0x18, uint64(i)))
	c.In.Age = r.IntN(18)
	c.In.Pregnancy = ""
	return c
}
