package capture

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// TestRoutedCopies: of the frames the router sent on one capture
// interface, only those it forwarded from another captured interface's
// subnet are copies; its own (also from its address on that other
// interface) and those from elsewhere (the internet) are the only copy.
func TestRoutedCopies(t *testing.T) {
	rc := &routedCopies{
		from:  []netip.Prefix{netip.MustParsePrefix("10.95.1.0/24"), netip.MustParsePrefix("fd95:1::/64")},
		local: []netip.Addr{netip.MustParseAddr("10.95.1.1"), netip.MustParseAddr("10.95.2.1"), netip.MustParseAddr("fd95:1::1")},
	}
	ip4 := func(src string) []byte {
		b := make([]byte, 20)
		b[0] = 0x45
		a := netip.MustParseAddr(src).As4()
		copy(b[12:], a[:])
		return b
	}
	ip6 := func(src string) []byte {
		b := make([]byte, 40)
		b[0] = 0x60
		a := netip.MustParseAddr(src).As16()
		copy(b[8:], a[:])
		return b
	}
	eth := func(etherType uint16, l3 []byte) []byte {
		b := binary.BigEndian.AppendUint16(make([]byte, 12), etherType)
		return append(b, l3...)
	}
	tagged := func(inner []byte) []byte {
		b := append([]byte{}, inner[:12]...)
		b = binary.BigEndian.AppendUint16(b, 0x8100)
		b = binary.BigEndian.AppendUint16(b, 20)
		return append(b, inner[12:]...)
	}
	for _, tc := range []struct {
		name  string
		frame []byte
		want  bool
	}{
		{"forwarded_ipv4", eth(0x0800, ip4("10.95.1.2")), true},
		{"forwarded_ipv6", eth(0x86dd, ip6("fd95:1::2")), true},
		{"forwarded_vlan", tagged(eth(0x0800, ip4("10.95.1.2"))), true},
		{"router_from_other_interface_address", eth(0x0800, ip4("10.95.1.1")), false},
		{"router_ipv6", eth(0x86dd, ip6("fd95:1::1")), false},
		{"router_own_interface", eth(0x0800, ip4("10.95.2.1")), false},
		{"from_the_internet", eth(0x0800, ip4("203.0.113.9")), false},
		{"ipv6_link_local", eth(0x86dd, ip6("fe80::2")), false},
		{"arp", eth(0x0806, make([]byte, 28)), false},
		{"truncated_ipv4", eth(0x0800, ip4("10.95.1.2")[:19]), false},
		{"wrong_version", eth(0x0800, ip6("fd95:1::2")), false},
		{"short", make([]byte, 13), false},
	} {
		if got := rc.copied(tc.frame); got != tc.want {
			t.Errorf("%s: copied %v, want %v", tc.name, got, tc.want)
		}
	}
	frame := eth(0x86dd, ip6("fd95:1::2"))
	if n := testing.AllocsPerRun(100, func() { rc.copied(frame) }); n != 0 {
		t.Errorf("%v allocations per frame", n)
	}
}

// TestRoutedForUnnumbered: an interface without a subnet of its own (a
// bridge's port captured beside the bridge) drops nothing: a phone's
// frame to a camera bridged out of it has a source in the bridge's
// subnet and is seen on no other ring.
func TestRoutedForUnnumbered(t *testing.T) {
	lan := []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24")}
	iot := []netip.Prefix{netip.MustParsePrefix("192.168.2.0/24")}
	rcs := routedFor([][]netip.Prefix{lan, nil, iot}, nil)
	if rcs[1] != nil {
		t.Errorf("the unnumbered port got a recogniser of %v", rcs[1].from)
	}
	if rcs[0] == nil || len(rcs[0].from) != 1 || rcs[0].from[0] != iot[0] {
		t.Errorf("br-lan's recogniser: %+v, want the IoT subnet alone", rcs[0])
	}
	if rcs[2] == nil || len(rcs[2].from) != 1 || rcs[2].from[0] != lan[0] {
		t.Errorf("br-iot's recogniser: %+v, want the LAN subnet alone", rcs[2])
	}
}
