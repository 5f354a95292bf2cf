package kb

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"regexp"
	"sort"
	"strings"
	"sync"

	"ekbom"

	"go.yaml.in/yaml/v3"
)

//go:embed data
var embedded embed.FS

// Data returns the embedded knowledge-base files (rooted at data/).
func Data() fs.FS {
	sub, err := fs.Sub(embedded, "data")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

var (
	defaultOnce sync.Once
	defaultBase *Base
	defaultErr  error
)

// Default returns the embedded knowledge base, loaded once.
func Default() (*Base, error) {
	defaultOnce.Do(func() { defaultBase, defaultErr = Load(Data()) })
	return defaultBase, defaultErr
}

// Error lists every problem found while loading a knowledge base.
type Error struct{ Problems []string }

func (e *Error) Error() string {
	return fmt.Sprintf("knowledge base has %d problem(s):\n  %s", len(e.Problems), strings.Join(e.Problems, "\n  "))
}

type loader struct {
	problems []string
}

func (l *loader) addf(format string, args ...any) {
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// decode reads one YAML file strictly into v: unknown fields are errors. It
// returns the problem, or "".
func decode(fsys fs.FS, name string, v any) string {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Sprintf("%s: %v", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Sprintf("%s: %v", name, err)
	}
	return ""
}

// decodeAll decodes the files into their targets at the same time (YAML
// decoding is nearly all of Load's time) and returns each file's problem.
func decodeAll(fsys fs.FS, files []string, targets []any) []string {
	problems := make([]string, len(files))
	var wg sync.WaitGroup
	for i := range files {
		wg.Go(func() { problems[i] = decode(fsys, files[i], targets[i]) })
	}
	wg.Wait()
	return problems
}

// Load reads and validates a knowledge base from fsys, which must hold the
// files of data/ and allow reading several files at once (as embed.FS,
// os.DirFS and fstest.MapFS do). Every problem is reported in one *Error.
func Load(fsys fs.FS) (*Base, error) {
	l := &loader{}
	b := &Base{}
	var classes struct {
		Classes []Class `yaml:"classes"`
	}
	var files struct {
		Sources []*Source `yaml:"sources"`
	}
	var guideline struct {
		Recommendations []*GuidelineRec `yaml:"recommendations"`
	}
	var thresholds struct {
		Thresholds []*Threshold `yaml:"thresholds"`
	}
	var drugs struct {
		Drugs []*Drug `yaml:"drugs"`
	}
	var conflicts struct {
		Conflicts []*Conflict `yaml:"conflicts"`
	}
	var monitors struct {
		Monitoring []*MonitorRule `yaml:"monitoring"`
	}
	names := []string{"meta.yaml", "classes.yaml", "sources.yaml", "guideline.yaml", "thresholds.yaml",
		"drugs.yaml", "conflicts.yaml", "monitoring.yaml", "codes.yaml", "choices.yaml"}
	targets := []any{&b.Meta, &classes, &files, &guideline, &thresholds, &drugs, &conflicts, &monitors, &b.Codes, &b.Choices}
	nBase := len(names)
	ruleFiles, err := fs.Glob(fsys, "rules/*.yaml")
	sort.Strings(ruleFiles)
	type ruleFile struct {
		Rules []*Rule `yaml:"rules"`
	}
	rules := make([]ruleFile, len(ruleFiles))
	for i, f := range ruleFiles {
		names = append(names, f)
		targets = append(targets, &rules[i])
	}
	// Problems in file order, as if the files were read one by one.
	problems := decodeAll(fsys, names, targets)
	for i, p := range problems {
		if i == nBase {
			break
		}
		if p != "" {
			l.problems = append(l.problems, p)
		}
	}
	if err != nil || len(ruleFiles) == 0 {
		l.addf("rules/: no rule files found")
	}
	for _, p := range problems[nBase:] {
		if p != "" {
			l.problems = append(l.problems, p)
		}
	}
	for _, rf := range rules {
		b.RuleList = append(b.RuleList, rf.Rules...)
	}
	b.ClassList = classes.Classes
	b.SourceList = files.Sources
	b.Guideline = guideline.Recommendations
	b.ThresholdList = thresholds.Thresholds
	b.DrugList = drugs.Drugs
	b.ConflictList = conflicts.Conflicts
	b.MonitorList = monitors.Monitoring
	if len(l.problems) == 0 {
		b.index(l)
		b.validate(l)
	}
	if len(l.problems) > 0 {
		return nil, &Error{Problems: l.problems}
	}
	return b, nil
}

func (b *Base) index(l *loader) {
	b.classes = map[string]*Class{}
	classes := make([]*Class, len(b.ClassList))
	for i := range b.ClassList {
		classes[i] = &b.ClassList[i]
	}
	for _, s := range b.SourceList {
		s.Citation = strings.Join(strings.Fields(s.Citation), " ")
	}
	for _, r := range b.RuleList {
		r.Text = strings.TrimSpace(r.Text)
		r.PatientText = strings.TrimSpace(r.PatientText)
	}
	b.classes = indexByID(l, "classes.yaml: duplicate class", classes, func(c *Class) string { return c.ID })
	b.sources = indexByID(l, "sources.yaml: duplicate source id", b.SourceList, func(s *Source) string { return s.ID })
	b.guideline = indexByID(l, "guideline.yaml: duplicate recommendation id", b.Guideline, func(g *GuidelineRec) string { return g.ID })
	b.rules = indexByID(l, "rules: duplicate rule id", b.RuleList, func(r *Rule) string { return r.ID })
	b.thresholds = indexByID(l, "thresholds.yaml: duplicate threshold id", b.ThresholdList, func(t *Threshold) string { return t.ID })
	b.conflicts = indexByID(l, "conflicts.yaml: duplicate conflict id", b.ConflictList, func(c *Conflict) string { return c.ID })
	b.monitors = indexByID(l, "monitoring.yaml: duplicate monitoring id", b.MonitorList, func(m *MonitorRule) string { return m.ID })
	b.drugs = map[string]*Drug{}
	b.drugIndex = map[string]*Drug{}
	for _, d := range b.DrugList {
		if b.drugs[d.ID] != nil {
			l.addf("drugs.yaml: duplicate drug id %q", d.ID)
		}
		b.drugs[d.ID] = d
		keys := []string{d.ID, d.Name}
		keys = append(keys, d.Synonyms...)
		keys = append(keys, d.Brands...)
		if d.RxNorm != nil && d.RxNorm.Verified {
			keys = append(keys, d.RxNorm.Code)
		}
		for _, k := range keys {
			n := normName(k)
			if n == "" {
				continue
			}
			if o := b.drugIndex[n]; o != nil && o != d {
				l.addf("drugs.yaml: name %q is used by both %q and %q", k, o.ID, d.ID)
			}
			b.drugIndex[n] = d
		}
	}
}

// indexByID maps items by id, reporting duplicates.
func indexByID[T any](l *loader, dup string, items []T, id func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		k := id(it)
		if _, ok := m[k]; ok {
			l.addf("%s %q", dup, k)
		}
		m[k] = it
	}
	return m
}

var (
	idPattern      = regexp.MustCompile(`^[a-z0-9][a-z0-9_.\-]*$`)
	versionPattern = regexp.MustCompile(`^\d{4}\.\d{1,2}\.\d+$`)
	directions     = map[string]bool{"for": true, "against": true, "against_standard_use": true}
	populations    = map[string]bool{"adults": true, "adults_esrd": true, "children": true, "adults_plmd": true, "children_plmd": true}
	ruleKinds      = map[string]bool{"recommendation": true, "warning": true, "finding": true, "status": true}
	severities     = map[string]bool{"high": true, "moderate": true, "info": true}
	mechanisms     = map[string]bool{"antihistamine": true, "serotonergic": true, "dopamine_antagonist": true, "tricyclic": true, "other": true}
	routes         = map[string]bool{"oral": true, "iv": true, "transdermal": true, "sublingual": true, "device": true}
	monitorWhats   = map[string]bool{"irls": true, "ferritin": true, "tsat": true, "iron_panel": true, "phosphate": true,
		"renal_function": true, "augmentation": true, "opioid_review": true, "sleep_apnea": true}
	labTests = map[string]bool{"ferritin": true, "tsat": true, "iron": true, "tibc": true, "hemoglobin": true,
		"creatinine": true, "egfr": true, "crp": true, "phosphate": true, "weight": true}
	placeholder = regexp.MustCompile(`\{[a-z_]+\}`)
)

func (b *Base) validate(l *loader) {
	used := map[string]bool{}
	cite := func(where string, ids []string) {
		for _, id := range ids {
			if b.sources[id] == nil {
				l.addf("%s: unknown source %q", where, id)
			}
			used[id] = true
		}
	}
	grade := func(where, strength, certainty string) {
		if !strengths[strength] {
			l.addf("%s: unknown strength %q", where, strength)
		}
		if !certainties[certainty] {
			l.addf("%s: unknown certainty %q", where, certainty)
		}
	}
	conflictRefs := func(where string, ids []string) {
		for _, id := range ids {
			if b.conflicts[id] == nil {
				l.addf("%s: unknown conflict %q", where, id)
			}
		}
	}
	targetOK := func(t string) bool {
		return b.drugs[t] != nil || nonDrugTargets[t] || b.classes[t] != nil
	}

	if !versionPattern.MatchString(b.Meta.Version) {
		l.addf("meta.yaml: version %q is not YYYY.MM.N", b.Meta.Version)
	}
	if _, err := ekbom.ParseDate(b.Meta.Released); err != nil {
		l.addf("meta.yaml: released: %v", err)
	}

	for _, s := range b.SourceList {
		w := "sources.yaml: " + s.ID
		if !idPattern.MatchString(s.ID) {
			l.addf("%s: bad id", w)
		}
		if strings.TrimSpace(s.Citation) == "" {
			l.addf("%s: missing citation", w)
		}
		if s.Short == "" {
			l.addf("%s: missing short name", w)
		}
		if !sourceKinds[s.Kind] {
			l.addf("%s: unknown kind %q", w, s.Kind)
		}
	}
	for _, c := range b.ClassList {
		if !idPattern.MatchString(c.ID) || c.Name == "" {
			l.addf("classes.yaml: %q needs a lower-case id and a name", c.ID)
		}
	}
	for _, g := range b.Guideline {
		w := "guideline.yaml: " + g.ID
		grade(w, g.Strength, g.Certainty)
		if !directions[g.Direction] {
			l.addf("%s: unknown direction %q", w, g.Direction)
		}
		if !populations[g.Population] {
			l.addf("%s: unknown population %q", w, g.Population)
		}
		if g.Text == "" || g.Intervention == "" {
			l.addf("%s: missing text or intervention", w)
		}
		for _, t := range g.Targets {
			if !targetOK(t) {
				l.addf("%s: unknown target %q", w, t)
			}
		}
		cite(w, g.Sources)
		if len(g.Sources) == 0 {
			l.addf("%s: no sources", w)
		}
	}
	stepOK := map[string]bool{}
	for _, s := range ekbom.StepOrder {
		stepOK[s] = true
	}
	actionOK := map[string]bool{}
	for _, a := range ekbom.Actions {
		actionOK[string(a)] = true
	}
	warnOK := map[string]bool{}
	for _, c := range ekbom.WarningCodes {
		warnOK[c] = true
	}
	for _, r := range b.RuleList {
		w := "rules: " + r.ID
		if !idPattern.MatchString(r.ID) {
			l.addf("%s: bad id", w)
		}
		if !ruleKinds[r.Kind] {
			l.addf("%s: unknown kind %q", w, r.Kind)
		}
		if strings.TrimSpace(r.Text) == "" {
			l.addf("%s: missing text", w)
		}
		if strings.Count(r.Text, "{") != len(placeholder.FindAllString(r.Text, -1)) {
			l.addf("%s: malformed {placeholder} in text", w)
		}
		if r.PatientText != "" {
			inText := map[string]bool{}
			for _, ph := range placeholder.FindAllString(r.Text, -1) {
				inText[ph] = true
			}
			if strings.Count(r.PatientText, "{") != len(placeholder.FindAllString(r.PatientText, -1)) {
				l.addf("%s: malformed {placeholder} in patient_text", w)
			}
			for _, ph := range placeholder.FindAllString(r.PatientText, -1) {
				if !inText[ph] {
					l.addf("%s: patient_text uses %s, which text does not", w, ph)
				}
			}
		}
		switch r.Kind {
		case "recommendation":
			if !stepOK[r.Step] {
				l.addf("%s: unknown step %q", w, r.Step)
			}
			if !actionOK[r.Action] {
				l.addf("%s: unknown action %q", w, r.Action)
			}
			if r.Target == "" || !targetOK(r.Target) {
				l.addf("%s: unknown target %q", w, r.Target)
			}
			if r.Class != "" && b.classes[r.Class] == nil {
				l.addf("%s: unknown class %q", w, r.Class)
			}
			if r.Priority < 1 || r.Priority > 5 {
				l.addf("%s: priority %d is outside 1–5", w, r.Priority)
			}
			if r.Action == string(ekbom.ActIncrease) {
				if d := b.drugs[r.Target]; d != nil && d.Dopaminergic {
					l.addf("%s: a rule may never increase a dopaminergic drug (%s)", w, r.Target)
				}
			}
		case "warning":
			if !warnOK[r.Code] {
				l.addf("%s: unknown warning code %q", w, r.Code)
			}
			if !severities[r.Severity] {
				l.addf("%s: unknown severity %q", w, r.Severity)
			}
			if r.Critical && r.Severity != "high" {
				l.addf("%s: only a high-severity warning can be critical", w)
			}
		case "finding", "status":
			if r.Code == "" {
				l.addf("%s: missing code", w)
			}
		}
		if r.Critical && r.Kind != "warning" {
			l.addf("%s: only warnings can be critical", w)
		}
		if r.Evidence == ByTarget {
			if r.Strength != "" || r.Certainty != "" {
				l.addf("%s: give either evidence or strength/certainty, not both", w)
			}
		} else if r.Evidence != "" {
			if b.guideline[r.Evidence] == nil {
				l.addf("%s: unknown evidence %q", w, r.Evidence)
			}
			if r.Strength != "" || r.Certainty != "" {
				l.addf("%s: give either evidence or strength/certainty, not both", w)
			}
		} else if r.Kind == "recommendation" || r.Strength != "" {
			grade(w, r.Strength, r.Certainty)
			if r.Verified == nil {
				l.addf("%s: verified must be stated when there is no guideline evidence", w)
			}
		}
		if r.Kind == "recommendation" && r.Evidence != ByTarget && len(b.RuleSources(r)) == 0 {
			l.addf("%s: no sources", w)
		}
		cite(w, r.Sources)
		conflictRefs(w, r.Conflicts)
	}
	for _, t := range b.ThresholdList {
		w := "thresholds.yaml: " + t.ID
		if strings.TrimSpace(t.Unit) == "" {
			l.addf("%s: missing unit", w)
		}
		if len(t.Sources) == 0 {
			l.addf("%s: no sources", w)
		}
		cite(w, t.Sources)
	}
	for _, d := range b.DrugList {
		w := "drugs.yaml: " + d.ID
		if !idPattern.MatchString(d.ID) || d.Name == "" {
			l.addf("%s: needs a lower-case id and a name", w)
		}
		if b.classes[d.Class] == nil {
			l.addf("%s: unknown class %q", w, d.Class)
		}
		if d.Route != "" && !routes[d.Route] {
			l.addf("%s: unknown route %q", w, d.Route)
		}
		cite(w, d.Sources)
		if c := d.RxNorm; c != nil {
			if c.Code == "" || c.Source == "" {
				l.addf("%s: rxnorm needs code and source", w)
			}
			cite(w+".rxnorm", []string{c.Source})
			if c.System != "rxnorm" {
				l.addf("%s: rxnorm.system must be rxnorm", w)
			}
		}
		if r := d.RLSDose; r != nil {
			ww := w + ".rls_dose"
			if r.Unit == "" {
				l.addf("%s: missing unit", ww)
			}
			if r.MaxMg <= 0 || r.StartMg < 0 || r.StartMg > r.MaxMg {
				l.addf("%s: needs 0 ≤ start_mg ≤ max_mg and max_mg > 0", ww)
			}
			if r.UsualMaxMg > 0 && r.UsualMaxMg > r.MaxMg {
				l.addf("%s: usual_max_mg above max_mg", ww)
			}
			if len(r.Sources) == 0 {
				l.addf("%s: no sources", ww)
			}
			cite(ww, r.Sources)
		}
		for i, rb := range d.RenalBands {
			ww := fmt.Sprintf("%s.renal_bands[%d]", w, i)
			if rb.MaxCrCl != 0 && rb.MaxCrCl <= rb.MinCrCl {
				l.addf("%s: max_crcl must exceed min_crcl", ww)
			}
			if rb.MaxDailyMg <= 0 || rb.MinDailyMg > rb.MaxDailyMg {
				l.addf("%s: needs 0 < max_daily_mg and min ≤ max", ww)
			}
			if len(rb.Sources) == 0 {
				l.addf("%s: no sources", ww)
			}
			cite(ww, rb.Sources)
		}
		if d.Dopaminergic && d.Class == "dopamine_agonist" && d.PPXPerMg <= 0 && d.Avoid == nil {
			l.addf("%s: a dopamine agonist needs ppx_per_mg", w)
		}
		if d.Class == "opioid" && d.MMEFactor == nil && d.MMENote == "" {
			l.addf("%s: an opioid needs mme_factor or mme_note", w)
		}
		if e := d.Exacerbator; e != nil {
			if !mechanisms[e.Mechanism] {
				l.addf("%s.exacerbator: unknown mechanism %q", w, e.Mechanism)
			}
			if e.Action != "stop" && e.Action != "switch" && e.Action != "evaluate" {
				l.addf("%s.exacerbator: action must be stop, switch or evaluate", w)
			}
			if e.Text == "" || e.Alternative == "" {
				l.addf("%s.exacerbator: needs text and alternative", w)
			}
			cite(w+".exacerbator", e.Sources)
		}
		if a := d.Avoid; a != nil {
			ww := w + ".avoid"
			if a.Evidence != "" {
				if b.guideline[a.Evidence] == nil {
					l.addf("%s: unknown evidence %q", ww, a.Evidence)
				}
			} else {
				grade(ww, a.Strength, a.Certainty)
			}
			if a.Reason == "" {
				l.addf("%s: missing reason", ww)
			}
			cite(ww, a.Sources)
			conflictRefs(ww, a.Conflicts)
		}
	}
	for _, c := range b.ConflictList {
		w := "conflicts.yaml: " + c.ID
		if len(c.Positions) < 2 {
			l.addf("%s: a conflict needs at least two positions", w)
		}
		for _, p := range c.Positions {
			cite(w, []string{p.Source})
		}
		if c.Resolution == "" || c.Topic == "" {
			l.addf("%s: needs topic and resolution", w)
		}
		cite(w, c.Sources)
	}
	for _, m := range b.MonitorList {
		w := "monitoring.yaml: " + m.ID
		if !monitorWhats[m.What] {
			l.addf("%s: unknown what %q", w, m.What)
		}
		if m.Days < 0 {
			l.addf("%s: days must not be negative", w)
		}
		cite(w, m.Sources)
	}
	for i, lc := range b.Codes.Labs {
		cite("codes.yaml: labs", []string{lc.Source})
		if !labTests[lc.Test] || lc.LOINC == "" || lc.Source == "" {
			l.addf("codes.yaml: labs[%d]: needs a known test, a LOINC code and a source", i)
		}
	}
	condOK := map[string]bool{}
	for _, c := range ekbom.Conditions {
		condOK[string(c)] = true
	}
	for i, cc := range b.Codes.Conditions {
		cite("codes.yaml: conditions", []string{cc.Source})
		if !condOK[cc.Condition] || cc.Source == "" {
			l.addf("codes.yaml: conditions[%d]: unknown condition %q or no source", i, cc.Condition)
		}
	}
	for name, c := range map[string]Choice{"alpha2delta_order": b.Choices.Alpha2DeltaOrder,
		"opioid_order": b.Choices.OpioidOrder, "opioid_order_daytime": b.Choices.OpioidOrderDaytime} {
		w := "choices.yaml: " + name
		if len(c.Drugs) == 0 || c.Rationale == "" {
			l.addf("%s: needs drugs and a rationale", w)
		}
		for _, id := range c.Drugs {
			if d := b.drugs[id]; d == nil || d.Class != c.Class {
				l.addf("%s: %q is not a drug of class %s", w, id, c.Class)
			}
		}
		cite(w, c.Sources)
	}
	for i, pc := range b.Codes.Pregnancy {
		cite("codes.yaml: pregnancy", []string{pc.Source})
		if (pc.State != "pregnant" && pc.State != "lactating") || len(pc.SNOMED)+len(pc.ICD10CM) == 0 {
			l.addf("codes.yaml: pregnancy[%d]: needs state pregnant|lactating and at least one code", i)
		}
	}
	rls := 0
	for i, dc := range b.Codes.Diagnosis {
		cite("codes.yaml: diagnosis", []string{dc.Source})
		switch {
		case dc.Diagnosis != "rls" || len(dc.SNOMED)+len(dc.ICD10CM) == 0:
			l.addf("codes.yaml: diagnosis[%d]: needs diagnosis rls and at least one code", i)
		case !dc.Verified:
			l.addf("codes.yaml: diagnosis[%d]: codes that decide whether a patient is served must be verified", i)
		default:
			rls++
		}
	}
	if rls == 0 {
		l.addf("codes.yaml: diagnosis: no verified codes for rls (the CDS Hooks services would serve nobody)")
	}
	for _, s := range b.SourceList {
		if !used[s.ID] {
			l.addf("sources.yaml: source %q is never cited", s.ID)
		}
	}
	if len(l.problems) > 0 {
		sort.Strings(l.problems)
	}
}

var sourceKinds = map[string]bool{"guideline": true, "consensus": true, "review": true, "trial": true,
	"label": true, "regulatory": true, "seed": true, "terminology": true, "reference": true}

// nonDrugTargets are the contract's non-drug targets (§3.2).
var nonDrugTargets = map[string]bool{
	"ferritin": true, "tsat": true, "iron_panel": true, "renal_function": true, "irls": true,
	"sleep_apnea": true, "peroneal_nerve_stimulation": true, "alcohol": true, "caffeine": true,
	"nicotine": true, "sleep_deprivation": true, "sleep_specialist": true,
	"phosphate": true, "crp": true, "augmentation": true, "opioid_safety_screening": true,
	"naloxone": true, "bowel_regimen": true, "ecg": true, "non_drug_measures": true,
	"dopamine_agonist_taper": true, "addiction_specialist": true, "older_adult_precautions": true,
}

// Class is a drug class with its display name.
type Class struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	Note string `yaml:"note"`
}

// ClassName returns the display name of a class id.
func (b *Base) ClassName(id string) string {
	if c := b.classes[id]; c != nil {
		return c.Name
	}
	return id
}

// Render fills a rule text's {placeholders} from vars. A placeholder with no
// value is an error so that no half-filled text reaches a clinician.
func Render(text string, vars map[string]string) (string, error) {
	if strings.IndexByte(text, '{') < 0 {
		return text, nil
	}
	var sb strings.Builder
	sb.Grow(len(text) + 64)
	var missing []string
	for {
		i := strings.IndexByte(text, '{')
		if i < 0 {
			sb.WriteString(text)
			break
		}
		j := strings.IndexByte(text[i:], '}')
		if j < 0 {
			sb.WriteString(text)
			break
		}
		key := text[i+1 : i+j]
		sb.WriteString(text[:i])
		if v, ok := vars[key]; ok {
			sb.WriteString(v)
		} else {
			missing = append(missing, key)
			sb.WriteString(text[i : i+j+1])
		}
		text = text[i+j+1:]
	}
	if len(missing) > 0 {
		return sb.String(), errors.New("text needs " + strings.Join(missing, ", "))
	}
	return sb.String(), nil
}
