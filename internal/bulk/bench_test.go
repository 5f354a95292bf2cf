package bulk_test

import (
	"context"
	"testing"

	"ekbom/internal/bulk"
)

// BenchmarkBatch runs whole batches on a synthetic export of 10,000
// patients (a gzipped directory, generated once before the timer starts)
// and reports patients/s and MB/s of uncompressed NDJSON.
//
//	go test -run '^$' -bench Batch -benchtime 3x ./internal/bulk
//
// scripts/bench-batch.sh measures the command at 10k, 100k and 1M patients.
func BenchmarkBatch(b *testing.B) {
	const n = 10000
	dir := b.TempDir()
	st, err := generator(b, n, 1, 0).WriteDir(dir, true)
	if err != nil {
		b.Fatal(err)
	}
	inputs, _, err := bulk.DirInputs(dir)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := bulk.Run(context.Background(), inputs, b.TempDir(), bulk.Options{AsOf: asOf, TempDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if s.Planned != n {
			b.Fatalf("%d plans", s.Planned)
		}
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(n/secs, "patients/s")
	b.ReportMetric(float64(st.Bytes)/1e6/secs, "MB/s")
}
