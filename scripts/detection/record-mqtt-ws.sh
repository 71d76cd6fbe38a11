#!/usr/bin/env bash
# record-mqtt-ws.sh — record MQTT logins over WebSocket between real
# programs: Debian's mosquitto with a websockets listener (a home
# automation hub's broker) and mqtt-ws-client.py (a dashboard app), once
# with a wrong password, refused, and once with the right one, accepted,
# its CONNECT sent in fragments with a ping between them.
#
#   sudo scripts/detection/record-mqtt-ws.sh [OUTPUT]
#       (default: pkg/inspect/mqtt/testdata/mqtt-ws.pcap)
#
# Two network namespaces, iotgw-mqttws-hub and iotgw-mqttws-app, joined by
# a veth pair; 192.168.53.0/24 exists only between them, nothing is set up
# in the host's network namespace and no packet leaves the pair.
set -euo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

readonly NS_HUB=iotgw-mqttws-hub
readonly NS_APP=iotgw-mqttws-app
readonly HUB_IP=192.168.53.10
readonly APP_IP=192.168.53.20
readonly HUB_MAC=dc:a6:32:5b:6c:7d # Raspberry Pi Trading (a home automation hub)
readonly APP_MAC=3c:a9:f4:6b:7c:8e # Intel Corporate (a PC running the dashboard)
readonly PORT=8080

# A made-up account for this recording.
readonly USER_NAME=hub-app PASS=Lantern-Quarry-58 WRONG=Quarry-Lantern-85

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT=${1:-$REPO_ROOT/pkg/inspect/mqtt/testdata/mqtt-ws.pcap}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac

TCPDUMP_PID=
BROKER_PID=
WORK=

log() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

for cmd in ip ss tcpdump mosquitto mosquitto_passwd python3; do
	command -v "$cmd" >/dev/null || die "$cmd is missing (apt-get install iproute2 tcpdump mosquitto python3)"
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
	stop "$BROKER_PID" TERM
	ip netns del "$NS_HUB" 2>/dev/null
	ip netns del "$NS_APP" 2>/dev/null
	[[ -z $WORK ]] || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT INT TERM

WORK=$(mktemp -d)
chmod 0755 "$WORK"

ip netns add "$NS_HUB"
ip netns add "$NS_APP"
ip -n "$NS_HUB" link add hub0 type veth peer name app0 netns "$NS_APP"
for ns in "$NS_HUB" "$NS_APP"; do
	if [[ $ns == "$NS_HUB" ]]; then dev=hub0 mac=$HUB_MAC addr=$HUB_IP; else dev=app0 mac=$APP_MAC addr=$APP_IP; fi
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$dev" address "$mac"
	ip -n "$ns" addr add "$addr/24" dev "$dev"
	ip -n "$ns" link set "$dev" up
	# Wire-sized frames: no segmentation offload to merge segments.
	ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
done

# mosquitto 2.0.11 does not start with a websockets listener alone: a
# plain one on the hub's loopback keeps it company.
touch "$WORK/passwd"
mosquitto_passwd -b "$WORK/passwd" "$USER_NAME" "$PASS"
chown mosquitto "$WORK/passwd" 2>/dev/null || true
chmod 0600 "$WORK/passwd"
cat >"$WORK/mosquitto.conf" <<CONF
listener 1883 127.0.0.1
listener $PORT
protocol websockets
socket_domain ipv4
allow_anonymous false
password_file $WORK/passwd
CONF
ip netns exec "$NS_HUB" mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 50); do
	ip netns exec "$NS_HUB" ss -ltnH "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
ip netns exec "$NS_HUB" ss -ltnH "sport = :$PORT" | grep -q . || {
	cat "$WORK/mosquitto.log" >&2
	die "mosquitto did not start"
}

ip netns exec "$NS_APP" tcpdump -i app0 -s 1514 -U -n -w "$WORK/out.pcap" "tcp port $PORT" 2>"$WORK/tcpdump.log" &
TCPDUMP_PID=$!
for _ in $(seq 50); do
	grep -q 'listening on' "$WORK/tcpdump.log" && break
	sleep 0.1
done

client() { MQTT_PASSWORD=$1 ip netns exec "$NS_APP" /usr/bin/python3 "$SCRIPT_DIR/mqtt-ws-client.py" "$HUB_IP" "$PORT" "$USER_NAME" "${@:2}"; }
rc=0
client "$WRONG" || rc=$?
((rc == 5)) || die "the wrong password: client exited $rc, want 5 (refused)"
client "$PASS" fragmented || die "the right password was not accepted"
sleep 1
stop "$TCPDUMP_PID" INT
TCPDUMP_PID=
install -m 0644 "$WORK/out.pcap" "$OUT"
log "wrote $OUT ($(stat -c %s "$OUT") bytes)"
