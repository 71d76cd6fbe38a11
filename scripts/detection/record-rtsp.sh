#!/usr/bin/env bash
# record-rtsp.sh — record RTSP logins between real programs: ffmpeg (the
# client, as an NVR or a phone app would) plays a camera's stream served by
# GStreamer's RTSP server (rtsp-camera.py), once with Digest and once with
# Basic authentication.
#
#   sudo scripts/detection/record-rtsp.sh [OUTPUT_DIR]
#       (default: pkg/inspect/labtest/testdata)
#
# Writes rtsp-digest.pcap (the camera's factory default admin/12345,
# accepted) and rtsp-basic.pcap (a unique account: one try with a wrong
# password, refused, then the right one, accepted). See
# pkg/inspect/labtest/README.md for what each contains.
#
# Two network namespaces, iotgw-rtsp-cam and iotgw-rtsp-nvr, joined by a
# veth pair; 192.168.51.0/24 exists only between them, nothing is set up in
# the host's network namespace and no packet leaves the pair.
# shellcheck source-path=SCRIPTDIR source=record-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/record-lib.sh"

readonly NS_CAM=iotgw-rtsp-cam
readonly NS_NVR=iotgw-rtsp-nvr
readonly CAM_IP=192.168.51.10
readonly NVR_IP=192.168.51.20
readonly CAM_MAC=c0:56:e3:5a:6b:7c # Hangzhou Hikvision Digital Technology
readonly NVR_MAC=3c:a9:f4:6a:7b:8d # Intel Corporate (a PC running the viewer)
readonly PORT=8554
readonly REALM="IP Camera"

# The accounts. admin/12345 is Hikvision's factory default (and on the
# project's default list); the Basic account is made up for this recording.
readonly DIGEST_USER=admin DIGEST_PASS=12345
readonly BASIC_USER=viewer BASIC_PASS=Tulip-Harbor-73 BASIC_WRONG=Harbor-Tulip-37

OUT_DIR=$(absolute_path "${1:-$REPO_ROOT/pkg/inspect/labtest/testdata}")

ensure_deps() {
	local missing
	mapfile -t missing < <(missing_packages ip=iproute2 ss=iproute2 tcpdump=tcpdump ffmpeg=ffmpeg \
		ethtool=ethtool gst-inspect-1.0=gstreamer1.0-tools)
	# The server: GStreamer's RTSP server library and the elements of the
	# test stream, driven from Debian's python3.
	/usr/bin/python3 -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null ||
		missing+=(python3-gi gir1.2-gst-rtsp-server-1.0)
	if command -v gst-inspect-1.0 >/dev/null; then
		gst-inspect-1.0 jpegenc >/dev/null 2>&1 || missing+=(gstreamer1.0-plugins-good)
		gst-inspect-1.0 videotestsrc >/dev/null 2>&1 || missing+=(gstreamer1.0-plugins-base)
	else
		missing+=(gstreamer1.0-plugins-good gstreamer1.0-plugins-base)
	fi
	install_packages "${missing[@]}"
}

# start_camera METHOD USER PASSWORD
start_camera() {
	RTSP_PASSWORD=$3 start_server "$NS_CAM" tcp "$PORT" "$WORK/server-$1.log" \
		/usr/bin/python3 "$SCRIPT_DIR/rtsp-camera.py" "$1" "$CAM_IP" "$PORT" "$REALM" "$2"
}

# play USER PASSWORD: ffmpeg opens the stream over RTSP/TCP and reads three
# frames; it answers the server's 401 challenge with the method offered.
play() {
	ip netns exec "$NS_NVR" ffmpeg -nostdin -hide_banner -loglevel error \
		-rtsp_transport tcp -i "rtsp://$1:$2@$CAM_IP:$PORT/stream" \
		-frames:v 3 -f null - 2>>"$WORK/ffmpeg.log"
}

# record NAME METHOD USER PASSWORD SESSION: one capture file, with a server
# of its own, of what the function SESSION does.
record() {
	local name=$1 out=$WORK/$1.pcap
	start_camera "$2" "$3" "$4"
	start_capture "$NS_NVR" nvr0 "tcp port $PORT" "$out"
	"$5"
	# Let the last segments (TEARDOWN, FIN) reach tcpdump: wait until the
	# viewer has no connection to the camera left (stop_capture then waits
	# a moment more).
	local _
	for _ in $(seq 50); do
		ip netns exec "$NS_NVR" ss -tnH "dport = :$PORT" | grep -q . || break
		sleep 0.1
	done
	stop_capture
	stop_server
	local size
	size=$(stat -c %s "$out")
	((size < 50000)) || die "$name.pcap is $size bytes, expected < 50 KB"
	save_recording "$out" "$OUT_DIR/$name.pcap"
}

digest_session() {
	play "$DIGEST_USER" "$DIGEST_PASS" || die "ffmpeg could not play with Digest: $(cat "$WORK/ffmpeg.log")"
}

basic_session() {
	if play "$BASIC_USER" "$BASIC_WRONG"; then
		die "the server accepted a wrong password"
	fi
	play "$BASIC_USER" "$BASIC_PASS" || die "ffmpeg could not play with Basic: $(cat "$WORK/ffmpeg.log")"
}

main() {
	[[ $(id -u) -eq 0 ]] || die "run as root (network namespaces)"
	ensure_deps
	record_begin
	mkdir -p "$OUT_DIR"
	veth_pair "$NS_CAM" cam0 "$CAM_MAC" "$CAM_IP" \
		"$NS_NVR" nvr0 "$NVR_MAC" "$NVR_IP"
	record rtsp-digest digest "$DIGEST_USER" "$DIGEST_PASS" digest_session
	record rtsp-basic basic "$BASIC_USER" "$BASIC_PASS" basic_session
	log "ffmpeg $(ffmpeg -version | awk 'NR==1{print $3}'), GStreamer RTSP server $(dpkg-query -W -f '${Version}' libgstrtspserver-1.0-0 2>/dev/null)"
}

main "$@"
