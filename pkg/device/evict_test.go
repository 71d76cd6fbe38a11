package device

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// TestEvictionSparesFindings: a flood of made-up MACs fills the inventory;
// what goes first are the devices seen longest ago without findings, then
// (once every device has some) those with findings, a pinned one never
// while another is left. The camera with a finding is the oldest device.
func TestEvictionSparesFindings(t *testing.T) {
	const size = 64
	inv := NewInventory(size, lan)
	camera, pinned := "c0:56:e3:1a:2b:3c", hwaddr.MAC{0x02, 0, 0, 0, 0xaa, 1}
	f := &event.Event{Time: t0, Type: event.TypeFinding, Kind: event.KindDefaultCredentials, Severity: event.SeverityHigh,
		Device: event.Endpoint{MAC: camera, IP: "192.168.1.64", Local: true}, Summary: "default login"}
	if inv.File(f) == nil {
		t.Fatal("finding not filed")
	}
	inv.ObservePacket(&inspect.Packet{Timestamp: t0, Kind: inspect.KindUDP, HasMAC: true, SrcMAC: pinned, Src: netip.MustParseAddr("192.168.1.2")})
	inv.Pin(Key{MAC: pinned}, true)
	flood := func(from, n int, withFinding bool) {
		for i := from; i < from+n; i++ {
			mac := hwaddr.MAC{0x02, 0xff, 0, 0, byte(i >> 8), byte(i)}
			ts := t0.Add(time.Duration(i+1) * time.Second)
			inv.ObservePacket(&inspect.Packet{Timestamp: ts, Kind: inspect.KindUDP, HasMAC: true, SrcMAC: mac, Src: netip.AddrFrom4([4]byte{192, 168, 1, byte(10 + i%200)})})
			if withFinding {
				inv.File(&event.Event{Time: ts, Type: event.TypeFinding, Kind: event.KindPlaintextProtocol, Severity: event.SeverityLow,
					Device: event.Endpoint{MAC: mac.String(), Local: true}, Summary: "cleartext"})
			}
		}
	}
	flood(0, 10*size, false)
	if len(inv.Devices()) > size {
		t.Fatalf("%d devices, cap %d", len(inv.Devices()), size)
	}
	for _, mac := range []string{camera, pinned.String()} {
		if !has(inv, mac) {
			t.Fatalf("%s evicted by devices without findings", mac)
		}
	}
	flood(10*size, 2*size, true)
	if has(inv, camera) {
		t.Error("the camera, the oldest device with findings, outlived newer ones with findings")
	}
	if !has(inv, pinned.String()) {
		t.Error("the pinned device was evicted while others were left")
	}
}

func has(inv *Inventory, mac string) bool {
	for _, d := range inv.Devices() {
		if d.Key.String() == mac {
			return true
		}
	}
	return false
}

// BenchmarkNewMACFlood: a frame from a new made-up MAC into a full
// inventory of the default size, eviction included.
func BenchmarkNewMACFlood(b *testing.B) {
	inv := NewInventory(1024, lan)
	p := &inspect.Packet{Timestamp: t0, Kind: inspect.KindUDP, HasMAC: true, Src: netip.MustParseAddr("192.168.1.50")}
	for i := 0; b.Loop(); i++ {
		p.SrcMAC = hwaddr.MAC{0x02, 0xfe, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		p.Timestamp = t0.Add(time.Duration(i) * time.Millisecond)
		inv.ObservePacket(p)
	}
}
