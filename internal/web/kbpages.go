package web

import (
	"net/http"
	"sort"

	"ekbom/internal/report"
	"ekbom/kb"
)

// The knowledge-base browser shows the current knowledge base (unlike plan
// pages, which show the stored plan).

type kbSummaryData struct {
	Meta                                                    kb.Meta
	Sources, Guideline, Rules, Drugs, Conflicts, Thresholds int
}

func (s *Server) kbSummary(w http.ResponseWriter, r *http.Request) {
	b := s.kb
	d := kbSummaryData{Meta: b.Meta, Sources: len(b.SourceList), Guideline: len(b.Guideline), Rules: len(b.RuleList),
		Drugs: len(b.DrugList), Conflicts: len(b.ConflictList), Thresholds: len(b.ThresholdList)}
	s.render(w, r, http.StatusOK, "kb", "Knowledge base", "kb", d)
}

func (s *Server) kbRecommendations(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "kb_recommendations", "Guideline recommendations", "kb", s.kb.Guideline)
}

type ruleRow struct {
	*kb.Rule
	Badge   string
	Sources []string
}

func (s *Server) kbRules(w http.ResponseWriter, r *http.Request) {
	var rows []ruleRow
	for _, rule := range s.kb.RuleList {
		row := ruleRow{Rule: rule, Sources: s.kb.RuleSources(rule)}
		if st, c, v := s.kb.Grade(rule); st != "" {
			row.Badge = report.Badge(st, c, v)
		}
		rows = append(rows, row)
	}
	s.render(w, r, http.StatusOK, "kb_rules", "Rules", "kb", rows)
}

func (s *Server) kbDrugs(w http.ResponseWriter, r *http.Request) {
	drugs := append([]*kb.Drug(nil), s.kb.DrugList...)
	sort.SliceStable(drugs, func(i, j int) bool { return drugs[i].ID < drugs[j].ID })
	s.render(w, r, http.StatusOK, "kb_drugs", "Drugs", "kb", drugs)
}

type drugData struct {
	Drug      *kb.Drug
	ClassName string
	Avoid     string
}

func (s *Server) kbDrug(w http.ResponseWriter, r *http.Request) {
	d, ok := s.kb.Drug(r.PathValue("id"))
	if !ok {
		d, ok = s.kb.LookupDrug(r.PathValue("id"))
	}
	if !ok {
		s.notFound(w, r)
		return
	}
	data := drugData{Drug: d, ClassName: s.kb.ClassName(d.Class)}
	if d.Avoid != nil {
		data.Avoid = report.Badge(d.Avoid.Strength, d.Avoid.Certainty, d.Avoid.Verified)
		if g, ok := s.kb.GuidelineRec(d.Avoid.Evidence); ok {
			data.Avoid = report.Badge(g.Strength, g.Certainty, g.Verified())
		}
	}
	s.render(w, r, http.StatusOK, "kb_drug", d.Name, "kb", data)
}

func (s *Server) kbSources(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "kb_sources", "Sources", "kb", s.kb.SourceList)
}

func (s *Server) kbConflicts(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "kb_conflicts", "Where sources disagree", "kb", s.kb.ConflictList)
}

func (s *Server) kbThresholds(w http.ResponseWriter, r *http.Request) {
	ts := append([]*kb.Threshold(nil), s.kb.ThresholdList...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].ID < ts[j].ID })
	s.render(w, r, http.StatusOK, "kb_thresholds", "Thresholds", "kb", ts)
}
