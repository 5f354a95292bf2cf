package web

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"ekbom"
	"ekbom/cdshooks"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

var updateCDS = flag.Bool("update", false, "rewrite testdata/cdshooks/*/*.response.json (a clinical change: review the diff)")

const cdsTestdata = "../../testdata/cdshooks"

// cdsGolden is a response golden: the HTTP status and the JSON body.
type cdsGolden struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// cdsSchemas compiles the CDS Hooks 2.0 shapes of testdata/cdshooks.
func cdsSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cdsTestdata, "cds-hooks-2.0.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("cds.json", doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]*jsonschema.Schema{}
	for _, def := range []string{"Response", "Discovery", "Feedback", "OperationOutcome", "Card"} {
		s, err := c.Compile("cds.json#/$defs/" + def)
		if err != nil {
			t.Fatal(err)
		}
		out[def] = s
	}
	return out
}

func validate(t *testing.T, s *jsonschema.Schema, body []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	if err := s.Validate(v); err != nil {
		t.Errorf("body does not match the CDS Hooks 2.0 shape: %v", err)
	}
}

// cdsExpect is what a golden case must show besides matching its golden:
// the clinical point of the case, so that an -update cannot silently lose it.
type cdsExpect struct {
	status    int
	indicator string // of the first card; "" for no cards
	topic     string // source.topic.code of some card
	contains  string // in some card's summary or detail, or in the body
}

var cdsExpectations = map[string]cdsExpect{
	"patient-view/augmentation":                      {200, "critical", "augmentation", "Dopaminergic augmentation on pramipexole"},
	"patient-view/iron-deficient":                    {200, "info", "iron", "ferritin 45"},
	"patient-view/realistic-60":                      {200, "warning", "augmentation", "Possible augmentation on pramipexole"},
	"patient-view/missing-prefetch":                  {412, "", "", "prefetch.labs"},
	"patient-view/bad-fhir":                          {400, "", "", "birthDate"},
	"patient-view/wrong-resource-type":               {400, "", "", "no Patient resource"},
	"patient-view/not-json":                          {400, "", "", "not valid JSON"},
	"patient-view/child":                             {200, "", "", `"cards": []`},
	"patient-view/other-patient":                     {400, "", "", "another patient"},
	"patient-view/no-rls-diagnosis":                  {200, "", "", `"cards": []`},
	"order-select/pramipexole-increase-augmentation": {200, "critical", "order.dopaminergic_augmentation", "MedicationRequest/draft-ppx"},
	"order-select/unselected-risk-only":              {200, "", "", `"cards": []`},
	"order-select/selection-not-in-drafts":           {400, "", "", "context.selections[0]"},
	"order-sign/cabergoline":                         {200, "critical", "order.cabergoline", "recommends against"},
	"order-sign/sertraline":                          {200, "warning", "order.exacerbator", "bupropion"},
	"order-sign/pramipexole-new":                     {200, "warning", "order.dopaminergic", "against the standard use"},
	"order-sign/oxycodone-gabapentin-osa":            {200, "critical", "respiratory_depression", "untreated sleep apnea"},
	"order-sign/pregabalin-above-renal-limit":        {200, "critical", "order.renal_limit", "above the renal limit of 150 mg/day"},
	"order-sign/benign":                              {200, "", "", `"cards": []`},
	"order-sign/pramipexole-parkinsons":              {200, "", "", `"cards": []`},
	"order-sign/missing-prefetch":                    {412, "", "", "prefetch.conditions"},
	"order-sign/bad-draft":                           {400, "", "", "context.draftOrders.entry[0].resource"},
	"order-sign/draftorders-not-bundle":              {400, "", "", "context.draftOrders.resourceType"},
	"feedback/overridden":                            {200, "", "", `"created": 1`},
	"feedback/accepted":                              {200, "", "", `"created": 2`},
	"feedback/invalid":                               {400, "", "", "feedback[0].acceptedSuggestions"},
}

var cdsServiceOf = map[string]string{
	"patient-view": cdshooks.PatientViewID,
	"order-select": cdshooks.OrderSelectID,
	"order-sign":   cdshooks.OrderSignID,
	"feedback":     cdshooks.OrderSignID,
}

// TestCDSGolden posts every testdata/cdshooks/<hook>/NAME.request.json to
// its service (with a valid ES384 token) and compares the status and body
// with NAME.response.json; go test -update rewrites them. Every body is
// checked against the CDS Hooks 2.0 shapes.
func TestCDSGolden(t *testing.T) {
	schemas := cdsSchemas(t)
	seen := map[string]bool{}
	for _, dir := range []string{"patient-view", "order-select", "order-sign", "feedback"} {
		files, _ := filepath.Glob(filepath.Join(cdsTestdata, dir, "*.request.json"))
		sort.Strings(files)
		for _, f := range files {
			name := dir + "/" + strings.TrimSuffix(filepath.Base(f), ".request.json")
			seen[name] = true
			t.Run(name, func(t *testing.T) {
				body, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				e := newCDSEnv(t)
				path := "/cds-services/" + cdsServiceOf[dir]
				if dir == "feedback" {
					path += "/feedback"
				}
				rec := e.call(http.MethodPost, path, e.token(path), body)
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, rec.Body.Bytes(), "", "  "); err != nil {
					t.Fatalf("status %d, body not JSON: %q", rec.Code, rec.Body.String())
				}
				got := cdsGolden{Status: rec.Code, Body: pretty.Bytes()}

				switch {
				case rec.Code == 400 || rec.Code == 412:
					validate(t, schemas["OperationOutcome"], rec.Body.Bytes())
				case dir == "feedback":
				default:
					validate(t, schemas["Response"], rec.Body.Bytes())
				}
				checkExpectation(t, name, got)
				switch {
				case silentCases[name]:
					checkNotStored(t, e)
				case dir != "feedback" && rec.Code == 200:
					checkServed(t, e, rec.Body.Bytes())
				}

				goldenPath := strings.TrimSuffix(f, ".request.json") + ".response.json"
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(got); err != nil {
					t.Fatal(err)
				}
				if *updateCDS {
					if err := os.WriteFile(goldenPath, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(goldenPath)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/web -run TestCDSGolden -update)", err)
				}
				if d := cmp.Diff(string(want), buf.String()); d != "" {
					t.Errorf("%s (-want +got):\n%s", goldenPath, d)
				}
			})
		}
	}
	for name := range cdsExpectations {
		if !seen[name] {
			t.Errorf("expectation for %s, but no request file", name)
		}
	}
}

func checkExpectation(t *testing.T, name string, got cdsGolden) {
	t.Helper()
	x, ok := cdsExpectations[name]
	if !ok {
		t.Errorf("no expectation for %s: add one to cdsExpectations", name)
		return
	}
	if got.Status != x.status {
		t.Errorf("status %d, want %d\n%s", got.Status, x.status, got.Body)
		return
	}
	if !strings.Contains(string(got.Body), x.contains) {
		t.Errorf("body lacks %q\n%s", x.contains, got.Body)
	}
	if got.Status != 200 || strings.HasPrefix(name, "feedback/") {
		return
	}
	var resp cdshooks.Response
	if err := json.Unmarshal(got.Body, &resp); err != nil {
		t.Fatal(err)
	}
	if x.indicator == "" {
		if len(resp.Cards) != 0 {
			t.Errorf("%d cards, want none", len(resp.Cards))
		}
		return
	}
	if len(resp.Cards) == 0 || resp.Cards[0].Indicator != x.indicator {
		t.Errorf("first card indicator: want %s; cards %+v", x.indicator, resp.Cards)
	}
	topic := false
	for _, c := range resp.Cards {
		if c.Source.Topic != nil && c.Source.Topic.Code == x.topic {
			topic = true
		}
		if len([]rune(c.Summary)) >= 140 {
			t.Errorf("summary of %d characters: %q", len([]rune(c.Summary)), c.Summary)
		}
		if c.Indicator != cdshooks.Info && len(c.OverrideReasons) == 0 {
			t.Errorf("%s card without override reasons: %q", c.Indicator, c.Summary)
		}
		for _, w := range []string{"contraindicated", "Contraindicated"} {
			if strings.Contains(c.Summary+c.Detail, w) {
				t.Errorf("card says %q: ekbom cites the grade, never 'contraindicated'", w)
			}
		}
	}
	if !topic {
		t.Errorf("no card with topic %s", x.topic)
	}
	if len(resp.Cards) > 6 {
		t.Errorf("%d cards: want a concise set (at most 6)", len(resp.Cards))
	}
}

// checkServed checks the served cards are on record with an audit entry.
// silentCases are the requests about patients whose record shows no
// restless legs syndrome: answered with no cards and nothing stored.
var silentCases = map[string]bool{"patient-view/no-rls-diagnosis": true, "order-sign/pramipexole-parkinsons": true}

func checkNotStored(t *testing.T, e *cdsEnv) {
	t.Helper()
	audit, err := e.store.ListAudit(t.Context(), ekbom.AuditFilter{Entity: "cds"})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 0 {
		t.Errorf("a silent answer was stored: %+v", audit)
	}
	if got := e.srv.metrics.cdsSilent.Load(); got != 1 {
		t.Errorf("ekbom_cds_silent_total = %d, want 1", got)
	}
}

func checkServed(t *testing.T, e *cdsEnv, body []byte) {
	t.Helper()
	audit, err := e.store.ListAudit(t.Context(), ekbom.AuditFilter{Entity: "cds"})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) != 1 || audit[0].Action != "serve" || !strings.HasPrefix(audit[0].Actor, "cds:"+testIssuer) {
		t.Fatalf("audit: %+v", audit)
	}
	for _, part := range []string{"engine=" + ekbom.EngineVersion, "kb=" + e.srv.kb.Meta.Version} {
		if !strings.Contains(audit[0].Detail, part) {
			t.Errorf("audit detail %q lacks %q", audit[0].Detail, part)
		}
	}
	b, err := e.store.GetCardBatch(t.Context(), audit[0].EntityID)
	if err != nil {
		t.Fatal(err)
	}
	var resp cdshooks.Response
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("served body: %v", err)
	}
	if len(b.Cards) != len(resp.Cards) {
		t.Fatalf("%d cards stored, %d served", len(b.Cards), len(resp.Cards))
	}
	for i, c := range resp.Cards {
		if b.Cards[i] != (ekbom.CardServed{UUID: c.UUID, Summary: c.Summary, Indicator: c.Indicator}) {
			t.Errorf("card %d stored as %+v", i, b.Cards[i])
		}
	}
}
