#!/bin/bash
# Writes every classic pcap with Ethernet frames from the shared corpus,
# and the bundled capture, once, one after the other, to OUT: the logins
# and protocols the benchmark captures are made of.
#
# Usage: scripts/corpus-once.sh OUT
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: corpus-once.sh OUT}
files=()
for f in "$repo"/../shared/corpus/files/*.pcap "$repo/testdata/demo.pcap"; do
	if capinfos -E "$f" 2>/dev/null | grep -q 'Ethernet$' && file "$f" | grep -q 'pcap capture file'; then
		files+=("$f")
	fi
done
mergecap -a -F pcap -w "$out" "${files[@]}"
