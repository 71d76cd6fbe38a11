// Package rtsp inspects RTSP (RFC 2326, RFC 7826), the protocol IP cameras
// stream video with: Basic and Digest credentials in client requests and
// logins in their URLs (urlcred.go), paired by CSeq with the server's
// verdict, and the server's Server header and authentication realm,
// which name the camera's firmware.
//
// The verdict is httpauth.Judge's, as for HTTP: a 2xx says a credential
// was taken only where the camera is known to demand one, after a 401
// challenge for the stream's URL (or a Digest nonce it issued). OPTIONS,
// which cameras answer to anyone, proves nothing, whatever it carried.
//
// Messages are read line by line in the engine's stream buffer; bodies
// (SDP) and interleaved RTP/RTCP frames ('$', channel, length) are skipped
// without buffering.
package rtsp

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

const (
	maxLine    = 2048 // a longer header line is skipped
	maxServer  = 256
	maxRealm   = 128
	maxPending = 4 // authenticated requests awaiting their response
	maxValue   = 160
	// maxURLLogins is how many distinct URL logins a connection
	// remembers having reported; one pushed out is reported again.
	maxURLLogins = 4
)

// Protocol is RTSP over TCP.
type Protocol struct {
	pool inspect.FreeList[analyzer]
	// mem remembers, across connections, what cameras challenged and
	// refused.
	mem *httpauth.Memory
	// urlSeed keys the hashes by which a connection knows the URL
	// logins it reported (urlKey).
	urlSeed maphash.Seed
}

// New returns the RTSP protocol.
func New() *Protocol { return &Protocol{mem: httpauth.NewMemory(), urlSeed: maphash.MakeSeed()} }

// urlKey is the keyed hash of a URL login by which a connection knows it
// again without classifying it again; never 0.
func (p *Protocol) urlKey(user, password []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(p.urlSeed)
	// The user's length, not a separator: either may hold a NUL (%00).
	var n [2]byte
	binary.BigEndian.PutUint16(n[:], uint16(len(user)))
	h.Write(n[:])
	h.Write(user)
	h.Write(password)
	return h.Sum64() | 1
}

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "rtsp" }

// methods are the RTSP request methods; those also found in HTTP (OPTIONS)
// prove RTSP only with an RTSP version or URL.
var methods = [...]string{"DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "ANNOUNCE", "RECORD", "GET_PARAMETER", "SET_PARAMETER", "REDIRECT", "PLAY_NOTIFY", "OPTIONS"}

// Match implements inspect.Protocol: an RTSP request or status line, or
// the RTSP ports.
func (*Protocol) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	if dir == inspect.ToClient && isStatusLine(b) {
		return inspect.ContentMatch
	}
	if dir == inspect.ToServer && looksLikeRequest(b) {
		return inspect.ContentMatch
	}
	switch f.Server().Port() {
	case 554, 8554, 10554:
		if len(b) > 0 && (b[0] == '$' || b[0] == '\r' || b[0] == '\n' || (b[0] >= 0x20 && b[0] < 0x7f)) {
			return inspect.PortMatch
		}
	}
	return inspect.NoMatch
}

func isStatusLine(b []byte) bool {
	return bytes.HasPrefix(b, []byte("RTSP/1.0 ")) || bytes.HasPrefix(b, []byte("RTSP/2.0 "))
}

// looksLikeRequest accepts "METHOD target RTSP/x.y", or, while the first
// line is still incomplete, an RTSP-only method or an rtsp:// target.
func looksLikeRequest(b []byte) bool {
	method, rest := inspect.CutWord(b)
	known := false
	for _, m := range methods {
		if string(method) == m {
			known = true
			break
		}
	}
	if !known || rest == nil {
		return false
	}
	if line, _, ok := inspect.NextLine(b); ok {
		return bytes.Contains(line, []byte(" RTSP/"))
	}
	return string(method) != "OPTIONS" || inspect.HasPrefixFold(rest, "rtsp")
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	a.lastCSeq = -2
	return a
}

type state uint8

const (
	stStart   state = iota // a start line or an interleaved frame
	stHeaders              // header lines
	stSkip                 // body or interleaved frame: remain bytes left
	stResync               // lost: skip lines until a start line
)

// half is one direction's framing state.
type half struct {
	state         state
	lines         inspect.LineCutter // start and header lines
	remain        int
	request       bool // the message being read is a request
	contentLength int
	cseq          int64 // -1: none
}

// pending is a credential awaiting the answer to its request.
type pending struct {
	used bool
	cseq int64
	sent httpauth.Sent
	// spaces are the protection spaces of the request's URL.
	spaces httpauth.Spaces
	// urlKey is Protocol.urlKey of a login the URL carried; 0 for a
	// header's credential.
	urlKey uint64
	// withPrevious: it came with the same request as the queue's entry
	// before it (a URL login and a header's), which an answer without
	// CSeq answers too.
	withPrevious bool
}

type analyzer struct {
	proto *Protocol
	half  [2]half

	// The client request being read.
	method    [16]byte
	methodLen int
	reqCreds  [3]pending // the URL's login, Authorization, Proxy-Authorization
	scratch   [httpauth.MaxBasic]byte
	// reqSpaces are the places of the request being read (where its
	// credentials were sent, what a challenge in its answer protects),
	// hashed from its URL's path at once: the path is not kept, as some
	// cameras take the password in it ("/user=admin_password=…").
	// Once its head is read they are the latest request's, whose CSeq
	// is lastCSeq (-2: none).
	reqSpaces httpauth.Spaces
	lastCSeq  int64

	// The server response being read.
	status    int
	challenge httpauth.Challenge // its WWW- and Proxy-Authenticate headers
	server    [maxServer]byte
	serverLen int
	realm     [maxRealm]byte
	realmLen  int

	queue     [maxPending]pending
	judge     httpauth.Judge // what the camera challenged and refused, and acceptances held back
	sawServer bool
	sawRealm  bool

	// A URL login is reported once per connection, though players send
	// it with every request: urlLogins are the keys of those reported,
	// and parked is one sent so far only with OPTIONS, which proves
	// nothing, held for the verdict on a request the camera checks.
	urlLogins  [maxURLLogins]uint64
	nURLLogins uint8
	parked     pending
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	h := &a.half[dir]
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

func (a *analyzer) step(f *inspect.Flow, dir inspect.Dir, h *half, data []byte) (int, bool) {
	switch {
	case h.state == stSkip:
		n := min(h.remain, len(data))
		h.remain -= n
		if h.remain == 0 {
			h.state = stStart
		}
		return n, true
	case h.state == stStart && data[0] == '$':
		// Interleaved frame: '$', channel, 16-bit length (RFC 2326 10.12).
		if len(data) < 4 {
			return 0, false
		}
		h.state, h.remain = stSkip, 4+int(binary.BigEndian.Uint16(data[2:4]))
		return 0, true
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
			return
		}
		if a.startLine(f, dir, h, line) {
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
		name, value := bytes.TrimSpace(line[:i]), bytes.TrimSpace(line[i+1:])
		a.header(f, dir, h, name, value)
	}
}

// startLine reads "METHOD uri RTSP/x.y" or "RTSP/x.y code reason".
func (a *analyzer) startLine(f *inspect.Flow, dir inspect.Dir, h *half, line []byte) bool {
	h.contentLength, h.cseq = 0, -1
	if isStatusLine(line) {
		if len(line) < 12 {
			return false
		}
		code := 0
		for _, c := range line[9:12] {
			if c < '0' || c > '9' {
				return false
			}
			code = code*10 + int(c-'0')
		}
		h.request = false
		if dir == inspect.ToClient {
			a.status, a.challenge = code, httpauth.Challenge{}
			a.serverLen, a.realmLen = 0, 0
		}
		return true
	}
	method, rest := inspect.CutWord(line)
	if len(method) == 0 || len(method) > len(a.method) || !bytes.Contains(line, []byte(" RTSP/")) {
		return false
	}
	for _, c := range method {
		if (c < 'A' || c > 'Z') && c != '_' {
			return false
		}
	}
	h.request = true
	if dir == inspect.ToServer {
		a.methodLen = copy(a.method[:], method)
		uri, _ := inspect.CutWord(rest)
		a.lastCSeq = -2
		a.reqSpaces = a.judge.Spaces(f, a.proto.mem, nil, urlPath(uri), true)
		a.urlLogin(f, uri)
	}
	return true
}

// urlPath is the path of an RTSP URL ("rtsp://cam:554/Streaming/101?x"
// → "/Streaming/101"), after any user and password; "*" and a URL
// without a path have none.
func urlPath(uri []byte) []byte {
	if i := bytes.Index(uri, []byte("://")); i >= 0 {
		uri = uri[i+3:]
		if k := bytes.LastIndexByte(uri, '@'); k >= 0 {
			uri = uri[k+1:] // "user:pass@": a password may hold a '/'
		}
		j := bytes.IndexByte(uri, '/')
		if j < 0 {
			return nil
		}
		uri = uri[j:]
	}
	if i := bytes.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	return uri
}

func (a *analyzer) header(f *inspect.Flow, dir inspect.Dir, h *half, name, value []byte) {
	switch {
	case inspect.EqualFold(name, "Content-Length"):
		h.contentLength = int(parseDecimal(value, 1<<30))
	case inspect.EqualFold(name, "CSeq"):
		h.cseq = parseDecimal(value, 1<<31)
	case !h.request && dir == inspect.ToClient && inspect.EqualFold(name, "Server"):
		a.serverLen = copy(a.server[:], value)
	case !h.request && dir == inspect.ToClient && inspect.EqualFold(name, "WWW-Authenticate"):
		if a.realmLen == 0 {
			a.realmLen = httpauth.Unescape(a.realm[:], httpauth.Realm(value))
		}
		a.challenge.Add(a.proto.mem, f.Server(), value, false)
	case !h.request && dir == inspect.ToClient && inspect.EqualFold(name, "Proxy-Authenticate"):
		a.challenge.Add(a.proto.mem, f.Server(), value, true)
	case h.request && dir == inspect.ToServer && inspect.EqualFold(name, "Authorization"):
		a.login(f, value, false)
	case h.request && dir == inspect.ToServer && inspect.EqualFold(name, "Proxy-Authorization"):
		a.login(f, value, true)
	}
}

// parseDecimal reads a decimal up to max; -1 if value is not one.
func parseDecimal(value []byte, max int64) int64 {
	if len(value) == 0 {
		return -1
	}
	var n int64
	for _, c := range value {
		if c < '0' || c > '9' || n > max {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// login classifies the credential of an Authorization header or, with
// proxy, a Proxy-Authorization header.
func (a *analyzer) login(f *inspect.Flow, value []byte, proxy bool) {
	scheme, rest := httpauth.Split(value)
	l := inspect.Login{Protocol: "rtsp", Mechanism: scheme.String()}
	s, ok := httpauth.ClassifySent(f, a.proto.mem, &l, scheme, rest, a.method[:a.methodLen], &a.scratch)
	if !ok {
		return // RTSP logins are read for Basic and Digest only
	}
	s.Proxy = proxy
	// Cameras answer OPTIONS to anyone: its 2xx proves nothing.
	s.Unchecked = a.isOptions()
	a.addRequestCred(f, pending{used: true, sent: s})
}

func (a *analyzer) isOptions() bool { return string(a.method[:a.methodLen]) == "OPTIONS" }

// urlLogin classifies the login in the URL of the request being read,
// unless the connection reported it already: then it is not classified
// again, as players repeat it with every request, keep-alives included.
func (a *analyzer) urlLogin(f *inspect.Flow, uri []byte) {
	defer clear(a.scratch[:])
	user, password, ok := readURLLogin(uri, &a.scratch)
	if !ok {
		return
	}
	key := a.proto.urlKey(user, password)
	if a.urlReported(key) || a.isOptions() && a.parked.urlKey == key {
		return
	}
	l := inspect.Login{Protocol: "rtsp", Mechanism: "URL", User: user, Secret: password}
	s := httpauth.Sent{Cred: f.Classify(&l), Unchecked: a.isOptions()}
	s.ID = a.proto.mem.ID(&s.Cred, user, nil)
	a.addRequestCred(f, pending{used: true, sent: s, urlKey: key})
}

// addRequestCred keeps a credential of the request being read until its
// CSeq is known; with no room, it is reported with an unknown outcome.
func (a *analyzer) addRequestCred(f *inspect.Flow, p pending) {
	for i := range a.reqCreds {
		if !a.reqCreds[i].used {
			a.reqCreds[i] = p
			return
		}
	}
	a.file(f, &p, nil)
}

func (a *analyzer) urlReported(key uint64) bool {
	for _, k := range a.urlLogins {
		if k == key {
			return true
		}
	}
	return false
}

// file hands p to the judge with the answer to its request (nil: none
// seen). A URL login is filed once: a repeat is dropped, and one whose
// answer proves nothing (OPTIONS, not refused) is parked until a request
// the camera checks carries it or the connection ends.
func (a *analyzer) file(f *inspect.Flow, p *pending, ans *httpauth.Answer) {
	if p.urlKey != 0 {
		if a.urlReported(p.urlKey) {
			return
		}
		if p.sent.Unchecked && (ans == nil || !httpauth.Refused(ans.Status, p.sent.Proxy, ans.Challenge.Stale)) {
			if a.parked.used && a.parked.urlKey != p.urlKey {
				a.fileParked(f) // another login follows: this one's verdict stays unknown
			}
			a.parked = *p
			return
		}
		a.urlLogins[a.nURLLogins%maxURLLogins] = p.urlKey
		a.nURLLogins++
		if a.parked.urlKey == p.urlKey {
			a.parked = pending{}
		}
	}
	a.judge.Report(f, a.proto.mem, &p.sent, &p.spaces, ans)
}

// fileParked reports the parked URL login, its outcome unknown.
func (a *analyzer) fileParked(f *inspect.Flow) {
	p := a.parked
	a.parked = pending{}
	p.sent.Unchecked = false // filed, not parked again
	a.file(f, &p, nil)
}

func (a *analyzer) endHeaders(f *inspect.Flow, dir inspect.Dir, h *half) {
	switch {
	case h.request && dir == inspect.ToServer:
		a.lastCSeq = h.cseq
		withPrevious := false
		for i := range a.reqCreds {
			if a.reqCreds[i].used {
				a.reqCreds[i].cseq = h.cseq
				a.reqCreds[i].spaces = a.reqSpaces
				a.reqCreds[i].withPrevious = withPrevious
				a.enqueue(f, a.reqCreds[i])
				withPrevious = true
			}
		}
		clear(a.reqCreds[:])
	case !h.request && dir == inspect.ToClient:
		a.observeServer(f)
		if a.status >= 200 { // 1xx is interim
			a.challenged(f, h.cseq)
			a.answer(f, h.cseq)
		}
	}
	h.state = stStart
	if h.contentLength > 0 {
		h.state, h.remain = stSkip, h.contentLength
	}
}

// challenged records what a response shows of the camera's demands
// (httpauth.Judge.Answered) when it answers the latest request (its
// CSeq, or none): a challenge protects that request's place. The answer
// to an earlier one of pipelined requests records nothing.
func (a *analyzer) challenged(f *inspect.Flow, cseq int64) {
	if a.status != 401 && a.status != 407 || a.lastCSeq == -2 || cseq >= 0 && cseq != a.lastCSeq {
		return
	}
	a.judge.Answered(f, a.proto.mem, &a.reqSpaces, &httpauth.Answer{Status: a.status, Challenge: a.challenge})
}

// enqueue keeps a credential until the response with its CSeq; with the
// queue full, the oldest is reported with an unknown outcome.
func (a *analyzer) enqueue(f *inspect.Flow, p pending) {
	if a.queue[len(a.queue)-1].used {
		a.report(f, 0, false)
	}
	for i := range a.queue {
		if !a.queue[i].used {
			a.queue[i] = p
			return
		}
	}
}

// answer reports the queued credentials sent with cseq (a response
// without CSeq answers the oldest request, all it carried).
func (a *analyzer) answer(f *inspect.Flow, cseq int64) {
	if cseq < 0 {
		// The queue is kept packed at its front (report).
		for first := true; a.queue[0].used && (first || a.queue[0].withPrevious); first = false {
			a.report(f, 0, true)
		}
		return
	}
	for i := 0; i < len(a.queue); {
		if p := &a.queue[i]; p.used && p.cseq == cseq {
			a.report(f, i, true)
			continue // report shifted the next entry into i
		}
		i++
	}
}

// report hands queue entry i to the judge with the response being read,
// if answered, else with none seen, and closes the gap it leaves.
func (a *analyzer) report(f *inspect.Flow, i int, answered bool) {
	p := a.queue[i]
	copy(a.queue[i:], a.queue[i+1:])
	a.queue[len(a.queue)-1] = pending{}
	var ans *httpauth.Answer
	if answered {
		ans = &httpauth.Answer{Status: a.status, Challenge: a.challenge}
	}
	a.file(f, &p, ans)
}

// observeServer reports the Server header as the banner, and the realm
// (which often names the camera model), once each.
func (a *analyzer) observeServer(f *inspect.Flow) {
	newRealm := a.realmLen > 0 && !a.sawRealm
	if (a.sawServer && !newRealm) || (a.serverLen == 0 && a.realmLen == 0) {
		return
	}
	a.sawServer = true
	a.sawRealm = a.sawRealm || a.realmLen > 0
	ev := &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindBanner,
		Summary:  "RTSP server",
		Evidence: event.Evidence{"protocol": "rtsp"},
	}
	if a.serverLen > 0 {
		ev.Evidence["banner"] = inspect.Scrubbed(a.server[:a.serverLen], maxValue)
	}
	if a.realmLen > 0 {
		ev.Evidence["realm"] = inspect.Printable(a.realm[:a.realmLen], maxRealm)
	}
	f.Emit(inspect.SubjectServer, ev)
}

func (a *analyzer) Gap(f *inspect.Flow, dir inspect.Dir) {
	h := &a.half[dir]
	h.state = stResync
	h.lines.Reset()
	if dir == inspect.ToServer {
		a.flushRequestCreds(f)
	}
}

// flushRequestCreds reports the credentials of a request whose headers
// were cut short.
func (a *analyzer) flushRequestCreds(f *inspect.Flow) {
	for i := range a.reqCreds {
		if c := &a.reqCreds[i]; c.used {
			a.file(f, c, nil)
		}
	}
	clear(a.reqCreds[:])
}

// Wake implements inspect.Waker: acceptances held back (httpauth.Judge)
// are due.
func (a *analyzer) Wake(f *inspect.Flow, now time.Time) { a.judge.Wake(f, a.proto.mem, now) }

func (a *analyzer) Close(f *inspect.Flow) {
	a.judge.Close(f, a.proto.mem) // acceptances of requests before those never answered
	a.flushRequestCreds(f)
	for a.queue[0].used {
		a.report(f, 0, false)
	}
	if a.parked.used {
		a.fileParked(f)
	}
	a.proto.pool.Put(a)
}
