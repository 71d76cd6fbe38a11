#!/usr/bin/env bash
# record-wsd.sh — record WS-Discovery between real programs: wsdd (Debian's
# WSD host daemon, which makes a Linux host discoverable the way Windows
# hosts are: wsdp:Device pub:Computer) announces a host, and a second wsdd
# in discovery mode (as Windows' Network view does) searches the link.
#
#   sudo scripts/detection/record-wsd.sh [OUTPUT_DIR]
#       (default: pkg/inspect/wsd/testdata)
#
# Writes wsdd-host.pcap: the host's Hello (multicast), the searcher's
# Probe (multicast), the host's unicast ProbeMatches, and the host's Bye
# when it stops. Only UDP port 3702 is kept (not the HTTP metadata fetch
# that follows). See pkg/inspect/wsd/testdata/README.md.
#
# Two network namespaces, iotgw-wsd-host and iotgw-wsd-search, joined by a
# veth pair; 192.168.52.0/24 exists only between them, nothing is set up in
# the host's network namespace and no packet leaves the pair.
# shellcheck source-path=SCRIPTDIR source=record-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/record-lib.sh"

readonly NS_HOST=iotgw-wsd-host
readonly NS_SEARCH=iotgw-wsd-search
readonly HOST_IP=192.168.52.10
readonly SEARCH_IP=192.168.52.20
readonly HOST_MAC=3c:a9:f4:6a:7b:01   # Intel Corporate (a PC)
readonly SEARCH_MAC=3c:a9:f4:6a:7b:02 # Intel Corporate (another PC)
readonly HOST_UUID=5b1e2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d
readonly SEARCH_UUID=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9
readonly PORT=3702

OUT_DIR=$(absolute_path "${1:-$REPO_ROOT/pkg/inspect/wsd/testdata}")

ensure_deps() {
	local missing
	mapfile -t missing < <(missing_packages ip=iproute2 ss=iproute2 tcpdump=tcpdump wsdd=wsdd ethtool=ethtool)
	install_packages "${missing[@]}"
}

main() {
	[[ $(id -u) -eq 0 ]] || die "run as root (network namespaces)"
	ensure_deps
	record_begin
	mkdir -p "$OUT_DIR"
	veth_pair "$NS_HOST" host0 "$HOST_MAC" "$HOST_IP" \
		"$NS_SEARCH" search0 "$SEARCH_MAC" "$SEARCH_IP"
	local out=$WORK/wsdd-host.pcap
	start_capture "$NS_SEARCH" search0 "udp port $PORT" "$out"
	# The host: IPv4 only (the pair has no IPv6), a fixed UUID and name so
	# that a new recording differs only in times and message ids.
	start_server "$NS_HOST" udp "$PORT" "$WORK/host.log" \
		wsdd -i host0 -4 -U "$HOST_UUID" -n IOTGW-PC -w WORKGROUP
	# The searcher: discovery mode, not discoverable itself; it sends its
	# Probe when it starts and answers nothing.
	ip netns exec "$NS_SEARCH" wsdd -i search0 -4 -D -o -U "$SEARCH_UUID" -v >"$WORK/search.log" 2>&1 &
	local searcher=$!
	local _
	for _ in $(seq 50); do
		grep -q "$HOST_UUID" "$WORK/search.log" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
	kill -TERM "$searcher"
	wait "$searcher" 2>/dev/null || true
	grep -q "$HOST_UUID" "$WORK/search.log" || die "the searcher did not find the host: $(cat "$WORK/search.log")"
	# Stopping the host sends its Bye.
	stop_server
	stop_capture
	# wsdd repeats each multicast message (SOAP-over-UDP's retransmission),
	# and how many repeats fall inside the capture varies from run to run
	# (18 to 21 KB here); far more means something else was recorded.
	local size
	size=$(stat -c %s "$out")
	((size < 65536)) || die "wsdd-host.pcap is $size bytes, expected < 64 KB"
	save_recording "$out" "$OUT_DIR/wsdd-host.pcap"
	log "wsdd $(dpkg-query -W -f '${Version}' wsdd 2>/dev/null)"
}

main "$@"
