package quarantine

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// A resolver on the LAN itself (a Pi-hole or AdGuard Home, which DHCP
// often hands out): its DNS server answers every A query with
// 192.0.2.4 ("lan-resolver" in dnsServerNames).
const (
	lanResolverV4, lanResolverV6 = "10.99.0.53", "fd99::53"
	// lanResolverLL is its link-local address, as a device asks it
	// (a resolver learnt from a router advert's RDNSS option may be one).
	lanResolverLL = "fe80::53%eth0"
)

var lanResolverMAC = mustMAC("02:00:00:00:00:53")

// addLANResolver plugs a resolver into the lab's LAN and returns its
// namespace: DNS over UDP and TCP on port 53, a server on port 853 (TCP
// named "lan-dot", UDP echo: DNS over TLS and over QUIC), its web page on
// 443 ("lan-resolver") and an echo on 5353 (mDNS's port).
func (l *lab) addLANResolver(t *testing.T) string {
	t.Helper()
	ns := netnstest.New(t, "iotgwq", "resolver")
	netnstest.NoDAD(t, ns)
	netnstest.BridgeHost(t, l.router, "br0", netnstest.LANHost{
		NS: ns, Port: "lan53", MAC: lanResolverMAC.String(), V4: lanResolverV4 + "/24", V6: lanResolverV6 + "/64",
	}, routerV4, routerV6)
	netnstest.Cmd(t, "ip", "-n", ns, "addr", "add", "fe80::53/64", "dev", "eth0", "nodad")
	netnstest.ServeDNS(t, ns, "[::]:53", "192.0.2.4", nil)
	netnstest.ServeName(t, ns, "[::]:853", "lan-dot", nil)
	netnstest.ServeName(t, ns, "[::]:443", "lan-resolver", nil)
	l.serveUDP(t, ns, "[::]:853")
	l.serveUDP(t, ns, "[::]:5353")
	start := time.Now()
	for _, to := range []string{lanResolverV4, lanResolverV6, lanResolverLL} {
		for {
			if _, err := tcp(l.device, to, 443); err == nil {
				break
			} else if time.Since(start) > 10*time.Second {
				t.Fatalf("LAN resolver not reachable at %s: %v", to, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return ns
}

// taggedQueryAnswered sends the LAN resolver, from the device, a DNS
// query behind one VLAN tag or two (priority tags, which the resolver's
// kernel takes off), and reports whether its answer came back.
func (l *lab) taggedQueryAnswered(t *testing.T, tags int, sport uint16) bool {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("probe.example.test.", dns.TypeA)
	msg, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	src, dst := netip.MustParseAddr(deviceV4), netip.MustParseAddr(lanResolverV4)
	frame := ipv4Frame(lanResolverMAC, deviceMAC, src, dst, unix.IPPROTO_UDP, sport, 0, false, udpDatagram(sport, 53, string(msg)))
	for range tags {
		out := append([]byte(nil), frame[:12]...)
		out = append(out, 0x81, 0x00, 0, 0)
		frame = append(out, frame[12:]...)
	}
	return sendSeeing(t, l.device, [][]byte{frame}, l.device, func(f []byte) bool {
		udp := ipv4Payload(f, unix.IPPROTO_UDP)
		return len(udp) >= 8 && binary.BigEndian.Uint16(udp[0:]) == 53 && binary.BigEndian.Uint16(udp[2:]) == sport
	})
}

// renewedMAC is a MAC the device takes in place of its quarantined one,
// keeping its addresses.
var renewedMAC = mustMAC("02:00:00:00:00:77")

// queryFromAnswered sends the LAN resolver, from the device's namespace,
// a DNS query over UDP from srcMAC and the address src (the resolver's
// address of src's family), and reports whether its answer came back.
func (l *lab) queryFromAnswered(t *testing.T, srcMAC hwaddr.MAC, src netip.Addr, sport uint16) bool {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("probe.example.test.", dns.TypeA)
	msg, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	dst := netip.MustParseAddr(lanResolverV4)
	if src.Is6() {
		dst = netip.MustParseAddr(lanResolverV6)
	}
	frame := ipFrame(lanResolverMAC, srcMAC, src, dst, unix.IPPROTO_UDP, sport, udpSummed(src, dst, sport, 53, string(msg)))
	return sendSeeing(t, l.device, [][]byte{frame}, l.device, func(f []byte) bool {
		udp := transport(f, unix.IPPROTO_UDP)
		return len(udp) >= 8 && binary.BigEndian.Uint16(udp[0:]) == 53 && binary.BigEndian.Uint16(udp[2:]) == sport
	})
}

// lanResolverChecks asks the LAN resolver from ns over UDP and TCP,
// IPv4, IPv6 and link-local, wanting the answer from want ("" for
// none); and DNS over TLS (TCP 853, "lan-dot" or "") and over QUIC (UDP
// 853, "echo" or "").
func lanResolverChecks(from, want, dot, doq string) []check {
	var checks []check
	for _, to := range []string{lanResolverV4, lanResolverV6, lanResolverLL} {
		checks = append(checks,
			check{from: from, to: to, port: 53, dns: true, udp: true, want: want},
			check{from: from, to: to, port: 53, dns: true, want: want})
	}
	return append(checks,
		check{from: from, to: lanResolverV4, port: 853, want: dot},
		check{from: from, to: lanResolverV6, port: 853, want: dot},
		check{from: from, to: lanResolverV4, port: 853, udp: true, want: doq},
		check{from: from, to: lanResolverV6, port: 853, udp: true, want: doq})
}

// TestIsolateLANResolver: an isolate device reaches its LAN peers but
// not a resolver among them, which would look any name up on the
// internet for it (the DNS tunnel that the redirect to the DNS proxy
// closes on the router). Its other traffic to that host passes (the web
// page, mDNS's port), other devices and the router keep their resolver,
// and what the probes look for comes through once the device is
// released.
func TestIsolateLANResolver(t *testing.T) {
	netnstest.RequireNFTables(t)
	ctx := context.Background()
	l := newLab(t)
	res := l.addLANResolver(t)
	// wan0 stands in for a second LAN segment (a guest bridge), routed,
	// and wanOtherV4 for a resolver there.
	netnstest.ServeName(t, l.wan, "[::]:853", "segment-dot", nil)
	l.serveUDP(t, l.wan, wanOtherV4+":853")
	cfg := Config{
		RouterAddrs: addrs(routerV4, routerV6, "198.18.0.1", "2001:2::1"),
		LANPrefixes: []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64"),
			netip.MustParsePrefix(wanOtherV4 + "/32")},
		NoticePort:    noticePort,
		DNSProxyPort:  dnsProxyPort,
		LANInterfaces: []string{"br0", "wan0"},
	}
	n, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, l.router)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	d, p, r := l.device, l.peer, l.router
	others := []check{
		{from: d, to: lanResolverV4, port: 443, want: "lan-resolver"},
		{from: d, to: lanResolverV6, port: 443, want: "lan-resolver"},
		{from: d, to: lanResolverV4, port: 5353, udp: true, want: "echo"},
		{from: d, to: lanResolverV6, port: 5353, udp: true, want: "echo"},
		{from: d, to: peerV4, port: 443, want: "peer"},
		{from: d, to: peerV4, port: 5000, udp: true, want: "echo"},
		{from: p, to: deviceV4, port: 443, want: "device"},
		// The router's own queries never cross the bridge.
		{from: r, to: lanResolverV4, port: 53, dns: true, udp: true, want: "lan-resolver"},
		{from: r, to: lanResolverV6, port: 53, dns: true, want: "lan-resolver"},
	}
	others = append(others, lanResolverChecks(p, "lan-resolver", "lan-dot", "echo")...)
	others = append(others, check{from: d, to: wanOtherV4, port: 443, want: "wan"})
	free := append(lanResolverChecks(d, "lan-resolver", "lan-dot", "echo"), others...)
	free = append(free,
		check{from: d, to: wanOtherV4, port: 853, want: "segment-dot"},
		check{from: d, to: wanOtherV4, port: 853, udp: true, want: "echo"})
	probes := func(stage string, want bool) {
		t.Helper()
		for tags := 1; tags <= 2; tags++ {
			if got := l.taggedQueryAnswered(t, tags, uint16(43000+tags)); got != want {
				t.Errorf("%s: a query behind %d VLAN tag(s) answered %v, want %v", stage, tags, got, want)
			}
		}
		// A new MAC does not shed the isolate addresses the device
		// keeps: the address sets hold it, as on the router.
		for i, src := range []string{deviceV4, deviceV6} {
			if got := l.queryFromAnswered(t, renewedMAC, netip.MustParseAddr(src), uint16(43010+i)); got != want {
				t.Errorf("%s: a query from %s and a new MAC answered %v, want %v", stage, src, got, want)
			}
		}
	}
	l.expect(t, "free", free)
	probes("free", true)

	device := Entry{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: ModeIsolate}
	if err := n.Quarantine(ctx, device); err != nil {
		t.Fatal(err)
	}
	isolated := append(lanResolverChecks(d, "", "", ""), others...)
	isolated = append(isolated,
		check{from: d, to: routerV4, port: 53, dns: true, udp: true, want: "proxy"},
		check{from: d, to: routerV6, port: 53, dns: true, want: "proxy"},
		// Routed to another LAN segment, DNS is redirected to the
		// proxy, and DNS over TLS and QUIC is dropped.
		check{from: d, to: wanOtherV4, port: 53, dns: true, udp: true, want: "proxy"},
		check{from: d, to: wanOtherV4, port: 853, want: ""},
		check{from: d, to: wanOtherV4, port: 853, udp: true, want: ""})
	l.expect(t, "isolate", isolated)
	probes("isolate", false)

	// The owner's resolver is no exception: trusted (protected by MAC),
	// the device's queries still do not reach it, though the owner's
	// frames to the device pass as before.
	if err := n.SetProtected(ctx, []hwaddr.MAC{lanResolverMAC}, nil); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "isolate, resolver protected", append(lanResolverChecks(d, "", "", ""),
		check{from: res, to: deviceV4, port: 443, want: "device"}))
	if err := n.SetProtected(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}

	if err := n.Release(ctx, deviceMAC); err != nil {
		t.Fatal(err)
	}
	l.expect(t, "released", free)
	probes("released", true)
	if _, err := n.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
}
