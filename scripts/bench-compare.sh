#!/usr/bin/env bash
# bench-compare.sh — compare a Go benchmark between a git revision and the
# working tree, with the runs of both interleaved so that a busy machine
# slows them alike.
#
#   scripts/bench-compare.sh REV PKG REGEX [ROUNDS]
#   scripts/bench-compare.sh 7bbb268 ./engine '^BenchmarkEvaluate$' 8
#
# REV is checked out with git archive into a temporary directory (the work
# tree is not touched); benchmark files that REV lacks (kb/bench_test.go,
# internal/web/load_test.go) are copied in from the work tree. Each round
# runs each binary once (-count 1, -benchmem). The raw results are left in
# $OUT (default /tmp/ekbom-compare) as old.txt and new.txt; benchstat
# compares them when it is on PATH or BENCHSTAT names it, e.g. a tools
# module outside the repository:
#
#   mkdir -p /tmp/tools && cd /tmp/tools && go mod init tools &&
#   go get -tool golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
#   BENCHSTAT="go -C /tmp/tools tool benchstat" scripts/bench-compare.sh …
set -euo pipefail

if [ $# -lt 3 ]; then
	sed -n '2,20p' "$0"
	exit 2
fi
REV=$1 PKG=$2 RE=$3 ROUNDS=${4:-6}
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ekbom-compare}
mkdir -p "$OUT"
base=$(mktemp -d)
trap 'rm -rf "$base"' EXIT
git archive "$REV" | tar -x -C "$base"
for f in kb/bench_test.go internal/web/load_test.go; do
	[ -e "$base/$f" ] || cp "$f" "$base/$f"
done
(cd "$base" && go test -c -o "$OUT/old.test" "$PKG")
go test -c -o "$OUT/new.test" "$PKG"
dir=${PKG#./}
: >"$OUT/old.txt"
: >"$OUT/new.txt"
for i in $(seq "$ROUNDS"); do
	for side in old new; do
		(cd "$dir" && "$OUT/$side.test" -test.run '^$' -test.bench "$RE" -test.benchmem -test.count 1) |
			grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$OUT/$side.txt"
	done
	echo "round $i of $ROUNDS done" >&2
done
if [ -n "${BENCHSTAT:-}" ]; then
	$BENCHSTAT "$OUT/old.txt" "$OUT/new.txt"
elif command -v benchstat >/dev/null; then
	benchstat "$OUT/old.txt" "$OUT/new.txt"
else
	cat "$OUT/old.txt" "$OUT/new.txt"
fi
