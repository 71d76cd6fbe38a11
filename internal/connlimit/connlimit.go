// Package connlimit bounds the connections a listener serves, in all and
// from any one source, so that one device on the LAN (a compromised camera
// holding connections open) cannot take every slot of the owner's page,
// the notice page or the DNS proxy from the others.
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

// Listener serves at most total connections at once, and at most
// perSource of them from one source.
//
// A source is a device when the listener counts by device (ByDevice) and
// the device's MAC is known: a device on the LAN can give itself any free
// IPv4 address (no DHCP needed) and any number of IPv6 addresses in the
// LAN's /64, but the router reaches all of them at its one MAC. Otherwise
// (no lookup, or no MAC for the address: loopback, a tunnel, a client
// behind another router) a source is an IP address, and the IPv6 /64 of
// such addresses holds at most half the total, so that made-up addresses
// in it cannot take the slots the IPv4 clients need.
//
// Accept waits while all slots are taken, as x/net/netutil's
// LimitListener does, so the excess waits in the kernel's backlog rather
// than in memory. A connection beyond its source's share is closed at
// once instead: waiting for it would hold up every other source.
type Listener struct {
	net.Listener
	perSource int
	perPrefix int
	holder    func(netip.Addr) (hwaddr.MAC, bool)
	slots     chan struct{}
	closeOnce sync.Once
	done      chan struct{}

	mu        sync.Mutex
	bySource  map[sourceKey]int    // sources with open connections only
	byPrefix  map[netip.Prefix]int // IPv6 /64s of addresses without a MAC, with open connections only
	refused   uint64
	failures  int // consecutive Accept errors, for the back-off
	sleepFunc func(time.Duration, <-chan struct{})
}

// Option configures a Listener.
type Option func(*Listener)

// ByDevice counts shares by device: holder returns the MAC that holds a
// client's address on the LAN (netwatch.HolderOf: the kernel's neighbour
// table), or false when it knows none. The router has just answered the
// client's handshake, so a neighbour on the LAN has an entry. It is
// called once per accepted connection, outside any lock. A nil holder
// counts by address.
func ByDevice(holder func(netip.Addr) (hwaddr.MAC, bool)) Option {
	return func(l *Listener) { l.holder = holder }
}

// New limits l to total connections and perSource from one source (at
// least 1 and at most total); addresses without a MAC share half the total
// (at least perSource) per IPv6 /64.
func New(l net.Listener, total, perSource int, opts ...Option) *Listener {
	total = max(total, 1)
	perSource = min(max(perSource, 1), total)
	ll := &Listener{
		Listener:  l,
		perSource: perSource,
		perPrefix: max(total/2, perSource),
		slots:     make(chan struct{}, total),
		done:      make(chan struct{}),
		bySource:  map[sourceKey]int{},
		byPrefix:  map[netip.Prefix]int{},
		sleepFunc: sleep,
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
		src := l.sourceOf(c)
		if l.admit(src) {
			return &conn{Conn: c, l: l, src: src}, nil
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

func (l *Listener) admit(src source) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bySource[src.key] >= l.perSource || src.prefix.IsValid() && l.byPrefix[src.prefix] >= l.perPrefix {
		l.refused++
		return false
	}
	l.bySource[src.key]++
	if src.prefix.IsValid() {
		l.byPrefix[src.prefix]++
	}
	return true
}

// release gives back what admit counted for src. src is the one admit
// saw, not looked up again: the holder's answer may have changed since.
func (l *Listener) release(src source) {
	l.mu.Lock()
	decrement(l.bySource, src.key)
	if src.prefix.IsValid() {
		decrement(l.byPrefix, src.prefix)
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

// sourceKey is what a share is counted against: a device's MAC, or, when
// none is known, an address (and the MAC is zero).
type sourceKey struct {
	mac  hwaddr.MAC
	addr netip.Addr
}

// source is a connection's share key and, for an IPv6 address without a
// MAC, its /64 (an invalid Prefix otherwise).
type source struct {
	key    sourceKey
	prefix netip.Prefix
}

// sourceOf is the source of the connection: its device when the holder
// knows the MAC at its remote address, else that address (without zone).
// Connections without an IP address (a Unix socket) share the zero Addr.
func (l *Listener) sourceOf(c net.Conn) source {
	ta, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return source{}
	}
	a := ta.AddrPort().Addr().Unmap() // with the zone of a link-local address
	if !a.IsValid() {
		return source{}
	}
	if l.holder != nil {
		if mac, ok := l.holder(a); ok && !mac.IsZero() {
			return source{key: sourceKey{mac: mac}}
		}
	}
	src := source{key: sourceKey{addr: a.WithZone("")}}
	if a.Is6() {
		src.prefix = netip.PrefixFrom(a, 64).Masked()
	}
	return src
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
