# shellcheck shell=bash
# record-lib.sh — what the recording scripts in this directory (and
# scripts/lab/record-demo.sh) share, for them to source (it is never run by
# itself):
#
#   source "$(dirname "${BASH_SOURCE[0]}")/record-lib.sh"
#
# Sourcing it sets strict mode (set -euo pipefail), a fixed PATH and
# LC_ALL=C, and SCRIPT_DIR (this directory) and REPO_ROOT. Then:
#
#   log MESSAGE…          a line on stderr, with the seconds since the start
#   die MESSAGE…          log an error and exit 1 (the cleanup still runs)
#   require_commands PACKAGES COMMAND…
#                         die unless each COMMAND is installed; PACKAGES is
#                         what to apt-get install for them
#   install_packages PACKAGE…
#                         apt-get install the PACKAGEs (each once), if any
#   missing_packages COMMAND=PACKAGE…
#                         print the PACKAGE of each COMMAND not installed
#   absolute_path PATH    print PATH, relative ones made absolute
#   record_begin          check for root, arrange the cleanup on exit and
#                         make a work directory, WORK
#   veth_pair NS_A DEV_A MAC_A ADDR_A NS_B DEV_B MAC_B ADDR_B
#                         two network namespaces joined by a veth pair
#   delete_namespaces NS…
#                         kill what runs in each namespace, then delete it
#   start_server NS tcp|udp PORT LOG COMMAND…
#                         run COMMAND in NS until it listens on PORT
#   stop_server
#   start_capture NS DEV FILTER FILE
#                         run tcpdump on DEV in NS, writing to FILE
#   stop_capture          stop it once the last packets are in FILE
#   save_recording FILE OUT
#                         copy the recording FILE to OUT
#   mosquitto_password_file USER PASSWORD
#                         write WORK/passwd, mosquitto's password file
#                         with that one account
#
# The cleanup, on exit or on a signal, stops the server and tcpdump, kills
# whatever else still runs in the namespaces, deletes them and removes WORK:
# nothing is left behind, however the script ends.

set -euo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
# shellcheck disable=SC2034 # for the scripts that source this file
readonly SCRIPT_DIR REPO_ROOT

# The work directory, set by record_begin.
WORK=

# What the cleanup undoes; only this file's functions change them.
_record_namespaces=()
_record_server_pid=
_record_capture_pid=

log() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }

die() {
	log "ERROR: $*"
	exit 1
}

require_commands() {
	local packages=$1 cmd
	shift
	for cmd in "$@"; do
		command -v "$cmd" >/dev/null || die "$cmd is missing (apt-get install $packages)"
	done
}

install_packages() {
	(($#)) || return 0
	local packages
	mapfile -t packages < <(printf '%s\n' "$@" | sort -u)
	log "installing missing packages: ${packages[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
}

missing_packages() {
	local pair
	for pair in "$@"; do
		command -v "${pair%%=*}" >/dev/null 2>&1 || printf '%s\n' "${pair#*=}"
	done
}

absolute_path() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}

record_begin() {
	[[ $(id -u) -eq 0 ]] || die "run as root (network namespaces)"
	trap _record_cleanup EXIT
	# A signal ends the script with a failure; the exit runs the cleanup.
	trap 'exit 130' INT
	trap 'exit 143' TERM
	WORK=$(mktemp -d)
	# Readable by servers that drop root (mosquitto runs as its own user).
	chmod 0755 "$WORK"
}

# veth_pair NS_A DEV_A MAC_A ADDR_A NS_B DEV_B MAC_B ADDR_B: the namespaces
# NS_A and NS_B, each with lo and its end of the pair, DEV_A or DEV_B, with
# that MAC and ADDR/24. Namespaces of these names left by an earlier run
# that was killed are deleted first.
veth_pair() {
	local ns_a=$1 ns_b=$5
	delete_namespaces "$ns_a" "$ns_b"
	_record_namespaces+=("$ns_a" "$ns_b")
	ip netns add "$ns_a"
	ip netns add "$ns_b"
	ip -n "$ns_a" link add "$2" type veth peer name "$6" netns "$ns_b"
	_record_configure_end "$ns_a" "$2" "$3" "$4"
	_record_configure_end "$ns_b" "$6" "$7" "$8"
}

# _record_configure_end NS DEV MAC ADDR
_record_configure_end() {
	local ns=$1 dev=$2
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
		"net.ipv6.conf.$dev.disable_ipv6=1"
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$dev" address "$3"
	ip -n "$ns" addr add "$4/24" dev "$dev"
	ip -n "$ns" link set "$dev" up
	# Wire-sized frames with right checksums: no segmentation or checksum
	# offload left to merge segments or skip a checksum.
	ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
}

# start_server NS tcp|udp PORT LOG COMMAND…: COMMAND in the namespace NS,
# its output in LOG, until a socket of its listens on PORT; if none does
# within ten seconds, or COMMAND exits, show LOG and die. One server at a
# time.
start_server() {
	local ns=$1 proto=$2 port=$3 log_file=$4 listening _
	shift 4
	case $proto in
	tcp) listening=-ltnH ;;
	udp) listening=-lunH ;;
	*) die "start_server: protocol $proto, want tcp or udp" ;;
	esac
	[[ -z $_record_server_pid ]] || die "start_server: a server is already running"
	ip netns exec "$ns" "$@" >"$log_file" 2>&1 &
	_record_server_pid=$!
	for _ in $(seq 100); do
		ip netns exec "$ns" ss "$listening" "sport = :$port" | grep -q . && return 0
		kill -0 "$_record_server_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$log_file" >&2
	die "${1##*/} did not start listening on $proto port $port"
}

stop_server() {
	_record_stop "$_record_server_pid" TERM
	_record_server_pid=
}

# start_capture NS DEV FILTER FILE: tcpdump on DEV in the namespace NS,
# whole frames, each written to FILE as it comes (-U); returns once tcpdump
# listens.
start_capture() {
	local _
	[[ -z $_record_capture_pid ]] || die "start_capture: a capture is already running"
	ip netns exec "$1" tcpdump -i "$2" -s 1514 -U -n -w "$4" "$3" 2>"$WORK/tcpdump.log" &
	_record_capture_pid=$!
	for _ in $(seq 100); do
		# -s: tcpdump may not have opened its log yet.
		grep -qs 'listening on' "$WORK/tcpdump.log" && return 0
		kill -0 "$_record_capture_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/tcpdump.log" >&2
	die "tcpdump did not start"
}

# stop_capture lets the last packets on their way reach tcpdump, then stops
# it with SIGINT, on which it writes out what it holds, and waits for it.
stop_capture() {
	sleep 1
	_record_stop "$_record_capture_pid" INT
	_record_capture_pid=
}

# save_recording FILE OUT
save_recording() {
	install -m 0644 "$1" "$2"
	log "wrote $2 ($(stat -c %s "$2") bytes)"
}

# mosquitto_password_file USER PASSWORD: $WORK/passwd with USER's account,
# readable by mosquitto after it drops root and by nobody else.
mosquitto_password_file() {
	touch "$WORK/passwd"
	mosquitto_passwd -b "$WORK/passwd" "$1" "$2"
	chown mosquitto "$WORK/passwd" 2>/dev/null || true
	chmod 0600 "$WORK/passwd"
}

# _record_stop PID SIGNAL: signal PID, if it still runs, and reap it.
_record_stop() {
	if [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; then
		kill "-$2" "$1"
		wait "$1" 2>/dev/null || true
	fi
}

# delete_namespaces NS…: kill what runs in each, then delete it; a name
# with no namespace is skipped.
delete_namespaces() {
	local ns pids
	for ns in "$@"; do
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

_record_cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	_record_stop "$_record_capture_pid" INT
	_record_stop "$_record_server_pid" TERM
	delete_namespaces "${_record_namespaces[@]}"
	[[ -z $WORK ]] || rm -rf "$WORK"
	exit "$rc"
}
