package audit

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/iotgw/iotgw/pkg/inspect/creds"
)

// rtspService tries Basic or Digest logins with DESCRIBE of the root URL,
// one connection per candidate.
type rtspService struct {
	r    *run
	port uint16
	url  string
	ch   challenge
}

// rtspResponse is the part of an RTSP response the audit reads.
type rtspResponse struct {
	status int
	header textproto.MIMEHeader
}

// probeRTSP sends DESCRIBE without credentials and returns the service
// when the server answers 401 with a Basic or Digest challenge;
// errLockedOut when it refuses the client for now.
func (r *run) probeRTSP(ctx context.Context, port uint16) (*rtspService, error) {
	s := &rtspService{r: r, port: port, url: r.rootURL("rtsp", port)}
	c, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	resp, err := c.describe(s.url, "")
	if err != nil {
		return nil, err
	}
	if refusesClient(resp.status) {
		return nil, fmt.Errorf("DESCRIBE answered %d: %w", resp.status, errLockedOut)
	}
	if resp.status != 401 {
		return nil, fmt.Errorf("DESCRIBE answered %d: %w", resp.status, errNoAuth)
	}
	ch, ok := parseChallenges(resp.header.Values("WWW-Authenticate"))
	if !ok {
		return nil, errNoAuth
	}
	s.ch = ch
	return s, nil
}

// rtspConn is one RTSP connection: requests are numbered from CSeq 1.
type rtspConn struct {
	c        net.Conn
	lr       io.LimitedReader // bounds each response
	br       *bufio.Reader
	cseq     int
	deadline time.Time
	stop     func() bool
}

// How long a server's close after a response is waited for, and the most
// bytes of a response body skipped to reuse its connection.
const (
	rtspCloseWait = 100 * time.Millisecond
	maxRTSPBody   = 4 << 10
)

// connect opens a connection to the service, bounded by the response
// timeout and ended with ctx.
func (s *rtspService) connect(ctx context.Context) (*rtspConn, error) {
	c, err := s.r.dial(ctx, s.port)
	if err != nil {
		return nil, err
	}
	rc := &rtspConn{c: c, deadline: time.Now().Add(s.r.a.opts.ResponseTimeout)}
	rc.stop = context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	if err := c.SetDeadline(rc.deadline); err != nil {
		rc.close()
		return nil, fmt.Errorf("rtsp: set deadline: %w", err)
	}
	rc.lr.R = c
	rc.br = bufio.NewReader(&rc.lr)
	return rc, nil
}

func (rc *rtspConn) close() {
	rc.stop()
	rc.c.Close()
}

// describe sends the next DESCRIBE on the connection and reads the status
// and headers of the answer (the SDP body is not needed).
func (rc *rtspConn) describe(url, authorization string) (rtspResponse, error) {
	rc.cseq++
	var req strings.Builder
	fmt.Fprintf(&req, "DESCRIBE %s RTSP/1.0\r\nCSeq: %d\r\nAccept: application/sdp\r\nUser-Agent: %s\r\n", url, rc.cseq, userAgent)
	if authorization != "" {
		fmt.Fprintf(&req, "Authorization: %s\r\n", authorization)
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(rc.c, req.String()); err != nil {
		return rtspResponse{}, fmt.Errorf("rtsp: send: %w", err)
	}
	rc.lr.N = maxHeaderBytes
	resp, err := readRTSPResponse(rc.br)
	if err != nil {
		return resp, err
	}
	if got := resp.header.Get("CSeq"); got != "" && strings.TrimSpace(got) != strconv.Itoa(rc.cseq) {
		return resp, fmt.Errorf("rtsp: answer to CSeq %q, want %d", got, rc.cseq)
	}
	return resp, nil
}

// reusable reports whether the server keeps the connection open after
// resp for another request: it did not say "Connection: close", its body
// (if any) is short enough to skip, and it has not closed the connection
// within a moment. A server that closed before the next request is sent
// cannot have read it.
func (rc *rtspConn) reusable(resp rtspResponse) bool {
	if strings.EqualFold(strings.TrimSpace(resp.header.Get("Connection")), "close") {
		return false
	}
	if cl := resp.header.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(strings.TrimSpace(cl))
		if err != nil || n < 0 || n > maxRTSPBody {
			return false
		}
		rc.lr.N = int64(n)
		if _, err := io.CopyN(io.Discard, rc.br, int64(n)); err != nil {
			return false
		}
	}
	if err := rc.c.SetReadDeadline(earlier(rc.deadline, time.Now().Add(rtspCloseWait))); err != nil {
		return false
	}
	rc.lr.N = 1
	_, err := rc.br.Peek(1)
	if rc.c.SetReadDeadline(rc.deadline) != nil {
		return false
	}
	// Silence is an open connection; bytes nobody asked for or a close
	// are not.
	return isTimeout(err)
}

// readRTSPResponse reads a status line and headers.
func readRTSPResponse(br *bufio.Reader) (rtspResponse, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return rtspResponse{}, fmt.Errorf("rtsp: status line: %w", err)
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "RTSP/") || err != nil || status < 100 || status > 999 {
		return rtspResponse{}, fmt.Errorf("rtsp: not an RTSP status line")
	}
	h, err := tp.ReadMIMEHeader()
	if err != nil {
		return rtspResponse{}, fmt.Errorf("rtsp: headers: %w", err)
	}
	return rtspResponse{status: status, header: h}, nil
}

// login tries one candidate on a connection of its own. With Digest, the
// connection first gets a DESCRIBE without credentials (CSeq 1), whose
// challenge the answer (CSeq 2) uses: servers such as live555 keep the
// nonce per connection and refuse an answer on another one, whatever its
// password. A new connection is opened for the answer only when the
// server closes the first. 2xx/3xx, and 404 (the server checked the
// credentials before looking the stream up: the unauthenticated DESCRIBE
// of the same URL got 401), are acceptance; 401 is rejection.
func (s *rtspService) login(ctx context.Context, cand creds.Candidate) (attempt, error) {
	res := attempt{mechanism: "Basic"}
	if s.ch.digest {
		res.mechanism = "Digest"
	}
	c, err := s.connect(ctx)
	if err != nil {
		return res, err
	}
	defer func() { c.close() }()
	if s.ch.digest {
		resp, err := c.describe(s.url, "")
		if err != nil {
			return res, err
		}
		ch, ok := parseChallenges(resp.header.Values("WWW-Authenticate"))
		if resp.status != 401 || !ok {
			return res, fmt.Errorf("rtsp: DESCRIBE without credentials answered %d: %w", resp.status, errNoAuth)
		}
		s.ch = ch
		if !c.reusable(resp) {
			c.close()
			again, err := s.connect(ctx)
			if err != nil {
				return res, err
			}
			c = again
		}
	}
	resp, err := c.describe(s.url, s.ch.authorization("DESCRIBE", s.url, cand.User, cand.Password))
	res.sent = true // the answer may have reached the server even if no reply came
	if err != nil {
		return res, err
	}
	switch {
	case resp.status == 404:
		res.outcome = outcomeAccepted
	default:
		res.outcome = webVerdict(resp.status, resp.header.Get("Location"), nil)
	}
	if resp.status == 401 {
		if ch, ok := parseChallenges(resp.header.Values("WWW-Authenticate")); ok {
			s.ch = ch
		}
	}
	return res, nil
}
