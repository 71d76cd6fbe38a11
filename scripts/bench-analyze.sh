#!/bin/bash
# End-to-end benchmark of `iotgw analyze` against peer tools on the same
# large capture, built at run time from the shared corpus and the bundled
# capture (never committed). Prints throughput and peak RSS per tool, each
# measured with /usr/bin/time -v in the same sitting.
#
# Usage: scripts/bench-analyze.sh [WORKDIR]   (default: a temp dir)
#        BENCH=capture.pcap scripts/bench-analyze.sh WORKDIR
# Needs: tshark, mergecap, capinfos (wireshark-common), ettercap, dsniff.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
bin=$work/iotgw
go=$("$repo/scripts/ensure-go.sh")

(cd "$repo" && CGO_ENABLED=0 "$go" build -trimpath -o "$bin" ./cmd/iotgw)

# BENCH names another capture to run the tools on (scripts/bench-mixed.sh).
bench=${BENCH:-$work/bench.pcap}
if [[ ! -s $bench ]]; then
	# Every classic pcap with Ethernet frames, once; then doubled until the
	# file is over 200 MB (about 250 MB, 1 M packets).
	"$repo/scripts/corpus-once.sh" "$work/one.pcap"
	mapfile -t eight < <(for _ in $(seq 8); do echo "$work/one.pcap"; done)
	mergecap -a -F pcap -w "$work/x8.pcap" "${eight[@]}"
	mapfile -t many < <(for _ in $(seq 64); do echo "$work/x8.pcap"; done)
	mergecap -a -F pcap -w "$bench" "${many[@]}"
	rm -f "$work/one.pcap" "$work/x8.pcap"
fi
size=$(stat -c %s "$bench")
packets=$(capinfos -c -M "$bench" | awk -F: '/Number of packets/ {gsub(/ /, "", $2); print $2}')
echo "capture: $bench, $size bytes, $packets packets"

# run NAME CMD...: one timed run on one core; prints wall seconds, MB/s,
# packets/s and peak RSS.
run() {
	local name=$1
	shift
	local log=$work/$name.time
	taskset -c 0 /usr/bin/time -v "$@" >"$work/$name.out" 2>"$log" || true
	local wall rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
	rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
	# m:ss.ss or h:mm:ss to seconds
	local secs
	secs=$(awk -v t="$wall" 'BEGIN { n = split(t, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }')
	awk -v n="$name" -v s="$secs" -v b="$size" -v p="$packets" -v r="$rss" \
		'BEGIN { printf "%-10s %8.2f s %8.1f MB/s %10.0f packets/s %8.1f MB peak RSS\n", n, s, b / s / 1e6, p / s, r / 1024 }'
}

run iotgw "$bin" analyze --config /dev/null --quiet "$bench"
run tshark tshark -q -z credentials -r "$bench"
run ettercap ettercap -T -q -r "$bench"
run dsniff dsniff -n -p "$bench"
echo "outputs and /usr/bin/time logs: $work"
