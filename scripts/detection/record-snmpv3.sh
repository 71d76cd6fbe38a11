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
# shellcheck source-path=SCRIPTDIR source=record-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/record-lib.sh"

readonly NS_AGENT=iotgw-snmp-agent
readonly NS_MGR=iotgw-snmp-mgr
readonly AGENT_IP=192.168.54.10
readonly MGR_IP=192.168.54.20
readonly AGENT_MAC=00:11:32:5c:6d:7e # Synology (a NAS)
readonly MGR_MAC=3c:a9:f4:6c:7d:8f   # Intel Corporate (a PC running the monitoring)

# A made-up account for this recording.
readonly USER_NAME=nas-monitor AUTH=Cobalt-Meadow-42 PRIV=Meadow-Cobalt-24
readonly WRONG_AUTH=Cobalt-Meadow-24 WRONG_PRIV=Cobalt-Meadow-42 UNKNOWN_USER=nas-backup

OUT=$(absolute_path "${1:-$REPO_ROOT/pkg/inspect/snmp/testdata/snmpv3-usm.pcap}")

require_commands "iproute2 tcpdump snmpd snmp" ip ss tcpdump snmpd snmpget

record_begin
veth_pair "$NS_AGENT" agent0 "$AGENT_MAC" "$AGENT_IP" \
	"$NS_MGR" mgr0 "$MGR_MAC" "$MGR_IP"

# The agent reads only this configuration (-C), and keeps its persistent
# state (its engine ID and boots) in the work directory.
mkdir -m 0700 "$WORK/persist"
cat >"$WORK/snmpd.conf" <<CONF
agentAddress udp:$AGENT_IP:161
createUser $USER_NAME SHA "$AUTH" AES "$PRIV"
rouser $USER_NAME auth
sysDescr NAS agent for the iotgw recording
CONF
SNMP_PERSISTENT_DIR="$WORK/persist" start_server "$NS_AGENT" udp 161 "$WORK/snmpd.log" \
	snmpd -f -C -c "$WORK/snmpd.conf" -Le -p "$WORK/snmpd.pid"
start_capture "$NS_MGR" mgr0 "udp port 161" "$WORK/out.pcap"

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
stop_capture
save_recording "$WORK/out.pcap" "$OUT"
