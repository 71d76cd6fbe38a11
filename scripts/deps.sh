#!/bin/bash
# Installs the Debian packages a make target needs, only those missing,
# with a single `apt-get update` first. Usage: scripts/deps.sh SET...
# where SET is test, bench or lab.
set -euo pipefail

declare -A pkg_for=(
	# command → Debian package
	[nft]=nftables [tcpdump]=tcpdump [ip]=iproute2 [mosquitto]=mosquitto
	[mosquitto_pub]=mosquitto-clients [busybox]=busybox [curl]=curl
	[vsftpd]=vsftpd [dnsmasq]=dnsmasq [tshark]=tshark [mergecap]=wireshark-common
	[capinfos]=wireshark-common [ettercap]=ettercap-text-only [dsniff]=dsniff
	[iperf3]=iperf3 [openssl]=openssl [python3]=python3 [shellcheck]=shellcheck
	[unzip]=unzip [snmpd]=snmpd [snmpget]=snmp [sshd]=openssh-server
	[pgrep]=procps [qemu-mips-static]=qemu-user-static [telnetd]=inetutils-telnetd
	[expect]=expect [ffmpeg]=ffmpeg [ffprobe]=ffmpeg [chromium]=chromium [chromedriver]=chromium-driver
	[dhclient]=isc-dhcp-client [mosquitto_passwd]=mosquitto [ethtool]=ethtool [ss]=iproute2
	[ssh]=openssh-client [setpriv]=util-linux [nsenter]=util-linux [busybox-static]=busybox-static [xz]=xz-utils
	[file]=file
	[gcc]=gcc # the race detector needs cgo
)
declare -A set_cmds=(
	[test]="nft tcpdump ip mosquitto mosquitto_pub mosquitto_passwd busybox curl vsftpd dnsmasq openssl python3 shellcheck pgrep telnetd expect iperf3 ethtool dhclient ss sshd ssh setpriv nsenter chromium qemu-mips-static gcc ffprobe"
	[bench]="tshark mergecap capinfos ettercap dsniff ip openssl curl busybox tcpdump ethtool file"
	[lab]="nft tcpdump ip mosquitto mosquitto_pub busybox curl vsftpd dnsmasq openssl python3 pgrep telnetd expect"
)

missing=()
for set in "$@"; do
	[[ -n ${set_cmds[$set]:-} ]] || { echo "deps: unknown set $set" >&2; exit 2; }
	for c in ${set_cmds[$set]}; do
		# sbin is not on every user's PATH
		if ! command -v "$c" >/dev/null && [[ ! -x /usr/sbin/$c && ! -x /sbin/$c ]]; then
			missing+=("${pkg_for[$c]}")
		fi
	done
done
if [[ ${#missing[@]} -eq 0 ]]; then
	exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "deps: missing packages ${missing[*]}; run as root or install them" >&2
	exit 1
fi
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# tshark asks whether non-root users may capture; answer no, quietly.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
