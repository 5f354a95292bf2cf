package storetest

import (
	"fmt"
	"testing"
	"time"

	"ekbom"
)

func testPatientCRUD(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Ingrid Holm", "MRN-1001")
	checkID(t, p.ID, "patient")
	if p.Version != 1 || p.CreatedAt.IsZero() || !p.UpdatedAt.Equal(p.CreatedAt) {
		t.Fatalf("after create: version %d, created %v, updated %v; want 1 and equal non-zero times", p.Version, p.CreatedAt, p.UpdatedAt)
	}
	got, err := s.GetPatient(c, p.ID)
	noErr(t, err, "get patient")
	if d := diff(p, got); d != "" {
		t.Fatalf("get after create (-want +got):\n%s", d)
	}

	got.Name = "Ingrid Holm-Berg"
	got.Notes = "moved to the north clinic"
	got.BirthDate = nil
	got.MRN = ""
	noErr(t, s.UpdatePatient(c, got, bob), "update patient")
	if got.Version != 2 || !got.UpdatedAt.After(got.CreatedAt) || !got.CreatedAt.Equal(p.CreatedAt) {
		t.Fatalf("after update: version %d, created %v, updated %v", got.Version, got.CreatedAt, got.UpdatedAt)
	}
	again, err := s.GetPatient(c, p.ID)
	noErr(t, err, "get patient after update")
	if d := diff(got, again); d != "" {
		t.Fatalf("get after update (-want +got):\n%s", d)
	}

	noErr(t, s.DeletePatient(c, p.ID, bob), "delete patient")
	_, err = s.GetPatient(c, p.ID)
	wantErr(t, err, ekbom.ErrNotFound, "get deleted patient")
	wantErr(t, s.DeletePatient(c, p.ID, bob), ekbom.ErrNotFound, "delete patient twice")
}

func testPatientValidation(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	wantErr(t, s.CreatePatient(c, &ekbom.PatientRecord{Name: "  "}, alice), ekbom.ErrInvalid, "blank name")
	wantErr(t, s.CreatePatient(c, &ekbom.PatientRecord{Name: "X", Sex: "other"}, alice), ekbom.ErrInvalid, "unknown sex")
	wantErr(t, s.CreatePatient(c, &ekbom.PatientRecord{Name: "X"}, ""), ekbom.ErrInvalid, "no actor")
	wantErr(t, s.CreatePatient(c, nil, alice), ekbom.ErrInvalid, "nil patient")

	p := &ekbom.PatientRecord{Name: "  Sven Ek  ", MRN: " MRN-7 "}
	noErr(t, s.CreatePatient(c, p, alice), "create patient with spaces")
	if p.Name != "Sven Ek" || p.MRN != "MRN-7" {
		t.Errorf("name %q, MRN %q: want them trimmed", p.Name, p.MRN)
	}
	got, err := s.GetPatient(c, p.ID)
	noErr(t, err, "get patient")
	if d := diff(p, got); d != "" {
		t.Errorf("get (-want +got):\n%s", d)
	}
	p.Name = ""
	wantErr(t, s.UpdatePatient(c, p, alice), ekbom.ErrInvalid, "update to blank name")
	p.Name = "Sven Ek"
	wantErr(t, s.UpdatePatient(c, p, ""), ekbom.ErrInvalid, "update without actor")
	_, err = s.ListPatients(c, ekbom.PatientFilter{Limit: -1})
	wantErr(t, err, ekbom.ErrInvalid, "negative limit")
	_, err = s.ListPatients(c, ekbom.PatientFilter{Offset: -1})
	wantErr(t, err, ekbom.ErrInvalid, "negative offset")
}

func testPatientVersionConflict(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Karin Lind", "")
	first, err := s.GetPatient(c, p.ID)
	noErr(t, err, "get")
	second := *first

	first.Notes = "first edit"
	noErr(t, s.UpdatePatient(c, first, alice), "first update")
	second.Notes = "second edit, from a stale copy"
	wantErr(t, s.UpdatePatient(c, &second, bob), ekbom.ErrConflict, "update from a stale version")
	if second.Version != 1 {
		t.Errorf("a failed update changed Version to %d", second.Version)
	}
	got, err := s.GetPatient(c, p.ID)
	noErr(t, err, "get")
	if got.Notes != "first edit" || got.Version != 2 {
		t.Errorf("after conflict: notes %q version %d, want the first edit at version 2", got.Notes, got.Version)
	}
	future := *got
	future.Version = 9
	wantErr(t, s.UpdatePatient(c, &future, bob), ekbom.ErrConflict, "update naming a future version")
}

func testPatientDuplicateMRN(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	a := createPatient(t, s, "Astrid Nyberg", "A-100")
	wantErr(t, s.CreatePatient(c, &ekbom.PatientRecord{Name: "Other", MRN: "A-100"}, alice), ekbom.ErrConflict, "same MRN")
	wantErr(t, s.CreatePatient(c, &ekbom.PatientRecord{Name: "Other", MRN: "a-100"}, alice), ekbom.ErrConflict, "same MRN in other case")
	// Without an MRN there is nothing to clash.
	createPatient(t, s, "No MRN One", "")
	createPatient(t, s, "No MRN Two", "")

	b := createPatient(t, s, "Bertil Nyberg", "B-200")
	b.MRN = "A-100"
	wantErr(t, s.UpdatePatient(c, b, alice), ekbom.ErrConflict, "update to a used MRN")
	got, err := s.GetPatient(c, b.ID)
	noErr(t, err, "get")
	if got.MRN != "B-200" || got.Version != 1 {
		t.Errorf("after failed update: MRN %q version %d, want B-200 at version 1", got.MRN, got.Version)
	}
	// Freed MRNs can be reused.
	noErr(t, s.DeletePatient(c, a.ID, alice), "delete")
	b.MRN, b.Version = "A-100", 1
	noErr(t, s.UpdatePatient(c, b, alice), "take over a freed MRN")
}

func testPatientNotFound(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	const missing = "0123456789abcdef0123456789abcdef"
	_, err := s.GetPatient(c, missing)
	wantErr(t, err, ekbom.ErrNotFound, "get")
	wantErr(t, s.UpdatePatient(c, &ekbom.PatientRecord{ID: missing, Name: "X", Version: 1}, alice), ekbom.ErrNotFound, "update")
	wantErr(t, s.DeletePatient(c, missing, alice), ekbom.ErrNotFound, "delete")
	_, err = s.GetPatient(c, "")
	wantErr(t, err, ekbom.ErrNotFound, "get empty id")
}

func testListPatientsSearch(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	for _, p := range []struct{ name, mrn string }{
		{"Anna Berg", "K-0001"},
		{"anders Lund", "K-0002"},
		{"Björn Ölund", "X-77"},
		{"Clara Ek", ""},
		{"Dan 100% Sure", "k_9"},
	} {
		createPatient(t, s, p.name, p.mrn)
	}
	names := func(ps []ekbom.PatientRecord) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Name)
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", []string{"anders Lund", "Anna Berg", "Björn Ölund", "Clara Ek", "Dan 100% Sure"}},
		{"an", []string{"anders Lund", "Anna Berg", "Dan 100% Sure"}},
		{"ANNA", []string{"Anna Berg"}},
		{"  berg ", []string{"Anna Berg"}},
		{"ÖLUND", []string{"Björn Ölund"}}, // case folding beyond ASCII
		{"lund", []string{"anders Lund", "Björn Ölund"}},
		{"k-000", []string{"anders Lund", "Anna Berg"}}, // MRN, case-insensitive
		{"x-77", []string{"Björn Ölund"}},
		{"%", []string{"Dan 100% Sure"}}, // wildcards match themselves
		{"_", []string{"Dan 100% Sure"}},
		{"k_", []string{"Dan 100% Sure"}},
		{"nobody", []string{}},
	} {
		t.Run(fmt.Sprintf("%q", tc.query), func(t *testing.T) {
			got, err := s.ListPatients(c, ekbom.PatientFilter{Query: tc.query})
			noErr(t, err, "list")
			if d := diff(tc.want, names(got)); d != "" {
				t.Errorf("names (-want +got):\n%s", d)
			}
		})
	}
}

func testListPatientsPaging(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	var all []*ekbom.PatientRecord
	for i := range 7 {
		all = append(all, createPatient(t, s, fmt.Sprintf("Patient %02d", i), fmt.Sprintf("P-%d", i)))
	}
	for _, tc := range []struct {
		limit, offset int
		want          []int // indexes into all
	}{
		{0, 0, []int{0, 1, 2, 3, 4, 5, 6}},
		{3, 0, []int{0, 1, 2}},
		{3, 3, []int{3, 4, 5}},
		{3, 6, []int{6}},
		{3, 7, []int{}},
		{100, 5, []int{5, 6}},
	} {
		got, err := s.ListPatients(c, ekbom.PatientFilter{Limit: tc.limit, Offset: tc.offset})
		noErr(t, err, "list")
		want := []ekbom.PatientRecord{}
		for _, i := range tc.want {
			want = append(want, *all[i])
		}
		if d := diff(want, got); d != "" {
			t.Errorf("limit %d offset %d (-want +got):\n%s", tc.limit, tc.offset, d)
		}
	}
	got, err := s.ListPatients(c, ekbom.PatientFilter{Query: "patient", Limit: 2, Offset: 1})
	noErr(t, err, "list with query")
	if len(got) != 2 || got[0].ID != all[1].ID || got[1].ID != all[2].ID {
		t.Errorf("query with paging: got %d patients, want patients 1 and 2", len(got))
	}
}

func testTimesUTC(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Zone Test", "")
	got, err := s.GetPatient(c, p.ID)
	noErr(t, err, "get")
	for name, tm := range map[string]time.Time{"created": got.CreatedAt, "updated": got.UpdatedAt, "returned": p.CreatedAt} {
		if tm.Location() != time.UTC {
			t.Errorf("%s time %v is in %v, want UTC", name, tm, tm.Location())
		}
		if tm.Nanosecond()%1000 != 0 {
			t.Errorf("%s time %v has sub-microsecond precision the databases cannot keep", name, tm)
		}
	}
	if !got.CreatedAt.Equal(p.CreatedAt) {
		t.Errorf("stored created %v, returned %v", got.CreatedAt, p.CreatedAt)
	}
	if time.Since(got.CreatedAt) > time.Hour || time.Since(got.CreatedAt) < -time.Minute {
		t.Errorf("created %v is not now", got.CreatedAt)
	}
}
