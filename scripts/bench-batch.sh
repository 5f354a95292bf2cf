#!/usr/bin/env bash
# bench-batch.sh — throughput and peak memory of `ekbom batch` on synthetic
# FHIR Bulk Data exports.
#
#   scripts/bench-batch.sh                 10k, 100k and 1M patients
#   scripts/bench-batch.sh 10000 50000     the sizes given
#
# For each size it generates a gzipped export once (ekbom synth -gzip, kept
# in $BENCH_DIR for the next run), runs ekbom batch under /usr/bin/time -v
# and prints wall time, patients/s, MB/s of uncompressed NDJSON and the peak
# resident set size. Needs about 30 GB of free disk for 1M patients (export
# 0.6 GB, partition files 8.5 GB, plans 20 GB). Set WORKERS to pass -workers,
# KEEP=1 to keep the batch output.
set -euo pipefail

cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/ekbom-bench}
AS_OF=${AS_OF:-2026-11-21}
SIZES=("$@")
if [ ${#SIZES[@]} -eq 0 ]; then
	SIZES=(10000 100000 1000000)
fi
if [ ! -x /usr/bin/time ]; then
	echo "bench-batch: /usr/bin/time is missing (apt-get install time)" >&2
	exit 1
fi

mkdir -p "$BENCH_DIR"
go build -o "$BENCH_DIR/ekbom" ./cmd/ekbom
EKBOM="$BENCH_DIR/ekbom"

printf '%-9s %9s %11s %9s %10s %12s %9s %9s\n' patients wall_s patients/s MB/s RSS_MiB input_MB read_s plan_s
for n in "${SIZES[@]}"; do
	export_dir="$BENCH_DIR/export-$n"
	if [ ! -f "$export_dir/Patient.ndjson.gz" ]; then
		rm -rf "$export_dir"
		"$EKBOM" synth -n "$n" -seed 1 -as-of "$AS_OF" -gzip -out "$export_dir" 2>"$BENCH_DIR/synth-$n.log"
	fi
	out="$BENCH_DIR/out-$n"
	rm -rf "$out"
	workers=()
	if [ -n "${WORKERS:-}" ]; then
		workers=(-workers "$WORKERS")
	fi
	/usr/bin/time -v "$EKBOM" batch -progress off -as-of "$AS_OF" "${workers[@]}" -tmp "$BENCH_DIR" -out "$out" "$export_dir" \
		>"$BENCH_DIR/batch-$n.log" 2>"$BENCH_DIR/time-$n.log"
	metric() { awk -F, -v k="$1" '$1==k {print $2}' "$out/summary.csv"; }
	wall=$(metric elapsed_seconds)
	rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$BENCH_DIR/time-$n.log")
	printf '%-9s %9.1f %11s %9s %10.0f %12.0f %9.1f %9.1f\n' "$n" "$wall" "$(metric patients_per_second)" "$(metric mb_per_second)" \
		"$(echo "$rss_kb / 1024" | bc -l)" "$(echo "$(metric input_bytes_uncompressed) / 1000000" | bc -l)" \
		"$(metric read_seconds)" "$(metric plan_seconds)"
	if [ -z "${KEEP:-}" ]; then
		rm -rf "$out"
	fi
done
