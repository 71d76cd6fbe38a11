#!/bin/bash
# Runs every fuzz target for a short time (FUZZTIME, default 4s), two at
# a time with one fuzzing worker each: on a 2-core machine the cost is
# mostly building each instrumented test binary, which this overlaps.
# Crashers are kept under the package's testdata/fuzz and fail the run.
# Usage: scripts/fuzz-short.sh [FUZZTIME]
set -euo pipefail
cd "$(dirname "$0")/.."
go=$(scripts/ensure-go.sh)
fuzztime=${1:-4s}
list=$(mktemp)
trap 'rm -f "$list"' EXIT
for pkg in $("$go" list ./...); do
	for t in $("$go" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "$pkg $t"
	done
done >"$list"
echo "fuzz-short: $(wc -l <"$list") targets, $fuzztime each"
export go fuzztime
# shellcheck disable=SC2016 # expanded by the inner shell
xargs -P 2 -L 1 bash -c '
	out=$("$go" test -run "^$" -fuzz "^$1\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s -parallel 1 "$0" 2>&1) || {
		echo "FAIL fuzz $0 $1"; echo "$out"; exit 255; }
	echo "ok   fuzz $0 $1"' <"$list"
