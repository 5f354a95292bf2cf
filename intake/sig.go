package intake

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"ekbom"
	"ekbom/kb"
)

// MaxSigLen is the longest sig ParseSig reads, in characters.
const MaxSigLen = 500

// Sig is what ParseSig read from a free-text medication instruction. Nil
// numbers were not in the text; nothing is guessed.
type Sig struct {
	Drug    *kb.Drug // the knowledge-base drug named in the text
	Matched string   // the name that matched, as it appears in the lower-cased sig
	// DoseMg is the amount per administration in mg ("300 mg", "0.5 g",
	// "250 mcg"). For a combination strength "a/b mg" it is the amount of
	// the drug's own ingredient: by position when the text spells the
	// combination ("carbidopa/levodopa 25/100" → 100, "oxycodone/naloxone
	// 10/5" → 10, "oxycodone/acetaminophen 5/325" → 5), otherwise the
	// larger number, which is the RLS-active ingredient of the knowledge
	// base's combinations (Sinemet 25/100 → levodopa 100, Targin 10/5 →
	// oxycodone 10). A range such as "300-600 mg" gives no dose.
	DoseMg *float64
	// TimesPerDay is the number of administrations a day (0.5 = every
	// other day); nil when the text does not say.
	TimesPerDay *float64
	// DoseMgPer24h is a rate: "2 mg/24h" (patches), "5 mcg/h" (× 24 h) or
	// "900 mg/day".
	DoseMgPer24h *float64
	Bedtime      bool // "at bedtime", "qhs", "nightly", "in the evening", …
	PRN          bool // "prn", "as needed"
}

// ParseSig reads a sig such as "gabapentin 300 mg three times daily",
// "Lyrica 75mg twice daily", "Neupro 2 mg/24h patch" or "OxyContin 10 mg
// q12h". Matching ignores case. The drug is the longest name, synonym or brand
// of b found at word boundaries (RxNorm codes are not matched in free text,
// where they would be confused with doses). Numbers may be written "0.25",
// ".5" or "1,5"; a comma followed by exactly three digits is a thousands
// separator ("1,000 mg").
//
// ParseSig fails only when the text is empty, longer than MaxSigLen or names
// no known drug; an unreadable dose or frequency is left nil. b may be nil for
// kb.Default(). On error the returned Sig is zero. The error matches
// ekbom.ErrInvalid.
func ParseSig(s string, b *kb.Base) (Sig, error) {
	if strings.TrimSpace(s) == "" {
		return Sig{}, fmt.Errorf("%w: empty sig", ekbom.ErrInvalid)
	}
	if n := utf8.RuneCountInString(s); n > MaxSigLen {
		return Sig{}, fmt.Errorf("%w: sig is %d characters long; at most %d", ekbom.ErrInvalid, n, MaxSigLen)
	}
	if b == nil {
		var err error
		if b, err = kb.Default(); err != nil {
			return Sig{}, err
		}
	}
	sig := scanSig(s, b)
	if sig.Drug == nil {
		return Sig{}, fmt.Errorf("%w: no known drug name in sig %q", ekbom.ErrInvalid, truncate(s, 60))
	}
	return sig, nil
}

// scanSig reads what it can from s; Drug is nil when no drug is named.
func scanSig(s string, b *kb.Base) Sig {
	text := sigReplacer.Replace(strings.ToLower(s))
	text = strings.Join(strings.Fields(text), " ")
	var sig Sig
	m := findDrug(text, b)
	pos := -1
	if m.drug != nil {
		sig.Drug = m.drug
		sig.Matched = text[m.start:m.end]
		pos = comboPosition(text, m)
	}
	readDose(text, pos, &sig)
	readFrequency(text, &sig)
	return sig
}

// sigReplacer drops trademark signs and turns underscores and no-break
// spaces into spaces; the kb index folds names the same way.
var sigReplacer = strings.NewReplacer("®", "", "™", "", "_", " ", "\u00a0", " ")

type drugMatch struct {
	drug       *kb.Drug
	key        string
	start, end int
}

var namesCache sync.Map // *kb.Base -> []string; a Base is immutable

// drugNames returns b.DrugNames() without the numeric RxNorm codes.
func drugNames(b *kb.Base) []string {
	if v, ok := namesCache.Load(b); ok {
		return v.([]string)
	}
	var out []string
	for _, k := range b.DrugNames() {
		if strings.TrimFunc(k, unicode.IsDigit) != "" {
			out = append(out, k)
		}
	}
	namesCache.Store(b, out)
	return out
}

// findDrug finds the longest drug name in text at word boundaries; among
// names of the same length the earliest wins. Hyphens count as spaces, as in
// the kb index ("carbidopa-levodopa").
func findDrug(text string, b *kb.Base) drugMatch {
	names := strings.ReplaceAll(text, "-", " ")
	var best drugMatch
	for _, k := range drugNames(b) {
		if best.drug != nil && len(k) < len(best.key) {
			break // names come longest first
		}
		for off := 0; off < len(names); {
			i := strings.Index(names[off:], k)
			if i < 0 {
				break
			}
			i += off
			if wordBoundary(names, i, i+len(k)) {
				if best.drug == nil || i < best.start {
					d, _ := b.LookupDrug(k)
					best = drugMatch{drug: d, key: k, start: i, end: i + len(k)}
				}
				break
			}
			off = i + 1
		}
	}
	return best
}

// wordBoundary reports whether text[i:j] is not part of a longer word.
// Digits may touch a name ("lyrica75mg").
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

// comboPosition returns which number of an "a/b" strength belongs to the
// matched drug: 0 or 1 when the text spells the combination, −1 otherwise.
func comboPosition(text string, m drugMatch) int {
	if a, b, ok := strings.Cut(m.key, "/"); ok {
		// A combination name in the kb ("carbidopa/levodopa",
		// "oxycodone/naloxone"): the drug's own ingredient is the first
		// word of its id.
		own, _, _ := strings.Cut(m.drug.ID, "_")
		switch {
		case strings.Contains(a, own):
			return 0
		case strings.Contains(b, own):
			return 1
		}
		return -1
	}
	// A single ingredient written as part of a combination in the text:
	// "oxycodone/acetaminophen" or "acetaminophen/oxycodone".
	if m.end+1 < len(text) && text[m.end] == '/' && isLetterAt(text, m.end+1) {
		return 0
	}
	if m.start >= 2 && text[m.start-1] == '/' && isLetterBefore(text, m.start-1) {
		return 1
	}
	return -1
}

func isLetterAt(s string, i int) bool {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return unicode.IsLetter(r)
}

func isLetterBefore(s string, i int) bool {
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return unicode.IsLetter(r)
}

const numRE = `(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*[.,]\d+|\d+)`

// doseRE matches an amount with its unit and an optional rate:
// "300 mg", "25/100 mg", "2 mg/24h", "5 mcg/hr", "900 mg per day".
var doseRE = regexp.MustCompile(`(?:^|[^\d.,])` + numRE + `(?:\s*/\s*` + numRE + `)?` +
	`\s*(milligrams?|micrograms?|grams?|mcg|mg|µg|μg|ug|g)` +
	`(?:\s*(?:/|per)\s*(24\s*h(?:ours?|rs?)?|h(?:ours?|rs?)?|d(?:ay)?))?`)

var rangeBeforeRE = regexp.MustCompile(`\d\s*(?:-|–|to)\s*$`)

// readDose fills DoseMg from the first plain amount and DoseMgPer24h from
// the first rate. pos selects the number of an "a/b" strength (see Sig).
func readDose(text string, pos int, sig *Sig) {
	for _, m := range doseRE.FindAllStringSubmatchIndex(text, -1) {
		if m[1] < len(text) && isLetterAt(text, m[1]) {
			continue // "mgs", "g/dl": not a dose unit
		}
		if rangeBeforeRE.MatchString(text[:m[2]]) {
			continue // "300-600 mg": a range is not a dose
		}
		amount, ok := parseNum(text[m[2]:m[3]])
		if !ok {
			continue
		}
		if m[4] >= 0 {
			second, ok := parseNum(text[m[4]:m[5]])
			if !ok {
				continue
			}
			switch pos {
			case 0:
			case 1:
				amount = second
			default:
				amount = max(amount, second)
			}
		}
		mg := amount * unitToMg(text[m[6]:m[7]])
		rate := ""
		if m[8] >= 0 {
			rate = text[m[8]:m[9]]
		}
		if strings.HasPrefix(rate, "h") {
			mg *= 24 // per hour
		}
		mg = round(mg, 6)
		if !(mg > 0) || !finite(mg) {
			continue
		}
		if rate == "" {
			if sig.DoseMg == nil {
				sig.DoseMg = &mg
			}
		} else if sig.DoseMgPer24h == nil {
			sig.DoseMgPer24h = &mg
		}
	}
}

func unitToMg(u string) float64 {
	switch {
	case u == "g" || strings.HasPrefix(u, "gram"):
		return 1000
	case u == "mg" || strings.HasPrefix(u, "milli"):
		return 1
	}
	return 0.001 // mcg, µg, ug, micrograms
}

// parseNum reads "300", "0.25", ".5", "1,5" (decimal comma) or "1,000"
// (thousands).
func parseNum(s string) (float64, bool) {
	if i := strings.IndexByte(s, ','); i >= 0 {
		if thousandsRE.MatchString(s) {
			s = strings.ReplaceAll(s, ",", "")
		} else {
			s = strings.Replace(s, ",", ".", 1)
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !finite(f) {
		return 0, false
	}
	return f, true
}

var thousandsRE = regexp.MustCompile(`^\d{1,3}(?:,\d{3})+(?:\.\d+)?$`)

// Frequency patterns, tried in order; the first that matches sets
// TimesPerDay. Specific counts come before "daily", which is part of
// "twice daily". The text has had its abbreviation dots and hyphens removed
// ("b.i.d." → "bid", "every-other-day" → "every other day").
var frequencies = []struct {
	re    *regexp.Regexp
	times float64
}{
	{regexp.MustCompile(`\b(every other day|on alternate days|alternate days?|qod|every 48 ?h(ours?|rs?)?|q48 ?h)\b`), 0.5},
	{regexp.MustCompile(`\b(twice (a |per |each )?day|twice daily|bid|two times (a |per |each )?day|two times daily|every 12 ?h(ours?|rs?)?|q ?12 ?h(ours?|rs?)?)\b`), 2},
	{regexp.MustCompile(`\b(three times (a |per |each )?day|three times daily|thrice daily|tid|every 8 ?h(ours?|rs?)?|q ?8 ?h(ours?|rs?)?)\b`), 3},
	{regexp.MustCompile(`\b(four times (a |per |each )?day|four times daily|qid|every 6 ?h(ours?|rs?)?|q ?6 ?h(ours?|rs?)?)\b`), 4},
}

var (
	// "2x daily", "3 times a day", "2x/day"
	timesPerDayRE = regexp.MustCompile(`\b(\d{1,2}) ?(?:x|times) ?(?:a |per |each |/ ?)?(?:day|daily|d)\b`)
	// "x2" (not "x 2 mg")
	xTimesRE = regexp.MustCompile(`\bx ?(\d{1,2})\b`)
	// "every 4 hours", "q4h"
	everyHoursRE = regexp.MustCompile(`\b(?:every (\d{1,3}) ?h(?:ours?|rs?)?|q ?(\d{1,3}) ?h(?:ours?|rs?)?)\b`)
	// "once a week", "twice weekly", "2x/week", "weekly"
	weekRE = regexp.MustCompile(`\b(?:(once|one time|twice|two times|three times|(\d{1,2}) ?(?:x|times)) ?(?:a |per |each |/ ?)?(?:week|wk)(?:ly)?|weekly|every week|q ?week)\b`)
	// "every 3 days"
	everyDaysRE = regexp.MustCompile(`\bevery (\d{1,2}) ?days\b`)
	// A monthly dose has no fixed number of doses a day.
	monthRE     = regexp.MustCompile(`\b(monthly|every month|(once|twice) (a |per |each )?month)\b`)
	onceRE      = regexp.MustCompile(`\b(once (a |per |each )?day|once daily|daily|every day|each day|per day|qd|od|every 24 ?h(ours?|rs?)?|q ?24 ?h|every morning|each morning|in the morning|qam|once)\b`)
	bedtimeRE   = regexp.MustCompile(`\b(at bedtime|bedtime|at bed ?time|before bed|before sleep|qhs|hs|nightly|at night(time)?|every night|each night|every evening|each evening|in the evening|qpm)\b`)
	prnRE       = regexp.MustCompile(`\b(prn|as needed|when needed|if needed|as required)\b`)
	abbrevDotRE = regexp.MustCompile(`([a-z])\.`)
	unitAfterRE = regexp.MustCompile(`^ ?(mg|mcg|µg|μg|ug|g|ml|tab|cap)`)
)

// readFrequency fills TimesPerDay, Bedtime and PRN.
func readFrequency(text string, sig *Sig) {
	t := abbrevDotRE.ReplaceAllString(text, "$1")
	t = strings.ReplaceAll(t, "-", " ")
	sig.Bedtime = bedtimeRE.MatchString(t)
	sig.PRN = prnRE.MatchString(t)
	set := func(x float64) {
		sig.TimesPerDay = &x
	}
	for _, f := range frequencies {
		if f.re.MatchString(t) {
			set(f.times)
			return
		}
	}
	if m := timesPerDayRE.FindStringSubmatch(t); m != nil {
		if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= 24 {
			set(float64(n))
			return
		}
	}
	for _, m := range xTimesRE.FindAllStringSubmatchIndex(t, -1) {
		n, _ := strconv.Atoi(t[m[2]:m[3]])
		if n >= 1 && n <= 24 && !unitAfterRE.MatchString(t[m[3]:]) {
			set(float64(n))
			return
		}
	}
	if m := everyHoursRE.FindStringSubmatch(t); m != nil {
		h := m[1]
		if h == "" {
			h = m[2]
		}
		if n, _ := strconv.Atoi(h); n >= 1 && n <= 168 {
			set(round(24/float64(n), 4))
			return
		}
	}
	if m := everyDaysRE.FindStringSubmatch(t); m != nil {
		if n, _ := strconv.Atoi(m[1]); n >= 1 {
			set(1 / float64(n))
			return
		}
	}
	if m := weekRE.FindStringSubmatch(t); m != nil {
		n := 1
		switch {
		case m[2] != "":
			n, _ = strconv.Atoi(m[2])
		case m[1] == "twice" || m[1] == "two times":
			n = 2
		case m[1] == "three times":
			n = 3
		}
		if n >= 1 && n <= 7 {
			set(float64(n) / 7)
		}
		return
	}
	if monthRE.MatchString(t) {
		return
	}
	if onceRE.MatchString(t) || sig.Bedtime {
		set(1)
	}
}
