package netwatch

import (
	"net/netip"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// addrKey is one of the router's addresses on one interface.
type addrKey struct {
	index int
	addr  netip.Addr
}

type ownAddr struct {
	iface     string
	prefix    netip.Prefix
	delivered bool // AddressChanged{Added: true} reached the consumer
}

// loop is the state of one Run; only Run's goroutine touches it.
type loop struct {
	w   *Watcher
	out chan<- Event
	lan map[string]bool

	linkMAC map[int]hwaddr.MAC    // every link's own MAC
	ownMACs map[hwaddr.MAC]int    // how many links have it
	linkUp  map[string]bool       // LAN interface → state delivered
	lanMAC  map[string]hwaddr.MAC // LAN interface → its last MAC
	addrs   map[addrKey]*ownAddr
	ownIPs  map[netip.Addr]int // how many interfaces have it

	// listing is what the subscription's listing has shown so far; nil
	// outside one.
	listing *listing

	devices *tracker
	files   []*leaseFile
	// readFile reads a lease file (readBounded; tests change the file
	// while it is read).
	readFile func(path string, max int64) ([]byte, error)

	// needResync is set when a link, neighbour or address event was
	// dropped: listing the kernel's tables again re-sends it (a LAN
	// interface the listing does not show is sent as down).
	needResync bool
	// unsentRemovals are router address removals the consumer had no
	// room for; a listing cannot show what is gone, so they are sent
	// again at each absence check. At most maxOwnAddrs.
	unsentRemovals map[addrKey]AddressChanged
}

func newLoop(w *Watcher, out chan<- Event) *loop {
	l := &loop{
		w:              w,
		out:            out,
		lan:            map[string]bool{},
		linkMAC:        map[int]hwaddr.MAC{},
		ownMACs:        map[hwaddr.MAC]int{},
		linkUp:         map[string]bool{},
		lanMAC:         map[string]hwaddr.MAC{},
		addrs:          map[addrKey]*ownAddr{},
		ownIPs:         map[netip.Addr]int{},
		unsentRemovals: map[addrKey]AddressChanged{},
		devices:        newTracker(w.cfg.MaxDevices),
		readFile:       readBounded,
	}
	for _, name := range w.cfg.Interfaces {
		l.lan[name] = true
	}
	for _, p := range w.cfg.LeaseFiles {
		l.files = append(l.files, &leaseFile{path: p})
	}
	return l
}

// emit hands ev to the consumer if there is room, and reports whether
// there was.
func (l *loop) emit(ev Event) bool {
	select {
	case l.out <- ev:
		return true
	default:
		l.w.stats.dropped.Add(1)
		return false
	}
}

func (l *loop) handle(u kernelUpdate) {
	switch u.kind {
	case kindLink:
		l.link(u)
	case kindAddr:
		l.addr(u)
	case kindNeigh:
		l.neighbour(u)
	case kindListStart:
		l.listing = newListing()
	case kindListEnd:
		l.listEnd(u.listed)
	}
	if l.listing != nil && !u.deleted {
		l.listing.note(l, u)
	}
}

// listing records which of the entries the loop holds a subscription's
// listing has shown, table by table; a table's set is nil once its
// listing ended. Only entries the loop holds are recorded, so the sets
// are bounded as the loop's own tables are.
type listing struct {
	links map[int]bool    // link indexes with a MAC in linkMAC
	lan   map[string]bool // LAN interfaces
	addrs map[addrKey]bool
	neigh map[binding]bool
}

func newListing() *listing {
	return &listing{
		links: map[int]bool{},
		lan:   map[string]bool{},
		addrs: map[addrKey]bool{},
		neigh: map[binding]bool{},
	}
}

// note records that the listing showed u, once the loop has handled it.
func (ls *listing) note(l *loop, u kernelUpdate) {
	switch u.kind {
	case kindLink:
		if ls.links == nil {
			return
		}
		if _, ok := l.linkMAC[u.index]; ok {
			ls.links[u.index] = true
		}
		if l.lan[u.iface] {
			ls.lan[u.iface] = true
		}
	case kindAddr:
		key := addrKey{u.index, u.prefix.Addr()}
		if _, ok := l.addrs[key]; ok && ls.addrs != nil {
			ls.addrs[key] = true
		}
	case kindNeigh:
		// Any state counts, as for a notification: only a deletion
		// forgets a binding.
		b := binding{u.iface, u.ip}
		if _, ok := l.devices.byAddr[b]; ok && ls.neigh != nil {
			ls.neigh[b] = true
		}
	}
}

// listEnd handles the end of a table's listing: what the loop holds and
// the listing did not show was deleted while no notification could say so
// (before the first subscription, or while the kernel overran the last
// one), and is handled as if the deletion had been notified.
func (l *loop) listEnd(kind updateKind) {
	ls := l.listing
	if ls == nil {
		return
	}
	switch kind {
	case kindLink:
		if ls.links == nil {
			return
		}
		for index, mac := range l.linkMAC {
			if !ls.links[index] {
				l.forgetMAC(mac)
				delete(l.linkMAC, index)
			}
		}
		for iface := range l.linkUp {
			if !ls.lan[iface] {
				l.lanLink(iface, false, l.lanMAC[iface])
			}
		}
		ls.links, ls.lan = nil, nil
	case kindAddr:
		if ls.addrs == nil {
			return
		}
		for key, a := range l.addrs {
			if !ls.addrs[key] {
				l.addr(kernelUpdate{kind: kindAddr, deleted: true, index: key.index, iface: a.iface, prefix: a.prefix})
			}
		}
		ls.addrs = nil
		// What addr held back goes out now, after the removals.
		for _, a := range l.addrs {
			l.announce(a)
		}
	case kindNeigh:
		if ls.neigh == nil {
			return
		}
		l.devices.keepBindings(ls.neigh)
		ls.neigh = nil
	}
	if ls.links == nil && ls.addrs == nil && ls.neigh == nil {
		l.listing = nil
	}
}

func (l *loop) link(u kernelUpdate) {
	if old, ok := l.linkMAC[u.index]; ok {
		l.forgetMAC(old)
		delete(l.linkMAC, u.index)
	}
	if !u.deleted && u.hasMAC && !u.mac.IsZero() && len(l.linkMAC) < maxLinks {
		l.linkMAC[u.index] = u.mac
		l.ownMACs[u.mac]++
	}
	if !l.lan[u.iface] {
		return
	}
	if u.hasMAC {
		l.lanMAC[u.iface] = u.mac
	}
	l.lanLink(u.iface, u.up && !u.deleted, u.mac)
}

// lanLink delivers the state of a LAN interface unless it was delivered
// already.
func (l *loop) lanLink(iface string, isUp bool, mac hwaddr.MAC) {
	if up, ok := l.linkUp[iface]; ok && up == isUp {
		return
	}
	if l.emit(LinkChanged{Iface: iface, Up: isUp, MAC: mac, Time: l.w.clock.Now()}) {
		l.linkUp[iface] = isUp
	} else {
		l.needResync = true
	}
}

func (l *loop) forgetMAC(m hwaddr.MAC) {
	if l.ownMACs[m]--; l.ownMACs[m] <= 0 {
		delete(l.ownMACs, m)
	}
}

func (l *loop) addr(u kernelUpdate) {
	if !u.prefix.IsValid() {
		return
	}
	key := addrKey{u.index, u.prefix.Addr()}
	a, known := l.addrs[key]
	if l.lan[u.iface] || known && l.lan[a.iface] {
		l.w.addrChanged.notify()
	}
	if u.deleted {
		if !known {
			return
		}
		delete(l.addrs, key)
		if l.ownIPs[key.addr]--; l.ownIPs[key.addr] <= 0 {
			delete(l.ownIPs, key.addr)
		}
		if a.delivered {
			ev := AddressChanged{Iface: a.iface, Prefix: a.prefix, Added: false, Time: l.w.clock.Now()}
			if !l.emit(ev) && len(l.unsentRemovals) < maxOwnAddrs {
				// A listing cannot re-send what is gone: kept for
				// sendRemovals.
				l.unsentRemovals[key] = ev
			}
		}
		return
	}
	// Back before its removal was sent: the consumer never lost it.
	delete(l.unsentRemovals, key)
	if !known {
		if len(l.addrs) >= maxOwnAddrs {
			return
		}
		a = &ownAddr{}
		l.addrs[key] = a
		l.ownIPs[key.addr]++
	}
	a.iface, a.prefix = u.iface, u.prefix
	if l.listing != nil && l.listing.addrs != nil && l.ownIPs[key.addr] > 1 {
		// Another entry has this address, and may be one the listing
		// turns out not to have (its interface made again with another
		// index): its removal, which consumers may key by address, must
		// come first. listEnd announces this one.
		return
	}
	l.announce(a)
}

// sendRemovals sends again the router address removals the consumer had
// no room for, as long as it has room.
func (l *loop) sendRemovals() {
	for key, ev := range l.unsentRemovals {
		if !l.emit(ev) {
			return
		}
		delete(l.unsentRemovals, key)
	}
}

// announce delivers a LAN address not delivered yet.
func (l *loop) announce(a *ownAddr) {
	if a.delivered || !l.lan[a.iface] {
		return
	}
	if l.emit(AddressChanged{Iface: a.iface, Prefix: a.prefix, Added: true, Time: l.w.clock.Now()}) {
		a.delivered = true
	} else {
		l.needResync = true
	}
}

// isBroadcast reports whether ip is the broadcast or network address of
// one of the router's IPv4 prefixes on the interface.
func (l *loop) isBroadcast(ip netip.Addr, index int) bool {
	if !ip.Is4() {
		return false
	}
	for k, a := range l.addrs {
		p := a.prefix
		if k.index != index || !p.Addr().Is4() || p.Bits() > 30 || !p.Contains(ip) {
			continue
		}
		if ip == p.Masked().Addr() || ip == lastAddr(p) {
			return true
		}
	}
	return false
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := (uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// neighState maps NUD bits to a reported state; entries without a usable
// MAC (incomplete, failed, none) or for multicast and broadcast (noarp)
// are not reported.
func neighState(nud uint16) (NeighState, bool) {
	switch nud {
	case unix.NUD_REACHABLE:
		return StateReachable, true
	case unix.NUD_STALE:
		return StateStale, true
	case unix.NUD_DELAY:
		return StateDelay, true
	case unix.NUD_PROBE:
		return StateProbe, true
	case unix.NUD_PERMANENT:
		return StatePermanent, true
	}
	return 0, false
}

// evidence returns when the device last gave a sign of life according to
// a neighbour entry, and whether the entry says anything about it. For
// reachable and stale entries that is the later of the last confirmation
// and the change of state (an ARP request from the device makes a stale
// entry without confirming it); delay and probe mean the router is asking
// and has no answer yet, so only the last confirmation counts; a permanent
// entry is configuration, not a sign of life.
func evidence(now time.Time, st NeighState, confirmedAgo, updatedAgo time.Duration) (time.Time, bool) {
	switch st {
	case StateReachable, StateStale:
		return now.Add(-min(confirmedAgo, updatedAgo)), true
	case StateDelay, StateProbe:
		return now.Add(-confirmedAgo), true
	}
	return now, false
}

func (l *loop) neighbour(u kernelUpdate) {
	if u.deleted {
		// Forget the binding so that the entry is reported again if it
		// comes back. Presence is unaffected: the kernel deletes entries
		// for its own reasons (garbage collection, a link going down).
		l.devices.unbind(binding{u.iface, u.ip})
		return
	}
	if !l.lan[u.iface] || u.family == unix.AF_BRIDGE || u.flags&unix.NTF_PROXY != 0 {
		return
	}
	st, ok := neighState(u.state)
	if !ok || !u.hasMAC || !usableMAC(u.mac) || !usableIP(u.ip) {
		return
	}
	if l.ownMACs[u.mac] > 0 || l.ownIPs[u.ip] > 0 || l.isBroadcast(u.ip, u.index) {
		return
	}
	now := l.w.clock.Now()
	seen, alive := evidence(now, st, u.confirmedAgo, u.updatedAgo)
	d := l.devices.get(u.mac)
	switch {
	case d == nil:
		d = l.track(u.mac, seen)
	case d.away && (!alive || now.Sub(seen) >= l.w.cfg.AwayAfter):
		return // no news: the device is still away
	default:
		l.markSeen(d, seen, alive)
	}
	b := binding{u.iface, u.ip}
	if d.bound(b) {
		return
	}
	if l.emit(NeighborSeen{MAC: u.mac, IP: u.ip, Iface: u.iface, State: st, Time: seen}) {
		l.devices.bind(d, b)
	} else {
		l.needResync = true
	}
}

// track starts tracking a device.
func (l *loop) track(mac hwaddr.MAC, seen time.Time) *device {
	d, evicted := l.devices.add(mac, seen)
	if evicted {
		l.w.stats.evicted.Add(1)
	}
	l.w.stats.devices.Store(int64(l.devices.len()))
	return d
}

// markSeen records a sign of life at seen, if alive; it brings an away
// device back when the sign is recent.
func (l *loop) markSeen(d *device, seen time.Time, alive bool) {
	l.devices.touch(d)
	if !alive {
		return
	}
	if seen.After(d.lastSeen) {
		d.lastSeen = seen
	}
	if d.away && l.w.clock.Now().Sub(d.lastSeen) < l.w.cfg.AwayAfter {
		d.away = false
	}
}

// checkAway reports devices that have shown no sign of life for
// AwayAfter. A device's bindings are forgotten when it goes away, so that
// its return is reported.
func (l *loop) checkAway() {
	now := l.w.clock.Now()
	l.devices.each(func(d *device) {
		if d.away || now.Sub(d.lastSeen) < l.w.cfg.AwayAfter {
			return
		}
		if l.emit(DeviceAway{MAC: d.mac, LastSeen: d.lastSeen}) {
			d.away = true
			l.devices.forgetBindings(d)
		}
	})
}
