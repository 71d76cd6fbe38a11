package connlimit

import (
	"errors"
	"net"
	"net/netip"
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
}

func newOfferer(t *testing.T, total, perSource int, opts ...Option) *offerer {
	f := &fakeListener{next: make(chan any, 64)}
	l := New(f, total, perSource, opts...)
	l.sleepFunc = func(time.Duration, <-chan struct{}) {}
	return &offerer{t: t, f: f, l: l}
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
// laptop, another device.
const (
	macDevice = "02:00:00:00:00:0a"
	macOwner  = "02:00:00:00:00:0b"
	macOther  = "02:00:00:00:00:0c"
)

// TestOneDeviceOneShare: shares are counted by the MAC that holds the
// address, so a device that gives itself more addresses (IPv4 aliases
// without DHCP, any number in the LAN's IPv6 /64) gets no more slots.
// Addresses without a MAC count one by one, and the IPv6 ones share half
// the total per /64.
func TestOneDeviceOneShare(t *testing.T) {
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
		// four addresses and keeps them; by address it would hold all
		// 32 slots, the owner's IPv4 browser would wait in the backlog
		// and the owner's IPv6 one be refused for the /64's share.
		name: "made-up IPv4 and IPv6 addresses", total: 32, perSource: 8,
		neighbours: map[string]string{
			"fd00::a": macDevice, "fd00::b": macDevice, "192.168.1.200": macDevice, "192.168.1.201": macDevice,
			"192.168.1.10": macOwner, "fd00::1234": macOwner,
		},
		steps: []step{
			{"fd00::a", 8, admitted},
			{"fd00::b", 8, refused},
			{"192.168.1.200", 8, refused},
			{"192.168.1.201", 8, refused},
			{"192.168.1.10", 4, admitted},
			{"fd00::1234", 4, admitted},
			{"fd00::1234", 1, refused}, // the owner's own share
		},
		refused: 25,
	}, {
		// By address, two IPv6 addresses of one device fill the /64's
		// half of the slots and the owner's IPv6 browser is refused.
		name: "made-up IPv6 addresses", total: 32, perSource: 8,
		neighbours: map[string]string{"fd00::a": macDevice, "fd00::b": macDevice, "fd00::1234": macOwner},
		steps: []step{
			{"fd00::a", 8, admitted},
			{"fd00::b", 8, refused},
			{"fd00::1234", 8, admitted},
		},
		refused: 8,
	}, {
		// The /64 cap is for addresses without a MAC only: a device with
		// one is served in a /64 they filled, and they are not charged
		// for it.
		name: "a device in a /64 full of addresses without a MAC", total: 8, perSource: 2,
		neighbours: map[string]string{"2001:db8:0:1::d": macOther},
		steps: []step{
			{"2001:db8:0:1::a", 2, admitted},
			{"2001:db8:0:1::b", 2, admitted}, // four in the /64: half of eight
			{"2001:db8:0:1::c", 1, refused},  // the /64's share
			{"2001:db8:0:1::d", 2, admitted}, // a device: its own share
			{"2001:db8:0:1::d", 1, refused},  // and no more
			{"2001:db8:0:2::e", 1, admitted}, // another /64
			{"192.0.2.1", 1, admitted},       // IPv4 without a MAC: by address
			{"192.0.2.2", 1, waits},          // all eight taken
		},
		refused: 2,
	}, {
		// The total still holds: devices that each stay within their
		// share fill it, and the next waits in the backlog.
		name: "devices fill the total", total: 4, perSource: 2,
		neighbours: map[string]string{"192.168.1.200": macDevice, "fd00::a": macDevice, "192.168.1.10": macOwner, "192.168.1.11": macOther},
		steps: []step{
			{"192.168.1.200", 1, admitted},
			{"fd00::a", 1, admitted},
			{"fd00::a", 1, refused},
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
// without a MAC, the zone does not make another source.
func TestHolderAsked(t *testing.T) {
	h := newHolder(t, nil)
	o := newOfferer(t, 8, 1, ByDevice(h.lookup))
	for _, tc := range []struct {
		addr string
		want outcome
	}{
		{"::ffff:192.0.2.1", admitted},
		{"fe80::1%br-lan", admitted},
		{"fe80::1%br-guest", refused}, // one address, counted once
	} {
		if got := o.offer(tc.addr, 10*time.Second); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.addr, got, tc.want)
		}
	}
	want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("fe80::1%br-lan"), netip.MustParseAddr("fe80::1%br-guest")}
	if len(h.asked) != len(want) {
		t.Fatalf("asked about %v, want %v", h.asked, want)
	}
	for i := range want {
		if h.asked[i] != want[i] {
			t.Errorf("asked about %v, want %v", h.asked[i], want[i])
		}
	}
	o.closeAll()
}

// TestDeviceShareOverTCP: over real connections, two addresses of one
// device share one share, and an address without a MAC is still served.
func TestDeviceShareOverTCP(t *testing.T) {
	h := newHolder(t, map[string]string{"127.0.0.2": macDevice, "127.0.0.3": macDevice})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, 8, 2, ByDevice(h.lookup))
	addr := ln.Addr().String()
	accepted := served(t, l)
	dialFrom(t, "127.0.0.2", addr)
	dialFrom(t, "127.0.0.3", addr)
	receive(t, accepted)
	receive(t, accepted)
	testenv.ExpectRefused(t, dialFrom(t, "127.0.0.3", addr), nil, "a third connection from the device's second address")
	dialFrom(t, "127.0.0.4", addr)
	if got := receive(t, accepted).RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.4" {
		t.Errorf("accepted a connection from %s, want 127.0.0.4", got)
	}
}
