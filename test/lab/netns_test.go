package lab

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
)

// Addresses exist only inside the lab's namespaces: the LAN is
// 192.168.77.0/24, the "internet" is TEST-NET-3 (203.0.113.0/24, RFC 5737).
const (
	lanPrefix  = "192.168.77.0/24"
	routerLAN  = "192.168.77.1"
	routerWAN  = "203.0.113.1"
	cloudHost  = "203.0.113.10" // DNS, HTTP with Basic auth, MQTT, TLS, iperf3
	updateHost = "203.0.113.20" // the TV vendor's firmware server
	noticePort = 8088
	webPort    = 8443 // the page's default port, which the lab keeps

	routerMAC = "94:83:c4:77:00:01" // GL Technologies (a GL.iNet router)

	// The WAN's IPv6 side, in labs with IPv6: documentation addresses
	// (RFC 3849), routed to the LAN segments' global prefixes without
	// NAT, as an ISP routes a delegated prefix.
	routerWAN6  = "2001:db8:113::1"
	cloudHost6  = "2001:db8:113::10"
	updateHost6 = "2001:db8:113::20"
	wanPrefix6  = "2001:db8:113::/64"
	lanRange6   = "2001:db8:77::/48" // every segment's global /64 is in it

	// plugPassword is the plug's MQTT password: long and unique, so the
	// daemon must classify it as a plaintext (not default or weak) login.
	plugPassword = "k9Tq-Wm4r-Zp7x-Lh2v"
	// cameraTelnetPassword is the camera's root password, a Mirai default.
	cameraTelnetPassword = "xc3511"
)

// host is one device on the LAN, in a namespace of its own.
type host struct {
	role     string // camera, plug, tv, laptop, workstation
	mac      string // with a real vendor OUI
	ip       string // the router's DHCP reservation
	hostname string // sent in the DHCP request (option 12)
	// dhclient: the device is a PC and leases with ISC dhclient; the
	// others use busybox udhcpc, as embedded devices do (whose vendor
	// class names busybox and its version).
	dhclient bool
	// bridge is the router's bridge the device's port is on; empty is
	// the main one, br-lan.
	bridge string
}

// homeDevices are the devices of the acceptance test.
func homeDevices() []host {
	return []host{
		{role: "camera", mac: "c0:56:e3:4c:a1:01", ip: "192.168.77.101", hostname: "ipcam"},                  // Hikvision
		{role: "plug", mac: "50:c7:bf:4c:a1:02", ip: "192.168.77.102", hostname: "HS110"},                    // TP-Link
		{role: "tv", mac: "8c:79:f5:4c:a1:03", ip: "192.168.77.103", hostname: "samsung-tv"},                 // Samsung
		{role: "laptop", mac: "3c:a9:f4:4c:a1:04", ip: "192.168.77.104", hostname: "laptop", dhclient: true}, // Intel
		{role: "workstation", mac: "f8:bc:12:4c:a1:05", ip: "192.168.77.105", hostname: "workstation"},       // Dell
	}
}

// segment is one LAN bridge of the router with its prefixes: a /24 and,
// in labs with IPv6, /64s that dnsmasq announces for SLAAC.
type segment struct {
	bridge string // br-lan, br-guest
	mac    string
	addr4  string // the router's address in the /24
	// addr6 are the router's addresses, one in each /64 of the segment,
	// the global one first (a ULA one may follow); none: no IPv6.
	addr6 []string
}

// mainLAN is the lab's default and only segment: br-lan, IPv4 alone.
var mainLAN = segment{bridge: "br-lan", mac: routerMAC, addr4: routerLAN}

// dhcpRange is the segment's DHCPv4 pool, .100 to .150, as dnsmasq's
// dhcp-range takes it.
func (s segment) dhcpRange() string {
	net3 := s.addr4[:strings.LastIndexByte(s.addr4, '.')]
	return fmt.Sprintf("%[1]s.100,%[1]s.150,255.255.255.0", net3)
}

// prefixes6 are the segment's /64s, in the order of addr6.
func (s segment) prefixes6() []netip.Prefix {
	var ps []netip.Prefix
	for _, a := range s.addr6 {
		ps = append(ps, netip.PrefixFrom(netip.MustParseAddr(a), 64).Masked())
	}
	return ps
}

// eui64 is the stable address a device with MAC mac forms in the
// segment's global /64 from router advertisements (modified EUI-64, RFC
// 4291 appendix A: the kernel's default without a stable secret).
func (s segment) eui64(mac string) string {
	hw, err := net.ParseMAC(mac)
	if err != nil {
		panic(err)
	}
	a := netip.MustParseAddr(s.addr6[0]).As16()
	copy(a[8:], []byte{hw[0] ^ 2, hw[1], hw[2], 0xff, 0xfe, hw[3], hw[4], hw[5]})
	return netip.AddrFrom16(a).String()
}

// lab is a home network in network namespaces named <prefix><role>: a
// router with the LAN bridge br-lan (and any other segment's) and
// masquerade to wan0, a WAN namespace, and one namespace per device. Everything it starts and
// builds is torn down in t.Cleanup, also when the test fails.
type lab struct {
	t        *testing.T
	dir      string // configuration, scripts, logs
	prefix   string
	hosts    map[string]host
	order    []string  // device roles in the order given
	segments []segment // the router's LAN bridges, the main one first
	ipv6     bool      // the segments have IPv6 prefixes, the WAN too
	privacy  bool      // see labOptions

	mu    sync.Mutex
	procs []*exec.Cmd // background programs, each in its own process group
}

// labOptions selects what newLab starts besides the topology.
type labOptions struct {
	tag      string // distinguishes two labs of one test process
	devices  []host
	services bool // the WAN's DNS, HTTP, MQTT and TLS servers
	// segments are the router's LAN bridges, the main one (br-lan)
	// first; none is mainLAN alone. IPv6 is on, in every namespace, when
	// one of them has a /64; otherwise it is off.
	segments []segment
	// privacy: with IPv6, the devices also take privacy addresses (RFC
	// 8981), which they prefer as the source; without it they use their
	// stable SLAAC addresses.
	privacy bool
}

func newLab(t *testing.T, opt labOptions) *lab {
	t.Helper()
	l := &lab{
		t:      t,
		dir:    t.TempDir(),
		prefix: fmt.Sprintf("iotgwlab-%d-%s-", os.Getpid(), opt.tag),
		hosts:  map[string]host{},
	}
	l.segments = opt.segments
	if len(l.segments) == 0 {
		l.segments = []segment{mainLAN}
	}
	for _, s := range l.segments {
		l.ipv6 = l.ipv6 || len(s.addr6) > 0
	}
	l.privacy = opt.privacy
	for _, h := range opt.devices {
		if h.bridge == "" {
			h.bridge = l.segments[0].bridge
		}
		l.hosts[h.role] = h
		l.order = append(l.order, h.role)
	}
	// Registered before anything exists, so it runs after every other
	// cleanup of the test (they run last in, first out).
	t.Cleanup(l.teardown)
	l.installScripts()
	l.buildTopology()
	l.startRouterServices()
	if opt.services {
		l.startWANServices()
	}
	return l
}

// ns is the namespace of a role ("router", "wan", "camera" …).
func (l *lab) ns(role string) string { return l.prefix + role }

// roles are the router, the WAN and the devices, in that order.
func (l *lab) roles() []string {
	return append([]string{"router", "wan"}, l.order...)
}

// installScripts copies the fixtures into the lab's bin directory,
// executable.
func (l *lab) installScripts() {
	bin := filepath.Join(l.dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		l.t.Fatal(err)
	}
	for _, name := range []string{"in-dev.sh", "udhcpc.script", "camera-login.sh", "telnet-login.exp", "open-shell.sh", "telnet-shell.exp", "ssdp-notify.py", "crowd.py", "dhclient.script", "dns-aaaa.py", "owner-setup.sh"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			l.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, name), data, 0o755); err != nil {
			l.t.Fatal(err)
		}
	}
	// Every device resolves through the router (dnsmasq on its bridge).
	for role, h := range l.hosts {
		l.writeFile(role+".resolv.conf", "nameserver "+l.segmentOf(h).addr4+"\n")
	}
}

// segmentOf is the segment of h's bridge.
func (l *lab) segmentOf(h host) segment {
	for _, s := range l.segments {
		if s.bridge == h.bridge {
			return s
		}
	}
	l.t.Fatalf("%s: no bridge %q in the lab", h.role, h.bridge)
	return segment{}
}

func (l *lab) path(name string) string { return filepath.Join(l.dir, name) }

func (l *lab) writeFile(name, content string) string {
	p := l.path(name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

func (l *lab) buildTopology() {
	for _, role := range l.roles() {
		l.must("ip", "netns", "add", l.ns(role))
		l.must("ip", "-n", l.ns(role), "link", "set", "lo", "up")
		if l.ipv6 {
			l.ipv6Sysctls(role)
			continue
		}
		// IPv4 only: the assertions are about IPv4, and no RS/MLD/DAD noise.
		l.must("ip", "netns", "exec", l.ns(role), "sysctl", "-qw",
			"net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	}
	r, w := l.ns("router"), l.ns("wan")
	for _, s := range l.segments {
		l.must("ip", "-n", r, "link", "add", s.bridge, "address", s.mac, "type", "bridge",
			"stp_state", "0", "forward_delay", "0", "mcast_snooping", "0")
		l.must("ip", "-n", r, "addr", "add", s.addr4+"/24", "dev", s.bridge)
		for _, a := range s.addr6 {
			l.must("ip", "-n", r, "addr", "add", a+"/64", "dev", s.bridge)
		}
		l.must("ip", "-n", r, "link", "set", s.bridge, "up")
		l.noOffload(r, s.bridge)
	}

	l.must("ip", "-n", r, "link", "add", "wan0", "address", "94:83:c4:77:00:02", "type", "veth",
		"peer", "name", "eth0", "address", "02:00:cb:00:71:0a", "netns", w)
	l.must("ip", "-n", r, "addr", "add", routerWAN+"/24", "dev", "wan0")
	l.must("ip", "-n", r, "link", "set", "wan0", "up")
	l.must("ip", "-n", w, "addr", "add", cloudHost+"/24", "dev", "eth0")
	l.must("ip", "-n", w, "addr", "add", updateHost+"/24", "dev", "eth0")
	l.must("ip", "-n", w, "link", "set", "eth0", "up")
	if l.ipv6 {
		l.must("ip", "-n", r, "addr", "add", routerWAN6+"/64", "dev", "wan0")
		l.must("ip", "-n", w, "addr", "add", cloudHost6+"/64", "dev", "eth0")
		l.must("ip", "-n", w, "addr", "add", updateHost6+"/64", "dev", "eth0")
		l.must("ip", "-n", w, "-6", "route", "add", lanRange6, "via", routerWAN6)
	}
	l.noOffload(r, "wan0")
	l.noOffload(w, "eth0")

	l.must("ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	// OpenWrt has no br_netfilter: if the module is loaded on this host,
	// keep bridged frames out of the inet hooks so only iotgw's bridge
	// table can cut LAN-to-LAN traffic.
	_ = l.cmd(context.Background(), "ip", "netns", "exec", r, "sysctl", "-qw",
		"net.bridge.bridge-nf-call-iptables=0", "net.bridge.bridge-nf-call-ip6tables=0", "net.bridge.bridge-nf-call-arptables=0").Run()
	// The lab's own NAT table, beside iotgw's: masquerade to the WAN, and
	// nothing forwarded outside TEST-NET-3 (nor, with IPv6, outside the
	// WAN's /64).
	rules := `table ip iotgwlab {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan0" masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		oifname "wan0" ip daddr != 203.0.113.0/24 drop
	}
}
`
	if l.ipv6 {
		rules += `table ip6 iotgwlab {
	chain forward {
		type filter hook forward priority filter; policy accept;
		oifname "wan0" ip6 daddr != ` + wanPrefix6 + ` drop
	}
}
`
	}
	l.must("ip", "netns", "exec", r, "nft", "-f", l.writeFile("nat.nft", rules))

	for _, role := range l.order {
		h := l.hosts[role]
		port := "lan-" + role
		l.must("ip", "-n", r, "link", "add", port, "type", "veth",
			"peer", "name", "eth0", "address", h.mac, "netns", l.ns(role))
		l.must("ip", "-n", r, "link", "set", port, "master", h.bridge, "up")
		l.noOffload(r, port)
		l.noOffload(l.ns(role), "eth0")
		// eth0 stays down until the DHCP client brings it up.
	}
}

// ipv6Sysctls keeps IPv6 on in a role's namespace: the router forwards
// it, the devices take SLAAC addresses from its advertisements (and
// privacy addresses beside them where the lab asks for them), the WAN
// host takes none. No duplicate address detection: the addresses are
// unique by construction, and usable at once.
func (l *lab) ipv6Sysctls(role string) {
	args := []string{"net.ipv6.conf.all.disable_ipv6=0", "net.ipv6.conf.default.disable_ipv6=0",
		"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"}
	switch role {
	case "router":
		args = append(args, "net.ipv6.conf.all.forwarding=1")
	case "wan":
		args = append(args, "net.ipv6.conf.default.accept_ra=0")
	default:
		tempaddr := "0"
		if l.privacy {
			tempaddr = "2" // a temporary address, preferred as the source
		}
		args = append(args, "net.ipv6.conf.default.accept_ra=1", "net.ipv6.conf.default.use_tempaddr="+tempaddr)
	}
	l.must("ip", append([]string{"netns", "exec", l.ns(role), "sysctl", "-qw"}, args...)...)
}

// noOffload turns TSO/GSO/GRO off, so every frame the capture sees is
// wire-sized (veths and bridges would otherwise pass 64 KB super-frames)
// and the router forwards packets as a home router does.
func (l *lab) noOffload(ns, dev string) {
	_ = l.cmd(context.Background(), "ip", "netns", "exec", ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off").Run()
}

// startRouterServices runs dnsmasq on the LAN bridges: DHCP with a
// reservation per device, router advertisements for SLAAC (with IPv6),
// and DNS forwarded to the WAN's server.
func (l *lab) startRouterServices() {
	var b strings.Builder
	// Also on 127.0.0.1, as OpenWrt's dnsmasq: iotgw's DNS proxy forwards
	// there.
	fmt.Fprintf(&b, "no-resolv\nno-hosts\nlisten-address=127.0.0.1\nbind-interfaces\nserver=%s\n", cloudHost)
	fmt.Fprintf(&b, "domain=lan\nlocal=/lan/\ndhcp-authoritative\n")
	if l.ipv6 {
		b.WriteString("enable-ra\n")
	}
	for _, s := range l.segments {
		fmt.Fprintf(&b, "interface=%[1]s\ndhcp-range=set:%[1]s,%[2]s,12h\n", s.bridge, s.dhcpRange())
		fmt.Fprintf(&b, "dhcp-option=tag:%[1]s,option:router,%[2]s\ndhcp-option=tag:%[1]s,option:dns-server,%[2]s\n", s.bridge, s.addr4)
		if len(s.addr6) > 0 {
			// Every /64 on the bridge for SLAAC, no DHCPv6, an
			// advertisement every 10 s.
			fmt.Fprintf(&b, "dhcp-range=::,constructor:%[1]s,ra-only,64,12h\nra-param=%[1]s,10,1800\n", s.bridge)
		}
	}
	fmt.Fprintf(&b, "dhcp-leasefile=%s\npid-file=\nuser=root\nlog-dhcp\nlog-facility=%s\n", l.path("router-dnsmasq.leases"), l.path("router-dnsmasq.log"))
	for _, role := range l.order {
		if h := l.hosts[role]; h.ip != "" {
			fmt.Fprintf(&b, "dhcp-host=%s,%s\n", h.mac, h.ip)
		}
	}
	l.start("router", "router-dnsmasq", "dnsmasq", "-k", "-C", l.writeFile("router-dnsmasq.conf", b.String()))
	l.waitListen("router", "udp", 67)
	l.waitListen("router", "udp", 53)
}

// startWANServices runs the internet side: DNS (dnsmasq), the camera
// cloud's HTTP with Basic auth (busybox httpd), the update host, the
// plug's MQTT broker (mosquitto with a password file) and a TLS server.
func (l *lab) startWANServices() {
	// With IPv6, every name has its AAAA record too.
	cloud, update := cloudHost, updateHost
	if l.ipv6 {
		cloud, update = cloudHost+","+cloudHost6, updateHost+","+updateHost6
	}
	l.writeFile("wan-dnsmasq.conf", fmt.Sprintf(`no-resolv
no-hosts
bind-interfaces
listen-address=%[1]s
local-ttl=300
host-record=cloud.example-camera.com,%[2]s
host-record=broker.example-plug.com,%[2]s
host-record=www.example-news.com,%[2]s
host-record=fw.example-tv.com,%[3]s
host-record=fw.example-camera.com,%[3]s
local=/example-camera.com/example-plug.com/example-news.com/example-tv.com/
pid-file=
user=root
log-queries
log-facility=%[4]s
`, cloudHost, cloud, update, l.path("wan-dnsmasq.log")))
	l.start("wan", "wan-dnsmasq", "dnsmasq", "-k", "-C", l.path("wan-dnsmasq.conf"))

	for _, d := range []string{"www/api", "update"} {
		if err := os.MkdirAll(l.path(d), 0o755); err != nil {
			l.t.Fatal(err)
		}
	}
	l.writeFile("www/index.html", "<html><body>example cloud</body></html>\n")
	l.writeFile("www/api/status.json", `{"device":"ipcam","status":"online"}`+"\n")
	l.writeFile("www/bulk.bin", strings.Repeat("b", bulkFileSize))
	// busybox httpd: /api needs Basic auth admin:admin (the camera's
	// cloud account, a factory default), the rest is open.
	l.writeFile("httpd.conf", "/api:admin:admin\n.json:application/json\n")
	l.start("wan", "wan-httpd", "busybox", "httpd", "-f", "-p", cloudHost+":80", "-h", l.path("www"),
		"-c", l.path("httpd.conf"), "-r", "example-camera cloud")
	l.writeFile("update/firmware.bin", firmwareImage)
	l.start("wan", "wan-update-httpd", "busybox", "httpd", "-f", "-p", updateHost+":80", "-h", l.path("update"))
	if l.ipv6 {
		l.start("wan", "wan-httpd6", "busybox", "httpd", "-f", "-p", "["+cloudHost6+"]:80", "-h", l.path("www"),
			"-c", l.path("httpd.conf"), "-r", "example-camera cloud")
		l.start("wan", "wan-update-httpd6", "busybox", "httpd", "-f", "-p", "["+updateHost6+"]:80", "-h", l.path("update"))
	}

	l.must("mosquitto_passwd", "-c", "-b", l.path("mosquitto.passwd"), "plug01", plugPassword)
	if err := os.Chmod(l.path("mosquitto.passwd"), 0o600); err != nil {
		l.t.Fatal(err)
	}
	l.writeFile("mosquitto.conf", fmt.Sprintf(`listener 1883 %s
allow_anonymous false
password_file %s
persistence false
user root
log_dest file %s
`, cloudHost, l.path("mosquitto.passwd"), l.path("wan-mosquitto.log")))
	l.start("wan", "wan-mosquitto", "mosquitto", "-c", l.path("mosquitto.conf"))

	l.must("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
		"-keyout", l.path("tls.key"), "-out", l.path("tls.crt"), "-days", "2",
		"-subj", "/CN=cloud.example-camera.com",
		"-addext", "subjectAltName=DNS:cloud.example-camera.com,DNS:www.example-news.com")
	l.start("wan", "wan-tls", "openssl", "s_server", "-quiet", "-accept", cloudHost+":443",
		"-cert", l.path("tls.crt"), "-key", l.path("tls.key"), "-www")

	l.waitListen("wan", "udp", 53)
	l.waitListen("wan", "tcp", 80)
	l.waitListen("wan", "tcp", 1883)
	l.waitListen("wan", "tcp", 443)
}

// startWANTelnet runs a telnet server on the WAN host that takes only
// the lab camera's login, the Mirai default root/xc3511: inetutils
// telnetd under busybox nc -ll (Debian's busybox has no telnetd).
func (l *lab) startWANTelnet() {
	l.t.Helper()
	telnetd, err := testenv.LookPath("telnetd")
	if err != nil {
		l.t.Fatal(err)
	}
	l.start("wan", "wan-telnetd", "busybox", "nc", "-ll", "-p", "23", "-e",
		telnetd, "--no-hostinfo", "--exec-login="+l.path("bin/camera-login.sh"))
	l.waitListen("wan", "tcp", 23)
}

// bulkFileSize is the size of the cloud's /bulk.bin, a download that
// spends every capture budget.
const bulkFileSize = 4 << 20

// firmwareImage is the update host's /firmware.bin.
const firmwareImage = "EXFW\x01\x00\x00\x00 example TV firmware 2.0.1, signed\n"

// dhcp gives every device its lease, in parallel, and checks the
// reserved address.
func (l *lab) dhcp() {
	var wg sync.WaitGroup
	errs := make(chan error, len(l.hosts))
	for _, h := range l.hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.lease(h); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		l.t.Error(err)
	}
	if l.t.Failed() {
		l.t.FailNow()
	}
}

// lease runs the device's DHCP client, sending its host name: busybox
// udhcpc once, or ISC dhclient in the background (it stays to renew, as
// on a real PC), and waits for the reserved address.
func (l *lab) lease(h host) error {
	if h.dhclient {
		conf := l.writeFile(h.role+".dhclient.conf", fmt.Sprintf("send host-name %q;\n"+
			"request subnet-mask, broadcast-address, time-offset, routers, domain-name, domain-name-servers, host-name, ntp-servers;\n", h.hostname))
		if _, err := l.spawn(h.role+"-dhclient", l.devArgs(h.role, "dhclient", "-4", "-d", "-1", "-cf", conf,
			"-lf", l.path(h.role+".dhclient.leases"), "-pf", l.path(h.role+".dhclient.pid"),
			"-sf", l.path("bin/dhclient.script"), "eth0")); err != nil {
			return err
		}
	} else {
		out, err := l.dev(h.role, 20*time.Second, "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
			"-t", "5", "-T", "1", "-A", "1", "-s", l.path("bin/udhcpc.script"), "-x", "hostname:"+h.hostname)
		if err != nil {
			return fmt.Errorf("%s: no DHCP lease: %v\n%s", h.role, err, out)
		}
	}
	var got string
	return poll(20*time.Second, 100*time.Millisecond, func() (bool, string) {
		got, _ = l.output(5*time.Second, "ip", "-n", l.ns(h.role), "-4", "-o", "addr", "show", "dev", "eth0")
		return strings.Contains(got, " "+h.ip+"/24 "), fmt.Sprintf("%s: want %s/24 from DHCP, got %q", h.role, h.ip, got)
	})
}

// v6Addr is one IPv6 address of a device's eth0.
type v6Addr struct {
	addr      netip.Addr
	temporary bool // a privacy address (RFC 8981)
}

// v6Addrs lists the settled (not tentative) IPv6 addresses of a device.
func (l *lab) v6Addrs(role string) ([]v6Addr, error) {
	out, err := l.in(role, 5*time.Second, "ip", "-6", "-o", "addr", "show", "dev", "eth0")
	if err != nil {
		return nil, fmt.Errorf("%s: ip -6 addr: %v: %s", role, err, out)
	}
	var addrs []v6Addr
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		i := slices.Index(f, "inet6")
		if i < 0 || i+1 >= len(f) || slices.Contains(f, "tentative") {
			continue
		}
		p, err := netip.ParsePrefix(f[i+1])
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, v6Addr{addr: p.Addr(), temporary: slices.Contains(f, "temporary")})
	}
	return addrs, nil
}

// slaacAddrs are a device's addresses once SLAAC settled: its link-local
// address, a stable address in each /64 of its bridge (in the order of
// the segment's addr6) and, in labs with privacy addresses, a temporary
// one in the global /64 (what it sends from to the internet).
type slaacAddrs struct {
	linkLocal, temporary netip.Addr
	stable               []netip.Addr
}

// slaac brings the devices' eth0 up (if the DHCP client has not) and
// waits for their SLAAC addresses and a default route from the router's
// advertisements.
func (l *lab) slaac(roles ...string) map[string]slaacAddrs {
	l.t.Helper()
	got := map[string]slaacAddrs{}
	for _, role := range roles {
		l.must("ip", "-n", l.ns(role), "link", "set", "eth0", "up")
	}
	for _, role := range roles {
		prefixes := l.segmentOf(l.hosts[role]).prefixes6()
		var a slaacAddrs
		err := poll(30*time.Second, pollEvery, func() (bool, string) {
			list, err := l.v6Addrs(role)
			if err != nil {
				return false, err.Error()
			}
			a = slaacAddrs{stable: make([]netip.Addr, len(prefixes))}
			for _, x := range list {
				if x.addr.IsLinkLocalUnicast() {
					a.linkLocal = x.addr
					continue
				}
				for i, p := range prefixes {
					switch {
					case !p.Contains(x.addr):
					case !x.temporary:
						a.stable[i] = x.addr
					case i == 0:
						a.temporary = x.addr
					}
				}
			}
			ok := a.linkLocal.IsValid() && (a.temporary.IsValid() || !l.privacy) && !slices.Contains(a.stable, netip.Addr{})
			routes, _ := l.in(role, 5*time.Second, "ip", "-6", "route", "show", "default")
			return ok && strings.Contains(routes, "default via"),
				fmt.Sprintf("%s: SLAAC addresses %v and default route %q; want link-local, a stable address in each of %v (privacy addresses: %v) and a default route",
					role, list, strings.TrimSpace(routes), prefixes, l.privacy)
		})
		if err != nil {
			l.t.Fatalf("%v\n%s", err, l.logs())
		}
		got[role] = a
	}
	return got
}

// cmd is a command in its own process group, so that stopping it stops
// what it started (telnetd under nc, a shell loop's children).
func (l *lab) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 2 * time.Second
	return c
}

// output runs a command to completion within timeout and returns its
// combined output.
func (l *lab) output(timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var buf bytes.Buffer
	c := l.cmd(ctx, name, args...)
	c.Stdout, c.Stderr = &buf, &buf
	err := c.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), timeout)
	}
	return buf.String(), err
}

// must runs a set-up command and fails the test when it fails.
func (l *lab) must(name string, args ...string) string {
	l.t.Helper()
	out, err := l.output(30*time.Second, name, args...)
	if err != nil {
		l.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// in runs a command in a role's namespace.
func (l *lab) in(role string, timeout time.Duration, args ...string) (string, error) {
	return l.output(timeout, "ip", append([]string{"netns", "exec", l.ns(role)}, args...)...)
}

// devArgs is the command line that runs args as a device: in its
// namespace, with its resolv.conf.
func (l *lab) devArgs(role string, args ...string) []string {
	return append([]string{"netns", "exec", l.ns(role), l.path("bin/in-dev.sh"), l.path(role + ".resolv.conf")}, args...)
}

// dev runs a command as a device.
func (l *lab) dev(role string, timeout time.Duration, args ...string) (string, error) {
	return l.output(timeout, "ip", l.devArgs(role, args...)...)
}

// start runs a program in a role's namespace in the background, its
// output in <logName>.log; teardown stops it.
func (l *lab) start(role, logName string, args ...string) *exec.Cmd {
	l.t.Helper()
	return l.startArgs(logName, append([]string{"netns", "exec", l.ns(role)}, args...))
}

// startDev is start as a device (with its resolv.conf).
func (l *lab) startDev(role, logName string, args ...string) *exec.Cmd {
	l.t.Helper()
	return l.startArgs(logName, l.devArgs(role, args...))
}

func (l *lab) startArgs(logName string, ipArgs []string) *exec.Cmd {
	l.t.Helper()
	c, err := l.spawn(logName, ipArgs)
	if err != nil {
		l.t.Fatal(err)
	}
	return c
}

// spawn starts `ip ipArgs...` in the background with its output in
// <logName>.log and remembers it for teardown.
func (l *lab) spawn(logName string, ipArgs []string) (*exec.Cmd, error) {
	logf, err := os.OpenFile(l.path(logName+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	c := l.cmd(context.Background(), "ip", ipArgs...)
	c.Stdout, c.Stderr = logf, logf
	if err := c.Start(); err != nil {
		return nil, fmt.Errorf("start ip %s: %w", strings.Join(ipArgs, " "), err)
	}
	l.mu.Lock()
	l.procs = append(l.procs, c)
	l.mu.Unlock()
	return c, nil
}

// waitListen waits until something listens on proto/port in role's
// namespace.
func (l *lab) waitListen(role, proto string, port int) {
	l.t.Helper()
	flag := "-Hlnt"
	if proto == "udp" {
		flag = "-Hlnu"
	}
	err := poll(10*time.Second, 50*time.Millisecond, func() (bool, string) {
		out, _ := l.output(5*time.Second, "ip", "netns", "exec", l.ns(role), "ss", flag, "sport = :"+strconv.Itoa(port))
		return strings.TrimSpace(out) != "", fmt.Sprintf("nothing listens on %s/%d in %s", proto, port, l.ns(role))
	})
	if err != nil {
		l.t.Fatalf("%v; logs:\n%s", err, l.logs())
	}
}

// appendLog adds a marker line to a log, to help reading it.
func (l *lab) appendLog(logName, line string) {
	f, err := os.OpenFile(l.path(logName+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintln(f, line)
	f.Close()
}

// logs returns the tail of every log of the lab, for failure messages.
func (l *lab) logs() string {
	files, _ := filepath.Glob(l.path("*.log"))
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 25 {
			lines = lines[len(lines)-25:]
		}
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", filepath.Base(f), len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// teardown stops every program the lab started, then anything still
// running in its namespaces (children that left their process group),
// then deletes the namespaces, which takes their links and nftables
// tables with them.
func (l *lab) teardown() {
	if l.t.Failed() {
		l.t.Logf("lab logs:\n%s", l.logs())
	}
	l.mu.Lock()
	procs := l.procs
	l.procs = nil
	l.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); testenv.Stop(c, 3*time.Second) }()
	}
	wg.Wait()
	for _, role := range l.roles() {
		ns := l.ns(role)
		if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
			continue
		}
		out, _ := l.output(5*time.Second, "ip", "netns", "pids", ns)
		for _, f := range strings.Fields(out) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if out, err := l.output(10*time.Second, "ip", "netns", "del", ns); err != nil {
			l.t.Errorf("teardown: ip netns del %s: %v\n%s", ns, err, out)
		}
	}
}
