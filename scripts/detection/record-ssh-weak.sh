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
# shellcheck source-path=SCRIPTDIR source=record-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/record-lib.sh"

readonly NS_CAM=iotgw-sshweak-cam
readonly NS_PC=iotgw-sshweak-pc
readonly CAM_IP=192.168.54.10
readonly PC_IP=192.168.54.20
readonly CAM_MAC=c0:56:e3:5c:6d:7e # Hangzhou Hikvision (a camera)
readonly PC_MAC=3c:a9:f4:6c:7d:8f  # Intel Corporate (a PC)
readonly PORT=22

OUT=$(absolute_path "${1:-$REPO_ROOT/pkg/inspect/ssh/testdata/ssh-weak-kex.pcap}")

require_commands "iproute2 tcpdump openssh-client openssh-server" ip ss tcpdump ssh ssh-keygen
[[ -x /usr/sbin/sshd ]] || die "sshd is missing (apt-get install openssh-server)"

record_begin
veth_pair "$NS_CAM" cam0 "$CAM_MAC" "$CAM_IP" \
	"$NS_PC" pc0 "$PC_MAC" "$PC_IP"

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
start_server "$NS_CAM" tcp "$PORT" "$WORK/sshd.log" /usr/sbin/sshd -D -e -f "$WORK/sshd_config"
start_capture "$NS_PC" pc0 "tcp port $PORT" "$WORK/out.pcap"

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
stop_capture
save_recording "$WORK/out.pcap" "$OUT"
