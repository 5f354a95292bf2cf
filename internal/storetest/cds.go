package storetest

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"ekbom"
)

// sampleBatch is a patient-view batch with two cards and a plan.
func sampleBatch(id string) ekbom.CardBatch {
	return ekbom.CardBatch{
		ID:               id,
		ServiceID:        "ekbom-rls-patient-view",
		Hook:             "patient-view",
		HookInstance:     "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
		PatientRef:       "Patient/1288992",
		Actor:            "cds:https://ehr.example",
		EngineVersion:    "0.1.0",
		KnowledgeVersion: "2026.11.1",
		Cards: []ekbom.CardServed{
			{UUID: "0b6c4c6e-0000-8000-8000-000000000001", Summary: "Dopaminergic augmentation on pramipexole: do not increase the dose", Indicator: ekbom.IndicatorCritical},
			{UUID: "0b6c4c6e-0000-8000-8000-000000000002", Summary: "RLS plan: not yet refractory", Indicator: ekbom.IndicatorInfo},
		},
		Plan: json.RawMessage(`{"status":"not_yet_refractory","warnings":[{"code":"augmentation"}]}`),
	}
}

func testCardsServed(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	b := sampleBatch("0123456789abcdef0123456789abcdef")
	noErr(t, s.SaveCardsServed(c, b), "save batch")
	got, err := s.GetCardBatch(c, b.ID)
	noErr(t, err, "get batch")
	if got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC || time.Since(got.CreatedAt) > time.Hour {
		t.Errorf("created at %v, want about now in UTC", got.CreatedAt)
	}
	want := b
	want.CreatedAt = got.CreatedAt
	if !json.Valid(got.Plan) {
		t.Fatalf("plan %q is not JSON", got.Plan)
	}
	var wp, gp any
	json.Unmarshal(b.Plan, &wp)
	json.Unmarshal(got.Plan, &gp)
	if d := diff(wp, gp); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	want.Plan, got.Plan = nil, nil
	if d := diff(want, *got); d != "" {
		t.Errorf("batch (-want +got):\n%s", d)
	}

	// The same ID again is a conflict and changes nothing.
	again := sampleBatch(b.ID)
	again.Cards = again.Cards[:1]
	wantErr(t, s.SaveCardsServed(c, again), ekbom.ErrConflict, "duplicate batch")
	if got, _ := s.GetCardBatch(c, b.ID); got == nil || len(got.Cards) != 2 {
		t.Errorf("duplicate batch changed the stored one: %+v", got)
	}

	// An order check has no plan and may have no cards.
	order := sampleBatch("fedcba9876543210fedcba9876543210")
	order.ServiceID, order.Hook, order.Plan, order.Cards = "ekbom-rls-order-sign", "order-sign", nil, nil
	noErr(t, s.SaveCardsServed(c, order), "save order batch")
	got, err = s.GetCardBatch(c, order.ID)
	noErr(t, err, "get order batch")
	if got.Plan != nil || len(got.Cards) != 0 {
		t.Errorf("order batch: plan %q, %d cards; want none", got.Plan, len(got.Cards))
	}

	_, err = s.GetCardBatch(c, "00000000000000000000000000000000")
	wantErr(t, err, ekbom.ErrNotFound, "unknown batch")

	// Every batch is audited, with versions and no clinical text.
	audit, err := s.ListAudit(c, ekbom.AuditFilter{Entity: "cds"})
	noErr(t, err, "list audit")
	if len(audit) != 2 {
		t.Fatalf("%d cds audit entries, want 2: %+v", len(audit), audit)
	}
	e := audit[1]
	if e.Action != "serve" || e.EntityID != b.ID || e.Actor != b.Actor {
		t.Errorf("audit entry %+v", e)
	}
	for _, part := range []string{"hook=patient-view", "instance=" + b.HookInstance, "engine=0.1.0", "kb=2026.11.1", "cards=2"} {
		if !strings.Contains(e.Detail, part) {
			t.Errorf("audit detail %q lacks %q", e.Detail, part)
		}
	}
	for _, secret := range []string{"pramipexole", "augmentation", "1288992", "refractory"} {
		if strings.Contains(strings.ToLower(e.Detail), secret) {
			t.Errorf("audit detail %q holds clinical data %q", e.Detail, secret)
		}
	}
}

func testCardsServedInvalid(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	for name, mutate := range map[string]func(*ekbom.CardBatch){
		"no id":         func(b *ekbom.CardBatch) { b.ID = "" },
		"bad id":        func(b *ekbom.CardBatch) { b.ID = "not-hex" },
		"no hook":       func(b *ekbom.CardBatch) { b.Hook = "" },
		"no instance":   func(b *ekbom.CardBatch) { b.HookInstance = " " },
		"no actor":      func(b *ekbom.CardBatch) { b.Actor = "" },
		"no kb version": func(b *ekbom.CardBatch) { b.KnowledgeVersion = "" },
		"bad indicator": func(b *ekbom.CardBatch) { b.Cards[0].Indicator = "hard-stop" },
		"no summary":    func(b *ekbom.CardBatch) { b.Cards[1].Summary = "" },
		"bad plan":      func(b *ekbom.CardBatch) { b.Plan = json.RawMessage(`{`) },
	} {
		b := sampleBatch("abcdefabcdefabcdefabcdefabcdef01")
		mutate(&b)
		wantErr(t, s.SaveCardsServed(c, b), ekbom.ErrInvalid, name)
	}
	_, err := s.GetCardBatch(c, "abcdefabcdefabcdefabcdefabcdef01")
	wantErr(t, err, ekbom.ErrNotFound, "invalid batches store nothing")
	audit, err := s.ListAudit(c, ekbom.AuditFilter{Entity: "cds"})
	noErr(t, err, "list audit")
	if len(audit) != 0 {
		t.Errorf("invalid batches wrote %d audit entries", len(audit))
	}
}

func sampleFeedback(at time.Time) ekbom.Feedback {
	return ekbom.Feedback{
		ServiceID:       "ekbom-rls-order-sign",
		CardUUID:        "0b6c4c6e-0000-8000-8000-000000000001",
		Outcome:         ekbom.FeedbackOverridden,
		OverrideSystem:  "http://example.org/cds-services/fhir/CodeSystem/override-reasons",
		OverrideCode:    "benefit-outweighs-risk",
		OverrideDisplay: "Benefit outweighs the risk for this patient",
		UserComment:     "discussed with the sleep clinic",
		OutcomeAt:       at,
		Actor:           "cds:https://ehr.example",
	}
}

func testFeedbackIdempotent(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	at := time.Date(2026, time.November, 20, 14, 3, 7, 123456000, time.UTC)
	f := sampleFeedback(at)
	created, err := s.SaveFeedback(c, f)
	noErr(t, err, "save feedback")
	if !created {
		t.Fatal("first save: created false")
	}
	// The same feedback again, in another zone, is the same instant: not stored twice.
	again := f
	again.OutcomeAt = at.In(time.FixedZone("EST", -5*3600))
	again.UserComment = "resent"
	created, err = s.SaveFeedback(c, again)
	noErr(t, err, "save again")
	if created {
		t.Error("second save of the same feedback: created true")
	}
	accepted := ekbom.Feedback{
		ServiceID: f.ServiceID, CardUUID: f.CardUUID, Outcome: ekbom.FeedbackAccepted,
		AcceptedSuggestions: []string{"5c1e0f3e-0000-8000-8000-00000000000a"},
		OutcomeAt:           at.Add(time.Minute), Actor: f.Actor,
	}
	created, err = s.SaveFeedback(c, accepted)
	noErr(t, err, "save accepted")
	if !created {
		t.Error("accepted feedback on the same card: created false")
	}
	other := f
	other.ServiceID = "ekbom-rls-order-select"
	if created, err := s.SaveFeedback(c, other); err != nil || !created {
		t.Errorf("same card under another service: created %v, %v", created, err)
	}

	list, err := s.ListFeedback(c, f.ServiceID, 0)
	noErr(t, err, "list feedback")
	if len(list) != 2 {
		t.Fatalf("%d feedback entries, want 2: %+v", len(list), list)
	}
	for i := range list {
		if list[i].ID <= 0 || list[i].ReceivedAt.IsZero() || list[i].OutcomeAt.Location() != time.UTC {
			t.Errorf("entry %d: %+v", i, list[i])
		}
	}
	wantAcc, wantOver := accepted, f
	wantAcc.ID, wantAcc.ReceivedAt = list[0].ID, list[0].ReceivedAt
	wantOver.ID, wantOver.ReceivedAt = list[1].ID, list[1].ReceivedAt
	if d := diff([]ekbom.Feedback{wantAcc, wantOver}, list); d != "" {
		t.Errorf("feedback, newest first (-want +got):\n%s", d)
	}
	if got, _ := s.ListFeedback(c, f.ServiceID, 1); len(got) != 1 || got[0].Outcome != ekbom.FeedbackAccepted {
		t.Errorf("limit 1: %+v", got)
	}
	if got, _ := s.ListFeedback(c, "no-such-service", 0); len(got) != 0 {
		t.Errorf("unknown service: %+v", got)
	}
	_, err = s.ListFeedback(c, f.ServiceID, -1)
	wantErr(t, err, ekbom.ErrInvalid, "negative limit")

	audit, err := s.ListAudit(c, ekbom.AuditFilter{Entity: "cds"})
	noErr(t, err, "list audit")
	if len(audit) != 3 {
		t.Errorf("%d cds audit entries, want 3 (one per feedback stored): %+v", len(audit), audit)
	}
	for _, e := range audit {
		if e.Action != "feedback" || strings.Contains(e.Detail, "sleep clinic") {
			t.Errorf("audit entry %+v", e)
		}
	}

	for name, bad := range map[string]ekbom.Feedback{
		"no card":         {ServiceID: "s", Outcome: ekbom.FeedbackOverridden, OutcomeAt: at, Actor: "a"},
		"bad outcome":     {ServiceID: "s", CardUUID: "c", Outcome: "ignored", OutcomeAt: at, Actor: "a"},
		"no time":         {ServiceID: "s", CardUUID: "c", Outcome: ekbom.FeedbackOverridden, Actor: "a"},
		"accepted, empty": {ServiceID: "s", CardUUID: "c", Outcome: ekbom.FeedbackAccepted, OutcomeAt: at, Actor: "a"},
		"no actor":        {ServiceID: "s", CardUUID: "c", Outcome: ekbom.FeedbackOverridden, OutcomeAt: at},
	} {
		_, err := s.SaveFeedback(c, bad)
		wantErr(t, err, ekbom.ErrInvalid, name)
	}
}

// testFeedbackConcurrent sends the same feedback from many goroutines at
// once: exactly one is stored.
func testFeedbackConcurrent(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	f := sampleFeedback(time.Date(2026, time.November, 21, 8, 0, 0, 0, time.UTC))
	const n = 8
	var wg sync.WaitGroup
	results := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.SaveFeedback(c, f)
		}()
	}
	wg.Wait()
	stored := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("save %d: %v", i, errs[i])
		}
		if results[i] {
			stored++
		}
	}
	if stored != 1 {
		t.Errorf("%d saves reported created, want 1", stored)
	}
	list, err := s.ListFeedback(c, f.ServiceID, 0)
	noErr(t, err, "list")
	if len(list) != 1 {
		t.Errorf("%d stored, want 1", len(list))
	}
}

// testTokenIDs: a CDS Hooks token id is claimed once until it expires, then
// may be claimed again; concurrent claims of one id (replicas receiving the
// same replayed token) let exactly one through.
func testTokenIDs(t *testing.T, s ekbom.Store) {
	c := ctx(t)
	now := time.Now()
	later := now.Add(5 * time.Minute)
	id := "https://ehr.example\x00jti-1"
	ok, err := s.ClaimTokenID(c, id, later, now)
	noErr(t, err, "claim")
	if !ok {
		t.Fatal("a new id was refused")
	}
	ok, err = s.ClaimTokenID(c, id, later, now)
	noErr(t, err, "claim again")
	if ok {
		t.Error("a replayed id was accepted")
	}
	// The same jti from another issuer is another token.
	ok, err = s.ClaimTokenID(c, "https://other.example\x00jti-1", later, now)
	noErr(t, err, "claim other issuer")
	if !ok {
		t.Error("the same jti of another issuer was refused")
	}
	// An expired id may be claimed again (and is then held anew).
	old := "https://ehr.example\x00jti-old"
	ok, err = s.ClaimTokenID(c, old, now.Add(-time.Second), now)
	noErr(t, err, "claim expired")
	if !ok {
		t.Fatal("first claim refused")
	}
	ok, err = s.ClaimTokenID(c, old, later, now)
	noErr(t, err, "reclaim expired")
	if !ok {
		t.Error("an expired id could not be claimed again")
	}
	if ok, _ = s.ClaimTokenID(c, old, later, now); ok {
		t.Error("a reclaimed id was accepted a third time")
	}
	if _, err := s.ClaimTokenID(c, "", later, now); !errors.Is(err, ekbom.ErrInvalid) {
		t.Errorf("empty id: %v, want ErrInvalid", err)
	}
	// Concurrent claims of one id: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, errs := 0, 0
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.ClaimTokenID(c, "https://ehr.example\x00jti-race", later, now)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
			}
			if ok {
				wins++
			}
		}()
	}
	wg.Wait()
	if wins != 1 || errs != 0 {
		t.Errorf("16 concurrent claims: %d accepted, %d errors; want 1 and 0", wins, errs)
	}
}
