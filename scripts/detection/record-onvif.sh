#!/usr/bin/env bash
# record-onvif.sh — record ONVIF logins between real programs: a camera's
# ONVIF device service (onvif-camera.py, Python's standard library) that
# checks a WS-Security UsernameToken, and an NVR's client
# (onvif-client.py: Debian's python3-zeep with its WS-Security
# UsernameToken plugin). The camera's account is admin with a factory
# default of the default list (12345); the NVR asks the time (an
# operation cameras answer to anyone) with a PasswordDigest, the device
# information with a wrong password's PasswordDigest (refused:
# ter:NotAuthorized), then with the right one's, then with the right
# PasswordText (both accepted). One connection each.
#
#   sudo scripts/detection/record-onvif.sh [OUTPUT]
#       (default: pkg/inspect/http/testdata/onvif.pcap)
#
# Two network namespaces, iotgw-onvif-cam and iotgw-onvif-nvr, joined by a
# veth pair; 192.168.56.0/24 exists only between them, nothing is set up
# in the host's network namespace and no packet leaves the pair.
# shellcheck source-path=SCRIPTDIR source=record-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/record-lib.sh"

readonly NS_CAM=iotgw-onvif-cam
readonly NS_NVR=iotgw-onvif-nvr
readonly CAM_IP=192.168.56.10
readonly NVR_IP=192.168.56.20
readonly CAM_MAC=c0:56:e3:5d:6e:7f # Hangzhou Hikvision (a camera)
readonly NVR_MAC=3c:a9:f4:6d:7e:8f # Intel Corporate (a PC running the NVR)
readonly PORT=80

# The camera's factory-default account, and a wrong password.
readonly USER_NAME=admin PASS=12345 WRONG=Quarry-Lantern-58

OUT=$(absolute_path "${1:-$REPO_ROOT/pkg/inspect/http/testdata/onvif.pcap}")

require_commands "iproute2 tcpdump python3-zeep" ip ss tcpdump
/usr/bin/python3 -c 'import zeep' 2>/dev/null || die "zeep is missing (apt-get install python3-zeep)"

mkdir -p "$(dirname "$OUT")"
record_begin
veth_pair "$NS_CAM" cam0 "$CAM_MAC" "$CAM_IP" \
	"$NS_NVR" nvr0 "$NVR_MAC" "$NVR_IP"

ONVIF_PASSWORD=$PASS start_server "$NS_CAM" tcp "$PORT" "$WORK/camera.log" \
	/usr/bin/python3 "$SCRIPT_DIR/onvif-camera.py" "$CAM_IP" "$PORT" "$USER_NAME"
start_capture "$NS_NVR" nvr0 "tcp port $PORT" "$WORK/out.pcap"

# client PASSWORD digest|text OPERATION
client() { ONVIF_PASSWORD=$1 ip netns exec "$NS_NVR" /usr/bin/python3 "$SCRIPT_DIR/onvif-client.py" "$CAM_IP" "$PORT" "$USER_NAME" "$2" "$3"; }
client "$PASS" digest GetSystemDateAndTime || die "the time was not answered"
rc=0
client "$WRONG" digest GetDeviceInformation 2>/dev/null || rc=$?
((rc == 3)) || die "the wrong password: client exited $rc, want 3 (a fault)"
client "$PASS" digest GetDeviceInformation >/dev/null || die "the right password's digest was not accepted"
client "$PASS" text GetDeviceInformation >/dev/null || die "the right password in clear was not accepted"
stop_capture
save_recording "$WORK/out.pcap" "$OUT"
