package device

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// A frame the router forwarded from another LAN segment carries the
// router's MAC and the sender's address: it makes the router no device
// of that address, and an event about that endpoint goes to the sender.
// The router's own frames still describe it.
func TestRoutedFramesNameTheSender(t *testing.T) {
	router := hwaddr.MAC{0x94, 0x83, 0xc4, 0, 0, 1}
	routerIP := netip.MustParseAddr("192.168.1.1")
	guest := hwaddr.MAC{0xc0, 0x56, 0xe3, 0, 0, 2}
	guestIP := netip.MustParseAddr("192.168.1.77") // its segment is routed to this one
	for _, routedKnown := range []bool{false, true} {
		inv := newInv()
		if routedKnown {
			inv.SetRouted(func(mac hwaddr.MAC, addr netip.Addr) bool { return mac == router && addr != routerIP })
		}
		frame := func(mac hwaddr.MAC, ip netip.Addr) {
			inv.ObservePacket(&inspect.Packet{Timestamp: t0, Kind: inspect.KindUDP, HasMAC: true, SrcMAC: mac, Src: ip})
		}
		frame(guest, guestIP)  // on its own segment
		frame(router, guestIP) // routed onto this one
		frame(router, routerIP)
		inv.ObservePacket(&inspect.Packet{Timestamp: t0, Kind: inspect.KindARP, ARPSenderMAC: router, ARPSenderIP: guestIP}) // proxy ARP

		r := device(t, inv, router.String())
		if routedKnown && (slices.Contains(r.Addrs, guestIP) || r.Packets != 1) {
			t.Errorf("the router holds %v after %d frames, want its own address and frame only", r.Addrs, r.Packets)
		}
		if !slices.Contains(r.Addrs, routerIP) {
			t.Errorf("routed frames known %v: the router lost its own address: %v", routedKnown, r.Addrs)
		}
		ev := obs(router.String(), guestIP.String(), event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-dropbear"})
		// Without SetRouted (a capture file: no router known) the frame's
		// MAC names the device, as before.
		want := guest
		if !routedKnown {
			want = router
		}
		if filed := inv.File(ev); filed == nil || filed.Key.MAC != want {
			got := "no device"
			if filed != nil {
				got = filed.Key.String()
			}
			t.Errorf("routed frames known %v: an event about the routed endpoint went to %s, want %s", routedKnown, got, want)
		}
	}
}

// A device of another segment, known only from frames the router
// forwarded, keeps its address and its events: a frame on this link
// claiming that address (a victim's MAC, a forger's address) neither
// takes them over nor gets the next event about that endpoint.
func TestRoutedDeviceKeepsItsEvents(t *testing.T) {
	router := hwaddr.MAC{0x94, 0x83, 0xc4, 0, 0, 1}
	routerIP := netip.MustParseAddr("192.168.1.1")
	victim := hwaddr.MAC{0x3c, 0xa9, 0xf4, 0, 0, 9}
	guestIP := netip.MustParseAddr("192.168.1.77")
	inv := newInv()
	inv.SetRouted(func(mac hwaddr.MAC, addr netip.Addr) bool { return mac == router && addr != routerIP })
	ev := obs(router.String(), guestIP.String(), event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-dropbear"})
	if d := inv.File(ev); d == nil || !d.Key.MAC.IsZero() {
		t.Fatalf("routed event filed under %v, want the address", d)
	}
	inv.ObservePacket(&inspect.Packet{Timestamp: t0, Kind: inspect.KindUDP, HasMAC: true, SrcMAC: victim, Src: guestIP})
	if v := device(t, inv, victim.String()); len(v.Observations) != 0 || slices.Contains(v.Addrs, guestIP) {
		t.Errorf("a frame here took the routed device's address %v or events %v", v.Addrs, v.Observations)
	}
	again := obs(router.String(), guestIP.String(), event.KindBanner, event.Evidence{"protocol": "ssh", "banner": "SSH-2.0-OpenSSH_9.6"})
	if d := inv.File(again); d == nil || !d.Key.MAC.IsZero() {
		t.Errorf("the next routed event went to %v, want the address-keyed device", d)
	}
}
