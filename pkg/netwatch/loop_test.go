package netwatch

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

func TestNeighbourFilter(t *testing.T) {
	with := func(f func(*kernelUpdate)) kernelUpdate {
		u := neigh(camMAC, camIP)
		f(&u)
		return u
	}
	tests := []struct {
		name   string
		update kernelUpdate
		want   bool
	}{
		{"reachable_ipv4", neigh(camMAC, camIP), true},
		{"reachable_ipv6_link_local", neigh(camMAC, netip.MustParseAddr("fe80::212:34ff:fe56:789a")), true},
		{"stale", with(func(u *kernelUpdate) { u.state = unix.NUD_STALE }), true},
		{"delay", with(func(u *kernelUpdate) { u.state = unix.NUD_DELAY }), true},
		{"probe", with(func(u *kernelUpdate) { u.state = unix.NUD_PROBE }), true},
		{"permanent", with(func(u *kernelUpdate) { u.state = unix.NUD_PERMANENT }), true},
		{"incomplete_no_mac", with(func(u *kernelUpdate) { u.state = unix.NUD_INCOMPLETE; u.hasMAC = false; u.mac = hwaddr.Zero }), false},
		{"failed_with_old_mac", with(func(u *kernelUpdate) { u.state = unix.NUD_FAILED }), false},
		{"noarp", with(func(u *kernelUpdate) { u.state = unix.NUD_NOARP }), false},
		{"none", with(func(u *kernelUpdate) { u.state = unix.NUD_NONE }), false},
		{"state_bits_combined", with(func(u *kernelUpdate) { u.state = unix.NUD_REACHABLE | unix.NUD_NOARP }), false},
		{"reachable_without_mac", with(func(u *kernelUpdate) { u.hasMAC = false; u.mac = hwaddr.Zero }), false},
		{"zero_mac", with(func(u *kernelUpdate) { u.mac = hwaddr.Zero }), false},
		{"broadcast_mac", with(func(u *kernelUpdate) { u.mac = hwaddr.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }), false},
		{"multicast_mac", with(func(u *kernelUpdate) { u.mac = hwaddr.MAC{0x01, 0x00, 0x5e, 0, 0, 0xfb} }), false},
		{"multicast_ipv4", with(func(u *kernelUpdate) { u.ip = netip.MustParseAddr("224.0.0.251") }), false},
		{"multicast_ipv6", with(func(u *kernelUpdate) { u.ip = netip.MustParseAddr("ff02::fb") }), false},
		{"limited_broadcast", with(func(u *kernelUpdate) { u.ip = netip.MustParseAddr("255.255.255.255") }), false},
		{"subnet_broadcast", with(func(u *kernelUpdate) { u.ip = netip.MustParseAddr("10.97.0.255") }), false},
		{"subnet_network", with(func(u *kernelUpdate) { u.ip = netip.MustParseAddr("10.97.0.0") }), false},
		{"unspecified", with(func(u *kernelUpdate) { u.ip = netip.IPv4Unspecified() }), false},
		{"no_ip", with(func(u *kernelUpdate) { u.ip = netip.Addr{} }), false},
		{"routers_own_ip", with(func(u *kernelUpdate) { u.ip = routerIP }), false},
		{"routers_own_mac", with(func(u *kernelUpdate) { u.mac = routerMAC }), false},
		{"routers_wan_mac", with(func(u *kernelUpdate) { u.mac = wanMAC }), false},
		{"wan_interface", with(func(u *kernelUpdate) { u.index, u.iface = wanIndex, "wan" }), false},
		{"unknown_interface", with(func(u *kernelUpdate) { u.index, u.iface = 99, "" }), false},
		{"bridge_fdb_entry", with(func(u *kernelUpdate) { u.family = unix.AF_BRIDGE }), false},
		{"proxy_entry", with(func(u *kernelUpdate) { u.flags = unix.NTF_PROXY }), false},
		{"deleted", with(func(u *kernelUpdate) { u.deleted = true }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _, out := testLoop(t, Config{}, 8)
			l.handle(tt.update)
			evs := drain(out)
			if got := len(evs) == 1; got != tt.want || len(evs) > 1 {
				t.Fatalf("events %+v, want reported=%v", evs, tt.want)
			}
			if !tt.want {
				if l.devices.len() != 0 {
					t.Errorf("filtered entry is tracked")
				}
				return
			}
			ev := evs[0].(NeighborSeen)
			if ev.MAC != tt.update.mac || ev.IP != tt.update.ip || ev.Iface != "br-lan" {
				t.Errorf("got %+v", ev)
			}
		})
	}
}

func TestNeighbourDedup(t *testing.T) {
	l, _, out := testLoop(t, Config{}, 16)
	u := neigh(camMAC, camIP)
	l.handle(u)
	l.handle(u)
	u.state = unix.NUD_STALE
	l.handle(u)
	u.state = unix.NUD_DELAY
	l.handle(u)
	if evs := drain(out); len(evs) != 1 || evs[0].(NeighborSeen).State != StateReachable {
		t.Fatalf("repeated updates of one binding: %+v, want one reachable", evs)
	}

	v6 := neigh(camMAC, netip.MustParseAddr("fd00::10"))
	l.handle(v6)
	if evs := drain(out); len(evs) != 1 || evs[0].(NeighborSeen).IP != v6.ip {
		t.Fatalf("second address: %+v", evs)
	}

	// The kernel's deletion names no MAC: the entry has failed first.
	del := u
	del.deleted, del.state, del.hasMAC, del.mac = true, unix.NUD_FAILED, false, hwaddr.Zero
	l.handle(del)
	l.handle(neigh(camMAC, camIP))
	if evs := drain(out); len(evs) != 1 {
		t.Fatalf("binding deleted and made again: %+v, want it reported", evs)
	}

	moved := neigh(camMAC, camIP)
	moved.index, moved.iface = 7, "br-guest"
	l2, _, out2 := testLoop(t, Config{Interfaces: []string{"br-lan", "br-guest"}}, 16)
	l2.handle(neigh(camMAC, camIP))
	l2.handle(moved)
	l2.handle(moved)
	if evs := drain(out2); len(evs) != 2 || evs[1].(NeighborSeen).Iface != "br-guest" {
		t.Fatalf("binding moved to another interface: %+v", evs)
	}
}

func TestNeighbourBindingsCapped(t *testing.T) {
	l, _, out := testLoop(t, Config{}, 64)
	ip := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 97, 0, byte(100 + i)}) }
	for i := range maxBindings + 1 {
		l.handle(neigh(camMAC, ip(i)))
	}
	if n := len(drain(out)); n != maxBindings+1 {
		t.Fatalf("%d events, want %d", n, maxBindings+1)
	}
	// The oldest binding was forgotten; the newest are remembered.
	l.handle(neigh(camMAC, ip(0)))
	l.handle(neigh(camMAC, ip(maxBindings)))
	if evs := drain(out); len(evs) != 1 || evs[0].(NeighborSeen).IP != ip(0) {
		t.Fatalf("after the cap: %+v, want only the forgotten one again", evs)
	}
}

func TestEvidenceTime(t *testing.T) {
	l, clk, out := testLoop(t, Config{}, 8)
	now := clk.Now()
	tests := []struct {
		name       string
		state      uint16
		conf, upd  time.Duration
		wantBefore time.Duration
	}{
		{"reachable_confirmed_now", unix.NUD_REACHABLE, 0, 0, 0},
		{"stale_after_reachable", unix.NUD_STALE, 40 * time.Second, 10 * time.Second, 10 * time.Second},
		// An ARP request from the device makes a stale entry that was
		// never confirmed: the change of state is the sign of life.
		{"stale_from_arp_request", unix.NUD_STALE, time.Hour, 0, 0},
		{"delay_counts_only_confirmation", unix.NUD_DELAY, 5 * time.Minute, 0, 5 * time.Minute},
		{"probe_counts_only_confirmation", unix.NUD_PROBE, 7 * time.Minute, time.Second, 7 * time.Minute},
		{"permanent_is_configuration", unix.NUD_PERMANENT, time.Hour, time.Hour, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := neigh(hwaddr.MAC{0, 1, 2, 3, 4, byte(i)}, netip.AddrFrom4([4]byte{10, 97, 0, byte(50 + i)}))
			u.state, u.confirmedAgo, u.updatedAgo = tt.state, tt.conf, tt.upd
			l.handle(u)
			evs := drain(out)
			if len(evs) != 1 {
				t.Fatalf("events %+v", evs)
			}
			if got := evs[0].(NeighborSeen).Time; !got.Equal(now.Add(-tt.wantBefore)) {
				t.Errorf("Time = %v, want now-%v", got, tt.wantBefore)
			}
		})
	}
}

func TestAway(t *testing.T) {
	cfg := Config{AwayAfter: 30 * time.Minute}
	l, clk, out := testLoop(t, cfg, 16)
	l.handle(neigh(camMAC, camIP))
	l.handle(neigh(plugMAC, plugIP))
	drain(out)

	clk.Advance(20 * time.Minute)
	l.handle(neigh(plugMAC, plugIP)) // the plug confirms again
	l.checkAway()
	if evs := drain(out); len(evs) != 0 {
		t.Fatalf("at 20 min: %+v", evs)
	}

	clk.Advance(10 * time.Minute)
	l.checkAway()
	evs := drain(out)
	want := []Event{DeviceAway{MAC: camMAC, LastSeen: clk.Now().Add(-30 * time.Minute)}}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("at 30 min: %+v, want %+v", evs, want)
	}
	l.checkAway()
	if evs := drain(out); len(evs) != 0 {
		t.Fatalf("away reported twice: %+v", evs)
	}

	// The router asks after the camera (delay, then probe): that is no
	// sign of life, and the camera stays away, unreported.
	asking := neigh(camMAC, camIP)
	asking.state, asking.confirmedAgo = unix.NUD_DELAY, 31*time.Minute
	l.handle(asking)
	asking.state = unix.NUD_PROBE
	l.handle(asking)
	perm := neigh(camMAC, camIP)
	perm.state = unix.NUD_PERMANENT
	l.handle(perm)
	if evs := drain(out); len(evs) != 0 {
		t.Fatalf("stale news about an away device: %+v", evs)
	}

	// The camera answers: it is back, and its binding is reported again.
	clk.Advance(time.Minute)
	l.handle(neigh(camMAC, camIP))
	evs = drain(out)
	if len(evs) != 1 || evs[0].(NeighborSeen).MAC != camMAC {
		t.Fatalf("return: %+v", evs)
	}
	clk.Advance(29 * time.Minute)
	l.checkAway() // plug: last seen 40 min ago; camera: 29 min ago
	evs = drain(out)
	if len(evs) != 1 || evs[0].(DeviceAway).MAC != plugMAC {
		t.Fatalf("second round: %+v", evs)
	}
	clk.Advance(time.Minute)
	l.checkAway()
	if evs := drain(out); len(evs) != 1 || evs[0].(DeviceAway).MAC != camMAC {
		t.Fatalf("camera away again: %+v", evs)
	}
}

func TestAwayAtStartForOldEntries(t *testing.T) {
	// A stale entry listed at start-up that has not changed for two
	// hours: reported, then away at the first check.
	l, clk, out := testLoop(t, Config{}, 8)
	u := neigh(camMAC, camIP)
	u.state, u.confirmedAgo, u.updatedAgo = unix.NUD_STALE, 3*time.Hour, 2*time.Hour
	l.handle(u)
	l.checkAway()
	evs := drain(out)
	lastSeen := clk.Now().Add(-2 * time.Hour)
	want := []Event{
		NeighborSeen{MAC: camMAC, IP: camIP, Iface: "br-lan", State: StateStale, Time: lastSeen},
		DeviceAway{MAC: camMAC, LastSeen: lastSeen},
	}
	if !reflect.DeepEqual(evs, want) {
		t.Fatalf("got %+v, want %+v", evs, want)
	}
}

func TestPermanentEntryIsNoSignOfLife(t *testing.T) {
	l, clk, out := testLoop(t, Config{}, 8)
	u := neigh(camMAC, camIP)
	u.state = unix.NUD_PERMANENT
	l.handle(u)
	clk.Advance(25 * time.Minute)
	l.handle(u)
	clk.Advance(5 * time.Minute)
	l.checkAway()
	evs := drain(out)
	if len(evs) != 2 || evs[1].(DeviceAway).MAC != camMAC {
		t.Fatalf("got %+v, want seen then away", evs)
	}
}

func TestDeviceCap(t *testing.T) {
	l, clk, out := testLoop(t, Config{MaxDevices: 2}, 16)
	macs := []hwaddr.MAC{{0, 1, 1, 1, 1, 1}, {0, 1, 1, 1, 1, 2}, {0, 1, 1, 1, 1, 3}}
	for i, m := range macs {
		l.handle(neigh(m, netip.AddrFrom4([4]byte{10, 97, 0, byte(20 + i)})))
	}
	if got := l.w.Stats(); got.Evicted != 1 || got.Devices != 2 {
		t.Fatalf("stats %+v, want 1 evicted, 2 tracked", got)
	}
	if l.devices.get(macs[0]) != nil {
		t.Fatal("the least recently active device was kept")
	}
	drain(out)
	clk.Advance(time.Hour)
	l.checkAway()
	if n := len(drain(out)); n != 2 {
		t.Fatalf("%d away events, want 2 (the tracked ones)", n)
	}
}

func TestLinkChanged(t *testing.T) {
	clk := newFakeClock()
	w, err := New(Config{LeaseFiles: []string{}}, withClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Event, 16)
	l := newLoop(w, out)
	steps := []struct {
		name   string
		update kernelUpdate
		want   []Event
	}{
		{"first_seen_down", lanLink(false), []Event{LinkChanged{Iface: "br-lan", Up: false, MAC: routerMAC, Time: clk.Now()}}},
		{"repeat", lanLink(false), nil},
		{"up", lanLink(true), []Event{LinkChanged{Iface: "br-lan", Up: true, MAC: routerMAC, Time: clk.Now()}}},
		{"other_attribute_changed", lanLink(true), nil},
		{"wan_is_not_lan", wanLink(false), nil},
		{"deleted", kernelUpdate{kind: kindLink, deleted: true, index: lanIndex, iface: "br-lan", mac: routerMAC, hasMAC: true, up: true},
			[]Event{LinkChanged{Iface: "br-lan", Up: false, MAC: routerMAC, Time: clk.Now()}}},
	}
	for _, s := range steps {
		l.handle(s.update)
		if got := drain(out); !reflect.DeepEqual(got, s.want) {
			t.Errorf("%s: got %+v, want %+v", s.name, got, s.want)
		}
	}
	// The deleted link's MAC is no longer the router's.
	l.handle(neigh(routerMAC, camIP))
	if evs := drain(out); len(evs) != 1 {
		t.Errorf("MAC of a deleted link still filtered: %+v", evs)
	}
}

func TestAddressChanged(t *testing.T) {
	l, clk, out := testLoop(t, Config{}, 16)
	v6 := routerAddr("fd00::1/64")
	l.handle(v6)
	l.handle(v6) // lifetimes refreshed
	wanAddr := kernelUpdate{kind: kindAddr, index: wanIndex, iface: "wan", prefix: netip.MustParsePrefix("192.0.2.7/24")}
	l.handle(wanAddr)
	want := []Event{AddressChanged{Iface: "br-lan", Prefix: v6.prefix, Added: true, Time: clk.Now()}}
	if got := drain(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	// The WAN address is the router's too: never a device.
	l.handle(neigh(camMAC, wanAddr.prefix.Addr()))
	l.handle(neigh(camMAC, v6.prefix.Addr()))
	if got := drain(out); len(got) != 0 {
		t.Fatalf("router's address reported as a device: %+v", got)
	}
	del := v6
	del.deleted = true
	l.handle(del)
	l.handle(del)
	want = []Event{AddressChanged{Iface: "br-lan", Prefix: v6.prefix, Added: false, Time: clk.Now()}}
	if got := drain(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("removal: got %+v, want %+v", got, want)
	}
	l.handle(neigh(camMAC, v6.prefix.Addr()))
	if got := drain(out); len(got) != 1 {
		t.Fatalf("a removed router address still filtered: %+v", got)
	}
}

// TestDroppedLinkDownSentAgain: a LAN interface deleted while the consumer
// had no room asks for a resync; the listing it makes does not show the
// interface, which sends its "down", unless the interface came back first.
func TestDroppedLinkDownSentAgain(t *testing.T) {
	l, _, out := testLoop(t, Config{Interfaces: []string{"br-lan"}}, 1) // br-lan known up
	list := func(dump ...kernelUpdate) {
		for _, u := range listed(dump) {
			l.handle(u)
		}
	}
	addrGone := routerAddr("10.97.0.1/24")
	addrGone.deleted = true
	l.handle(addrGone) // the kernel removes the addresses first
	drain(out)
	l.handle(neigh(camMAC, camIP)) // fills the channel
	gone := lanLink(true)
	gone.deleted = true
	l.handle(gone) // no room
	if !l.needResync {
		t.Fatal("a dropped down asks for no resync")
	}
	drain(out)
	list(wanLink(true))
	evs := drain(out)
	if len(evs) != 1 || evs[0].(LinkChanged).Up {
		t.Fatalf("after the listing: %+v, want the interface down", evs)
	}
	list(wanLink(true))
	if evs := drain(out); len(evs) != 0 {
		t.Fatalf("sent twice: %+v", evs)
	}
	// Dropped again, then back before the listing: the listing sends
	// nothing.
	l.handle(lanLink(true))
	drain(out)
	l.handle(neigh(plugMAC, plugIP))
	l.handle(gone)
	l.handle(lanLink(true)) // no room either, but it is up again
	drain(out)
	list(lanLink(true), wanLink(true))
	if evs := drain(out); len(evs) != 0 {
		t.Fatalf("a down sent after the interface came back: %+v", evs)
	}
}

func TestDroppedEventsAreSentAgain(t *testing.T) {
	l, clk, out := testLoop(t, Config{}, 1)
	l.handle(neigh(camMAC, camIP))
	l.handle(neigh(plugMAC, plugIP)) // no room
	if got := l.w.Stats().Dropped; got != 1 || !l.needResync {
		t.Fatalf("dropped %d, resync %v", got, l.needResync)
	}
	drain(out)
	// The resubscription lists the table again.
	l.handle(neigh(camMAC, camIP))
	l.handle(neigh(plugMAC, plugIP))
	if evs := drain(out); len(evs) != 1 || evs[0].(NeighborSeen).MAC != plugMAC {
		t.Fatalf("after resync: %+v, want only the dropped one", evs)
	}

	// An away event without room is tried again at the next check.
	clk.Advance(time.Hour)
	l.checkAway()
	l.checkAway()
	first := drain(out)
	l.checkAway()
	second := drain(out)
	if len(first) != 1 || len(second) != 1 || first[0].(DeviceAway).MAC == second[0].(DeviceAway).MAC {
		t.Fatalf("away with a full channel: %+v then %+v", first, second)
	}
}

func TestLastAddr(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{"10.97.0.1/24", "10.97.0.255"},
		{"192.168.1.1/30", "192.168.1.3"},
		{"10.0.0.1/8", "10.255.255.255"},
		{"0.0.0.0/0", "255.255.255.255"},
	}
	for _, tt := range tests {
		if got := lastAddr(netip.MustParsePrefix(tt.prefix)); got != netip.MustParseAddr(tt.want) {
			t.Errorf("lastAddr(%s) = %v, want %s", tt.prefix, got, tt.want)
		}
	}
}

// A neighbour update for a binding already reported — the kernel's usual
// traffic — costs no allocation.
func TestRepeatedNeighbourUpdateDoesNotAllocate(t *testing.T) {
	l, _, out := testLoop(t, Config{}, 8)
	u := neigh(camMAC, camIP)
	l.handle(u)
	drain(out)
	if n := testing.AllocsPerRun(100, func() { l.handle(u) }); n != 0 {
		t.Fatalf("%v allocations per update", n)
	}
}

func BenchmarkRepeatedNeighbourUpdate(b *testing.B) {
	clk := newFakeClock()
	w, err := New(Config{LeaseFiles: []string{}}, withClock(clk))
	if err != nil {
		b.Fatal(err)
	}
	out := make(chan Event, 1)
	l := newLoop(w, out)
	l.handle(routerAddr("10.97.0.1/24"))
	<-out
	u := neigh(camMAC, camIP)
	l.handle(u)
	<-out
	b.ReportAllocs()
	for b.Loop() {
		l.handle(u)
	}
}

// TestListingReconciles: what the loop holds and a subscription's listing
// does not show was deleted while no notification could tell (the kernel
// overran the last subscription), and is handled as a deletion would be.
func TestListingReconciles(t *testing.T) {
	lanAddr := routerAddr("10.97.0.1/24")
	lanAddr6 := routerAddr("fd00::1/64")
	wanAddr := kernelUpdate{kind: kindAddr, index: wanIndex, iface: "wan", prefix: netip.MustParsePrefix("192.0.2.7/24")}
	// br-lan deleted and made again: same name and MAC, another index.
	lanAgain, lanAddrAgain := lanLink(true), lanAddr
	lanAgain.index, lanAddrAgain.index = 7, 7
	failed := neigh(camMAC, camIP)
	failed.state = unix.NUD_FAILED
	lanAddrGone := lanAddr6
	lanAddrGone.deleted = true
	tests := []struct {
		name    string
		before  []kernelUpdate // notified before the listing
		listing []kernelUpdate
		after   []kernelUpdate // notified after it
		want    func(now time.Time) []Event
	}{
		{
			name:    "nothing_changed",
			before:  []kernelUpdate{lanAddr6, neigh(camMAC, camIP)},
			listing: listed([]kernelUpdate{lanLink(true), wanLink(true), lanAddr, lanAddr6, wanAddr, neigh(camMAC, camIP)}),
		},
		{
			name:    "address_gone",
			before:  []kernelUpdate{lanAddr6},
			listing: listed([]kernelUpdate{lanLink(true), wanLink(true), lanAddr}),
			want: func(now time.Time) []Event {
				return []Event{AddressChanged{Iface: "br-lan", Prefix: lanAddr6.prefix, Added: false, Time: now}}
			},
		},
		{
			name:    "address_gone_and_notified_too",
			before:  []kernelUpdate{lanAddr6},
			listing: listed([]kernelUpdate{lanLink(true), wanLink(true), lanAddr}),
			after:   []kernelUpdate{lanAddrGone},
			want: func(now time.Time) []Event {
				return []Event{AddressChanged{Iface: "br-lan", Prefix: lanAddr6.prefix, Added: false, Time: now}}
			},
		},
		{
			name:    "lan_link_gone",
			listing: listed([]kernelUpdate{wanLink(true)}),
			want: func(now time.Time) []Event {
				return []Event{
					LinkChanged{Iface: "br-lan", Up: false, MAC: routerMAC, Time: now},
					AddressChanged{Iface: "br-lan", Prefix: lanAddr.prefix, Added: false, Time: now},
				}
			},
		},
		{
			// The removal of the old entry comes before the addition of
			// the new one: the daemon keys router addresses by address.
			name:    "lan_link_made_again_with_another_index",
			listing: listed([]kernelUpdate{lanAgain, wanLink(true), lanAddrAgain}),
			want: func(now time.Time) []Event {
				return []Event{
					AddressChanged{Iface: "br-lan", Prefix: lanAddr.prefix, Added: false, Time: now},
					AddressChanged{Iface: "br-lan", Prefix: lanAddr.prefix, Added: true, Time: now},
				}
			},
		},
		{
			// No event for a WAN address, but it is no longer the
			// router's: a device may have it now.
			name:    "wan_address_gone",
			before:  []kernelUpdate{wanAddr},
			listing: listed([]kernelUpdate{lanLink(true), wanLink(true), lanAddr}),
			after:   []kernelUpdate{neigh(camMAC, wanAddr.prefix.Addr())},
			want: func(now time.Time) []Event {
				return []Event{NeighborSeen{MAC: camMAC, IP: wanAddr.prefix.Addr(), Iface: "br-lan", State: StateReachable, Time: now}}
			},
		},
		{
			name:    "wan_link_gone_its_mac_no_longer_the_routers",
			listing: listed([]kernelUpdate{lanLink(true), lanAddr}),
			after:   []kernelUpdate{neigh(wanMAC, camIP)},
			want: func(now time.Time) []Event {
				return []Event{NeighborSeen{MAC: wanMAC, IP: camIP, Iface: "br-lan", State: StateReachable, Time: now}}
			},
		},
		{
			// Deleted meanwhile and made again after: reported, as when
			// the deletion is notified.
			name:    "neighbour_gone",
			before:  []kernelUpdate{neigh(camMAC, camIP)},
			listing: listed([]kernelUpdate{lanLink(true), wanLink(true), lanAddr}),
			after:   []kernelUpdate{neigh(camMAC, camIP)},
			want: func(now time.Time) []Event {
				return []Event{NeighborSeen{MAC: camMAC, IP: camIP, Iface: "br-lan", State: StateReachable, Time: now}}
			},
		},
		{
			name:    "neighbour_listed_failed_stays_reported",
			before:  []kernelUpdate{neigh(camMAC, camIP)},
			listing: listed([]kernelUpdate{lanLink(true), wanLink(true), lanAddr, failed}),
			after:   []kernelUpdate{neigh(camMAC, camIP)},
		},
		{
			// A subscription that broke while listing proves nothing
			// about what it had not listed yet.
			name:    "listing_cut_short",
			before:  []kernelUpdate{lanAddr6, neigh(camMAC, camIP)},
			listing: listed([]kernelUpdate{lanLink(true), wanLink(true)})[:4],
			after:   []kernelUpdate{neigh(camMAC, camIP)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, clk, out := testLoop(t, Config{}, 16)
			for _, u := range tt.before {
				l.handle(u)
			}
			drain(out)
			for _, u := range append(tt.listing, tt.after...) {
				l.handle(u)
			}
			var want []Event
			if tt.want != nil {
				want = tt.want(clk.Now())
			}
			if got := drain(out); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestDroppedAddressRemovalSentAgain: a router address removal the
// consumer had no room for is sent at the next absence check (a listing
// cannot show what is gone), unless the address came back first.
func TestDroppedAddressRemovalSentAgain(t *testing.T) {
	tests := []struct {
		name     string
		backSoon bool // the address returns before the next check
		want     int  // removals the consumer gets after the check
	}{
		{"sent_at_next_check", false, 1},
		{"back_before_the_check", true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _, out := testLoop(t, Config{Interfaces: []string{"br-lan"}}, 1) // 10.97.0.1 delivered
			l.handle(neigh(camMAC, camIP))                                      // fills the channel
			gone := routerAddr("10.97.0.1/24")
			gone.deleted = true
			l.handle(gone) // no room
			drain(out)
			if tt.backSoon {
				l.handle(routerAddr("10.97.0.1/24"))
				drain(out)
			}
			l.sendRemovals()
			var removals int
			for _, ev := range drain(out) {
				if a, ok := ev.(AddressChanged); ok && !a.Added && a.Prefix.Addr() == netip.MustParseAddr("10.97.0.1") {
					removals++
				}
			}
			if removals != tt.want {
				t.Errorf("%d removals after the check, want %d", removals, tt.want)
			}
			l.sendRemovals()
			if evs := drain(out); len(evs) != 0 {
				t.Errorf("sent again at the check after: %+v", evs)
			}
		})
	}
}

// TestAddrChangedWakes: every address message on a LAN interface wakes
// AddrChanged's waiters, whatever the events say of it; one on another
// interface does not.
func TestAddrChangedWakes(t *testing.T) {
	deleted := func(u kernelUpdate) kernelUpdate { u.deleted = true; return u }
	unnamed := func(u kernelUpdate) kernelUpdate { u.iface = ""; return u }
	wan := kernelUpdate{kind: kindAddr, index: wanIndex, iface: "wan", prefix: netip.MustParsePrefix("192.0.2.7/24")}
	tests := []struct {
		name   string
		update kernelUpdate
		wake   bool
	}{
		{"lan_added", routerAddr("fd00::1/64"), true},
		{"lan_refreshed", routerAddr("10.97.0.1/24"), true},
		{"lan_removed", deleted(routerAddr("10.97.0.1/24")), true},
		{"lan_removed_unknown", deleted(routerAddr("10.97.5.1/24")), true},
		{"lan_removed_without_name", unnamed(deleted(routerAddr("10.97.0.1/24"))), true},
		{"wan_added", wan, false},
		{"wan_removed", deleted(wan), false},
		{"unknown_interface", unnamed(routerAddr("fd00::1/64")), false},
		{"neighbour", neigh(camMAC, camIP), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _, _ := testLoop(t, Config{}, 16)
			woken := l.w.AddrChanged()
			l.handle(tt.update)
			select {
			case <-woken:
				if !tt.wake {
					t.Fatal("woken")
				}
			default:
				if tt.wake {
					t.Fatal("not woken")
				}
			}
		})
	}
}
