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
// network's devices reach within a few DNS lifetimes fit, an address
// taking a slot for each device that looked it up; a name lost to a
// collision costs only a finding aggregated by address.
const serverSlots = 2048

// serverNames remembers the name each LAN client looked an address up by
// (the question of a DNS answer to its own query that gave the address),
// so that its use of one service over the addresses its DNS rotates
// through (a CDN) can be told as one. A name is the asking device's
// alone: another host's answer (its own resolver's, or a forged one) must
// not name, merge or rename a device's flows. Direct-mapped like
// addrNames: the latest answer for a client and address wins, and nothing
// is allocated for it, the name being the DNS event's own string (or,
// after a restart, a saved finding's: Engine.RestoreServerName).
type serverNames [serverSlots]struct {
	asker asker
	addr  netip.Addr
	name  string
}

// asker is the device that looked a name up: its MAC where the capture
// shows it, so that a dual-stack device asking over IPv6 and connecting
// over IPv4 is one asker; else (no link layer, or a frame the router
// forwarded) its address.
type asker struct {
	mac  hwaddr.MAC
	addr netip.Addr
}

// askerOf is the asker of f's client.
func (e *Engine) askerOf(f *Flow) asker {
	if m := f.ClientMAC; !m.IsZero() && (e.routerMAC == nil || !e.routerMAC(m)) {
		return asker{mac: m}
	}
	return asker{addr: f.Client().Addr().Unmap()}
}

func serverSlot(k asker, a netip.Addr) uint {
	b, c := a.As16(), k.addr.As16()
	var m [8]byte
	copy(m[:], k.mac[:])
	h := binary.LittleEndian.Uint64(b[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(b[8:]) ^
		binary.LittleEndian.Uint64(c[:8])*0xc2b2ae3d27d4eb4f ^ binary.LittleEndian.Uint64(c[8:])*0x165667b19e3779f9 ^
		binary.LittleEndian.Uint64(m[:])*0x94d049bb133111eb
	return uint(mix64(h) % serverSlots)
}

// mix64 is MurmurHash3's finalizer: every input bit reaches the low bits
// taken for the slot (an IPv4 address sits in the top bytes of the
// second half of its 16-byte form, which a multiply alone carries only
// upwards).
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// NoteServerName records that the DNS query of dnsFlow's client for name
// was answered with a (unmapped by the caller): dnsFlow's client is the
// device that asked. name is the question as the DNS event shows it
// (IDMaskedName: lower case, no trailing dot, a label that holds an
// identifier as "..."), kept as it is: findings name the service by it,
// and a device's names that differ only in such a label
// ("a1b2c3d4e5f6.iot.vendor.example", one per device or per session)
// are one service. The event masked it once; an answer's addresses do
// not mask it again.
func (e *Engine) NoteServerName(dnsFlow *Flow, a netip.Addr, name string) {
	if name == "" || !a.IsValid() {
		return
	}
	e.noteServerName(e.askerOf(dnsFlow), a, name)
}

// RestoreServerName records, as NoteServerName did before a restart, that
// the device of mac looked a up by name: a saved finding's word, masked
// as NoteServerName's (the pipeline remasks what an earlier version
// saved), so that the device's use of the service on its cached answer
// is the service the finding named, not a new one by address. Like a
// name learnt since, it holds until a newer answer for the address or
// another entry takes its slot. A device asks by its MAC where the
// capture shows one (the store keeps no other), so the names of one
// known by its address alone are not restored.
func (e *Engine) RestoreServerName(mac hwaddr.MAC, a netip.Addr, name string) {
	if mac.IsZero() || name == "" || !a.IsValid() {
		return
	}
	e.noteServerName(asker{mac: mac}, a.Unmap(), name)
}

func (e *Engine) noteServerName(k asker, a netip.Addr, name string) {
	slot := &e.servers[serverSlot(k, a)]
	slot.asker, slot.addr, slot.name = k, a, name
}

// ServerName is the name the flow's client last looked the flow's server
// address up by, masked as NoteServerName keeps it, "" when no DNS
// answer to that device gave it. A
// resolver that forwards for others (a router's dnsmasq) files its
// upstream queries as its own: its clients' flows are not named by
// them.
func (f *Flow) ServerName() string {
	a, k := f.Server().Addr().Unmap(), f.engine.askerOf(f)
	if slot := &f.engine.servers[serverSlot(k, a)]; slot.addr == a && slot.asker == k && slot.name != "" {
		return slot.name
	}
	return ""
}
