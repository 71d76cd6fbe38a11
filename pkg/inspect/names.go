package inspect

import (
	"net/netip"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// nameSlots is the size of each of addrNames' tables. A home network's
// devices and the servers they talk to at one time fit; a miss costs
// only the formatting the cache saves.
const nameSlots = 256

// addrNames remembers the text of the addresses events recently named,
// so that a device's events share its strings instead of formatting and
// allocating them for every event. Direct-mapped: bounded, no eviction
// bookkeeping.
type addrNames struct {
	ips [nameSlots]struct {
		addr netip.Addr
		text string
	}
	macs [nameSlots]struct {
		mac  hwaddr.MAC
		text string
	}
}

// ip returns a.String(), a unmapped by the caller.
func (n *addrNames) ip(a netip.Addr) string {
	slot := &n.ips[ipSlot(a)]
	if slot.text == "" || slot.addr != a {
		slot.addr, slot.text = a, a.String()
	}
	return slot.text
}

// mac returns m.String().
func (n *addrNames) mac(m hwaddr.MAC) string {
	slot := &n.macs[macSlot(m)]
	if slot.text == "" || slot.mac != m {
		slot.mac, slot.text = m, m.String()
	}
	return slot.text
}

// ipSlot and macSlot mix the low bytes, which differ most between the
// hosts of one network and the devices of one vendor.
func ipSlot(a netip.Addr) uint {
	b := a.As16()
	return (uint(b[15]) ^ uint(b[14])<<3 ^ uint(b[13])<<5) % nameSlots
}

func macSlot(m hwaddr.MAC) uint {
	return (uint(m[5]) ^ uint(m[4])<<3 ^ uint(m[3])<<5) % nameSlots
}

// flowTexts remembers the event form of recent flows, so that the events
// of a flow, and of one that comes back on the same addresses and ports
// (a DHCP or mDNS exchange, a device logging in to its service again),
// share one event.Flow: no consumer changes an event's. Direct-mapped
// like addrNames.
type flowTexts [nameSlots]struct {
	key  flowText
	flow *event.Flow
}

// flowText is everything an event.Flow is made from.
type flowText struct {
	client, server           netip.AddrPort
	clientMAC, serverMAC     hwaddr.MAC
	proto                    IPProtocol
	app                      uint8
	clientLocal, serverLocal bool
	// joined: the connection's opening was not seen. A flow seen from
	// its handshake and one the capture joined on the same ports name
	// the same endpoints and must not share an event.Flow: policy and
	// the scorecard weigh what their server says differently.
	joined bool
}

func (k *flowText) slot() uint {
	return (ipSlot(k.client.Addr()) ^ ipSlot(k.server.Addr())<<1 ^ uint(k.client.Port()) ^ uint(k.server.Port())<<2) % nameSlots
}
