package audit

import (
	"bufio"
	"context"
	"fmt"
	"io"
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
// when the server answers 401 with a Basic or Digest challenge.
func (r *run) probeRTSP(ctx context.Context, port uint16) (*rtspService, error) {
	s := &rtspService{r: r, port: port, url: "rtsp://" + r.hostPort(port) + "/"}
	resp, err := s.describe(ctx, "")
	if err != nil {
		return nil, err
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

// describe sends one DESCRIBE on a new connection and reads the status
// and headers of the answer (the SDP body is not needed).
func (s *rtspService) describe(ctx context.Context, authorization string) (rtspResponse, error) {
	c, err := s.r.dial(ctx, s.port)
	if err != nil {
		return rtspResponse{}, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if err := c.SetDeadline(time.Now().Add(s.r.a.opts.ResponseTimeout)); err != nil {
		return rtspResponse{}, fmt.Errorf("rtsp: set deadline: %w", err)
	}
	var req strings.Builder
	fmt.Fprintf(&req, "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\nUser-Agent: %s\r\n", s.url, userAgent)
	if authorization != "" {
		fmt.Fprintf(&req, "Authorization: %s\r\n", authorization)
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(c, req.String()); err != nil {
		return rtspResponse{}, fmt.Errorf("rtsp: send: %w", err)
	}
	return readRTSPResponse(bufio.NewReader(io.LimitReader(c, maxHeaderBytes)))
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

// login tries one candidate. 2xx/3xx, and 404 (the server checked the
// credentials before looking the stream up: the unauthenticated DESCRIBE
// of the same URL got 401), are acceptance; 401 is rejection.
func (s *rtspService) login(ctx context.Context, cand creds.Candidate) (attempt, error) {
	res := attempt{mechanism: "Basic"}
	if s.ch.digest {
		res.mechanism = "Digest"
	}
	resp, err := s.describe(ctx, s.ch.authorization("DESCRIBE", s.url, cand.User, cand.Password))
	if err != nil {
		res.sent = !isDialError(err)
		return res, err
	}
	res.sent = true
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
