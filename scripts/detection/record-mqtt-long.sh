#!/usr/bin/env bash
# record-mqtt-long.sh — record MQTT logins whose CONNECT carries long
# fields before the user name and password, between Debian's mosquitto
# broker and mosquitto_pub: a client identifier of 3000 characters (a
# device naming itself with a blob), and a Will topic and Will payload of
# 3000 each, at MQTT 3.1.1 and 5.0 (with a long user property too), once
# with a wrong password, refused, then with the right one, accepted.
#
#   sudo scripts/detection/record-mqtt-long.sh [OUTPUT]
#       (default: pkg/inspect/mqtt/testdata/mqtt-long-fields.pcap)
#
# Two network namespaces, iotgw-mqttlong-broker and iotgw-mqttlong-dev,
# joined by a veth pair; 192.168.55.0/24 exists only between them,
# nothing is set up in the host's network namespace and no packet leaves
# the pair.
set -euo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

readonly NS_BROKER=iotgw-mqttlong-broker
readonly NS_DEV=iotgw-mqttlong-dev
readonly BROKER_IP=192.168.55.10
readonly DEV_IP=192.168.55.20
readonly BROKER_MAC=dc:a6:32:5d:6e:7f # Raspberry Pi Trading (a home automation hub)
readonly DEV_MAC=50:c7:bf:5e:6f:70    # TP-Link (a smart plug)
readonly PORT=1883

# The factory default the plug logs in with, and a wrong password.
readonly USER_NAME=admin PASS=admin WRONG=Orchid-Basalt-19

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT=${1:-$REPO_ROOT/pkg/inspect/mqtt/testdata/mqtt-long-fields.pcap}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac

TCPDUMP_PID=
BROKER_PID=
WORK=

log() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

for cmd in ip ss tcpdump mosquitto mosquitto_passwd mosquitto_pub; do
	command -v "$cmd" >/dev/null || die "$cmd is missing (apt-get install iproute2 tcpdump mosquitto mosquitto-clients)"
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
	ip netns del "$NS_BROKER" 2>/dev/null
	ip netns del "$NS_DEV" 2>/dev/null
	[[ -z $WORK ]] || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT INT TERM

WORK=$(mktemp -d)
chmod 0755 "$WORK"

ip netns add "$NS_BROKER"
ip netns add "$NS_DEV"
ip -n "$NS_BROKER" link add broker0 type veth peer name dev0 netns "$NS_DEV"
for ns in "$NS_BROKER" "$NS_DEV"; do
	if [[ $ns == "$NS_BROKER" ]]; then dev=broker0 mac=$BROKER_MAC addr=$BROKER_IP; else dev=dev0 mac=$DEV_MAC addr=$DEV_IP; fi
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$dev" address "$mac"
	ip -n "$ns" addr add "$addr/24" dev "$dev"
	ip -n "$ns" link set "$dev" up
	# Wire-sized frames: no segmentation offload to merge segments.
	ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
done

touch "$WORK/passwd"
mosquitto_passwd -b "$WORK/passwd" "$USER_NAME" "$PASS"
chown mosquitto "$WORK/passwd" 2>/dev/null || true
chmod 0600 "$WORK/passwd"
cat >"$WORK/mosquitto.conf" <<CONF
listener $PORT $BROKER_IP
allow_anonymous false
password_file $WORK/passwd
CONF
ip netns exec "$NS_BROKER" mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
BROKER_PID=$!
for _ in $(seq 50); do
	ip netns exec "$NS_BROKER" ss -ltnH "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
ip netns exec "$NS_BROKER" ss -ltnH "sport = :$PORT" | grep -q . || {
	cat "$WORK/mosquitto.log" >&2
	die "mosquitto did not start"
}

ip netns exec "$NS_DEV" tcpdump -i dev0 -s 1514 -U -n -w "$WORK/out.pcap" "tcp port $PORT" 2>"$WORK/tcpdump.log" &
TCPDUMP_PID=$!
for _ in $(seq 50); do
	grep -q 'listening on' "$WORK/tcpdump.log" && break
	sleep 0.1
done

long() { printf "%${2}s" "" | tr ' ' "$1"; }
ID=plug-$(long i 2995)
WILL_TOPIC=plug/$(long t 2995)
WILL_PAYLOAD="{\"state\":\"$(long w 2980)\"}"
# pub VERSION PASSWORD [OPTION…]: one PUBLISH after the CONNECT.
pub() {
	ip netns exec "$NS_DEV" mosquitto_pub -h "$BROKER_IP" -p "$PORT" -V "$1" -u "$USER_NAME" -P "$2" \
		-t plug/state -m on "${@:3}" 2>&1
}
expect_refused() {
	local out
	if out=$(pub "$@"); then
		die "mosquitto_pub -V $1 with a wrong password was accepted"
	fi
	log "mosquitto_pub -V $1, wrong password: $out"
}
expect_accepted() {
	pub "$@" || die "mosquitto_pub -V $1 with the right password was refused"
	log "mosquitto_pub -V $1, right password: accepted"
}
expect_refused mqttv311 "$WRONG" -i "$ID"
expect_accepted mqttv311 "$PASS" -i "$ID"
expect_accepted mqttv311 "$PASS" -i plug-01 --will-topic "$WILL_TOPIC" --will-payload "$WILL_PAYLOAD"
expect_refused mqttv5 "$WRONG" -i "$ID" --will-topic "$WILL_TOPIC" --will-payload "$WILL_PAYLOAD" \
	-D connect user-property firmware "$(long f 3000)"
expect_accepted mqttv5 "$PASS" -i "$ID" --will-topic "$WILL_TOPIC" --will-payload "$WILL_PAYLOAD" \
	-D connect user-property firmware "$(long f 3000)"
sleep 1
stop "$TCPDUMP_PID" INT
TCPDUMP_PID=
install -m 0644 "$WORK/out.pcap" "$OUT"
log "wrote $OUT ($(stat -c %s "$OUT") bytes)"
