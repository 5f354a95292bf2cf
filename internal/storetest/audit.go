package storetest

import (
	"strings"
	"testing"
	"time"

	"ekbom"
)

// auditSummary is the part of an audit entry a test checks.
type auditSummary struct{ Actor, Action, Entity, EntityID string }

func summarise(es []ekbom.AuditEntry) []auditSummary {
	out := []auditSummary{}
	for _, e := range es {
		out = append(out, auditSummary{e.Actor, e.Action, e.Entity, e.EntityID})
	}
	return out
}

func testAuditOfChanges(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Audited Person", "AU-1")
	p.Notes = "edited"
	noErr(t, s.UpdatePatient(c, p, bob), "update patient")
	v := createVisit(t, s, p.ID, day(2026, time.March, 3))
	noErr(t, s.UpdateVisit(c, v, bob), "update visit")
	a := createAssessment(t, s, p.ID, v.ID)
	noErr(t, s.DeleteVisit(c, v.ID, bob), "delete visit")
	noErr(t, s.DeletePatient(c, p.ID, alice), "delete patient")

	for _, tc := range []struct {
		entity, id string
		want       []auditSummary // newest first
	}{
		{"patient", p.ID, []auditSummary{
			{alice, "delete", "patient", p.ID}, {bob, "update", "patient", p.ID}, {alice, "create", "patient", p.ID},
		}},
		{"visit", v.ID, []auditSummary{
			{bob, "delete", "visit", v.ID}, {bob, "update", "visit", v.ID}, {alice, "create", "visit", v.ID},
		}},
		{"assessment", a.ID, []auditSummary{{bob, "create", "assessment", a.ID}}},
	} {
		got, err := s.ListAudit(c, ekbom.AuditFilter{Entity: tc.entity, EntityID: tc.id})
		noErr(t, err, "list audit")
		if d := diff(tc.want, summarise(got)); d != "" {
			t.Errorf("audit of %s (-want +got):\n%s", tc.entity, d)
		}
	}
	all, err := s.ListAudit(c, ekbom.AuditFilter{})
	noErr(t, err, "list all")
	if len(all) != 7 {
		t.Fatalf("%d audit entries, want 7", len(all))
	}
	for i, e := range all {
		if e.ID <= 0 || e.At.IsZero() || e.At.Location() != time.UTC {
			t.Errorf("entry %d: id %d at %v", i, e.ID, e.At)
		}
		if i > 0 && (e.ID >= all[i-1].ID || e.At.After(all[i-1].At)) {
			t.Errorf("entries %d and %d are not newest first", i-1, i)
		}
		if time.Since(e.At) > time.Hour {
			t.Errorf("entry %d at %v: want about now", i, e.At)
		}
	}
}

func testAuditNoClinicalData(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Sigrid Clinical-Secret", "SECRET-MRN-42")
	p.Notes = "history of opioid use disorder"
	noErr(t, s.UpdatePatient(c, p, alice), "update")
	v := createVisit(t, s, p.ID, day(2026, time.August, 8))
	noErr(t, s.UpdateVisit(c, v, alice), "update visit")
	createAssessment(t, s, p.ID, v.ID)
	noErr(t, s.DeleteVisit(c, v.ID, alice), "delete visit")
	noErr(t, s.DeletePatient(c, p.ID, alice), "delete patient")

	secrets := []string{"sigrid", "secret", "mrn-42", "opioid", "referred", "1962-04-03", "ferritin", "pramipexole",
		"gabapentin", "female", "ckd", "iron", "ng/ml", "2026-08-08"}
	all, err := s.ListAudit(c, ekbom.AuditFilter{Limit: 1000})
	noErr(t, err, "list")
	if len(all) == 0 {
		t.Fatal("no audit entries")
	}
	for _, e := range all {
		text := strings.ToLower(strings.Join([]string{e.Actor, e.Action, e.Entity, e.EntityID, e.Detail}, " "))
		for _, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("audit entry %+v contains %q", e, secret)
			}
		}
	}
}

func testAuditFailedChangeWritesNothing(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Failures", "F-1")
	createPatient(t, s, "Other", "F-2")
	v := createVisit(t, s, p.ID, day(2026, time.March, 3))
	before, err := s.ListAudit(c, ekbom.AuditFilter{Limit: 1000})
	noErr(t, err, "list")

	stale := *p
	stale.Version = 7
	wantErr(t, s.UpdatePatient(c, &stale, alice), ekbom.ErrConflict, "stale update")
	dup := *p
	dup.MRN = "F-2"
	wantErr(t, s.UpdatePatient(c, &dup, alice), ekbom.ErrConflict, "duplicate MRN")
	wantErr(t, s.CreatePatient(c, &ekbom.PatientRecord{Name: "Dup", MRN: "F-1"}, alice), ekbom.ErrConflict, "duplicate MRN")
	staleVisit := *v
	staleVisit.Version = 3
	wantErr(t, s.UpdateVisit(c, &staleVisit, alice), ekbom.ErrConflict, "stale visit")
	wantErr(t, s.CreateVisit(c, &ekbom.Visit{PatientID: "nope", Date: v.Date}, alice), ekbom.ErrNotFound, "visit of unknown patient")
	wantErr(t, s.CreateAssessment(c, &ekbom.Assessment{PatientID: "nope", EngineVersion: "1", KnowledgeVersion: "1",
		Input: []byte(`{}`), Plan: []byte(`{}`)}, alice), ekbom.ErrNotFound, "assessment of unknown patient")
	wantErr(t, s.DeleteVisit(c, "nope", alice), ekbom.ErrNotFound, "delete unknown visit")
	wantErr(t, s.DeletePatient(c, "nope", alice), ekbom.ErrNotFound, "delete unknown patient")

	after, err := s.ListAudit(c, ekbom.AuditFilter{Limit: 1000})
	noErr(t, err, "list")
	if d := diff(before, after); d != "" {
		t.Errorf("failed changes wrote audit entries (-before +after):\n%s", d)
	}
}

func testAuditAppendAndFilter(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	at := time.Date(2026, time.March, 14, 9, 30, 0, 123456000, time.UTC)
	entries := []ekbom.AuditEntry{
		{At: at, Actor: alice, Action: "login", Entity: "session"},
		{At: at.Add(time.Minute), Actor: alice, Action: "view", Entity: "patient", EntityID: "p1"},
		{At: at.Add(2 * time.Minute), Actor: "token:ehr", Action: "export", Entity: "patient", EntityID: "p1", Detail: "format=fhir"},
		{At: at.Add(3 * time.Minute), Actor: bob, Action: "login_failed", Entity: "session", Detail: "bad password"},
		{At: at.Add(4 * time.Minute).In(time.FixedZone("CET", 3600)), Actor: bob, Action: "view", Entity: "patient", EntityID: "p2"},
	}
	for _, e := range entries {
		noErr(t, s.AppendAudit(c, e), "append")
	}
	noErr(t, s.AppendAudit(c, ekbom.AuditEntry{Actor: "system", Action: "delete", Entity: "session", Detail: "expired=3"}), "append without time")

	all, err := s.ListAudit(c, ekbom.AuditFilter{})
	noErr(t, err, "list")
	if len(all) != 6 {
		t.Fatalf("%d entries, want 6", len(all))
	}
	if all[0].Actor != "system" || all[0].At.IsZero() || time.Since(all[0].At) > time.Hour {
		t.Errorf("entry without time: %+v, want it stamped now", all[0])
	}
	for i, want := range entries {
		got := all[len(entries)-i]
		want.ID = got.ID
		if d := diff(want, got); d != "" {
			t.Errorf("entry %d (-want +got):\n%s", i, d)
		}
		if got.At.Location() != time.UTC {
			t.Errorf("entry %d at %v, want UTC", i, got.At)
		}
	}

	for _, tc := range []struct {
		name string
		f    ekbom.AuditFilter
		want []int // indexes into entries, newest first
	}{
		{"actor", ekbom.AuditFilter{Actor: bob}, []int{4, 3}},
		{"entity", ekbom.AuditFilter{Entity: "patient"}, []int{4, 2, 1}},
		{"entity id", ekbom.AuditFilter{Entity: "patient", EntityID: "p1"}, []int{2, 1}},
		{"actor and entity", ekbom.AuditFilter{Actor: alice, Entity: "session"}, []int{0}},
		{"limit", ekbom.AuditFilter{Entity: "patient", Limit: 2}, []int{4, 2}},
		{"none", ekbom.AuditFilter{Actor: "nobody"}, []int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.ListAudit(c, tc.f)
			noErr(t, err, "list")
			want := []auditSummary{}
			for _, i := range tc.want {
				e := entries[i]
				want = append(want, auditSummary{e.Actor, e.Action, e.Entity, e.EntityID})
			}
			if d := diff(want, summarise(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}

	for _, bad := range []ekbom.AuditEntry{
		{Action: "view", Entity: "patient"},
		{Actor: alice, Entity: "patient"},
		{Actor: alice, Action: "view"},
	} {
		wantErr(t, s.AppendAudit(c, bad), ekbom.ErrInvalid, "incomplete entry")
	}
	_, err = s.ListAudit(c, ekbom.AuditFilter{Limit: -1})
	wantErr(t, err, ekbom.ErrInvalid, "negative limit")
}

func testAuditAppendOnly(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Append Only", "")
	noErr(t, s.DeletePatient(c, p.ID, alice), "delete")
	before, err := s.ListAudit(c, ekbom.AuditFilter{})
	noErr(t, err, "list")
	if len(before) != 2 {
		t.Fatalf("%d audit entries, want 2", len(before))
	}
	db := rawDB(t, s)
	for _, stmt := range []string{
		`UPDATE audit_log SET actor = 'mallory'`,
		`UPDATE audit_log SET detail = 'rewritten' WHERE action = 'delete'`,
		`DELETE FROM audit_log`,
		`DELETE FROM audit_log WHERE action = 'create'`,
	} {
		if _, err := db.ExecContext(c, stmt); err == nil {
			t.Errorf("%s: succeeded, want the database to refuse", stmt)
		}
	}
	after, err := s.ListAudit(c, ekbom.AuditFilter{})
	noErr(t, err, "list")
	if d := diff(before, after); d != "" {
		t.Errorf("audit log changed by raw SQL (-before +after):\n%s", d)
	}
}
