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
	iface string
	ip    netip.Addr
}

// device is what the tracker knows of one MAC.
type device struct {
	mac      hwaddr.MAC
	lastSeen time.Time
	away     bool
	bindings [maxBindings]binding
	nbind    int
}

func (d *device) bound(b binding) bool {
	for _, have := range d.bindings[:d.nbind] {
		if have == b {
			return true
		}
	}
	return false
}

// tracker holds the devices seen, at most max of them; when full, the one
// touched least recently is evicted. It also indexes the bindings by
// address, because the kernel's deletion of a neighbour entry does not
// name its MAC. Not safe for concurrent use: the watcher's loop owns it.
type tracker struct {
	max    int
	byMAC  map[hwaddr.MAC]*list.Element // of *device
	byAddr map[binding]hwaddr.MAC       // at most max × maxBindings
	lru    list.List                    // front: touched most recently
}

func newTracker(max int) *tracker {
	return &tracker{
		max:    max,
		byMAC:  make(map[hwaddr.MAC]*list.Element),
		byAddr: make(map[binding]hwaddr.MAC),
	}
}

func (t *tracker) len() int { return len(t.byMAC) }

func (t *tracker) get(mac hwaddr.MAC) *device {
	if e, ok := t.byMAC[mac]; ok {
		return e.Value.(*device)
	}
	return nil
}

// add starts tracking mac as last seen at seen, evicting the least
// recently touched device when the tracker is full. It reports whether a
// device was evicted; that one will never be reported away.
func (t *tracker) add(mac hwaddr.MAC, seen time.Time) (d *device, evicted bool) {
	if len(t.byMAC) >= t.max {
		if back := t.lru.Back(); back != nil {
			old := t.lru.Remove(back).(*device)
			t.forgetBindings(old)
			delete(t.byMAC, old.mac)
			evicted = true
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

// bind records b as reported for d. An address has one MAC at a time: a
// binding of b to another device is dropped. When d has maxBindings
// already, its oldest is dropped.
func (t *tracker) bind(d *device, b binding) {
	if other, ok := t.byAddr[b]; ok {
		if od := t.get(other); od != nil {
			t.dropBinding(od, b)
		}
	}
	if d.nbind == maxBindings {
		t.dropBinding(d, d.bindings[0])
	}
	d.bindings[d.nbind] = b
	d.nbind++
	t.byAddr[b] = d.mac
}

// unbind forgets the binding of b, whichever device has it.
func (t *tracker) unbind(b binding) {
	if mac, ok := t.byAddr[b]; ok {
		if d := t.get(mac); d != nil {
			t.dropBinding(d, b)
		}
		delete(t.byAddr, b)
	}
}

func (t *tracker) dropBinding(d *device, b binding) {
	for i, have := range d.bindings[:d.nbind] {
		if have == b {
			copy(d.bindings[i:], d.bindings[i+1:d.nbind])
			d.nbind--
			d.bindings[d.nbind] = binding{}
			if t.byAddr[b] == d.mac {
				delete(t.byAddr, b)
			}
			return
		}
	}
}

func (t *tracker) forgetBindings(d *device) {
	for _, b := range d.bindings[:d.nbind] {
		if t.byAddr[b] == d.mac {
			delete(t.byAddr, b)
		}
	}
	d.bindings = [maxBindings]binding{}
	d.nbind = 0
}

// keepBindings forgets every binding not in keep.
func (t *tracker) keepBindings(keep map[binding]bool) {
	for b := range t.byAddr {
		if !keep[b] {
			t.unbind(b)
		}
	}
}

// each calls fn for every device, least recently touched first.
func (t *tracker) each(fn func(*device)) {
	for e := t.lru.Back(); e != nil; e = e.Prev() {
		fn(e.Value.(*device))
	}
}
