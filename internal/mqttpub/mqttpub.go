// Package mqttpub is an MQTT 3.1.1 client that only publishes, at QoS 1:
// what the alert channel for Home Assistant needs. It owns the wire
// format of the five packets that takes (CONNECT, CONNACK, PUBLISH,
// PUBACK, DISCONNECT) and one session's lifetime. A full client library
// (subscriptions, stores, websockets, reconnect loops) cost the router
// binary about 300 KB of flash for this one job.
//
// A Conn is used by one goroutine at a time and runs no goroutine of its
// own: it sends no PINGREQ, so a caller that has been idle for the keep
// alive interval dials again (Usable says when).
package mqttpub

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// Options say where and as whom to connect.
type Options struct {
	Addr      string      // host:port of the broker
	TLS       *tls.Config // nil for plain TCP
	ClientID  string
	Username  string // empty: no username and no password are sent
	Password  string
	KeepAlive time.Duration // whole seconds, 1s to 18h12m15s
	// Timeout bounds each step (dial, handshake, a publish and its
	// acknowledgement) within the caller's context.
	Timeout time.Duration
}

// RefusedError is a CONNACK with a return code other than 0.
type RefusedError struct{ Code byte }

func (e *RefusedError) Error() string {
	if int(e.Code) < len(refusals) {
		return "broker refused the connection: " + refusals[e.Code]
	}
	return fmt.Sprintf("broker refused the connection: return code %d", e.Code)
}

// Permanent reports whether dialing again with the same options cannot
// help: the broker refused the protocol version, the client identifier,
// the username and password, or the authorisation. Only "server
// unavailable" (3) and codes the specification does not define may pass.
func (e *RefusedError) Permanent() bool {
	switch e.Code {
	case 1, 2, 4, 5:
		return true
	}
	return false
}

// ErrOptions is wrapped by the errors of options Dial cannot use.
var ErrOptions = errors.New("mqtt options")

// refusals are the CONNACK return codes of MQTT 3.1.1, section 3.2.2.3.
var refusals = [...]string{1: "unacceptable protocol version", 2: "identifier rejected",
	3: "server unavailable", 4: "bad user name or password", 5: "not authorized"}

// Packet types (MQTT 3.1.1, section 2.2.1).
const (
	typeConnect    = 1
	typeConnAck    = 2
	typePublish    = 3
	typePubAck     = 4
	typeDisconnect = 14
)

// maxIncoming bounds a packet from the broker. A publish-only session is
// sent CONNACK, PUBACK and PINGRESP, all of them a few bytes; anything
// larger is a broken or hostile broker.
const maxIncoming = 64

// maxRemaining is the largest remaining length the protocol can encode.
const maxRemaining = 268_435_455

// Conn is one session with a broker.
type Conn struct {
	nc        net.Conn
	br        *bufio.Reader
	keepAlive time.Duration
	timeout   time.Duration
	lastSent  time.Time
	nextID    uint16
	buf       []byte // the packet being written
	in        [maxIncoming]byte
	broken    error // set once a step failed half-way: the session is unusable
}

// Dial connects, authenticates and starts a clean session.
func Dial(ctx context.Context, o Options) (*Conn, error) {
	ka := o.KeepAlive / time.Second
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOptions, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if o.TLS != nil {
		tc := tls.Client(nc, o.TLS)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		nc = tc
	}
	c := &Conn{nc: nc, br: bufio.NewReaderSize(nc, 256), keepAlive: ka * time.Second, timeout: o.Timeout}
	if err := c.connect(ctx, o, uint16(ka)); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// check refuses options no broker would accept (MQTT 3.1.1, 1.5.3 and
// 3.1.3).
func (o Options) check() error {
	if ka := o.KeepAlive / time.Second; ka < 1 || ka > 0xffff {
		return fmt.Errorf("keep alive %v: want 1s to 18h12m15s", o.KeepAlive)
	}
	if o.Timeout <= 0 {
		return errors.New("no timeout")
	}
	if o.Username == "" && o.Password != "" {
		return errors.New("a password needs a username")
	}
	for _, s := range []string{o.ClientID, o.Username} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			return errors.New("client id or username is not UTF-8 or holds NUL")
		}
	}
	for _, s := range []string{o.ClientID, o.Username, o.Password} {
		if len(s) > 0xffff {
			return errors.New("client id, username or password longer than 65535 bytes")
		}
	}
	return nil
}

func (c *Conn) connect(ctx context.Context, o Options, keepAlive uint16) error {
	flags := byte(0x02) // clean session
	n := 10 + 2 + len(o.ClientID)
	if o.Username != "" {
		flags |= 0x80
		n += 2 + len(o.Username)
	}
	if o.Password != "" {
		flags |= 0x40
		n += 2 + len(o.Password)
	}
	b := appendHeader(c.buf[:0], typeConnect<<4, n)
	b = appendString(b, "MQTT")
	b = append(b, 4, flags, byte(keepAlive>>8), byte(keepAlive))
	b = appendString(b, o.ClientID)
	if o.Username != "" {
		b = appendString(b, o.Username)
	}
	if o.Password != "" {
		b = appendString(b, o.Password)
	}
	c.buf = b
	err := c.exchange(ctx, func() error {
		if err := c.write(); err != nil {
			return err
		}
		first, body, err := readPacket(c.br, c.in[:])
		if err != nil {
			return err
		}
		if first != typeConnAck<<4 || len(body) != 2 {
			return fmt.Errorf("broker answered CONNECT with packet type %d of %d bytes", first>>4, len(body))
		}
		if body[1] != 0 {
			return &RefusedError{Code: body[1]}
		}
		if body[0] != 0 { // session present, or reserved bits, on a clean session (3.2.2.2)
			return fmt.Errorf("broker acknowledged a clean session with flags %#x", body[0])
		}
		return nil
	})
	clear(c.buf) // the password was in it
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	return nil
}

// Publish sends payload to topic at QoS 1 and waits for the broker's
// acknowledgement. After an error the Conn is unusable.
func (c *Conn) Publish(ctx context.Context, topic string, payload []byte, retain bool) error {
	if err := validTopic(topic); err != nil {
		return err
	}
	if c.broken != nil {
		return fmt.Errorf("publish: session broken earlier: %w", c.broken)
	}
	n := 2 + len(topic) + 2 + len(payload)
	if n > maxRemaining {
		return fmt.Errorf("publish %s: payload of %d bytes is too large", topic, len(payload))
	}
	c.nextID++
	if c.nextID == 0 { // 0 is not a packet identifier
		c.nextID = 1
	}
	id := c.nextID
	first := byte(typePublish<<4 | 1<<1) // QoS 1
	if retain {
		first |= 1
	}
	b := appendHeader(c.buf[:0], first, n)
	b = appendString(b, topic)
	b = append(b, byte(id>>8), byte(id))
	c.buf = append(b, payload...)
	err := c.exchange(ctx, func() error {
		if err := c.write(); err != nil {
			return err
		}
		for {
			first, body, err := readPacket(c.br, c.in[:])
			if err != nil {
				return err
			}
			// PINGRESP or anything else a publish-only session can be
			// sent is skipped; only our acknowledgement ends the wait.
			if first == typePubAck<<4 && len(body) == 2 && uint16(body[0])<<8|uint16(body[1]) == id {
				return nil
			}
		}
	})
	if cap(c.buf) > 4096 {
		c.buf = nil // do not keep a large payload's buffer for the session
	}
	if err != nil {
		return fmt.Errorf("publish %s: %w", topic, err)
	}
	return nil
}

// Usable reports whether the session can still be used: the keep alive
// interval has not passed since the last packet sent, and the broker has
// not closed the connection (a broker restart shows here, not in the
// next publish).
func (c *Conn) Usable() bool {
	if c.broken != nil || time.Since(c.lastSent) >= c.keepAlive {
		return false
	}
	// A read that waits a millisecond sees an EOF or a reset that is
	// already there; a live, quiet connection just times out. A byte that
	// arrived is left for Publish, which skips what it did not ask for.
	if err := c.nc.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	_, err := c.br.Peek(1)
	if c.nc.SetReadDeadline(time.Time{}) != nil {
		return false
	}
	var ne net.Error
	return err == nil || (errors.As(err, &ne) && ne.Timeout())
}

// Close ends the session with DISCONNECT, if it is intact, and closes the
// connection.
func (c *Conn) Close() error {
	if c.broken == nil {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
		_, _ = c.nc.Write([]byte{typeDisconnect << 4, 0})
		c.broken = net.ErrClosed
	}
	return c.nc.Close()
}

// exchange runs one step within ctx and the step timeout; a step that
// fails leaves the session broken, since a packet may be half-written or
// half-read.
func (c *Conn) exchange(ctx context.Context, step func() error) error {
	if err := ctx.Err(); err != nil { // send nothing the caller gave up on
		return err
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		c.broken = err
		return err
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = c.nc.SetDeadline(time.Unix(1, 0))
		close(interrupted)
	})
	err := step()
	if !stop() {
		// The context ended: wait until its deadline is set, so that it
		// cannot land on a later step.
		<-interrupted
		if err != nil {
			err = errors.Join(ctx.Err(), err)
		}
	}
	if err == nil {
		err = c.nc.SetDeadline(time.Time{})
	}
	if err != nil {
		c.broken = err
	}
	return err
}

func (c *Conn) write() error {
	if _, err := c.nc.Write(c.buf); err != nil {
		return err
	}
	c.lastSent = time.Now()
	return nil
}

// readPacket reads one MQTT packet of at most len(buf) bytes after its
// fixed header from r, and returns its first byte (type and flags) and
// its body (a slice of buf). A longer packet, a remaining length over
// four bytes or a short read is an error.
func readPacket(r io.ByteReader, buf []byte) (first byte, body []byte, err error) {
	first, err = r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n := 0
	for shift := 0; ; shift += 7 {
		if shift == 28 {
			return 0, nil, errors.New("remaining length longer than four bytes")
		}
		b, err := r.ReadByte()
		if err != nil {
			return 0, nil, unexpectedEOF(err)
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
	}
	if n > len(buf) {
		return 0, nil, fmt.Errorf("packet type %d of %d bytes: a publish-only session is sent at most %d", first>>4, n, len(buf))
	}
	for i := range n {
		b, err := r.ReadByte()
		if err != nil {
			return 0, nil, unexpectedEOF(err)
		}
		buf[i] = b
	}
	return first, buf[:n], nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// validTopic checks a topic name for PUBLISH (MQTT 3.1.1, 4.7): not
// empty, UTF-8 without NUL, no wildcard, not one of the broker's own
// ($SYS/…), at most 65535 bytes.
func validTopic(t string) error {
	switch {
	case t == "":
		return errors.New("empty topic")
	case t[0] == '$':
		return fmt.Errorf("topic %q: topics starting with $ are the broker's", t)
	case len(t) > 0xffff:
		return errors.New("topic longer than 65535 bytes")
	case !utf8.ValidString(t), strings.ContainsAny(t, "+#\x00"):
		return fmt.Errorf("topic %q: not UTF-8, or holds a wildcard or NUL", t)
	}
	return nil
}

// appendHeader appends a fixed header: the first byte and the remaining
// length as a variable byte integer.
func appendHeader(b []byte, first byte, remaining int) []byte {
	b = append(b, first)
	for {
		d := byte(remaining & 0x7f)
		remaining >>= 7
		if remaining == 0 {
			return append(b, d)
		}
		b = append(b, d|0x80)
	}
}

// appendString appends s with its two-byte, big-endian length.
func appendString(b []byte, s string) []byte {
	return append(append(b, byte(len(s)>>8), byte(len(s))), s...)
}
