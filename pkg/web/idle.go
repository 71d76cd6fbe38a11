package web

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// idleTimeout is how long a connection that has carried a logged-in
// session stays open between requests: the owner's next click.
const idleTimeout = 2 * time.Minute

// guestIdleTimeout is how long any other connection does. The login and
// setup pages need no connection kept for the next request (a browser
// opens another when the owner submits), and a device on the LAN that
// holds connections open between requests must request at least this
// often to keep its slots.
const guestIdleTimeout = 15 * time.Second

// guestIdle closes the connections that have carried no logged-in
// session once they have been idle for the guest timeout; net/http's
// IdleTimeout (idleTimeout) applies to the others. net/http sets one idle
// timeout for all connections, so this is done through its hooks: a
// connection is marked in its context when a request on it carries a
// logged-in session (identify), and a timer armed when it turns idle
// closes it, as Server.Shutdown closes idle connections.
type guestIdle struct {
	timeout time.Duration

	mu    sync.Mutex
	conns map[net.Conn]*connInfo // open connections
}

// connInfo is what guestIdle keeps for one connection.
type connInfo struct {
	owner atomic.Bool // a request on it carried a logged-in session
	timer *time.Timer // while idle without owner; guarded by guestIdle.mu
}

type connInfoKey struct{}

func newGuestIdle(timeout time.Duration) *guestIdle {
	return &guestIdle{timeout: timeout, conns: map[net.Conn]*connInfo{}}
}

// connContext is the server's ConnContext: it registers c.
func (g *guestIdle) connContext(ctx context.Context, c net.Conn) context.Context {
	ci := &connInfo{}
	g.mu.Lock()
	g.conns[c] = ci
	g.mu.Unlock()
	return context.WithValue(ctx, connInfoKey{}, ci)
}

// connState is the server's ConnState: it arms the timer of a guest
// connection that turns idle, and disarms it when a request begins.
func (g *guestIdle) connState(c net.Conn, st http.ConnState) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ci := g.conns[c]
	if ci == nil {
		return
	}
	if ci.timer != nil {
		ci.timer.Stop()
		ci.timer = nil
	}
	switch st {
	case http.StateIdle:
		if ci.owner.Load() {
			return
		}
		var t *time.Timer
		t = time.AfterFunc(g.timeout, func() {
			g.mu.Lock()
			current := ci.timer == t
			if current {
				ci.timer = nil
			}
			g.mu.Unlock()
			if current { // still idle since it was armed
				c.Close()
			}
		})
		ci.timer = t
	case http.StateClosed, http.StateHijacked:
		delete(g.conns, c)
	}
}

// markOwner notes that r carried a logged-in session: its connection
// keeps the owner's idle timeout from now on.
func markOwner(r *http.Request) {
	if ci, ok := r.Context().Value(connInfoKey{}).(*connInfo); ok {
		ci.owner.Store(true)
	}
}
