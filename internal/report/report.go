// Package report renders a plan for people: plain text for a terminal and
// Markdown for notes and printouts. Warnings come first, then the steps, each
// recommendation with its reasons and an evidence badge.
package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"ekbom"
)

// Format is an output format.
type Format string

// Formats.
const (
	Text     Format = "text"
	Markdown Format = "markdown"
)

// Disclaimer is printed with every human-readable plan.
const Disclaimer = "ekbom supports clinical judgement; it is not a medical device and does not replace it. Check every recommendation against the patient and the sources."

// Write renders plan in format f to w.
func Write(w io.Writer, plan *ekbom.Plan, f Format) error {
	r := &renderer{w: w, md: f == Markdown}
	r.plan(plan)
	return r.err
}

type renderer struct {
	w   io.Writer
	md  bool
	err error
}

func (r *renderer) printf(format string, args ...any) {
	if r.err == nil {
		_, r.err = fmt.Fprintf(r.w, format, args...)
	}
}

func (r *renderer) heading(level int, s string) {
	if r.md {
		r.printf("\n%s %s\n\n", strings.Repeat("#", level), s)
		return
	}
	r.printf("\n%s\n%s\n", strings.ToUpper(s), strings.Repeat("=", len([]rune(s))))
}

func (r *renderer) bullet(indent int, s string) {
	pad := strings.Repeat("  ", indent)
	r.printf("%s- %s\n", pad, s)
}

// Badge is the short evidence label of a recommendation, e.g.
// "strong · moderate certainty" or "conditional · low certainty · unverified grade".
func Badge(strength, certainty string, verified bool) string {
	s := strings.ReplaceAll(strength, "_", " ")
	if certainty != "" && certainty != "not_graded" {
		s += " · " + strings.ReplaceAll(certainty, "_", " ") + " certainty"
	}
	if !verified {
		s += " · grade unverified"
	}
	return s
}

func (r *renderer) plan(p *ekbom.Plan) {
	title := "ekbom plan"
	if p.PatientID != "" {
		title += " for " + p.PatientID
	}
	if r.md {
		r.printf("# %s\n\n", title)
		r.printf("_%s_\n\n", Disclaimer)
	} else {
		r.printf("%s\n%s\n%s\n", title, strings.Repeat("=", len(title)), Disclaimer)
	}
	sev := "IRLS unknown"
	if p.Severity.IRLS != nil {
		sev = fmt.Sprintf("IRLS %d (%s)", *p.Severity.IRLS, strings.ReplaceAll(p.Severity.Band, "_", " "))
	}
	r.printf("\nDate: %s · %s · status: %s · pathway: %s\n", p.AsOf, sev, strings.ReplaceAll(string(p.Status), "_", " "), p.Pathway)
	for _, s := range p.StatusReasons {
		r.bullet(0, s)
	}

	if len(p.Warnings) > 0 {
		r.heading(2, "Warnings")
		for _, w := range p.Warnings {
			r.bullet(0, fmt.Sprintf("%s [%s] %s", strings.ToUpper(w.Severity), w.Code, w.Text))
			for _, b := range w.Because {
				r.bullet(1, "because: "+b)
			}
		}
	}
	if len(p.Findings) > 0 {
		r.heading(2, "Findings")
		for _, f := range p.Findings {
			line := f.Text
			if len(f.Because) > 0 {
				line += " (" + strings.Join(f.Because, "; ") + ")"
			}
			r.bullet(0, line)
		}
	}
	for _, s := range p.Steps {
		r.heading(2, s.Title)
		for _, rec := range s.Recommendations {
			r.recommendation(rec)
		}
	}
	if len(p.Avoid) > 0 {
		r.heading(2, "Avoid")
		for _, a := range p.Avoid {
			cur := ""
			if a.CurrentlyTaking {
				cur = " — CURRENTLY TAKING"
			}
			r.bullet(0, fmt.Sprintf("%s%s: %s [%s]", a.Target, cur, a.Text, Badge(a.Strength, a.Certainty, a.GradeVerified)))
		}
	}
	if len(p.Monitoring) > 0 {
		r.heading(2, "Monitoring")
		for _, m := range p.Monitoring {
			r.bullet(0, fmt.Sprintf("%s — %s: %s", m.Due, m.What, m.Text))
		}
	}
	if len(p.Missing) > 0 {
		r.heading(2, "Missing information")
		for _, m := range p.Missing {
			r.bullet(0, m)
		}
	}
	if len(p.Conflicts) > 0 {
		r.heading(2, "Where sources disagree")
		for _, c := range p.Conflicts {
			r.bullet(0, fmt.Sprintf("%s %s — ekbom follows: %s", c.ID, c.Topic, c.Resolution))
			for _, pos := range c.Positions {
				r.bullet(1, pos)
			}
		}
	}
	if len(p.Sources) > 0 {
		r.heading(2, "Sources")
		ids := make([]string, 0, len(p.Sources))
		for id := range p.Sources {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			s := p.Sources[id]
			line := fmt.Sprintf("[%s] %s", id, s.Citation)
			if s.URL != "" {
				line += " " + s.URL
			}
			r.bullet(0, line)
		}
	}
	r.printf("\nengine %s · knowledge base %s\n", p.EngineVersion, p.KnowledgeVersion)
}

func (r *renderer) recommendation(rec ekbom.Recommendation) {
	head := fmt.Sprintf("%s %s", strings.ToUpper(string(rec.Action)), strings.ReplaceAll(rec.Target, "_", " "))
	if r.md {
		head = "**" + head + "**"
	}
	r.bullet(0, fmt.Sprintf("%s — %s", head, rec.Text))
	if rec.Dose != nil && rec.Dose.Text != "" {
		r.bullet(1, "dose: "+rec.Dose.Text)
	}
	for _, s := range rec.Schedule {
		r.bullet(2, fmt.Sprintf("%s: %s", s.Date, s.Text))
	}
	if len(rec.Because) > 0 {
		r.bullet(1, "why: "+strings.Join(rec.Because, "; "))
	}
	r.bullet(1, fmt.Sprintf("evidence: %s — %s (rule %s)", Badge(rec.Strength, rec.Certainty, rec.GradeVerified), strings.Join(rec.Sources, ", "), rec.Rule))
	if len(rec.Conflicts) > 0 {
		r.bullet(1, "sources disagree: "+strings.Join(rec.Conflicts, ", "))
	}
}
