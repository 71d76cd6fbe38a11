package web

import (
	"errors"
	"net"
	"sync"
	"time"
)

// writeStallTimeout is how long one write to a client may wait for it to
// read. A device that stops reading (its TCP receive window stays shut)
// would otherwise hold its connection, and the handler writing to it,
// for as long as it answers the kernel's window probes: no read, idle or
// header timeout ends a connection that is busy writing. The page sets
// no http.Server.WriteTimeout, which counts from the request and would
// end the event stream and a login waiting its turn for the password
// hash; a bound on each write ends only a client that stopped reading.
// Writes are at most a TLS record (16 KiB), so this allows the slowest
// link some 500 bytes a second.
const writeStallTimeout = 30 * time.Second

// stallListener bounds each write of its connections (stallConn).
type stallListener struct {
	net.Listener
	timeout time.Duration
}

func (l stallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &stallConn{Conn: c, timeout: l.timeout}, nil
}

// stallConn fails a write that has waited timeout, or the deadline its
// user set if that comes first. It keeps CloseWrite, which net/http looks
// for on a *net.TCPConn to half-close before an error answer's close; not
// ReadFrom, whose sendfile would escape the bound on each write.
type stallConn struct {
	net.Conn
	timeout time.Duration

	mu       sync.Mutex
	deadline time.Time // the user's write deadline; zero: none
}

func (c *stallConn) Write(p []byte) (int, error) {
	d := time.Now().Add(c.timeout)
	c.mu.Lock()
	if !c.deadline.IsZero() && c.deadline.Before(d) {
		d = c.deadline
	}
	c.mu.Unlock()
	if err := c.Conn.SetWriteDeadline(d); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *stallConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

func (c *stallConn) SetDeadline(t time.Time) error {
	c.setUsers(t)
	return c.Conn.SetDeadline(t)
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.setUsers(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) setUsers(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
}
