package intake

import (
	"math"
	"strings"
	"unicode/utf8"

	"ekbom"
	"ekbom/kb"
)

func (n *normalizer) medications(in []ekbom.Medication) []ekbom.Medication {
	if in == nil {
		return nil
	}
	out := make([]ekbom.Medication, len(in))
	for i, m := range in {
		out[i] = n.medication(index("medications", i), m)
	}
	return out
}

// Plausible limits of the medication fields.
const (
	maxDoseMg      = 10000 // per administration
	maxTimesPerDay = 24
	maxMgPer24h    = 100 // patches
)

// medication checks one medication and fills its Resolved facts.
//
// The drug comes from name (kb id, name, synonym, brand or verified RxNorm
// code; failing that, a drug name inside the text, as in "gabapentin 300 mg
// capsules") and otherwise from the sig. An unknown drug is not an error: the
// engine reports it as not assessed. Dose, frequency and rate come from the
// structured fields, else from the sig; when both give one they must agree.
func (n *normalizer) medication(path string, m ekbom.Medication) ekbom.Medication {
	name, sigText := strings.TrimSpace(m.Name), strings.TrimSpace(m.Sig)
	if name == "" && sigText == "" {
		n.add(path, "give name or sig")
	}
	switch m.Status {
	case "":
		m.Status = ekbom.Current
	case ekbom.Current, ekbom.Past:
	default:
		n.add(path+".status", "unknown value %q; want current or past", m.Status)
	}
	switch m.Outcome {
	case "", ekbom.Ineffective, ekbom.Intolerant, ekbom.Augmented, ekbom.Partial:
	default:
		n.add(path+".outcome", "unknown value %q; want ineffective, intolerant, augmentation or partial", m.Outcome)
	}
	if m.Start != nil {
		n.notAfterAsOf(path+".start", *m.Start)
	}
	if m.Stop != nil {
		n.notAfterAsOf(path+".stop", *m.Stop)
		if m.Start != nil && m.Stop.Before(*m.Start) {
			n.add(path+".stop", "%s is before start %s", m.Stop, m.Start)
		}
	}
	n.amount(path+".dose_mg", "", m.DoseMg, maxDoseMg, "mg")
	n.amount(path+".times_per_day", "", m.TimesPerDay, maxTimesPerDay, "a day")
	n.amount(path+".dose_mg_per_24h", "", m.DoseMgPer24h, maxMgPer24h, "mg/24 h")

	var byName *kb.Drug
	if name != "" {
		if d, ok := n.b.LookupDrug(name); ok {
			byName = d
		} else if utf8.RuneCountInString(name) <= MaxSigLen {
			byName = findDrug(strings.Join(strings.Fields(sigReplacer.Replace(strings.ToLower(name))), " "), n.b).drug
		}
	}
	var sig Sig
	if sigText != "" {
		if c := utf8.RuneCountInString(sigText); c > MaxSigLen {
			n.add(path+".sig", "%d characters long; at most %d", c, MaxSigLen)
		} else {
			sig = scanSig(sigText, n.b)
			n.amount(path+".sig", "dose read from the sig: ", sig.DoseMg, maxDoseMg, "mg")
			n.amount(path+".sig", "rate read from the sig: ", sig.DoseMgPer24h, maxMgPer24h, "mg/24 h")
		}
	}
	drug := byName
	if drug == nil {
		drug = sig.Drug
	}
	if byName != nil && sig.Drug != nil && byName != sig.Drug {
		n.add(path+".sig", "names %s (%q) but name %q is %s", sig.Drug.Name, sig.Matched, m.Name, byName.Name)
	}
	dose := n.agree(path+".dose_mg", m.DoseMg, sig.DoseMg, "mg")
	times := n.agree(path+".times_per_day", m.TimesPerDay, sig.TimesPerDay, "a day")
	rate := n.agree(path+".dose_mg_per_24h", m.DoseMgPer24h, sig.DoseMgPer24h, "mg/24 h")

	r := ekbom.ResolvedMed{Bedtime: sig.Bedtime}
	switch {
	case rate != nil:
		r.DailyMg = ptr(*rate)
	case dose != nil && times != nil:
		r.DailyMg = ptr(round(*dose**times, 6))
	}
	if drug != nil {
		r.Ingredient = drug.ID
		r.Display = display(drug, dose, times, rate, r.DailyMg, sig.Bedtime, sig.PRN)
	} else {
		switch {
		case name != "" && sigText != "":
			r.Display = name + " (" + sigText + ")"
		case name != "":
			r.Display = name
		default:
			r.Display = sigText
		}
	}
	m.Resolved = r
	return m
}

// amount checks 0 < x ≤ hi.
func (n *normalizer) amount(path, what string, x *float64, hi float64, unit string) {
	if x != nil && !(*x > 0 && *x <= hi) {
		n.add(path, "%s%s %s; want more than 0 and at most %s %s", what, fmtNum(*x), unit, fmtNum(hi), unit)
	}
}

// agree returns the structured value, else the one read from the sig, and
// reports when both are given and differ.
func (n *normalizer) agree(path string, field, fromSig *float64, unit string) *float64 {
	switch {
	case field == nil:
		return fromSig
	case fromSig != nil && math.Abs(*field-*fromSig) > 1e-9*math.Max(1, math.Abs(*field)):
		n.add(path, "%s %s disagrees with the sig (%s %s)", fmtNum(*field), unit, fmtNum(*fromSig), unit)
	}
	return field
}

// display names a resolved medication back to the clinician, e.g.
// "gabapentin 300 mg three times daily (900 mg/day)".
func display(d *kb.Drug, dose, times, rate, daily *float64, bedtime, prn bool) string {
	var b strings.Builder
	b.WriteString(d.Name)
	switch {
	case dose != nil:
		b.WriteString(" " + fmtNum(*dose) + " mg")
	case rate != nil:
		b.WriteString(" " + fmtNum(*rate) + " mg/24 h")
	}
	switch {
	case times != nil:
		b.WriteString(" " + frequencyText(*times, bedtime))
	case bedtime:
		b.WriteString(" at bedtime")
	}
	if prn {
		b.WriteString(" as needed")
	}
	switch {
	case dose != nil && rate != nil:
		b.WriteString(" (" + fmtNum(*rate) + " mg/24 h)")
	case dose != nil && daily != nil && *times != 1:
		b.WriteString(" (" + fmtNum(*daily) + " mg/day)")
	case dose != nil && times == nil && !bedtime && !prn:
		b.WriteString(", frequency not stated")
	}
	return b.String()
}

func frequencyText(times float64, bedtime bool) string {
	var s string
	switch times {
	case 0.5:
		s = "every other day"
	case 1:
		if bedtime {
			return "at bedtime"
		}
		s = "once daily"
	case 2:
		s = "twice daily"
	case 3:
		s = "three times daily"
	case 4:
		s = "four times daily"
	default:
		switch n, w := 1/times, times*7; {
		case times < 1 && math.Abs(n-7) < 1e-9:
			s = "once weekly"
		case times < 1 && math.Abs(n-math.Round(n)) < 1e-9:
			s = "every " + fmtNum(math.Round(n)) + " days"
		case times < 1 && math.Abs(w-math.Round(w)) < 1e-9:
			s = fmtNum(math.Round(w)) + " times weekly"
		default:
			s = fmtNum(times) + " times daily"
		}
	}
	if bedtime {
		s += ", including at bedtime"
	}
	return s
}
