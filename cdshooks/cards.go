package cdshooks

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"ekbom"
	"ekbom/kb"
)

// MaxSummary is the longest card summary, in characters: the specification
// asks for fewer than 140.
const MaxSummary = 139

// Disclaimer closes every card's detail.
const Disclaimer = "_ekbom supports clinical judgement; it is not a medical device._"

// TopicSystem codes what a card is about (its source.topic): a warning code
// of the contract ("augmentation"), a plan step id ("iron"), "plan" for the
// summary card, or "order.<check>" for an order check.
const TopicSystem = "https://ekbom.example/fhir/CodeSystem/cds-card-topic"

// OverrideReasonSystem is the code system of the override reasons ekbom
// offers. The specification prescribes no standard set; ekbom uses the
// example system of the CDS Hooks 2.0 specification with its own codes,
// which stay the same across calls so that feedback can be analysed.
const OverrideReasonSystem = "http://example.org/cds-services/fhir/CodeSystem/override-reasons"

// OverrideReasons are offered on every warning and critical card.
var OverrideReasons = []Coding{
	{Code: "benefit-outweighs-risk", System: OverrideReasonSystem, Display: "Benefit outweighs the risk for this patient"},
	{Code: "already-addressed", System: OverrideReasonSystem, Display: "Already addressed: a plan is in place"},
	{Code: "specialist-directed", System: OverrideReasonSystem, Display: "Directed by a specialist (sleep medicine, neurology or addiction medicine)"},
	{Code: "patient-preference", System: OverrideReasonSystem, Display: "Patient declined the alternative"},
	{Code: "data-incorrect", System: OverrideReasonSystem, Display: "The patient data behind this card is wrong or out of date"},
	{Code: "not-relevant", System: OverrideReasonSystem, Display: "Not relevant for this patient"},
}

// BatchID returns the id under which a response is stored: 32 hex digits of
// a hash of the service, the hook instance, the request body, the
// assessment date and the knowledge-base version. A retried call gets the
// same id (and the same cards); a different request never does.
func BatchID(serviceID, hookInstance string, body []byte, asOf ekbom.Date, kbVersion string) string {
	h := sha256.New()
	for _, s := range []string{serviceID, hookInstance, asOf.String(), kbVersion, ekbom.EngineVersion} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// cardUUID derives a UUID (RFC 9562 version 8, name-based) from parts.
func cardUUID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	b := h.Sum(nil)[:16]
	b[6] = b[6]&0x0f | 0x80 // version 8
	b[8] = b[8]&0x3f | 0x80 // variant 10
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// finishCards gives each card, suggestion and override list its final form:
// uuids derived from the call and the content, summaries under 140
// characters.
func finishCards(cards []Card, serviceID, hookInstance string) []Card {
	out := make([]Card, 0, len(cards))
	for _, c := range cards {
		c.Summary = Summary(c.Summary)
		c.UUID = cardUUID(hookInstance, serviceID, c.Indicator, c.Summary, c.Detail)
		for i := range c.Suggestions {
			c.Suggestions[i].UUID = cardUUID(c.UUID, c.Suggestions[i].Label)
		}
		if len(c.Suggestions) > 0 && c.SelectionBehavior == "" {
			c.SelectionBehavior = "any"
		}
		if c.Indicator != Info && c.OverrideReasons == nil {
			c.OverrideReasons = OverrideReasons
		}
		out = append(out, c)
	}
	return out
}

// Summary returns s as a card summary: one line, fewer than 140 characters,
// cut at a word with "…" when longer.
func Summary(s string) string {
	s = oneLine(s)
	if utf8.RuneCountInString(s) <= MaxSummary {
		return s
	}
	r := []rune(s)[:MaxSummary-1]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > MaxSummary/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:.—-") + "…"
}

// oneLine returns strings.Join(strings.Fields(s), " "): s with its runs of
// white space made single spaces, and trimmed. Most texts are that already
// and are returned as they are, without splitting and joining them.
func oneLine(s string) string {
	space := true // a space here would be leading or doubled
	for _, r := range s {
		switch {
		case r == ' ' && !space:
			space = true
		case unicode.IsSpace(r):
			return strings.Join(strings.Fields(s), " ")
		default:
			space = false
		}
	}
	if space && s != "" {
		return strings.Join(strings.Fields(s), " ") // a trailing space
	}
	return s
}

// headline returns the first sentence of text when the whole does not fit a
// summary.
func headline(text string) string {
	text = oneLine(text)
	if utf8.RuneCountInString(text) <= MaxSummary {
		return text
	}
	for i := 0; i+1 < len(text); i++ {
		if (text[i] == '.' || text[i] == ':') && text[i+1] == ' ' && i >= 20 {
			if text[i] == ':' {
				return text[:i]
			}
			return text[:i+1]
		}
	}
	return text
}

// md escapes text for Markdown so that patient facts and knowledge-base
// texts show as written.
func md(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, c := range s {
		switch c {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#':
			b.WriteByte('\\')
		case '-', '+':
			if i == 0 {
				b.WriteByte('\\')
			}
		case '\n', '\r':
			c = ' '
		}
		b.WriteRune(c)
	}
	return b.String()
}

// badge is the evidence label of a grade, as the plan page shows it:
// "strong · moderate certainty", "· grade unverified" when secondary.
func badge(strength, certainty string, verified bool) string {
	s := strings.ReplaceAll(strength, "_", " ")
	if s == "" {
		s = "not graded"
	}
	if certainty != "" && certainty != "not_graded" {
		s += " · " + strings.ReplaceAll(certainty, "_", " ") + " certainty"
	}
	if !verified {
		s += " · grade unverified"
	}
	return s
}

// detail builds a card's Markdown detail.
type detail struct {
	b   *kb.Base
	buf strings.Builder
}

func (d *detail) para(text string) {
	if text == "" {
		return
	}
	d.buf.WriteString(md(text))
	d.buf.WriteString("\n\n")
}

func (d *detail) raw(markdown string) {
	d.buf.WriteString(markdown)
	d.buf.WriteString("\n\n")
}

func (d *detail) list(title string, items []string) {
	if len(items) == 0 {
		return
	}
	fmt.Fprintf(&d.buf, "**%s**\n\n", title)
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if seen[it] {
			continue
		}
		seen[it] = true
		d.buf.WriteString("- ")
		d.buf.WriteString(md(it))
		d.buf.WriteString("\n")
	}
	d.buf.WriteString("\n")
}

// sources writes the sources line with links.
func (d *detail) sources(ids []string) {
	var parts []string
	seen := map[string]bool{}
	for _, id := range ids {
		s, ok := d.b.Source(id)
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		if s.URL != "" {
			parts = append(parts, "["+md(s.Short)+"]("+s.URL+")")
		} else {
			parts = append(parts, md(s.Short))
		}
	}
	if len(parts) > 0 {
		d.raw("**Sources:** " + strings.Join(parts, "; "))
	}
}

func (d *detail) String() string {
	return d.buf.String() + Disclaimer
}

// source returns the card source for a list of knowledge-base sources: the
// first one with a URL (so the label and the link agree), else the first.
func source(b *kb.Base, ids []string, topic, topicDisplay string) Source {
	out := Source{Label: "ekbom knowledge base " + b.Meta.Version}
	var first *kb.Source
	for _, id := range ids {
		s, ok := b.Source(id)
		if !ok {
			continue
		}
		if first == nil {
			first = s
		}
		if s.URL != "" {
			first = s
			break
		}
	}
	if first != nil {
		out.Label, out.URL = first.Short, first.URL
	}
	if topic != "" {
		out.Topic = &Coding{Code: topic, System: TopicSystem, Display: topicDisplay}
	}
	return out
}

// capitalize upper-cases the first letter.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return strings.ToUpper(string(r)) + s[n:]
}
