package web

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"time"
)

// A browser given "192.168.1.1:8443" tries plain HTTP first. On the HTTPS
// port that would get Go's "client sent an HTTP request to an HTTPS
// server"; the owner gets a redirect to the same page over HTTPS instead.
// The first byte tells the two apart: a TLS connection starts with a
// handshake record (22), an HTTP request with a letter.
const tlsHandshakeRecord = 0x16

// maxPlainRequest bounds what is read of a plain HTTP request.
const maxPlainRequest = 8 << 10

// plainTimeout bounds reading it and writing the answer.
const plainTimeout = 5 * time.Second

// tlsOrRedirect wraps ln: each connection is handed to TLS, or answered
// with a redirect to HTTPS if it speaks plain HTTP.
type tlsOrRedirect struct {
	net.Listener
	s *Server
}

func (l tlsOrRedirect) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sniffConn{Conn: c, s: l.s}, nil
}

// sniffConn decides on its first Read, in the connection's own goroutine
// (TLS reads lazily, at the handshake), so Accept never waits on a client.
type sniffConn struct {
	net.Conn
	s       *Server
	r       *bufio.Reader
	checked bool
}

func (c *sniffConn) Read(p []byte) (int, error) {
	if !c.checked {
		c.checked = true
		c.r = bufio.NewReaderSize(c.Conn, 512)
		first, err := c.r.Peek(1)
		if err != nil {
			return 0, err
		}
		if first[0] != tlsHandshakeRecord {
			c.redirect()
			return 0, io.EOF
		}
	}
	if c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// redirect answers one plain HTTP request with 308 to the same path over
// HTTPS on this port, at the host the request named if the page answers
// to it, else at the address the connection came to; and closes.
func (c *sniffConn) redirect() {
	defer c.Conn.Close()
	_ = c.Conn.SetDeadline(time.Now().Add(plainTimeout))
	req, err := http.ReadRequest(bufio.NewReader(io.LimitReader(c.r, maxPlainRequest)))
	if err != nil {
		return
	}
	host, port, err := net.SplitHostPort(c.Conn.LocalAddr().String())
	if err != nil {
		return
	}
	if h := canonicalHost(req.Host); c.s.hosts[h] {
		host = h
	}
	target := "/"
	if uri := req.URL.RequestURI(); len(uri) > 0 && uri[0] == '/' && safeNext(uri) == uri {
		target = uri
	}
	resp := &http.Response{
		StatusCode: http.StatusPermanentRedirect,
		ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{
			"Location":      {"https://" + net.JoinHostPort(host, port) + target},
			"Cache-Control": {"no-store"},
			"Connection":    {"close"},
		},
		Close: true,
	}
	_ = resp.Write(c.Conn)
}

// listenTLS is the page's HTTPS listener: TLS with plain HTTP redirected,
// each TLS write bounded by writeStall (the redirect keeps its own
// plainTimeout).
func (s *Server) listenTLS(ln net.Listener, cfg *tls.Config) net.Listener {
	return tls.NewListener(stallListener{Listener: tlsOrRedirect{Listener: ln, s: s}, timeout: s.writeStall}, cfg)
}
