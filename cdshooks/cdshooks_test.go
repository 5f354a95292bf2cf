package cdshooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"ekbom"
	"ekbom/engine"
	"ekbom/kb"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, time.November, 21, 12, 0, 0, 0, time.UTC)

func testEngine(tb testing.TB) *engine.Engine {
	tb.Helper()
	b, err := kb.Default()
	if err != nil {
		tb.Fatal(err)
	}
	e, err := engine.New(b, engine.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func readCase(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "cdshooks", name+".request.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func service(tb testing.TB, id string) Service {
	tb.Helper()
	b, _ := kb.Default()
	s, ok := Services(b).Service(id)
	if !ok {
		tb.Fatalf("no service %s", id)
	}
	return s
}

func TestSummary(t *testing.T) {
	long := strings.Repeat("Opioid together with an alpha-2-delta ligand and untreated sleep apnea ", 4)
	for _, tc := range []struct{ in, want string }{
		{"Short summary", "Short summary"},
		{"  spaces\n and\tlines  ", "spaces and lines"},
		{strings.Repeat("x", 139), strings.Repeat("x", 139)},
		{strings.Repeat("x", 140), strings.Repeat("x", 138) + "…"},
		{strings.Repeat("é", 200), strings.Repeat("é", 138) + "…"},
	} {
		if got := Summary(tc.in); got != tc.want {
			t.Errorf("Summary(%.20q…) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := Summary(long)
	if n := utf8.RuneCountInString(got); n >= 140 || !strings.HasSuffix(got, "…") || strings.HasSuffix(got, " …") {
		t.Errorf("long summary of %d characters: %q", n, got)
	}
	if !strings.HasPrefix(long, strings.TrimSuffix(got, "…")) {
		t.Errorf("the cut summary is not a prefix: %q", got)
	}
}

func TestCardUUIDDeterministic(t *testing.T) {
	a := cardUUID("instance-1", "svc", "critical", "summary")
	if a != cardUUID("instance-1", "svc", "critical", "summary") {
		t.Error("not deterministic")
	}
	for _, other := range []string{
		cardUUID("instance-2", "svc", "critical", "summary"),
		cardUUID("instance-1", "svc", "warning", "summary"),
		cardUUID("instance-1svc", "", "critical", "summary"),
	} {
		if other == a {
			t.Errorf("different inputs gave the same uuid %s", a)
		}
	}
	if len(a) != 36 || a[14] != '8' || !strings.ContainsRune("89ab", rune(a[19])) {
		t.Errorf("%s is not an RFC 9562 version-8 UUID", a)
	}
}

func TestBatchID(t *testing.T) {
	d := ekbom.DateOf(2026, 11, 21)
	id := BatchID("svc", "inst", []byte("body"), d, "2026.11.1")
	if len(id) != 32 || id != BatchID("svc", "inst", []byte("body"), d, "2026.11.1") {
		t.Errorf("BatchID %q", id)
	}
	if id == BatchID("svc", "inst", []byte("other body"), d, "2026.11.1") || id == BatchID("svc", "inst", []byte("body"), d.AddDays(1), "2026.11.1") {
		t.Error("different requests share a batch id")
	}
}

func TestExpand(t *testing.T) {
	c := Context{PatientID: "123", UserID: "Practitioner/abc", EncounterID: "e-1"}
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Patient/{{context.patientId}}", "Patient/123", true},
		{"Observation?patient={{context.patientId}}&code=http://loinc.org|2276-4", "Observation?patient=123&code=http://loinc.org|2276-4", true},
		{"Practitioner/{{context.userId}}", "Practitioner/abc", true},
		{"Encounter/{{context.encounterId}}", "Encounter/e-1", true},
		{"X/{{context.unknown}}", "", false},
	} {
		got, ok := Expand(tc.in, c)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Expand(%q) = %q, %v", tc.in, got, ok)
		}
	}
	for _, bad := range []string{"1&_include=*", "../Patient", "a b", ""} {
		if _, ok := Expand("Patient/{{context.patientId}}", Context{PatientID: bad}); ok {
			t.Errorf("patient id %q accepted into a URL", bad)
		}
	}
}

func TestDecodeRequestProblems(t *testing.T) {
	pv := service(t, PatientViewID)
	sel := service(t, OrderSelectID)
	for _, tc := range []struct {
		name  string
		s     Service
		body  string
		paths []string
	}{
		{"empty object", pv, `{}`, []string{"hook", "hookInstance", "context.patientId"}},
		{"wrong hook", pv, `{"hook":"order-sign","hookInstance":"i","context":{"patientId":"1"}}`, []string{"hook"}},
		{"bad patient id", pv, `{"hook":"patient-view","hookInstance":"i","context":{"patientId":"1 OR 1=1"}}`, []string{"context.patientId"}},
		{"wrong type", pv, `{"hook":"patient-view","hookInstance":"i","context":{"patientId":7}}`, []string{"context.patientId"}},
		{"token without server", pv, `{"hook":"patient-view","hookInstance":"i","context":{"patientId":"1"},"fhirAuthorization":{"access_token":"t","token_type":"Bearer"}}`, []string{"fhirServer"}},
		{"select without drafts", sel, `{"hook":"order-select","hookInstance":"i","context":{"patientId":"1","selections":["bad"]}}`, []string{"context.draftOrders", "context.selections[0]"}},
		{"not JSON", pv, `{"hook":`, []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tc.body), tc.s)
			var verr *ekbom.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("err %v, want a ValidationError", err)
			}
			var got []string
			for _, p := range verr.Problems {
				got = append(got, p.Path)
			}
			if d := cmp.Diff(tc.paths, got); d != "" {
				t.Errorf("paths (-want +got):\n%s\n%v", d, verr)
			}
		})
	}
	// Unknown fields (extensions) are fine, and the token never prints.
	req, err := DecodeRequest([]byte(`{"hook":"patient-view","hookInstance":"i","context":{"patientId":"1","x":1},"extension":{"a":1},
		"fhirServer":"https://ehr.test/fhir","fhirAuthorization":{"access_token":"secret-token","token_type":"Bearer"}}`), pv)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{req.FHIRAuthorization.String(), req.FHIRAuthorization.GoString()} {
		if strings.Contains(s, "secret-token") {
			t.Errorf("token printed: %s", s)
		}
	}
}

func TestMissing(t *testing.T) {
	pv := service(t, PatientViewID)
	req := &Request{Prefetch: map[string]json.RawMessage{
		"patient": json.RawMessage(`null`), "labs": json.RawMessage(`null`), "conditions": json.RawMessage(`{}`),
	}}
	want := []string{"medicationadministrations", "medicationrequests", "medicationstatements", "patient", "questionnaireresponses"}
	if d := cmp.Diff(want, pv.Missing(req)); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if pv.IsRequired("questionnaireresponses") || !pv.IsRequired("labs") {
		t.Error("required keys")
	}
}

func TestDecodeFeedback(t *testing.T) {
	fs, err := DecodeFeedback(readCase(t, "feedback/accepted"), OrderSignID, "cds:x")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].Outcome != "accepted" || len(fs[0].AcceptedSuggestions) != 1 ||
		!fs[0].OutcomeAt.Equal(time.Date(2026, 11, 21, 11, 59, 30, 0, time.UTC)) || fs[1].Outcome != "overridden" {
		t.Errorf("%+v", fs)
	}
	_, err = DecodeFeedback(readCase(t, "feedback/invalid"), OrderSignID, "cds:x")
	var verr *ekbom.ValidationError
	if !errors.As(err, &verr) || len(verr.Problems) != 4 {
		t.Errorf("invalid feedback: %v", err)
	}
	if _, err := DecodeFeedback([]byte(`{"feedback":[]}`), OrderSignID, "a"); err != nil {
		t.Errorf("empty feedback list: %v", err)
	}
}

func TestOutcome(t *testing.T) {
	verr := &ekbom.ValidationError{}
	verr.Add("prefetch.labs.entry[2].resource.valueQuantity.value", "want a number, got a JSON string")
	verr.Add("prefetch.patient.birthDate", "missing: ekbom computes the age from it")
	verr.Add("", "not valid JSON (at byte 3): unexpected end")
	oo := Outcome(verr)
	want := OperationOutcome{ResourceType: "OperationOutcome", Issue: []Issue{
		{Severity: "error", Code: "structure", Diagnostics: "want a number, got a JSON string", Expression: []string{"prefetch.labs.entry[2].resource.valueQuantity.value"}},
		{Severity: "error", Code: "required", Diagnostics: "missing: ekbom computes the age from it", Expression: []string{"prefetch.patient.birthDate"}},
		{Severity: "error", Code: "structure", Diagnostics: "not valid JSON (at byte 3): unexpected end"},
	}}
	if d := cmp.Diff(want, oo); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if oo := Outcome(errors.New("database password wrong")); strings.Contains(oo.Issue[0].Diagnostics, "password") {
		t.Error("internal error text shown")
	}
}

func TestMarkdownEscape(t *testing.T) {
	for in, want := range map[string]string{
		"condition sleep_apnea":    `condition sleep\_apnea`,
		"ferritin <30 *and* [x]":   `ferritin \<30 \*and\* \[x\]`,
		"- leading dash":           `\- leading dash`,
		"# heading":                `\# heading`,
		"line\nbreak":              "line break",
		"ferritin 45 ng/mL (≤ 75)": "ferritin 45 ng/mL (≤ 75)",
	} {
		if got := md(in); got != want {
			t.Errorf("md(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPatientViewDirect runs the mapping without HTTP: deterministic cards,
// at most six, summaries under 140 characters, the link on every card.
func TestPatientViewDirect(t *testing.T) {
	e := testEngine(t)
	req, err := DecodeRequest(readCase(t, "patient-view/augmentation"), service(t, PatientViewID))
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Now: now, PlanURL: "https://ekbom.test/cds-plans/x"}
	r1, err := PatientView(req, e, opt)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := PatientView(req, e, opt)
	if d := cmp.Diff(r1.Response, r2.Response); d != "" {
		t.Errorf("not deterministic (-first +second):\n%s", d)
	}
	cards := r1.Response.Cards
	if len(cards) == 0 || len(cards) > 6 || cards[0].Indicator != Critical {
		t.Fatalf("cards: %+v", cards)
	}
	uuids := map[string]bool{}
	for _, c := range cards {
		if utf8.RuneCountInString(c.Summary) >= 140 || uuids[c.UUID] || len(c.Links) != 1 || c.Source.Label == "" {
			t.Errorf("card %+v", c)
		}
		uuids[c.UUID] = true
		if !strings.Contains(c.Detail, Disclaimer) {
			t.Errorf("card %q has no disclaimer", c.Summary)
		}
	}
	if r1.Plan == nil || r1.PatientRef != "Patient/aug-1" {
		t.Errorf("result: plan %v ref %q", r1.Plan != nil, r1.PatientRef)
	}
	if _, err := PatientView(req, e, Options{}); err == nil {
		t.Error("no Now accepted")
	}
}

// TestOrderCheckCountsDraft checks the drafted order counts in the totals:
// a pregabalin draft replaces the current pregabalin dose, and two drafts of
// one ingredient add up.
func TestOrderCheckCountsDraft(t *testing.T) {
	e := testEngine(t)
	body := readCase(t, "order-sign/pregabalin-above-renal-limit")
	req, err := DecodeRequest(body, service(t, OrderSignID))
	if err != nil {
		t.Fatal(err)
	}
	res, err := OrderCheck(req, e, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Response.Cards) == 0 || !strings.Contains(res.Response.Cards[0].Summary, "300 mg/day") {
		t.Fatalf("cards: %+v", res.Response.Cards)
	}
	// Split the 150 mg twice daily draft into two 75 mg twice daily drafts:
	// the total is still 300 mg/day.
	var raw map[string]any
	json.Unmarshal(body, &raw)
	ctx := raw["context"].(map[string]any)
	bundle := ctx["draftOrders"].(map[string]any)
	entry := bundle["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
	dose := entry["dosageInstruction"].([]any)[0].(map[string]any)["doseAndRate"].([]any)[0].(map[string]any)["doseQuantity"].(map[string]any)
	dose["value"] = 75
	second := map[string]any{}
	b, _ := json.Marshal(entry)
	json.Unmarshal(b, &second)
	second["id"] = "draft-pgb-2"
	bundle["entry"] = append(bundle["entry"].([]any), map[string]any{"resource": second})
	body, _ = json.Marshal(raw)
	req, err = DecodeRequest(body, service(t, OrderSignID))
	if err != nil {
		t.Fatal(err)
	}
	res, err = OrderCheck(req, e, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range res.Response.Cards {
		if strings.Contains(c.Summary, "300 mg/day is above the renal limit") {
			found = true
		}
	}
	if !found {
		t.Errorf("two drafts of 150 mg/day were not added up: %+v", res.Response.Cards)
	}
}

// BenchmarkPatientViewMapping is the mapping alone (no HTTP, JWT or store)
// on the realistic ~60-resource prefetch.
func BenchmarkPatientViewMapping(b *testing.B) {
	e := testEngine(b)
	req, err := DecodeRequest(readCase(b, "patient-view/realistic-60"), service(b, PatientViewID))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PatientView(req, e, Options{Now: now, PlanURL: "https://ekbom.test/cds-plans/x"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestExtraPrefetchKeysIgnored checks prefetch keys ekbom did not ask for
// (here a user id string) are not read as FHIR.
func TestExtraPrefetchKeysIgnored(t *testing.T) {
	e := testEngine(t)
	var raw map[string]any
	json.Unmarshal(readCase(t, "patient-view/iron-deficient"), &raw)
	raw["prefetch"].(map[string]any)["user"] = "Practitioner/123"
	body, _ := json.Marshal(raw)
	req, err := DecodeRequest(body, service(t, PatientViewID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PatientView(req, e, Options{Now: now}); err != nil {
		t.Errorf("extra prefetch key: %v", err)
	}
}

// TestNoWarningIsDropped checks that a plan with more warnings than fit as
// cards still shows every one of them in the EHR (the rest on the summary).
func TestNoWarningIsDropped(t *testing.T) {
	b, err := kb.Default()
	if err != nil {
		t.Fatal(err)
	}
	plan := &ekbom.Plan{Status: ekbom.Refractory, Pathway: "standard"}
	for i, code := range []string{ekbom.WarnAugmentation, ekbom.WarnIronOverload, ekbom.WarnRespiratoryDepression,
		ekbom.WarnOpioidUseDisorder, ekbom.WarnAbruptDAStop, ekbom.WarnFerritinConfounded} {
		sev := "high"
		if code == ekbom.WarnFerritinConfounded {
			sev = "info"
		}
		plan.Warnings = append(plan.Warnings, ekbom.Warning{Code: code, Severity: sev, Text: fmt.Sprintf("warning number %d", i)})
	}
	cards := planCards(b, &ekbom.Patient{}, plan, "p1", "")
	var all strings.Builder
	for _, c := range cards {
		all.WriteString(c.Summary + "\n" + c.Detail + "\n")
	}
	for _, w := range plan.Warnings {
		if !strings.Contains(all.String(), w.Text) {
			t.Errorf("warning %s (%q) reaches no card", w.Code, w.Text)
		}
	}
}
