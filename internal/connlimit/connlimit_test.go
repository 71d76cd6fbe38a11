package connlimit

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
)

// served runs l's accept loop and passes each accepted connection on;
// the server side neither reads nor writes, and closes a connection only
// when the test does.
func served(t *testing.T, l *Listener) <-chan net.Conn {
	t.Helper()
	accepted := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() { l.Close() })
	return accepted
}

func listen(t *testing.T, total, perSource int) (*Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return New(ln, total, perSource), ln.Addr().String()
}

// dialFrom connects to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// stillOpen reports whether c is still open a moment later: the read
// times out rather than seeing EOF or a reset.
func stillOpen(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func receive(t *testing.T, accepted <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c := <-accepted:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection was accepted")
		return nil
	}
}

func TestPerSourceShare(t *testing.T) {
	l, addr := listen(t, 8, 2)
	accepted := served(t, l)
	a1, a2 := dialFrom(t, "127.0.0.2", addr), dialFrom(t, "127.0.0.2", addr)
	s1, s2 := receive(t, accepted), receive(t, accepted)
	// The third from the same source is over its share and closed; it
	// never reaches the server.
	testenv.ExpectRefused(t, dialFrom(t, "127.0.0.2", addr), nil, "a third connection from one source")
	// Another source is still served.
	dialFrom(t, "127.0.0.3", addr)
	if got := receive(t, accepted).RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.3" {
		t.Errorf("accepted a connection from %s, want 127.0.0.3", got)
	}
	if l.Refused() != 1 {
		t.Errorf("Refused() = %d, want 1", l.Refused())
	}
	if !stillOpen(a1) || !stillOpen(a2) {
		t.Error("connections within the share were closed")
	}
	// Closing one (twice: the second Close gives nothing back) frees
	// exactly one place of the source's share.
	s1.Close()
	s1.Close()
	dialFrom(t, "127.0.0.2", addr)
	receive(t, accepted)
	testenv.ExpectRefused(t, dialFrom(t, "127.0.0.2", addr), nil, "a connection after a double Close (it must give one place back)")
	s2.Close()
}

func TestTotalWaits(t *testing.T) {
	l, addr := listen(t, 2, 2)
	accepted := served(t, l)
	dialFrom(t, "127.0.0.2", addr)
	dialFrom(t, "127.0.0.3", addr)
	first := receive(t, accepted)
	receive(t, accepted)
	// The third waits in the backlog, neither served nor closed ...
	waiting := dialFrom(t, "127.0.0.4", addr)
	select {
	case c := <-accepted:
		t.Fatalf("a connection from %v was accepted beyond the total", c.RemoteAddr())
	case <-time.After(200 * time.Millisecond):
	}
	if !stillOpen(waiting) {
		t.Fatal("the waiting connection was closed")
	}
	// ... until a slot is free.
	first.Close()
	if got := receive(t, accepted).RemoteAddr().(*net.TCPAddr).IP.String(); got != "127.0.0.4" {
		t.Errorf("accepted %s, want the waiting 127.0.0.4", got)
	}
}

func TestCloseWakesAccept(t *testing.T) {
	l, addr := listen(t, 1, 1)
	accepted := served(t, l)
	dialFrom(t, "127.0.0.2", addr)
	receive(t, accepted) // the only slot is taken: Accept now waits for it
	l.Close()
	select {
	case _, ok := <-accepted:
		if ok {
			t.Fatal("accepted a connection after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept still waits after Close")
	}
}

// TestSourcesForgotten: the per-source table holds only sources with open
// connections, so it is bounded by the total.
func TestSourcesForgotten(t *testing.T) {
	l, addr := listen(t, 4, 4)
	accepted := served(t, l)
	for _, src := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		dialFrom(t, src, addr)
		c := receive(t, accepted)
		io.WriteString(c, "x")
		c.Close()
	}
	l.mu.Lock()
	n := len(l.bySource)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("%d sources remembered after all connections closed", n)
	}
}

func TestBounds(t *testing.T) {
	for _, tc := range []struct{ total, perSource, wantTotal, wantPer int }{
		{32, 8, 32, 8}, {0, 0, 1, 1}, {4, 9, 4, 4}, {-1, -1, 1, 1},
	} {
		l := New(nil, tc.total, tc.perSource)
		if cap(l.slots) != tc.wantTotal || l.perSource != tc.wantPer {
			t.Errorf("New(%d, %d): total %d per source %d, want %d and %d", tc.total, tc.perSource, cap(l.slots), l.perSource, tc.wantTotal, tc.wantPer)
		}
	}
}
