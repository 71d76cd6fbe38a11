#!/usr/bin/env bash
# record-snmpv3.sh — record SNMPv3 logins between real programs: net-snmp's
# snmpd (a managed switch or NAS agent) and snmpget (a monitoring server),
# with the User-based Security Model at authPriv (SHA, AES) and
# authNoPriv, with right and wrong pass phrases and an unknown user.
#
#   sudo scripts/detection/record-snmpv3.sh [OUTPUT]
#       (default: pkg/inspect/snmp/testdata/snmpv3-usm.pcap)
#
# Two network namespaces, iotgw-snmp-agent and iotgw-snmp-mgr, joined by a
# veth pair; 192.168.54.0/24 exists only between them, nothing is set up
# in the host's network namespace and no packet leaves the pair.
#
# Each snmpget is one UDP flow (its own source port): engine discovery,
# then the request, answered by a Response or refused by a Report.
#  1. authPriv, right pass phrases              → encrypted Response
#  2. authPriv, wrong authentication pass phrase → Report usmStatsWrongDigests
#  3. authPriv, wrong privacy pass phrase       → no answer (see below)
#  4. authNoPriv, right pass phrase             → Response in clear
#  5. authPriv, a user the agent does not know  → Report usmStatsUnknownUserNames
# With the right authentication key and a wrong privacy key the agent
# decrypts the request into garbage that does not parse and drops it
# without a word (snmpInASNParseErrs); snmpget times out.
set -euo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

readonly NS_AGENT=iotgw-snmp-agent
readonly NS_MGR=iotgw-snmp-mgr
readonly AGENT_IP=192.168.54.10
readonly MGR_IP=192.168.54.20
readonly AGENT_MAC=00:11:32:5c:6d:7e # Synology (a NAS)
readonly MGR_MAC=3c:a9:f4:6c:7d:8f   # Intel Corporate (a PC running the monitoring)

# A made-up account for this recording.
readonly USER_NAME=nas-monitor AUTH=Cobalt-Meadow-42 PRIV=Meadow-Cobalt-24
readonly WRONG_AUTH=Cobalt-Meadow-24 WRONG_PRIV=Cobalt-Meadow-42 UNKNOWN_USER=nas-backup

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT=${1:-$REPO_ROOT/pkg/inspect/snmp/testdata/snmpv3-usm.pcap}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac

TCPDUMP_PID=
AGENT_PID=
WORK=

log() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

for cmd in ip tcpdump snmpd snmpget; do
	command -v "$cmd" >/dev/null || die "$cmd is missing (apt-get install iproute2 tcpdump snmpd snmp)"
done

stop() {
	if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then
		kill "-$2" "$1"
		wait "$1" 2>/dev/null || true
	fi
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	stop "$TCPDUMP_PID" INT
	stop "$AGENT_PID" TERM
	ip netns del "$NS_AGENT" 2>/dev/null
	ip netns del "$NS_MGR" 2>/dev/null
	[[ -z $WORK ]] || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT INT TERM

WORK=$(mktemp -d)
chmod 0755 "$WORK"

ip netns add "$NS_AGENT"
ip netns add "$NS_MGR"
ip -n "$NS_AGENT" link add agent0 type veth peer name mgr0 netns "$NS_MGR"
for ns in "$NS_AGENT" "$NS_MGR"; do
	if [[ $ns == "$NS_AGENT" ]]; then dev=agent0 mac=$AGENT_MAC addr=$AGENT_IP; else dev=mgr0 mac=$MGR_MAC addr=$MGR_IP; fi
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$dev" address "$mac"
	ip -n "$ns" addr add "$addr/24" dev "$dev"
	ip -n "$ns" link set "$dev" up
	# Right checksums in the capture: none left to an offload.
	ip netns exec "$ns" ethtool -K "$dev" tx off rx off >/dev/null 2>&1 || true
done

# The agent reads only this configuration (-C), and keeps its persistent
# state (its engine ID and boots) in the work directory.
mkdir -m 0700 "$WORK/persist"
cat >"$WORK/snmpd.conf" <<CONF
agentAddress udp:$AGENT_IP:161
createUser $USER_NAME SHA "$AUTH" AES "$PRIV"
rouser $USER_NAME auth
sysDescr NAS agent for the iotgw recording
CONF
ip netns exec "$NS_AGENT" env SNMP_PERSISTENT_DIR="$WORK/persist" \
	snmpd -f -C -c "$WORK/snmpd.conf" -Lf "$WORK/snmpd.log" -p "$WORK/snmpd.pid" &
AGENT_PID=$!
for _ in $(seq 50); do
	ip netns exec "$NS_AGENT" ss -lunH "sport = :161" | grep -q . && break
	sleep 0.1
done
ip netns exec "$NS_AGENT" ss -lunH "sport = :161" | grep -q . || {
	cat "$WORK/snmpd.log" >&2
	die "snmpd did not start"
}

ip netns exec "$NS_MGR" tcpdump -i mgr0 -s 1514 -U -n -w "$WORK/out.pcap" "udp port 161" 2>"$WORK/tcpdump.log" &
TCPDUMP_PID=$!
for _ in $(seq 50); do
	grep -q 'listening on' "$WORK/tcpdump.log" && break
	sleep 0.1
done

# get LEVEL USER AUTH [PRIV]: one snmpget of sysDescr.0, no retries, a
# one-second timeout, reading no configuration or MIB of the host's.
get() {
	local args=(-v3 -r 0 -t 1 -l "$1" -u "$2" -a SHA -A "$3")
	[[ $1 == authPriv ]] && args+=(-x AES -X "$4")
	ip netns exec "$NS_MGR" env SNMPCONFPATH="$WORK" MIBS= MIBDIRS="$WORK" \
		snmpget "${args[@]}" "$AGENT_IP" 1.3.6.1.2.1.1.1.0 2>&1
}
expect() {
	local want=$1 out
	shift
	out=$(get "$@") || true
	log "snmpget -l $1 -u $2: $out"
	[[ $out == *"$want"* ]] || die "want output with \"$want\""
}
expect "NAS agent" authPriv "$USER_NAME" "$AUTH" "$PRIV"
expect "Authentication failure" authPriv "$USER_NAME" "$WRONG_AUTH" "$PRIV"
expect "Timeout" authPriv "$USER_NAME" "$AUTH" "$WRONG_PRIV"
expect "NAS agent" authNoPriv "$USER_NAME" "$AUTH"
expect "Unknown user name" authPriv "$UNKNOWN_USER" "$AUTH" "$PRIV"
sleep 1
stop "$TCPDUMP_PID" INT
TCPDUMP_PID=
install -m 0644 "$WORK/out.pcap" "$OUT"
log "wrote $OUT ($(stat -c %s "$OUT") bytes)"
