package cdshooks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"ekbom"
)

// editCase decodes a test request, lets edit change it, and encodes it again.
func editCase(t *testing.T, name string, edit func(req map[string]any)) []byte {
	t.Helper()
	var req map[string]any
	if err := json.Unmarshal(readCase(t, name), &req); err != nil {
		t.Fatal(err)
	}
	edit(req)
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// conditionsOnly replaces the conditions prefetch with a searchset of the
// given Conditions (SNOMED CT codes) of patient id.
func conditionsOnly(id string, snomedCodes ...string) func(map[string]any) {
	return func(req map[string]any) {
		entries := []any{}
		for _, c := range snomedCodes {
			entries = append(entries, map[string]any{"resource": map[string]any{
				"resourceType": "Condition", "id": "c-" + c,
				"code":    map[string]any{"coding": []any{map[string]any{"system": "http://snomed.info/sct", "code": c}}},
				"subject": map[string]any{"reference": "Patient/" + id},
			}})
		}
		req["prefetch"].(map[string]any)[KeyConditions] = map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": entries}
	}
}

func noQuestionnaire(req map[string]any) {
	req["prefetch"].(map[string]any)[KeyQuestionnaire] = map[string]any{"resourceType": "Bundle", "type": "searchset"}
}

func both(edits ...func(map[string]any)) func(map[string]any) {
	return func(req map[string]any) {
		for _, e := range edits {
			e(req)
		}
	}
}

// TestRLSGatePatientView: patient-view answers only for a record that shows
// restless legs syndrome (a Condition coding it, or an answered ekbom
// questionnaire), and answers as before when the conditions could not be
// fetched.
func TestRLSGatePatientView(t *testing.T) {
	e := testEngine(t)
	const parkinsons = "49049000"
	for _, tc := range []struct {
		name   string
		edit   func(map[string]any)
		silent bool
	}{
		{"as recorded (RLS Condition and questionnaire)", func(map[string]any) {}, false},
		{"RLS Condition only", noQuestionnaire, false},
		{"questionnaire only", conditionsOnly("aug-1", parkinsons), false},
		{"neither: Parkinson's disease", both(conditionsOnly("aug-1", parkinsons), noQuestionnaire), true},
		{"neither: no Conditions at all", both(conditionsOnly("aug-1"), noQuestionnaire), true},
		{"conditions prefetch null: answered", both(func(req map[string]any) {
			req["prefetch"].(map[string]any)[KeyConditions] = nil
		}, noQuestionnaire), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := DecodeRequest(editCase(t, "patient-view/augmentation", tc.edit), service(t, PatientViewID))
			if err != nil {
				t.Fatal(err)
			}
			res, err := PatientView(req, e, Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if tc.silent {
				if len(res.Response.Cards) != 0 || res.Plan != nil || !strings.Contains(res.Silent, "no restless legs syndrome") ||
					!strings.Contains(res.Silent, "SNOMED CT 32914008") || !strings.Contains(res.Silent, "ICD-10-CM G25.81") {
					t.Errorf("want silence: %d cards, plan %v, silent %q", len(res.Response.Cards), res.Plan != nil, res.Silent)
				}
				return
			}
			if len(res.Response.Cards) == 0 || res.Plan == nil || res.Silent != "" {
				t.Errorf("want cards: %d cards, plan %v, silent %q", len(res.Response.Cards), res.Plan != nil, res.Silent)
			}
		})
	}
}

// TestRLSGateOrders: a dopamine agonist ordered for a patient whose record
// shows no RLS (Parkinson's disease) is not checked against RLS doses; the
// same order with reasonCode RLS is checked exactly as for a patient with
// an RLS Condition.
func TestRLSGateOrders(t *testing.T) {
	e := testEngine(t)
	check := func(body []byte) *Result {
		t.Helper()
		req, err := DecodeRequest(body, service(t, OrderSignID))
		if err != nil {
			t.Fatal(err)
		}
		res, err := OrderCheck(req, e, Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	const name = "order-sign/pramipexole-new"
	recorded := check(readCase(t, name))
	if len(recorded.Response.Cards) == 0 {
		t.Fatal("the recorded case has no cards: the test needs one that has")
	}
	parkinsons := both(conditionsOnly("ord-1", "49049000"), noQuestionnaire)
	if res := check(editCase(t, name, parkinsons)); len(res.Response.Cards) != 0 || res.Plan != nil ||
		!strings.Contains(res.Silent, "no drafted order for it") {
		t.Errorf("Parkinson's disease: %d cards, silent %q", len(res.Response.Cards), res.Silent)
	}
	for _, reason := range []map[string]any{
		{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "g25.81"},
		{"system": "http://snomed.info/sct", "code": "32914008"},
	} {
		withReason := both(parkinsons, func(req map[string]any) {
			entry := req["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)
			entry["resource"].(map[string]any)["reasonCode"] = []any{map[string]any{"coding": []any{reason}}}
		})
		res := check(editCase(t, name, withReason))
		if res.Silent != "" {
			t.Errorf("reasonCode %v: silent %q", reason, res.Silent)
		}
		if d := cmp.Diff(recorded.Response.Cards, res.Response.Cards); d != "" {
			t.Errorf("reasonCode %v: cards differ from the recorded case (-recorded +reason):\n%s", reason, d)
		}
	}
	// A reasonCode of another shape codes nothing.
	bad := both(parkinsons, func(req map[string]any) {
		entry := req["context"].(map[string]any)["draftOrders"].(map[string]any)["entry"].([]any)[0].(map[string]any)
		entry["resource"].(map[string]any)["reasonCode"] = "G25.81"
	})
	if res := check(editCase(t, name, bad)); res.Silent == "" {
		t.Error("a reasonCode string was read as RLS")
	}
}

func conditionsRaw(raw string) func(map[string]any) {
	return func(req map[string]any) {
		var v any
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			panic(err)
		}
		req["prefetch"].(map[string]any)[KeyConditions] = v
	}
}

// TestRLSGateNoFalseSilence: forms of a real RLS record, and problem lists
// that may be incomplete, never silence the services (found in review: each
// of these was silenced by the first version of the gate).
func TestRLSGateNoFalseSilence(t *testing.T) {
	e := testEngine(t)
	cond := func(code, extra string) string {
		return `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Condition","id":"rls","code":` +
			code + `,"subject":{"reference":"Patient/aug-1"}` + extra + `}}]}`
	}
	parkinsons := cond(`{"coding":[{"system":"http://snomed.info/sct","code":"49049000"}]}`, "")
	for name, c := range map[string]string{
		"SNOMED CT as an OID":   cond(`{"coding":[{"system":"urn:oid:2.16.840.1.113883.6.96","code":"32914008"}]}`, ""),
		"ICD-10-CM as an OID":   cond(`{"coding":[{"system":"urn:oid:2.16.840.1.113883.6.90","code":"G25.81"}]}`, ""),
		"trailing slash":        cond(`{"coding":[{"system":"http://snomed.info/sct/","code":"32914008"}]}`, ""),
		"text only":             cond(`{"text":"Restless legs syndrome"}`, ""),
		"in remission":          cond(`{"coding":[{"system":"http://snomed.info/sct","code":"32914008"}]}`, `,"clinicalStatus":{"coding":[{"code":"remission"}]}`),
		"inactive":              cond(`{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"G25.81"}]}`, `,"clinicalStatus":{"coding":[{"code":"inactive"}]}`),
		"OperationOutcome":      `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"too-costly"}]}`,
		"outcome in the Bundle": `{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"incomplete"}]},"search":{"mode":"outcome"}}]}`,
		"next page":             strings.Replace(parkinsons, `"type":"searchset",`, `"type":"searchset","link":[{"relation":"next","url":"https://ehr.example/fhir/Condition?page=2"}],`, 1),
		"total above entries":   strings.Replace(parkinsons, `"type":"searchset",`, `"type":"searchset","total":60,`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			req, err := DecodeRequest(editCase(t, "patient-view/augmentation", both(conditionsRaw(c), noQuestionnaire)), service(t, PatientViewID))
			if err != nil {
				t.Fatal(err)
			}
			res, err := PatientView(req, e, Options{Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if res.Silent != "" || len(res.Response.Cards) == 0 {
				t.Errorf("silenced (%d cards): %s", len(res.Response.Cards), res.Silent)
			}
		})
	}
	// The complete page of a Parkinson's patient is still silent.
	req, err := DecodeRequest(editCase(t, "patient-view/augmentation", both(conditionsRaw(strings.Replace(parkinsons, `"type":"searchset",`, `"type":"searchset","total":1,`, 1)), noQuestionnaire)), service(t, PatientViewID))
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := PatientView(req, e, Options{Now: now}); res.Silent == "" {
		t.Error("a complete problem list without RLS was answered")
	}
}

// TestRLSGateBeforeScope: a child without RLS is silent like an adult
// (nothing stored); a child with RLS still gets the out-of-scope answer.
func TestRLSGateBeforeScope(t *testing.T) {
	e := testEngine(t)
	req, err := DecodeRequest(editCase(t, "patient-view/child", both(conditionsOnly("child-1", "49049000"), noQuestionnaire)), service(t, PatientViewID))
	if err != nil {
		t.Fatal(err)
	}
	res, err := PatientView(req, e, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if res.Silent == "" || len(res.Response.Cards) != 0 {
		t.Errorf("child without RLS: silent %q, %d cards", res.Silent, len(res.Response.Cards))
	}
	req, err = DecodeRequest(readCase(t, "patient-view/child"), service(t, PatientViewID))
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := PatientView(req, e, Options{Now: now}); res.Silent != "" || len(res.Response.Cards) != 0 || res.Plan != nil {
		t.Errorf("child with RLS: silent %q, %d cards", res.Silent, len(res.Response.Cards))
	}
}

// TestCriticalFromKnowledgeBase: which high warnings are critical cards is
// the knowledge base's call (rules/9_warnings.yaml critical: true).
func TestCriticalFromKnowledgeBase(t *testing.T) {
	b := testEngine(t).KB()
	for code, want := range map[string]string{
		ekbom.WarnAugmentation: Critical, ekbom.WarnIronOverload: Critical, ekbom.WarnRespiratoryDepression: Critical,
		ekbom.WarnOpioidUseDisorder: Critical, "abrupt_dopamine_agonist_stop": Warning, "pregnancy": Warning,
	} {
		if got := indicatorOf(b, ekbom.Warning{Code: code, Severity: "high"}); got != want {
			t.Errorf("high %s: %s, want %s", code, got, want)
		}
	}
	if got := indicatorOf(b, ekbom.Warning{Code: ekbom.WarnAugmentation, Severity: "moderate"}); got != Warning {
		t.Errorf("moderate augmentation: %s", got)
	}
}
