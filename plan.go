package ekbom

// Plan is the stepwise management plan for one patient (contract §2).
// Slices are never nil after engine.Evaluate so the JSON always carries [].
type Plan struct {
	PatientID        string               `json:"patient_id"`
	AsOf             Date                 `json:"as_of"`
	EngineVersion    string               `json:"engine_version"`
	KnowledgeVersion string               `json:"knowledge_version"`
	Pathway          string               `json:"pathway"` // standard | pregnancy | esrd
	Severity         Severity             `json:"severity"`
	Status           Status               `json:"status"`
	StatusReasons    []string             `json:"status_reasons"`
	Findings         []Finding            `json:"findings"`
	Steps            []Step               `json:"steps"`
	Warnings         []Warning            `json:"warnings"`
	Avoid            []Avoid              `json:"avoid"`
	Monitoring       []Monitor            `json:"monitoring"`
	Missing          []string             `json:"missing"`
	Conflicts        []ConflictNote       `json:"conflicts"`
	Sources          map[string]SourceRef `json:"sources"`
}

// Severity is the IRLS total and its band. IRLS is nil when unknown.
type Severity struct {
	IRLS *int   `json:"irls"`
	Band string `json:"band"` // none | mild | moderate | severe | very_severe | unknown
}

// Status says whether the RLS meets the definition of refractory.
type Status string

// Statuses.
const (
	Refractory       Status = "refractory"
	NotYetRefractory Status = "not_yet_refractory"
	Undetermined     Status = "undetermined"
)

// Finding is something the engine concluded about the patient.
type Finding struct {
	Code    string   `json:"code"`
	Text    string   `json:"text"`
	Because []string `json:"because"`
}

// Step is one ordered stage of the plan.
type Step struct {
	ID              string           `json:"id"`
	Title           string           `json:"title"`
	Recommendations []Recommendation `json:"recommendations"`
}

// Step ids in contract order.
const (
	StepIron               = "iron"
	StepExacerbatingFactor = "exacerbating_factors"
	StepAugmentation       = "augmentation"
	StepAlpha2Delta        = "alpha2delta"
	StepSecondLine         = "second_line"
	StepOpioids            = "opioids"
	StepNonDrug            = "non_drug"
	StepSpecialPopulations = "special_populations"
)

// StepOrder lists the step ids in the order the contract fixes.
var StepOrder = []string{
	StepIron, StepExacerbatingFactor, StepAugmentation, StepAlpha2Delta,
	StepSecondLine, StepOpioids, StepNonDrug, StepSpecialPopulations,
}

// Action is what a recommendation asks the clinician to do (contract §3.1).
type Action string

// Actions.
const (
	ActTest     Action = "test"
	ActStart    Action = "start"
	ActIncrease Action = "increase"
	ActOptimize Action = "optimize"
	ActContinue Action = "continue"
	ActDecrease Action = "decrease"
	ActTaper    Action = "taper"
	ActStop     Action = "stop"
	ActSwitch   Action = "switch"
	ActConsider Action = "consider"
	ActEvaluate Action = "evaluate"
	ActCounsel  Action = "counsel"
	ActMonitor  Action = "monitor"
	ActRefer    Action = "refer"
)

// Actions lists every action in the vocabulary.
var Actions = []Action{ActTest, ActStart, ActIncrease, ActOptimize, ActContinue,
	ActDecrease, ActTaper, ActStop, ActSwitch, ActConsider, ActEvaluate,
	ActCounsel, ActMonitor, ActRefer}

// Recommendation is one thing to do, with why and on what evidence.
type Recommendation struct {
	Rule   string `json:"rule"` // knowledge-base rule id
	Action Action `json:"action"`
	Target string `json:"target"`
	Class  string `json:"class,omitempty"`
	Dose   *Dose  `json:"dose,omitempty"`
	Text   string `json:"text"`
	// PatientText is the plain-language wording for the patient handout, when
	// the knowledge base has one for this rule.
	PatientText string `json:"patient_text,omitempty"`
	Strength    string `json:"strength"`
	Certainty   string `json:"certainty"`
	// GradeVerified is false when the strength or certainty comes from a
	// secondary or unverified source (kb marks it).
	GradeVerified bool           `json:"grade_verified"`
	Sources       []string       `json:"sources"`
	Because       []string       `json:"because"`
	Priority      int            `json:"priority"`
	Conflicts     []string       `json:"conflicts,omitempty"`
	Schedule      []ScheduleItem `json:"schedule,omitempty"`
}

// Dose describes an amount to give. Text is always set; the numbers are set
// only when they come from the knowledge base.
type Dose struct {
	Text        string   `json:"text"`
	AmountMg    *float64 `json:"amount_mg,omitempty"`
	TimesPerDay *float64 `json:"times_per_day,omitempty"`
	DailyMg     *float64 `json:"daily_mg,omitempty"`
	MaxDailyMg  *float64 `json:"max_daily_mg,omitempty"`
	Route       string   `json:"route,omitempty"`
}

// ScheduleItem is one dated line of a titration or taper calendar.
type ScheduleItem struct {
	Date    Date    `json:"date"`
	DailyMg float64 `json:"daily_mg"`
	Text    string  `json:"text"`
}

// Warning codes (contract §3.3).
const (
	WarnRespiratoryDepression = "respiratory_depression"
	WarnAugmentation          = "augmentation"
	WarnAbruptDAStop          = "abrupt_dopamine_agonist_stop"
	WarnIronOverload          = "iron_overload"
	WarnRenalDosing           = "renal_dosing"
	WarnPregnancy             = "pregnancy"
	WarnFallsSedation         = "falls_sedation"
	WarnOpioidUseDisorder     = "opioid_use_disorder"
	WarnStaleIronTest         = "stale_or_improper_iron_test"
	WarnFerritinConfounded    = "ferritin_confounded"
)

// WarningCodes lists every warning code in the contract.
var WarningCodes = []string{WarnRespiratoryDepression, WarnAugmentation,
	WarnAbruptDAStop, WarnIronOverload, WarnRenalDosing, WarnPregnancy,
	WarnFallsSedation, WarnOpioidUseDisorder, WarnStaleIronTest,
	WarnFerritinConfounded}

// Warning is a safety message shown before the steps.
type Warning struct {
	Code     string   `json:"code"`
	Severity string   `json:"severity"` // high | moderate | info
	Text     string   `json:"text"`
	Because  []string `json:"because"`
	Sources  []string `json:"sources,omitempty"`
}

// Avoid is a drug not to start, and why.
type Avoid struct {
	Target          string   `json:"target"`
	Class           string   `json:"class,omitempty"`
	Text            string   `json:"text"`
	Strength        string   `json:"strength"`
	Certainty       string   `json:"certainty"`
	GradeVerified   bool     `json:"grade_verified"`
	Sources         []string `json:"sources"`
	CurrentlyTaking bool     `json:"currently_taking"`
}

// Monitor is a dated follow-up item.
type Monitor struct {
	What string `json:"what"`
	Due  Date   `json:"due"`
	Text string `json:"text"`
}

// ConflictNote shows where sources disagree on something this plan relies on,
// which position the plan follows, and the others.
type ConflictNote struct {
	ID         string   `json:"id"`
	Topic      string   `json:"topic"`
	Resolution string   `json:"resolution"`
	Positions  []string `json:"positions"`
}

// SourceRef is a citation.
type SourceRef struct {
	Citation string `json:"citation"`
	URL      string `json:"url,omitempty"`
}
