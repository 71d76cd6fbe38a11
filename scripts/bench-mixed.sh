#!/bin/bash
# Builds a capture that looks like a home network's traffic rather than
# like the corpus replayed: a 150 MB HTTPS download and a 50 MB plain HTTP
# download, recorded at run time between two network namespaces made here
# (198.51.100.0/24, TEST-NET-2; nothing leaves them), followed by the
# corpus's logins (every Ethernet pcap of the shared corpus and the bundled
# capture, eight times). Then runs scripts/bench-analyze.sh on it.
#
# Usage: sudo scripts/bench-mixed.sh [WORKDIR]   (default: a temp dir)
# Needs: root, iproute2, openssl, curl, busybox, tcpdump, mergecap, and
# what scripts/bench-analyze.sh needs.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
mixed=$work/mixed.pcap

if [[ ! -s $mixed ]]; then
	c=iotgw-bench-c s=iotgw-bench-s
	pids=()
	cleanup() {
		if ((${#pids[@]})); then kill "${pids[@]}" 2>/dev/null || true; fi
		ip netns del "$c" 2>/dev/null || true
		ip netns del "$s" 2>/dev/null || true
	}
	trap cleanup EXIT
	cleanup
	ip netns add "$c"
	ip netns add "$s"
	ip -n "$c" link add eth0 type veth peer name eth0 netns "$s"
	ip -n "$c" addr add 198.51.100.1/24 dev eth0
	ip -n "$s" addr add 198.51.100.2/24 dev eth0
	for ns in "$c" "$s"; do
		ip -n "$ns" link set lo up
		ip -n "$ns" link set eth0 up
		# Wire-sized frames, as a router's capture sees them.
		ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
	done

	www=$work/www
	mkdir -p "$www"
	head -c 150M /dev/urandom >"$www/firmware.bin"
	head -c 50M /dev/urandom >"$www/video.bin"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=bench.example \
		-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
	(cd "$www" && exec ip netns exec "$s" openssl s_server -quiet -accept 443 \
		-cert "$work/cert.pem" -key "$work/key.pem" -WWW) >/dev/null 2>&1 &
	pids+=($!)
	ip netns exec "$s" busybox httpd -f -p 80 -h "$www" &
	pids+=($!)
	ip netns exec "$c" tcpdump -q -i eth0 -s 0 -w "$work/bulk.pcap" 2>/dev/null &
	dump=$!
	pids+=("$dump")
	sleep 1
	ip netns exec "$c" curl -sSk --retry 5 --retry-connrefused -o /dev/null https://198.51.100.2/firmware.bin
	ip netns exec "$c" curl -sS --retry 5 --retry-connrefused -o /dev/null http://198.51.100.2/video.bin
	sleep 1
	kill -INT $dump
	wait $dump || true
	rm -rf "$www"

	"$repo/scripts/corpus-once.sh" "$work/logins.pcap"
	mapfile -t eight < <(for _ in $(seq 8); do echo "$work/logins.pcap"; done)
	mergecap -a -F pcap -w "$mixed" "$work/bulk.pcap" "${eight[@]}"
	rm -f "$work/bulk.pcap" "$work/logins.pcap"
fi
BENCH=$mixed "$repo/scripts/bench-analyze.sh" "$work"
