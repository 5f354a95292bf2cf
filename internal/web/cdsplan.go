package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sort"

	"ekbom"
)

// The plan link of a patient-view card: GET /cds-plans/{id} shows the plan
// stored with the card batch (ekbom.CardBatch.Plan) to a signed-in
// clinician. The batch id is derived from the hook call (cdshooks.BatchID),
// so the EHR can show the link before anyone opens it. The page is drawn
// from the stored plan only, and every view is audited (entity "cds",
// action "view").

// cdsPlanContent is the page body; it uses the shared layout and the
// plan page's CSS classes and ids. It is kept here rather than in
// templates/ because it shows an EHR patient, who has no ekbom record.
const cdsPlanContent = `{{define "content"}}{{$d := .Data}}{{$pl := $d.Plan}}
<header class="plan-head" id="plan-header">
<div class="title-row">
<h1>ekbom plan for {{$d.Batch.PatientRef}}</h1>
<div class="buttons noprint"><a class="button" id="print" href="#print" data-print>Print</a></div>
</div>
<dl class="facts plan-facts">
<dt>From</dt><dd>CDS Hooks {{$d.Batch.Hook}} call by {{$d.Batch.Actor}}, {{datetime $d.Batch.CreatedAt}}</dd>
<dt>Plan date</dt><dd>{{$pl.AsOf}}</dd>
<dt>Status</dt><dd class="status status-{{$pl.Status}}">{{human $pl.Status}}</dd>
<dt>Severity</dt><dd>{{with $pl.Severity.IRLS}}IRLS {{.}}/40{{else}}IRLS unknown{{end}} ({{human $pl.Severity.Band}})</dd>
<dt>Pathway</dt><dd>{{$pl.Pathway}}</dd>
<dt>Versions</dt><dd>engine {{$pl.EngineVersion}} · knowledge base {{$pl.KnowledgeVersion}}</dd>
</dl>
{{if $pl.StatusReasons}}<ul class="reasons">{{range $pl.StatusReasons}}<li>{{.}}</li>{{end}}</ul>{{end}}
<p class="disclaimer" role="note">{{disclaimer}}</p>
</header>
<section id="warnings" aria-labelledby="warnings-h">
<h2 id="warnings-h">Warnings</h2>
{{range $pl.Warnings}}
<div class="warning sev-{{.Severity}}" data-code="{{.Code}}">
<p><span class="sev">{{.Severity}}</span> <strong>{{human .Code}}</strong> — {{.Text}}</p>
{{if .Because}}<ul class="because">{{range .Because}}<li>{{.}}</li>{{end}}</ul>{{end}}
</div>
{{else}}<p class="muted">No warnings.</p>{{end}}
</section>
{{if $pl.Findings}}<section id="findings" aria-labelledby="findings-h"><h2 id="findings-h">Findings</h2>
<ul>{{range $pl.Findings}}<li>{{.Text}}{{if .Because}} <span class="why">({{join .Because "; "}})</span>{{end}}</li>{{end}}</ul></section>{{end}}
<section id="steps" aria-labelledby="steps-h">
<h2 id="steps-h">Steps</h2>
{{range $pl.Steps}}
<section class="step" id="step-{{.ID}}">
<h3>{{.Title}}</h3>
{{range .Recommendations}}
<article class="rec action-{{.Action}}">
<h4><span class="action">{{.Action}}</span> {{human .Target}}{{if .Class}} <span class="class">({{human .Class}})</span>{{end}}</h4>
<p>{{.Text}}</p>
{{with .Dose}}<p class="dose"><strong>Dose:</strong> {{.Text}}</p>{{end}}
{{if .Schedule}}<table class="list schedule"><caption>Schedule</caption><thead><tr><th scope="col">From</th><th scope="col">Daily dose</th><th scope="col">Step</th></tr></thead><tbody>
{{range .Schedule}}<tr><td>{{.Date}}</td><td>{{num .DailyMg}} mg</td><td>{{.Text}}</td></tr>{{end}}
</tbody></table>{{end}}
{{if .Because}}<div class="why"><strong>Why:</strong><ul>{{range .Because}}<li>{{.}}</li>{{end}}</ul></div>{{end}}
<p class="evidence"><span class="badge{{if not .GradeVerified}} unverified{{end}}">{{badge .Strength .Certainty .GradeVerified}}</span>
{{if .Sources}} · {{range $i, $s := .Sources}}{{if $i}}, {{end}}<a href="/kb/sources#{{$s}}">{{$s}}</a>{{end}}{{end}}
<span class="rule">rule {{.Rule}}</span></p>
</article>
{{end}}
</section>
{{end}}
</section>
<section id="avoid" aria-labelledby="avoid-h">
<h2 id="avoid-h">Avoid</h2>
{{if $pl.Avoid}}<table class="list"><thead><tr><th scope="col">Drug</th><th scope="col">Why</th><th scope="col">Evidence</th></tr></thead><tbody>
{{range $pl.Avoid}}<tr{{if .CurrentlyTaking}} class="taking"{{end}}>
<td>{{human .Target}}{{if .CurrentlyTaking}} <strong class="flag">currently taking</strong>{{end}}</td>
<td>{{.Text}}</td>
<td><span class="badge{{if not .GradeVerified}} unverified{{end}}">{{badge .Strength .Certainty .GradeVerified}}</span></td>
</tr>{{end}}
</tbody></table>{{else}}<p class="muted">Nothing listed.</p>{{end}}
</section>
<section id="monitoring" aria-labelledby="monitoring-h">
<h2 id="monitoring-h">Monitoring</h2>
{{if $pl.Monitoring}}<table class="list"><thead><tr><th scope="col">Due</th><th scope="col">What</th><th scope="col">Note</th></tr></thead><tbody>
{{range $pl.Monitoring}}<tr><td>{{.Due}}</td><td>{{human .What}}</td><td>{{.Text}}</td></tr>{{end}}
</tbody></table>{{else}}<p class="muted">Nothing scheduled.</p>{{end}}
</section>
<section id="missing" aria-labelledby="missing-h">
<h2 id="missing-h">Missing information</h2>
{{if $pl.Missing}}<ul>{{range $pl.Missing}}<li>{{.}}</li>{{end}}</ul>{{else}}<p class="muted">None.</p>{{end}}
</section>
<section id="sources" aria-labelledby="sources-h">
<h2 id="sources-h">Sources</h2>
<ul class="sources">{{range $d.SourceIDs}}{{$s := index $pl.Sources .}}<li id="src-{{.}}"><a href="/kb/sources#{{.}}">[{{.}}]</a> {{$s.Citation}}{{with $s.URL}} <a href="{{.}}" rel="noreferrer noopener">{{.}}</a>{{end}}</li>{{end}}</ul>
</section>
{{end}}`

// parseCDSPlanPage parses the plan-link page with the shared layout.
func parseCDSPlanPage() (*pageTemplate, error) {
	t, err := template.New("cds_plan").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse CDS plan page: %w", err)
	}
	if _, err := t.Parse(cdsPlanContent); err != nil {
		return nil, fmt.Errorf("web: parse CDS plan page: %w", err)
	}
	return &pageTemplate{t: t, root: "layout"}, nil
}

type cdsPlanData struct {
	Batch     *ekbom.CardBatch
	Plan      *ekbom.Plan
	SourceIDs []string
}

func (s *Server) cdsPlan(w http.ResponseWriter, r *http.Request) {
	b, err := s.store.GetCardBatch(r.Context(), r.PathValue("id"))
	if err == nil && len(b.Plan) == 0 {
		err = ekbom.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, ekbom.ErrNotFound) {
			s.errorPage(w, r, http.StatusNotFound, "There is no such plan. Plans are linked from the EHR's ekbom cards.")
			return
		}
		s.serverError(w, r, err)
		return
	}
	var plan ekbom.Plan
	if err := json.Unmarshal(b.Plan, &plan); err != nil {
		s.serverError(w, r, fmt.Errorf("card batch %s: stored plan: %w", b.ID, err))
		return
	}
	if err := s.audit(r, "view", "cds", b.ID, "plan"); err != nil {
		s.serverError(w, r, err)
		return
	}
	d := cdsPlanData{Batch: b, Plan: &plan}
	for id := range plan.Sources {
		d.SourceIDs = append(d.SourceIDs, id)
	}
	sort.Strings(d.SourceIDs)
	s.render(w, r, http.StatusOK, "cds_plan", "ekbom plan (CDS Hooks)", "patients", d)
}
