package capture

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"testing"

	"github.com/iotgw/iotgw/internal/testenv"
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
	tagged := func(tpid uint16, inner []byte) []byte {
		b := append([]byte{}, inner[:12]...)
		b = binary.BigEndian.AppendUint16(b, tpid)
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
		{"forwarded_vlan", tagged(0x8100, eth(0x0800, ip4("10.95.1.2"))), true},
		{"forwarded_qinq_service_tag", tagged(0x88a8, eth(0x86dd, ip6("fd95:1::2"))), true},
		{"router_vlan", tagged(0x8100, eth(0x0800, ip4("10.95.1.1"))), false},
		{"vlan_tag_alone", tagged(0x8100, make([]byte, 14))[:18], false},
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

// FuzzRoutedCopies: any frame is judged without a panic; a copy stays
// one when bytes follow its headers (an Ethernet trailer, the rest of
// the packet), and a frame whose EtherType says ARP is never one.
// Seeds: the frames of the bundled capture of a home network.
func FuzzRoutedCopies(f *testing.F) {
	src, err := OpenFile(testenv.RepoRoot(f) + "/testdata/demo.pcap")
	if err != nil {
		f.Fatal(err)
	}
	defer src.Close()
	for range 200 {
		frame, _, err := src.ReadPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.Fatal(err)
		}
		f.Add(frame)
	}
	rc := &routedCopies{
		from:  []netip.Prefix{netip.MustParsePrefix("192.168.50.0/24"), netip.MustParsePrefix("fd00:50::/64")},
		local: []netip.Addr{netip.MustParseAddr("192.168.50.1"), netip.MustParseAddr("fd00:50::1")},
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if !rc.copied(frame) {
			return
		}
		if !rc.copied(append(frame[:len(frame):len(frame)], 0, 0, 0, 0)) {
			t.Fatalf("a copy is no copy with a trailer: %x", frame)
		}
		arp := append([]byte(nil), frame...)
		binary.BigEndian.PutUint16(arp[12:], 0x0806)
		if rc.copied(arp) {
			t.Fatalf("an ARP frame is a copy: %x", arp)
		}
	})
}
