package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"ekbom"
)

// testConcurrentCreates has 8 writers create 25 patients each, with a visit
// each, at once: every one must be stored, once.
func testConcurrentCreates(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	const writers, each = 8, 25
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ids  = map[string]bool{}
		errs []error
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p := &ekbom.PatientRecord{Name: fmt.Sprintf("Writer %d patient %02d", w, i), MRN: fmt.Sprintf("W%d-%d", w, i)}
				err := s.CreatePatient(c, p, fmt.Sprintf("writer%d", w))
				if err == nil {
					err = s.CreateVisit(c, &ekbom.Visit{PatientID: p.ID, Date: day(2026, time.March, 1+i)}, fmt.Sprintf("writer%d", w))
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					ids[p.ID] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent creates failed:\n%v", err)
	}
	if len(ids) != writers*each {
		t.Fatalf("%d distinct patient IDs, want %d", len(ids), writers*each)
	}
	list, err := s.ListPatients(c, ekbom.PatientFilter{Limit: 1000})
	noErr(t, err, "list")
	if len(list) != writers*each {
		t.Fatalf("listed %d patients, want %d", len(list), writers*each)
	}
	for _, p := range list {
		if !ids[p.ID] {
			t.Errorf("unexpected patient %s", p.ID)
		}
		vs, err := s.ListVisits(c, p.ID)
		noErr(t, err, "list visits")
		if len(vs) != 1 {
			t.Errorf("patient %s has %d visits, want 1", p.ID, len(vs))
		}
	}
	for _, entity := range []string{"patient", "visit"} {
		audit, err := s.ListAudit(c, ekbom.AuditFilter{Entity: entity, Limit: 1000})
		noErr(t, err, "list audit")
		if len(audit) != writers*each {
			t.Errorf("%d %s audit entries, want %d", len(audit), entity, writers*each)
		}
	}
}

// testConcurrentUpdates has 8 writers update the same version of a patient at
// once: exactly one wins, the others get ErrConflict.
func testConcurrentUpdates(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	p := createPatient(t, s, "Contended", "")
	const writers = 8
	results := make(chan error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mine := *p
			mine.Notes = fmt.Sprintf("edit by writer %d", w)
			results <- s.UpdatePatient(c, &mine, fmt.Sprintf("writer%d", w))
		}()
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case errors.Is(err, ekbom.ErrConflict):
		default:
			t.Errorf("update: %v, want nil or ErrConflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d updates of version 1 succeeded, want exactly 1", won)
	}
	got, err := s.GetPatient(c, p.ID)
	noErr(t, err, "get")
	if got.Version != 2 {
		t.Errorf("version %d, want 2", got.Version)
	}
	audit, err := s.ListAudit(c, ekbom.AuditFilter{Entity: "patient", EntityID: p.ID})
	noErr(t, err, "list audit")
	if len(audit) != 2 {
		t.Errorf("%d audit entries, want 2 (create and one update)", len(audit))
	}
}
