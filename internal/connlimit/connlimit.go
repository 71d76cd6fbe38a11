// Package connlimit bounds the connections a listener serves, in all,
// from any one address and from any one device, so that one device on the
// LAN (a compromised camera holding connections open) cannot take every
// slot of the owner's page, the notice page or the DNS proxy from the
// others.
package connlimit

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Listener serves at most total connections at once, at most perSource
// of them from one address, and at most half the total (at least
// perSource) from one group of addresses.
//
// The group is the device when the listener counts by device (ByDevice)
// and the holder knows the address's MAC: a device on the LAN can give
// itself any free IPv4 address (no DHCP needed) and any number of IPv6
// addresses in the LAN's /64, but the router reaches all of them at its
// one MAC, so however many addresses it makes up, it holds at most half
// the slots and the owner has the other half. The share stays per
// address: a Wi-Fi extender in client mode that rewrites MACs, or a
// relayd pseudo-bridge, puts every host behind it under its one MAC, and
// a camera there holding its share must not take the owner's laptop's
// behind the same extender (though the half they share can be taken by
// a camera using two addresses). Without a MAC (no lookup; loopback, a tunnel, a client behind
// another router) an IPv6 address's group is its /64, so that made-up
// addresses in it cannot take the slots the IPv4 clients need; an IPv4
// address without a MAC is in no group.
//
// Accept waits while all slots are taken, as x/net/netutil's
// LimitListener does, so the excess waits in the kernel's backlog rather
// than in memory. A connection beyond its address's share or its group's
// is closed at once instead: waiting for it would hold up every other
// source.
type Listener struct {
	net.Listener
	perSource int
	perGroup  int
	holder    func(netip.Addr) (hwaddr.MAC, bool)
	slots     chan struct{}
	closeOnce sync.Once
	done      chan struct{}

	mu        sync.Mutex
	bySource  map[netip.Addr]int  // addresses (without zone) with open connections only
	byGroup   map[group]int       // groups with open connections only
	holders   map[netip.Addr]held // the holder's recent answers, by address with zone
	uses      uint64              // connections looked up, the clock of held.used
	refused   uint64
	failures  int // consecutive Accept errors, for the back-off
	sleepFunc func(time.Duration, <-chan struct{})
	now       func() time.Time
}

// Option configures a Listener.
type Option func(*Listener)

// ByDevice groups addresses by device: holder returns the MAC that holds
// a client's address on the LAN (netwatch.HolderOf: the kernel's
// neighbour table), or false when it knows none. The router has just
// answered the client's handshake, so a neighbour on the LAN has an
// entry. It is called outside any lock, not for loopback addresses, and
// at most once per address in holderTTL (its answers are kept, for at
// most maxHolders addresses): a lookup costs netlink round trips (one
// or two per LAN interface), and a device opening connections one after
// another must not make every other client wait for as many. A nil
// holder groups IPv6 addresses by /64 only.
func ByDevice(holder func(netip.Addr) (hwaddr.MAC, bool)) Option {
	return func(l *Listener) { l.holder = holder }
}

// holderTTL is how long a holder's answer is kept: a neighbour entry
// outlives it, and an address that moves to another device is counted
// against the old one for a few seconds at most.
const holderTTL = 5 * time.Second

// maxHolders bounds the answers kept; when it is reached, expired ones are
// dropped, and all of them if none has expired.
const maxHolders = 256

// held is a holder's answer for an address: its MAC, or the zero MAC when
// it knew none.
type held struct {
	mac     hwaddr.MAC
	expires time.Time
	used    uint64 // when it last answered for a connection, in l.uses
}

// New limits l to total connections, perSource from one address (at least
// 1 and at most total) and half the total (at least perSource) from one
// group.
func New(l net.Listener, total, perSource int, opts ...Option) *Listener {
	total = max(total, 1)
	perSource = min(max(perSource, 1), total)
	ll := &Listener{
		Listener:  l,
		perSource: perSource,
		perGroup:  max(total/2, perSource),
		slots:     make(chan struct{}, total),
		done:      make(chan struct{}),
		bySource:  map[netip.Addr]int{},
		byGroup:   map[group]int{},
		holders:   map[netip.Addr]held{},
		sleepFunc: sleep,
		now:       time.Now,
	}
	for _, o := range opts {
		o(ll)
	}
	return ll
}

// Accept waits for a free slot and returns the next connection whose
// source is within its share.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
		c, err := l.Listener.Accept()
		if err != nil {
			<-l.slots
			l.backOff(err)
			return nil, err
		}
		l.mu.Lock()
		l.failures = 0
		l.mu.Unlock()
		a := remoteAddr(c)
		// A connection beyond its address's share is refused before the
		// holder is asked: a flood from one address costs no lookups.
		if !l.overShare(a.WithZone("")) {
			src := source{addr: a.WithZone(""), group: l.groupOf(a)}
			if l.admit(src) {
				return &conn{Conn: c, l: l, src: src}, nil
			}
		}
		c.Close()
		<-l.slots
	}
}

// maxBackOff bounds the pause after consecutive Accept errors.
const maxBackOff = time.Second

// backOff pauses after a failed Accept (out of file descriptors, say)
// before the server's loop calls again: miekg/dns retries at once, which
// would spin a core for as long as the condition lasts. 5 ms, doubling to
// a second, as net/http pauses; Close ends the pause.
func (l *Listener) backOff(err error) {
	if errors.Is(err, net.ErrClosed) {
		return
	}
	l.mu.Lock()
	l.failures++
	d := min(5*time.Millisecond<<min(l.failures-1, 8), maxBackOff)
	l.mu.Unlock()
	l.sleepFunc(d, l.done)
}

func sleep(d time.Duration, done <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}

// Close closes the listener and wakes an Accept waiting for a slot.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Refused is how many connections were closed for exceeding their
// source's share.
func (l *Listener) Refused() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refused
}

// overShare reports whether addr already holds its share, counting the
// connection as refused if so.
func (l *Listener) overShare(addr netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bySource[addr] >= l.perSource {
		l.refused++
		return true
	}
	return false
}

func (l *Listener) admit(src source) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	inGroup := src.group != group{}
	if l.bySource[src.addr] >= l.perSource || inGroup && l.byGroup[src.group] >= l.perGroup {
		l.refused++
		return false
	}
	l.bySource[src.addr]++
	if inGroup {
		l.byGroup[src.group]++
	}
	return true
}

// release gives back what admit counted for src. src is the one admit
// saw, not looked up again: the holder's answer may have changed since.
func (l *Listener) release(src source) {
	l.mu.Lock()
	decrement(l.bySource, src.addr)
	if src.group != (group{}) {
		decrement(l.byGroup, src.group)
	}
	l.mu.Unlock()
	<-l.slots
}

// decrement lowers m[k], deleting it at zero so that m holds only keys
// with open connections.
func decrement[K comparable](m map[K]int, k K) {
	if n := m[k] - 1; n > 0 {
		m[k] = n
	} else {
		delete(m, k)
	}
}

// group is what addresses share half the total against: a device's MAC,
// or, for an IPv6 address without one, its /64. The zero group is none.
type group struct {
	mac    hwaddr.MAC
	prefix netip.Prefix
}

// source is what a connection was admitted on: its address (without
// zone) and its group.
type source struct {
	addr  netip.Addr
	group group
}

// remoteAddr is c's remote address, IPv4 unmapped, with the zone of a
// link-local address; the zero Addr for a connection without an IP
// address (a Unix socket), which all share.
func remoteAddr(c net.Conn) netip.Addr {
	ta, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}
	}
	return ta.AddrPort().Addr().Unmap()
}

// groupOf is a's group: the device the holder knows at a, else for IPv6
// its /64, else none.
func (l *Listener) groupOf(a netip.Addr) group {
	if !a.IsValid() {
		return group{}
	}
	if mac, ok := l.holderOf(a); ok {
		return group{mac: mac}
	}
	if a.Is6() {
		return group{prefix: netip.PrefixFrom(a.WithZone(""), 64).Masked()}
	}
	return group{}
}

// holderOf asks the holder for the MAC at a (with its zone: fe80::1 on
// two interfaces is two neighbours), or answers from a recent answer.
// Loopback addresses have no MAC and are not asked about.
func (l *Listener) holderOf(a netip.Addr) (hwaddr.MAC, bool) {
	if l.holder == nil || a.IsLoopback() {
		return hwaddr.MAC{}, false
	}
	l.mu.Lock()
	h, ok := l.holders[a]
	now := l.now()
	l.uses++
	if ok && now.Before(h.expires) {
		h.used = l.uses
		l.holders[a] = h
	}
	uses := l.uses
	l.mu.Unlock()
	if !ok || !now.Before(h.expires) {
		h = held{expires: now.Add(holderTTL), used: uses}
		if mac, ok := l.holder(a); ok {
			h.mac = mac
		}
		l.mu.Lock()
		l.remember(a, h, now)
		l.mu.Unlock()
	}
	return h.mac, !h.mac.IsZero()
}

// remember keeps h for a, making room when maxHolders answers are kept:
// the expired ones go, or else the one least recently used. Not all of
// them: a device making up new addresses would then have every other
// client's answer looked up again, where now a client that keeps
// connecting (the owner's browser) keeps its answer. l.mu is held.
func (l *Listener) remember(a netip.Addr, h held, now time.Time) {
	if _, ok := l.holders[a]; !ok && len(l.holders) >= maxHolders {
		var stalest netip.Addr
		for k, v := range l.holders {
			if !now.Before(v.expires) {
				delete(l.holders, k)
			} else if !stalest.IsValid() || v.used < l.holders[stalest].used {
				stalest = k
			}
		}
		if len(l.holders) >= maxHolders {
			delete(l.holders, stalest)
		}
	}
	l.holders[a] = h
}

// conn gives its slot back on the first Close. It keeps what net/http
// looks for on a *net.TCPConn: CloseWrite (a half-close before an error
// response's close) and ReadFrom (sendfile).
type conn struct {
	net.Conn
	l       *Listener
	src     source
	release sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.release.Do(func() { c.l.release(c.src) })
	return err
}

func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c *conn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }
