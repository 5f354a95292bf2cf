package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"ekbom"
	"ekbom/internal/postgres"
	"ekbom/internal/sqlite"
	"ekbom/internal/sqlstore"

	"github.com/google/go-cmp/cmp"
)

// The tests and benchmarks of this file run on SQLite always and on
// PostgreSQL when EKBOM_TEST_POSTGRES_DSN is set (start a throwaway server
// with: eval "$(scripts/pg-test-server.sh)").

// backend opens a fresh store of one database.
type backend struct {
	name string
	open func(tb testing.TB) *sqlstore.Store
}

func backends(tb testing.TB) []backend {
	bs := []backend{{"sqlite", openSQLite}}
	if os.Getenv("EKBOM_TEST_POSTGRES_DSN") != "" {
		bs = append(bs, backend{"postgres", openPostgres})
	} else if os.Getenv("CI") == "true" {
		tb.Fatal("CI=true but EKBOM_TEST_POSTGRES_DSN is empty: CI must run the store tests on PostgreSQL")
	}
	return bs
}

// openSQLite opens a store on a fresh database file.
func openSQLite(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	s, err := sqlite.Open(filepath.Join(tb.TempDir(), "ekbom.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

// openPostgres opens a store on a fresh schema, dropped when the test ends.
func openPostgres(tb testing.TB) *sqlstore.Store {
	tb.Helper()
	base := os.Getenv("EKBOM_TEST_POSTGRES_DSN")
	var b [8]byte
	rand.Read(b[:])
	schema := "ekbom_test_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := admin.ExecContext(context.Background(), "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	dsn := base + " search_path=" + schema
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			tb.Fatalf("EKBOM_TEST_POSTGRES_DSN: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() }) // before the schema is dropped
	return s
}

// realisticPlan is a plan of about the size patient-view stores (27 KB of
// compact JSON).
func realisticPlan(tb testing.TB) json.RawMessage {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vignettes", "38-very-severe-augmentation-opioid", "plan.golden.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// batch returns a patient-view batch with six cards, like the realistic
// patient-view call, with an ID derived from n.
func batch(n int64, plan json.RawMessage) ekbom.CardBatch {
	b := ekbom.CardBatch{
		ID:               fmt.Sprintf("%032x", n),
		ServiceID:        "ekbom-rls-patient-view",
		Hook:             "patient-view",
		HookInstance:     fmt.Sprintf("0e4f8c2a-7d1b-4f3e-9c6a-%012x", n),
		PatientRef:       "Patient/1288992",
		Actor:            "cds:https://ehr.example",
		EngineVersion:    "0.1.0",
		KnowledgeVersion: "2026.11.1",
		Plan:             plan,
	}
	for i, ind := range []string{ekbom.IndicatorWarning, ekbom.IndicatorWarning, ekbom.IndicatorWarning, ekbom.IndicatorInfo, ekbom.IndicatorInfo, ekbom.IndicatorInfo} {
		b.Cards = append(b.Cards, ekbom.CardServed{
			UUID:      fmt.Sprintf("0b6c4c6e-0000-8000-8000-%012x", n*8+int64(i)),
			Summary:   strings.Repeat("Dopaminergic augmentation: do not increase the dose. ", 2)[:80+5*i],
			Indicator: ind,
		})
	}
	return b
}

// BenchmarkSaveCardsServed stores a realistic patient-view batch (six
// cards, a 27 KB plan, the audit entry): one caller at a time, and from
// parallel callers (b.RunParallel, 8 goroutines per core), as a busy
// patient-view service does.
func BenchmarkSaveCardsServed(b *testing.B) {
	plan := realisticPlan(b)
	for _, be := range backends(b) {
		b.Run(be.name, func(b *testing.B) {
			s := be.open(b)
			var n atomic.Int64
			b.ReportAllocs()
			for b.Loop() {
				if err := s.SaveCardsServed(b.Context(), batch(n.Add(1), plan)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(be.name+"-parallel", func(b *testing.B) {
			s := be.open(b)
			var n atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := s.SaveCardsServed(context.Background(), batch(n.Add(1), plan)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestCardsServedManyCards stores batches of 0 to 19 cards, which take one
// to three multi-row INSERTs, and reads them back in order.
func TestCardsServedManyCards(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := be.open(t)
			ctx := t.Context()
			for _, n := range []int{0, 1, 7, 8, 9, 16, 19} {
				b := batch(int64(1000+n), nil)
				b.Cards = nil
				for i := range n {
					b.Cards = append(b.Cards, ekbom.CardServed{
						UUID: fmt.Sprintf("card-%d-%d", n, i), Summary: fmt.Sprintf("card %d of %d", i, n), Indicator: ekbom.IndicatorInfo,
					})
				}
				if err := s.SaveCardsServed(ctx, b); err != nil {
					t.Fatalf("%d cards: %v", n, err)
				}
				got, err := s.GetCardBatch(ctx, b.ID)
				if err != nil {
					t.Fatalf("%d cards: %v", n, err)
				}
				want := b.Cards
				if want == nil {
					want = []ekbom.CardServed{}
				}
				if d := cmp.Diff(want, got.Cards); d != "" {
					t.Errorf("%d cards (-want +got):\n%s", n, d)
				}
			}
		})
	}
}
