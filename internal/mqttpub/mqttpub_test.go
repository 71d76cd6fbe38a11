package mqttpub

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestAppendHeader(t *testing.T) {
	// The examples of MQTT 3.1.1, table 2.4, at each end of each size.
	for _, tc := range []struct {
		n    int
		want []byte
	}{
		{0, []byte{0x30, 0x00}},
		{127, []byte{0x30, 0x7f}},
		{128, []byte{0x30, 0x80, 0x01}},
		{16_383, []byte{0x30, 0xff, 0x7f}},
		{16_384, []byte{0x30, 0x80, 0x80, 0x01}},
		{2_097_151, []byte{0x30, 0xff, 0xff, 0x7f}},
		{2_097_152, []byte{0x30, 0x80, 0x80, 0x80, 0x01}},
		{maxRemaining, []byte{0x30, 0xff, 0xff, 0xff, 0x7f}},
	} {
		if got := appendHeader(nil, 0x30, tc.n); !bytes.Equal(got, tc.want) {
			t.Errorf("appendHeader(%d) = % x, want % x", tc.n, got, tc.want)
		}
	}
}

func TestReadPacket(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      []byte
		first   byte
		body    []byte
		wantErr string
	}{
		{"connack", []byte{0x20, 0x02, 0x00, 0x05}, 0x20, []byte{0, 5}, ""},
		{"puback", []byte{0x40, 0x02, 0x12, 0x34, 0xff}, 0x40, []byte{0x12, 0x34}, ""},
		{"pingresp", []byte{0xd0, 0x00}, 0xd0, []byte{}, ""},
		{"publish with flags, two-byte length", []byte{0x33, 0x80, 0x00}, 0x33, []byte{}, ""},
		{"empty", nil, 0, nil, "EOF"},
		{"no length", []byte{0x40}, 0, nil, "unexpected EOF"},
		{"short body", []byte{0x40, 0x02, 0x00}, 0, nil, "unexpected EOF"},
		{"length of five bytes", []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}, 0, nil, "longer than four bytes"},
		{"too large", []byte{0x30, 0x41}, 0, nil, "at most 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf [maxIncoming]byte
			first, body, err := readPacket(bytes.NewReader(tc.in), buf[:])
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || first != tc.first || !bytes.Equal(body, tc.body) {
				t.Fatalf("got %#x body % x err %v; want %#x body % x", first, body, err, tc.first, tc.body)
			}
		})
	}
}

// fakeBroker accepts one connection on loopback and runs script on it.
func fakeBroker(t *testing.T, script func(c net.Conn, r *bufio.Reader)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		script(c, bufio.NewReader(c))
	}()
	return l.Addr().String()
}

// expect reads one packet and fails the test unless it is want.
func expect(t *testing.T, r *bufio.Reader, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || !bytes.Equal(got, want) {
		t.Errorf("broker read % x (%v), want % x", got, err, want)
	}
}

// dialSilent connects with o to a broker that accepts the session and
// then never answers.
func dialSilent(t *testing.T, o Options) *Conn {
	t.Helper()
	o.Addr = fakeBroker(t, func(c net.Conn, r *bufio.Reader) {
		r.Discard(23)
		c.Write([]byte{0x20, 2, 0, 0})
		io.Copy(io.Discard, r)
	})
	c, err := Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func opts(addr string) Options {
	return Options{Addr: addr, ClientID: "gw", Username: "u", Password: "pw", KeepAlive: 60 * time.Second, Timeout: 5 * time.Second}
}

func TestSession(t *testing.T) {
	connect := []byte{0x10, 21, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xc2, 0, 60, 0, 2, 'g', 'w', 0, 1, 'u', 0, 2, 'p', 'w'}
	addr := fakeBroker(t, func(c net.Conn, r *bufio.Reader) {
		expect(t, r, connect)
		c.Write([]byte{0x20, 2, 0, 0})
		expect(t, r, []byte{0x33, 12, 0, 3, 'a', '/', 'b', 0, 1, 'h', 'e', 'l', 'l', 'o'}) // QoS 1, retained, id 1
		// A stray PINGRESP and another id's acknowledgement come first:
		// only PUBACK 1 completes the publish.
		c.Write([]byte{0xd0, 0, 0x40, 2, 0, 9, 0x40, 2, 0, 1})
		expect(t, r, []byte{0x32, 7, 0, 1, 'c', 0, 2, 'x', 'y'}) // not retained, id 2
		c.Write([]byte{0x40, 2, 0, 2})
		expect(t, r, []byte{0xe0, 0}) // DISCONNECT
	})
	ctx := context.Background()
	c, err := Dial(ctx, opts(addr))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, "a/b", []byte("hello"), true); err != nil {
		t.Fatal(err)
	}
	if !c.Usable() {
		t.Error("a live session is not usable")
	}
	if err := c.Publish(ctx, "c", []byte("xy"), false); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestConnectWithoutUsername(t *testing.T) {
	addr := fakeBroker(t, func(c net.Conn, r *bufio.Reader) {
		expect(t, r, []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 30, 0, 2, 'g', 'w'})
		c.Write([]byte{0x20, 2, 0, 0})
		io.Copy(io.Discard, r)
	})
	o := opts(addr)
	o.Username, o.Password, o.KeepAlive = "", "", 30*time.Second
	c, err := Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// A username without a password sends no password field.
func TestConnectWithoutPassword(t *testing.T) {
	addr := fakeBroker(t, func(c net.Conn, r *bufio.Reader) {
		expect(t, r, []byte{0x10, 17, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x82, 0, 60, 0, 2, 'g', 'w', 0, 1, 'u'})
		c.Write([]byte{0x20, 2, 0, 0})
		io.Copy(io.Discard, r)
	})
	o := opts(addr)
	o.Password = ""
	c, err := Dial(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		code      byte
		permanent bool
	}{{1, true}, {2, true}, {3, false}, {4, true}, {5, true}, {99, false}} {
		addr := fakeBroker(t, func(c net.Conn, r *bufio.Reader) {
			r.Discard(23)
			c.Write([]byte{0x20, 2, 0, tc.code})
		})
		_, err := Dial(context.Background(), opts(addr))
		var re *RefusedError
		if !errors.As(err, &re) || re.Code != tc.code || re.Permanent() != tc.permanent {
			t.Errorf("code %d: %v", tc.code, err)
		}
	}
}

func TestBadConnAck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer []byte
		want   string
	}{
		{"puback", []byte{0x40, 2, 0, 1}, "packet type 4"},
		{"flag bits", []byte{0x21, 2, 0, 0}, "packet type 2"},
		{"long", []byte{0x20, 3, 0, 0, 0}, "of 3 bytes"},
		{"session present", []byte{0x20, 2, 1, 0}, "flags 0x1"},
	} {
		addr := fakeBroker(t, func(c net.Conn, r *bufio.Reader) {
			r.Discard(23)
			c.Write(tc.answer)
		})
		if _, err := Dial(context.Background(), opts(addr)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// TestBrokerGone: a broker that closed the connection makes the session
// unusable before anything is published on it.
func TestBrokerGone(t *testing.T) {
	addr := fakeBroker(t, func(c net.Conn, r *bufio.Reader) {
		r.Discard(23)
		c.Write([]byte{0x20, 2, 0, 0})
	})
	c, err := Dial(context.Background(), opts(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The broker's FIN arrives asynchronously; it must show within a
	// few probes.
	for i := 0; c.Usable(); i++ {
		if i == 1000 {
			t.Fatal("the session stays usable after the broker closed it")
		}
	}
}

func TestIdleSessionIsNotUsable(t *testing.T) {
	o := opts("")
	o.KeepAlive = time.Second
	c := dialSilent(t, o)
	if !c.Usable() {
		t.Fatal("a fresh session is not usable")
	}
	time.Sleep(o.KeepAlive)
	if c.Usable() {
		t.Error("a session idle for the keep alive interval is usable: the broker may have dropped it")
	}
}

// TestPublishCancelled: a broker that never acknowledges holds a publish
// only as long as the caller's context; the session is then broken.
func TestPublishCancelled(t *testing.T) {
	o := opts("")
	o.Timeout = time.Hour
	c := dialSilent(t, o)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	if err := c.Publish(ctx, "t", []byte("x"), false); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if c.Usable() {
		t.Error("a session with a half-finished publish is usable")
	}
	if err := c.Publish(context.Background(), "t", []byte("x"), false); err == nil {
		t.Error("publish on a broken session succeeded")
	}
}

func TestRejectedBeforeSending(t *testing.T) {
	addr := fakeBroker(t, func(c net.Conn, r *bufio.Reader) {
		r.Discard(23)
		c.Write([]byte{0x20, 2, 0, 0})
		// Nothing but DISCONNECT may follow.
		expect(t, r, []byte{0xe0, 0})
	})
	c, err := Dial(context.Background(), opts(addr))
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"", "a/+", "a/#", "a\x00b", "\xff", "$SYS/x", strings.Repeat("a", 0x10000)} {
		if err := c.Publish(context.Background(), topic, nil, false); err == nil {
			t.Errorf("topic %.20q was published", topic)
		}
	}
	// Nor is anything sent for a context that has already ended.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Publish(ended, "t", nil, false); !errors.Is(err, context.Canceled) {
		t.Errorf("publish with an ended context: %v", err)
	}
	if !c.Usable() {
		t.Error("a refused topic or an ended context broke the session")
	}
	c.Close()
}

func TestOptionsChecked(t *testing.T) {
	for name, mod := range map[string]func(*Options){
		"password without username": func(o *Options) { o.Username = "" },
		"keep alive under a second": func(o *Options) { o.KeepAlive = time.Millisecond },
		"keep alive too long":       func(o *Options) { o.KeepAlive = 0x10000 * time.Second },
		"no timeout":                func(o *Options) { o.Timeout = 0 },
		"NUL in username":           func(o *Options) { o.Username = "a\x00" },
		"client id not UTF-8":       func(o *Options) { o.ClientID = "\xff" },
		"password too long":         func(o *Options) { o.Password = strings.Repeat("p", 0x10000) },
	} {
		o := opts("127.0.0.1:1") // never dialed
		mod(&o)
		if _, err := Dial(context.Background(), o); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: got %v, want ErrOptions before dialing", name, err)
		}
	}
}

// FuzzReadPacket: any bytes from a broker give a packet that is exactly
// what was read, or an error; never a body past the buffer.
func FuzzReadPacket(f *testing.F) {
	for _, s := range [][]byte{{0x20, 2, 0, 0}, {0x40, 2, 0, 1}, {0xd0, 0}, {0x30, 0xff, 0xff, 0xff, 0x7f}, {0x30, 0x80, 0x80, 0x80, 0x80}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var buf [maxIncoming]byte
		r := bytes.NewReader(in)
		first, body, err := readPacket(r, buf[:])
		if err != nil {
			return
		}
		used := len(in) - r.Len()
		if first != in[0] || len(body) > maxIncoming || !bytes.Equal(body, in[used-len(body):used]) {
			t.Fatalf("% x: first byte %#x body % x after %d bytes", in, first, body, used)
		}
		if n := used - 1 - len(body); n < 1 || n > 4 {
			t.Fatalf("% x: a remaining length of %d bytes", in, n)
		}
	})
}

// The context ends while a step runs that itself succeeds: the deadline
// the cancellation sets must not land on the next step.
func TestCancelDuringAStepSparesTheNext(t *testing.T) {
	// The cancellation runs on a goroutine of its own: many rounds give
	// a regression many chances to show.
	for range 200 {
		a, b := net.Pipe()
		c := &Conn{nc: a, timeout: time.Minute}
		ctx, cancel := context.WithCancel(context.Background())
		if err := c.exchange(ctx, func() error { cancel(); return nil }); err != nil {
			t.Fatalf("a step that succeeded: %v", err)
		}
		done := make(chan error, 1)
		go func() {
			buf := make([]byte, 4)
			_, err := io.ReadFull(b, buf)
			done <- err
		}()
		if err := c.exchange(context.Background(), func() error { _, err := a.Write([]byte("ping")); return err }); err != nil {
			t.Fatalf("the next step failed: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		a.Close()
		b.Close()
	}
}

// scriptedConn is a broker that answers with fixed bytes, whatever it is
// sent, and then closes; what the client writes is kept.
type scriptedConn struct {
	net.Conn // nil: only the methods below are used
	answer   *bytes.Reader
	sent     bytes.Buffer
}

func (c *scriptedConn) Read(p []byte) (int, error)       { return c.answer.Read(p) }
func (c *scriptedConn) Write(p []byte) (int, error)      { return c.sent.Write(p) }
func (c *scriptedConn) Close() error                     { return nil }
func (c *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptedConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzSession: whatever a broker answers, a session neither panics nor
// takes a publish as delivered without its PUBACK; it is established only
// by a CONNACK that accepts a clean session; the password does not stay
// in the session's buffer; and after a failed step nothing more is
// sent.
func FuzzSession(f *testing.F) {
	for _, s := range [][]byte{
		{0x20, 2, 0, 0, 0x40, 2, 0, 1, 0x40, 2, 0, 2},
		{0x20, 2, 0, 0, 0xd0, 0, 0x40, 2, 0, 9, 0x40, 2, 0, 1},
		{0x20, 2, 0, 5},
		{0x20, 2, 1, 0},
		{0x20, 0x82, 0, 0, 0},
		{0x20, 2, 0, 0, 0x40, 0x80, 0x80, 0x80, 0x80, 1},
		{0x20, 2, 0, 0, 0x30, 64},
	} {
		f.Add(s)
	}
	const password = "s3cret-pw"
	f.Fuzz(func(t *testing.T, answer []byte) {
		nc := &scriptedConn{answer: bytes.NewReader(answer)}
		c := &Conn{nc: nc, br: bufio.NewReaderSize(nc, 256), keepAlive: time.Minute, timeout: time.Minute}
		o := Options{ClientID: "gw", Username: "u", Password: password, KeepAlive: time.Minute, Timeout: time.Minute}
		err := c.connect(context.Background(), o, 60)
		if bytes.Contains(c.buf[:cap(c.buf)], []byte(password)) {
			t.Fatal("the password stays in the session's buffer")
		}
		if err != nil {
			if c.broken == nil {
				t.Fatalf("connect failed (%v) but the session is not broken", err)
			}
			return
		}
		if !bytes.HasPrefix(answer, []byte{0x20}) {
			t.Fatalf("% x: a session without a CONNACK first", answer)
		}
		for id := uint16(1); id <= 2; id++ {
			before := nc.sent.Len()
			err := c.Publish(context.Background(), "iotgw/alert", []byte("x"), false)
			if err != nil {
				if c.broken == nil {
					t.Fatalf("publish %d failed (%v) but the session is not broken", id, err)
				}
				if err := c.Publish(context.Background(), "iotgw/alert", []byte("y"), false); err == nil {
					t.Fatal("a publish on a broken session succeeded")
				}
				if after := nc.sent.Len(); after != before+len("iotgw/alert")+7 {
					t.Fatalf("sent %d bytes after a failed publish", after-before-len("iotgw/alert")-7)
				}
				break
			}
			if !bytes.Contains(answer, []byte{0x40, 2, 0, byte(id)}) {
				t.Fatalf("% x: publish %d taken as delivered without its PUBACK", answer, id)
			}
		}
	})
}
