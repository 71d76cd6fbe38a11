package inspect

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// onLink holds the LAN's prefixes beyond the configured ones: a global
// IPv6 prefix the ISP delegates to the LAN (or a routed public IPv4
// subnet) is not in the private ranges [lan] prefixes hold by default,
// and without it a laptop's connection to an internet server over IPv6
// reads as one between two internet hosts: the server becomes a
// "device", its banner a LAN device's software.
type onLink struct {
	kernel []netip.Prefix // the LAN interfaces' own (Engine.SetOnLink)
	fromRA []netip.Prefix // advertised by the router, oldest first
	all    lanPrefixes    // kernel and fromRA, rebuilt when they change
	// placeDue: prefixes learned from advertisements since the flows
	// were last placed (placeFlowsDue), at capture time placedAt.
	placeDue bool
	placedAt int64
	// broadcasts are the directed broadcast addresses of the LAN
	// interfaces' IPv4 prefixes, those inside the configured prefixes
	// (which kernel leaves out) included: a packet to one reaches every
	// host on the link.
	broadcasts []uint32
}

// maxRAPrefixes bounds the prefixes learned from router advertisements;
// a LAN has one or two (a new delegation beside the deprecated one).
const maxRAPrefixes = 8

// SetOnLink sets the prefixes on the LAN interfaces, which count as the
// LAN beside the configured ones. Like HandlePacket, it must not run
// concurrently with the engine.
func (e *Engine) SetOnLink(prefixes []netip.Prefix) {
	var kept []netip.Prefix
	e.onLink.broadcasts = e.onLink.broadcasts[:0]
	for _, p := range prefixes {
		p = p.Masked()
		if b, ok := directedBroadcast(p); ok && !slices.Contains(e.onLink.broadcasts, b) {
			e.onLink.broadcasts = append(e.onLink.broadcasts, b)
		}
		if p.IsValid() && !e.lan.contains(p.Addr().Unmap()) && !slices.Contains(kept, p) {
			kept = append(kept, p)
		}
	}
	if slices.Equal(kept, e.onLink.kernel) {
		return
	}
	e.onLink.kernel = kept
	e.onLink.rebuild()
	e.placeFlows()
}

// directedBroadcast is the broadcast address of an IPv4 prefix, the
// host part all ones; a /31 or /32 has none (RFC 3021).
func directedBroadcast(p netip.Prefix) (uint32, bool) {
	if !p.IsValid() || !p.Addr().Is4() || p.Bits() > 30 {
		return 0, false
	}
	a := p.Addr().As4()
	return binary.BigEndian.Uint32(a[:]) | ^uint32(0)>>p.Bits(), true
}

// rebuild makes the on-link set anew from its two sources.
func (o *onLink) rebuild() {
	o.all = newLANPrefixes(append(slices.Clip(o.kernel), o.fromRA...))
}

// placeFlows gives the open flows' ends their sides anew after the
// on-link prefixes changed: a connection opened before the prefix was
// known (a capture begun between two advertisements, the daemon's first
// seconds) or kept across a renumbering would otherwise keep its old
// sides for as long as it lasts, days for an MQTT session, and its
// logins and content go on being filed as the wrong side's. An end no
// longer on the LAN loses its MAC, which files events under a device.
func (e *Engine) placeFlows() {
	t := e.table
	for l := range t.lru {
		for i := t.lru[l].head; i != 0; i = t.at(i).next {
			f := t.at(i)
			f.ClientLocal, f.ServerLocal = e.IsLocal(f.Client().Addr()), e.IsLocal(f.Server().Addr())
			if !f.ClientLocal {
				f.ClientMAC = hwaddr.MAC{}
			}
			if !f.ServerLocal {
				f.ServerMAC = hwaddr.MAC{}
			}
		}
	}
	e.onLink.placeDue = false
}

// placeEvery spaces the walks of the flow table that prefixes learned
// from advertisements call for: a walk of a full table takes hundreds of
// microseconds, and advertisements can be made to name a new prefix in
// every option of every message (in a capture file anyone's are taken;
// live, anyone can use the router's MAC).
const placeEvery = time.Second

// placeFlowsDue walks the flow table for the prefixes learned since the
// last walk, unless one ran less than placeEvery ago by capture time.
func (e *Engine) placeFlowsDue() {
	now := e.now.UnixNano()
	o := &e.onLink
	if o.placedAt != 0 && now >= o.placedAt && now-o.placedAt < int64(placeEvery) {
		return
	}
	o.placedAt = now
	e.placeFlows()
}

// ICMPv6 router advertisement (RFC 4861 section 4.2) and its prefix
// information option (section 4.6.2).
const (
	icmpv6RouterAdvert  = 134
	raHeaderLen         = 16 // ICMPv6 header and the RA's fixed fields
	ndOptPrefixInfo     = 3
	prefixInfoLen       = 32
	prefixInfoOnLink    = 0x80 // the L flag
	minAdvertisedPrefix = 48   // shorter ones are no LAN's (SLAAC wants /64)
)

// routerAdvert learns the on-link prefixes of a router advertisement:
// one a receiving host would accept (hop limit 255, from a link-local
// address) and, where the engine knows the router's MACs (a live
// capture), sent from one of them; a capture file has no router to ask,
// and what it shows is taken. It allocates only for a prefix not known.
func (e *Engine) routerAdvert(p *Packet) {
	b := p.Payload
	if len(b) < raHeaderLen || b[0] != icmpv6RouterAdvert || b[1] != 0 || p.TTL != 255 || !p.Src.IsLinkLocalUnicast() {
		return
	}
	if e.routerMAC != nil && (!p.HasMAC || !e.routerMAC(p.SrcMAC)) {
		return
	}
	for opts := b[raHeaderLen:]; len(opts) >= 8; {
		n := int(opts[1]) * 8
		if n == 0 || n > len(opts) {
			return // malformed: a receiving host drops the whole message
		}
		if opts[0] == ndOptPrefixInfo && n == prefixInfoLen {
			e.learnPrefix(opts[:n])
		}
		opts = opts[n:]
	}
	if e.onLink.placeDue {
		e.placeFlowsDue()
	}
}

func (e *Engine) learnPrefix(opt []byte) {
	bits := int(opt[2])
	if opt[3]&prefixInfoOnLink == 0 || bits < minAdvertisedPrefix || bits > 128 || binary.BigEndian.Uint32(opt[4:8]) == 0 {
		return
	}
	pfx, err := netip.AddrFrom16([16]byte(opt[16:32])).Prefix(bits)
	if err != nil || !pfx.Addr().IsGlobalUnicast() || e.lan.contains(pfx.Addr()) || slices.Contains(e.onLink.fromRA, pfx) {
		return
	}
	o := &e.onLink
	if len(o.fromRA) == maxRAPrefixes {
		o.fromRA = slices.Delete(o.fromRA, 0, 1)
	}
	o.fromRA = append(o.fromRA, pfx)
	o.rebuild()
	o.placeDue = true
}
