// Package intake reads a patient record (JSON or YAML) strictly and
// normalises it for the engine.
//
// Decode checks the shape of a record against the input contract
// (shared/spec/contract.md §1): unknown fields, wrong types and invalid dates
// are errors. Normalize checks the clinical content: required fields,
// vocabularies, plausible ranges and lab units. It converts labs to the
// canonical units the knowledge base is written in, derives TSAT from iron
// and TIBC, resolves medications against the knowledge base (ingredient,
// brand or RxNorm code, or a free-text sig) and works out their daily doses.
// Read does both.
//
// Every problem is reported at once in one *ekbom.ValidationError, each with
// its field path ("labs[2].unit"). Nothing is guessed: a missing unit is an
// error, and a dose without a frequency has no daily dose.
//
// The package does no I/O and does not read the clock: the date a record is
// assessed for comes from its as_of field or from Options.Today.
package intake

import (
	"strings"

	"ekbom"
	"ekbom/kb"
)

// Options configures Normalize and Read.
type Options struct {
	// Today is the assessment date used when the record has no as_of. The
	// zero value means "no default": the record must then carry as_of.
	Today ekbom.Date
}

// Read decodes and normalises a patient record. b may be nil for
// kb.Default(). When the record has both shape and content problems, Read
// reports them together; a content problem at a path whose shape was already
// wrong is not repeated.
func Read(data []byte, format string, b *kb.Base, opt Options) (*ekbom.Patient, error) {
	p, verr := decode(data, format)
	if p == nil {
		return nil, verr
	}
	if len(verr.Problems) == 0 {
		if err := Normalize(p, b, opt); err != nil {
			return nil, err
		}
		return p, nil
	}
	// Shape problems: still look at the content that did decode, so the
	// caller sees everything in one pass.
	b, err := defaultBase(b)
	if err != nil {
		return nil, err
	}
	_, nerr := normalize(p, b, opt)
	shape := newPathSet(verr.Problems)
	for _, np := range nerr.Problems {
		if !shape.covers(np.Path) {
			verr.Problems = append(verr.Problems, np)
		}
	}
	verr.OutOfScope = verr.OutOfScope || nerr.OutOfScope
	return nil, verr
}

// pathSet holds the paths of shape problems, to hide the content problems
// they cause: a wrong "labs" list hides every "labs[i]" problem, and a wrong
// "medications[0].name" hides "medications[0]: give name or sig".
type pathSet struct {
	at    map[string]bool // problem paths
	above map[string]bool // problem paths and their parents
}

func newPathSet(problems []ekbom.Problem) pathSet {
	s := pathSet{at: map[string]bool{}, above: map[string]bool{}}
	for _, p := range problems {
		if p.Path == "" {
			continue
		}
		s.at[p.Path] = true
		for q := p.Path; q != ""; q = parent(q) {
			s.above[q] = true
		}
	}
	return s
}

// covers reports whether a shape problem sits at path, inside it or at one
// of its parents.
func (s pathSet) covers(path string) bool {
	if path == "" {
		return false
	}
	if s.above[path] {
		return true
	}
	for q := parent(path); q != ""; q = parent(q) {
		if s.at[q] {
			return true
		}
	}
	return false
}

// parent returns the path one level up: "labs[0].unit" → "labs[0]" →
// "labs" → "".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func defaultBase(b *kb.Base) (*kb.Base, error) {
	if b != nil {
		return b, nil
	}
	return kb.Default()
}

// Normalize validates p against the contract and clinical ranges, converts
// lab units, derives TSAT, resolves medications and parses sigs. b may be nil
// for kb.Default().
//
// On success p is updated in place: as_of is set (from opt.Today when the
// record has none), pregnancy defaults to "none" (PregnancyDefaulted set for
// a woman, so that the plan can say so), medication status to
// "current", conditions and declines are de-duplicated, labs are in canonical
// units with derived TSAT appended (Derived set), every medication has its
// Resolved facts, infusion products are kb drug ids and a missing IRLS total
// is the sum of the items. Normalize is idempotent.
//
// On error p is left unchanged and the error is an *ekbom.ValidationError
// listing every problem; it matches ekbom.ErrInvalid, and ekbom.ErrOutOfScope
// too for a patient under 18.
func Normalize(p *ekbom.Patient, b *kb.Base, opt Options) error {
	if p == nil {
		verr := &ekbom.ValidationError{}
		verr.Add("", "no patient record")
		return verr
	}
	b, err := defaultBase(b)
	if err != nil {
		return err
	}
	q, verr := normalize(p, b, opt)
	if err := verr.Err(); err != nil {
		return err
	}
	*p = *q
	return nil
}

// normalize works on a copy of p and returns it with the problems found. It
// never writes through p: every slice it changes is a new one.
func normalize(p *ekbom.Patient, b *kb.Base, opt Options) (*ekbom.Patient, *ekbom.ValidationError) {
	n := &normalizer{b: b, verr: &ekbom.ValidationError{}}
	q := *p
	n.asOf(&q, opt)
	n.person(&q)
	q.Conditions = n.conditions(p.Conditions)
	q.Labs = n.labs(p.Labs)
	q.Medications = n.medications(p.Medications)
	q.IronInfusions = n.infusions(p.IronInfusions)
	q.Symptoms = n.symptoms(p.Symptoms)
	n.lifestyle(p.Lifestyle)
	q.Preferences = n.preferences(p.Preferences)
	n.screening(p.Screening)
	return &q, n.verr
}

type normalizer struct {
	b    *kb.Base
	verr *ekbom.ValidationError
	now  ekbom.Date // as_of; zero when unknown
}

func (n *normalizer) add(path, format string, args ...any) {
	n.verr.Add(path, format, args...)
}

func (n *normalizer) asOf(q *ekbom.Patient, opt Options) {
	if q.AsOf.IsZero() {
		q.AsOf = opt.Today
	}
	if q.AsOf.IsZero() {
		n.add("as_of", "required (give as_of or run with a date)")
	}
	n.now = q.AsOf
}

// notAfterAsOf reports a date later than the assessment date.
func (n *normalizer) notAfterAsOf(path string, d ekbom.Date) {
	if !n.now.IsZero() && d.After(n.now) {
		n.add(path, "%s is after as_of %s", d, n.now)
	}
}

func (n *normalizer) person(q *ekbom.Patient) {
	switch a := q.Age; {
	case a == nil:
		n.add("age", "required (years)")
	case *a < 0:
		n.add("age", "%d is negative", *a)
	case *a < 18:
		n.add("age", "%d — ekbom covers adults (18 and over); pediatric RLS is out of scope", *a)
		n.verr.OutOfScope = true
	case *a > 120:
		n.add("age", "%d is above 120", *a)
	}

	switch q.Sex {
	case ekbom.Female, ekbom.Male:
	case "":
		n.add("sex", "required (female or male)")
	default:
		n.add("sex", "unknown value %q; want female or male", q.Sex)
	}

	switch q.Pregnancy {
	case "":
		q.Pregnancy = ekbom.NotPregnant
		q.PregnancyDefaulted = q.Sex == ekbom.Female
	case ekbom.NotPregnant:
	case ekbom.Pregnant, ekbom.Lactating:
		if q.Sex == ekbom.Male {
			n.add("pregnancy", "%q does not fit sex male", q.Pregnancy)
		}
	default:
		n.add("pregnancy", "unknown value %q; want none, pregnant or lactating", q.Pregnancy)
	}

	if w := q.WeightKg; w != nil && !inRange(*w, 20, 400) {
		n.add("weight_kg", "%s kg is outside 20–400 kg", fmtNum(*w))
	}
}

func (n *normalizer) conditions(in []ekbom.Condition) []ekbom.Condition {
	if in == nil {
		return nil
	}
	known := make([]string, len(ekbom.Conditions))
	for i, c := range ekbom.Conditions {
		known[i] = string(c)
	}
	out := make([]ekbom.Condition, 0, len(in))
	seen := map[ekbom.Condition]bool{}
	for i, c := range in {
		if !contains(ekbom.Conditions, c) {
			n.add(index("conditions", i), "unknown condition %q%s; known: %s",
				c, didYouMean(string(c), known), strings.Join(known, ", "))
			continue
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

func (n *normalizer) labs(in []ekbom.Lab) []ekbom.Lab {
	if in == nil {
		return nil
	}
	out := make([]ekbom.Lab, len(in))
	valid := make([]bool, len(in))
	known := make([]string, len(labTests))
	for i, t := range labTests {
		known[i] = string(t)
	}
	for i, l := range in {
		path := index("labs", i)
		spec, ok := labSpecs[l.Test]
		switch {
		case l.Test == "":
			n.add(path+".test", "required (one of %s)", strings.Join(known, ", "))
		case !ok:
			n.add(path+".test", "unknown test %q%s; known: %s", l.Test, didYouMean(string(l.Test), known), strings.Join(known, ", "))
		}
		good := ok
		if l.Date.IsZero() {
			n.add(path+".date", "required (YYYY-MM-DD)")
			good = false
		} else {
			n.notAfterAsOf(path+".date", l.Date)
		}
		switch {
		case !finite(l.Value):
			n.add(path+".value", "want a finite number")
			good = false
		case l.Value < 0:
			n.add(path+".value", "%s is negative", fmtNum(l.Value))
			good = false
		}
		if ok {
			switch v, unitOK := spec.convert(l.Value, l.Unit); {
			case strings.TrimSpace(l.Unit) == "":
				n.add(path+".unit", "required (accepted: %s)", spec.accepted)
				good = false
			case !unitOK:
				n.add(path+".unit", "unknown unit %q for %s (accepted: %s)", l.Unit, l.Test, spec.accepted)
				good = false
			case finite(l.Value) && l.Value >= 0:
				l.Value, l.Unit = v, spec.canonical
				switch {
				case v > spec.max:
					n.add(path+".value", "%s %s %s is above %s %s, which is not possible",
						spec.label, fmtNum(v), spec.canonical, fmtNum(spec.max), spec.canonical)
					good = false
				case v == 0 && spec.zeroBad:
					n.add(path+".value", "%s 0 %s is not possible", spec.label, spec.canonical)
					good = false
				}
			}
		}
		if l.Fasting != nil {
			l.Fasting = ptr(*l.Fasting)
		}
		if l.IronSupplementWithin24h != nil {
			l.IronSupplementWithin24h = ptr(*l.IronSupplementWithin24h)
		}
		out[i], valid[i] = l, good
	}
	return n.deriveTSAT(out, valid)
}

// deriveTSAT appends TSAT = iron / TIBC × 100 for each date that has a valid
// iron and TIBC but no TSAT. With several iron (or TIBC) results on one date
// the first in the list is used.
func (n *normalizer) deriveTSAT(labs []ekbom.Lab, valid []bool) []ekbom.Lab {
	type day struct {
		iron, tibc int
		tsat       bool
	}
	var order []string
	days := map[string]*day{}
	for i, l := range labs {
		if l.Date.IsZero() {
			continue
		}
		k := l.Date.String()
		d := days[k]
		if d == nil {
			d = &day{iron: -1, tibc: -1}
			days[k] = d
			order = append(order, k)
		}
		switch {
		case l.Test == ekbom.TSAT:
			d.tsat = true // even an invalid one: it is reported, not replaced
		case l.Test == ekbom.Iron && valid[i] && d.iron < 0:
			d.iron = i
		case l.Test == ekbom.TIBC && valid[i] && d.tibc < 0:
			d.tibc = i
		}
	}
	for _, k := range order {
		d := days[k]
		if d.tsat || d.iron < 0 || d.tibc < 0 {
			continue
		}
		iron, tibc := labs[d.iron], labs[d.tibc]
		tsat := round(iron.Value/tibc.Value*100, 1)
		if tsat > 100 {
			n.add(index("labs", d.iron)+".value", "iron %s µg/dL above TIBC %s µg/dL gives TSAT %s %%",
				fmtNum(iron.Value), fmtNum(tibc.Value), fmtNum(tsat))
			continue
		}
		l := ekbom.Lab{Test: ekbom.TSAT, Value: tsat, Unit: "%", Date: iron.Date, Derived: true}
		if iron.Fasting != nil {
			l.Fasting = ptr(*iron.Fasting)
		}
		if iron.IronSupplementWithin24h != nil {
			l.IronSupplementWithin24h = ptr(*iron.IronSupplementWithin24h)
		}
		labs = append(labs, l)
	}
	return labs
}

func (n *normalizer) infusions(in []ekbom.Infusion) []ekbom.Infusion {
	if in == nil {
		return nil
	}
	out := make([]ekbom.Infusion, len(in))
	for i, f := range in {
		path := index("iron_infusions", i)
		if f.Date.IsZero() {
			n.add(path+".date", "required (YYYY-MM-DD)")
		} else {
			n.notAfterAsOf(path+".date", f.Date)
		}
		switch d, ok := n.b.LookupDrug(f.Product); {
		case strings.TrimSpace(f.Product) == "":
			n.add(path+".product", "required (an IV iron product, e.g. ferric_carboxymaltose)")
		case !ok:
			n.add(path+".product", "unknown product %q; want an IV iron product such as ferric_carboxymaltose or Injectafer", f.Product)
		case d.Class != "iv_iron":
			n.add(path+".product", "%q is not an IV iron product", f.Product)
		default:
			f.Product = d.ID
		}
		switch {
		case f.DoseMg == 0:
			n.add(path+".dose_mg", "required (mg, more than 0)")
		case !inRange(f.DoseMg, 0, 2000):
			n.add(path+".dose_mg", "%s mg is outside 0–2000 mg", fmtNum(f.DoseMg))
		}
		out[i] = f
	}
	return out
}

func (n *normalizer) symptoms(s ekbom.Symptoms) ekbom.Symptoms {
	if t := s.IRLSTotal; t != nil && (*t < 0 || *t > 40) {
		n.add("symptoms.irls_total", "%d is outside 0–40", *t)
	}
	if len(s.IRLSItems) > 0 {
		sum, ok := 0, true
		if len(s.IRLSItems) != 10 {
			n.add("symptoms.irls_items", "want 10 items, got %d", len(s.IRLSItems))
			ok = false
		}
		for i, x := range s.IRLSItems {
			if x < 0 || x > 4 {
				n.add(index("symptoms.irls_items", i), "%d is outside 0–4", x)
				ok = false
			}
			sum += x
		}
		switch {
		case !ok:
		case s.IRLSTotal == nil:
			s.IRLSTotal = ptr(sum)
		case *s.IRLSTotal != sum:
			n.add("symptoms.irls_total", "%d disagrees with the sum of irls_items (%d)", *s.IRLSTotal, sum)
		}
	}
	if a := s.Augmentation; a != nil && a.OnsetAdvanceHours != nil && !inRange(*a.OnsetAdvanceHours, 0, 24) {
		n.add("symptoms.augmentation.onset_advance_hours", "%s h is outside 0–24 h", fmtNum(*a.OnsetAdvanceHours))
	}
	return s
}

func (n *normalizer) lifestyle(l ekbom.Lifestyle) {
	check := func(name string, x *float64, hi float64, unit string) {
		if x != nil && !inRange(*x, 0, hi) {
			n.add("lifestyle."+name, "%s is outside 0–%s %s", fmtNum(*x), fmtNum(hi), unit)
		}
	}
	check("alcohol_drinks_per_week", l.AlcoholDrinksPerWeek, 200, "drinks a week")
	check("caffeine_mg_per_day", l.CaffeineMgPerDay, 3000, "mg a day")
	check("sleep_hours", l.SleepHours, 24, "hours")
}

// nonDrugTargets are the contract's non-drug targets (§3.2) a patient may
// decline.
var nonDrugTargets = []string{"ferritin", "tsat", "iron_panel", "renal_function", "irls",
	"sleep_apnea", "peroneal_nerve_stimulation", "alcohol", "caffeine", "nicotine",
	"sleep_deprivation", "sleep_specialist"}

// preferences checks declines and stores each as a kb drug id, class id or
// non-drug target. Case, spaces and hyphens are folded ("IV iron" →
// "iv_iron"), and drug names and brands are accepted ("Lyrica" →
// "pregabalin").
func (n *normalizer) preferences(p ekbom.Preferences) ekbom.Preferences {
	if p.Declines == nil {
		return p
	}
	out := make([]string, 0, len(p.Declines))
	for i, raw := range p.Declines {
		id := strings.Join(strings.FieldsFunc(strings.ToLower(raw), func(r rune) bool {
			return r == ' ' || r == '-' || r == '_' || r == '\t'
		}), "_")
		switch {
		case n.isClass(id) || contains(nonDrugTargets, id):
		default:
			d, ok := n.b.LookupDrug(raw)
			if !ok {
				n.add(index("preferences.declines", i), "unknown target %q; want a drug (e.g. pregabalin), a drug class (e.g. opioid, iv_iron) or a non-drug target (e.g. peroneal_nerve_stimulation)", raw)
				continue
			}
			id = d.ID
		}
		if !contains(out, id) {
			out = append(out, id)
		}
	}
	p.Declines = out
	return p
}

func (n *normalizer) isClass(id string) bool {
	for _, c := range n.b.ClassList {
		if c.ID == id {
			return true
		}
	}
	return false
}

func (n *normalizer) screening(s ekbom.Screening) {
	switch s.OpioidRisk {
	case "", "low", "moderate", "high":
	default:
		n.add("screening.opioid_risk", "unknown value %q; want low, moderate or high", s.OpioidRisk)
	}
	switch s.OSAScreen {
	case "", "negative", "positive":
	default:
		n.add("screening.osa_screen", "unknown value %q; want negative or positive", s.OSAScreen)
	}
}

// didYouMean returns ` (did you mean "x"?)` for a close known value.
func didYouMean(s string, known []string) string {
	if m := suggest(s, known); m != "" {
		return " (did you mean " + `"` + m + `"?)`
	}
	return ""
}

func contains[T comparable](list []T, x T) bool {
	for _, y := range list {
		if y == x {
			return true
		}
	}
	return false
}

func ptr[T any](x T) *T { return &x }
