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
# shellcheck source-path=SCRIPTDIR source=record-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/record-lib.sh"

readonly NS_HUB=iotgw-mqttws-hub
readonly NS_APP=iotgw-mqttws-app
readonly HUB_IP=192.168.53.10
readonly APP_IP=192.168.53.20
readonly HUB_MAC=dc:a6:32:5b:6c:7d # Raspberry Pi Trading (a home automation hub)
readonly APP_MAC=3c:a9:f4:6b:7c:8e # Intel Corporate (a PC running the dashboard)
readonly PORT=8080

# A made-up account for this recording.
readonly USER_NAME=hub-app PASS=Lantern-Quarry-58 WRONG=Quarry-Lantern-85

OUT=$(absolute_path "${1:-$REPO_ROOT/pkg/inspect/mqtt/testdata/mqtt-ws.pcap}")

require_commands "iproute2 tcpdump mosquitto python3" ip ss tcpdump mosquitto mosquitto_passwd python3

record_begin
veth_pair "$NS_HUB" hub0 "$HUB_MAC" "$HUB_IP" \
	"$NS_APP" app0 "$APP_MAC" "$APP_IP"

# mosquitto 2.0.11 does not start with a websockets listener alone: a
# plain one on the hub's loopback keeps it company.
mosquitto_password_file "$USER_NAME" "$PASS"
cat >"$WORK/mosquitto.conf" <<CONF
listener 1883 127.0.0.1
listener $PORT
protocol websockets
socket_domain ipv4
allow_anonymous false
password_file $WORK/passwd
CONF
start_server "$NS_HUB" tcp "$PORT" "$WORK/mosquitto.log" mosquitto -c "$WORK/mosquitto.conf"
start_capture "$NS_APP" app0 "tcp port $PORT" "$WORK/out.pcap"

client() { MQTT_PASSWORD=$1 ip netns exec "$NS_APP" /usr/bin/python3 "$SCRIPT_DIR/mqtt-ws-client.py" "$HUB_IP" "$PORT" "$USER_NAME" "${@:2}"; }
rc=0
client "$WRONG" || rc=$?
((rc == 5)) || die "the wrong password: client exited $rc, want 5 (refused)"
client "$PASS" fragmented || die "the right password was not accepted"
stop_capture
save_recording "$WORK/out.pcap" "$OUT"
