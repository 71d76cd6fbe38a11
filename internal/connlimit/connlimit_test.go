package connlimit

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
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
	if n := remembered(l); n != 0 {
		t.Errorf("%d sources remembered after all connections closed", n)
	}
}

// remembered is how many addresses and groups l keeps counts for.
func remembered(l *Listener) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.bySource) + len(l.byGroup)
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

// fakeListener hands out the connections and errors queued on it, and
// errEmpty when there are none.
type fakeListener struct {
	next chan any // net.Conn or error
}

var errEmpty = errors.New("nothing queued")

func (f *fakeListener) Accept() (net.Conn, error) {
	select {
	case v := <-f.next:
		if c, ok := v.(net.Conn); ok {
			return c, nil
		}
		return nil, v.(error)
	default:
		return nil, errEmpty
	}
}
func (f *fakeListener) Close() error   { return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// fakeConn is a connection from a chosen address.
type fakeConn struct {
	net.Conn
	remote net.Addr
	closed bool
}

func (c *fakeConn) RemoteAddr() net.Addr { return c.remote }
func (c *fakeConn) Close() error         { c.closed = true; return nil }

// from is a connection from addr, which may carry a zone
// ("fe80::1%br-lan").
func from(addr string) *fakeConn {
	a := netip.MustParseAddr(addr)
	return &fakeConn{remote: &net.TCPAddr{IP: a.AsSlice(), Zone: a.Zone(), Port: 40000}}
}

// TestShares: one address holds perSource, one IPv6 /64 half the total,
// IPv4 addresses count one by one, and a refused source does not use up
// the total.
func TestShares(t *testing.T) {
	f := &fakeListener{next: make(chan any, 64)}
	l := New(f, 8, 2)
	l.sleepFunc = func(time.Duration, <-chan struct{}) {}
	var open []net.Conn
	accept := func(addr string) bool {
		t.Helper()
		c := from(addr)
		f.next <- c
		got, err := l.Accept()
		if errors.Is(err, errEmpty) { // c was refused: Accept went on
			if !c.closed {
				t.Fatalf("%s was refused but left open", addr)
			}
			return false
		}
		if err != nil || got.(*conn).Conn != c {
			t.Fatalf("Accept gave %v, %v", got, err)
		}
		open = append(open, got)
		return true
	}
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"2001:db8:0:1::a", true},
		{"2001:db8:0:1::a", true},
		{"2001:db8:0:1::a", false}, // its address's share
		{"2001:db8:0:1::b", true},
		{"2001:db8:0:1::c", true},  // four in the /64: half of eight
		{"2001:db8:0:1::d", false}, // the /64's share
		{"2001:db8:0:2::d", true},  // another /64
		{"::ffff:192.0.2.1", true}, // IPv4, mapped or not, counts by address
		{"192.0.2.1", true},
		{"192.0.2.1", false},
	} {
		if got := accept(tc.addr); got != tc.want {
			t.Errorf("%s: admitted %v, want %v", tc.addr, got, tc.want)
		}
	}
	if l.Refused() != 3 {
		t.Errorf("Refused() = %d, want 3", l.Refused())
	}
	for _, c := range open {
		c.Close()
	}
	if n := remembered(l); n != 0 || len(l.slots) != 0 {
		t.Errorf("after closing all: %d sources remembered, %d slots held", n, len(l.slots))
	}
}

// TestAcceptBackOff: failing Accepts pause 5 ms, doubling up to a second,
// and a success starts again from 5 ms; a closed listener does not pause.
func TestAcceptBackOff(t *testing.T) {
	f := &fakeListener{next: make(chan any, 64)}
	l := New(f, 4, 4)
	var pauses []time.Duration
	l.sleepFunc = func(d time.Duration, _ <-chan struct{}) { pauses = append(pauses, d) }
	emfile := &net.OpError{Op: "accept", Err: syscall.EMFILE}
	fail := func(n int, err error) {
		for range n {
			f.next <- err
			if _, got := l.Accept(); got != err {
				t.Fatalf("Accept returned %v, want %v", got, err)
			}
		}
	}
	fail(10, emfile)
	f.next <- from("192.0.2.1")
	if c, err := l.Accept(); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
	fail(1, emfile)
	fail(1, net.ErrClosed)
	ms := time.Millisecond
	want := []time.Duration{5 * ms, 10 * ms, 20 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, time.Second, time.Second, 5 * ms}
	if !slices.Equal(pauses, want) {
		t.Errorf("pauses %v, want %v", pauses, want)
	}
	if len(l.slots) != 0 {
		t.Errorf("%d slots held after failed Accepts", len(l.slots))
	}
}

// TestConnKeepsTCPMethods: net/http half-closes through CloseWrite and
// sends files through ReadFrom; the wrapper passes both on.
func TestConnKeepsTCPMethods(t *testing.T) {
	l, addr := listen(t, 2, 2)
	accepted := served(t, l)
	client := dialFrom(t, "127.0.0.2", addr)
	server := receive(t, accepted)
	defer server.Close()
	rf, ok := server.(io.ReaderFrom)
	if !ok {
		t.Fatal("the connection has no ReadFrom")
	}
	if n, err := rf.ReadFrom(strings.NewReader("hello")); n != 5 || err != nil {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	cw, ok := server.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("the connection has no CloseWrite")
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(client) // ends at the half-close, not at Close
	if string(got) != "hello" || err != nil {
		t.Errorf("client read %q, %v", got, err)
	}
}
