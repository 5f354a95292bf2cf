package bulk_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"ekbom/internal/bulk"
)

// peakHeap runs f while sampling the heap in use, and returns the peak.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak
}

// TestMemoryIsBounded runs batches of 2,000 and 20,000 patients: ten times
// the patients must take far less than ten times the memory (the peak heap
// in use is < 3×). The exports are written to disk first so that only the
// batch is measured.
func TestMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and plans 22,000 patients")
	}
	measure := func(n int) uint64 {
		g := generator(t, n, 14, 0)
		dir := t.TempDir()
		if _, err := g.WriteDir(dir, true); err != nil {
			t.Fatal(err)
		}
		inputs, _, err := bulk.DirInputs(dir)
		if err != nil {
			t.Fatal(err)
		}
		out, tmp := t.TempDir(), t.TempDir()
		var s *bulk.Summary
		peak := peakHeap(func() {
			s, err = bulk.Run(context.Background(), inputs, out, bulk.Options{AsOf: asOf, TempDir: tmp})
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.Planned != int64(n) {
			t.Fatalf("%d plans of %d", s.Planned, n)
		}
		t.Logf("%6d patients: peak heap in use %5.1f MiB, %d partitions, %.0f patients/s", n, float64(peak)/(1<<20), s.Partitions, s.Rate())
		return peak
	}
	small, large := measure(2000), measure(20000)
	if ratio := float64(large) / float64(small); ratio >= 3 {
		t.Errorf("10× the patients took %.1f× the memory: memory grows with the export", ratio)
	}
}
