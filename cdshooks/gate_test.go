package cdshooks

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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
