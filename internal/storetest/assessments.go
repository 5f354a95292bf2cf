package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"ekbom"
)

func testAssessmentCreateGetList(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Assessed", "")
	other := createPatient(t, s, "Not Assessed", "")
	v := createVisit(t, s, p.ID, day(2026, time.April, 1))

	first := createAssessment(t, s, p.ID, v.ID)
	checkID(t, first.ID, "assessment")
	if first.CreatedBy != bob || first.CreatedAt.IsZero() {
		t.Fatalf("after create: created by %q at %v", first.CreatedBy, first.CreatedAt)
	}
	second := createAssessment(t, s, p.ID, "")
	third := createAssessment(t, s, p.ID, v.ID)

	got, err := s.GetAssessment(c, first.ID)
	noErr(t, err, "get")
	if d := diff(first, got); d != "" {
		t.Errorf("get (-want +got):\n%s", d)
	}
	list, err := s.ListAssessments(c, p.ID)
	noErr(t, err, "list")
	if d := diff([]ekbom.Assessment{*third, *second, *first}, list); d != "" {
		t.Errorf("list, newest first (-want +got):\n%s", d)
	}
	none, err := s.ListAssessments(c, other.ID)
	noErr(t, err, "list other")
	if len(none) != 0 {
		t.Errorf("other patient has %d assessments", len(none))
	}
}

func testAssessmentRawJSONImmutable(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Raw JSON", "")
	// Odd spacing, key order, number spelling and escapes must survive
	// byte for byte: a past plan is shown exactly as it was.
	input := "{\n  \"z\": 1.50,\n  \"a\": [3, 2, 1],  \"s\": \"ferritin \\u003c 75 \\u00b5g/L\", \"n\": null}"
	plan := `{"recommendations":[{"id":"iron.iv","dose":{"value":1000,"unit":"mg"}}],"kb":"2026.11","empty":{}}`
	a := &ekbom.Assessment{
		PatientID: p.ID, EngineVersion: "0.1.0", KnowledgeVersion: "2026.11",
		Input: json.RawMessage(input), Plan: json.RawMessage(plan),
	}
	noErr(t, s.CreateAssessment(c, a, alice), "create")
	// Changing the caller's copy afterwards changes nothing stored.
	a.Input[3] = 'Q'

	got, err := s.GetAssessment(c, a.ID)
	noErr(t, err, "get")
	if string(got.Input) != input {
		t.Errorf("input changed:\ngot  %s\nwant %s", got.Input, input)
	}
	if string(got.Plan) != plan {
		t.Errorf("plan changed:\ngot  %s\nwant %s", got.Plan, plan)
	}

	// ekbom.Store has no method that changes an assessment; the database
	// refuses too.
	db := rawDB(t, s)
	for _, stmt := range []string{
		`UPDATE assessments SET plan = '{"tampered":true}'`,
		`UPDATE assessments SET engine_version = 'x'`,
		`UPDATE assessments SET created_by = 'mallory'`,
	} {
		if _, err := db.ExecContext(c, stmt); err == nil {
			t.Errorf("%s: succeeded, want the database to refuse", stmt)
		}
	}
	again, err := s.GetAssessment(c, a.ID)
	noErr(t, err, "get after tampering")
	if string(again.Plan) != plan || again.EngineVersion != "0.1.0" || again.CreatedBy != alice {
		t.Errorf("assessment changed by raw SQL: %+v", again)
	}
}

func testAssessmentErrors(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	const missing = "0123456789abcdef0123456789abcdef"
	p := createPatient(t, s, "Errors", "")
	q := createPatient(t, s, "Other", "")
	qv := createVisit(t, s, q.ID, day(2026, time.June, 1))
	valid := func() *ekbom.Assessment {
		return &ekbom.Assessment{PatientID: p.ID, EngineVersion: "0.1.0", KnowledgeVersion: "k1",
			Input: json.RawMessage(`{}`), Plan: json.RawMessage(`{}`)}
	}
	for _, tc := range []struct {
		name   string
		change func(a *ekbom.Assessment)
		actor  string
		want   error
	}{
		{"unknown patient", func(a *ekbom.Assessment) { a.PatientID = missing }, alice, ekbom.ErrNotFound},
		{"no patient", func(a *ekbom.Assessment) { a.PatientID = "" }, alice, ekbom.ErrInvalid},
		{"unknown visit", func(a *ekbom.Assessment) { a.VisitID = missing }, alice, ekbom.ErrNotFound},
		{"visit of another patient", func(a *ekbom.Assessment) { a.VisitID = qv.ID }, alice, ekbom.ErrInvalid},
		{"input not JSON", func(a *ekbom.Assessment) { a.Input = json.RawMessage(`{"age":`) }, alice, ekbom.ErrInvalid},
		{"no input", func(a *ekbom.Assessment) { a.Input = nil }, alice, ekbom.ErrInvalid},
		{"plan not JSON", func(a *ekbom.Assessment) { a.Plan = json.RawMessage(`plan`) }, alice, ekbom.ErrInvalid},
		{"no engine version", func(a *ekbom.Assessment) { a.EngineVersion = "" }, alice, ekbom.ErrInvalid},
		{"no knowledge version", func(a *ekbom.Assessment) { a.KnowledgeVersion = "" }, alice, ekbom.ErrInvalid},
		{"no actor", func(a *ekbom.Assessment) {}, "", ekbom.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := valid()
			tc.change(a)
			wantErr(t, s.CreateAssessment(c, a, tc.actor), tc.want, "create")
		})
	}
	_, err := s.GetAssessment(c, missing)
	wantErr(t, err, ekbom.ErrNotFound, "get unknown")
	list, err := s.ListAssessments(c, p.ID)
	noErr(t, err, "list")
	if len(list) != 0 {
		t.Errorf("failed creates stored %d assessments", len(list))
	}
}

func testAssessmentOutlivesVisit(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Visit Gone", "")
	v := createVisit(t, s, p.ID, day(2026, time.July, 7))
	a := createAssessment(t, s, p.ID, v.ID)
	noErr(t, s.DeleteVisit(c, v.ID, alice), "delete visit")
	got, err := s.GetAssessment(c, a.ID)
	noErr(t, err, "assessment after its visit was deleted")
	want := *a
	want.VisitID = ""
	if d := diff(&want, got); d != "" {
		t.Errorf("assessment after its visit was deleted (-want +got):\n%s", d)
	}
}

func testDeletePatientCascade(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Cascade", "C-1")
	keep := createPatient(t, s, "Keep", "C-2")
	v1 := createVisit(t, s, p.ID, day(2026, time.January, 1))
	v2 := createVisit(t, s, p.ID, day(2026, time.February, 1))
	a1 := createAssessment(t, s, p.ID, v1.ID)
	a2 := createAssessment(t, s, p.ID, "")
	kv := createVisit(t, s, keep.ID, day(2026, time.January, 1))
	ka := createAssessment(t, s, keep.ID, kv.ID)

	noErr(t, s.DeletePatient(c, p.ID, bob), "delete patient")
	for _, id := range []string{v1.ID, v2.ID} {
		_, err := s.GetVisit(c, id)
		wantErr(t, err, ekbom.ErrNotFound, "visit of deleted patient")
	}
	for _, id := range []string{a1.ID, a2.ID} {
		_, err := s.GetAssessment(c, id)
		wantErr(t, err, ekbom.ErrNotFound, "assessment of deleted patient")
	}
	if vs, err := s.ListVisits(c, p.ID); err != nil || len(vs) != 0 {
		t.Errorf("ListVisits of deleted patient: %d, %v", len(vs), err)
	}
	if as, err := s.ListAssessments(c, p.ID); err != nil || len(as) != 0 {
		t.Errorf("ListAssessments of deleted patient: %d, %v", len(as), err)
	}
	// The other patient is untouched.
	if _, err := s.GetVisit(c, kv.ID); err != nil {
		t.Errorf("other patient's visit: %v", err)
	}
	if _, err := s.GetAssessment(c, ka.ID); err != nil {
		t.Errorf("other patient's assessment: %v", err)
	}
	// The audit trail of everything deleted stays.
	for _, e := range []struct{ entity, id string }{
		{"patient", p.ID}, {"visit", v1.ID}, {"visit", v2.ID}, {"assessment", a1.ID}, {"assessment", a2.ID},
	} {
		got, err := s.ListAudit(c, ekbom.AuditFilter{Entity: e.entity, EntityID: e.id})
		noErr(t, err, "list audit")
		if len(got) == 0 {
			t.Errorf("audit of %s %s is gone", e.entity, e.id)
		}
	}
	got, err := s.ListAudit(c, ekbom.AuditFilter{Entity: "patient", EntityID: p.ID, Limit: 1})
	noErr(t, err, "list audit")
	if len(got) != 1 || got[0].Action != "delete" || got[0].Actor != bob {
		t.Fatalf("last audit entry of the deleted patient: %+v", got)
	}
}
