package storetest

import (
	"testing"
	"time"

	"ekbom"
)

func testVisitCRUD(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Maja Sand", "V-1")
	v := createVisit(t, s, p.ID, day(2026, time.March, 14))
	checkID(t, v.ID, "visit")
	if v.Version != 1 || v.CreatedBy != alice || v.CreatedAt.IsZero() || !v.UpdatedAt.Equal(v.CreatedAt) {
		t.Fatalf("after create: version %d, created by %q at %v, updated %v", v.Version, v.CreatedBy, v.CreatedAt, v.UpdatedAt)
	}
	got, err := s.GetVisit(c, v.ID)
	noErr(t, err, "get visit")
	want := *v
	want.Data = stored(v.Data)
	if d := diff(&want, got); d != "" {
		t.Fatalf("get after create (-want +got):\n%s", d)
	}

	got.Data.Labs = append(got.Data.Labs, ekbom.Lab{Test: ekbom.Ferritin, Value: 112, Unit: "ng/mL", Date: day(2026, time.March, 13)})
	got.Data.Symptoms.IRLSTotal = ptr(19)
	noErr(t, s.UpdateVisit(c, got, bob), "update visit")
	if got.Version != 2 || got.CreatedBy != alice || !got.CreatedAt.Equal(v.CreatedAt) || !got.UpdatedAt.After(v.UpdatedAt) {
		t.Fatalf("after update: version %d, created by %q at %v, updated %v", got.Version, got.CreatedBy, got.CreatedAt, got.UpdatedAt)
	}
	again, err := s.GetVisit(c, v.ID)
	noErr(t, err, "get after update")
	if d := diff(got, again); d != "" {
		t.Fatalf("get after update (-want +got):\n%s", d)
	}

	stale := *v
	wantErr(t, s.UpdateVisit(c, &stale, bob), ekbom.ErrConflict, "update from stale version")

	// The patient may be left out of an update; it is filled in.
	again.PatientID = ""
	noErr(t, s.UpdateVisit(c, again, bob), "update without patient id")
	if again.PatientID != p.ID || again.Version != 3 {
		t.Errorf("after update without patient: patient %q version %d", again.PatientID, again.Version)
	}

	noErr(t, s.DeleteVisit(c, v.ID, bob), "delete visit")
	_, err = s.GetVisit(c, v.ID)
	wantErr(t, err, ekbom.ErrNotFound, "get deleted visit")
	wantErr(t, s.DeleteVisit(c, v.ID, bob), ekbom.ErrNotFound, "delete twice")
	wantErr(t, s.UpdateVisit(c, again, bob), ekbom.ErrNotFound, "update deleted visit")
	list, err := s.ListVisits(c, p.ID)
	noErr(t, err, "list")
	if len(list) != 0 {
		t.Errorf("list after delete: %d visits", len(list))
	}
}

func testVisitJSONRoundTrip(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Round Trip", "")
	for _, tc := range []struct {
		name string
		data ekbom.Patient
	}{
		{"full", SamplePatient(day(2026, time.February, 2))},
		{"minimal", ekbom.Patient{AsOf: day(2026, time.February, 3), Sex: ekbom.Male}},
		{"zero pointers", ekbom.Patient{
			AsOf: day(2026, time.February, 4), Age: ptr(0), WeightKg: ptr(0.0),
			Symptoms:  ekbom.Symptoms{IRLSTotal: ptr(0), Hyperarousal: ptr(false)},
			Lifestyle: ekbom.Lifestyle{Smoker: ptr(false), SleepHours: ptr(0.1)},
			Labs:      []ekbom.Lab{{Test: ekbom.CRP, Value: 1e-7, Unit: "mg/L", Date: day(2026, time.January, 1)}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &ekbom.Visit{PatientID: p.ID, Date: tc.data.AsOf, Data: tc.data}
			noErr(t, s.CreateVisit(c, v, alice), "create")
			got, err := s.GetVisit(c, v.ID)
			noErr(t, err, "get")
			if d := diff(stored(tc.data), got.Data); d != "" {
				t.Errorf("data (-want +got):\n%s", d)
			}
		})
	}
}

func testVisitDateAndAsOf(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Date Test", "")
	d := day(2026, time.May, 5)

	v := &ekbom.Visit{PatientID: p.ID, Date: d, Data: ekbom.Patient{Sex: ekbom.Female}}
	noErr(t, s.CreateVisit(c, v, alice), "date only")
	if v.Data.AsOf.String() != "2026-05-05" {
		t.Errorf("Data.AsOf = %q, want the visit date", v.Data.AsOf)
	}
	got, err := s.GetVisit(c, v.ID)
	noErr(t, err, "get")
	if got.Date.String() != "2026-05-05" || got.Data.AsOf.String() != "2026-05-05" {
		t.Errorf("stored date %q as_of %q", got.Date, got.Data.AsOf)
	}

	w := &ekbom.Visit{PatientID: p.ID, Data: ekbom.Patient{AsOf: d}}
	noErr(t, s.CreateVisit(c, w, alice), "as_of only")
	if w.Date.String() != "2026-05-05" {
		t.Errorf("Date = %q, want Data.AsOf", w.Date)
	}

	x := &ekbom.Visit{PatientID: p.ID, Date: d, Data: ekbom.Patient{AsOf: d.AddDays(1)}}
	wantErr(t, s.CreateVisit(c, x, alice), ekbom.ErrInvalid, "date and as_of disagree")
	wantErr(t, s.CreateVisit(c, &ekbom.Visit{PatientID: p.ID}, alice), ekbom.ErrInvalid, "no date")
}

func testVisitErrors(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	const missing = "0123456789abcdef0123456789abcdef"
	d := day(2026, time.March, 1)
	wantErr(t, s.CreateVisit(c, &ekbom.Visit{PatientID: missing, Date: d}, alice), ekbom.ErrNotFound, "unknown patient")
	wantErr(t, s.CreateVisit(c, &ekbom.Visit{Date: d}, alice), ekbom.ErrInvalid, "no patient")
	wantErr(t, s.CreateVisit(c, nil, alice), ekbom.ErrInvalid, "nil visit")
	_, err := s.GetVisit(c, missing)
	wantErr(t, err, ekbom.ErrNotFound, "get unknown")
	wantErr(t, s.UpdateVisit(c, &ekbom.Visit{ID: missing, Date: d, Version: 1}, alice), ekbom.ErrNotFound, "update unknown")
	wantErr(t, s.DeleteVisit(c, missing, alice), ekbom.ErrNotFound, "delete unknown")

	p := createPatient(t, s, "Owner", "")
	q := createPatient(t, s, "Someone Else", "")
	v := createVisit(t, s, p.ID, d)
	wantErr(t, s.CreateVisit(c, &ekbom.Visit{PatientID: p.ID, Date: d}, " "), ekbom.ErrInvalid, "no actor")
	moved := *v
	moved.PatientID = q.ID
	wantErr(t, s.UpdateVisit(c, &moved, alice), ekbom.ErrInvalid, "move to another patient")
	list, err := s.ListVisits(c, missing)
	noErr(t, err, "list visits of unknown patient")
	if len(list) != 0 {
		t.Errorf("unknown patient has %d visits", len(list))
	}
}

func testListVisitsOrder(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Order Test", "")
	other := createPatient(t, s, "Other", "")
	may := createVisit(t, s, p.ID, day(2026, time.May, 1))
	jan := createVisit(t, s, p.ID, day(2026, time.January, 15))
	createVisit(t, s, other.ID, day(2026, time.February, 1))
	mar := createVisit(t, s, p.ID, day(2026, time.March, 10))
	jan2 := createVisit(t, s, p.ID, day(2026, time.January, 15)) // same day, created later
	dec := createVisit(t, s, p.ID, day(2025, time.December, 31))

	got, err := s.ListVisits(c, p.ID)
	noErr(t, err, "list")
	var ids, want []string
	for _, v := range got {
		ids = append(ids, v.ID)
	}
	for _, v := range []*ekbom.Visit{dec, jan, jan2, mar, may} {
		want = append(want, v.ID)
	}
	if d := diff(want, ids); d != "" {
		t.Errorf("visit order (-want +got):\n%s", d)
	}
	wantFirst := *dec
	wantFirst.Data = stored(dec.Data)
	if d := diff(wantFirst, got[0]); d != "" {
		t.Errorf("listed visit (-want +got):\n%s", d)
	}
}
