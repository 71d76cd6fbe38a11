package openwrt

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// fw4GuestTable is the shape of ruleset firewall4 renders for a guest
// zone as OpenWrt's guest-network guides set it up (input reject, DHCP
// and DNS on port 53 allowed, forwarding to the wan zone) beside a wan
// zone, no port forwards (so no "ct status dnat accept" in either
// zone's input), written for this test. %s is where fw4 puts the
// chain-pre includes of its input chain (/usr/share/nftables.d/
// chain-pre/input/*.nft), as `include "PATH"` lines.
const fw4GuestTable = `table inet fw4
flush table inet fw4
table inet fw4 {
	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept comment "!fw4: Accept traffic from loopback"
%s
		ct state established,related accept comment "!fw4: Allow inbound established and related flows"
		tcp flags & (fin | syn | rst | ack) == syn jump syn_flood comment "!fw4: Rate limit TCP syn packets"
		iifname "br-guest" jump input_guest comment "!fw4: Handle guest IPv4/IPv6 input traffic"
		iifname "wan0" jump input_wan comment "!fw4: Handle wan IPv4/IPv6 input traffic"
		jump handle_reject
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept comment "!fw4: Allow forwarded established and related flows"
		iifname "br-guest" jump forward_guest comment "!fw4: Handle guest IPv4/IPv6 forward traffic"
		iifname "wan0" jump forward_wan comment "!fw4: Handle wan IPv4/IPv6 forward traffic"
		jump handle_reject
	}
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "lo" accept comment "!fw4: Accept traffic towards loopback"
		ct state established,related accept comment "!fw4: Allow outbound established and related flows"
	}
	chain handle_reject {
		meta l4proto tcp reject with tcp reset comment "!fw4: Reject TCP traffic"
		reject with icmpx type port-unreachable comment "!fw4: Reject any other traffic"
	}
	chain syn_flood {
		limit rate 25/second burst 50 packets return comment "!fw4: Accept SYN packets below rate-limit"
		drop comment "!fw4: Drop excess packets"
	}
	chain input_guest {
		meta nfproto ipv4 udp dport 67 counter accept comment "!fw4: Guest-DHCP"
		meta nfproto ipv6 udp dport 547 counter accept comment "!fw4: Guest-DHCPv6"
		meta nfproto ipv6 icmpv6 type { nd-router-solicit, nd-neighbor-solicit, nd-neighbor-advert } counter accept comment "!fw4: Guest-ICMPv6-ND"
		tcp dport 53 counter accept comment "!fw4: Guest-DNS"
		udp dport 53 counter accept comment "!fw4: Guest-DNS"
		jump reject_from_guest
	}
	chain forward_guest {
		jump accept_to_wan comment "!fw4: Accept guest to wan forwarding"
		jump reject_to_guest
	}
	chain reject_from_guest {
		iifname "br-guest" counter jump handle_reject comment "!fw4: reject guest IPv4/IPv6 traffic"
	}
	chain reject_to_guest {
		oifname "br-guest" counter jump handle_reject comment "!fw4: reject guest IPv4/IPv6 traffic"
	}
	chain input_wan {
		meta nfproto ipv4 udp dport 68 counter accept comment "!fw4: Allow-DHCP-Renew"
		meta nfproto ipv4 icmp type echo-request counter accept comment "!fw4: Allow-Ping"
		jump drop_from_wan
	}
	chain forward_wan {
		jump drop_to_wan
	}
	chain accept_to_wan {
		oifname "wan0" counter accept comment "!fw4: accept wan IPv4/IPv6 traffic"
	}
	chain drop_from_wan {
		iifname "wan0" counter drop comment "!fw4: drop wan IPv4/IPv6 traffic"
	}
	chain drop_to_wan {
		oifname "wan0" counter drop comment "!fw4: drop wan IPv4/IPv6 traffic"
	}
	chain dstnat {
		type nat hook prerouting priority dstnat; policy accept;
	}
	chain srcnat {
		type nat hook postrouting priority srcnat; policy accept;
	}
}
`

// The package's include and where it looks for the rules the init
// script writes.
const (
	fw4IncludeSource = "openwrt/iotgw/files/iotgw.fw4-input.nft"
	fw4RulesPattern  = "/var/etc/iotgw/fw4/*.nft"
)

// A guest network (fw4 zone with input reject, DHCP and DNS on port 53
// allowed, no port forwards) with a quarantined device in it. iotgw
// redirects the device's DNS to its proxy's port and its HTTP to the
// notice page's, which that zone rejects; the package's include (the
// file it ships, and in it the rules `iotgw fw4-include` prints) accepts
// those connections and nothing else.
func TestFW4GuestZoneRedirects(t *testing.T) {
	requireRoot(t)
	const (
		routerV4, routerV6 = "192.168.3.1", "fd03::1"
		deviceV4, deviceV6 = "192.168.3.10", "fd03::10"
		otherV4            = "192.168.3.11"
		routerWAN          = "198.18.0.1"
		wanV4              = "198.18.0.2"
		resolverV4         = "198.18.0.53"
		proxyPort          = 5354
		noticePort         = 8088
	)
	deviceMAC, _ := hwaddr.Parse("02:00:00:00:03:10")
	otherMAC, _ := hwaddr.Parse("02:00:00:00:03:11")

	router := netnstest.New(t, "iotgwo", "router")
	device := netnstest.New(t, "iotgwo", "device")
	other := netnstest.New(t, "iotgwo", "other")
	wan := netnstest.New(t, "iotgwo", "wan")
	ipr := func(ns string, args ...string) { netnstest.Cmd(t, "ip", append([]string{"-n", ns}, args...)...) }
	netnstest.NoDAD(t, router, device, other, wan)
	ipr(router, "link", "add", "br-guest", "type", "bridge")
	for _, h := range []netnstest.LANHost{
		{NS: device, Port: "guest0", MAC: deviceMAC.String(), V4: deviceV4 + "/24", V6: deviceV6 + "/64"},
		{NS: other, Port: "guest1", MAC: otherMAC.String(), V4: otherV4 + "/24", V6: "fd03::11/64"},
	} {
		netnstest.BridgeHost(t, router, "br-guest", h, routerV4, routerV6)
	}
	ipr(router, "addr", "add", routerV4+"/24", "dev", "br-guest")
	ipr(router, "addr", "add", routerV6+"/64", "dev", "br-guest", "nodad")
	ipr(router, "link", "set", "br-guest", "up")
	ipr(router, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", wan)
	ipr(router, "addr", "add", routerWAN+"/24", "dev", "wan0")
	ipr(router, "addr", "add", "2001:2::1/64", "dev", "wan0", "nodad")
	ipr(router, "link", "set", "wan0", "up")
	ipr(wan, "link", "set", "eth0", "up")
	for _, a := range []string{wanV4, resolverV4} {
		ipr(wan, "addr", "add", a+"/24", "dev", "eth0")
	}
	ipr(wan, "addr", "add", "2001:2::2/64", "dev", "eth0", "nodad")
	ipr(wan, "route", "add", "192.168.3.0/24", "via", routerWAN)
	ipr(wan, "-6", "route", "add", "fd03::/64", "via", "2001:2::1")
	// The WAN host may also send from the quarantined device's
	// addresses (a forged source): they are its own, on its loopback.
	ipr(wan, "addr", "add", deviceV4+"/32", "dev", "lo")
	ipr(wan, "addr", "add", deviceV6+"/128", "dev", "lo", "nodad")
	// No kernel reverse-path filter: the include's own check must hold.
	netnstest.CmdIn(t, router, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding && "+
		"for f in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 0 > $f; done")

	// The router's services: dnsmasq on 53, iotgw's DNS proxy and notice
	// page; the proxy notes who asked it. A public resolver and a web
	// server on the WAN.
	proxyAsked := &askedBy{}
	netnstest.ServeDNS(t, router, "[::]:53", "192.0.2.1", nil)
	netnstest.ServeDNS(t, router, fmt.Sprintf("[::]:%d", proxyPort), "192.0.2.2", proxyAsked.add)
	netnstest.ServeDNS(t, wan, "[::]:53", "192.0.2.3", nil)
	netnstest.ServeName(t, router, fmt.Sprintf("[::]:%d", noticePort), "notice", proxyAsked.add)
	netnstest.ServeName(t, wan, "[::]:80", "wan-http", nil)

	// The package's include, and the rules it includes, where this test
	// can write them.
	src, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), fw4IncludeSource))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(src), `include "`+fw4RulesPattern+`"`); n != 1 {
		t.Fatalf("%s: %d includes of %s, want 1", fw4IncludeSource, n, fw4RulesPattern)
	}
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "var-etc-iotgw-fw4")
	include := filepath.Join(dir, "iotgw.nft")
	if err := os.WriteFile(include, []byte(strings.Replace(string(src), filepath.Dir(fw4RulesPattern), rulesDir, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := quarantine.Config{
		RouterAddrs:   []netip.Addr{netip.MustParseAddr(routerV4), netip.MustParseAddr(routerV6)},
		LANPrefixes:   []netip.Prefix{netip.MustParsePrefix("192.168.3.0/24"), netip.MustParsePrefix("fd03::/64")},
		LANInterfaces: []string{"br-guest"},
		NoticePort:    noticePort,
		DNSProxyPort:  proxyPort,
	}
	writeRules := func() {
		if err := os.MkdirAll(rulesDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rulesDir, "input.nft"), []byte(quarantine.FW4Input(cfg)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fw4Load := func(withInclude bool) {
		t.Helper()
		line := ""
		if withInclude {
			line = "\t\tinclude \"" + include + "\""
		}
		nft(t, router, fmt.Sprintf(fw4GuestTable, line))
	}

	n, err := quarantine.NewNFTables(cfg, quarantine.WithNetNSFd(netnstest.Fd(t, router)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := n.SetProtected(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, []quarantine.Entry{{MAC: deviceMAC, Mode: quarantine.ModeBlock,
		Addrs: []netip.Addr{netip.MustParseAddr(deviceV4), netip.MustParseAddr(deviceV6)}}}); err != nil {
		t.Fatal(err)
	}

	quarantined := []zoneCheck{
		{from: device, to: routerV4, port: 53, dns: "udp", want: "proxy"},
		{from: device, to: routerV4, port: 53, dns: "tcp", want: "proxy"},
		{from: device, to: routerV6, port: 53, dns: "udp", want: "proxy"},
		{from: device, to: resolverV4, port: 53, dns: "udp", want: "proxy"},
		{from: device, to: resolverV4, port: 53, dns: "tcp", want: "proxy"},
		{from: device, to: wanV4, port: 80, want: "notice"},
		{from: device, to: routerV4, port: 80, want: "notice"},
	}
	// What the include must not open: a device that is not quarantined
	// asking iotgw's ports directly (the zone rejects them), the zone's
	// own DNS for it, untouched.
	unquarantined := []zoneCheck{
		{from: other, to: routerV4, port: 53, dns: "udp", want: "dnsmasq"},
		{from: other, to: routerV4, port: 53, dns: "tcp", want: "dnsmasq"},
		{from: other, to: routerV4, port: proxyPort, dns: "udp", want: "refused"},
		{from: other, to: routerV4, port: proxyPort, dns: "tcp", want: "refused"},
		{from: other, to: routerV4, port: noticePort, want: "refused"},
		{from: other, to: wanV4, port: 80, want: "wan-http"},
	}

	// fw4 as it is without the package's include: the redirected
	// connections meet the zone's reject. The ICMP error reaches the
	// device translated back; the TCP reset does not (the kernel sends
	// it from the port the connection was redirected to, which the
	// device's connection does not know), so TCP waits for its timeout.
	fw4Load(false)
	runZoneChecks(t, "without the include", append([]zoneCheck{
		{from: device, to: routerV4, port: 53, dns: "udp", want: "refused"},
		{from: device, to: routerV4, port: 53, dns: "tcp", want: "timeout"},
		{from: device, to: resolverV4, port: 53, dns: "udp", want: "refused"},
		{from: device, to: wanV4, port: 80, want: "timeout"},
	}, unquarantined...))

	// The include before iotgw's first start (no rules written yet, as
	// at boot): fw4 loads, and nothing changes.
	fw4Load(true)
	runZoneChecks(t, "include without its rules", []zoneCheck{
		{from: device, to: routerV4, port: 53, dns: "udp", want: "refused"},
		{from: device, to: wanV4, port: 80, want: "timeout"},
		{from: other, to: routerV4, port: 53, dns: "udp", want: "dnsmasq"},
	})

	// The rules written, fw4 reloaded.
	writeRules()
	fw4Load(true)
	chain := netnstest.CmdIn(t, router, "nft", "list", "chain", "inet", "fw4", "input")
	for _, cm := range quarantine.FW4InputComments(cfg) {
		if !strings.Contains(chain, cm) {
			t.Errorf("fw4's input chain lacks %q:\n%s", cm, chain)
		}
	}
	missing, ok, err := n.FW4InputMissing(ctx)
	if err != nil || !ok || len(missing) != 0 {
		t.Errorf("FW4InputMissing = %q, %v, %v; want none missing", missing, ok, err)
	}
	proxyAsked.reset()
	runZoneChecks(t, "with the include", append(quarantined, unquarantined...))
	for _, s := range proxyAsked.sources() {
		if s != deviceV4 && s != deviceV6 {
			t.Errorf("iotgw's proxy or notice page reached from %s", s)
		}
	}

	// The WAN side: straight to iotgw's ports on the router's WAN
	// address, and to ports 53 and 80 forging the quarantined device's
	// addresses, which iotgw's NAT chain redirects as it would the
	// device's own. fw4's wan zone drops all of it; the include accepts
	// none, so nothing reaches the proxy or the notice page.
	type send struct {
		from, to string
		port     int
		udp      bool
	}
	fromWAN := []send{
		{"", routerWAN, proxyPort, true},
		{"", routerWAN, proxyPort, false},
		{"", routerWAN, noticePort, false},
		{deviceV4, routerWAN, 53, true},
		{deviceV4, routerWAN, 53, false},
		{deviceV4, routerWAN, 80, false},
		{deviceV6, "2001:2::1", 53, true},
		{deviceV6, "2001:2::1", 80, false},
	}
	wanReached := func(sends []send) []string {
		proxyAsked.reset()
		for _, c := range sends {
			sendFrom(t, wan, c.from, c.to, c.port, c.udp)
		}
		time.Sleep(300 * time.Millisecond)
		return proxyAsked.sources()
	}
	if got := wanReached(fromWAN); len(got) != 0 {
		t.Errorf("WAN-side packets reached iotgw's proxy or notice page from %q", got)
	}
	// The forged ones are redirected all the same (iotgw's NAT chain
	// does not look at the interface): reverse-path checks are what keep
	// them out, the include's and the one on DNS in iotgw's limited
	// chain, each on its own. Without both, a forged query gets through.
	if err := os.WriteFile(filepath.Join(rulesDir, "input.nft"), []byte(strings.ReplaceAll(quarantine.FW4Input(cfg), " fib saddr . iif oif exists", "")), 0o644); err != nil {
		t.Fatal(err)
	}
	fw4Load(true)
	if got := wanReached(fromWAN[3:4]); len(got) != 0 {
		t.Errorf("without the include's reverse-path check, a forged query reached the proxy from %q: iotgw's limited chain let it in", got)
	}
	handle := strings.TrimSpace(netnstest.CmdIn(t, router, "sh", "-c",
		fmt.Sprintf("nft -e -a insert rule inet iotgw limited udp dport %d accept | sed -n 's/.*# handle //p'", proxyPort)))
	if got := wanReached(fromWAN[3:4]); len(got) != 1 || got[0] != deviceV4 {
		t.Errorf("without the reverse-path checks, a forged query reached the proxy from %q, want %s: the WAN check above proves nothing", got, deviceV4)
	}
	netnstest.CmdIn(t, router, "nft", "delete", "rule", "inet", "iotgw", "limited", "handle", handle)
	writeRules()
	fw4Load(true)

	// fw4 reloads and restarts keep both: its table comes back with the
	// include, iotgw's tables are untouched.
	before := iotgwTables(t, router)
	fw4Load(true)
	nft(t, router, "delete table inet fw4\n")
	fw4Load(true)
	if got := iotgwTables(t, router); got != before {
		t.Errorf("fw4's reload and restart changed iotgw's tables:\n%s\nbefore:\n%s", got, before)
	}
	runZoneChecks(t, "after fw4's restart", quarantined[:2])

	// A rules file missing one rule (ports changed, fw4 not reloaded):
	// the daemon's check names it.
	lines := strings.SplitAfter(quarantine.FW4Input(cfg), "\n")
	if err := os.WriteFile(filepath.Join(rulesDir, "input.nft"), []byte(strings.Join(lines[:2], "")), 0o644); err != nil {
		t.Fatal(err)
	}
	fw4Load(true)
	missing, ok, err = n.FW4InputMissing(ctx)
	if err != nil || !ok || len(missing) != 1 || !strings.Contains(missing[0], fmt.Sprint(noticePort)) {
		t.Errorf("FW4InputMissing = %q, %v, %v; want the notice page's rule", missing, ok, err)
	}
	nft(t, router, "delete table inet fw4\n")
	if missing, ok, err = n.FW4InputMissing(ctx); err != nil || ok || len(missing) != 0 {
		t.Errorf("without fw4: FW4InputMissing = %q, %v, %v; want not ok, nothing missing", missing, ok, err)
	}
}

// zoneCheck is one connection from a host: DNS over dns ("udp", "tcp")
// wanting the named server's answer, or TCP wanting the line a server
// sends; "refused" is a reject (ICMP port unreachable, TCP reset),
// "timeout" no answer in zoneTimeout.
type zoneCheck struct {
	from, to string
	port     int
	dns      string
	want     string
}

func runZoneChecks(t *testing.T, stage string, checks []zoneCheck) {
	t.Helper()
	for _, c := range checks {
		var got string
		var err error
		if c.dns != "" {
			got, err = zoneDNS(c.from, c.to, c.port, c.dns)
		} else {
			got, err = zoneTCP(c.from, c.to, c.port)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			got = "timeout"
		} else if err != nil {
			got = "error: " + err.Error()
		}
		if got != c.want {
			what := "tcp"
			if c.dns != "" {
				what = "dns/" + c.dns
			}
			t.Errorf("%s: %s from %s to %s port %d: got %q, want %q", stage, what, netnstest.Role(c.from), c.to, c.port, got, c.want)
		}
	}
}

var zoneAnswers = map[string]string{"192.0.2.1": "dnsmasq", "192.0.2.2": "proxy", "192.0.2.3": "resolver"}

const zoneTimeout = 800 * time.Millisecond

// zoneDNS asks server:port from ns over network for an A record and
// names the server that answered; "refused" is a reject.
func zoneDNS(ns, server string, port int, network string) (string, error) {
	c, err := netnstest.Dial(ns, network, net.JoinHostPort(server, fmt.Sprint(port)), zoneTimeout)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "refused", nil
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	ip, err := netnstest.QueryA(c, zoneTimeout)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return "refused", nil
	}
	if err != nil {
		return "", err
	}
	return zoneAnswers[ip.String()], nil
}

// zoneTCP connects from ns to ip:port and returns the line the server
// sent; "refused" is a reject.
func zoneTCP(ns, ip string, port int) (string, error) {
	line, err := netnstest.FetchLine(ns, net.JoinHostPort(ip, fmt.Sprint(port)), zoneTimeout)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "refused", nil
	}
	return line, err
}

// sendFrom sends, from ns and source address from (any when empty), a
// DNS query over UDP or a TCP SYN to to:port, and does not wait for an
// answer: a forged source gets none.
func sendFrom(t *testing.T, ns, from, to string, port int, udp bool) {
	t.Helper()
	var laddr net.Addr
	network := "tcp"
	if udp {
		network = "udp"
	}
	if from != "" {
		ip := net.ParseIP(from)
		if udp {
			laddr = &net.UDPAddr{IP: ip}
		} else {
			laddr = &net.TCPAddr{IP: ip}
		}
	}
	d := net.Dialer{LocalAddr: laddr, Timeout: 200 * time.Millisecond}
	_ = netnstest.Run(ns, func() error {
		c, err := d.Dial(network, net.JoinHostPort(to, fmt.Sprint(port)))
		if err != nil {
			return nil // a SYN without answer: timed out, as expected
		}
		defer c.Close()
		q := new(dns.Msg)
		q.SetQuestion("probe.example.test.", dns.TypeA)
		b, _ := q.Pack()
		_, _ = c.Write(b)
		return nil
	})
}

// askedBy records the source addresses that reached a server.
type askedBy struct {
	mu  sync.Mutex
	src map[string]bool
}

func (a *askedBy) add(addr net.Addr) {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().String()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.src == nil {
		a.src = map[string]bool{}
	}
	a.src[host] = true
}

func (a *askedBy) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.src = nil
}

func (a *askedBy) sources() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s []string
	for k := range a.src {
		s = append(s, k)
	}
	return s
}
