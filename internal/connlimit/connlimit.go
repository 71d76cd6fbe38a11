// Package connlimit bounds the connections a listener serves, in all and
// from any one source address, so that one device on the LAN (a
// compromised camera holding connections open) cannot take every slot of
// the owner's page, the notice page or the DNS proxy from the others.
package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Listener serves at most Total connections at once, and at most
// PerSource from one IP address. Accept waits while all slots are taken,
// as x/net/netutil's LimitListener does, so the excess waits in the
// kernel's backlog rather than in memory. A connection over its source's
// share is closed at once instead: waiting for it would hold up every
// other source.
type Listener struct {
	net.Listener
	perSource int
	slots     chan struct{}
	closeOnce sync.Once
	done      chan struct{}

	mu       sync.Mutex
	bySource map[netip.Addr]int // sources with open connections only
	refused  uint64
}

// New limits l. perSource is at least 1 and at most total.
func New(l net.Listener, total, perSource int) *Listener {
	total = max(total, 1)
	return &Listener{
		Listener:  l,
		perSource: min(max(perSource, 1), total),
		slots:     make(chan struct{}, total),
		done:      make(chan struct{}),
		bySource:  map[netip.Addr]int{},
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
			return nil, err
		}
		src := sourceOf(c)
		if l.admit(src) {
			return &conn{Conn: c, l: l, src: src}, nil
		}
		c.Close()
		<-l.slots
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
	if l.bySource[src] >= l.perSource {
		l.refused++
		return false
	}
	l.bySource[src]++
	return true
}

func (l *Listener) release(src netip.Addr) {
	l.mu.Lock()
	if n := l.bySource[src] - 1; n > 0 {
		l.bySource[src] = n
	} else {
		delete(l.bySource, src)
	}
	l.mu.Unlock()
	<-l.slots
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

// conn gives its slot back on the first Close.
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
