package synth

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"ekbom"
	"ekbom/kb"
)

// person is the clinical picture of one synthetic patient, before it is
// written as FHIR resources (fhir.go). Dates are days before the export's
// reference date; −1 means "not recorded".
type person struct {
	id            string
	family, given string
	age           int
	sex           string // female | male
	birth         ekbom.Date
	birthPrec     int     // 0 full date, 1 year and month, 2 year only
	weightKg      float64 // 0: not recorded
	weightLb      bool    // recorded in pounds
	weightDays    int
	pregnancy     string // "" (not asked), none, pregnant, lactating
	conds         []string
	labs          []lab
	meds          []med
	infusions     []infusion
	sym           symptoms
	life          *lifestyle
	declines      []string
	screen        *screening
	otherConds    []otherCond // conditions ekbom does not read
	vitals        int         // heart-rate and blood-pressure observations
	encounters    int
	olderQR       bool // an older questionnaire answer too
	hasQR         bool
	archetype     string
}

type lab struct {
	test          string // contract lab test, or "weight"
	value         float64
	unit          string // UCUM code
	days          int
	fasting       *bool
	ironWithin24h *bool
}

type med struct {
	d           *kb.Drug // nil: a drug the knowledge base does not know
	unknown     string   // its text when d is nil
	perDose     float64  // mg per administration (patches: mg/24 h); 0 unknown
	times       float64  // administrations a day; 0 unknown
	mcgPerHour  float64  // patch rate written in mcg/h
	past        bool
	outcome     string
	startDays   int // −1 none
	stopDays    int // −1 none
	form        int // 0 structured dose, 1 dose in the dosage text, 2 no dosage, 3 as needed
	bedtime     bool
	statement   bool // MedicationStatement rather than MedicationRequest
	nameStyle   int  // 0 text, 1 text + RxNorm, 2 RxNorm only, 3 shared Medication, 4 contained Medication
	displayName string
}

type infusion struct {
	days    int
	product string
	doseMg  float64
}

type symptoms struct {
	irlsTotal *int
	irlsItems []int
	aug       *augFeatures
	daytime   *bool
	hyper     *bool
}

type augFeatures struct {
	earlierOnset, spread, intensity, latency, shorterEffect, worseAfterIncrease, betterAfterDecrease,
	worseMostDays, priorResponse *bool
	advanceHours *float64
}

type lifestyle struct {
	alcohol, caffeine, sleep *float64
	smoker                   *bool
}

type screening struct {
	opioidRisk, osa string
	pdmp            *bool
}

type otherCond struct {
	system, code, display string
	resolved              bool
}

// state draws one person from its own random stream.
type state struct {
	g    *Generator
	r    *rand.Rand
	asOf ekbom.Date
	p    *person
	used map[string]map[int]bool // lab test → day offsets used
}

func (s *state) chance(p float64) bool          { return s.r.Float64() < p }
func (s *state) between(lo, hi int) int         { return lo + s.r.IntN(hi-lo+1) }
func (s *state) uniform(lo, hi float64) float64 { return lo + s.r.Float64()*(hi-lo) }

func pick[T any](s *state, list []T) T { return list[s.r.IntN(len(list))] }

func ptr[T any](v T) *T { return &v }

// weighted returns an index drawn with the given weights.
func (s *state) weighted(w ...int) int {
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

// triBool returns true, false or nil (not asked).
func (s *state) triBool(pTrue, pFalse float64) *bool {
	x := s.r.Float64()
	switch {
	case x < pTrue:
		return ptr(true)
	case x < pTrue+pFalse:
		return ptr(false)
	}
	return nil
}

func roundN(x float64, n int) float64 {
	p := math.Pow10(n)
	return math.Round(x*p) / p
}

func num(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func (s *state) freeDay(test string, max int) int {
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

func (s *state) dropLabs(tests ...string) {
	s.p.labs = slices.DeleteFunc(s.p.labs, func(l lab) bool { return slices.Contains(tests, l.test) })
	for _, t := range tests {
		delete(s.used, t)
	}
}

func (s *state) hasCondition(c string) bool { return slices.Contains(s.p.conds, c) }

func (s *state) addCondition(c string) {
	if !s.hasCondition(c) {
		s.p.conds = append(s.p.conds, c)
	}
}

func (s *state) dropCondition(c string) {
	s.p.conds = slices.DeleteFunc(s.p.conds, func(x string) bool { return x == c })
}

// archetypes steer a share of the patients towards the parts of the pathway
// that random records rarely reach; weights are per cent.
var archetypes = []struct {
	name   string
	weight int
}{
	{"random", 30}, {"refractory", 16}, {"augmentation", 13}, {"iron_deficient", 10},
	{"esrd", 6}, {"pregnancy", 6}, {"opioid", 11}, {"exacerbators", 8},
}

var familyNames = []string{"Silva", "Smith", "Nguyen", "Okafor", "Müller", "García", "Kowalski", "Ode", "Iyer", "Voss",
	"Haddad", "Johansson", "Tanaka", "O'Brien", "Rossi", "Cohen", "Mensah", "Dubois", "Park", "Novak"}
var femaleNames = []string{"Ana", "Mary", "Linh", "Ada", "Fatima", "Ingrid", "Yuki", "Grace", "Sofia", "Chloe", "Amara", "Eva"}
var maleNames = []string{"Sam", "Raj", "John", "Kwame", "Luca", "Ahmed", "Jonas", "Hiro", "David", "Tomas", "Pedro", "Liam"}

// draw builds person i.
func (g *Generator) draw(i int) *person {
	s := &state{g: g, r: rand.New(rand.NewPCG(g.seed, uint64(i))), asOf: g.asOf, p: &person{}, used: map[string]map[int]bool{}}
	p := s.p
	p.id = g.patientID(i)
	w := make([]int, len(archetypes))
	for k, a := range archetypes {
		w[k] = a.weight
	}
	p.archetype = archetypes[s.weighted(w...)].name

	s.demographics()
	s.conditions()
	s.labs()
	s.medications()
	s.infusions()
	s.symptoms()
	s.lifestyle()
	s.preferences()
	s.screening()
	s.extras()

	switch p.archetype {
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
	case "exacerbators":
		s.exacerbatorCase()
	}
	s.finish()
	return p
}

func (s *state) demographics() {
	p := s.p
	switch s.weighted(15, 40, 45) { // RLS is commoner with age
	case 0:
		p.age = s.between(19, 34)
	case 1:
		p.age = s.between(35, 64)
	default:
		p.age = s.between(65, 94)
	}
	p.sex = "male"
	if s.chance(0.62) { // and in women
		p.sex = "female"
	}
	s.setBirth()
	p.family = pick(s, familyNames)
	if p.sex == "female" {
		p.given = pick(s, femaleNames)
	} else {
		p.given = pick(s, maleNames)
	}
	if s.chance(0.88) {
		if p.sex == "female" {
			p.weightKg = roundN(s.uniform(45, 120), 1)
		} else {
			p.weightKg = roundN(s.uniform(55, 145), 1)
		}
		p.weightLb = s.chance(0.15)
		p.weightDays = s.r.IntN(400)
	}
	if p.sex == "female" && p.age <= 45 {
		switch s.weighted(70, 5, 4, 21) {
		case 1:
			p.pregnancy = "pregnant"
		case 2:
			p.pregnancy = "lactating"
		case 3:
			p.pregnancy = "none"
		}
	}
}

// setBirth picks a birth date that gives p.age at the reference date; a
// few are recorded to the year or month only.
func (s *state) setBirth() {
	p := s.p
	// Born between age+1 years and age years before asOf (exclusive).
	end := s.asOf.AddMonths(-12 * p.age)
	p.birth = end.AddDays(-1 - s.r.IntN(364))
	p.birthPrec = 0
	if s.chance(0.03) {
		p.birthPrec = 1 + s.r.IntN(2)
	}
}

// conditions draws comorbidities; prevalences are rough and only steer the
// mix.
func (s *state) conditions() {
	for _, c := range ekbom.Conditions {
		pr := 0.06
		switch c {
		case ekbom.ESRD:
			pr = 0.02
		case ekbom.Hemochromatosis:
			pr = 0.02
		case ekbom.SleepApnea:
			pr = 0.12
		case ekbom.SleepApneaTreated:
			pr = 0.05
		case ekbom.FallRisk:
			if s.p.age >= 70 {
				pr = 0.25
			}
		case ekbom.Depression, ekbom.PeripheralNeuropathy, ekbom.CKD:
			pr = 0.1
		}
		if s.chance(pr) {
			s.p.conds = append(s.p.conds, string(c))
		}
	}
	if s.hasCondition("esrd") && s.chance(0.5) {
		s.addCondition("ckd")
	}
	s.r.Shuffle(len(s.p.conds), func(i, j int) { s.p.conds[i], s.p.conds[j] = s.p.conds[j], s.p.conds[i] })
}

// labDays draws how old a result is: mostly within a year, up to 800 days.
func (s *state) labDays() int {
	if s.chance(0.7) {
		return 330
	}
	return 800
}

func (s *state) ferritinValue() float64 {
	switch s.weighted(15, 70, 15) {
	case 0: // at and around the thresholds
		return float64(pick(s, []int{75, 100, 300})+s.between(-2, 2)) + pick(s, []float64{0, 0, 0.5})
	case 1:
		return math.Round(math.Exp(s.uniform(math.Log(5), math.Log(400))))
	}
	return math.Round(math.Exp(s.uniform(math.Log(5), math.Log(1500))))
}

func (s *state) tsatValue() float64 {
	switch s.weighted(15, 70, 15) {
	case 0:
		return roundN(float64(pick(s, []int{20, 45}))+s.uniform(-2, 2), 1)
	case 1:
		return roundN(s.uniform(5, 42), 1)
	}
	return roundN(s.uniform(3, 90), 1)
}

// ironPanel adds ferritin and TSAT (measured, or as iron and TIBC) drawn
// days ago. fer or tsat < 0 leave the test out; form 0 measures TSAT, 1 and
// 2 give iron and TIBC in µg/dL or µmol/L.
func (s *state) ironPanel(days int, fer, tsat float64, form int, fasting, within *bool) {
	mark := func(test string) {
		if s.used[test] == nil {
			s.used[test] = map[int]bool{}
		}
		s.used[test][days] = true
	}
	if fer >= 0 {
		mark("ferritin")
		s.p.labs = append(s.p.labs, lab{test: "ferritin", value: fer, unit: pick(s, []string{"ng/mL", "ng/mL", "ug/L"}), days: days, fasting: fasting, ironWithin24h: within})
	}
	if tsat < 0 {
		return
	}
	if form == 0 {
		mark("tsat")
		s.p.labs = append(s.p.labs, lab{test: "tsat", value: tsat, unit: "%", days: days, fasting: fasting, ironWithin24h: within})
		return
	}
	mark("iron")
	mark("tibc")
	tibc := float64(s.between(200, 480))
	iron := math.Max(1, math.Round(tibc*tsat/100))
	unit := "ug/dL"
	if form == 2 {
		unit = "umol/L"
		tibc, iron = roundN(tibc/5.585, 1), math.Max(0.2, roundN(iron/5.585, 1))
	}
	s.p.labs = append(s.p.labs,
		lab{test: "iron", value: iron, unit: unit, days: days, fasting: fasting, ironWithin24h: within},
		lab{test: "tibc", value: tibc, unit: unit, days: days, fasting: fasting})
}

func (s *state) labs() {
	n := s.weighted(12, 55, 25, 8) // iron panels on record
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
		s.ironPanel(days, fer, tsat, form, s.triBool(0.45, 0.3), s.triBool(0.1, 0.3))
	}
	s.renalLabs(false)
	if s.chance(0.35) {
		v := roundN(math.Exp(s.uniform(math.Log(0.2), math.Log(80))), 1)
		unit := "mg/L"
		if s.chance(0.25) {
			unit, v = "mg/dL", math.Max(0.02, roundN(v/10, 2))
		}
		s.p.labs = append(s.p.labs, lab{test: "crp", value: v, unit: unit, days: s.freeDay("crp", s.labDays())})
	}
	if s.chance(0.45) {
		v := roundN(s.uniform(8, 16.5), 1)
		unit := "g/dL"
		if s.chance(0.35) {
			unit, v = "g/L", math.Round(v*10)
		}
		s.p.labs = append(s.p.labs, lab{test: "hemoglobin", value: v, unit: unit, days: s.freeDay("hemoglobin", s.labDays())})
	}
}

// renalLabs adds creatinine and eGFR; esrd draws dialysis-range values.
func (s *state) renalLabs(esrd bool) {
	nCr := 0
	if esrd || s.chance(0.7) {
		nCr = 1
		if s.chance(0.15) {
			nCr = 2
		}
	}
	for k := 0; k < nCr; k++ {
		var v float64
		switch {
		case esrd:
			v = s.uniform(4, 11)
		default:
			switch s.weighted(72, 20, 8) {
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
		if s.chance(0.35) {
			unit, v = "umol/L", math.Round(v*88.42)
		}
		s.p.labs = append(s.p.labs, lab{test: "creatinine", value: v, unit: unit, days: s.freeDay("creatinine", 400)})
	}
	if esrd || s.chance(0.5) {
		v := float64(s.between(5, 125))
		if esrd {
			v = float64(s.between(4, 14))
		}
		s.p.labs = append(s.p.labs, lab{test: "egfr", value: v, unit: "mL/min/{1.73_m2}", days: s.freeDay("egfr", 400)})
	}
}

// strengths are realistic strengths per administration (patches: mg/24 h).
var strengths = map[string][]float64{
	"ferrous_sulfate": {325}, "ferrous_bisglycinate": {25, 28, 36}, "vitamin_c": {100, 250, 500},
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

// patchMcgPerHour are patches often prescribed in mcg/h.
var patchMcgPerHour = map[string][]float64{"fentanyl": {12, 25, 50}, "buprenorphine": {5, 10, 20}}

// unknownMeds are common medicines the knowledge base does not know.
var unknownMeds = []string{"metformin 500 mg tablet", "lisinopril 10 mg tablet", "atorvastatin 40 mg tablet",
	"levothyroxine 75 mcg tablet", "omeprazole 20 mg capsule", "amlodipine 5 mg tablet",
	"magnesium glycinate 400 mg", "apixaban 5 mg tablet"}

func (s *state) strength(d *kb.Drug) float64 {
	if list, ok := strengths[d.ID]; ok {
		return pick(s, list)
	}
	return pick(s, []float64{5, 10, 25, 50, 100})
}

func (s *state) timesFor(d *kb.Drug) float64 {
	switch d.Class {
	case "alpha2delta_ligand":
		switch d.ID {
		case "gabapentin_enacarbil":
			return 1
		case "pregabalin":
			return pick(s, []float64{1, 1, 2})
		}
		return pick(s, []float64{1, 1, 2, 3, 3})
	case "dopamine_agonist", "dopamine_precursor":
		return pick(s, []float64{1, 1, 1, 2, 3})
	case "oral_iron":
		return pick(s, []float64{0.5, 1, 1, 2})
	case "opioid":
		return pick(s, []float64{1, 2, 2, 3})
	}
	return pick(s, []float64{1, 1, 2, 3})
}

// addMed adds d at perDose × times; status past or current.
func (s *state) addMed(d *kb.Drug, perDose, times float64, past bool, outcome string, startDays int) {
	m := med{d: d, perDose: perDose, times: times, past: past, outcome: outcome, startDays: startDays, stopDays: -1}
	if d.Route == "transdermal" {
		m.times = 1
		if mcg, ok := patchMcgPerHour[d.ID]; ok && s.chance(0.5) {
			m.mcgPerHour = pick(s, mcg)
			m.perDose = roundN(m.mcgPerHour*24/1000, 4)
		}
	}
	m.form = s.weighted(70, 15, 8, 7)
	if d.Route == "transdermal" && m.form == 1 {
		m.form = 0
	}
	m.bedtime = m.times == 1 && (d.Class == "dopamine_agonist" || d.Class == "alpha2delta_ligand") && s.chance(0.5)
	if past && s.chance(0.75) {
		if startDays >= 0 {
			m.stopDays = s.r.IntN(startDays + 1)
		} else {
			m.stopDays = s.r.IntN(1500)
		}
	}
	s.p.meds = append(s.p.meds, m)
}

func (s *state) statusOutcome(d *kb.Drug) (past bool, outcome string) {
	if s.chance(0.3) {
		switch s.weighted(30, 25, 10, 15, 20) {
		case 0:
			outcome = "ineffective"
		case 1:
			outcome = "intolerant"
		case 2:
			if d.Dopaminergic {
				outcome = "augmentation"
			} else {
				outcome = "partial"
			}
		case 3:
			outcome = "partial"
		}
		return true, outcome
	}
	switch s.weighted(88, 8, 2, 2) {
	case 1:
		outcome = "partial"
	case 2:
		outcome = "intolerant"
	case 3:
		outcome = "ineffective"
	}
	return false, outcome
}

func (s *state) startDays() int {
	if !s.chance(0.75) {
		return -1
	}
	if s.chance(0.15) {
		return s.r.IntN(42)
	}
	return 42 + s.r.IntN(2500)
}

func (s *state) medications() {
	n := s.weighted(15, 25, 25, 18, 10, 7)
	for k := 0; k < n; k++ {
		if s.chance(0.12) {
			s.p.meds = append(s.p.meds, med{unknown: pick(s, unknownMeds), startDays: s.startDays(), stopDays: -1, form: 2})
			continue
		}
		var d *kb.Drug
		switch s.weighted(24, 18, 14, 7, 7, 30) {
		case 0:
			d = pick(s, s.g.byClass["alpha2delta_ligand"])
		case 1:
			d = pick(s, s.g.byClass["dopamine_agonist"])
		case 2:
			d = pick(s, s.g.byClass["oral_iron"])
		case 3:
			d = pick(s, s.g.byClass["opioid"])
		case 4:
			d = pick(s, s.g.byClass["benzodiazepine"])
		default:
			d = pick(s, s.g.drugs)
		}
		past, outcome := s.statusOutcome(d)
		s.addMed(d, s.strength(d), s.timesFor(d), past, outcome, s.startDays())
	}
}

func (s *state) infusions() {
	if !s.chance(0.18) {
		return
	}
	for k := s.between(1, 3); k > 0; k-- {
		s.p.infusions = append(s.p.infusions, infusion{
			days:    s.r.IntN(900),
			product: pick(s, s.g.ivProducts),
			doseMg:  pick(s, []float64{200, 500, 510, 750, 1000, 1020}),
		})
	}
}

func (s *state) irlsTotal(lo, hi int) {
	s.p.sym.irlsItems = nil
	s.p.sym.irlsTotal = ptr(s.between(lo, hi))
}

func (s *state) symptoms() {
	sy := &s.p.sym
	switch s.weighted(50, 30, 20) {
	case 0:
		sy.irlsTotal = ptr(pick(s, []int{s.between(0, 40), s.between(10, 35), s.between(10, 35)}))
	case 1:
		sy.irlsItems = make([]int, 10)
		for i := range sy.irlsItems {
			sy.irlsItems[i] = s.between(0, 4)
		}
	}
	if s.chance(0.1) {
		sy.aug = s.augFeatures()
	}
	sy.daytime = s.triBool(0.3, 0.4)
	sy.hyper = s.triBool(0.15, 0.3)
}

func (s *state) augFeatures() *augFeatures {
	a := &augFeatures{
		earlierOnset:        s.triBool(0.4, 0.2),
		spread:              s.triBool(0.3, 0.2),
		intensity:           s.triBool(0.3, 0.2),
		latency:             s.triBool(0.25, 0.2),
		shorterEffect:       s.triBool(0.3, 0.2),
		worseAfterIncrease:  s.triBool(0.3, 0.2),
		betterAfterDecrease: s.triBool(0.25, 0.2),
		worseMostDays:       s.triBool(0.45, 0.15),
		priorResponse:       s.triBool(0.5, 0.1),
	}
	if s.chance(0.6) {
		a.advanceHours = ptr(pick(s, []float64{0, 1, 2, 2.5, 3, 4, 5, 6, 8, 10, 12, 14}))
	}
	return a
}

func (s *state) lifestyle() {
	if !s.chance(0.7) {
		return
	}
	l := &lifestyle{}
	if s.chance(0.75) {
		l.alcohol = ptr(float64(pick(s, []int{0, 0, s.between(0, 7), s.between(0, 28)})))
	}
	if s.chance(0.75) {
		l.caffeine = ptr(float64(50 * s.between(0, 12)))
	}
	l.smoker = s.triBool(0.15, 0.55)
	if s.chance(0.7) {
		l.sleep = ptr(float64(s.between(8, 20)) / 2)
	}
	s.p.life = l
}

// declineTargets are answers to "declines": the questionnaire's options and
// a few drug ids written as text.
var declineTargets = []string{"opioid", "iv_iron", "oral_iron", "alpha2delta_ligand", "dopamine_agonist",
	"benzodiazepine", "peroneal_nerve_stimulation", "gabapentin", "pregabalin", "methadone", "oxycodone",
	"ferric_carboxymaltose", "dipyridamole"}

func (s *state) preferences() {
	if !s.chance(0.2) {
		return
	}
	for k := s.between(1, 2); k > 0; k-- {
		t := pick(s, declineTargets)
		if !slices.Contains(s.p.declines, t) {
			s.p.declines = append(s.p.declines, t)
		}
	}
}

func (s *state) screening() {
	if !s.chance(0.6) {
		return
	}
	s.p.screen = &screening{
		opioidRisk: pick(s, []string{"", "low", "low", "moderate", "high"}),
		osa:        pick(s, []string{"", "negative", "negative", "positive"}),
		pdmp:       s.triBool(0.5, 0.2),
	}
}

// unreadConditions are common problems ekbom does not reason about.
var unreadConditions = []otherCond{
	{system: systemSNOMED, code: "38341003", display: "Hypertensive disorder"},
	{system: systemSNOMED, code: "44054006", display: "Diabetes mellitus type 2"},
	{system: systemICD10CM, code: "E78.5", display: "Hyperlipidemia, unspecified"},
	{system: systemSNOMED, code: "195967001", display: "Asthma"},
	{system: systemICD10CM, code: "M54.5", display: "Low back pain"},
}

// extras adds what a real export also holds: other problems, vital signs and
// encounters, which ekbom reads past.
func (s *state) extras() {
	p := s.p
	for k := s.weighted(50, 30, 20); k > 0; k-- {
		c := pick(s, unreadConditions)
		c.resolved = s.chance(0.1)
		p.otherConds = append(p.otherConds, c)
	}
	p.vitals = s.weighted(40, 35, 25)
	p.encounters = s.between(1, 3)
	p.olderQR = s.chance(0.08)
}

// ---- archetypes

func (s *state) drug(id string) *kb.Drug {
	d, ok := s.g.b.Drug(id)
	if !ok {
		panic("synth: the knowledge base has no drug " + id)
	}
	return d
}

func (s *state) notPregnant() {
	if s.p.pregnancy == "pregnant" || s.p.pregnancy == "lactating" {
		s.p.pregnancy = pick(s, []string{"", "none"})
	}
}

// refractory: iron optimised, an adequate alpha-2-delta trial, persisting
// symptoms, few exacerbating factors.
func (s *state) refractory() {
	s.notPregnant()
	s.dropLabs("ferritin", "tsat", "iron", "tibc")
	fasting := ptr(true)
	if s.chance(0.15) {
		fasting = nil
	}
	s.ironPanel(s.r.IntN(250), float64(s.between(101, 299)), float64(s.between(21, 44)), s.weighted(70, 15, 15), fasting, pick(s, []*bool{nil, ptr(false)}))
	if s.chance(0.8) {
		s.dropCondition("hemochromatosis")
	}
	s.dropCondition("sleep_apnea")
	if s.chance(0.7) {
		s.p.meds = nil
	}
	switch s.weighted(50, 30, 20) {
	case 0: // a past adequate trial that failed
		id := pick(s, []string{"gabapentin", "gabapentin", "pregabalin", "gabapentin_enacarbil"})
		per, times := pick(s, []float64{300, 400, 600}), 3.0
		switch id {
		case "pregabalin":
			per, times = pick(s, []float64{75, 150}), 2
		case "gabapentin_enacarbil":
			per, times = 600, 1
		}
		start := s.between(200, 900)
		s.p.meds = append(s.p.meds, med{d: s.drug(id), perDose: per, times: times, past: true,
			outcome: pick(s, []string{"ineffective", "ineffective", "partial"}), startDays: start, stopDays: s.between(20, start-30), statement: true})
	case 1: // a current adequate dose; symptoms persist
		id := pick(s, []string{"gabapentin", "pregabalin", "gabapentin_enacarbil"})
		per := map[string]float64{"gabapentin": pick(s, []float64{300, 600}), "pregabalin": pick(s, []float64{150, 300}), "gabapentin_enacarbil": 600}[id]
		times := map[string]float64{"gabapentin": pick(s, []float64{1, 3}), "pregabalin": 1, "gabapentin_enacarbil": 1}[id]
		if id == "gabapentin" && times == 1 {
			per = 900
		}
		s.p.meds = append(s.p.meds, med{d: s.drug(id), perDose: per, times: times, startDays: s.between(60, 700), stopDays: -1})
	default: // not tolerated
		for _, id := range []string{"gabapentin", "pregabalin", "gabapentin_enacarbil"} {
			if id != "gabapentin" && s.chance(0.5) {
				continue
			}
			d := s.drug(id)
			s.p.meds = append(s.p.meds, med{d: d, perDose: s.strength(d), times: 1, past: true, outcome: "intolerant", startDays: -1, stopDays: -1, statement: true})
		}
	}
	s.irlsTotal(12, 36)
	if s.chance(0.8) {
		s.p.life = &lifestyle{alcohol: ptr(float64(s.between(0, 5))), caffeine: ptr(float64(50 * s.between(0, 4))),
			smoker: ptr(false), sleep: ptr(float64(s.between(12, 17)) / 2)}
	}
	if s.p.screen == nil || s.chance(0.5) {
		s.p.screen = &screening{opioidRisk: pick(s, []string{"low", "low", "moderate", "high", ""}),
			osa: pick(s, []string{"negative", "negative", "positive", ""}), pdmp: s.triBool(0.6, 0.2)}
	}
}

var dopamineAgonists = []string{"pramipexole", "ropinirole", "rotigotine", "levodopa", "cabergoline"}

func (s *state) augmentationCase() {
	s.notPregnant()
	d := s.drug(dopamineAgonists[s.weighted(40, 25, 15, 15, 5)])
	times := 1.0
	if d.Route != "transdermal" && s.chance(0.3) {
		times = 2
	}
	s.addMed(d, s.strength(d), times, false, "", s.between(200, 3000))
	if s.chance(0.85) {
		s.p.sym.aug = s.augFeatures()
	}
	if s.chance(0.7) {
		s.irlsTotal(12, 38)
	}
}

func (s *state) ironDeficient() {
	s.dropLabs("ferritin", "tsat", "iron", "tibc")
	s.ironPanel(s.r.IntN(300), float64(s.between(5, 100)), roundN(s.uniform(4, 45), 1), s.weighted(70, 15, 15), s.triBool(0.7, 0.15), s.triBool(0.1, 0.4))
	if s.chance(0.4) {
		d := s.drug("ferrous_sulfate")
		if s.chance(0.3) {
			d = s.drug("ferrous_bisglycinate")
		}
		past, outcome := true, pick(s, []string{"ineffective", "intolerant", "partial", ""})
		if s.chance(0.4) {
			past, outcome = false, ""
		}
		s.addMed(d, s.strength(d), 1, past, outcome, s.between(10, 400))
	}
	if s.chance(0.3) {
		s.addCondition("iron_deficiency_anemia")
	}
	if s.chance(0.6) {
		s.irlsTotal(8, 38)
	}
}

func (s *state) esrd() {
	s.notPregnant()
	s.addCondition("esrd")
	if s.chance(0.5) {
		s.addCondition("ckd")
	}
	s.dropLabs("creatinine", "egfr", "ferritin", "tsat", "iron", "tibc")
	s.renalLabs(true)
	s.ironPanel(s.r.IntN(250), float64(s.between(40, 900)), roundN(s.uniform(8, 50), 1), s.weighted(70, 15, 15), s.triBool(0.6, 0.2), nil)
	if s.chance(0.45) {
		d := s.drug(pick(s, []string{"gabapentin", "gabapentin", "pregabalin", "gabapentin_enacarbil"}))
		s.addMed(d, s.strength(d), pick(s, []float64{1, 1, 2, 3}), s.chance(0.25), "", s.startDays())
	}
	if s.chance(0.4) {
		s.p.infusions = append(s.p.infusions, infusion{days: s.r.IntN(200), product: pick(s, []string{"iron_sucrose", "Venofer", "ferric carboxymaltose"}), doseMg: pick(s, []float64{100, 200})})
	}
	if s.chance(0.7) {
		s.irlsTotal(8, 36)
	}
}

func (s *state) pregnancyCase() {
	p := s.p
	p.sex = "female"
	p.given = pick(s, femaleNames)
	p.age = s.between(20, 42)
	s.setBirth()
	p.pregnancy = pick(s, []string{"pregnant", "pregnant", "lactating"})
	s.dropCondition("esrd")
	if s.chance(0.3) {
		d := s.drug(pick(s, dopamineAgonists[:3]))
		s.addMed(d, s.strength(d), 1, false, "", s.between(50, 900))
	}
	if s.chance(0.25) {
		d := s.drug(pick(s, []string{"gabapentin", "pregabalin", "oxycodone", "clonazepam"}))
		s.addMed(d, s.strength(d), s.timesFor(d), false, "", s.startDays())
	}
	s.dropLabs("ferritin", "tsat", "iron", "tibc")
	if s.chance(0.9) {
		s.ironPanel(s.r.IntN(200), float64(s.between(8, 200)), roundN(s.uniform(8, 45), 1), 0, s.triBool(0.6, 0.2), nil)
	}
	s.irlsTotal(10, 38)
}

var opioids = []string{"oxycodone", "methadone", "oxycodone_naloxone", "buprenorphine", "tramadol",
	"hydrocodone", "morphine", "fentanyl", "tapentadol"}

func (s *state) opioidCase() {
	s.notPregnant()
	d := s.drug(opioids[s.weighted(35, 18, 10, 10, 10, 5, 5, 4, 3)])
	s.addMed(d, s.strength(d), s.timesFor(d), false, "", s.startDays())
	if s.chance(0.2) {
		b := s.drug(pick(s, []string{"clonazepam", "diazepam", "lorazepam", "alprazolam"}))
		s.addMed(b, s.strength(b), 1, false, "", s.startDays())
	}
	if s.chance(0.45) {
		a := s.drug(pick(s, []string{"gabapentin", "pregabalin"}))
		s.addMed(a, s.strength(a), s.timesFor(a), false, "", s.startDays())
	}
	for _, c := range []string{"copd", "sleep_apnea", "opioid_use_disorder"} {
		if s.chance(0.18) {
			s.addCondition(c)
		}
	}
	if s.chance(0.7) {
		s.irlsTotal(8, 36)
	}
}

// exacerbatorCase adds one or two drugs that worsen RLS.
func (s *state) exacerbatorCase() {
	for k := s.between(1, 2); k > 0; k-- {
		d := pick(s, s.g.exacerbators)
		s.addMed(d, s.strength(d), s.timesFor(d), false, "", s.startDays())
	}
	if s.chance(0.6) {
		s.irlsTotal(6, 34)
	}
}

// finish makes the record consistent: no pregnancy for men, the
// questionnaire when anything needs it.
func (s *state) finish() {
	p := s.p
	if p.sex == "male" {
		p.pregnancy = ""
	}
	if s.hasCondition("sleep_apnea_treated") && !s.hasCondition("sleep_apnea") && s.chance(0.6) {
		s.addCondition("sleep_apnea") // the EHR codes OSA; the questionnaire says it is treated
	}
	for i := range p.meds {
		m := &p.meds[i]
		if m.outcome != "" || m.past {
			m.statement = m.statement || s.chance(0.6)
		} else {
			m.statement = m.statement || s.chance(0.35)
		}
		if m.d != nil {
			m.nameStyle = s.weighted(55, 20, 10, 10, 5)
			if m.d.RxNorm == nil || !m.d.RxNorm.Verified {
				if m.nameStyle == 1 || m.nameStyle == 2 {
					m.nameStyle = 0
				}
			}
			m.displayName = s.nameFor(m.d)
		}
	}
	sy := p.sym
	p.hasQR = sy.irlsTotal != nil || sy.irlsItems != nil || sy.aug != nil || sy.daytime != nil || sy.hyper != nil ||
		p.life != nil || p.screen != nil || len(p.declines) > 0 || p.pregnancy == "lactating" || len(s.qrConditions()) > 0 ||
		s.chance(0.3)
	if p.pregnancy == "pregnant" && !p.hasQR && s.chance(0.5) {
		p.hasQR = true
	}
}

// nameFor returns how a prescription names d: its name, a synonym or a brand.
func (s *state) nameFor(d *kb.Drug) string {
	v := []string{d.Name, d.Name, d.Name}
	v = append(v, d.Synonyms...)
	v = append(v, d.Brands...)
	return pick(s, v)
}
