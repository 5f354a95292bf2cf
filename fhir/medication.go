package fhir

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"ekbom"
	"ekbom/kb"
)

type useKind int

const (
	request useKind = iota
	statement
)

// medCand is one medication read, before de-duplication.
type medCand struct {
	med     ekbom.Medication
	key     string // kb ingredient id, or "?" + the lower-case name when unknown
	request bool   // from a MedicationRequest
	dosed   bool   // carries a daily amount (dose or rate)
	date    ekbom.Date
	e       *entry
}

type infCand struct {
	inf ekbom.Infusion
	e   *entry
}

// medicationUse reads a MedicationRequest or MedicationStatement.
func (r *reader) medicationUse(e *entry, kind useKind) {
	var m medicationUse
	if !decode(r, e, &m) || !r.forPatient(e, m.Subject) {
		return
	}
	var status ekbom.MedStatus
	switch kind {
	case request:
		switch m.Status {
		case "active", "on-hold":
			status = ekbom.Current
		case "completed", "stopped":
			status = ekbom.Past
		}
		switch m.Intent {
		case "proposal", "option":
			r.note(e.name(), "intent %s is a suggestion, not a prescription: not read", m.Intent)
			return
		}
	case statement:
		switch m.Status {
		case "active", "intended", "on-hold":
			status = ekbom.Current
		case "completed", "stopped":
			status = ekbom.Past
		}
	}
	if status == "" {
		s := m.Status
		if s == "" {
			s = "missing"
		}
		r.note(e.name(), "status %s: not read", s)
		return
	}
	drug, name, ok := r.medicationOf(e, &m)
	if !ok {
		return
	}

	// Dosage: MedicationRequest.dosageInstruction, MedicationStatement.dosage.
	dosages, field := m.DosageInstruction, "dosageInstruction"
	if kind == statement {
		field = "dosage"
		dosages = r.statementDosage(e, m.Dosage)
	}
	med := ekbom.Medication{Status: status}
	if drug != nil {
		med.Name = drug.ID
	} else {
		med.Name = name
		r.note(e.name(), "%q is not in the knowledge base: passed on by name, and the plan lists it as not assessed", truncate(name, 80))
	}
	dosed := false
	switch len(dosages) {
	case 0:
	case 1:
		dosed = r.applyDosage(e, e.path+"."+field+"[0]", dosages[0], drug, &med)
	default:
		r.note(e.name(), "%d dosage instructions (a split or changing dose): the daily dose is not worked out", len(dosages))
	}

	// Dates.
	var startS, stopS, startField, stopField string
	switch kind {
	case request:
		if len(dosages) > 0 && dosages[0].Timing != nil && dosages[0].Timing.Repeat != nil && dosages[0].Timing.Repeat.BoundsPeriod != nil {
			bp := dosages[0].Timing.Repeat.BoundsPeriod
			startS, stopS = bp.Start, bp.End
			startField, stopField = field+"[0].timing.repeat.boundsPeriod.start", field+"[0].timing.repeat.boundsPeriod.end"
		}
		if startS == "" && m.AuthoredOn != "" {
			startS, startField = m.AuthoredOn, "authoredOn"
		}
	case statement:
		switch {
		case m.EffectivePeriod != nil:
			startS, stopS = m.EffectivePeriod.Start, m.EffectivePeriod.End
			startField, stopField = "effectivePeriod.start", "effectivePeriod.end"
		case m.EffectiveDateTime != "":
			startS, startField = m.EffectiveDateTime, "effectiveDateTime"
		}
	}
	med.Start = r.medDate(e, startField, startS, "start")
	if status == ekbom.Past {
		med.Stop = r.medDate(e, stopField, stopS, "stop")
	}
	if med.Start != nil && med.Stop != nil && med.Stop.Before(*med.Start) {
		r.note(e.name(), "stop %s is before start %s: stop not read", med.Stop, med.Start)
		med.Stop = nil
	}
	med.Outcome = r.outcome(e, m.StatusReason)

	key := "?" + strings.ToLower(strings.Join(strings.Fields(name), " "))
	if drug != nil {
		key = drug.ID
	}
	var date ekbom.Date
	if med.Start != nil {
		date = *med.Start
	}
	r.meds = append(r.meds, medCand{med: med, key: key, request: kind == request, dosed: dosed, date: date, e: e})
}

// statementDosage decodes MedicationStatement.dosage, a list (one object is
// accepted too).
func (r *reader) statementDosage(e *entry, raw json.RawMessage) []dosage {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var ds []dosage
	if raw[0] != '[' {
		var d dosage
		if err := decodeJSON(raw, &d); err != nil {
			r.jsonError(e.path+".dosage", err)
			return nil
		}
		return []dosage{d}
	}
	if err := decodeJSON(raw, &ds); err != nil {
		r.jsonError(e.path+".dosage", err)
		return nil
	}
	return ds
}

// medicationOf resolves medication[x] to a knowledge-base drug, and returns
// a name for it either way. ok is false when there is no medication at all.
func (r *reader) medicationOf(e *entry, m *medicationUse) (*kb.Drug, string, bool) {
	if cc := m.MedicationCodeableConcept; cc != nil {
		d, name := r.drugOf(e, cc)
		return d, name, true
	}
	ref := m.MedicationReference
	if ref == nil || (ref.Reference == "" && ref.Display == "") {
		r.note(e.name(), "no medication: not read")
		return nil, "", false
	}
	if ref.Reference != "" {
		if raw, ok := r.resolve(ref.Reference, m.Contained, "Medication"); ok {
			var med medication
			if err := decodeJSON(raw, &med); err != nil {
				r.jsonError(e.path+".medicationReference", err)
				return nil, "", false
			}
			return r.drugOfMedication(e, &med, ref.Display)
		}
		if ref.Display == "" {
			r.note(e.name(), "medication %q is not in the input: not read", ref.Reference)
			return nil, "", false
		}
	}
	d, name := r.drugOf(e, &codeableConcept{Text: ref.Display})
	return d, name, true
}

// drugOfMedication resolves a Medication resource: its code, else its one
// ingredient (or a combination the knowledge base names).
func (r *reader) drugOfMedication(e *entry, med *medication, display string) (*kb.Drug, string, bool) {
	cc := med.Code
	if cc == nil {
		cc = &codeableConcept{}
	}
	if cc.Text == "" && display != "" {
		cc = &codeableConcept{Coding: cc.Coding, Text: display}
	}
	d, name := r.drugOf(e, cc)
	if d != nil {
		return d, name, true
	}
	var found []*kb.Drug
	var names []string
	for _, in := range med.Ingredient {
		if in.ItemCodeableConcept == nil {
			continue
		}
		id, iname := r.drugOf(e, in.ItemCodeableConcept)
		names = append(names, iname)
		if id != nil && !containsDrug(found, id) {
			found = append(found, id)
		}
	}
	switch {
	case len(found) == 1:
		return found[0], found[0].Name, true
	case len(found) == 2:
		for _, k := range []string{found[0].Name + "/" + found[1].Name, found[1].Name + "/" + found[0].Name} {
			if c, ok := r.b.LookupDrug(k); ok {
				return c, c.Name, true
			}
		}
	}
	if name == "" || name == "no code" {
		name = strings.Join(names, "/")
	}
	if name == "" {
		r.note(e.name(), "the medication has no code, text or ingredients: not read")
		return nil, "", false
	}
	return nil, name, true
}

func containsDrug(list []*kb.Drug, d *kb.Drug) bool {
	for _, x := range list {
		if x == d {
			return true
		}
	}
	return false
}

// drugOf resolves a medication concept: a verified RxNorm code, else a
// coding's display, else the text. name is the concept's best human name.
func (r *reader) drugOf(e *entry, cc *codeableConcept) (*kb.Drug, string) {
	name := cc.Text
	var rx []string
	for _, c := range cc.Coding {
		if name == "" && c.Display != "" {
			name = c.Display
		}
		if c.System == systemRxNorm && c.Code != "" {
			rx = append(rx, c.Code)
		}
	}
	if name == "" && len(rx) > 0 {
		name = "RxNorm " + rx[0]
	}
	if name == "" {
		for _, c := range cc.Coding {
			if c.Code != "" {
				name = c.System + " " + c.Code
				break
			}
		}
	}
	for _, code := range rx {
		if d, ok := r.b.LookupDrug(code); ok && d.RxNorm != nil && d.RxNorm.Code == strings.TrimSpace(code) {
			if byText := r.drugInText(cc); byText != nil && byText != d {
				r.note(e.name(), "RxNorm %s is %s but the text names %s: %s is used", code, d.Name, byText.Name, d.Name)
			}
			return d, name
		}
	}
	return r.drugInText(cc), name
}

// drugInText finds a drug in a concept's displays and text.
func (r *reader) drugInText(cc *codeableConcept) *kb.Drug {
	for _, c := range cc.Coding {
		if d := r.findDrug(c.Display); d != nil {
			return d
		}
	}
	return r.findDrug(cc.Text)
}

// findDrug finds a drug named in free text: the whole text as a name,
// brand or synonym, else the longest name found at word boundaries
// (earliest first among equally long ones), as intake reads sigs.
func (r *reader) findDrug(s string) *kb.Drug {
	if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > 500 {
		return nil
	}
	if d, ok := r.b.LookupDrug(s); ok {
		return d
	}
	text := strings.ToLower(s)
	text = nameFolder.Replace(text)
	text = strings.Join(strings.Fields(text), " ")
	var best *kb.Drug
	bestLen, bestAt := 0, 0
	for _, k := range r.names {
		if best != nil && len(k) < bestLen {
			break
		}
		for off := 0; off < len(text); {
			i := strings.Index(text[off:], k)
			if i < 0 {
				break
			}
			i += off
			if wordBoundary(text, i, i+len(k)) {
				if best == nil || i < bestAt {
					best, _ = r.b.LookupDrug(k)
					bestLen, bestAt = len(k), i
				}
				break
			}
			off = i + 1
		}
	}
	return best
}

var nameFolder = strings.NewReplacer("®", "", "™", "", "_", " ", "-", " ", "\u00a0", " ")

func wordBoundary(text string, i, j int) bool {
	if i > 0 {
		if r, _ := utf8.DecodeLastRuneInString(text[:i]); unicode.IsLetter(r) {
			return false
		}
	}
	if j < len(text) {
		if r, _ := utf8.DecodeRuneInString(text[j:]); unicode.IsLetter(r) {
			return false
		}
	}
	return true
}

// applyDosage fills the dose of med from one Dosage and reports whether it
// carries a daily amount. A dose in mg (or a rate) with a timing becomes
// structured fields, with "at bedtime" or "as needed" in the sig so intake
// keeps them; without a usable dose the dosage text becomes the sig.
func (r *reader) applyDosage(e *entry, path string, d dosage, drug *kb.Drug, med *ekbom.Medication) bool {
	var doseMg, rateMg *float64
	if len(d.DoseAndRate) > 0 {
		dr := d.DoseAndRate[0]
		if q := dr.DoseQuantity; q != nil {
			if v, ok := r.number(path+".doseAndRate[0].doseQuantity.value", q.Value); ok {
				doseMg, rateMg = r.amount(e, v, q, "dose")
			}
		}
		if q := dr.RateQuantity; q != nil && rateMg == nil {
			if v, ok := r.number(path+".doseAndRate[0].rateQuantity.value", q.Value); ok {
				var dm *float64
				if dm, rateMg = r.amount(e, v, q, "rate"); dm != nil {
					r.note(e.name(), "rate %s %s is not a rate: not read", q.Value.Number, quantityUnitText(q))
				}
			}
		}
		switch {
		case doseMg != nil || rateMg != nil:
		case len(dr.DoseRange) > 0:
			r.note(e.name(), "a dose range is not a dose: not read")
		case dr.DoseQuantity != nil && dr.DoseQuantity.Value.set:
			r.note(e.name(), "dose %s %s is not an amount in mg: the dosage text is read instead, if any",
				dr.DoseQuantity.Value.Number, quantityUnitText(dr.DoseQuantity))
		}
	}
	times, bedtime := r.timesPerDay(e, path+".timing", d.Timing)
	prn := d.AsNeededBoolean != nil && *d.AsNeededBoolean
	text := strings.TrimSpace(d.Text)
	if text != "" && drug != nil {
		if other := r.findDrug(text); other != nil && other != drug {
			r.note(e.name(), "dosage text %q names %s, not %s: text not read", truncate(text, 60), other.Name, drug.Name)
			text = ""
		}
	}
	switch {
	case rateMg != nil:
		// A patch: the rate is the daily amount; how often it is changed
		// is not a number of doses a day.
		med.DoseMgPer24h = rateMg
		med.Sig = qualifiers(nil, false, prn)
		return true
	case doseMg != nil && times != nil:
		med.DoseMg, med.TimesPerDay = doseMg, times
		if bedtime && !bedtimeFits(*times) {
			r.note(e.name(), "bedtime timing with %s doses a day: bedtime not read", fmtNum(*times))
			bedtime = false
		}
		med.Sig = qualifiers(times, bedtime, prn)
		return true
	case doseMg != nil && text != "":
		// The frequency is only in the text: let intake read it, with the
		// coded dose first so that it wins over any amount in the text.
		med.Sig = fmtNum(*doseMg) + " mg " + text
		return true
	case doseMg != nil:
		med.DoseMg = doseMg
		med.Sig = qualifiers(nil, bedtime, prn)
		return false
	case text != "":
		med.Sig = text
		return false
	default:
		med.TimesPerDay = times
		med.Sig = qualifiers(times, bedtime && (times == nil || bedtimeFits(*times)), prn)
		return false
	}
}

// bedtimeFits reports whether a frequency can be written with "bedtime" in
// a sig that intake reads back to the same frequency.
func bedtimeFits(times float64) bool { return freqPhrase[times] != "" || times == 1 }

// freqPhrase writes a number of doses a day so that intake's sig parser
// reads it back unchanged.
var freqPhrase = map[float64]string{2: "twice daily", 3: "three times daily", 4: "four times daily"}

// qualifiers writes what structured fields cannot carry ("at bedtime", "as
// needed") as a sig, consistent with times.
func qualifiers(times *float64, bedtime, prn bool) string {
	var parts []string
	if bedtime {
		if times != nil && *times != 1 {
			parts = append(parts, freqPhrase[*times]+" including at bedtime")
		} else {
			parts = append(parts, "at bedtime")
		}
	}
	if prn {
		parts = append(parts, "as needed")
	}
	return strings.Join(parts, " ")
}

// amount converts a dose quantity to mg per administration or, for a rate,
// mg per 24 h. Other units (tablets, mL) give neither.
func (r *reader) amount(e *entry, v float64, q *quantity, what string) (doseMg, rateMg *float64) {
	units := quantityUnits(q)
	for _, k := range units {
		if f, ok := massFactor[k]; ok {
			if v == 0 {
				r.note(e.name(), "%s of 0 %s: not read", what, quantityUnitText(q))
				return nil, nil
			}
			return ptr(round(v*f, 6)), nil
		}
		if f, ok := rateFactor[k]; ok {
			if v == 0 {
				r.note(e.name(), "%s of 0 %s: not read", what, quantityUnitText(q))
				return nil, nil
			}
			return nil, ptr(round(v*f, 6))
		}
	}
	return nil, nil
}

// periodDays is the length of a UCUM time unit of Timing.repeat in days.
var periodDays = map[string]float64{"s": 1.0 / 86400, "min": 1.0 / 1440, "h": 1.0 / 24, "d": 1, "wk": 7}

// gtsTimes are the doses a day of the HL7 timing abbreviations
// (v3-GTSAbbreviation); BED is once, at bedtime.
var gtsTimes = map[string]float64{
	"QD": 1, "BID": 2, "TID": 3, "QID": 4, "QOD": 0.5, "AM": 1, "PM": 1, "BED": 1,
	"Q1H": 24, "Q2H": 12, "Q3H": 8, "Q4H": 6, "Q6H": 4, "Q8H": 3,
}

// timesPerDay reads a Timing: frequency per period, else the number of
// distinct times of day ("when", "timeOfDay"), else a timing abbreviation.
// "HS" (or BED) marks bedtime.
func (r *reader) timesPerDay(e *entry, path string, t *timing) (*float64, bool) {
	if t == nil {
		return nil, false
	}
	var times *float64
	bedtime := false
	if rep := t.Repeat; rep != nil {
		for _, w := range rep.When {
			bedtime = bedtime || w == "HS"
		}
		freq, hasF := r.number(path+".repeat.frequency", rep.Frequency)
		per, hasP := r.number(path+".repeat.period", rep.Period)
		switch {
		case hasP:
			days, ok := periodDays[rep.PeriodUnit]
			switch {
			case !ok:
				r.note(e.name(), "timing every %s %s has no fixed number of doses a day: not read", rep.Period.Number, rep.PeriodUnit)
			case per == 0 || (hasF && freq == 0):
				r.note(e.name(), "timing with a period or frequency of 0: not read")
			default:
				if !hasF {
					freq = 1
				}
				x := freq / (per * days)
				if days < 1 {
					x = round(x, 4)
				}
				times = &x
			}
		case hasF:
			r.note(e.name(), "timing frequency %s without a period: not read", rep.Frequency.Number)
		default:
			seen := map[string]bool{}
			for _, w := range rep.When {
				seen["when:"+w] = true
			}
			for _, tod := range rep.TimeOfDay {
				seen["time:"+tod] = true
			}
			if n := len(seen); n > 0 {
				times = ptr(float64(n))
			}
		}
	}
	if t.Code != nil {
		for _, c := range t.Code.Coding {
			if c.System != systemGTS && c.System != "" {
				continue
			}
			x, ok := gtsTimes[strings.ToUpper(c.Code)]
			if !ok {
				continue
			}
			if strings.ToUpper(c.Code) == "BED" {
				bedtime = true
			}
			if times == nil {
				times = ptr(x)
			}
			break
		}
	}
	if times != nil && *times > 24 {
		r.note(e.name(), "timing of %s doses a day is not plausible: not read", fmtNum(*times))
		times = nil
	}
	return times, bedtime
}

// medDate reads a medication start or stop date. A partial date is read as
// its first day; a date after as_of is left out.
func (r *reader) medDate(e *entry, field, s, what string) *ekbom.Date {
	if s == "" {
		return nil
	}
	d, prec, ok := parseDate(s)
	switch {
	case !ok:
		r.fail(e.path+"."+field, "%q is not a FHIR dateTime", truncate(s, 40))
		return nil
	case d.After(r.asOf):
		r.note(e.name(), "%s %s is after as_of %s: %s not read", what, s, r.asOf, what)
		return nil
	case prec != precDay:
		r.note(e.name(), "%s %s is not a full date: read as %s", what, s, d)
	}
	return &d
}

// outcomes are the contract's trial outcomes, the codes of OutcomeSystem.
var outcomes = map[string]ekbom.Outcome{
	"ineffective": ekbom.Ineffective, "intolerant": ekbom.Intolerant,
	"augmentation": ekbom.Augmented, "partial": ekbom.Partial,
}

// outcome reads a stop reason coded in OutcomeSystem. Free-text and other
// codes are not interpreted: the outcome is left empty and the reason noted.
func (r *reader) outcome(e *entry, raw json.RawMessage) ekbom.Outcome {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var ccs []codeableConcept
	if raw[0] == '[' {
		if err := decodeJSON(raw, &ccs); err != nil {
			r.jsonError(e.path+".statusReason", err)
			return ""
		}
	} else {
		var cc codeableConcept
		if err := decodeJSON(raw, &cc); err != nil {
			r.jsonError(e.path+".statusReason", err)
			return ""
		}
		ccs = []codeableConcept{cc}
	}
	var other []string
	for _, cc := range ccs {
		for _, c := range cc.Coding {
			if c.System != OutcomeSystem {
				continue
			}
			if o, ok := outcomes[c.Code]; ok {
				return o
			}
			r.note(e.name(), "stop reason code %q is not one of ekbom's outcomes (ineffective, intolerant, augmentation, partial)", truncate(c.Code, 40))
		}
		other = append(other, label(&cc))
	}
	r.note(e.name(), "stop reason %q is not coded in %s: outcome left empty", truncate(strings.Join(other, "; "), 80), OutcomeSystem)
	return ""
}

// administration reads a MedicationAdministration: an IV iron infusion.
func (r *reader) administration(e *entry) {
	var m medicationUse
	if !decode(r, e, &m) || !r.forPatient(e, m.Subject) {
		return
	}
	if m.Status != "completed" {
		s := m.Status
		if s == "" {
			s = "missing"
		}
		r.note(e.name(), "status %s: not read", s)
		return
	}
	drug, name, ok := r.medicationOf(e, &m)
	if !ok {
		return
	}
	if drug == nil || drug.Class != "iv_iron" {
		r.note(e.name(), "%s: ekbom reads administrations of IV iron only", truncate(name, 80))
		return
	}
	s, field := m.EffectiveDateTime, "effectiveDateTime"
	if s == "" && m.EffectivePeriod != nil {
		s, field = m.EffectivePeriod.Start, "effectivePeriod.start"
	}
	if s == "" {
		r.note(e.name(), "%s infusion has no date: not read", drug.Name)
		return
	}
	date, prec, ok := parseDate(s)
	switch {
	case !ok:
		r.fail(e.path+"."+field, "%q is not a FHIR dateTime", truncate(s, 40))
		return
	case prec != precDay:
		r.note(e.name(), "%s infusion date %s is not a full date: not read", drug.Name, s)
		return
	case date.After(r.asOf):
		r.note(e.name(), "%s infusion on %s is after as_of %s: not read", drug.Name, date, r.asOf)
		return
	}
	var dos administrationDosage
	if raw := strings.TrimSpace(string(m.Dosage)); raw != "" && raw != "null" {
		if err := decodeJSON(m.Dosage, &dos); err != nil {
			r.jsonError(e.path+".dosage", err)
			return
		}
	}
	if dos.Dose == nil {
		r.note(e.name(), "%s infusion on %s has no dose: not read", drug.Name, date)
		return
	}
	v, ok := r.number(e.path+".dosage.dose.value", dos.Dose.Value)
	if !ok {
		if !dos.Dose.Value.set {
			r.note(e.name(), "%s infusion on %s has no dose: not read", drug.Name, date)
		}
		return
	}
	mg := 0.0
	for _, k := range quantityUnits(dos.Dose) {
		if f, ok := massFactor[k]; ok {
			mg = round(v*f, 6)
			break
		}
	}
	if mg == 0 {
		r.note(e.name(), "%s infusion dose %s %s is not an amount in mg: not read", drug.Name, dos.Dose.Value.Number, quantityUnitText(dos.Dose))
		return
	}
	r.infs = append(r.infs, infCand{inf: ekbom.Infusion{Date: date, Product: drug.ID, DoseMg: mg}, e: e})
}

// finishMeds keeps one current entry per ingredient (with a daily amount
// over without, a MedicationRequest over a MedicationStatement, then the
// newest), drops past entries of a current ingredient that have no
// outcome (they are an earlier dose, not a failed trial) and exact
// duplicates, and keeps input order.
func (r *reader) finishMeds() {
	best := map[string]int{} // key → index of the current entry kept
	better := func(a, b medCand) bool {
		if a.dosed != b.dosed {
			return a.dosed
		}
		if a.request != b.request {
			return a.request
		}
		return a.date.After(b.date)
	}
	for i, c := range r.meds {
		if !c.med.IsCurrent() {
			continue
		}
		if j, ok := best[c.key]; !ok || better(c, r.meds[j]) {
			best[c.key] = i
		}
	}
	type pastKey struct {
		key, start, stop  string
		dose, times, rate string
		outcome           ekbom.Outcome
	}
	pastSeen := map[pastKey]*entry{}
	for i, c := range r.meds {
		m := c.med
		if m.IsCurrent() {
			if j := best[c.key]; j != i {
				r.note(c.e.name(), "%s is also in %s: this one is dropped", display(c), r.meds[j].e.name())
				continue
			}
		} else {
			if j, cur := best[c.key]; cur && m.Outcome == "" {
				r.note(c.e.name(), "past %s without an outcome while %s is current: read as an earlier dose and dropped", display(c), r.meds[j].e.name())
				continue
			}
			k := pastKey{c.key, dateText(m.Start), dateText(m.Stop), numText(m.DoseMg), numText(m.TimesPerDay), numText(m.DoseMgPer24h), m.Outcome}
			if first, dup := pastSeen[k]; dup {
				r.note(c.e.name(), "past %s repeats %s: dropped", display(c), first.name())
				continue
			}
			pastSeen[k] = c.e
		}
		r.origin[fmt.Sprintf("medications[%d]", len(r.p.Medications))] = c.e.path
		r.p.Medications = append(r.p.Medications, m)
	}
}

func display(c medCand) string {
	if strings.HasPrefix(c.key, "?") {
		return fmt.Sprintf("%q", c.med.Name)
	}
	return c.key
}

func dateText(d *ekbom.Date) string {
	if d == nil {
		return ""
	}
	return d.String()
}

func numText(x *float64) string {
	if x == nil {
		return ""
	}
	return fmtNum(*x)
}

// finishInfusions drops exact duplicates (same day, product and dose).
func (r *reader) finishInfusions() {
	seen := map[ekbom.Infusion]*entry{}
	for _, c := range r.infs {
		if first, dup := seen[c.inf]; dup {
			r.note(c.e.name(), "%s %s mg on %s repeats %s: dropped", c.inf.Product, fmtNum(c.inf.DoseMg), c.inf.Date, first.name())
			continue
		}
		seen[c.inf] = c.e
		r.origin[fmt.Sprintf("iron_infusions[%d]", len(r.p.IronInfusions))] = c.e.path
		r.p.IronInfusions = append(r.p.IronInfusions, c.inf)
	}
}
