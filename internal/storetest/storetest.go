// Package storetest is the contract suite of ekbom.Store: one set of tests
// that every implementation must pass. internal/sqlite runs it on a fresh
// database file per test, internal/postgres on a fresh schema per test.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"testing"
	"time"

	"ekbom"

	"github.com/google/go-cmp/cmp"
)

// Run runs the contract suite. newStore must return an empty store of its
// own (a fresh database or schema) and close it with t.Cleanup. Subtests run
// in parallel.
func Run(t *testing.T, newStore func(t *testing.T) ekbom.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ekbom.Store)
	}{
		{"Ping", testPing},
		{"PatientCRUD", testPatientCRUD},
		{"PatientValidation", testPatientValidation},
		{"PatientVersionConflict", testPatientVersionConflict},
		{"PatientDuplicateMRN", testPatientDuplicateMRN},
		{"PatientNotFound", testPatientNotFound},
		{"ListPatientsSearch", testListPatientsSearch},
		{"ListPatientsPaging", testListPatientsPaging},
		{"VisitCRUD", testVisitCRUD},
		{"VisitJSONRoundTrip", testVisitJSONRoundTrip},
		{"VisitDateAndAsOf", testVisitDateAndAsOf},
		{"VisitErrors", testVisitErrors},
		{"ListVisitsOrder", testListVisitsOrder},
		{"AssessmentCreateGetList", testAssessmentCreateGetList},
		{"AssessmentRawJSONImmutable", testAssessmentRawJSONImmutable},
		{"AssessmentErrors", testAssessmentErrors},
		{"AssessmentOutlivesVisit", testAssessmentOutlivesVisit},
		{"AuditOfChanges", testAuditOfChanges},
		{"AuditNoClinicalData", testAuditNoClinicalData},
		{"AuditFailedChangeWritesNothing", testAuditFailedChangeWritesNothing},
		{"AuditAppendAndFilter", testAuditAppendAndFilter},
		{"AuditAppendOnly", testAuditAppendOnly},
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"APITokens", testAPITokens},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"DeletePatientCascade", testDeletePatientCascade},
		{"TimesUTC", testTimesUTC},
		{"CardsServed", testCardsServed},
		{"CardsServedInvalid", testCardsServedInvalid},
		{"FeedbackIdempotent", testFeedbackIdempotent},
		{"FeedbackConcurrent", testFeedbackConcurrent},
		{"TokenIDs", testTokenIDs},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

// ctx returns a context for one test, cancelled when it ends.
func ctx(t *testing.T) context.Context {
	t.Helper()
	return t.Context()
}

// Actors used in the fixtures.
const (
	alice = "alice"
	bob   = "bob"
)

// day returns a fixed date.
func day(y int, m time.Month, d int) ekbom.Date { return ekbom.DateOf(y, m, d) }

// opts compare domain values: dates by value, times by instant.
var opts = cmp.Options{
	cmp.Comparer(func(a, b ekbom.Date) bool { return a.String() == b.String() }),
}

func diff(want, got any) string { return cmp.Diff(want, got, opts) }

// wantErr fails the test unless err matches target with errors.Is.
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// noErr fails the test on an error.
func noErr(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func checkID(t *testing.T, id, what string) {
	t.Helper()
	if !hexID.MatchString(id) {
		t.Errorf("%s ID = %q, want 32 lowercase hex digits", what, id)
	}
}

// createPatient stores a patient record and returns it.
func createPatient(t *testing.T, s ekbom.Store, name, mrn string) *ekbom.PatientRecord {
	t.Helper()
	birth := day(1962, time.April, 3)
	p := &ekbom.PatientRecord{MRN: mrn, Name: name, BirthDate: &birth, Sex: ekbom.Female, Notes: "referred by GP"}
	noErr(t, s.CreatePatient(ctx(t), p, alice), "create patient "+name)
	return p
}

// createVisit stores a visit of the sample patient on date d.
func createVisit(t *testing.T, s ekbom.Store, patientID string, d ekbom.Date) *ekbom.Visit {
	t.Helper()
	v := &ekbom.Visit{PatientID: patientID, Date: d, Data: SamplePatient(d)}
	noErr(t, s.CreateVisit(ctx(t), v, alice), "create visit")
	return v
}

// createAssessment stores an assessment of a patient.
func createAssessment(t *testing.T, s ekbom.Store, patientID, visitID string) *ekbom.Assessment {
	t.Helper()
	a := &ekbom.Assessment{
		PatientID:        patientID,
		VisitID:          visitID,
		EngineVersion:    "0.1.0",
		KnowledgeVersion: "2026.11",
		Input:            []byte(`{"age": 62, "sex": "female", "labs": [{"test": "ferritin", "value": 45, "unit": "ng/mL", "date": "2026-03-01"}]}`),
		Plan:             []byte(`{"summary":"start iron","recommendations":[{"id":"iron.oral","grade":"B"}]}`),
	}
	noErr(t, s.CreateAssessment(ctx(t), a, bob), "create assessment")
	return a
}

// createUser stores a clinician.
func createUser(t *testing.T, s ekbom.Store, username string) *ekbom.User {
	t.Helper()
	u := &ekbom.User{Username: username, Name: "Dr " + username, Role: ekbom.RoleClinician, PasswordHash: "$argon2id$v=19$fixture"}
	noErr(t, s.CreateUser(ctx(t), u), "create user "+username)
	return u
}

// rawDB returns the *sql.DB behind s, for checks that go around the store
// (triggers that refuse changes). Stores without one skip the test.
func rawDB(t *testing.T, s ekbom.Store) *sql.DB {
	t.Helper()
	h, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		t.Skipf("%T has no DB() *sql.DB method: raw-SQL checks skipped", s)
	}
	return h.DB()
}

func testPing(t *testing.T, s ekbom.Store) {
	noErr(t, s.Ping(ctx(t)), "ping")
}
