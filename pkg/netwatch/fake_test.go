package netwatch

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// fakeClock is a clock whose time moves only when the test says so.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

type fakeTicker struct {
	c      chan time.Time
	period time.Duration
	next   time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTicker(d time.Duration) ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time, 1), period: d, next: c.now.Add(d)}
	c.tickers = append(c.tickers, t)
	return t
}

// Advance moves time on and fires the tickers that became due, dropping
// ticks a ticker has no room for, as time.Ticker does.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.tickers {
		if t.next.After(c.now) {
			continue
		}
		for !t.next.After(c.now) {
			t.next = t.next.Add(t.period)
		}
		select {
		case t.c <- c.now:
		default:
		}
	}
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }
func (t *fakeTicker) Stop()               {}

// fakeSource is a kernel whose tables the test writes. Each subscription
// first lists dump as netlinkSource lists the tables (listed), then
// delivers whatever the test feeds, and ends with the error the test
// sends on fail.
type fakeSource struct {
	mu         sync.Mutex
	dump       []kernelUpdate
	subscribes int

	feed chan kernelUpdate
	fail chan error
	subc chan int // receives the subscription's number when it starts
}

func newFakeSource(dump ...kernelUpdate) *fakeSource {
	return &fakeSource{
		dump: dump,
		feed: make(chan kernelUpdate),
		fail: make(chan error),
		subc: make(chan int, 16),
	}
}

func (s *fakeSource) Subscribe(ctx context.Context, updates chan<- kernelUpdate) error {
	s.mu.Lock()
	s.subscribes++
	n := s.subscribes
	dump := listed(s.dump)
	s.mu.Unlock()
	s.subc <- n
	for _, u := range dump {
		select {
		case updates <- u:
		case <-ctx.Done():
			return nil
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-s.fail:
			return err
		case u := <-s.feed:
			select {
			case updates <- u:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// listed is dump as Subscribe lists it: links, addresses and neighbours,
// each table closed by a kindListEnd.
func listed(dump []kernelUpdate) []kernelUpdate {
	out := []kernelUpdate{{kind: kindListStart}}
	for _, kind := range []updateKind{kindLink, kindAddr, kindNeigh} {
		for _, u := range dump {
			if u.kind == kind {
				out = append(out, u)
			}
		}
		out = append(out, kernelUpdate{kind: kindListEnd, listed: kind})
	}
	return out
}

func (s *fakeSource) List(ctx context.Context, max int) ([]kernelUpdate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]kernelUpdate(nil), s.dump...), nil
}

// Test data: a LAN bridge with the router at 10.97.0.1/24, a WAN port.
var (
	routerMAC = hwaddr.MAC{0x02, 0, 0, 0, 0, 0x01}
	wanMAC    = hwaddr.MAC{0x02, 0, 0, 0, 0, 0x02}
	camMAC    = hwaddr.MAC{0x00, 0x12, 0x34, 0x56, 0x78, 0x9a}
	plugMAC   = hwaddr.MAC{0x00, 0x12, 0x34, 0x56, 0x78, 0x9b}
	camIP     = netip.MustParseAddr("10.97.0.10")
	plugIP    = netip.MustParseAddr("10.97.0.11")
	routerIP  = netip.MustParseAddr("10.97.0.1")
)

const (
	lanIndex = 3
	wanIndex = 2
)

func lanLink(up bool) kernelUpdate {
	return kernelUpdate{kind: kindLink, index: lanIndex, iface: "br-lan", mac: routerMAC, hasMAC: true, up: up}
}

func wanLink(up bool) kernelUpdate {
	return kernelUpdate{kind: kindLink, index: wanIndex, iface: "wan", mac: wanMAC, hasMAC: true, up: up}
}

func routerAddr(prefix string) kernelUpdate {
	return kernelUpdate{kind: kindAddr, index: lanIndex, iface: "br-lan", prefix: netip.MustParsePrefix(prefix)}
}

// neigh is a reachable, just-confirmed ARP entry on br-lan.
func neigh(mac hwaddr.MAC, ip netip.Addr) kernelUpdate {
	fam := unix.AF_INET
	if ip.Is6() {
		fam = unix.AF_INET6
	}
	return kernelUpdate{
		kind: kindNeigh, index: lanIndex, iface: "br-lan", family: fam,
		state: unix.NUD_REACHABLE, ip: ip, mac: mac, hasMAC: true,
	}
}

// testLoop is a loop with a fake clock whose consumer channel holds size
// events; the router's LAN link and address are already known.
func testLoop(t *testing.T, cfg Config, size int) (*loop, *fakeClock, chan Event) {
	t.Helper()
	clk := newFakeClock()
	if cfg.LeaseFiles == nil {
		cfg.LeaseFiles = []string{}
	}
	w, err := New(cfg, withClock(clk))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan Event, size)
	l := newLoop(w, out)
	for _, u := range []kernelUpdate{lanLink(true), wanLink(true), routerAddr("10.97.0.1/24")} {
		l.handle(u)
		drain(out)
	}
	return l, clk, out
}

func withClock(c clock) Option { return func(w *Watcher) { w.clock = c } }

func withSource(s kernelSource) Option { return func(w *Watcher) { w.source = s } }

// drain empties out and returns what it held.
func drain(out chan Event) []Event {
	var evs []Event
	for {
		select {
		case ev := <-out:
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// next waits for the next event from a running watcher; the timeout only
// stops a broken test from hanging.
func next(t *testing.T, out <-chan Event) Event {
	t.Helper()
	select {
	case ev := <-out:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return nil
	}
}
