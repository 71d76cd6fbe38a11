package inspect

import (
	"encoding/binary"
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

// serverSlots is the size of serverNames' table: the servers a home
// network's devices reach within a few DNS lifetimes fit; a name lost
// to a collision costs only a finding aggregated by address.
const serverSlots = 1024

// serverNames remembers the name a LAN client looked each address up by
// (the question of a DNS answer that gave the address), so that use of
// one service over the addresses its DNS rotates through (a CDN) can be
// told as one. Direct-mapped like addrNames: the latest answer for an
// address wins, and nothing is allocated for it, the name being the DNS
// event's own string.
type serverNames [serverSlots]struct {
	addr netip.Addr
	name string
}

func serverSlot(a netip.Addr) uint {
	b := a.As16()
	h := binary.LittleEndian.Uint64(b[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[8:])
	h *= 0xff51afd7ed558ccd
	return uint(h>>32) % serverSlots
}

// NoteServerName records that a LAN client's DNS query for name was
// answered with a (unmapped by the caller); name should be the lower-case
// name of the question, without the trailing dot.
func (e *Engine) NoteServerName(a netip.Addr, name string) {
	if name == "" || !a.IsValid() {
		return
	}
	slot := &e.servers[serverSlot(a)]
	slot.addr, slot.name = a, name
}

// ServerName is the name a LAN client last looked the flow's server
// address up by, "" when no DNS answer seen gave it.
func (f *Flow) ServerName() string {
	a := f.Server().Addr().Unmap()
	if slot := &f.engine.servers[serverSlot(a)]; slot.addr == a && slot.name != "" {
		return slot.name
	}
	return ""
}
