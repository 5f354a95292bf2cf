#!/usr/bin/env bash
# bench-cli.sh — start-to-plan time of the CLI for one patient: the wall time
# of `ekbom assess examples/augmentation-on-pramipexole.yaml -format json`,
# process start, knowledge-base load, intake, engine and JSON output
# included.
#
#   scripts/bench-cli.sh            50 runs (after 5 warm-up runs)
#   RUNS=200 scripts/bench-cli.sh
#   EKBOM=/path/to/ekbom scripts/bench-cli.sh    time another build
#
# Uses hyperfine when it is installed (apt-get install hyperfine), else a
# plain loop that prints min, median, mean and p90.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-50}
EXAMPLE=examples/augmentation-on-pramipexole.yaml
if [ -z "${EKBOM:-}" ]; then
	dir=$(mktemp -d)
	trap 'rm -rf "$dir"' EXIT
	go build -o "$dir/ekbom" ./cmd/ekbom
	EKBOM="$dir/ekbom"
fi
"$EKBOM" assess "$EXAMPLE" -format json >/dev/null # fails early on a broken build

if command -v hyperfine >/dev/null; then
	hyperfine -N --warmup 5 --runs "$RUNS" "$EKBOM assess $EXAMPLE -format json"
	exit
fi
for _ in 1 2 3 4 5; do "$EKBOM" assess "$EXAMPLE" -format json >/dev/null; done
for _ in $(seq "$RUNS"); do
	s=$(date +%s%N)
	"$EKBOM" assess "$EXAMPLE" -format json >/dev/null
	e=$(date +%s%N)
	echo $(((e - s) / 1000))
done | sort -n | awk '{a[NR] = $1; s += $1}
END {printf "runs %d: min %.1f ms, median %.1f ms, mean %.1f ms, p90 %.1f ms\n",
	NR, a[1] / 1000, a[int(NR / 2) + 1] / 1000, s / NR / 1000, a[int(NR * 0.9)] / 1000}'
