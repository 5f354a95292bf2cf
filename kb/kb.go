// Package kb is ekbom's knowledge base: sources, guideline recommendations,
// engine rules with their wording and evidence, thresholds, drug facts,
// monitoring intervals, conflicts between sources and terminology codes.
//
// The knowledge itself is YAML under data/, embedded in the binary and meant to
// be reviewed by clinicians without reading Go. Load decodes it strictly
// (unknown fields are errors) and validates everything at once: unknown
// grades, dangling citations, unused sources, missing units and so on are all
// reported together.
package kb

import (
	"fmt"
	"sort"
	"strings"
)

// Strength vocabulary: how strongly a source recommends.
var strengths = map[string]bool{
	"strong": true, "conditional": true, "good_practice": true,
	"expert_opinion": true, "label": true, "regulatory": true, "not_graded": true,
}

// Certainty vocabulary: the certainty of the evidence.
var certainties = map[string]bool{
	"high": true, "moderate": true, "low": true, "very_low": true, "not_graded": true,
}

// Base is the loaded, validated knowledge base. It is immutable after Load and
// safe for concurrent use.
type Base struct {
	Meta          Meta
	SourceList    []*Source
	Guideline     []*GuidelineRec
	RuleList      []*Rule
	DrugList      []*Drug
	ConflictList  []*Conflict
	MonitorList   []*MonitorRule
	ThresholdList []*Threshold
	Codes         Codes
	Choices       Choices
	ClassList     []Class

	classes map[string]*Class

	sources    map[string]*Source
	guideline  map[string]*GuidelineRec
	rules      map[string]*Rule
	drugs      map[string]*Drug
	drugIndex  map[string]*Drug // lower-case name, synonym, brand or RxCUI
	conflicts  map[string]*Conflict
	monitors   map[string]*MonitorRule
	thresholds map[string]*Threshold
}

// Choices are the preference orders used when several drugs are equally
// recommended (choices.yaml).
type Choices struct {
	Alpha2DeltaOrder   Choice `yaml:"alpha2delta_order"`
	OpioidOrder        Choice `yaml:"opioid_order"`
	OpioidOrderDaytime Choice `yaml:"opioid_order_daytime"`
}

// Choice is an ordered list of drugs of one class, with its reasons.
type Choice struct {
	Drugs     []string `yaml:"drugs"`
	Class     string   `yaml:"class"`
	Sources   []string `yaml:"sources"`
	Rationale string   `yaml:"rationale"`
}

// Meta describes this edition of the knowledge base.
type Meta struct {
	Version  string `yaml:"version"`
	Released string `yaml:"released"`
	Scope    string `yaml:"scope"`
	Review   string `yaml:"review"`
}

// Source is a citable document.
type Source struct {
	ID       string `yaml:"id"`
	Short    string `yaml:"short"`
	Citation string `yaml:"citation"`
	URL      string `yaml:"url"`
	Kind     string `yaml:"kind"` // guideline | consensus | review | trial | label | regulatory | seed | terminology
	Year     int    `yaml:"year"`
	Note     string `yaml:"note"`
}

// GuidelineRec is one graded recommendation of a guideline (AASM 2025).
type GuidelineRec struct {
	ID           string   `yaml:"id"`
	Number       string   `yaml:"number"`
	Population   string   `yaml:"population"` // adults | adults_esrd | children | adults_all
	Intervention string   `yaml:"intervention"`
	Targets      []string `yaml:"targets"`
	Direction    string   `yaml:"direction"` // for | against | against_standard_use
	Strength     string   `yaml:"strength"`
	Certainty    string   `yaml:"certainty"`
	// StrengthVerified and CertaintyVerified are false where the grade comes
	// from secondary or unverified sources (shared/clinical.md [U]/[V-sec]).
	StrengthVerified  bool     `yaml:"strength_verified"`
	CertaintyVerified bool     `yaml:"certainty_verified"`
	Sources           []string `yaml:"sources"`
	Text              string   `yaml:"text"`
	Note              string   `yaml:"note"`
}

// Verified reports whether both the strength and the certainty are verified.
func (g *GuidelineRec) Verified() bool { return g.StrengthVerified && g.CertaintyVerified }

// Rule is one thing the engine can say: a recommendation, warning, finding,
// avoid entry or monitoring item. The engine decides when a rule fires; the
// rule holds what it says and on what evidence.
type Rule struct {
	ID       string `yaml:"id"`
	Kind     string `yaml:"kind"` // recommendation | warning | finding | status | monitoring
	Step     string `yaml:"step"` // for recommendations: a contract step id
	Action   string `yaml:"action"`
	Target   string `yaml:"target"`
	Class    string `yaml:"class"`
	Code     string `yaml:"code"`     // warnings and findings
	Severity string `yaml:"severity"` // warnings: high | moderate | info
	// Critical (warnings, high severity only): shown as a critical card in
	// EHRs (CDS Hooks indicator "critical") rather than a warning one.
	Critical bool   `yaml:"critical"`
	Title    string `yaml:"title"`
	// Text may hold {placeholders} that the engine fills with patient values.
	Text string `yaml:"text"`
	// PatientText is plain-language wording for the patient handout (same
	// placeholders as Text). Rules without it are left out of handouts.
	PatientText string   `yaml:"patient_text"`
	Evidence    string   `yaml:"evidence"` // a GuidelineRec id; grade is inherited
	Strength    string   `yaml:"strength"` // when there is no guideline evidence
	Certainty   string   `yaml:"certainty"`
	Verified    *bool    `yaml:"verified"` // grade verified; required without Evidence
	Sources     []string `yaml:"sources"`
	Conflicts   []string `yaml:"conflicts"`
	Priority    int      `yaml:"priority"`
	Rationale   string   `yaml:"rationale"`
}

// ByTarget as a rule's evidence means the grade comes from the guideline
// recommendation for the recommendation's target drug (see EvidenceFor).
const ByTarget = "by_target"

// EvidenceFor returns the guideline recommendation about target for the
// population ("adults" or "adults_esrd"), falling back to adults.
func (b *Base) EvidenceFor(target, population string) (*GuidelineRec, bool) {
	var adult *GuidelineRec
	for _, g := range b.Guideline {
		for _, t := range g.Targets {
			if t != target {
				continue
			}
			if g.Population == population {
				return g, true
			}
			if g.Population == "adults" && adult == nil {
				adult = g
			}
		}
	}
	return adult, adult != nil
}

// Grade returns the rule's strength, certainty and whether both are verified,
// inheriting from its guideline evidence when it has one.
func (b *Base) Grade(r *Rule) (strength, certainty string, verified bool) {
	if g, ok := b.guideline[r.Evidence]; ok {
		return g.Strength, g.Certainty, g.Verified()
	}
	v := r.Verified != nil && *r.Verified
	return r.Strength, r.Certainty, v
}

// RuleSources returns the rule's own sources followed by its evidence's.
func (b *Base) RuleSources(r *Rule) []string {
	out := append([]string(nil), r.Sources...)
	if g, ok := b.guideline[r.Evidence]; ok {
		out = appendNew(out, g.Sources...)
	}
	return out
}

// Threshold is a named number with its unit and provenance.
type Threshold struct {
	ID       string   `yaml:"id"`
	Value    float64  `yaml:"value"`
	Unit     string   `yaml:"unit"`
	Sources  []string `yaml:"sources"`
	Verified bool     `yaml:"verified"`
	Note     string   `yaml:"note"`
}

// Drug holds the facts about one ingredient (or fixed combination).
type Drug struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Synonyms []string `yaml:"synonyms"`
	Brands   []string `yaml:"brands"`
	RxNorm   *Code    `yaml:"rxnorm"`
	Class    string   `yaml:"class"`
	// Dopaminergic drugs can cause augmentation; Sedating ones count for
	// falls and respiratory warnings; RenallyCleared ones need renal dosing.
	Dopaminergic   bool        `yaml:"dopaminergic"`
	Sedating       bool        `yaml:"sedating"`
	RenallyCleared bool        `yaml:"renally_cleared"`
	Serotonergic   bool        `yaml:"serotonergic"`
	Route          string      `yaml:"route"` // oral | iv | transdermal | sublingual
	RLSDose        *RLSDose    `yaml:"rls_dose"`
	RenalBands     []RenalBand `yaml:"renal_bands"`
	// PPXPerMg is the pramipexole-equivalent of 1 mg (taper sizing only).
	PPXPerMg    float64      `yaml:"ppx_per_mg"`
	MMEFactor   *float64     `yaml:"mme_factor"`
	MMENote     string       `yaml:"mme_note"`
	Exacerbator *Exacerbator `yaml:"exacerbator"`
	Avoid       *AvoidFact   `yaml:"avoid"`
	Notes       []string     `yaml:"notes"`
	Sources     []string     `yaml:"sources"`
}

// RLSDose is the RLS dosing of a drug; amounts are mg/day (patches mg/24 h)
// unless Unit says otherwise.
type RLSDose struct {
	Unit           string   `yaml:"unit"`
	StartMg        float64  `yaml:"start_mg"`
	StartText      string   `yaml:"start_text"`
	UsualMinMg     float64  `yaml:"usual_min_mg"`
	UsualMaxMg     float64  `yaml:"usual_max_mg"`
	MaxMg          float64  `yaml:"max_mg"` // maximum for RLS
	LabelMaxMg     float64  `yaml:"label_max_mg"`
	AdequateMg     float64  `yaml:"adequate_mg"` // lowest daily dose that counts as an adequate trial
	StepMg         float64  `yaml:"step_mg"`
	StepDays       int      `yaml:"step_days"`
	IncrementMg    float64  `yaml:"increment_mg"` // smallest practical dose unit
	TimesPerDay    float64  `yaml:"times_per_day"`
	Timing         string   `yaml:"timing"`
	Divided        string   `yaml:"divided"`
	ElderlyStartMg float64  `yaml:"elderly_start_mg"`
	Sources        []string `yaml:"sources"`
	Verified       bool     `yaml:"verified"`
	Note           string   `yaml:"note"`
}

// RenalBand is the dose range for a creatinine-clearance band (mL/min).
type RenalBand struct {
	MinCrCl     float64  `yaml:"min_crcl"`
	MaxCrCl     float64  `yaml:"max_crcl"` // exclusive; 0 = no upper bound
	MinDailyMg  float64  `yaml:"min_daily_mg"`
	MaxDailyMg  float64  `yaml:"max_daily_mg"`
	TimesPerDay float64  `yaml:"times_per_day"`
	Dialysis    bool     `yaml:"dialysis"` // applies to patients on dialysis whatever the CrCl
	Note        string   `yaml:"note"`
	Sources     []string `yaml:"sources"`
	Verified    bool     `yaml:"verified"`
}

// Exacerbator marks a drug that can worsen RLS.
type Exacerbator struct {
	Mechanism   string   `yaml:"mechanism"` // antihistamine | serotonergic | dopamine_antagonist | tricyclic | other
	Action      string   `yaml:"action"`    // stop | switch | evaluate
	Text        string   `yaml:"text"`
	Alternative string   `yaml:"alternative"` // safer alternative, free text
	Evidence    string   `yaml:"evidence"`    // strong | moderate | weak
	Sources     []string `yaml:"sources"`
}

// AvoidFact says a drug should not be started for RLS, and why.
type AvoidFact struct {
	Evidence  string   `yaml:"evidence"` // GuidelineRec id, optional
	Strength  string   `yaml:"strength"`
	Certainty string   `yaml:"certainty"`
	Verified  bool     `yaml:"verified"`
	Reason    string   `yaml:"reason"`
	Sources   []string `yaml:"sources"`
	Conflicts []string `yaml:"conflicts"`
}

// Code is a terminology code with its provenance.
type Code struct {
	System   string `yaml:"system"` // rxnorm | loinc | snomed | icd10cm
	Code     string `yaml:"code"`
	Display  string `yaml:"display"`
	Verified bool   `yaml:"verified"`
	Source   string `yaml:"source"`
}

// Conflict records where sources disagree and which position ekbom follows.
type Conflict struct {
	ID         string     `yaml:"id"`
	Topic      string     `yaml:"topic"`
	Positions  []Position `yaml:"positions"`
	Resolution string     `yaml:"resolution"`
	Sources    []string   `yaml:"sources"`
}

// Position is one source's stance in a conflict.
type Position struct {
	Source string `yaml:"source"`
	Says   string `yaml:"says"`
}

// MonitorRule is a follow-up interval.
type MonitorRule struct {
	ID       string   `yaml:"id"`
	What     string   `yaml:"what"`
	Days     int      `yaml:"days"`
	Text     string   `yaml:"text"`
	Sources  []string `yaml:"sources"`
	Verified bool     `yaml:"verified"`
}

// Codes holds the terminology maps used to read coded input.
type Codes struct {
	Labs       []LabCode       `yaml:"labs"`
	Conditions []ConditionCode `yaml:"conditions"`
	Pregnancy  []StateCode     `yaml:"pregnancy"`
	// Diagnosis holds the codes of restless legs syndrome itself: the
	// CDS Hooks services answer only for patients whose record codes it
	// (or who answered ekbom's questionnaire).
	Diagnosis []DiagnosisCode `yaml:"diagnosis"`
}

// DiagnosisCode maps SNOMED CT and ICD-10-CM codes to a diagnosis ekbom
// is for (only "rls").
type DiagnosisCode struct {
	Diagnosis string   `yaml:"diagnosis"`
	SNOMED    []string `yaml:"snomed"`
	ICD10CM   []string `yaml:"icd10cm"`
	// Names are words that name the diagnosis in a Condition's text or a
	// coding's display (matched without case), for records coded locally.
	Names    []string `yaml:"names"`
	Verified bool     `yaml:"verified"`
	Source   string   `yaml:"source"`
	Note     string   `yaml:"note"`
}

// StateCode maps SNOMED CT and ICD-10-CM codes to a pregnancy state.
type StateCode struct {
	State    string   `yaml:"state"` // pregnant | lactating
	SNOMED   []string `yaml:"snomed"`
	ICD10CM  []string `yaml:"icd10cm"`
	Verified bool     `yaml:"verified"`
	Source   string   `yaml:"source"`
	Note     string   `yaml:"note"`
}

// LabCode maps a LOINC code to a contract lab test.
type LabCode struct {
	Test    string `yaml:"test"`
	LOINC   string `yaml:"loinc"`
	Display string `yaml:"display"`
	Source  string `yaml:"source"`
}

// ConditionCode maps SNOMED CT and ICD-10-CM codes to a contract condition id.
type ConditionCode struct {
	Condition string   `yaml:"condition"`
	SNOMED    []string `yaml:"snomed"`
	ICD10CM   []string `yaml:"icd10cm"`
	// ICD10CMPrefixes are categories whose every code maps here (e.g. F11).
	ICD10CMPrefixes []string `yaml:"icd10cm_prefixes"`
	Verified        bool     `yaml:"verified"`
	Source          string   `yaml:"source"`
	Note            string   `yaml:"note"`
}

// CriticalWarning reports whether a high-severity warning with the code is
// shown as critical in EHRs (a warning rule with critical: true).
func (b *Base) CriticalWarning(code string) bool {
	for _, r := range b.RuleList {
		if r.Kind == "warning" && r.Code == code && r.Critical {
			return true
		}
	}
	return false
}

// Source returns the source with the given id.
func (b *Base) Source(id string) (*Source, bool) { s, ok := b.sources[id]; return s, ok }

// Rule returns the rule with the given id.
func (b *Base) Rule(id string) (*Rule, bool) { r, ok := b.rules[id]; return r, ok }

// GuidelineRec returns the guideline recommendation with the given id.
func (b *Base) GuidelineRec(id string) (*GuidelineRec, bool) { g, ok := b.guideline[id]; return g, ok }

// Drug returns the drug with the given knowledge-base id.
func (b *Base) Drug(id string) (*Drug, bool) { d, ok := b.drugs[id]; return d, ok }

// Conflict returns the conflict with the given id.
func (b *Base) Conflict(id string) (*Conflict, bool) { c, ok := b.conflicts[id]; return c, ok }

// Monitor returns the monitoring rule with the given id.
func (b *Base) Monitor(id string) (*MonitorRule, bool) { m, ok := b.monitors[id]; return m, ok }

// Threshold returns the threshold with the given id.
func (b *Base) Threshold(id string) (*Threshold, bool) { t, ok := b.thresholds[id]; return t, ok }

// LookupDrug finds a drug by id, generic name, synonym, brand name or RxNorm
// code, ignoring case and surrounding space.
func (b *Base) LookupDrug(s string) (*Drug, bool) {
	d, ok := b.drugIndex[normName(s)]
	return d, ok
}

// DrugNames returns every lookup key (names, synonyms, brands, codes), longest
// first, so a text scanner can match multi-word names before their parts.
func (b *Base) DrugNames() []string {
	out := make([]string, 0, len(b.drugIndex))
	for k := range b.drugIndex {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// nameFolder drops trademark signs and reads _ and - as spaces.
var nameFolder = strings.NewReplacer("®", "", "™", "", "_", " ", "-", " ")

func normName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = nameFolder.Replace(s)
	return strings.Join(strings.Fields(s), " ")
}

func appendNew(dst []string, src ...string) []string {
	for _, s := range src {
		found := false
		for _, d := range dst {
			if d == s {
				found = true
				break
			}
		}
		if !found {
			dst = append(dst, s)
		}
	}
	return dst
}

func (b *Base) String() string {
	return fmt.Sprintf("kb %s: %d sources, %d guideline recommendations, %d rules, %d drugs, %d conflicts",
		b.Meta.Version, len(b.SourceList), len(b.Guideline), len(b.RuleList), len(b.DrugList), len(b.ConflictList))
}
