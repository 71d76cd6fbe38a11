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
set -euo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

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

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT_DIR=${1:-$REPO_ROOT/pkg/inspect/labtest/testdata}
case $OUT_DIR in /*) ;; *) OUT_DIR=$PWD/$OUT_DIR ;; esac

TCPDUMP_PID=
SERVER_PID=
WORK=

log() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

ensure_deps() {
	local -A pkg_for=(
		[ip]=iproute2 [ss]=iproute2 [tcpdump]=tcpdump [ffmpeg]=ffmpeg
		[ethtool]=ethtool [gst-inspect-1.0]=gstreamer1.0-tools
	)
	local cmd missing=()
	for cmd in "${!pkg_for[@]}"; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_for[$cmd]}")
	done
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
	if ((${#missing[@]})); then
		mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
		log "installing missing packages: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

teardown_namespaces() {
	local ns pids
	for ns in "$NS_CAM" "$NS_NVR"; do
		[[ -e /run/netns/$ns ]] || continue
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [[ -n $pids ]]; then
			# shellcheck disable=SC2086 # word splitting of the pid list is wanted
			kill $pids 2>/dev/null || true
			sleep 0.3
			pids=$(ip netns pids "$ns" 2>/dev/null || true)
			# shellcheck disable=SC2086
			[[ -z $pids ]] || kill -9 $pids 2>/dev/null || true
		fi
		ip netns del "$ns" 2>/dev/null || true
	done
}

stop_capture() {
	if [[ -n $TCPDUMP_PID ]] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
		kill -INT "$TCPDUMP_PID"
		wait "$TCPDUMP_PID" 2>/dev/null || true
	fi
	TCPDUMP_PID=
}

stop_server() {
	if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill "$SERVER_PID"
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	stop_capture
	stop_server
	teardown_namespaces
	[[ -z $WORK ]] || rm -rf "$WORK"
	exit "$rc"
}

setup_network() {
	ip netns add "$NS_CAM"
	ip netns add "$NS_NVR"
	ip -n "$NS_CAM" link add cam0 type veth peer name nvr0 netns "$NS_NVR"
	local ns dev mac addr
	for ns in "$NS_CAM" "$NS_NVR"; do
		if [[ $ns == "$NS_CAM" ]]; then dev=cam0 mac=$CAM_MAC addr=$CAM_IP; else dev=nvr0 mac=$NVR_MAC addr=$NVR_IP; fi
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
		ip -n "$ns" link set lo up
		ip -n "$ns" link set "$dev" address "$mac"
		ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$dev.disable_ipv6=1"
		ip -n "$ns" addr add "$addr/24" dev "$dev"
		ip -n "$ns" link set "$dev" up
		# Wire-sized frames: no segmentation offload to merge segments.
		ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
	done
}

# start_server METHOD USER PASSWORD
start_server() {
	RTSP_PASSWORD=$3 ip netns exec "$NS_CAM" /usr/bin/python3 "$SCRIPT_DIR/rtsp-camera.py" \
		"$1" "$CAM_IP" "$PORT" "$REALM" "$2" >"$WORK/server-$1.log" 2>&1 &
	SERVER_PID=$!
	local _
	for _ in $(seq 100); do
		ip netns exec "$NS_CAM" ss -ltnH "sport = :$PORT" | grep -q . && return 0
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/server-$1.log" >&2
	die "the RTSP server did not start"
}

start_capture() {
	ip netns exec "$NS_NVR" tcpdump -i nvr0 -s 1514 -U -n -w "$1" "tcp port $PORT" 2>"$WORK/tcpdump.log" &
	TCPDUMP_PID=$!
	local _
	for _ in $(seq 100); do
		grep -q 'listening on' "$WORK/tcpdump.log" && return 0
		sleep 0.1
	done
	die "tcpdump did not start"
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
	start_server "$2" "$3" "$4"
	start_capture "$out"
	"$5"
	# Let the last segments (TEARDOWN, FIN) reach tcpdump: wait until the
	# viewer has no connection to the camera left, then a moment more.
	local _
	for _ in $(seq 50); do
		ip netns exec "$NS_NVR" ss -tnH "dport = :$PORT" | grep -q . || break
		sleep 0.1
	done
	sleep 1
	stop_capture
	stop_server
	local size
	size=$(stat -c %s "$out")
	((size < 50000)) || die "$name.pcap is $size bytes, expected < 50 KB"
	install -m 0644 "$out" "$OUT_DIR/$name.pcap"
	log "wrote $OUT_DIR/$name.pcap ($size bytes)"
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
	teardown_namespaces
	trap cleanup EXIT INT TERM
	WORK=$(mktemp -d /tmp/iotgw-rtsp.XXXXXX)
	mkdir -p "$OUT_DIR"
	setup_network
	record rtsp-digest digest "$DIGEST_USER" "$DIGEST_PASS" digest_session
	record rtsp-basic basic "$BASIC_USER" "$BASIC_PASS" basic_session
	log "ffmpeg $(ffmpeg -version | awk 'NR==1{print $3}'), GStreamer RTSP server $(dpkg-query -W -f '${Version}' libgstrtspserver-1.0-0 2>/dev/null)"
}

main "$@"
