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
