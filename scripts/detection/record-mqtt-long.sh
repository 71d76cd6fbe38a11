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
# shellcheck source-path=SCRIPTDIR source=record-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/record-lib.sh"

readonly NS_BROKER=iotgw-mqttlong-broker
readonly NS_DEV=iotgw-mqttlong-dev
readonly BROKER_IP=192.168.55.10
readonly DEV_IP=192.168.55.20
readonly BROKER_MAC=dc:a6:32:5d:6e:7f # Raspberry Pi Trading (a home automation hub)
readonly DEV_MAC=50:c7:bf:5e:6f:70    # TP-Link (a smart plug)
readonly PORT=1883

# The factory default the plug logs in with, and a wrong password.
readonly USER_NAME=admin PASS=admin WRONG=Orchid-Basalt-19

OUT=$(absolute_path "${1:-$REPO_ROOT/pkg/inspect/mqtt/testdata/mqtt-long-fields.pcap}")

require_commands "iproute2 tcpdump mosquitto mosquitto-clients" \
	ip ss tcpdump mosquitto mosquitto_passwd mosquitto_pub

record_begin
veth_pair "$NS_BROKER" broker0 "$BROKER_MAC" "$BROKER_IP" \
	"$NS_DEV" dev0 "$DEV_MAC" "$DEV_IP"

mosquitto_password_file "$USER_NAME" "$PASS"
cat >"$WORK/mosquitto.conf" <<CONF
listener $PORT $BROKER_IP
allow_anonymous false
password_file $WORK/passwd
CONF
start_server "$NS_BROKER" tcp "$PORT" "$WORK/mosquitto.log" mosquitto -c "$WORK/mosquitto.conf"
start_capture "$NS_DEV" dev0 "tcp port $PORT" "$WORK/out.pcap"

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
stop_capture
save_recording "$WORK/out.pcap" "$OUT"
