package inspect

import (
	"net/netip"
	"testing"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Addresses that share a slot of the cache still get their own text,
// however they alternate.
func TestAddrNames(t *testing.T) {
	var n addrNames
	ips := []netip.Addr{
		netip.MustParseAddr("192.168.1.10"),
		netip.MustParseAddr("10.0.1.10"),     // the same low bytes: the same slot
		netip.MustParseAddr("2001:db8::10a"), // and again
		netip.MustParseAddr("192.168.1.11"),
		{}, // the zero Addr, as String shows it
	}
	macs := []hwaddr.MAC{
		{0xc0, 0x56, 0xe3, 0x4c, 0xa1, 0x01},
		{0x50, 0xc7, 0xbf, 0x4c, 0xa1, 0x01}, // the same slot
		{0x50, 0xc7, 0xbf, 0x4c, 0xa1, 0x02},
	}
	// What the test is about: the cache has to tell these apart.
	if ipSlot(ips[0]) != ipSlot(ips[1]) || ipSlot(ips[0]) != ipSlot(ips[2]) || macSlot(macs[0]) != macSlot(macs[1]) {
		t.Fatal("the addresses meant to share a slot do not")
	}
	for range 3 {
		for _, a := range ips {
			if got, want := n.ip(a), a.String(); got != want {
				t.Errorf("ip(%v) = %q, want %q", a, got, want)
			}
		}
		for _, m := range macs {
			if got, want := n.mac(m), m.String(); got != want {
				t.Errorf("mac(%v) = %q, want %q", m, got, want)
			}
		}
	}
}

// A flow's event form is remembered by everything it is made from: flows
// that share a slot of the cache, and a flow that changes (its MACs
// learnt, its protocol identified), each get their own.
func TestEventFlowMemo(t *testing.T) {
	e := testEngine(t, DefaultConfig(), &recorder{}, upgradeProto{"tls"})
	server := netip.MustParseAddrPort("203.0.113.5:21")
	changes := []func(f *Flow){
		func(f *Flow) {},
		func(f *Flow) { f.ClientMAC = hwaddr.MAC{2, 0, 0, 0, 0, 1} },
		func(f *Flow) { f.ServerMAC = hwaddr.MAC{2, 0, 0, 0, 0, 2} },
		func(f *Flow) { f.app = 1 },
		func(f *Flow) { f.app = 2 },
		func(f *Flow) { f.ClientLocal = true },
		func(f *Flow) { f.ServerLocal = true },
		// Joined until both SYNs are seen (UDP never is).
		func(f *Flow) { f.flags |= flagOpened | flagOpened<<ToClient },
	}
	var flows []*Flow
	for _, proto := range []IPProtocol{IPProtocolTCP, IPProtocolUDP} {
		for i := range 3 {
			// Client ports nameSlots apart: one slot for all.
			client := netip.AddrPortFrom(netip.MustParseAddr("192.168.1.10"), uint16(40000+i*nameSlots))
			flows = append(flows, e.table.insert(e, client, server, proto))
		}
	}
	// What the test is about: the cache has to tell these apart.
	k0 := flowText{client: flows[0].Client(), server: server}
	for _, f := range flows {
		if k := (flowText{client: f.Client(), server: server}); k.slot() != k0.slot() {
			t.Fatal("the flows meant to share a slot do not")
		}
	}
	check := func(f *Flow) {
		t.Helper()
		if got, want := f.eventFlow(), f.newEventFlow(); *got != *want {
			t.Errorf("%v: event flow %+v, want %+v", f.Client(), *got, *want)
		}
	}
	for _, change := range changes {
		for _, f := range flows {
			check(f) // remembered as it is
			change(f)
			check(f)
		}
		for _, f := range flows {
			check(f) // after the others took the slot
		}
	}
}

// The servers' table spreads the addresses of one network, which differ
// in their last bytes, and one address looked up by many devices, over
// its slots: a slot per key, few collisions.
func TestServerSlotSpread(t *testing.T) {
	tests := []struct {
		name string
		key  func(i int) (client, addr netip.Addr)
	}{
		{"one_client_many_servers", func(i int) (netip.Addr, netip.Addr) {
			return netip.MustParseAddr("192.168.1.10"), netip.AddrFrom4([4]byte{203, 0, byte(113 + i/256), byte(i)})
		}},
		{"many_clients_one_server", func(i int) (netip.Addr, netip.Addr) {
			return netip.AddrFrom4([4]byte{192, 168, byte(i / 256), byte(i)}), netip.MustParseAddr("203.0.113.5")
		}},
		{"ipv6", func(i int) (netip.Addr, netip.Addr) {
			return netip.MustParseAddr("fd00::10"), netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i / 256), 15: byte(i)})
		}},
	}
	const keys = 512
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used := map[uint]bool{}
			for i := range keys {
				c, a := tt.key(i)
				used[serverSlot(asker{addr: c}, a)] = true
			}
			// 512 keys thrown at random into 2048 slots fill about 453.
			if len(used) < keys*8/10 {
				t.Errorf("%d keys in %d slots", keys, len(used))
			}
		})
	}
}
