package quarantine

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// TestRouterAddressesOpenNoPath: the router's own addresses are
// protected, yet a packet naming one of them never legitimately crosses
// the bridge or the forward hook (the router sends or takes it in
// itself). A blocked device and an unprotected LAN peer that cooperate
// must not talk through the bridge by naming the router instead of each
// other, in either direction and whatever the protocol; and a WAN host
// claiming the router's IPv6 address must not reach the blocked device.
// Released, every probe arrives: they can see what they look for. The
// same holds for addresses the router gained after the backend was made
// (a delegated prefix that came late), given to SetRouterAddrs and, as
// the daemon does, to SetProtected.
func TestRouterAddressesOpenNoPath(t *testing.T) {
	netnstest.RequireNFTables(t)
	routers := addrs(routerV4, routerV6, "198.18.0.1", "2001:2::1")
	for _, tt := range []struct {
		name    string
		atStart []netip.Addr
	}{
		{"known_at_start", routers},
		{"learnt_later", routers[:1]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			testRouterAddressesOpenNoPath(t, tt.atStart, routers)
		})
	}
}

func testRouterAddressesOpenNoPath(t *testing.T, atStart, routers []netip.Addr) {
	ctx := context.Background()
	l := newLab(t)
	cfg := Config{
		RouterAddrs:   atStart,
		LANPrefixes:   []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd99::/64")},
		NoticePort:    noticePort,
		DNSProxyPort:  dnsProxyPort,
		LANInterfaces: []string{"br0"},
	}
	n, err := NewNFTables(cfg, WithNetNSFd(netnstest.Fd(t, l.router)))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.SetRouterAddrs(ctx, routers); err != nil {
		t.Fatal(err)
	}
	if err := n.SetProtected(ctx, nil, routers); err != nil {
		t.Fatal(err)
	}
	wanMAC := hwaddr.FromBytes(netnstest.Interface(t, l.router, "wan0").HardwareAddr)
	ip := netip.MustParseAddr
	dev4, dev6, peer4, peer6 := ip(deviceV4), ip(deviceV6), ip(peerV4), ip(peerV6)
	router4, router6, routerGUA := ip(routerV4), ip(routerV6), ip("2001:2::1")
	// The peer's datagrams go from port 5555 to 6666, the device's from
	// 6666 to 5555: answers to the flows the peer's open.
	down := func(marker string) []byte { return udpDatagram(5555, 6666, marker) }
	udp := func(marker string) []byte { return udpDatagram(6666, 5555, marker) }
	probes := []struct {
		name, marker string
		from, to     string // namespaces
		frame        []byte
	}{
		{name: "peer to device, from the router's IPv4 address", marker: "peer-from-router4", from: l.peer, to: l.device,
			frame: ipv4Frame(deviceMAC, peerMAC, router4, dev4, unix.IPPROTO_UDP, 1, 0, false, down("peer-from-router4"))},
		{name: "peer to device, from the router's IPv6 address", marker: "peer-from-router6", from: l.peer, to: l.device,
			frame: ipv6Frame(deviceMAC, peerMAC, router6, dev6, unix.IPPROTO_UDP, down("peer-from-router6"))},
		{name: "device to the peer's MAC, UDP to the router's IPv4 address", marker: "udp-to-router4", from: l.device, to: l.peer,
			frame: ipv4Frame(peerMAC, deviceMAC, dev4, router4, unix.IPPROTO_UDP, 2, 0, false, udp("udp-to-router4"))},
		{name: "device to the peer's MAC, TCP data to the router's IPv4 address", marker: "tcp-to-router4", from: l.device, to: l.peer,
			frame: ipv4Frame(peerMAC, deviceMAC, dev4, router4, unix.IPPROTO_TCP, 3, 0, false, tcpAckWith(dev4, router4, 7000, 7001, "tcp-to-router4"))},
		{name: "device to the peer's MAC, UDP to the router's IPv6 address", marker: "udp-to-router6", from: l.device, to: l.peer,
			frame: ipv6Frame(peerMAC, deviceMAC, dev6, router6, unix.IPPROTO_UDP, udp("udp-to-router6"))},
		{name: "device to the peer's MAC, TCP data to the router's IPv6 address", marker: "tcp-to-router6", from: l.device, to: l.peer,
			frame: ipv6Frame(peerMAC, deviceMAC, dev6, router6, unix.IPPROTO_TCP, tcpAckWith(dev6, router6, 7000, 7001, "tcp-to-router6"))},
		// Routed: in at the WAN port, forged from the router's own
		// addresses (the kernel drops IPv4 ones as martians itself).
		{name: "WAN host to device, from the router's WAN IPv6 address", marker: "wan-from-gua", from: l.wan, to: l.device,
			frame: ipv6Frame(wanMAC, hwaddr.MAC{}, routerGUA, dev6, unix.IPPROTO_UDP, down("wan-from-gua"))},
		{name: "WAN host to device, from the router's LAN IPv6 address", marker: "wan-from-lan6", from: l.wan, to: l.device,
			frame: ipv6Frame(wanMAC, hwaddr.MAC{}, router6, dev6, unix.IPPROTO_UDP, down("wan-from-lan6"))},
	}
	// The WAN host's own MAC as the source, so that the router takes the
	// frame as any other from there.
	wanHostMAC := hwaddr.FromBytes(netnstest.Interface(t, l.wan, "eth0").HardwareAddr)
	for _, p := range probes {
		if p.from == l.wan {
			copy(p.frame[6:12], wanHostMAC[:])
		}
	}
	arrives := func(from, to string, frame []byte, marker string) bool {
		return sendSeeing(t, from, [][]byte{frame}, to, func(f []byte) bool { return strings.Contains(string(f), marker) })
	}
	// Peers talking straight to each other stay cut: the probes' ground.
	direct := ipv4Frame(peerMAC, deviceMAC, dev4, peer4, unix.IPPROTO_UDP, 9, 0, false, udp("direct"))
	direct6 := ipv6Frame(peerMAC, deviceMAC, dev6, peer6, unix.IPPROTO_UDP, udp("direct6"))

	if err := n.Quarantine(ctx, Entry{MAC: deviceMAC, Addrs: addrs(deviceV4, deviceV6), Mode: ModeBlock}); err != nil {
		t.Fatal(err)
	}
	if arrives(l.device, l.peer, direct, "direct") || arrives(l.device, l.peer, direct6, "direct6") {
		t.Fatal("blocked: the device reaches the peer directly")
	}
	for _, p := range probes {
		if arrives(p.from, p.to, p.frame, p.marker) {
			t.Errorf("blocked: %s: arrived", p.name)
		}
	}
	if err := n.Release(ctx, deviceMAC); err != nil {
		t.Fatal(err)
	}
	for _, p := range probes {
		if !arrives(p.from, p.to, p.frame, p.marker) {
			t.Errorf("released: %s: did not arrive", p.name)
		}
	}
}

// TestKernelLostRouterAddress: an address the router loses leaves the
// kernel's protected sets with SetRouterAddrs alone, in both tables: the
// SetProtected that follows may fail, and meanwhile the bridge, no longer
// keeping it out as the router's, would hold it.
func TestKernelLostRouterAddress(t *testing.T) {
	ctx := context.Background()
	n, ns := kernelSetup(t, testCfg)
	if err := n.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	lost := netip.MustParseAddr("2001:db8:50::1")
	gained := append(slices.Clone(testCfg.RouterAddrs), lost)
	if err := n.SetRouterAddrs(ctx, gained); err != nil {
		t.Fatal(err)
	}
	if err := n.SetProtected(ctx, nil, gained); err != nil {
		t.Fatal(err)
	}
	if err := n.SetRouterAddrs(ctx, testCfg.RouterAddrs); err != nil {
		t.Fatal(err)
	}
	for _, family := range []string{"inet", "bridge"} {
		if out := netnstest.CmdIn(t, ns, "nft", "list", "set", family, "iotgw", "protected_v6"); strings.Contains(out, lost.String()) {
			t.Errorf("%s protected_v6 holds %s, which the router lost:\n%s", family, lost, out)
		}
	}
}
