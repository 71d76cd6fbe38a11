package connlimit

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// fakeHolder is a neighbour table: the MAC that holds each address. It
// records the addresses it was asked about.
type fakeHolder struct {
	mu    sync.Mutex
	macs  map[netip.Addr]hwaddr.MAC
	asked []netip.Addr
}

func newHolder(t *testing.T, table map[string]string) *fakeHolder {
	t.Helper()
	h := &fakeHolder{macs: map[netip.Addr]hwaddr.MAC{}}
	for addr, mac := range table {
		h.set(t, addr, mac)
	}
	return h
}

// set binds addr to mac; an empty mac removes the entry.
func (h *fakeHolder) set(t *testing.T, addr, mac string) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	a := netip.MustParseAddr(addr)
	if mac == "" {
		delete(h.macs, a)
		return
	}
	m, err := hwaddr.Parse(mac)
	if err != nil {
		t.Fatal(err)
	}
	h.macs[a] = m
}

func (h *fakeHolder) lookup(a netip.Addr) (hwaddr.MAC, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.asked = append(h.asked, a)
	m, ok := h.macs[a]
	return m, ok
}

// outcome is what a Listener did with one connection.
type outcome string

const (
	admitted outcome = "admitted" // served
	refused  outcome = "refused"  // closed at once: over its share
	waits    outcome = "waits"    // left in the backlog: every slot taken
)

// offerer queues connections on a fake listener one at a time and reports
// what the Listener did with each.
type offerer struct {
	t    *testing.T
	f    *fakeListener
	l    *Listener
	open []net.Conn
	dead bool // a connection was left waiting and the listener closed

	mu  sync.Mutex
	now time.Time // the listener's clock
}

func newOfferer(t *testing.T, total, perSource int, opts ...Option) *offerer {
	f := &fakeListener{next: make(chan any, 64)}
	l := New(f, total, perSource, opts...)
	l.sleepFunc = func(time.Duration, <-chan struct{}) {}
	o := &offerer{t: t, f: f, l: l, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l.now = func() time.Time {
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.now
	}
	return o
}

// advance moves the listener's clock on by d.
func (o *offerer) advance(d time.Duration) {
	o.mu.Lock()
	o.now = o.now.Add(d)
	o.mu.Unlock()
}

// offer queues a connection from addr and calls Accept. An Accept that
// has not returned after patience waits for a slot: the listener is
// closed to end it, and the offerer is done.
func (o *offerer) offer(addr string, patience time.Duration) outcome {
	o.t.Helper()
	c := from(addr)
	o.f.next <- c
	type result struct {
		c   net.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := o.l.Accept()
		done <- result{c, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(patience):
		o.l.Close()
		<-done
		o.dead = true
		return waits
	}
	switch {
	case errors.Is(r.err, errEmpty): // c was refused: Accept went on to an empty queue
		if !c.closed {
			o.t.Fatalf("%s was refused but left open", addr)
		}
		return refused
	case r.err != nil || r.c.(*conn).Conn != c:
		o.t.Fatalf("Accept gave %v, %v", r.c, r.err)
	}
	o.open = append(o.open, r.c)
	return admitted
}

// closeAll closes every admitted connection; the listener must then hold
// no slot and remember no source.
func (o *offerer) closeAll() {
	o.t.Helper()
	for _, c := range o.open {
		c.Close()
	}
	o.open = nil
	if n := remembered(o.l); n != 0 || len(o.l.slots) != 0 {
		o.t.Errorf("after closing all: %d sources remembered, %d slots held", n, len(o.l.slots))
	}
}

// The MACs of the tests: a device that makes up addresses, the owner's
// laptop, another device, a Wi-Fi extender that puts the hosts behind it
// under its own MAC.
const (
	macDevice   = "02:00:00:00:00:0a"
	macOwner    = "02:00:00:00:00:0b"
	macOther    = "02:00:00:00:00:0c"
	macExtender = "02:00:00:00:00:0e"
)

// TestShareAndDeviceHalf: a share is per address, and the addresses the
// same MAC holds together get at most half the total, so a device that
// gives itself more addresses (IPv4 aliases without DHCP, any number in
// the LAN's IPv6 /64) gets at most half the slots and the owner always
// has the other half, while hosts behind one MAC (an extender that
// rewrites MACs) each get their own share. IPv6 addresses without a MAC
// share half the total per /64; IPv4 ones count one by one.
func TestShareAndDeviceHalf(t *testing.T) {
	type step struct {
		addr string
		n    int // times offered
		want outcome
	}
	for _, tc := range []struct {
		name             string
		total, perSource int
		neighbours       map[string]string // address → MAC
		steps            []step
		refused          uint64
	}{{
		// The page's limits. The device opens 8 connections from each of
		// four addresses and keeps them; it gets 16, and the owner's IPv4
		// and IPv6 browsers are served from the other half.
		name: "made-up IPv4 and IPv6 addresses", total: 32, perSource: 8,
		neighbours: map[string]string{
			"fd00::a": macDevice, "fd00::b": macDevice, "192.168.1.200": macDevice, "192.168.1.201": macDevice,
			"192.168.1.10": macOwner, "fd00::1234": macOwner, "192.168.1.11": macOther,
		},
		steps: []step{
			{"fd00::a", 8, admitted},
			{"fd00::b", 8, admitted}, // 16: half of 32
			{"192.168.1.200", 8, refused},
			{"192.168.1.201", 8, refused},
			{"192.168.1.10", 4, admitted},
			{"fd00::1234", 8, admitted},
			{"fd00::1234", 1, refused}, // the address's share
			{"192.168.1.10", 4, admitted},
			{"192.168.1.11", 1, waits}, // all 32 taken
		},
		refused: 17,
	}, {
		// By /64 alone, two IPv6 addresses of one device would fill the
		// /64's half and the owner's IPv6 browser be refused; by MAC, a
		// third address of the device is refused instead.
		name: "made-up IPv6 addresses", total: 32, perSource: 8,
		neighbours: map[string]string{"fd00::a": macDevice, "fd00::b": macDevice, "fd00::c": macDevice, "fd00::1234": macOwner},
		steps: []step{
			{"fd00::a", 8, admitted},
			{"fd00::b", 8, admitted},
			{"fd00::c", 1, refused}, // the device's half
			{"fd00::1234", 8, admitted},
		},
		refused: 1,
	}, {
		// An extender in client mode or a relayd pseudo-bridge: every host
		// behind it is under its MAC. A camera holding its share does not
		// lock out the owner's laptop behind the same extender; together
		// they hold at most half.
		name: "hosts behind an extender", total: 32, perSource: 8,
		neighbours: map[string]string{
			"192.168.1.50": macExtender, "192.168.1.51": macExtender, "fd00::51": macExtender, "192.168.1.52": macExtender,
			"192.168.1.10": macOwner,
		},
		steps: []step{
			{"192.168.1.50", 8, admitted}, // the camera
			{"192.168.1.50", 1, refused},  // its share
			{"192.168.1.51", 4, admitted}, // the laptop's IPv4 browser
			{"fd00::51", 4, admitted},     // and its IPv6 one
			{"192.168.1.52", 1, refused},  // the extender's half
			{"192.168.1.10", 8, admitted}, // a device not behind it
		},
		refused: 2,
	}, {
		// IPv4 addresses without a MAC are in no group: each holds its
		// share, up to the total.
		name: "IPv4 addresses without a MAC", total: 8, perSource: 2,
		steps: []step{
			{"192.0.2.1", 2, admitted},
			{"192.0.2.2", 2, admitted},
			{"192.0.2.3", 2, admitted},
			{"192.0.2.3", 1, refused},
			{"192.0.2.4", 2, admitted},
			{"192.0.2.5", 1, waits},
		},
		refused: 1,
	}, {
		// The /64 cap is for addresses without a MAC only: a device with
		// one is served in a /64 they filled, and they are not charged
		// for it.
		name: "a device in a /64 full of addresses without a MAC", total: 8, perSource: 2,
		neighbours: map[string]string{"2001:db8:0:1::d": macOther},
		steps: []step{
			{"2001:db8:0:1::a", 2, admitted},
			{"2001:db8:0:1::b", 2, admitted}, // four in the /64: half of eight
			{"2001:db8:0:1::c", 1, refused},  // the /64's half
			{"2001:db8:0:1::d", 2, admitted}, // a device: its own share
			{"2001:db8:0:1::d", 1, refused},  // and no more
			{"2001:db8:0:2::e", 1, admitted}, // another /64
			{"192.0.2.1", 1, admitted},       // IPv4 without a MAC: by address
			{"192.0.2.2", 1, waits},          // all eight taken
		},
		refused: 2,
	}, {
		// The total still holds: devices that each stay within their
		// half fill it, and the next waits in the backlog.
		name: "devices fill the total", total: 4, perSource: 2,
		neighbours: map[string]string{"192.168.1.200": macDevice, "fd00::a": macDevice, "192.168.1.10": macOwner, "192.168.1.11": macOther},
		steps: []step{
			{"192.168.1.200", 1, admitted},
			{"fd00::a", 1, admitted},
			{"fd00::a", 1, refused}, // the device's half of four
			{"192.168.1.10", 2, admitted},
			{"192.168.1.11", 1, waits},
		},
		refused: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOfferer(t, tc.total, tc.perSource, ByDevice(newHolder(t, tc.neighbours).lookup))
			for _, s := range tc.steps {
				// A step that should wait is given a moment; one that should
				// be served or refused gets an answer at once, however
				// loaded the machine.
				patience := 10 * time.Second
				if s.want == waits {
					patience = 200 * time.Millisecond
				}
				for i := range s.n {
					if got := o.offer(s.addr, patience); got != s.want {
						t.Errorf("%s, connection %d of %d: %s, want %s", s.addr, i+1, s.n, got, s.want)
					}
					if o.dead {
						break
					}
				}
				if o.dead {
					break
				}
			}
			if got := o.l.Refused(); got != tc.refused {
				t.Errorf("Refused() = %d, want %d", got, tc.refused)
			}
			o.closeAll()
		})
	}
}

// TestReleaseWhatWasAdmitted: a connection gives back the share it was
// admitted on, though the neighbour table has changed since (the entry
// expired, the address moved to another device).
func TestReleaseWhatWasAdmitted(t *testing.T) {
	h := newHolder(t, map[string]string{"192.168.1.200": macDevice, "fd00::a": macDevice})
	o := newOfferer(t, 8, 2, ByDevice(h.lookup))
	for _, addr := range []string{"192.168.1.200", "fd00::a"} {
		if got := o.offer(addr, 10*time.Second); got != admitted {
			t.Fatalf("%s: %s, want admitted", addr, got)
		}
	}
	h.set(t, "192.168.1.200", "")
	h.set(t, "fd00::a", macOther)
	o.advance(holderTTL) // the answers kept have expired
	o.closeAll()
	h.set(t, "fd00::a", macDevice)
	for _, addr := range []string{"fd00::a", "fd00::a"} {
		if got := o.offer(addr, 10*time.Second); got != admitted {
			t.Errorf("%s after its device's connections closed: %s, want admitted", addr, got)
		}
	}
	o.closeAll()
}

// TestHolderAsked: the lookup is asked about the address as the kernel
// names it (IPv4 unmapped, a link-local address with its interface);
// the zone does not make another address. A connection beyond its
// address's share is refused without asking.
func TestHolderAsked(t *testing.T) {
	h := newHolder(t, nil)
	o := newOfferer(t, 8, 2, ByDevice(h.lookup))
	for _, tc := range []struct {
		addr string
		want outcome
	}{
		{"::ffff:192.0.2.1", admitted},
		{"fe80::1%br-lan", admitted},
		{"fe80::1%br-guest", admitted},
		{"fe80::1%br-lan", refused}, // one address, counted once: not asked
	} {
		if got := o.offer(tc.addr, 10*time.Second); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.addr, got, tc.want)
		}
	}
	want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("fe80::1%br-lan"), netip.MustParseAddr("fe80::1%br-guest")}
	if !slices.Equal(h.asked, want) {
		t.Errorf("asked about %v, want %v", h.asked, want)
	}
	o.closeAll()
}

// TestHolderAnswersKept: repeated connections from one address within
// holderTTL cost one lookup, the next one after it another; loopback
// addresses are never asked about; at most maxHolders answers are kept.
func TestHolderAnswersKept(t *testing.T) {
	h := newHolder(t, map[string]string{"192.168.1.200": macDevice})
	o := newOfferer(t, 8, 8, ByDevice(h.lookup))
	asked := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.asked)
	}
	offerAndClose := func(addr string) {
		t.Helper()
		if got := o.offer(addr, 10*time.Second); got != admitted {
			t.Fatalf("%s: %s, want admitted", addr, got)
		}
		o.closeAll()
	}
	for range 5 {
		offerAndClose("192.168.1.200")
		o.advance(holderTTL / 5)
	}
	if n := asked(); n != 1 {
		t.Errorf("five connections within %v: %d lookups, want 1", holderTTL, n)
	}
	o.advance(holderTTL / 5) // holderTTL since the lookup
	offerAndClose("192.168.1.200")
	if n := asked(); n != 2 {
		t.Errorf("a connection after %v: %d lookups in all, want 2", holderTTL, n)
	}
	// A changed answer is seen after holderTTL, not before.
	h.set(t, "192.168.1.200", macOther)
	offerAndClose("192.168.1.200")
	if g := o.l.groupOf(netip.MustParseAddr("192.168.1.200")); g.mac.String() != macDevice {
		t.Errorf("within %v of the lookup: group %v, want %s", holderTTL, g, macDevice)
	}
	o.advance(holderTTL)
	if g := o.l.groupOf(netip.MustParseAddr("192.168.1.200")); g.mac.String() != macOther {
		t.Errorf("after %v: group %v, want %s", holderTTL, g, macOther)
	}

	before := asked()
	for _, addr := range []string{"127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"} {
		offerAndClose(addr)
	}
	if n := asked() - before; n != 0 {
		t.Errorf("loopback clients: %d lookups, want none", n)
	}

	// A device making up addresses while the owner keeps connecting: the
	// table stays bounded, and the owner's answer stays in it.
	const owner = "192.168.1.10"
	offerAndClose(owner)
	before = asked()
	for i := range 3 * maxHolders {
		addr := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()
		offerAndClose(addr)
		if i%64 == 0 {
			offerAndClose(owner)
		}
		o.l.mu.Lock()
		n := len(o.l.holders)
		o.l.mu.Unlock()
		if n > maxHolders {
			t.Fatalf("after %d addresses: %d answers kept, want at most %d", i+1, n, maxHolders)
		}
	}
	if n := asked() - before; n != 3*maxHolders {
		t.Errorf("%d addresses and the owner's: %d lookups, want one for each new address and none for the owner's", 3*maxHolders, n)
	}
}

// TestDeviceShareOverTCP: over real connections, each address of a
// device holds its share and the device half the total; an address
// without a MAC is still served.
func TestDeviceShareOverTCP(t *testing.T) {
	h := newHolder(t, map[string]string{"192.168.1.2": macDevice, "192.168.1.3": macDevice, "192.168.1.4": macDevice})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(testenv.LANView(ln), 8, 2, ByDevice(h.lookup))
	addr := ln.Addr().String()
	accepted := served(t, l)
	for _, src := range []string{"127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"} {
		dialFrom(t, src, addr)
		receive(t, accepted)
	}
	testenv.ExpectRefused(t, dialFrom(t, "127.0.0.3", addr), nil, "a third connection from the device's second address")
	testenv.ExpectRefused(t, dialFrom(t, "127.0.0.4", addr), nil, "a connection from the device's third address, beyond its half")
	dialFrom(t, "127.0.0.5", addr)
	if got := receive(t, accepted).RemoteAddr().(*net.TCPAddr).IP.String(); got != "192.168.1.5" {
		t.Errorf("accepted a connection from %s, want 192.168.1.5", got)
	}
}
