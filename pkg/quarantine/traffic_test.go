package quarantine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// lab is a home network in namespaces: a router bridging two LAN hosts
// (the device under test and a peer) and routing to a WAN host. Test
// addresses only (10.99.0.0/24, fd99::/64, 198.18.0.0/15, 2001:2::/48);
// no packet leaves the namespaces.
type lab struct {
	router, device, peer, wan string
	stopProxy                 func()
}

const (
	routerV4, routerV6 = "10.99.0.1", "fd99::1"
	deviceV4, deviceV6 = "10.99.0.10", "fd99::10"
	peerV4, peerV6     = "10.99.0.11", "fd99::11"
	wanV4, wanV6       = "198.18.0.2", "2001:2::2"
	wanOtherV4         = "198.18.0.3"
	resolverV4         = "198.18.0.53" // a "public resolver" a device has hard-coded
	noticePort         = 8080
	dnsProxyPort       = 5354
	dialTimeout        = 800 * time.Millisecond
	// serverV4 is the WAN host's address for the servers a test starts
	// itself (echo, capture, FTP); the lab's own listen elsewhere, so
	// these may take any port, 80 and 443 (an update host's) too.
	serverV4 = "198.18.0.4"
)

// The lab's DNS servers answer every A query with an address of their own
// (documentation range, data only) that names them; "refused" stands for
// a query the router turned away at once (ICMP port unreachable, RST).
var dnsServerNames = map[string]string{"192.0.2.1": "dnsmasq", "192.0.2.2": "proxy", "192.0.2.3": "resolver", "192.0.2.4": "lan-resolver"}

var deviceMAC, peerMAC = mustMAC("02:00:00:00:00:10"), mustMAC("02:00:00:00:00:11")

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{router: netnstest.New(t, "iotgwq", "router"), device: netnstest.New(t, "iotgwq", "device"), peer: netnstest.New(t, "iotgwq", "peer"), wan: netnstest.New(t, "iotgwq", "wan")}
	ipr := func(ns string, args ...string) { netnstest.Cmd(t, "ip", append([]string{"-n", ns}, args...)...) }
	netnstest.NoDAD(t, l.router, l.device, l.peer, l.wan)

	// A bridge whose MAC is not set takes its ports' lowest and changes
	// it when a port with a lower one joins (a test's extra host): the
	// hosts' cached entries for the router would then point at a port's
	// MAC and their routed traffic go nowhere. OpenWrt sets br-lan's.
	ipr(l.router, "link", "add", "br0", "address", "02:00:00:00:00:fe", "type", "bridge")
	for _, h := range []netnstest.LANHost{
		{NS: l.device, Port: "lan0", MAC: deviceMAC.String(), V4: deviceV4 + "/24", V6: deviceV6 + "/64"},
		{NS: l.peer, Port: "lan1", MAC: peerMAC.String(), V4: peerV4 + "/24", V6: peerV6 + "/64"},
	} {
		netnstest.BridgeHost(t, l.router, "br0", h, routerV4, routerV6)
	}
	ipr(l.router, "addr", "add", routerV4+"/24", "dev", "br0")
	ipr(l.router, "addr", "add", routerV6+"/64", "dev", "br0", "nodad")
	ipr(l.router, "link", "set", "br0", "up")

	ipr(l.router, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", l.wan)
	ipr(l.router, "addr", "add", "198.18.0.1/24", "dev", "wan0")
	ipr(l.router, "addr", "add", "2001:2::1/64", "dev", "wan0", "nodad")
	ipr(l.router, "link", "set", "wan0", "up")
	ipr(l.wan, "link", "set", "eth0", "up")
	ipr(l.wan, "addr", "add", wanV4+"/24", "dev", "eth0")
	ipr(l.wan, "addr", "add", wanOtherV4+"/24", "dev", "eth0")
	ipr(l.wan, "addr", "add", serverV4+"/24", "dev", "eth0")
	ipr(l.wan, "addr", "add", resolverV4+"/24", "dev", "eth0")
	ipr(l.wan, "addr", "add", wanV6+"/64", "dev", "eth0", "nodad")
	ipr(l.wan, "route", "add", "10.99.0.0/24", "via", "198.18.0.1")
	ipr(l.wan, "-6", "route", "add", "fd99::/64", "via", "2001:2::1")

	netnstest.CmdIn(t, l.router, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding")
	// OpenWrt does not pass bridged frames through the inet hooks
	// (no br_netfilter); make sure the bridge table alone does the cut.
	_ = netnstest.Command(l.router, "sh", "-c",
		"echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables; echo 0 > /proc/sys/net/bridge/bridge-nf-call-ip6tables").Run()

	// Servers: each TCP listener answers with its name, the UDP ones echo.
	// The WAN's: HTTP(S) and UDP on 443 (QUIC's port) that an
	// updates-only device may use, a telnet port and an OpenVPN one it
	// may not; not on serverV4.
	for _, a := range []string{wanV4, wanV6, wanOtherV4} {
		netnstest.ServeName(t, l.wan, net.JoinHostPort(a, "80"), "wan-http", nil)
		netnstest.ServeName(t, l.wan, net.JoinHostPort(a, "443"), "wan", nil)
		netnstest.ServeName(t, l.wan, net.JoinHostPort(a, "23"), "wan-telnet", nil)
		l.serveUDP(t, l.wan, net.JoinHostPort(a, "443"))
		l.serveUDP(t, l.wan, net.JoinHostPort(a, "1194"))
	}
	netnstest.ServeName(t, l.peer, "[::]:443", "peer", nil)
	netnstest.ServeName(t, l.device, "[::]:443", "device", nil)
	netnstest.ServeName(t, l.router, fmt.Sprintf("[::]:%d", noticePort), "notice", nil)
	netnstest.ServeName(t, l.router, "[::]:2222", "router-admin", nil)
	l.serveUDP(t, l.router, "0.0.0.0:67")
	l.serveUDP(t, l.device, "[::]:5000")
	l.serveUDP(t, l.peer, "[::]:5000")
	// DNS: the router's resolver, the DNS proxy (stopped in the crash
	// stage) and a public resolver on the WAN.
	netnstest.ServeDNS(t, l.router, "[::]:53", "192.0.2.1", nil)
	l.stopProxy = netnstest.ServeDNS(t, l.router, fmt.Sprintf("[::]:%d", dnsProxyPort), "192.0.2.2", nil)
	netnstest.ServeDNS(t, l.wan, "[::]:53", "192.0.2.3", nil)

	// Neighbour discovery takes a moment on fresh links.
	start := time.Now()
	for _, c := range [][2]string{{l.device, wanV6}, {l.wan, deviceV6}, {l.device, wanV4}} {
		for {
			if _, err := tcp(c[0], c[1], 443); err == nil {
				break
			} else if time.Since(start) > 10*time.Second {
				t.Fatalf("lab not ready: %s → %s: %v", netnstest.Role(c[0]), c[1], err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("lab ready after %v", time.Since(start))
	return l
}

func (l *lab) serveUDP(t *testing.T, ns, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := netnstest.Run(ns, func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatalf("listen udp %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

// dnsQuery asks server (over UDP or TCP) from ns for an A record and
// returns the name of the lab server that answered, "refused" if the
// query was turned away at once.
func dnsQuery(ns, server string, port int, overUDP bool) (string, error) {
	network := "tcp"
	if overUDP {
		network = "udp"
	}
	c, err := netnstest.Dial(ns, network, net.JoinHostPort(server, fmt.Sprint(port)), dialTimeout)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "refused", nil
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	return dnsExchange(c)
}

// dnsExchange asks over c and names the server that answered.
func dnsExchange(c net.Conn) (string, error) {
	ip, err := netnstest.QueryA(c, dialTimeout)
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "refused", nil
	}
	if err != nil {
		return "", err
	}
	return dnsServerNames[ip.String()], nil
}

// dnsChecks asks, from one host, the router (IPv4 and IPv6, UDP and TCP)
// and a public resolver (likewise), wanting the named servers to answer.
func dnsChecks(from, router, resolver string) []check {
	return []check{
		{from: from, to: routerV4, port: 53, dns: true, udp: true, want: router},
		{from: from, to: routerV6, port: 53, dns: true, udp: true, want: router},
		{from: from, to: routerV4, port: 53, dns: true, want: router},
		{from: from, to: resolverV4, port: 53, dns: true, udp: true, want: resolver},
		{from: from, to: resolverV4, port: 53, dns: true, want: resolver},
		{from: from, to: wanV6, port: 53, dns: true, udp: true, want: resolver},
	}
}

// tcp connects from ns and returns the name the server answered with.
func tcp(ns string, ip string, port int) (string, error) {
	return netnstest.FetchLine(ns, net.JoinHostPort(ip, fmt.Sprint(port)), dialTimeout)
}

// udp sends a datagram from ns and waits for the echo.
func udp(ns string, ip string, port int) error {
	c, err := netnstest.Dial(ns, "udp", net.JoinHostPort(ip, fmt.Sprint(port)), 0)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err == nil && string(buf[:n]) != "ping" {
		err = errors.New("wrong echo")
	}
	return err
}

// expectOwnerResolves runs checks twice, with the neighbours resolved
// afresh on one side and then the other: the device's requests about the
// owner's addresses and its answers about its own must reach the owner.
// The first time the peer knows the device for good, so only the
// device's own requests can resolve the peer.
func (l *lab) expectOwnerResolves(t *testing.T, stage string, checks []check) {
	t.Helper()
	known := [][2]string{{deviceV4, deviceMAC.String()}, {deviceV6, deviceMAC.String()}}
	for _, k := range known {
		netnstest.CmdIn(t, l.peer, "ip", "neigh", "replace", k[0], "lladdr", k[1], "dev", "eth0", "nud", "permanent")
	}
	netnstest.CmdIn(t, l.device, "ip", "neigh", "flush", "dev", "eth0")
	l.expect(t, stage+", the device resolving the peer", checks)
	for _, k := range known {
		netnstest.CmdIn(t, l.peer, "ip", "neigh", "del", k[0], "dev", "eth0")
	}
	netnstest.CmdIn(t, l.peer, "ip", "neigh", "flush", "dev", "eth0")
	l.expect(t, stage+", the peer resolving the device", checks)
}

// udpRefused reports whether a datagram from ns to ip:port is refused
// (an ICMP port unreachable came back) rather than lost.
func udpRefused(ns, ip string, port int) bool {
	c, err := netnstest.Dial(ns, "udp", net.JoinHostPort(ip, fmt.Sprint(port)), 0)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(dialTimeout))
	if _, err := c.Write([]byte("ping")); err != nil {
		return errors.Is(err, syscall.ECONNREFUSED)
	}
	_, err = c.Read(make([]byte, 16))
	return errors.Is(err, syscall.ECONNREFUSED)
}

func ping(ns, ip string) error {
	return netnstest.Command(ns, "busybox", "ping", "-c1", "-W1", ip).Run()
}

// check is one expectation: a TCP service answers with name ("" means the
// connection must fail), a UDP echo works (udp: true) or fails, or a DNS
// query (dns: true, over UDP or TCP) is answered by the named server.
type check struct {
	from, to string
	port     int
	udp      bool
	dns      bool
	want     string // TCP: server name, "" blocked; UDP: "echo" or ""; DNS: server name, "refused" or ""
}

// expect runs the checks concurrently (a blocked one waits for its
// timeout) and reports each that came out otherwise.
func (l *lab) expect(t *testing.T, stage string, checks []check) {
	t.Helper()
	got := make([]string, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.dns {
				got[i], _ = dnsQuery(c.from, c.to, c.port, c.udp)
			} else if !c.udp {
				got[i], _ = tcp(c.from, c.to, c.port)
			} else if udp(c.from, c.to, c.port) == nil {
				got[i] = "echo"
			}
		}()
	}
	wg.Wait()
	for i, c := range checks {
		if got[i] != c.want {
			t.Errorf("%s: %s → [%s]:%d udp=%v dns=%v: got %q, want %q", stage, netnstest.Role(c.from), c.to, c.port, c.udp, c.dns, got[i], c.want)
		}
	}
}

func TestTraffic(t *testing.T) {
	netnstest.RequireNFTables(t)
	ctx := context.Background()
	l := newLab(t)
	cfg := Config{
		RouterAddrs: addrs(routerV4, routerV6, "198.18.0.1", "2001:2::1"),
		// wanOtherV4 stands for a private network beyond the WAN port that
		// the LAN prefixes name too (the ISP's modem of a double NAT).
		LANPrefixes: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64"),
			netip.MustParsePrefix(wanOtherV4 + "/32")},
		NoticePort:    noticePort,
		Capture:       CaptureConfig{Enabled: true, Group: 3, Snaplen: 256, Bytes: 4096, Mark: 0x00300000},
		DNSProxyPort:  dnsProxyPort,
		LANInterfaces: []string{"br0"},
	}
	if err := netnstest.Run(l.router, EnableConntrackAccounting); err != nil {
		t.Fatal(err)
	}
	n, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, l.router)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	d, p, w, r := l.device, l.peer, l.wan, l.router

	free := []check{
		{from: d, to: wanV4, port: 443, want: "wan"},
		{from: d, to: wanV6, port: 443, want: "wan"},
		{from: d, to: wanV4, port: 80, want: "wan-http"},
		{from: d, to: wanV4, port: 23, want: "wan-telnet"},
		{from: d, to: wanV6, port: 23, want: "wan-telnet"},
		{from: d, to: wanV4, port: 443, udp: true, want: "echo"},
		{from: d, to: wanV4, port: 1194, udp: true, want: "echo"},
		{from: d, to: wanV6, port: 1194, udp: true, want: "echo"},
		{from: d, to: peerV4, port: 443, want: "peer"},
		{from: p, to: deviceV4, port: 443, want: "device"},
		{from: w, to: deviceV4, port: 443, want: "device"},
		{from: w, to: deviceV6, port: 443, want: "device"},
		{from: d, to: routerV4, port: 2222, want: "router-admin"},
	}
	free = append(free, dnsChecks(d, "dnsmasq", "resolver")...)
	peerDNS := dnsChecks(p, "dnsmasq", "resolver")
	l.expect(t, "before quarantine", free)
	if err := ping(d, wanV4); err != nil {
		t.Errorf("before quarantine: ping device → wan: %v", err)
	}
	l.expectFirstReplyCaptured(t, "before quarantine", cfg.Capture)
	l.expectMarkedPassesUncaptured(t, cfg.Capture, 8002)
	l.expectExpectedChildCaptured(t, cfg.Capture)
	bulk := l.openSpentConn(t, cfg.Capture, 8001)

	// What a quarantined device may still use on the router, DNS aside:
	// DHCP, the notice page and the DNS proxy's own port.
	router := []check{
		{from: d, to: routerV4, port: 67, udp: true, want: "echo"},
		{from: d, to: routerV4, port: noticePort, want: "notice"},
		{from: d, to: routerV6, port: noticePort, want: "notice"},
		{from: d, to: routerV4, port: 2222, want: ""},
		{from: d, to: routerV4, port: dnsProxyPort, dns: true, udp: true, want: "proxy"},
		{from: d, to: routerV6, port: dnsProxyPort, dns: true, want: "proxy"},
	}

	device := Entry{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: ModeBlock}
	if err := n.Quarantine(ctx, device); err != nil {
		t.Fatal(err)
	}
	// A resolver asking from one fixed source port, as small IP stacks
	// do: its redirect to the proxy must not outlive the quarantine.
	var fixedPort net.Conn
	if err := netnstest.Run(d, func() (err error) {
		fixedPort, err = net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(deviceV4), Port: 40053}, &net.UDPAddr{IP: net.ParseIP(routerV4), Port: 53})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer fixedPort.Close()
	if got, err := dnsExchange(fixedPort); got != "proxy" {
		t.Errorf("block: DNS from a fixed port answered by %q (%v), want the proxy", got, err)
	}
	// The connection that passed on its mark alone is cut all the same.
	if err := echo(bulk, 1); err == nil {
		t.Error("block: a connection opened before the quarantine, its budget spent, still passes")
	}
	// Another program that sets the same bits on every connection
	// (a misconfigured mark) opens no new connection of a quarantined
	// device: the mark is trusted only on established ones.
	removeMarker := l.markFromOtherTable(t, "", cfg.Capture.Mark)
	l.expect(t, "block, foreign mark", []check{
		{from: d, to: wanV4, port: 443, want: ""},
		{from: w, to: deviceV4, port: 443, want: ""},
	})
	removeMarker()
	l.expect(t, "block", append([]check{
		{from: d, to: wanV4, port: 443, want: ""},
		{from: d, to: wanV6, port: 443, want: ""},
		{from: d, to: wanV4, port: 80, want: "notice"},
		{from: d, to: wanV6, port: 80, want: "notice"},
		{from: d, to: peerV4, port: 443, want: ""},
		{from: p, to: deviceV4, port: 443, want: ""},
		{from: w, to: deviceV4, port: 443, want: ""},
		{from: w, to: deviceV6, port: 443, want: ""},
		// The router's own connections (the audit, UPnP fetches) get
		// their answers.
		{from: r, to: deviceV4, port: 443, want: "device"},
		{from: r, to: deviceV6, port: 443, want: "device"},
	}, slices.Concat(router, dnsChecks(d, "proxy", "proxy"), peerDNS)...))
	if err := ping(d, wanV4); err == nil {
		t.Error("block: ping device → wan still works")
	}
	// A real client: the answer comes from the proxy, the device
	// believes it came from the resolver it asked.
	if out := netnstest.CmdIn(t, d, "timeout", "10", "busybox", "nslookup", "-type=a", "probe.example.test", resolverV4); !strings.Contains(out, "192.0.2.2") {
		t.Errorf("block: busybox nslookup via %s not answered by the proxy:\n%s", resolverV4, out)
	}

	// An address the entry lacks (an IPv6 address not learnt yet; here
	// the IPv4 one): a connection from the WAN gets through the address
	// rules, but the device's replies are stopped by its MAC.
	if err := n.Quarantine(ctx, Entry{MAC: deviceMAC, Addrs: addrs(deviceV6), Mode: ModeBlock}); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "block, an address unknown", []check{{from: w, to: deviceV4, port: 443, want: ""}})
	// Replies to a management address (say, over a VPN) pass.
	if err := n.SetProtected(ctx, nil, addrs(wanV4)); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "block, an address unknown, management address", []check{{from: w, to: deviceV4, port: 443, want: "device"}})
	if err := n.SetProtected(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	// Replies to another LAN segment (here wan0 named a LAN interface,
	// standing in for a second bridge) are stopped by its MAC all the
	// same: the address rules did not stop the connection's start.
	// (TestUnlearntAddressCut has a real second segment.)
	twoSegments := cfg
	twoSegments.LANInterfaces = []string{"br0", "wan0"}
	segments, err := NewNFTables(twoSegments, WithNetNSFd(netnstest.Fd(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	if err := segments.Reconcile(ctx, []Entry{{MAC: deviceMAC, Addrs: addrs(deviceV6), Mode: ModeBlock}}); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "block, an address unknown, reply to another LAN segment", []check{{from: w, to: deviceV4, port: 443, want: ""}})
	// Connections the device opened before its quarantine from an
	// address the entry lacks and the router's neighbour table no longer
	// holds are not deleted: its packets are stopped by its MAC all the
	// same, on a connection whose capture budget is spent as on one whose
	// is not. In updates-only mode such a connection to an allowed host
	// goes on, on a port the mode allows. (TestNeighbourConnectionsCut
	// has the addresses the neighbour table holds.)
	forgetNeighbour := func() { netnstest.CmdIn(t, r, "ip", "neigh", "flush", "to", deviceV4) }
	if err := n.Release(ctx, deviceMAC); err != nil {
		t.Fatal(err)
	}
	spent, fresh := l.openSpentConn(t, cfg.Capture, 8003), l.dialEcho(t, 8004)
	if err := echo(fresh, 1); err != nil {
		t.Fatalf("before quarantine: %v", err)
	}
	forgetNeighbour()
	if err := n.Quarantine(ctx, Entry{MAC: deviceMAC, Addrs: addrs(deviceV6), Mode: ModeBlock}); err != nil {
		t.Fatal(err)
	}
	for name, conn := range map[string]net.Conn{"spent": spent, "fresh": fresh} {
		if err := echo(conn, 1); err == nil {
			t.Errorf("block: a %s connection from an address the entry lacks, opened before the quarantine, still passes", name)
		}
	}
	if err := n.Release(ctx, deviceMAC); err != nil {
		t.Fatal(err)
	}
	toAllowed, toOtherPort := l.openSpentConn(t, cfg.Capture, 443), l.openSpentConn(t, cfg.Capture, 8005)
	if err := n.SetAllowed(ctx, addrs(serverV4), time.Minute); err != nil {
		t.Fatal(err)
	}
	forgetNeighbour()
	if err := n.Quarantine(ctx, Entry{MAC: deviceMAC, Addrs: addrs(deviceV6), Mode: ModeUpdatesOnly}); err != nil {
		t.Fatal(err)
	}
	if err := echo(toAllowed, 1); err != nil {
		t.Errorf("updates-only: a connection to an allowed host's port 443 from an address the entry lacks is cut: %v", err)
	}
	if err := echo(toOtherPort, 1); err == nil {
		t.Error("updates-only: a connection to an allowed host's port 8005 from an address the entry lacks still passes")
	}
	// What it may send from there goes to the capture once.
	l.expectFirstReplyCaptured(t, "updates-only, an address the entry lacks", cfg.Capture)
	if err := n.Reconcile(ctx, []Entry{device}); err != nil {
		t.Fatal(err)
	}

	// The owner's device, once protected, can reach the quarantined
	// device (to fix it), and cannot itself be quarantined. The
	// quarantined device can neither connect to nor ping it.
	if err := n.SetProtected(ctx, []hwaddr.MAC{peerMAC}, nil); err != nil {
		t.Fatal(err)
	}
	// UDP: the device's answers to an exchange the owner started pass,
	// a datagram it starts does not.
	ownerChecks := []check{
		{from: p, to: deviceV4, port: 443, want: "device"},
		{from: p, to: deviceV6, port: 443, want: "device"},
		{from: p, to: deviceV4, port: 5000, udp: true, want: "echo"},
		{from: p, to: deviceV6, port: 5000, udp: true, want: "echo"},
		{from: d, to: peerV4, port: 443, want: ""},
		{from: d, to: peerV6, port: 443, want: ""},
		{from: d, to: peerV4, port: 5000, udp: true, want: ""},
		{from: d, to: peerV6, port: 5000, udp: true, want: ""},
	}
	l.expectOwnerResolves(t, "block, peer protected", ownerChecks)
	// The device's ICMP errors reach the owner: a closed port is refused
	// at once.
	for _, to := range []string{deviceV4, deviceV6} {
		if !udpRefused(p, to, 5001) {
			t.Errorf("block, peer protected: UDP peer → %s, closed port: not refused", to)
		}
	}
	if tagged, arp, bcast := l.misleads(t, 41010); tagged || arp || bcast {
		t.Errorf("block, peer protected: a SYN behind two VLAN tags answered %v, an ARP reply claiming the router taken %v, an answer to a broadcast delivered %v; want none", tagged, arp, bcast)
	}
	if solicit, advert := l.neighbourTaken(t); solicit || advert {
		t.Errorf("block, peer protected: a solicitation from the router's IPv6 address taken %v, an advert claiming it taken %v; want neither", solicit, advert)
	}
	// Nor does it speak for another quarantined device.
	if err := n.Quarantine(ctx, otherQuarantinedAt); err != nil {
		t.Fatal(err)
	}
	if arp, advert := l.claimsOthers(t); arp || advert {
		t.Errorf("block, peer protected: an ARP reply claiming another quarantined device's address taken %v, an advert %v; want neither", arp, advert)
	}
	if err := n.Release(ctx, otherMAC); err != nil {
		t.Fatal(err)
	}
	if err := ping(p, deviceV4); err != nil {
		t.Errorf("block, peer protected: ping peer → device: %v", err)
	}
	for _, to := range []string{peerV4, peerV6} {
		if err := ping(d, to); err == nil {
			t.Errorf("block, peer protected: ping device → %s still works", to)
		}
	}
	if frag, ts := l.openings(t, 41000); frag || ts {
		t.Errorf("block, peer protected: a SYN in fragments answered %v, an ICMP timestamp request answered %v; want neither", frag, ts)
	}
	// Protected by address (a management address on the LAN) the same:
	// and a frame from the device's address but another MAC is stopped by
	// the address rules.
	if err := n.SetProtected(ctx, nil, addrs(peerV4, peerV6)); err != nil {
		t.Fatal(err)
	}
	l.expectOwnerResolves(t, "block, peer protected by address", ownerChecks)
	otherMAC := mustMAC("02:00:00:00:00:99")
	if l.synArrives(t, otherMAC, deviceV4, peerV4, 41002) {
		t.Error("block, peer protected by address: a SYN from the device's address and another MAC reached the peer")
	}
	// Nor does the device pass for the owner by claiming its address.
	if l.synArrives(t, deviceMAC, peerV4, "10.99.0.12", 41003) {
		t.Error("block, peer protected by address: a frame from the device's MAC claiming the peer's address got through")
	}
	if err := n.Quarantine(ctx, Entry{MAC: peerMAC, Addrs: addrs(peerV4), Mode: ModeBlock}); !errors.Is(err, ErrProtected) {
		t.Errorf("quarantine of the protected peer: got %v, want ErrProtected", err)
	}
	if err := n.SetProtected(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}

	if err := n.Release(ctx, deviceMAC); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "released", append([]check{
		{from: d, to: peerV4, port: 5000, udp: true, want: "echo"},
		{from: d, to: peerV6, port: 5000, udp: true, want: "echo"},
	}, free...))
	// The probes above can see what they look for: free, it comes.
	if tagged, arp, bcast := l.misleads(t, 42010); !tagged || !arp || !bcast {
		t.Errorf("released: a SYN behind two VLAN tags answered %v, an ARP reply claiming the router taken %v, an answer to a broadcast delivered %v; want all", tagged, arp, bcast)
	}
	if solicit, advert := l.neighbourTaken(t); !solicit || !advert {
		t.Errorf("released: a solicitation from the router's IPv6 address taken %v, an advert claiming it taken %v; want both", solicit, advert)
	}
	if arp, advert := l.claimsOthers(t); !arp || !advert {
		t.Errorf("released: an ARP reply claiming another device's address taken %v, an advert %v; want both", arp, advert)
	}
	if frag, ts := l.openings(t, 42000); !frag || !ts {
		t.Errorf("released: a SYN in fragments answered %v, an ICMP timestamp request answered %v; want both", frag, ts)
	}
	if !l.synArrives(t, mustMAC("02:00:00:00:00:99"), deviceV4, peerV4, 42002) {
		t.Error("released: a SYN from another MAC did not reach the peer")
	}
	if !l.synArrives(t, deviceMAC, peerV4, "10.99.0.12", 42003) {
		t.Error("released: a frame claiming the peer's address did not reach it")
	}
	if got, err := dnsExchange(fixedPort); got != "dnsmasq" {
		t.Errorf("released: DNS from the same fixed port answered by %q (%v), want dnsmasq", got, err)
	}

	// Mode "all": DNS to the router from every LAN client goes to the
	// proxy, DNS to other resolvers is untouched, the owner's devices
	// keep the router's resolver; switched off, all is as before.
	if err := n.SetDNSRedirectAll(ctx, true); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "dns for all", slices.Concat(dnsChecks(d, "proxy", "resolver"), dnsChecks(p, "proxy", "resolver")))
	if err := n.SetProtected(ctx, []hwaddr.MAC{peerMAC}, nil); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "dns for all, peer protected", slices.Concat(dnsChecks(d, "proxy", "resolver"), peerDNS))
	if err := n.SetProtected(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := n.SetDNSRedirectAll(ctx, false); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "dns for all switched off", append(free, peerDNS...))

	device.Mode = ModeIsolate
	if err := n.Quarantine(ctx, device); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "isolate", append([]check{
		{from: d, to: wanV4, port: 443, want: ""},
		{from: d, to: wanV6, port: 443, want: ""},
		{from: d, to: wanV4, port: 80, want: ""},
		{from: w, to: deviceV4, port: 443, want: ""},
		{from: d, to: peerV4, port: 443, want: "peer"},
		{from: p, to: deviceV4, port: 443, want: "device"},
		// A LAN prefix out of the WAN port is no LAN.
		{from: d, to: wanOtherV4, port: 443, want: ""},
	}, slices.Concat(router, dnsChecks(d, "proxy", "proxy"))...))

	// An allowed host gets what firmware downloads use, HTTP and HTTPS
	// over TCP and QUIC (UDP 443), and their replies; not telnet, not a
	// VPN, not a ping. DNS to it is redirected all the same.
	device.Mode = ModeUpdatesOnly
	if err := n.Quarantine(ctx, device); err != nil {
		t.Fatal(err)
	}
	if err := n.SetAllowed(ctx, addrs(wanV4, wanV6, resolverV4, serverV4), time.Minute); err != nil {
		t.Fatal(err)
	}
	toAllowedHosts := []check{
		{from: d, to: wanV4, port: 443, want: "wan"},
		{from: d, to: wanV6, port: 443, want: "wan"},
		{from: d, to: wanV4, port: 80, want: "wan-http"},
		{from: d, to: wanV6, port: 80, want: "wan-http"},
		{from: d, to: wanV4, port: 443, udp: true, want: "echo"},
		{from: d, to: wanV6, port: 443, udp: true, want: "echo"},
		{from: d, to: wanV4, port: 23, want: ""},
		{from: d, to: wanV6, port: 23, want: ""},
		{from: d, to: wanV4, port: 1194, udp: true, want: ""},
		{from: d, to: wanV6, port: 1194, udp: true, want: ""},
	}
	updatesOnly := append([]check{
		{from: d, to: wanOtherV4, port: 443, want: ""},
		{from: d, to: wanOtherV4, port: 80, want: "notice"},
		{from: d, to: peerV4, port: 443, want: ""},
		{from: w, to: deviceV4, port: 443, want: ""},
	}, toAllowedHosts...)
	l.expect(t, "updates-only", slices.Concat(updatesOnly, router, dnsChecks(d, "proxy", "proxy"), peerDNS))
	if err := ping(d, wanV4); err == nil {
		t.Error("updates-only: ping device → allowed host still works")
	}
	// What the mode chain lets pass goes to the capture, once.
	l.expectFirstReplyCaptured(t, "updates-only", cfg.Capture)

	// Without the DNS proxy, DNS reaches the router's resolver and no
	// allowed host (udp and tcp 53 are no update's ports).
	noProxy := cfg
	noProxy.DNSProxyPort = 0
	direct, err := NewNFTables(noProxy, WithNetNSFd(netnstest.Fd(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	if err := direct.Reconcile(ctx, []Entry{device}); err != nil {
		t.Fatal(err)
	}
	if err := direct.SetAllowed(ctx, addrs(wanV4, wanV6, resolverV4), time.Minute); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "updates-only, no DNS proxy", slices.Concat(toAllowedHosts, dnsChecks(d, "dnsmasq", "")))

	// IsolateLAN changes the rules: a new configuration rebuilds the
	// tables on Reconcile and keeps the device quarantined throughout.
	cfg.IsolateLAN = true
	strict, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	device.Mode = ModeIsolate
	if err := strict.Reconcile(ctx, []Entry{device}); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "isolate with IsolateLAN", append([]check{
		{from: d, to: wanV4, port: 443, want: ""},
		{from: d, to: peerV4, port: 443, want: ""},
		{from: p, to: deviceV4, port: 443, want: ""},
	}, slices.Concat(router, dnsChecks(d, "proxy", "proxy"))...))

	// The daemon dies: the redirect stays and points at a closed port, so
	// a quarantined device's DNS fails at once; nobody else notices.
	device.Mode = ModeBlock
	if err := strict.Quarantine(ctx, device); err != nil {
		t.Fatal(err)
	}
	l.stopProxy()
	l.expect(t, "proxy down", slices.Concat(dnsChecks(d, "refused", "refused"), peerDNS))

	if _, err := strict.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "uninstalled", free)
}

// openSpentConn opens a connection from the device to an echo server on
// the WAN and sends more than the byte budget through it both ways, so
// that the capture rules set both bits of the connection's mark: from then
// on its packets pass on a test of the mark.
func (l *lab) openSpentConn(t *testing.T, c CaptureConfig, port int) net.Conn {
	t.Helper()
	conn := l.dialEcho(t, port)
	for range 8 {
		if err := echo(conn, int(c.Bytes)/4); err != nil {
			conn.Close()
			t.Fatalf("echo through the router: %v", err)
		}
	}
	if mark := l.connMark(t, port); mark&c.Mark != c.Mark {
		t.Errorf("capture: the connection's mark is %#x, want bits %#x set", mark, c.Mark)
	}
	return conn
}

// dialEcho starts an echo server on the WAN host's port (of serverV4)
// and connects the device to it.
func (l *lab) dialEcho(t *testing.T, port int) net.Conn {
	t.Helper()
	ln := l.listenWAN(t, port)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.Copy(conn, conn)
	}()
	return l.dialWAN(t, port)
}

// listenWAN listens on the WAN host's TCP port of serverV4; the listener
// closes with the test at the latest.
func (l *lab) listenWAN(t *testing.T, port int) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := netnstest.Run(l.wan, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(serverV4, fmt.Sprint(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// dialWAN connects the device to the WAN host's TCP port of serverV4; the
// connection closes with the test at the latest.
func (l *lab) dialWAN(t *testing.T, port int) net.Conn {
	t.Helper()
	var conn net.Conn
	if err := netnstest.Run(l.device, func() (err error) {
		conn, err = net.DialTimeout("tcp", net.JoinHostPort(serverV4, fmt.Sprint(port)), dialTimeout)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// connMark is the router's conntrack mark of the device's connection to
// the WAN host's port of serverV4.
func (l *lab) connMark(t *testing.T, port int) uint32 {
	t.Helper()
	var mark uint32
	found := false
	if err := netnstest.Run(l.router, func() error {
		flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
		for _, f := range flows {
			if int(f.Forward.DstPort) == port && f.Forward.SrcIP.Equal(net.ParseIP(deviceV4)) && f.Forward.DstIP.Equal(net.ParseIP(serverV4)) {
				mark, found = f.Mark, true
			}
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("no conntrack entry for the device's connection to port %d", port)
	}
	return mark
}

// echo sends n bytes and reads them back within two seconds.
func echo(conn net.Conn, n int) error {
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	out := bytes.Repeat([]byte{'e'}, n)
	if _, err := conn.Write(out); err != nil {
		return err
	}
	_, err := io.ReadFull(conn, make([]byte, n))
	return err
}

// logged is what the capture rules passed to NFLOG while traffic ran:
// how often each marker appeared, and the wire length of the largest
// frame holding each.
type logged struct {
	count, longest map[string]int
}

// nflogDuring reads the capture's NFLOG group in the router while traffic
// runs, then sends a sentinel in a new UDP flow from the device: once it
// is read, everything logged before it has been.
func (l *lab) nflogDuring(t *testing.T, c CaptureConfig, traffic func(), markers ...string) logged {
	t.Helper()
	const sentinel = "iotgw-capture-sentinel"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var src *capture.NFLOG
	if err := netnstest.Run(l.router, func() (err error) {
		src, err = capture.OpenNFLOG(ctx, capture.NFLOGConfig{Group: c.Group})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	done := make(chan logged, 1)
	go func() {
		s := logged{count: map[string]int{}, longest: map[string]int{}}
		defer func() { done <- s }()
		for {
			data, info, err := src.ReadPacket()
			if err != nil {
				return
			}
			for _, m := range append(markers, sentinel) {
				if bytes.Contains(data, []byte(m)) {
					s.count[m]++
					s.longest[m] = max(s.longest[m], info.Length)
				}
			}
			if s.count[sentinel] > 0 {
				return
			}
		}
	}()
	traffic()
	l.sendUDP(t, sentinel)
	s := <-done
	if s.count[sentinel] == 0 {
		t.Fatalf("capture: sentinel never logged (%v)", s.count)
	}
	return s
}

// sendUDP sends payload from the device to serverV4's UDP port 443, where
// nothing listens, in a flow of its own: QUIC's port, which an
// updates-only device may use towards an allowed host.
func (l *lab) sendUDP(t *testing.T, payload string) {
	t.Helper()
	if err := netnstest.Send(l.device, "udp", net.JoinHostPort(serverV4, "443"), []byte(payload)); err != nil {
		t.Fatal(err)
	}
}

// expectFirstReplyCaptured checks the capture chain on a connection whose
// server answers at once with more than the byte budget in one write: the
// sender's segmentation offload (or GRO on the way) makes that reply one
// packet larger than the budget, which only the packet-count rule logs.
// The request and that reply must each be logged exactly once, as must
// the first packet of a new UDP flow, and the spent reply direction must
// show in the higher bit of the connection's mark only.
func (l *lab) expectFirstReplyCaptured(t *testing.T, stage string, c CaptureConfig) {
	t.Helper()
	const request, banner, datagram = "iotgw-capture-request", "iotgw-capture-banner", "iotgw-capture-datagram"
	// HTTP's port: an updates-only device may use it towards an allowed
	// host (sendUDP has 443).
	const port = 80
	ln := l.listenWAN(t, port)
	defer ln.Close() // the next stage listens again
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
			return
		}
		_, _ = conn.Write(append([]byte(banner+"\n"), make([]byte, 64<<10)...))
	}()

	s := l.nflogDuring(t, c, func() {
		conn := l.dialWAN(t, port)
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "%s\n", request)
		n, err := io.Copy(io.Discard, conn)
		conn.Close()
		if err != nil || n != int64(len(banner)+1+64<<10) {
			t.Fatalf("%s: download: %d bytes, %v", stage, n, err)
		}
		l.sendUDP(t, datagram)
	}, request, banner, datagram)
	if s.count[request] != 1 || s.count[banner] != 1 || s.count[datagram] != 1 {
		t.Errorf("%s: capture: request logged %d times, first reply %d times, datagram %d times; want once each",
			stage, s.count[request], s.count[banner], s.count[datagram])
	}
	if s.count[banner] > 0 && s.longest[banner] <= int(c.Bytes) {
		t.Errorf("%s: capture: the first reply was %d bytes on the wire, not above the %d-byte budget: this kernel did not merge it, the test proves nothing", stage, s.longest[banner], c.Bytes)
	}
	replyBit := c.replyBit()
	if mark := l.connMark(t, port); mark&c.Mark != replyBit {
		t.Errorf("%s: capture: a download's mark is %#x, want only the reply bit %#x of %#x", stage, mark, replyBit, c.Mark)
	}
	t.Logf("%s: capture: first reply (%d bytes on the wire) logged %d times", stage, s.longest[banner], s.count[banner])
}

// expectMarkedPassesUncaptured checks the first rules of forward: once
// another rule sets the reply bit on an established connection whose
// budget is not spent, its replies are no longer logged and what the
// client sends still is. Only those rules can stop the replies: the
// budget rules would log them.
func (l *lab) expectMarkedPassesUncaptured(t *testing.T, c CaptureConfig, port int) {
	t.Helper()
	const before, after = "iotgw-capture-unmarked", "iotgw-capture-marked"
	replyBit := c.replyBit()
	conn := l.dialEcho(t, port)
	s := l.nflogDuring(t, c, func() {
		if err := echoText(conn, before); err != nil {
			t.Fatal(err)
		}
		defer l.markFromOtherTable(t, fmt.Sprintf("tcp dport %d ct state established", port), replyBit)()
		if err := echoText(conn, after); err != nil {
			t.Fatal(err)
		}
	}, before, after)
	// The echo carries each text once each way.
	if s.count[before] != 2 || s.count[after] != 1 {
		t.Errorf("capture: before the mark logged %d times (want both ways), after it %d times (want the request alone)", s.count[before], s.count[after])
	}
}

// markFromOtherTable has a table of someone else's set bits of the
// connection mark on the router's packets that match (all, if empty),
// after conntrack and before iotgw's rules; it returns what removes it.
func (l *lab) markFromOtherTable(t *testing.T, match string, bits uint32) (remove func()) {
	t.Helper()
	netnstest.CmdIn(t, l.router, "nft", fmt.Sprintf("add table ip other; add chain ip other pre { type filter hook prerouting priority -150; }; add rule ip other pre %s ct mark set ct mark or %#x", match, bits))
	return func() { netnstest.CmdIn(t, l.router, "nft", "delete table ip other") }
}

// echoText sends text and reads it back within two seconds.
func echoText(conn net.Conn, text string) error {
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, text); err != nil {
		return err
	}
	_, err := io.ReadFull(conn, make([]byte, len(text)))
	return err
}

// expectExpectedChildCaptured checks that a connection a conntrack helper
// expected is captured on its own budget: it starts with its parent's
// mark, and the parent here has both bits. An FTP control connection
// (the kernel's ftp helper, assigned as fw4 does) announces a passive
// data connection, whose first bytes must be logged.
func (l *lab) expectExpectedChildCaptured(t *testing.T, c CaptureConfig) {
	t.Helper()
	const marker = "iotgw-capture-ftp-data"
	const dataPort = 20021
	netnstest.CmdIn(t, l.router, "nft", fmt.Sprintf(`add table ip ftph
add ct helper ip ftph ftp { type "ftp" protocol tcp; }
add chain ip ftph pre { type filter hook prerouting priority 0; }
add rule ip ftph pre tcp dport 21 ct helper set "ftp"
add rule ip ftph pre tcp dport 21 ct state established ct mark set ct mark or %#x`, c.Mark))
	defer netnstest.CmdIn(t, l.router, "nft", "delete table ip ftph")

	ctrl, data := l.listenWAN(t, 21), l.listenWAN(t, dataPort)
	go func() {
		conn, err := ctrl.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(conn, "220 ready\r\n")
		if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
			return
		}
		fmt.Fprintf(conn, "227 Entering Passive Mode (%s,%d,%d)\r\n", strings.ReplaceAll(serverV4, ".", ","), dataPort>>8, dataPort&0xff)
		dc, err := data.Accept()
		if err != nil {
			return
		}
		defer dc.Close()
		fmt.Fprintf(dc, "%s\r\n", marker)
	}()

	s := l.nflogDuring(t, c, func() {
		conn := l.dialWAN(t, 21)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(conn)
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("ftp greeting: %v", err)
		}
		fmt.Fprintf(conn, "PASV\r\n")
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatalf("ftp PASV: %v", err)
		}
		if mark := l.connMark(t, 21); mark&c.Mark != c.Mark {
			t.Fatalf("the control connection's mark is %#x, want %#x: the test proves nothing", mark, c.Mark)
		}
		dc := l.dialWAN(t, dataPort)
		dc.SetDeadline(time.Now().Add(5 * time.Second))
		if line, err := bufio.NewReader(dc).ReadString('\n'); err != nil || !strings.Contains(line, marker) {
			t.Fatalf("ftp data: %q, %v", line, err)
		}
		if mark := l.connMark(t, dataPort); mark&c.Mark != c.Mark {
			t.Fatalf("the data connection's mark is %#x, not its parent's %#x: the kernel did not expect it, the test proves nothing", mark, c.Mark)
		}
	}, marker)
	if s.count[marker] != 1 {
		t.Errorf("capture: an expected connection's data logged %d times, want once", s.count[marker])
	}
}

// newBlockedDeviceLab is the lab with the device blocked, the DNS proxy
// and the notice page on the router, and the router's WAN addresses
// among its own.
// labRules is the configuration of the lab router's rules: its
// addresses on both sides, the LAN's prefixes, br0 the LAN interface,
// the notice page and the DNS proxy.
func labRules() Config {
	return Config{
		RouterAddrs:   addrs(routerV4, routerV6, "198.18.0.1", "2001:2::1"),
		LANPrefixes:   []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64")},
		NoticePort:    noticePort,
		DNSProxyPort:  dnsProxyPort,
		LANInterfaces: []string{"br0"},
	}
}

func newBlockedDeviceLab(t *testing.T) *lab {
	t.Helper()
	netnstest.RequireNFTables(t)
	l := newLab(t)
	n, err := NewNFTables(labRules(), WithNetNSFd(netnstest.Fd(t, l.router)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(context.Background(), []Entry{{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: ModeBlock}}); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestSpoofedDNSReachesNoResolver: a quarantined device's DNS reaches the
// proxy only, also when it takes a LAN peer's address and source port
// while the peer talks to the router's resolver. Its query then belongs
// to the peer's conntrack entry, which NAT has seen already, so no
// redirect touches it: the input chain must not let it through to port
// 53, where the router's resolver would look its name up on the internet
// (the answer goes to the peer, but the name has left: a way out one way
// for what the device sends).
func TestSpoofedDNSReachesNoResolver(t *testing.T) {
	l := newBlockedDeviceLab(t)

	// The peer asks the router's resolver from one source port and keeps
	// the socket: its conntrack entry lives on.
	peerConn, err := netnstest.Dial(l.peer, "udp", net.JoinHostPort(routerV4, "53"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer peerConn.Close()
	if got, err := dnsExchange(peerConn); got != "dnsmasq" {
		t.Fatalf("the peer's own query answered by %q (%v), want dnsmasq", got, err)
	}
	peerPort := uint16(peerConn.LocalAddr().(*net.UDPAddr).Port)

	// The device sends its query from the peer's address and port.
	q := new(dns.Msg)
	q.SetQuestion("data-out.attacker.example.", dns.TypeA)
	q.Id = 0xbeef
	wire, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	routerMAC := hwaddr.FromBytes(netnstest.Interface(t, l.router, "br0").HardwareAddr)
	src, dst := netip.MustParseAddr(peerV4), netip.MustParseAddr(routerV4)
	sendFrames(t, l.device, [][]byte{ipv4Frame(routerMAC, deviceMAC, src, dst, unix.IPPROTO_UDP, 7, 0, false,
		udpDatagram(peerPort, 53, string(wire)))})

	// Whoever answered it answers the peer.
	peerConn.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
	buf := make([]byte, 512)
	for {
		nr, err := peerConn.Read(buf)
		if err != nil {
			return // unanswered: dropped
		}
		var r dns.Msg
		if r.Unpack(buf[:nr]) != nil || r.Id != q.Id || len(r.Answer) != 1 {
			continue
		}
		if a, ok := r.Answer[0].(*dns.A); ok && dnsServerNames[a.A.String()] == "dnsmasq" {
			t.Fatal("a quarantined device's query under the peer's address and port reached the router's resolver")
		}
	}
}

// TestForgedInternetSourceUnanswered: a quarantined device's query, or
// connection to the notice page, from an internet address it made up is
// not answered. The answer would go to that address through the WAN,
// from the address the device asked (the router's WAN address here,
// which the ISP lets out): the name the device chose, or the sequence
// number and source port of its SYN in the SYN-ACK (48 bits a packet),
// would reach a host on the internet of its choosing.
func TestForgedInternetSourceUnanswered(t *testing.T) {
	l := newBlockedDeviceLab(t)
	var wanConn net.PacketConn
	if err := netnstest.Run(l.wan, func() (err error) { wanConn, err = net.ListenPacket("udp4", wanV4+":7777"); return err }); err != nil {
		t.Fatal(err)
	}
	defer wanConn.Close()
	var devConn net.PacketConn
	if err := netnstest.Run(l.device, func() (err error) { devConn, err = net.ListenPacket("udp4", deviceV4+":7777"); return err }); err != nil {
		t.Fatal(err)
	}
	defer devConn.Close()

	routerMAC := hwaddr.FromBytes(netnstest.Interface(t, l.router, "br0").HardwareAddr)
	for _, tc := range []struct {
		name     string
		src      string
		to       net.PacketConn
		answered bool
	}{
		{"own address", deviceV4, devConn, true}, // the frames reach the proxy
		{"internet address", wanV4, wanConn, false},
	} {
		q := new(dns.Msg)
		q.SetQuestion("data-out.attacker.example.", dns.TypeA)
		wire, err := q.Pack()
		if err != nil {
			t.Fatal(err)
		}
		src, dst := netip.MustParseAddr(tc.src), netip.MustParseAddr("198.18.0.1")
		sendFrames(t, l.device, [][]byte{ipv4Frame(routerMAC, deviceMAC, src, dst, unix.IPPROTO_UDP, 9, 0, false,
			udpDatagram(7777, 53, string(wire)))})
		tc.to.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
		buf := make([]byte, 512)
		nr, _, err := tc.to.ReadFrom(buf)
		var r dns.Msg
		answered := err == nil && r.Unpack(buf[:nr]) == nil && r.Id == q.Id
		if answered != tc.answered {
			t.Errorf("a query from the device with its %s as source: answered %v, want %v", tc.name, answered, tc.answered)
		}
	}
	for _, tc := range []struct {
		name, src, at string
		answered      bool
	}{
		{"own address", deviceV4, l.device, true}, // redirected to the notice page
		{"internet address", wanV4, l.wan, false},
	} {
		src, dst := netip.MustParseAddr(tc.src), netip.MustParseAddr("198.18.0.1")
		const sport = 43210
		syn := ipv4Frame(routerMAC, deviceMAC, src, dst, unix.IPPROTO_TCP, 11, 0, false, tcpSYN(src, dst, sport, 80))
		answered := sendSeeing(t, l.device, [][]byte{syn}, tc.at, func(f []byte) bool {
			tcp := ipv4Payload(f, unix.IPPROTO_TCP)
			return len(tcp) >= 14 && binary.BigEndian.Uint16(tcp[2:]) == sport && tcp[13]&0x12 == 0x12
		})
		if answered != tc.answered {
			t.Errorf("a SYN to port 80 from the device with its %s as source: SYN-ACK %v, want %v", tc.name, answered, tc.answered)
		}
	}
}
