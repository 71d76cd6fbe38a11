package quarantine

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/internal/netnstest"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// A quarantined device's open connections are cut: the flush removes the
// conntrack entries its address originated or answers, and no others.
func TestFlushConntrack(t *testing.T) {
	netnstest.RequireNFTables(t)
	ns := netnstest.New(t, "iotgwq", "ct")
	// A rule that uses conntrack makes the namespace track connections.
	netnstest.CmdIn(t, ns, "nft", "add table ip t; add chain ip t out { type filter hook output priority 0; }; add rule ip t out ct state new counter")
	netnstest.CmdIn(t, ns, "ip", "addr", "add", "127.0.0.2/8", "dev", "lo")
	netnstest.CmdIn(t, ns, "ip", "addr", "add", "127.0.0.3/8", "dev", "lo")
	netnstest.CmdIn(t, ns, "ip", "addr", "add", "127.0.0.4/8", "dev", "lo")
	sendUDP(t, ns, "127.0.0.2", "127.0.0.9") // the device's own
	sendUDP(t, ns, "127.0.0.3", "127.0.0.9") // another device's
	sendUDP(t, ns, "127.0.0.4", "127.0.0.2") // to the device (a port forward, a LAN peer)
	count := func(src string) int { return tracked(t, ns, src) }
	if count("127.0.0.2") == 0 || count("127.0.0.3") == 0 || count("127.0.0.4") == 0 {
		t.Fatalf("no conntrack entries to flush (127.0.0.2: %d, 127.0.0.3: %d, 127.0.0.4: %d)", count("127.0.0.2"), count("127.0.0.3"), count("127.0.0.4"))
	}
	var deleted uint
	err := netnstest.Run(ns, func() error {
		var err error
		deleted, err = FlushConntrack([]netip.Addr{netip.MustParseAddr("127.0.0.2")})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 2 || count("127.0.0.2") != 0 || count("127.0.0.4") != 0 || count("127.0.0.3") == 0 {
		t.Errorf("deleted %d; left 127.0.0.2: %d, 127.0.0.4: %d, 127.0.0.3: %d", deleted, count("127.0.0.2"), count("127.0.0.4"), count("127.0.0.3"))
	}
}

// connectionsToCut picks what a change of entries ends: every connection
// of a device newly quarantined (a rebuilt table: all of them) or put in
// another mode, by address and by MAC; of a device kept in its mode only
// those of its new addresses. Protected addresses never.
func TestConnectionsToCut(t *testing.T) {
	a1, a2, a3 := netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("192.168.1.11"), netip.MustParseAddr("fd00::10")
	m1, m2 := hwaddr.MAC{2, 0, 0, 0, 0, 1}, hwaddr.MAC{2, 0, 0, 0, 0, 2}
	block := func(as ...netip.Addr) Entry { return Entry{Addrs: as, Mode: ModeBlock} }
	for _, tc := range []struct {
		name          string
		before, after map[hwaddr.MAC]Entry
		addrs         []netip.Addr
		macs          []hwaddr.MAC
	}{
		{"unchanged", map[hwaddr.MAC]Entry{m1: block(a1)}, map[hwaddr.MAC]Entry{m1: block(a1)}, nil, nil},
		{"rebuilt", nil, map[hwaddr.MAC]Entry{m1: block(a1), m2: block(a2)}, []netip.Addr{a1, a2}, []hwaddr.MAC{m1, m2}},
		{"new address", map[hwaddr.MAC]Entry{m1: block(a1)}, map[hwaddr.MAC]Entry{m1: block(a1, a3)}, []netip.Addr{a3}, nil},
		{"address gone", map[hwaddr.MAC]Entry{m1: block(a1, a3)}, map[hwaddr.MAC]Entry{m1: block(a1)}, nil, nil},
		{"another mode", map[hwaddr.MAC]Entry{m1: block(a1)}, map[hwaddr.MAC]Entry{m1: {Addrs: []netip.Addr{a1}, Mode: ModeUpdatesOnly}}, []netip.Addr{a1}, []hwaddr.MAC{m1}},
		{"released", map[hwaddr.MAC]Entry{m1: block(a1)}, map[hwaddr.MAC]Entry{}, nil, nil},
		{"moved to another device", map[hwaddr.MAC]Entry{m1: block(a1)}, map[hwaddr.MAC]Entry{m2: block(a1)}, []netip.Addr{a1}, []hwaddr.MAC{m2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newState()
			s.protectedAddrs[a2] = true
			n := &NFTables{cfg: testCfg}
			got := n.connectionsToCut(s, tc.before, tc.after)
			slices.SortFunc(got.addrs, func(a, b netip.Addr) int { return a.Compare(b) })
			slices.SortFunc(got.macs, func(a, b hwaddr.MAC) int { return bytes.Compare(a[:], b[:]) })
			if !slices.Equal(got.addrs, tc.addrs) || !slices.Equal(got.macs, tc.macs) {
				t.Errorf("addresses %v, MACs %v; want %v, %v", got.addrs, got.macs, tc.addrs, tc.macs)
			}
			for a, want := range map[netip.Addr]bool{a1: false, a2: true, netip.MustParseAddr("10.99.0.1"): true} {
				if got.protected(a) != want {
					t.Errorf("protected(%s) = %v, want %v", a, !want, want)
				}
			}
		})
	}
}

// TestRedirectedFilters: a release deletes the device's DNS, wherever it
// asked and whichever router address answered it, and what a router
// address answered; not its other connections.
func TestRedirectedFilters(t *testing.T) {
	device := []netip.Addr{netip.MustParseAddr("10.99.0.10"), netip.MustParseAddr("fd99::10")}
	router := []netip.Addr{netip.MustParseAddr("10.99.0.1")} // the IPv6 one not named
	filters, err := redirectedFilters(device, router)
	if err != nil {
		t.Fatal(err)
	}
	flow := func(proto uint8, src, dst, replySrc string, dport uint16) *netlink.ConntrackFlow {
		f := &netlink.ConntrackFlow{}
		f.Forward.Protocol, f.Forward.SrcIP, f.Forward.DstIP, f.Forward.DstPort = proto, net.ParseIP(src), net.ParseIP(dst), dport
		f.Reverse.Protocol, f.Reverse.SrcIP, f.Reverse.DstIP = proto, net.ParseIP(replySrc), net.ParseIP(src)
		return f
	}
	matches := func(f *netlink.ConntrackFlow) bool {
		family := netlink.InetFamily(unix.AF_INET)
		if f.Forward.SrcIP.To4() == nil {
			family = unix.AF_INET6
		}
		return slices.ContainsFunc(filters[family], func(c netlink.CustomConntrackFilter) bool { return c.MatchConntrackFlow(f) })
	}
	for _, tc := range []struct {
		name string
		flow *netlink.ConntrackFlow
		want bool
	}{
		{"dns_to_a_public_resolver_redirected", flow(unix.IPPROTO_UDP, "10.99.0.10", "198.18.0.53", "10.99.0.1", 53), true},
		{"dns_over_ipv6_to_an_unnamed_router_address", flow(unix.IPPROTO_UDP, "fd99::10", "fd99::1", "fd99::1", 53), true},
		{"dns_over_tcp", flow(unix.IPPROTO_TCP, "10.99.0.10", "10.99.0.1", "10.99.0.1", 53), true},
		{"http_to_the_notice_page", flow(unix.IPPROTO_TCP, "10.99.0.10", "198.18.0.2", "10.99.0.1", 80), true},
		{"https_to_the_internet", flow(unix.IPPROTO_TCP, "10.99.0.10", "198.18.0.2", "198.18.0.2", 443), false},
		{"another_devices_dns", flow(unix.IPPROTO_UDP, "10.99.0.11", "10.99.0.1", "10.99.0.1", 53), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := matches(tc.flow); got != tc.want {
				t.Errorf("deleted %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRebuiltTablesCutConnections: a connection a quarantined device
// opened while iotgw's tables were gone (`service firewall restart`
// deletes every table) is cut when Reconcile rebuilds them: the
// established-connection accept would keep it going.
func TestRebuiltTablesCutConnections(t *testing.T) {
	ctx := context.Background()
	n, ns := kernelSetup(t, testCfg)
	entries := kernelEntries()
	if err := n.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	netnstest.CmdIn(t, ns, "nft", "delete", "table", "inet", "iotgw")
	netnstest.CmdIn(t, ns, "nft", "delete", "table", "bridge", "iotgw")
	// A rule that uses conntrack makes the namespace track the device's
	// connection, opened from its address while nothing held it.
	netnstest.CmdIn(t, ns, "nft", "add table ip t; add chain ip t out { type filter hook output priority 0; }; add rule ip t out ct state new counter")
	netnstest.CmdIn(t, ns, "ip", "addr", "add", "10.99.0.10/32", "dev", "lo")
	netnstest.CmdIn(t, ns, "ip", "link", "set", "lo", "up")
	sendUDP(t, ns, "10.99.0.10", "10.99.0.10")
	if tracked(t, ns, "10.99.0.10") == 0 {
		t.Fatal("the device's connection is not tracked")
	}
	if err := n.Reconcile(ctx, entries); err != nil {
		t.Fatal(err)
	}
	if got := tracked(t, ns, "10.99.0.10"); got != 0 {
		t.Errorf("%d connections of the device left after the rebuild", got)
	}
}

// TestNeighbourConnectionsCut: Quarantine and Reconcile cut the
// connections of every address the neighbour tables hold for a newly
// quarantined MAC, also those its entry does not name (an IPv6 privacy
// address not learnt yet; flow offloading would carry them past any
// rule), but not of a protected address the device claims.
func TestNeighbourConnectionsCut(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		apply func(n *NFTables, e Entry) error
	}{
		{"quarantine", func(n *NFTables, e Entry) error { return n.Quarantine(ctx, e) }},
		{"reconcile", func(n *NFTables, e Entry) error { return n.Reconcile(ctx, []Entry{e}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, ns := kernelSetup(t, testCfg)
			const unnamed, claimed, other = "10.99.0.77", "10.99.0.78", "10.99.0.79"
			if err := n.SetProtected(ctx, nil, addrs(claimed)); err != nil {
				t.Fatal(err)
			}
			netnstest.CmdIn(t, ns, "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan1")
			netnstest.CmdIn(t, ns, "ip", "link", "set", "lan0", "up")
			netnstest.CmdIn(t, ns, "ip", "link", "set", "lo", "up")
			netnstest.CmdIn(t, ns, "nft", "add table ip t; add chain ip t out { type filter hook output priority 0; }; add rule ip t out ct state new counter")
			for _, a := range []string{unnamed, claimed, other} {
				mac := camera
				if a == other {
					mac = plug
				}
				netnstest.CmdIn(t, ns, "ip", "neigh", "add", a, "lladdr", mac.String(), "dev", "lan0", "nud", "permanent")
				netnstest.CmdIn(t, ns, "ip", "addr", "add", a+"/32", "dev", "lo")
				sendUDP(t, ns, a, a)
				if tracked(t, ns, a) == 0 {
					t.Fatalf("%s's connection is not tracked", a)
				}
			}
			if err := tc.apply(n, Entry{MAC: camera, Addrs: addrs("10.99.0.10"), Mode: ModeBlock}); err != nil {
				t.Fatal(err)
			}
			for a, want := range map[string]bool{unnamed: false, claimed: true, other: true} {
				if got := tracked(t, ns, a) > 0; got != want {
					t.Errorf("%s's connection left: %v, want %v", a, got, want)
				}
			}
			// The same quarantine again, with an address more: what met
			// the rules since stays.
			sendUDP(t, ns, unnamed, unnamed)
			if err := tc.apply(n, Entry{MAC: camera, Addrs: addrs("10.99.0.10", "10.99.0.13"), Mode: ModeBlock}); err != nil {
				t.Fatal(err)
			}
			if tracked(t, ns, unnamed) == 0 {
				t.Errorf("re-applying the quarantine in its mode cut %s's connection again", unnamed)
			}
		})
	}
}

// TestReleaseFlushesRedirectedDNS: a released device's DNS flow (what the
// redirect to the DNS proxy left, which a resolver asking from a fixed
// port keeps alive) is deleted however the release comes: before the
// entry runs out; after the kernel timed it out (the daemon releases an
// expired quarantine only then), when the last batch's state still names
// its addresses; and after another change since, when only the caller's
// addresses do.
func TestReleaseFlushesRedirectedDNS(t *testing.T) {
	const device = "10.99.0.10"
	for _, tc := range []struct {
		name          string
		runOut        bool
		changeBetween bool
		callerAddrs   []netip.Addr
	}{
		{name: "before_it_runs_out"},
		{name: "after_it_ran_out", runOut: true},
		{name: "after_it_ran_out_and_another_change", runOut: true, changeBetween: true, callerAddrs: addrs(device)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := testCfg
			cfg.DNSProxyPort = 5354
			n, ns := kernelSetup(t, cfg)
			// A rule that uses conntrack makes the namespace track
			// connections; the device's address is the namespace's own.
			netnstest.CmdIn(t, ns, "nft", "add table ip t; add chain ip t out { type filter hook output priority 0; }; add rule ip t out ct state new counter")
			netnstest.CmdIn(t, ns, "ip", "link", "set", "lo", "up")
			netnstest.CmdIn(t, ns, "ip", "addr", "add", device+"/32", "dev", "lo")
			const term = 1200 * time.Millisecond
			if err := n.Quarantine(ctx, Entry{MAC: camera, Addrs: addrs(device), Mode: ModeBlock, Expires: time.Now().Add(term)}); err != nil {
				t.Fatal(err)
			}
			sendUDPFrom(t, ns, device, 40053, device, 53)
			if trackedTo(t, ns, device, 53) == 0 {
				t.Fatal("the device's DNS query is not tracked")
			}
			if tc.runOut {
				time.Sleep(term + 300*time.Millisecond)
			}
			if tc.changeBetween {
				if err := n.Quarantine(ctx, Entry{MAC: otherMAC, Mode: ModeBlock}); err != nil {
					t.Fatal(err)
				}
			}
			if err := n.Release(ctx, camera, tc.callerAddrs...); err != nil {
				t.Fatal(err)
			}
			if got := trackedTo(t, ns, device, 53); got != 0 {
				t.Errorf("%d DNS flows of the released device left", got)
			}
		})
	}
}

// sendUDP sends one datagram in namespace ns from src to dst, port 9999.
func sendUDP(t *testing.T, ns, src, dst string) { sendUDPFrom(t, ns, src, 0, dst, 9999) }

// sendUDPFrom sends one datagram in namespace ns from src:sport (0: any
// port) to dst:dport.
func sendUDPFrom(t *testing.T, ns, src string, sport int, dst string, dport int) {
	t.Helper()
	err := netnstest.Run(ns, func() error {
		c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(src), Port: sport}, &net.UDPAddr{IP: net.ParseIP(dst), Port: dport})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("x"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tracked counts ns's conntrack entries from src to port 9999.
func tracked(t *testing.T, ns, src string) int { return trackedTo(t, ns, src, 9999) }

// trackedTo counts ns's conntrack entries from src to port dport.
func trackedTo(t *testing.T, ns, src string, dport uint16) int {
	t.Helper()
	n := 0
	err := netnstest.Run(ns, func() error {
		flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
		for _, f := range flows {
			if f.Forward.SrcIP.Equal(net.ParseIP(src)) && f.Forward.DstPort == dport {
				n++
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
