package netwatch

import (
	"container/list"
	"net/netip"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// maxBindings caps the addresses remembered per MAC: an IPv4 address, a
// link-local and a few global and temporary IPv6 addresses. When full, the
// oldest is forgotten (and would be reported again if seen again).
const maxBindings = 8

// binding is an address already reported for a MAC.
type binding struct {
	ip    netip.Addr
	iface string
}

// device is what the tracker knows of one MAC.
type device struct {
	mac      hwaddr.MAC
	lastSeen time.Time
	away     bool
	bindings [maxBindings]binding
	nbind    int
}

func (d *device) bound(ip netip.Addr, iface string) bool {
	for _, b := range d.bindings[:d.nbind] {
		if b.ip == ip {
			return b.iface == iface
		}
	}
	return false
}

// bind records ip as reported, replacing an older record of the same
// address (on another interface) or, when full, the oldest one.
func (d *device) bind(ip netip.Addr, iface string) {
	d.unbind(ip)
	if d.nbind == maxBindings {
		copy(d.bindings[:], d.bindings[1:])
		d.nbind--
	}
	d.bindings[d.nbind] = binding{ip: ip, iface: iface}
	d.nbind++
}

func (d *device) unbind(ip netip.Addr) {
	for i, b := range d.bindings[:d.nbind] {
		if b.ip == ip {
			copy(d.bindings[i:], d.bindings[i+1:d.nbind])
			d.nbind--
			d.bindings[d.nbind] = binding{}
			return
		}
	}
}

func (d *device) forgetBindings() {
	d.bindings = [maxBindings]binding{}
	d.nbind = 0
}

// tracker holds the devices seen, at most max of them; when full, the one
// touched least recently is evicted. Not safe for concurrent use: the
// watcher's loop owns it.
type tracker struct {
	max     int
	byMAC   map[hwaddr.MAC]*list.Element // of *device
	lru     list.List                    // front: touched most recently
	evicted uint64
}

func newTracker(max int) *tracker {
	return &tracker{max: max, byMAC: make(map[hwaddr.MAC]*list.Element)}
}

func (t *tracker) len() int { return len(t.byMAC) }

func (t *tracker) get(mac hwaddr.MAC) *device {
	if e, ok := t.byMAC[mac]; ok {
		return e.Value.(*device)
	}
	return nil
}

// add starts tracking mac as last seen at seen, evicting the least
// recently touched device when the tracker is full. It reports the
// evicted device, if any, so that the caller can count a device that will
// never be reported away.
func (t *tracker) add(mac hwaddr.MAC, seen time.Time) (d, evicted *device) {
	if len(t.byMAC) >= t.max {
		if back := t.lru.Back(); back != nil {
			evicted = t.lru.Remove(back).(*device)
			delete(t.byMAC, evicted.mac)
			t.evicted++
		}
	}
	d = &device{mac: mac, lastSeen: seen}
	t.byMAC[mac] = t.lru.PushFront(d)
	return d, evicted
}

// touch marks d as the most recently used.
func (t *tracker) touch(d *device) {
	if e, ok := t.byMAC[d.mac]; ok {
		t.lru.MoveToFront(e)
	}
}

// each calls fn for every device, least recently touched first.
func (t *tracker) each(fn func(*device)) {
	for e := t.lru.Back(); e != nil; e = e.Prev() {
		fn(e.Value.(*device))
	}
}
