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
)

// Listener serves at most total connections at once. Of them, one IP
// address holds at most perSource, and one IPv6 /64 at most half the
// total: a home LAN is a single /64, in which any host can give itself
// as many addresses as it likes, so the /64 share keeps IPv6 from taking
// the slots IPv4 clients (the owner's browser) need.
//
// Accept waits while all slots are taken, as x/net/netutil's
// LimitListener does, so the excess waits in the kernel's backlog rather
// than in memory. A connection beyond its source's share is closed at
// once instead: waiting for it would hold up every other source.
type Listener struct {
	net.Listener
	perSource int
	perPrefix int
	slots     chan struct{}
	closeOnce sync.Once
	done      chan struct{}

	mu        sync.Mutex
	byAddr    map[netip.Addr]int   // sources with open connections only
	byPrefix  map[netip.Prefix]int // IPv6 /64s with open connections only
	refused   uint64
	failures  int // consecutive Accept errors, for the back-off
	sleepFunc func(time.Duration, <-chan struct{})
}

// New limits l to total connections, perSource from one address (at
// least 1 and at most total) and half the total (at least perSource)
// from one IPv6 /64.
func New(l net.Listener, total, perSource int) *Listener {
	total = max(total, 1)
	perSource = min(max(perSource, 1), total)
	return &Listener{
		Listener:  l,
		perSource: perSource,
		perPrefix: max(total/2, perSource),
		slots:     make(chan struct{}, total),
		done:      make(chan struct{}),
		byAddr:    map[netip.Addr]int{},
		byPrefix:  map[netip.Prefix]int{},
		sleepFunc: sleep,
	}
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
		src := sourceOf(c)
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

func (l *Listener) admit(src netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, v6 := prefixOf(src)
	if l.byAddr[src] >= l.perSource || v6 && l.byPrefix[p] >= l.perPrefix {
		l.refused++
		return false
	}
	l.byAddr[src]++
	if v6 {
		l.byPrefix[p]++
	}
	return true
}

func (l *Listener) release(src netip.Addr) {
	l.mu.Lock()
	decrement(l.byAddr, src)
	if p, v6 := prefixOf(src); v6 {
		decrement(l.byPrefix, p)
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

// prefixOf is the /64 of an IPv6 source.
func prefixOf(a netip.Addr) (netip.Prefix, bool) {
	if !a.Is6() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, 64).Masked(), true
}

// sourceOf is the connection's remote IP address; connections without one
// (a Unix socket) share the zero Addr.
func sourceOf(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

// conn gives its slot back on the first Close. It keeps what net/http
// looks for on a *net.TCPConn: CloseWrite (a half-close before an error
// response's close) and ReadFrom (sendfile).
type conn struct {
	net.Conn
	l       *Listener
	src     netip.Addr
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
