#!/usr/bin/env bash
# record-ssh-weak.sh — record an SSH key exchange that negotiates weak
# algorithms between real programs: Debian's OpenSSH server set up as an
# old camera's (diffie-hellman-group1-sha1, ssh-rsa, aes128-cbc and
# nothing better) and Debian's OpenSSH client with its defaults and
# those legacy algorithms added at the end of its lists, as a user
# reaching such a camera types it. The client has no key and no
# password: the recording ends at the refused login, long after the
# KEXINITs, the only part iotgw reads.
#
#   sudo scripts/detection/record-ssh-weak.sh [OUTPUT]
#       (default: pkg/inspect/ssh/testdata/ssh-weak-kex.pcap)
#
# Two network namespaces, iotgw-sshweak-cam and iotgw-sshweak-pc, joined
# by a veth pair; 192.168.54.0/24 exists only between them, nothing is
# set up in the host's network namespace and no packet leaves the pair.
set -euo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

readonly NS_CAM=iotgw-sshweak-cam
readonly NS_PC=iotgw-sshweak-pc
readonly CAM_IP=192.168.54.10
readonly PC_IP=192.168.54.20
readonly CAM_MAC=c0:56:e3:5c:6d:7e # Hangzhou Hikvision (a camera)
readonly PC_MAC=3c:a9:f4:6c:7d:8f  # Intel Corporate (a PC)
readonly PORT=22

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/../.." && pwd)
OUT=${1:-$REPO_ROOT/pkg/inspect/ssh/testdata/ssh-weak-kex.pcap}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac

TCPDUMP_PID=
SSHD_PID=
WORK=

log() { printf '[%3ds] %s\n' "$SECONDS" "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

for cmd in ip ss tcpdump ssh ssh-keygen; do
	command -v "$cmd" >/dev/null || die "$cmd is missing (apt-get install iproute2 tcpdump openssh-client openssh-server)"
done
[[ -x /usr/sbin/sshd ]] || die "sshd is missing (apt-get install openssh-server)"

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
	stop "$SSHD_PID" TERM
	ip netns del "$NS_CAM" 2>/dev/null
	ip netns del "$NS_PC" 2>/dev/null
	[[ -z $WORK ]] || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT INT TERM

WORK=$(mktemp -d)
chmod 0755 "$WORK"

ip netns add "$NS_CAM"
ip netns add "$NS_PC"
ip -n "$NS_CAM" link add cam0 type veth peer name pc0 netns "$NS_PC"
for ns in "$NS_CAM" "$NS_PC"; do
	if [[ $ns == "$NS_CAM" ]]; then dev=cam0 mac=$CAM_MAC addr=$CAM_IP; else dev=pc0 mac=$PC_MAC addr=$PC_IP; fi
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
	ip -n "$ns" link set "$dev" address "$mac"
	ip -n "$ns" addr add "$addr/24" dev "$dev"
	ip -n "$ns" link set "$dev" up
	# Wire-sized frames: no segmentation offload to merge segments.
	ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
done

# The camera's server: an RSA host key, and only what an old firmware's
# SSH server offers.
ssh-keygen -q -t rsa -b 2048 -N '' -f "$WORK/host_rsa"
mkdir -p /run/sshd
cat >"$WORK/sshd_config" <<CONF
Port $PORT
ListenAddress $CAM_IP
HostKey $WORK/host_rsa
PidFile $WORK/sshd.pid
KexAlgorithms diffie-hellman-group1-sha1
HostKeyAlgorithms ssh-rsa
Ciphers aes128-cbc,3des-cbc
MACs hmac-sha1
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
CONF
ip netns exec "$NS_CAM" /usr/sbin/sshd -D -e -f "$WORK/sshd_config" >"$WORK/sshd.log" 2>&1 &
SSHD_PID=$!
for _ in $(seq 50); do
	ip netns exec "$NS_CAM" ss -ltnH "sport = :$PORT" | grep -q . && break
	sleep 0.1
done
ip netns exec "$NS_CAM" ss -ltnH "sport = :$PORT" | grep -q . || {
	cat "$WORK/sshd.log" >&2
	die "sshd did not start"
}

ip netns exec "$NS_PC" tcpdump -i pc0 -s 1514 -U -n -w "$WORK/out.pcap" "tcp port $PORT" 2>"$WORK/tcpdump.log" &
TCPDUMP_PID=$!
for _ in $(seq 50); do
	grep -q 'listening on' "$WORK/tcpdump.log" && break
	sleep 0.1
done

# The login is refused (no key, no password): exit status 255.
rc=0
ip netns exec "$NS_PC" ssh -F /dev/null -vv -p "$PORT" \
	-o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o IdentityFile=/dev/null \
	-o KexAlgorithms=+diffie-hellman-group1-sha1 -o HostKeyAlgorithms=+ssh-rsa -o Ciphers=+aes128-cbc \
	"viewer@$CAM_IP" true 2>"$WORK/ssh.log" || rc=$?
grep -q 'kex: algorithm: diffie-hellman-group1-sha1' "$WORK/ssh.log" || {
	cat "$WORK/ssh.log" >&2
	die "the key exchange was not diffie-hellman-group1-sha1 (ssh exited $rc)"
}
sleep 1
stop "$TCPDUMP_PID" INT
TCPDUMP_PID=
install -m 0644 "$WORK/out.pcap" "$OUT"
log "wrote $OUT ($(stat -c %s "$OUT") bytes)"
