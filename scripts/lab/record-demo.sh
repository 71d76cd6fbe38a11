#!/usr/bin/env bash
# record-demo.sh — build a small home network out of Linux network namespaces,
# let real Debian programs talk across it, and record the LAN side into a
# classic pcap (Ethernet link type).
#
#   sudo scripts/lab/record-demo.sh [OUTPUT.pcap]     (default: testdata/demo.pcap)
#
# Everything lives in namespaces named iotgw-demo-*; nothing is configured in
# the host's network namespace and no packet leaves the namespaces. The
# addresses 192.168.50.0/24 and 203.0.113.0/24 (TEST-NET-3) exist only inside
# them. See scripts/lab/README.md for what the capture contains.
# shellcheck source-path=SCRIPTDIR source=../detection/record-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../detection/record-lib.sh"

readonly P=iotgw-demo
readonly NS_ROUTER=$P-router
readonly NS_WAN=$P-wan
readonly DEVICES=(camera plug tv laptop)
readonly ALL_NS=("$NS_ROUTER" "$NS_WAN" "$P-camera" "$P-plug" "$P-tv" "$P-laptop")

readonly LAN_GW=192.168.50.1
readonly WAN_GW=203.0.113.1
readonly WAN_HOST=203.0.113.10

# Fixed MAC addresses with real vendor OUIs (see /usr/share/ieee-data/oui.csv).
declare -A MAC=(
	[router]=94:83:c4:50:00:01 # GL Technologies (GL.iNet travel/home router)
	[wan0]=94:83:c4:50:00:02   # router, WAN side (not in the capture)
	[camera]=c0:56:e3:1a:2b:3c # Hangzhou Hikvision Digital Technology
	[plug]=50:c7:bf:0a:1b:2c   # TP-LINK TECHNOLOGIES
	[tv]=8c:79:f5:3d:4e:5f     # Samsung Electronics
	[laptop]=3c:a9:f4:6a:7b:8c # Intel Corporate
)
# DHCP reservations on the router (inside the dynamic range .100-.150).
declare -A IP=(
	[camera]=192.168.50.101
	[plug]=192.168.50.102
	[tv]=192.168.50.103
	[laptop]=192.168.50.104
)

OUT=$(absolute_path "${1:-$REPO_ROOT/testdata/demo.pcap}")

TCPDUMP_PID=
PIDS=()

# ---------------------------------------------------------------------------
# Dependencies: install only what is missing, apt-get update at most once.
# ---------------------------------------------------------------------------
ensure_deps() {
	local missing
	mapfile -t missing < <(missing_packages ip=iproute2 bridge=iproute2 ss=iproute2 nft=nftables \
		tcpdump=tcpdump dnsmasq=dnsmasq-base busybox=busybox \
		mosquitto=mosquitto mosquitto_passwd=mosquitto \
		mosquitto_pub=mosquitto-clients vsftpd=vsftpd openssl=openssl \
		curl=curl telnetd=inetutils-telnetd expect=expect \
		avahi-daemon=avahi-daemon dhclient=isc-dhcp-client \
		ethtool=ethtool python3=python3 unshare=util-linux mount=mount)
	install_packages "${missing[@]}"
	local applet applets
	applets=$(busybox --list)
	for applet in udhcpc httpd nc ftpput ftpget telnet; do
		grep -qx "$applet" <<<"$applets" || die "busybox lacks the '$applet' applet"
	done
}

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	if [[ -n $TCPDUMP_PID ]] && kill -0 "$TCPDUMP_PID" 2>/dev/null; then
		kill -INT "$TCPDUMP_PID"
		wait "$TCPDUMP_PID" 2>/dev/null
	fi
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
	done
	if ((rc != 0)) && [[ -n $WORK && -d $WORK ]]; then
		local f
		for f in "$WORK"/*.log "$WORK"/*/*.log; do
			[[ -s $f ]] || continue
			printf -- '--- %s (last lines)\n' "${f#"$WORK"/}" >&2
			tail -n 15 "$f" >&2
		done
	fi
	delete_namespaces "${ALL_NS[@]}"
	[[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
	if ((rc != 0)); then
		log "failed (exit $rc)"
	fi
	exit "$rc"
}

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
# in NS CMD...: run in a namespace.
in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# dev DEVICE CMD...: run as a device. `ip netns exec` gives every command a
# private mount namespace; in-dev bind-mounts the device's own resolv.conf
# (written by its DHCP client) over /etc/resolv.conf there, so name lookups
# go to the router and the host's resolver configuration is never touched.
dev() {
	local d=$1
	shift
	ip netns exec "$P-$d" "$WORK/bin/in-dev" "$WORK/$d/resolv.conf" "$@"
}

# bg_run NS LOG CMD...: start CMD in namespace NS in the background, output
# to LOG, and remember its pid for cleanup (`ip netns exec` execs CMD, so $!
# is CMD itself).
bg_run() {
	local ns=$1 logfile=$2
	shift 2
	ip netns exec "$ns" "$@" </dev/null >>"$logfile" 2>&1 &
	PIDS+=("$!")
}

# bg_dev DEVICE LOG CMD...: like bg_run, as a device (see dev).
bg_dev() {
	local d=$1 logfile=$2
	shift 2
	bg_run "$P-$d" "$logfile" "$WORK/bin/in-dev" "$WORK/$d/resolv.conf" "$@"
}

# wait_listen NS PROTO PORT: wait until something listens on PORT.
wait_listen() {
	local ns=$1 proto=$2 port=$3 i
	for ((i = 0; i < 100; i++)); do
		if in_ns "$ns" ss -Hln"${proto:0:1}" "sport = :$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.1
	done
	die "nothing listening on $proto/$port in $ns"
}

# ---------------------------------------------------------------------------
# Files: configs, small programs, content
# ---------------------------------------------------------------------------
write_files() {
	mkdir -p "$WORK/bin" "$WORK/router" "$WORK/wan" "${DEVICES[@]/#/$WORK/}"
	chmod 755 "$WORK"

	cat >"$WORK/bin/in-dev" <<'EOF'
#!/bin/sh
# in-dev RESOLV CMD...: private resolv.conf, then exec CMD.
set -e
resolv=$1
shift
mount --bind "$resolv" /etc/resolv.conf
exec "$@"
EOF

	local d
	for d in "${DEVICES[@]}"; do
		: >"$WORK/$d/resolv.conf"
		# udhcpc event script (busybox exports ip, mask (prefix), router, dns).
		cat >"$WORK/$d/udhcpc.script" <<EOF
#!/bin/sh
case "\$1" in
deconfig)
	ip link set dev "\$interface" up
	ip -4 addr flush dev "\$interface"
	;;
bound|renew)
	ip -4 addr flush dev "\$interface"
	ip addr add "\$ip/\${mask:-24}" broadcast + dev "\$interface"
	for r in \$router; do ip route replace default via "\$r" dev "\$interface"; break; done
	: >"$WORK/$d/resolv.conf"
	[ -n "\$domain" ] && echo "search \$domain" >>"$WORK/$d/resolv.conf"
	for s in \$dns; do echo "nameserver \$s" >>"$WORK/$d/resolv.conf"; done
	;;
esac
exit 0
EOF
		# dhclient script (isc-dhcp-client passes new_* variables).
		cat >"$WORK/$d/dhclient.script" <<EOF
#!/bin/sh
case "\$reason" in
PREINIT)
	ip link set dev "\$interface" up
	;;
BOUND|RENEW|REBIND|REBOOT)
	ip -4 addr flush dev "\$interface"
	ip addr add "\$new_ip_address/\$new_subnet_mask" broadcast + dev "\$interface"
	for r in \$new_routers; do ip route replace default via "\$r" dev "\$interface"; break; done
	: >"$WORK/$d/resolv.conf"
	[ -n "\$new_domain_name" ] && echo "search \$new_domain_name" >>"$WORK/$d/resolv.conf"
	for s in \$new_domain_name_servers; do echo "nameserver \$s" >>"$WORK/$d/resolv.conf"; done
	;;
EXPIRE|FAIL|RELEASE|STOP)
	ip -4 addr flush dev "\$interface"
	;;
esac
exit 0
EOF
	done

	# dhclient configs: TV and laptop (camera and plug use busybox udhcpc).
	cat >"$WORK/tv/dhclient.conf" <<'EOF'
send host-name "samsung-tv";
send vendor-class-identifier "SAMSUNG-TV";
request subnet-mask, broadcast-address, time-offset, routers,
	domain-name, domain-name-servers, host-name, ntp-servers;
EOF
	cat >"$WORK/laptop/dhclient.conf" <<'EOF'
option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
send host-name "alice-laptop";
request subnet-mask, broadcast-address, time-offset, routers,
	domain-name, domain-name-servers, domain-search, host-name,
	netbios-name-servers, netbios-scope, interface-mtu,
	rfc3442-classless-static-routes, ntp-servers;
EOF

	# ---- WAN host --------------------------------------------------------
	# HTTP (busybox httpd): /api needs Basic auth admin:admin, the rest is open.
	mkdir -p "$WORK/wan/www/api" "$WORK/wan/www/firmware"
	printf '/api:admin:admin\n.json:application/json\n.bin:application/octet-stream\n' \
		>"$WORK/wan/httpd.conf"
	printf '{"device":"ipcam","status":"online","cloud":"example-camera"}\n' \
		>"$WORK/wan/www/api/status.json"
	# A 4 KiB "firmware image" with fixed content.
	{
		printf 'EXFW\001\000\000\000'
		head -c 4088 /dev/zero | tr '\0' 'U'
	} >"$WORK/wan/www/firmware/update.bin"

	# DNS (dnsmasq): the cloud names.
	cat >"$WORK/wan/dnsmasq.conf" <<EOF
no-resolv
no-hosts
bind-interfaces
listen-address=$WAN_HOST
local-ttl=300
# A records only; AAAA queries for these names get an empty NOERROR answer.
host-record=cloud.example-camera.com,$WAN_HOST
host-record=fw.example-tv.com,$WAN_HOST
host-record=broker.example-plug.com,$WAN_HOST
local=/example-camera.com/example-tv.com/example-plug.com/
pid-file=
user=root
log-queries
log-facility=$WORK/wan/dnsmasq.log
EOF

	# MQTT (mosquitto): no anonymous access, one account for the plug.
	mosquitto_passwd -c -b "$WORK/wan/mosquitto.passwd" plug01 'S3cure-Plug-77' 2>/dev/null
	chmod 600 "$WORK/wan/mosquitto.passwd"
	cat >"$WORK/wan/mosquitto.conf" <<EOF
listener 1883 $WAN_HOST
allow_anonymous false
password_file $WORK/wan/mosquitto.passwd
persistence false
user root
log_dest file $WORK/wan/mosquitto.log
EOF

	# FTP (vsftpd): a local user admin/admin. The user exists only in a
	# private passwd/shadow bind-mounted inside vsftpd's mount namespace.
	mkdir -p "$WORK/wan/ftp-home" "$WORK/wan/vsftpd-empty"
	printf '[network]\nserver=203.0.113.10\nupload=ftp\n' >"$WORK/wan/ftp-home/ipcam.cfg"
	chown -R 2121:2121 "$WORK/wan/ftp-home"
	chmod 755 "$WORK/wan/vsftpd-empty"
	cat >"$WORK/wan/passwd" <<EOF
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
admin:x:2121:2121:admin:$WORK/wan/ftp-home:/bin/sh
EOF
	cat >"$WORK/wan/group" <<'EOF'
root:x:0:
nogroup:x:65534:
admin:x:2121:
EOF
	printf 'root:*:19700:0:99999:7:::\nnobody:*:19700:0:99999:7:::\nadmin:%s:19700:0:99999:7:::\n' \
		"$(openssl passwd -6 -salt iotgwdemo admin)" >"$WORK/wan/shadow"
	chmod 640 "$WORK/wan/shadow"
	cat >"$WORK/wan/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=$WAN_HOST
background=NO
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
pam_service_name=vsftpd
secure_chroot_dir=$WORK/wan/vsftpd-empty
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
pasv_enable=YES
pasv_min_port=40000
pasv_max_port=40009
xferlog_enable=YES
vsftpd_log_file=$WORK/wan/vsftpd.log
EOF
	cat >"$WORK/bin/wan-vsftpd" <<EOF
#!/bin/sh
set -e
mount --bind "$WORK/wan/passwd" /etc/passwd
mount --bind "$WORK/wan/group" /etc/group
mount --bind "$WORK/wan/shadow" /etc/shadow
exec vsftpd "$WORK/wan/vsftpd.conf"
EOF

	# TLS (openssl s_server): throwaway self-signed certificate.
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$WORK/wan/tls.key" -out "$WORK/wan/tls.crt" -days 2 \
		-subj "/CN=cloud.example-camera.com" \
		-addext "subjectAltName=DNS:cloud.example-camera.com,DNS:fw.example-tv.com,DNS:broker.example-plug.com" \
		2>/dev/null

	# ---- router ----------------------------------------------------------
	{
		echo "no-resolv"
		echo "no-hosts"
		echo "interface=br-lan"
		echo "bind-interfaces"
		echo "server=$WAN_HOST"
		echo "domain=lan"
		echo "local=/lan/"
		echo "dhcp-range=192.168.50.100,192.168.50.150,255.255.255.0,12h"
		echo "dhcp-option=option:router,$LAN_GW"
		echo "dhcp-option=option:dns-server,$LAN_GW"
		echo "dhcp-authoritative"
		echo "dhcp-leasefile=$WORK/router/dnsmasq.leases"
		for d in "${DEVICES[@]}"; do
			echo "dhcp-host=${MAC[$d]},${IP[$d]}"
		done
		echo "pid-file="
		echo "user=root"
		echo "log-dhcp"
		echo "log-queries"
		echo "log-facility=$WORK/router/dnsmasq.log"
	} >"$WORK/router/dnsmasq.conf"
	cat >"$WORK/router/nat.nft" <<'EOF'
table ip iotgw_demo {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
	# Belt and braces: the LAN may reach the demo WAN host and nothing else.
	chain forward {
		type filter hook forward priority filter; policy accept;
		oifname "wan0" ip daddr != 203.0.113.10 drop
	}
}
EOF

	# ---- camera: telnetd with a firmware-style login ----------------------
	# inetutils telnetd does the telnet side (option negotiation, pty); the
	# "login program", the one the namespace lab uses, stands in for the
	# camera firmware's /bin/login: BusyBox-style prompts, and only the
	# factory default root:xc3511 works.
	install -m 0755 "$REPO_ROOT/test/lab/testdata/camera-login.sh" "$WORK/bin/camera-login"
	cat >"$WORK/bin/camera-telnetd" <<EOF
#!/bin/sh
exec telnetd --no-hostinfo --exec-login="$WORK/bin/camera-login"
EOF

	# ---- laptop: telnet into the camera with the default password ---------
	cat >"$WORK/bin/laptop-telnet.exp" <<'EOF'
set timeout 10
proc want {pattern} {
	expect {
		-exact $pattern {}
		timeout { puts stderr "telnet: timed out waiting for '$pattern'"; exit 1 }
		eof { puts stderr "telnet: connection closed waiting for '$pattern'"; exit 1 }
	}
}
spawn busybox telnet [lindex $argv 0]
want "login: "
send "root\r"
want "Password: "
send "xc3511\r"
want "# "
send "uname -a\r"
want "# "
send "exit\r"
expect eof
EOF

	# ---- tv: UPnP (SSDP NOTIFY/M-SEARCH answers + description over HTTP) ---
	cat >"$WORK/bin/tv-upnp.py" <<'EOF'
"""Minimal UPnP root device for the demo TV: SSDP alive/byebye NOTIFYs,
answers to M-SEARCH, and the device description over HTTP."""
import http.server
import signal
import socket
import struct
import sys
import threading
import time

IP = sys.argv[1]
PORT = 9197
GROUP = ("239.255.255.250", 1900)
UUID = "uuid:0f3a8c2e-1d4b-4e6f-9a7c-8c79f53d4e5f"
SERVER = "Linux/3.10 UPnP/1.0 MiniUPnPd/1.6"
LOCATION = "http://%s:%d/dmr/description.xml" % (IP, PORT)
NTS = [
    "upnp:rootdevice",
    UUID,
    "urn:schemas-upnp-org:device:MediaRenderer:1",
]
XML = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" xmlns:dlna="urn:schemas-dlna-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<device>
<deviceType>urn:schemas-upnp-org:device:MediaRenderer:1</deviceType>
<friendlyName>[TV] Samsung 7 Series (55)</friendlyName>
<manufacturer>Samsung Electronics</manufacturer>
<manufacturerURL>http://www.samsung.com/sec</manufacturerURL>
<modelDescription>Samsung TV DMR</modelDescription>
<modelName>UE55TU7100</modelName>
<modelNumber>AllShare1.0</modelNumber>
<modelURL>http://www.samsung.com/sec</modelURL>
<serialNumber>0AJ73CKN500123</serialNumber>
<firmwareVersion>T-KTM2AKUC-1234.5</firmwareVersion>
<UDN>%s</UDN>
<dlna:X_DLNADOC>DMR-1.50</dlna:X_DLNADOC>
</device>
</root>
""" % UUID


def usn(nt):
    return UUID if nt == UUID else UUID + "::" + nt


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return SERVER

    def do_GET(self):
        if self.path != "/dmr/description.xml":
            self.send_error(404)
            return
        body = XML.encode()
        self.send_response(200)
        self.send_header("Content-Type", 'text/xml; charset="utf-8"')
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, fmt, *args):
        sys.stderr.write("tv-upnp http: " + (fmt % args) + "\n")


httpd = http.server.HTTPServer((IP, PORT), Handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("", 1900))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                socket.inet_aton(GROUP[0]) + socket.inet_aton(IP))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(IP))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("b", 2))
sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)


def notify(kind):
    for nt in NTS:
        lines = ["NOTIFY * HTTP/1.1", "HOST: 239.255.255.250:1900"]
        if kind == "ssdp:alive":
            lines += ["CACHE-CONTROL: max-age=1800", "LOCATION: " + LOCATION]
        lines += ["NT: " + nt, "NTS: " + kind]
        if kind == "ssdp:alive":
            lines += ["SERVER: " + SERVER]
        lines += ["USN: " + usn(nt), "", ""]
        sock.sendto("\r\n".join(lines).encode(), GROUP)


def bye(*_):
    notify("ssdp:byebye")
    sys.exit(0)


signal.signal(signal.SIGTERM, bye)
notify("ssdp:alive")
time.sleep(0.5)
notify("ssdp:alive")
sys.stderr.write("tv-upnp: announced %s\n" % LOCATION)
sys.stderr.flush()
while True:
    data, peer = sock.recvfrom(2048)
    text = data.decode("latin-1")
    if not text.startswith("M-SEARCH"):
        continue
    st = ""
    for line in text.split("\r\n"):
        if line.lower().startswith("st:"):
            st = line[3:].strip()
    targets = NTS if st == "ssdp:all" else [t for t in NTS if t == st]
    for nt in targets:
        resp = "\r\n".join([
            "HTTP/1.1 200 OK",
            "CACHE-CONTROL: max-age=1800",
            "EXT:",
            "LOCATION: " + LOCATION,
            "SERVER: " + SERVER,
            "ST: " + nt,
            "USN: " + usn(nt),
            "", ""])
        sock.sendto(resp.encode(), peer)
EOF

	# ---- laptop: SSDP M-SEARCH, prints the LOCATIONs it hears about -------
	cat >"$WORK/bin/ssdp-search.py" <<'EOF'
"""Send one SSDP M-SEARCH (ssdp:all) and print the unique LOCATIONs."""
import socket
import struct
import sys
import time

IP = sys.argv[1]
msg = "\r\n".join([
    "M-SEARCH * HTTP/1.1",
    "HOST: 239.255.255.250:1900",
    'MAN: "ssdp:discover"',
    "MX: 1",
    "ST: ssdp:all",
    "USER-AGENT: Linux/6.1 UPnP/1.1 demo-control-point/1.0",
    "", ""]).encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
s.bind((IP, 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(IP))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, struct.pack("b", 2))
s.sendto(msg, ("239.255.255.250", 1900))
seen = []
deadline = time.time() + 3.0
while True:
    left = deadline - time.time()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        data, _ = s.recvfrom(2048)
    except socket.timeout:
        break
    for line in data.decode("latin-1").split("\r\n"):
        if line.lower().startswith("location:"):
            loc = line.split(":", 1)[1].strip()
            if loc not in seen:
                seen.append(loc)
            # the other answers follow right away; don't wait for MX
            deadline = min(deadline, time.time() + 0.3)
print("\n".join(seen))
EOF

	# ---- tv: avahi-daemon (mDNS) without D-Bus ------------------------------
	mkdir -p "$WORK/tv/avahi-services"
	cat >"$WORK/tv/avahi-daemon.conf" <<'EOF'
[server]
host-name=samsung-tv
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
enable-dbus=no
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
publish-domain=no
publish-aaaa-on-ipv4=no
publish-a-on-ipv6=no

[reflector]
enable-reflector=no

[rlimits]
EOF
	cat >"$WORK/tv/avahi-services/airplay.service" <<'EOF'
<?xml version="1.0" standalone='no'?>
<!DOCTYPE service-group SYSTEM "avahi-service.dtd">
<service-group>
  <name>[TV] Samsung 7 Series (55)</name>
  <service>
    <type>_airplay._tcp</type>
    <port>7000</port>
    <txt-record>deviceid=8C:79:F5:3D:4E:5F</txt-record>
    <txt-record>manufacturer=Samsung</txt-record>
    <txt-record>model=UE55TU7100</txt-record>
    <txt-record>srcvers=377.40.00</txt-record>
  </service>
</service-group>
EOF
	# avahi keeps its pid file and socket in /run/avahi-daemon: give it a
	# private /run so it neither sees nor leaves anything on the host.
	cat >"$WORK/bin/tv-avahi" <<EOF
#!/bin/sh
set -e
mount -t tmpfs iotgw-demo-run /run
mount --bind "$WORK/tv/avahi-services" /etc/avahi/services
exec avahi-daemon -f "$WORK/tv/avahi-daemon.conf" --no-drop-root --no-chroot --no-rlimits
EOF

	# ---- camera: a snapshot to upload ------------------------------------
	{
		printf '\377\330\377\340\000\020JFIF\000\001\001\000\000\001\000\001\000\000'
		head -c 300 /dev/zero | tr '\0' '\252'
		printf '\377\331'
	} >"$WORK/camera/snapshot-0001.jpg"

	chmod 755 "$WORK"/bin/* "$WORK"/*/*.script
}

# ---------------------------------------------------------------------------
# Topology
# ---------------------------------------------------------------------------
# no_offload NS DEV: no TSO/GSO/GRO, so the capture holds wire-sized frames
# (otherwise veth/bridge pass 64 KB super-packets that snaplen would cut).
no_offload() {
	in_ns "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
}

build_topology() {
	local ns d
	for ns in "${ALL_NS[@]}"; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
		# IPv4 only: keeps the capture small and free of RS/MLD/DAD noise.
		in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 2>/dev/null || true
	done

	# Router: LAN bridge.
	ip -n "$NS_ROUTER" link add br-lan address "${MAC[router]}" type bridge \
		stp_state 0 forward_delay 0 mcast_snooping 0
	ip -n "$NS_ROUTER" addr add "$LAN_GW/24" dev br-lan
	ip -n "$NS_ROUTER" link set br-lan up

	# Router <-> WAN host.
	ip -n "$NS_ROUTER" link add wan0 address "${MAC[wan0]}" type veth \
		peer name eth0 address 02:00:cb:00:71:0a netns "$NS_WAN"
	ip -n "$NS_ROUTER" addr add "$WAN_GW/24" dev wan0
	ip -n "$NS_ROUTER" link set wan0 up
	ip -n "$NS_WAN" addr add "$WAN_HOST/24" dev eth0
	ip -n "$NS_WAN" link set eth0 up
	no_offload "$NS_ROUTER" br-lan
	no_offload "$NS_ROUTER" wan0
	no_offload "$NS_WAN" eth0
	in_ns "$NS_ROUTER" sysctl -qw net.ipv4.ip_forward=1
	# If br_netfilter is loaded, keep bridged LAN traffic out of nftables.
	in_ns "$NS_ROUTER" sysctl -qw net.bridge.bridge-nf-call-iptables=0 \
		net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
	in_ns "$NS_ROUTER" nft -f "$WORK/router/nat.nft"

	# Devices: one veth each, LAN end enslaved to br-lan; the device end
	# stays down until its DHCP client brings it up.
	for d in "${DEVICES[@]}"; do
		ip -n "$NS_ROUTER" link add "lan-$d" type veth \
			peer name eth0 address "${MAC[$d]}" netns "$P-$d"
		ip -n "$NS_ROUTER" link set "lan-$d" master br-lan up
		no_offload "$NS_ROUTER" "lan-$d"
		no_offload "$P-$d" eth0
	done
}

start_services() {
	log "starting WAN services (DNS, HTTP, FTP, MQTT, TLS) on $WAN_HOST"
	local l=$WORK/wan/services.log
	bg_run "$NS_WAN" "$l" dnsmasq -k -C "$WORK/wan/dnsmasq.conf"
	bg_run "$NS_WAN" "$l" busybox httpd -f -p "$WAN_HOST:80" -h "$WORK/wan/www" \
		-c "$WORK/wan/httpd.conf" -r "example-camera cloud"
	bg_run "$NS_WAN" "$l" "$WORK/bin/wan-vsftpd"
	bg_run "$NS_WAN" "$l" mosquitto -c "$WORK/wan/mosquitto.conf"
	bg_run "$NS_WAN" /dev/null openssl s_server -quiet -accept "$WAN_HOST:443" \
		-cert "$WORK/wan/tls.crt" -key "$WORK/wan/tls.key" -www
	wait_listen "$NS_WAN" udp 53
	wait_listen "$NS_WAN" tcp 80
	wait_listen "$NS_WAN" tcp 21
	wait_listen "$NS_WAN" tcp 1883
	wait_listen "$NS_WAN" tcp 443

	log "starting router dnsmasq (DHCP + DNS forwarder) on br-lan"
	bg_run "$NS_ROUTER" "$WORK/router/services.log" dnsmasq -k -C "$WORK/router/dnsmasq.conf"
	wait_listen "$NS_ROUTER" udp 67
	wait_listen "$NS_ROUTER" udp 53
}

start_lan_capture() {
	local pcap=$WORK/lan.pcap i
	log "recording br-lan"
	ip netns exec "$NS_ROUTER" tcpdump -i br-lan -n -s 1514 -U -Z root -w "$pcap" \
		2>"$WORK/tcpdump.log" &
	TCPDUMP_PID=$!
	for ((i = 0; i < 100; i++)); do
		grep -q 'listening on' "$WORK/tcpdump.log" 2>/dev/null && return 0
		sleep 0.1
	done
	die "tcpdump did not start: $(cat "$WORK/tcpdump.log")"
}

stop_lan_capture() {
	kill -INT "$TCPDUMP_PID"
	wait "$TCPDUMP_PID" || true
	TCPDUMP_PID=
	sed -n '/packets captured/,$p' "$WORK/tcpdump.log" >&2
}

# ---------------------------------------------------------------------------
# DHCP
# ---------------------------------------------------------------------------
udhcpc_lease() { # DEVICE HOSTNAME [VENDOR-CLASS]
	local d=$1 host=$2 args=()
	[[ -n ${3:-} ]] && args=(-V "$3")
	dev "$d" busybox udhcpc -i eth0 -f -q -n -t 5 -T 1 -A 1 \
		-s "$WORK/$d/udhcpc.script" -x "hostname:$host" "${args[@]}" >/dev/null 2>&1 ||
		die "$d: no DHCP lease"
}

dhclient_lease() { # DEVICE
	local d=$1 i
	# Foreground (-d) in the background: dhclient stays to renew, like on a
	# real laptop, and is stopped with the rest at the end.
	bg_dev "$d" "$WORK/$d/dhclient.log" dhclient -4 -d -1 -cf "$WORK/$d/dhclient.conf" \
		-lf "$WORK/$d/dhclient.leases" -pf "$WORK/$d/dhclient.pid" \
		-sf "$WORK/$d/dhclient.script" eth0
	for ((i = 0; i < 100; i++)); do
		grep -q nameserver "$WORK/$d/resolv.conf" && return 0
		sleep 0.1
	done
	die "$d: no DHCP lease"
}

check_lease() { # DEVICE
	local d=$1 got
	got=$(ip -n "$P-$d" -4 -o addr show dev eth0 | awk '{print $4}')
	[[ $got == "${IP[$d]}/24" ]] || die "$d: expected ${IP[$d]}/24, got '${got}'"
	grep -q "nameserver $LAN_GW" "$WORK/$d/resolv.conf" || die "$d: no DNS server from DHCP"
	log "  $d (${MAC[$d]}) -> ${IP[$d]}"
}

# verify PCAP: if tshark is installed, check that every exchange made it into
# the capture (a failed check fails the script). One tshark pass, then awk.
verify() {
	local pcap=$1 report
	command -v tshark >/dev/null 2>&1 || {
		log "tshark not installed; skipping the capture check"
		return 0
	}
	report=$(tshark -n -r "$pcap" -T fields -E separator=/t \
		-e frame.protocols -e dhcp.option.dhcp -e http.authorization \
		-e http.request.uri -e ftp.request.command -e mqtt.msgtype \
		-e mqtt.passwd -e tls.handshake.extensions_server_name \
		-e http.server -e udp.dstport -e dns.flags.response 2>/dev/null | awk -F'\t' '
		function has(p) { return (":" $1 ":") ~ (":" p ":") }
		{
			if ($2 == 1) n["DHCP DISCOVER"]++
			if ($2 == 2) n["DHCP OFFER"]++
			if ($2 == 3) n["DHCP REQUEST"]++
			if ($2 == 5) n["DHCP ACK"]++
			if (has("dns")) n["DNS"]++
			if (has("mdns") && $11 == 0) n["mDNS query/probe"]++
			if (has("mdns") && $11 == 1) n["mDNS announcement"]++
			if (has("ssdp") && $10 == 1900) n["SSDP NOTIFY/M-SEARCH"]++
			if ($3 != "") n["HTTP Basic auth"]++
			if ($4 == "/firmware/update.bin") n["HTTP firmware download"]++
			if ($9 != "" && has("xml")) n["UPnP description"]++
			if ($5 == "PASS") n["FTP login"]++
			if (has("telnet")) n["telnet"]++
			if ($7 != "") n["MQTT CONNECT with password"]++
			if ($6 == 3) n["MQTT PUBLISH"]++
			if ($8 != "") n["TLS ClientHello with SNI"]++
		}
		END {
			split("DHCP DISCOVER|DHCP OFFER|DHCP REQUEST|DHCP ACK|DNS|" \
				"mDNS query/probe|mDNS announcement|" \
				"SSDP NOTIFY/M-SEARCH|HTTP Basic auth|HTTP firmware download|" \
				"UPnP description|FTP login|telnet|MQTT CONNECT with password|" \
				"MQTT PUBLISH|TLS ClientHello with SNI", want, "|")
			for (i = 1; i in want; i++)
				printf "%s %s: %d packets\n", (n[want[i]] ? "ok" : "MISSING"), want[i], n[want[i]]
		}')
	printf '%s\n' "$report" | sed 's/^/    /' >&2
	! grep -q '^MISSING' <<<"$report" || die "the capture is incomplete"
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
main() {
	[[ $(id -u) -eq 0 ]] || die "run as root (sudo $0)"
	ensure_deps

	# Leftovers of an earlier, interrupted run.
	delete_namespaces "${ALL_NS[@]}"
	rm -rf /tmp/iotgw-demo.??????
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	WORK=$(mktemp -d /tmp/iotgw-demo.XXXXXX)

	write_files
	log "building namespaces: ${ALL_NS[*]}"
	build_topology
	start_services
	start_lan_capture
	sleep 0.5

	log "DHCP"
	udhcpc_lease camera ipcam "HIKVISION"
	check_lease camera
	udhcpc_lease plug HS110 # busybox default vendor class "udhcp 1.35.0"
	check_lease plug
	dhclient_lease tv
	check_lease tv
	dhclient_lease laptop
	check_lease laptop

	log "tv: mDNS (avahi-daemon) and SSDP announcements"
	bg_dev tv "$WORK/tv/avahi.log" "$WORK/bin/tv-avahi"
	AVAHI_PID=${PIDS[-1]}
	bg_dev tv "$WORK/tv/upnp.log" python3 "$WORK/bin/tv-upnp.py" "${IP[tv]}"
	TV_UPNP_PID=${PIDS[-1]}
	wait_listen "$P-tv" tcp 9197

	log "camera: telnetd on :23"
	bg_dev camera "$WORK/camera/telnetd.log" busybox nc -ll -p 23 -e "$WORK/bin/camera-telnetd"
	wait_listen "$P-camera" tcp 23

	log "camera: HTTP Basic auth to the cloud, FTP upload/download"
	dev camera curl -sS -u admin:admin -o /dev/null \
		http://cloud.example-camera.com/api/status.json
	dev camera busybox ftpput -u admin -p admin cloud.example-camera.com \
		snapshot-0001.jpg "$WORK/camera/snapshot-0001.jpg"
	dev camera busybox ftpget -u admin -p admin cloud.example-camera.com \
		"$WORK/camera/ipcam.cfg" ipcam.cfg
	[[ -s $WORK/camera/ipcam.cfg ]] || die "camera: FTP download failed"

	log "plug: MQTT publish with username/password"
	dev plug mosquitto_pub -h broker.example-plug.com -p 1883 -V mqttv311 \
		-i HS110-0A1B2C -u plug01 -P 'S3cure-Plug-77' -q 1 \
		-t 'tplink/HS110-0A1B2C/state' \
		-m '{"owner":"alice@example.com","lat":52.5200,"lon":13.4050,"relay_state":1}'

	log "tv: firmware over plain HTTP, TLS to the vendor"
	dev tv curl -sS -o "$WORK/tv/update.bin" http://fw.example-tv.com/firmware/update.bin
	cmp -s "$WORK/tv/update.bin" "$WORK/wan/www/firmware/update.bin" ||
		die "tv: firmware download failed"
	dev tv openssl s_client -connect fw.example-tv.com:443 -servername fw.example-tv.com \
		-brief </dev/null >/dev/null 2>&1 || die "tv: TLS failed"

	log "laptop: TLS to the camera cloud, UPnP discovery, telnet to the camera"
	dev laptop curl -sSk -o /dev/null https://cloud.example-camera.com/
	local loc
	loc=$(dev laptop python3 "$WORK/bin/ssdp-search.py" "${IP[laptop]}" | head -n1)
	[[ -n $loc ]] || die "laptop: no SSDP answer"
	dev laptop curl -sS -o /dev/null "$loc"
	dev laptop expect -f "$WORK/bin/laptop-telnet.exp" "${IP[camera]}" >/dev/null ||
		die "laptop: telnet login failed"

	log "tv: goodbyes (SSDP byebye, mDNS goodbye)"
	local i
	for ((i = 0; i < 100; i++)); do # let avahi finish announcing first
		grep -q 'successfully established' "$WORK/tv/avahi.log" && break
		sleep 0.1
	done
	sleep 0.3
	kill "$TV_UPNP_PID" "$AVAHI_PID" 2>/dev/null || true
	sleep 1
	stop_lan_capture

	log "checking the capture"
	verify "$WORK/lan.pcap"
	mkdir -p "$(dirname "$OUT")"
	cp "$WORK/lan.pcap" "$OUT"
	chmod 644 "$OUT"
	if [[ -n ${SUDO_UID:-} && -n ${SUDO_GID:-} ]]; then
		chown "$SUDO_UID:$SUDO_GID" "$OUT"
	fi
	log "wrote $OUT ($(stat -c %s "$OUT") bytes)"
}

TV_UPNP_PID=
AVAHI_PID=
main "$@"
