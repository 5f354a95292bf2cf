package ekbom

// Patient is one adult's record as the contract describes it (§1). Pointer
// fields are optional: nil means "not known", which the engine treats as
// missing data, never as a default.
//
// After intake.Normalize the lab values are in canonical units, derived labs
// (TSAT from iron and TIBC) are added, and each medication carries its
// Resolved facts.
type Patient struct {
	ID            string       `json:"id,omitempty"`
	AsOf          Date         `json:"as_of,omitzero"`
	Age           *int         `json:"age"`
	Sex           Sex          `json:"sex"`
	WeightKg      *float64     `json:"weight_kg,omitempty"`
	Pregnancy     Pregnancy    `json:"pregnancy,omitempty"`
	Conditions    []Condition  `json:"conditions,omitempty"`
	Labs          []Lab        `json:"labs,omitempty"`
	Medications   []Medication `json:"medications,omitempty"`
	IronInfusions []Infusion   `json:"iron_infusions,omitempty"`
	Symptoms      Symptoms     `json:"symptoms,omitzero"`
	Lifestyle     Lifestyle    `json:"lifestyle,omitzero"`
	Preferences   Preferences  `json:"preferences,omitzero"`
	Screening     Screening    `json:"screening,omitzero"`

	// PregnancyDefaulted is set by intake.Normalize when a woman's record
	// gave no pregnancy state and the contract's default ("none") was used:
	// the plan then says so rather than assume it silently. Not part of
	// the contract.
	PregnancyDefaulted bool `json:"-"`
}

// Sex is the patient's sex for creatinine clearance and pregnancy logic.
type Sex string

// Sexes.
const (
	Female Sex = "female"
	Male   Sex = "male"
)

// Pregnancy is the pregnancy or lactation state.
type Pregnancy string

// Pregnancy states.
const (
	NotPregnant Pregnancy = "none"
	Pregnant    Pregnancy = "pregnant"
	Lactating   Pregnancy = "lactating"
)

// Condition is a comorbidity id from the contract's vocabulary (§3.4).
type Condition string

// Conditions the engine reasons about.
const (
	SleepApnea           Condition = "sleep_apnea" // untreated
	SleepApneaTreated    Condition = "sleep_apnea_treated"
	CKD                  Condition = "ckd"
	ESRD                 Condition = "esrd" // on dialysis
	COPD                 Condition = "copd"
	OpioidUseDisorder    Condition = "opioid_use_disorder"
	SubstanceUseDisorder Condition = "substance_use_disorder"
	Hemochromatosis      Condition = "hemochromatosis"
	IronDeficiencyAnemia Condition = "iron_deficiency_anemia"
	InflammatoryDisease  Condition = "inflammatory_disease"
	LiverDisease         Condition = "liver_disease"
	HeartFailure         Condition = "heart_failure"
	Depression           Condition = "depression"
	FallRisk             Condition = "fall_risk"
	CognitiveImpairment  Condition = "cognitive_impairment"
	PeripheralNeuropathy Condition = "peripheral_neuropathy"
)

// Conditions lists every condition id the contract accepts.
var Conditions = []Condition{
	SleepApnea, SleepApneaTreated, CKD, ESRD, COPD, OpioidUseDisorder,
	SubstanceUseDisorder, Hemochromatosis, IronDeficiencyAnemia,
	InflammatoryDisease, LiverDisease, HeartFailure, Depression, FallRisk,
	CognitiveImpairment, PeripheralNeuropathy,
}

// Has reports whether the patient has condition c.
func (p *Patient) Has(c Condition) bool {
	for _, x := range p.Conditions {
		if x == c {
			return true
		}
	}
	return false
}

// LabTest names a laboratory test from the contract's vocabulary.
type LabTest string

// Lab tests.
const (
	Ferritin   LabTest = "ferritin"
	TSAT       LabTest = "tsat"
	Iron       LabTest = "iron"
	TIBC       LabTest = "tibc"
	Hemoglobin LabTest = "hemoglobin"
	Creatinine LabTest = "creatinine"
	EGFR       LabTest = "egfr"
	CRP        LabTest = "crp"
	Phosphate  LabTest = "phosphate"
)

// Lab is one laboratory result. Value is in Unit; after normalisation Unit is
// the canonical unit of the test (kb thresholds are written in it).
type Lab struct {
	Test                    LabTest `json:"test"`
	Value                   float64 `json:"value"`
	Unit                    string  `json:"unit"`
	Date                    Date    `json:"date"`
	Fasting                 *bool   `json:"fasting,omitempty"`
	IronSupplementWithin24h *bool   `json:"iron_supplement_within_24h,omitempty"`
	// Derived is set on labs computed by ekbom (TSAT from iron and TIBC).
	Derived bool `json:"-"`
}

// MedStatus says whether a medication is taken now.
type MedStatus string

// Medication statuses.
const (
	Current MedStatus = "current"
	Past    MedStatus = "past"
)

// Outcome is how a past (or current) medication trial went.
type Outcome string

// Outcomes.
const (
	Ineffective Outcome = "ineffective"
	Intolerant  Outcome = "intolerant"
	Augmented   Outcome = "augmentation"
	Partial     Outcome = "partial"
)

// Medication is one drug, current or past, written either as structured
// fields or as a free-text sig ("gabapentin 300 mg three times daily").
type Medication struct {
	Name         string    `json:"name,omitempty"`
	Sig          string    `json:"sig,omitempty"`
	DoseMg       *float64  `json:"dose_mg,omitempty"`         // per administration
	TimesPerDay  *float64  `json:"times_per_day,omitempty"`   // may be fractional: 0.5 = every other day
	DoseMgPer24h *float64  `json:"dose_mg_per_24h,omitempty"` // transdermal patches
	Status       MedStatus `json:"status,omitempty"`
	Outcome      Outcome   `json:"outcome,omitempty"`
	Start        *Date     `json:"start,omitempty"`
	Stop         *Date     `json:"stop,omitempty"`

	// Resolved is filled in by intake; it is not part of the input contract.
	Resolved ResolvedMed `json:"-"`
}

// IsCurrent reports whether the medication is taken now.
func (m *Medication) IsCurrent() bool { return m.Status == "" || m.Status == Current }

// ResolvedMed is what intake worked out about a medication: the knowledge-base
// ingredient and the total daily dose.
type ResolvedMed struct {
	Ingredient string   // kb drug id, e.g. "gabapentin"
	DailyMg    *float64 // total mg per day (patches: mg per 24 h); nil if unknown
	Bedtime    bool     // the sig said "at bedtime"/"qhs"
	Display    string   // how to name it back to the clinician
}

// Infusion is one past intravenous iron infusion.
type Infusion struct {
	Date    Date    `json:"date"`
	Product string  `json:"product"`
	DoseMg  float64 `json:"dose_mg"`
}

// Symptoms holds the severity score and the features of augmentation.
type Symptoms struct {
	IRLSTotal       *int                  `json:"irls_total,omitempty"`
	IRLSItems       []int                 `json:"irls_items,omitempty"`
	Augmentation    *AugmentationFeatures `json:"augmentation,omitempty"`
	DaytimeSymptoms *bool                 `json:"daytime_symptoms,omitempty"`
	Hyperarousal    *bool                 `json:"hyperarousal,omitempty"`
}

// AugmentationFeatures are the clinical observations behind the MPI
// augmentation criteria. The last two fields extend the contract with the MPI
// "basic features" (criterion A); without them augmentation can only be
// suspected, not met.
type AugmentationFeatures struct {
	EarlierOnset            *bool    `json:"earlier_onset,omitempty"`
	OnsetAdvanceHours       *float64 `json:"onset_advance_hours,omitempty"`
	SpreadToOtherBodyParts  *bool    `json:"spread_to_other_body_parts,omitempty"`
	IncreasedIntensity      *bool    `json:"increased_intensity,omitempty"`
	ShorterLatencyAtRest    *bool    `json:"shorter_latency_at_rest,omitempty"`
	ShorterMedicationEffect *bool    `json:"shorter_medication_effect,omitempty"`
	WorseAfterDoseIncrease  *bool    `json:"worse_after_dose_increase,omitempty"`
	BetterAfterDoseDecrease *bool    `json:"better_after_dose_decrease,omitempty"`
	// WorseMostDays: severity increased on at least 5 of the past 7 days (MPI A1).
	WorseMostDays *bool `json:"worse_most_days,omitempty"`
	// PriorPositiveResponse: the dopaminergic drug once worked (MPI A3).
	PriorPositiveResponse *bool `json:"prior_positive_response,omitempty"`
}

// Lifestyle holds the modifiable factors that can worsen RLS.
type Lifestyle struct {
	AlcoholDrinksPerWeek *float64 `json:"alcohol_drinks_per_week,omitempty"`
	CaffeineMgPerDay     *float64 `json:"caffeine_mg_per_day,omitempty"`
	Smoker               *bool    `json:"smoker,omitempty"`
	SleepHours           *float64 `json:"sleep_hours,omitempty"`
}

// Preferences records what the patient will not accept.
type Preferences struct {
	// Declines lists target ids or classes ("opioid", "iv_iron", "gabapentin").
	Declines []string `json:"declines,omitempty"`
}

// Declined reports whether the patient declines the target or its class.
func (p *Patient) Declined(target, class string) bool {
	for _, d := range p.Preferences.Declines {
		if d == target || (class != "" && d == class) {
			return true
		}
	}
	return false
}

// Screening holds the opioid-safety and sleep-apnea screening results.
type Screening struct {
	OpioidRisk  string `json:"opioid_risk,omitempty"` // low | moderate | high
	OSAScreen   string `json:"osa_screen,omitempty"`  // negative | positive
	PDMPChecked *bool  `json:"pdmp_checked,omitempty"`
}
