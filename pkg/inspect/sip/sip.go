// Package sip inspects SIP (RFC 3261) over UDP and TCP: Digest credentials
// in REGISTER, INVITE and other requests, paired by Call-ID and CSeq with
// the verdict of the response, and the User-Agent and Server headers that
// name phones and PBXs.
//
// Either side of a SIP flow may send requests, so both directions are
// read the same way. A UDP datagram holds one message; on TCP, messages
// are framed by Content-Length and read line by line in the engine's
// stream buffer, bodies skipped without buffering.
package sip

import (
	"bytes"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

const (
	maxLine    = 2048 // a longer header line is skipped
	maxValue   = 160  // printable length of an observed header
	maxPending = 4    // authenticated requests awaiting their response
)

// Protocol is SIP.
type Protocol struct {
	pool inspect.FreeList[analyzer]
}

// New returns the SIP protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "sip" }

var methods = [...]string{"REGISTER", "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO", "PRACK", "UPDATE", "MESSAGE", "REFER"}

// Match implements inspect.Protocol: a SIP request line ("METHOD sip:...
// SIP/2.0") or status line proves SIP; so does nothing else. SSDP's
// "NOTIFY * HTTP/1.1" has neither a SIP URI nor the SIP version. Port 5060
// alone is a guess.
func (*Protocol) Match(f *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	if bytes.HasPrefix(b, []byte("SIP/2.0 ")) || isRequest(b) {
		return inspect.ContentMatch
	}
	if f.Server().Port() == 5060 && len(b) > 0 && (b[0] == '\r' || b[0] == '\n' || (b[0] >= 0x20 && b[0] < 0x7f)) {
		return inspect.PortMatch
	}
	return inspect.NoMatch
}

// isRequest accepts a SIP method, a sip:, sips: or tel: URI and, once the
// line is complete, the SIP/2.0 version at its end.
func isRequest(b []byte) bool {
	method, rest := inspect.CutWord(b)
	known := false
	for _, m := range methods {
		if string(method) == m {
			known = true
			break
		}
	}
	if !known || !(inspect.HasPrefixFold(rest, "sip:") || inspect.HasPrefixFold(rest, "sips:") || inspect.HasPrefixFold(rest, "tel:")) {
		return false
	}
	if line, _, ok := inspect.NextLine(b); ok {
		return bytes.HasSuffix(line, []byte(" SIP/2.0"))
	}
	return true
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	return a
}

type state uint8

const (
	stStart   state = iota // a start line (keep-alive CRLFs are skipped)
	stHeaders              // header lines
	stSkip                 // a body on TCP: remain bytes left
	stResync               // lost: skip lines until a start line
)

// half is the message one side is sending.
type half struct {
	state         state
	lines         inspect.LineCutter // start and header lines on TCP
	remain        int
	request       bool
	method        [16]byte
	methodLen     int
	status        int
	stale         bool // the challenge says only the nonce was stale
	callID        uint64
	cseq          int64 // -1: none
	cseqMethod    uint64
	contentLength int
	creds         [2]pending // from this request's headers
}

type pending struct {
	used   bool
	dir    inspect.Dir // the request's direction
	proxy  bool        // from Proxy-Authorization
	callID uint64
	cseq   int64
	// cseqMethod: a CANCEL shares its INVITE's CSeq number; only the
	// method tells their answers apart (RFC 3261 8.1.1.5).
	cseqMethod uint64
	cred       inspect.Credential
}

type analyzer struct {
	proto   *Protocol
	half    [2]half
	queue   [maxPending]pending
	scratch [httpauth.MaxBasic]byte // for httpauth.Classify
	sawUA   [2]bool                 // a User-Agent or Server banner was reported for the sender
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	h := &a.half[dir]
	if !f.IsTCP() {
		a.datagram(f, dir, h, data)
		return len(data)
	}
	consumed := 0
	for consumed < len(data) {
		n, more := a.step(f, dir, h, data[consumed:])
		consumed += n
		if !more {
			break
		}
	}
	return consumed
}

// datagram reads one UDP message: its lines up to the blank line; the
// body (SDP, or a sipfrag that looks like a message itself) is ignored.
// A message whose headers lack their final line end is still read.
func (a *analyzer) datagram(f *inspect.Flow, dir inspect.Dir, h *half, data []byte) {
	h.state = stStart
	h.lines.Reset()
	started := false
	for len(data) > 0 {
		line, n, ok := inspect.NextLine(data)
		if !ok {
			line, n = data, len(data)
		}
		data = data[n:]
		a.line(f, dir, h, line)
		if h.state == stHeaders {
			started = true
		} else if started || h.state == stResync {
			break // the message ended, or is not SIP; a body is not read
		}
	}
	if h.state == stHeaders {
		a.endHeaders(f, dir, h)
	}
	h.state = stStart
}

func (a *analyzer) step(f *inspect.Flow, dir inspect.Dir, h *half, data []byte) (int, bool) {
	if h.state == stSkip {
		n := min(h.remain, len(data))
		h.remain -= n
		if h.remain == 0 {
			h.state = stStart
		}
		return n, true
	}
	line, n, ok, more := h.lines.Next(data, maxLine)
	if ok {
		a.line(f, dir, h, line)
	}
	return n, more
}

func (a *analyzer) line(f *inspect.Flow, dir inspect.Dir, h *half, line []byte) {
	switch h.state {
	case stStart, stResync:
		if len(line) == 0 && h.state == stStart {
			return // CRLF keep-alive (RFC 5626 section 3.5.1)
		}
		if a.startLine(h, line) {
			h.state = stHeaders
		} else {
			h.state = stResync
		}
	case stHeaders:
		if len(line) == 0 {
			a.endHeaders(f, dir, h)
			return
		}
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			return
		}
		a.header(f, dir, h, bytes.TrimSpace(line[:i]), bytes.TrimSpace(line[i+1:]))
	}
}

func (a *analyzer) startLine(h *half, line []byte) bool {
	h.methodLen, h.status, h.stale, h.callID, h.cseq, h.cseqMethod, h.contentLength = 0, 0, false, 0, -1, 0, 0
	if bytes.HasPrefix(line, []byte("SIP/2.0 ")) {
		if len(line) < 11 {
			return false
		}
		code := 0
		for _, c := range line[8:11] {
			if c < '0' || c > '9' {
				return false
			}
			code = code*10 + int(c-'0')
		}
		h.request, h.status = false, code
		return code >= 100
	}
	if !isRequest(line) {
		return false
	}
	method, _ := inspect.CutWord(line)
	h.request = true
	h.methodLen = copy(h.method[:], method)
	return true
}

func (a *analyzer) header(f *inspect.Flow, dir inspect.Dir, h *half, name, value []byte) {
	switch {
	case inspect.EqualFold(name, "Call-ID") || inspect.EqualFold(name, "i"):
		h.callID = inspect.FNV64(value)
	case inspect.EqualFold(name, "CSeq"):
		num, method := inspect.CutWord(value)
		h.cseq = parseDecimal(num, 1<<31)
		method, _ = inspect.CutWord(method)
		h.cseqMethod = inspect.FNV64(method)
	case inspect.EqualFold(name, "Content-Length") || inspect.EqualFold(name, "l"):
		h.contentLength = int(parseDecimal(value, 1<<30))
	case inspect.EqualFold(name, "User-Agent") || inspect.EqualFold(name, "Server"):
		a.observe(f, dir, name, value)
	case !h.request && (inspect.EqualFold(name, "WWW-Authenticate") || inspect.EqualFold(name, "Proxy-Authenticate")):
		h.stale = h.stale || httpauth.Stale(value)
	case h.request && inspect.EqualFold(name, "Authorization"):
		a.login(f, dir, h, value, false)
	case h.request && inspect.EqualFold(name, "Proxy-Authorization"):
		a.login(f, dir, h, value, true)
	}
}

// login classifies the credential of a request: Digest, or Basic, which
// RFC 3261 section 22.1 forbids (a server must refuse it) but which a
// phone that sends it has sent its password in clear all the same. proxy:
// from a Proxy-Authorization header.
func (a *analyzer) login(f *inspect.Flow, dir inspect.Dir, h *half, value []byte, proxy bool) {
	scheme, rest := httpauth.Split(value)
	l := inspect.Login{Protocol: "sip"}
	switch scheme {
	case httpauth.SchemeDigest:
		l.Mechanism = "Digest"
	case httpauth.SchemeBasic:
		l.Mechanism = "Basic"
	default:
		return
	}
	c, ok := httpauth.Classify(f, &l, scheme, rest, h.method[:h.methodLen], &a.scratch)
	if !ok {
		return
	}
	for i := range h.creds {
		if !h.creds[i].used {
			h.creds[i] = pending{used: true, dir: dir, proxy: proxy, cred: c}
			return
		}
	}
	f.ReportLogin(&c, inspect.OutcomeUnknown, dir)
}

func (a *analyzer) endHeaders(f *inspect.Flow, dir inspect.Dir, h *half) {
	if h.request {
		for i := range h.creds {
			if c := h.creds[i]; c.used {
				c.callID, c.cseq, c.cseqMethod = h.callID, h.cseq, h.cseqMethod
				a.enqueue(f, c)
			}
		}
		h.creds = [2]pending{}
	} else if h.status >= 200 { // 1xx is provisional
		a.answer(f, dir, h)
	}
	h.state = stStart
	if h.contentLength > 0 {
		h.state, h.remain = stSkip, h.contentLength
	}
}

// enqueue keeps a credential until its response. A retransmission of a
// request already queued adds nothing; with the queue full, the oldest
// entry is reported with an unknown outcome.
func (a *analyzer) enqueue(f *inspect.Flow, p pending) {
	for i := range a.queue {
		if q := &a.queue[i]; q.used && q.dir == p.dir && q.callID == p.callID && q.cseq == p.cseq && q.cseqMethod == p.cseqMethod {
			return // a retransmission
		}
	}
	if a.queue[len(a.queue)-1].used {
		a.report(f, 0, inspect.OutcomeUnknown)
	}
	for i := range a.queue {
		if !a.queue[i].used {
			a.queue[i] = p
			return
		}
	}
}

// answer reports the queued credentials a final response settles.
//
// 2xx: accepted. A refusal as httpauth.Refused says: 401 the registrar's
// or UAS's, 407 a proxy's, none when the challenge says stale=true (the
// password was right, the nonce old). Any other final response is
// unknown: a 404 or 480 may come before or after the authentication
// check.
func (a *analyzer) answer(f *inspect.Flow, dir inspect.Dir, h *half) {
	for i := 0; i < len(a.queue); {
		if q := &a.queue[i]; q.used && q.dir != dir && q.callID == h.callID && q.cseq == h.cseq && q.cseqMethod == h.cseqMethod {
			o := inspect.OutcomeUnknown
			switch {
			case h.status >= 200 && h.status < 300:
				o = inspect.OutcomeAccepted
			case httpauth.Refused(h.status, q.proxy, h.stale):
				o = inspect.OutcomeRejected
			}
			a.report(f, i, o)
			continue // report shifted the next entry into i
		}
		i++
	}
}

// report emits queue entry i and closes the gap it leaves.
func (a *analyzer) report(f *inspect.Flow, i int, o inspect.Outcome) {
	p := a.queue[i]
	copy(a.queue[i:], a.queue[i+1:])
	a.queue[len(a.queue)-1] = pending{}
	f.ReportLogin(&p.cred, o, p.dir)
}

// observe reports the first User-Agent or Server header each side sends
// as its banner: it names the phone, the PBX or the SIP stack.
func (a *analyzer) observe(f *inspect.Flow, dir inspect.Dir, name, value []byte) {
	if a.sawUA[dir] || len(value) == 0 {
		return
	}
	a.sawUA[dir] = true
	header := "User-Agent"
	if inspect.EqualFold(name, "Server") {
		header = "Server"
	}
	f.Emit(dir.Sender(), &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindBanner,
		Summary:  "SIP " + header + " header",
		Evidence: event.Evidence{"protocol": "sip", "banner": inspect.Scrubbed(value, maxValue), "header": header},
	})
}

func (a *analyzer) Gap(f *inspect.Flow, dir inspect.Dir) {
	h := &a.half[dir]
	h.state = stResync
	h.lines.Reset()
	a.flushMessageCreds(f, h)
}

// flushMessageCreds reports the credentials of a request whose headers
// were cut short, about the device that checks them, as any other:
// either end of a SIP flow sends requests.
func (a *analyzer) flushMessageCreds(f *inspect.Flow, h *half) {
	for i := range h.creds {
		if c := &h.creds[i]; c.used {
			f.ReportLogin(&c.cred, inspect.OutcomeUnknown, c.dir)
		}
	}
	h.creds = [2]pending{}
}

func (a *analyzer) Close(f *inspect.Flow) {
	a.flushMessageCreds(f, &a.half[0])
	a.flushMessageCreds(f, &a.half[1])
	for a.queue[0].used {
		a.report(f, 0, inspect.OutcomeUnknown)
	}
	a.proto.pool.Put(a)
}

// parseDecimal reads a decimal up to max; -1 if value is not one.
func parseDecimal(value []byte, max int64) int64 {
	if len(value) == 0 {
		return -1
	}
	var n int64
	for _, c := range value {
		d := int64(c - '0')
		if c < '0' || c > '9' || n > (max-d)/10 {
			return -1
		}
		n = n*10 + d
	}
	return n
}
