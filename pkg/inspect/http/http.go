// Package http inspects plain HTTP/1.x: credentials in Authorization
// headers (Basic, Digest, Bearer), in login forms and query strings, and
// in the WS-Security UsernameToken of ONVIF's SOAP requests (soap.go),
// with the server's verdict taken from the paired response (for
// Authorization credentials, httpauth.Judge's: a 2xx accepts one only
// where the server is known to demand it; for forms, outcome's; for
// tokens, soapOutcome's, from the answer's SOAP fault, a 2xx accepting
// one only where the server is known to demand a login); firmware
// downloaded without TLS; the client's User-Agent and the server's Server
// header and authentication realm, and an ONVIF camera's device
// information, for fingerprinting; and, through a
// PayloadScanner, personal data in URLs, request headers and bodies.
//
// Messages are parsed incrementally in the engine's stream buffer: headers
// line by line, bodies by Content-Length or chunked coding. Only a short
// prefix of each body is kept, in fixed per-flow storage, for the payload
// scanner and the answer page; the rest is skipped without buffering. A
// request body is also read as it comes by a form reader (form.go) that
// keeps only the field being read, so a login form's fields are found
// anywhere in the body. A login field cut by the request target's buffer
// or by the end of inspection (the byte budget) is not read: its front
// may match a default password that the whole value does not. Requests are paired with responses in order
// through a small fixed queue, so keep-alive and pipelined flows work.
//
// A 101 Switching Protocols ends HTTP on the flow: an upgrade to
// WebSocket whose subprotocol a registered protocol runs as (MQTT's
// "mqtt") hands the flow's WebSocket frames on to it
// (inspect.Flow.StartWebSocket); any other upgrade ends inspection.
package http

import (
	"bytes"
	"hash/maphash"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

// Bounds of the per-flow state. Longer values are truncated, longer lines
// dropped; none of them grow with the input.
const (
	maxLine    = 2048 // a header line longer than this is skipped
	maxTarget  = 1024 // request target kept for logins in query strings and firmware URLs
	maxHost    = 256
	maxAgent   = 256
	maxServer  = 256
	maxRealm   = 128
	maxBody    = 2048 // body prefix kept for the payload scanner and answer pages
	maxPending = 4    // requests awaiting their response
	maxValue   = 160  // printable length of an observed header value
	maxHeld    = 256  // a held firmware URL (analyzer.held); a longer one is copied
	// maxSubprotocol is the longest WebSocket subprotocol name kept;
	// those the analyzers run as ("mqttv3.1") are far shorter.
	maxSubprotocol = 32
)

// Protocol is plain HTTP/1.x.
type Protocol struct {
	scanner inspect.PayloadScanner
	pool    inspect.FreeList[analyzer]
	// decoded holds a URL or form, percent-decoded for the scanner, while
	// it is scanned; one engine goroutine uses a Protocol.
	decoded [maxLine]byte
	seed    maphash.Seed // for the hashes of page names (pending.page)
	// mem remembers, across connections, what servers challenged and
	// refused, for the verdicts on Authorization credentials.
	mem *httpauth.Memory
	// logins and answers lend the SOAP readers to the request and
	// response bodies that may be SOAP messages (borrowSOAP), so that
	// a flow holds them only while such a body is read.
	logins  inspect.Lender[soapLogin]
	answers inspect.Lender[soapAnswer]
}

// New returns the HTTP protocol. scanner, which may be nil, is handed
// request targets and body prefixes to look for personal data in.
func New(scanner inspect.PayloadScanner) *Protocol {
	return &Protocol{
		scanner: scanner, seed: maphash.MakeSeed(), mem: httpauth.NewMemory(),
		logins:  inspect.NewLender[soapLogin](maxSOAPReaders),
		answers: inspect.NewLender[soapAnswer](maxSOAPReaders),
	}
}

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "http" }

// Match implements inspect.Protocol: a request line from the client or a
// status line from the server proves HTTP; a web port with bytes that
// could be text is a guess (a capture that starts mid-flow).
func (*Protocol) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	if dir == inspect.ToServer && startsWithMethod(b) && !otherTextProtocol(b) {
		return inspect.ContentMatch
	}
	if dir == inspect.ToClient && bytes.HasPrefix(b, []byte("HTTP/1.")) {
		return inspect.ContentMatch
	}
	switch f.Server().Port() {
	case 80, 81, 8000, 8008, 8080, 8081, 8888:
		if len(b) > 0 && (b[0] == '\r' || b[0] == '\n' || b[0] == '\t' || (b[0] >= 0x20 && b[0] < 0x7f)) {
			return inspect.PortMatch
		}
	}
	return inspect.NoMatch
}

// matchMethods are the request methods that prove HTTP on any port.
var matchMethods = [...]string{"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT "}

func startsWithMethod(b []byte) bool {
	for _, m := range matchMethods {
		if bytes.HasPrefix(b, []byte(m)) {
			return true
		}
	}
	return false
}

// otherTextProtocol reports whether a request that starts like HTTP's is
// RTSP or SIP, which share methods (OPTIONS) and syntax with it.
func otherTextProtocol(b []byte) bool {
	_, rest := inspect.CutWord(b)
	if inspect.HasPrefixFold(rest, "rtsp") || inspect.HasPrefixFold(rest, "sip:") || inspect.HasPrefixFold(rest, "sips:") {
		return true
	}
	line, _, ok := inspect.NextLine(b)
	return ok && !bytes.Contains(line, []byte(" HTTP/"))
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(f *inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	a.hostBucket = f.HostBucket()
	a.lastSeq = ^uint32(0)
	return a
}

// state is where a direction's parser is within a message.
type state uint8

const (
	stStart      state = iota // expecting a request or status line
	stHeaders                 // reading header lines
	stBody                    // Content-Length body: remain bytes left
	stChunkSize               // a chunk-size line
	stChunkData               // chunk data: remain bytes left
	stChunkEnd                // the CRLF after chunk data
	stTrailers                // trailer lines after the last chunk
	stUntilClose              // response body delimited by the end of the connection
	stResync                  // lost: skip lines until a start line
)

// bodyKind classifies a Content-Type for what is worth parsing or scanning.
type bodyKind uint8

const (
	bodyUnknown bodyKind = iota // no Content-Type
	bodyForm                    // application/x-www-form-urlencoded
	bodyJSON
	bodyText      // other textual types
	bodyBinary    // images, media, archives: not scanned
	bodyMultipart // multipart/form-data: its fields read for logins, not scanned (uploads)
)

// maxBoundary is the longest multipart boundary (RFC 2046 section 5.1.1).
const maxBoundary = 70

// half is one direction's framing state.
type half struct {
	state  state
	lines  inspect.LineCutter // start, header, chunk-size and trailer lines
	remain int64
	// From the headers of the message being read.
	contentLength int64 // -1: none
	chunked       bool
	kind          bodyKind
	// Body prefix.
	body      [maxBody]byte
	bodyLen   int
	inBody    bool // a body is being read (prefix not yet handed on)
	bodyFinal bool // the prefix has been processed
	bodyCut   bool // body bytes past the prefix were not kept
}

func (h *half) resetMessage() {
	h.contentLength = -1
	h.chunked = false
	h.kind = bodyUnknown
	h.dropBody()
	h.inBody = false
	h.bodyFinal = false
	h.bodyCut = false
}

// dropBody wipes the kept body prefix: a form's password, or a response's
// personal data or Wi-Fi key, must not outlive the message until Close.
func (h *half) dropBody() {
	clear(h.body[:h.bodyLen])
	h.bodyLen = 0
}

// pending is a request awaiting its response.
type pending struct {
	seq         uint32
	head        bool // HEAD: the response has no body
	connect     bool // CONNECT: a 2xx response starts a tunnel
	proxied     bool // absolute-form target: asked of a proxy
	creds       [2]pendingCred
	firmware    string // host and path of a firmware download, "" if none
	updateCheck bool   // firmware is a check for updates, not an image
	// ifImage: a firmware download if answered with an image
	// (firmwareIfImage); its URL is firmware, or, if that is "", the
	// analyzer's held.
	ifImage bool
	// clearUnlessHTTPS: the request carried nothing worth hiding, and is
	// cleartext use unless its answer only sends it on to HTTPS
	// (resolve).
	clearUnlessHTTPS bool
	cookies          uint16 // the framework session cookies the request carried
	// page is the hash of the last segment of the request's path
	// (Protocol.pageHash): a form in the answer that posts there is the
	// login form again.
	page uint64
	// spaces are the protection spaces of the request: a challenge in
	// its answer protects them, and its Authorization credentials were
	// demanded if they were challenged.
	spaces httpauth.Spaces
	// awaiting: answered, its form logins wait for the page of a 2xx,
	// its UsernameTokens for the fault of any answer (resolveWait); it
	// stays at the head of the queue meanwhile.
	awaiting bool
}

type pendingCred struct {
	used bool
	form bool // from a form or query string, not an Authorization header
	// soap: a SOAP message's WS-Security UsernameToken, or with
	// setUser the password its CreateUsers or SetUser sets, judged by
	// soapOutcome; preAuth: of an operation devices answer without
	// authentication.
	soap    bool
	setUser bool
	preAuth bool
	// sent is the credential and, of an Authorization one, what the
	// judge needs: its identity, the nonce of a Digest response, and
	// whether it came in Proxy-Authorization (a 407 judges it, a 401
	// does not).
	sent httpauth.Sent
}

// reply is what a response says about the logins of its request.
type reply struct {
	status int
	// appSession: it sets a cookie of the application's own
	// (classifyCookie), other than deleting one.
	appSession bool
	// frameworkSessions: the framework session cookies it sets.
	frameworkSessions uint16
	challenge         httpauth.Challenge // its WWW- and Proxy-Authenticate headers
	toLogin           bool               // it redirects to a login or error page
	image             bool               // its Content-Type is a file's (imageContentType)
	toHTTPS           bool               // its Location is https:// without a query (httpsLocation)
	via               bool               // a proxy relayed it (Via header)
	webSocket         bool               // its Upgrade header names websocket
	// subprotocol: it has a Sec-WebSocket-Protocol header, which names
	// the one subprotocol chosen even when too long to keep.
	subprotocol bool
	// page is what its body showed, for a form login answered 2xx
	// (answerPage); pageUnread until the body is read.
	page pageVerdict
	// relayed: a proxy relayed it (via), or it answers a request asked
	// of a proxy: what it says of a server is the origin's.
	relayed bool
	// What its body showed as a SOAP message (soapAnswer), once read:
	// a fault, and one that refuses the request's credentials; a
	// response to the operation. A body not read as one (of another
	// type, none, or past maxSOAPReaders) shows none of them.
	soapFault    bool
	soapRefused  bool
	soapResponse bool
}

// pageVerdict is what the body of a 2xx answer to a form login shows.
type pageVerdict uint8

const (
	pageUnread pageVerdict = iota // empty, not read whole (longer than maxBody, cut) or not read yet
	pageOther                     // read whole: no login form, no failure message
	pageLogin                     // a login form again, or a failure message
)

type analyzer struct {
	proto      *Protocol
	hostBucket uint32 // the client's host bucket (Flow.HostBucket), which what it borrows counts to
	half       [2]half

	// The request being read.
	method     [16]byte
	methodLen  int
	target     [maxTarget]byte
	targetLen  int
	targetCut  bool // the request target was longer than maxTarget
	host       [maxHost]byte
	hostLen    int
	agent      [maxAgent]byte
	agentLen   int
	reqCookies uint16 // framework session cookies of the request being read
	reqSeq     uint32 // sequence number of the request being read
	reqCreds   [2]pendingCred
	basic      [basicScratch]byte // decoded Basic credential or unescaped Digest user
	form       formScratch
	soap       *soapLogin // the request body's WS-Security UsernameToken, lent while it is read
	// The boundary of the request's multipart/form-data body.
	boundary    [maxBoundary]byte
	boundaryLen int
	// The WebSocket subprotocol the request offered first, and the one
	// the response agreed on (Sec-WebSocket-Protocol).
	wsOffer     [maxSubprotocol]byte
	wsOfferLen  int
	wsChosen    [maxSubprotocol]byte
	wsChosenLen int

	// The response being read.
	reply      reply
	soapAnswer *soapAnswer // its body as a SOAP message, lent while it is read
	server     [maxServer]byte
	serverLen  int
	realm      [maxRealm]byte
	realmLen   int
	curHead    bool // the response answers a HEAD request

	queue    [maxPending]pending
	qHead    int
	qLen     int
	nextSeq  uint32
	dropped  int // requests pushed out of a full queue, whose responses are still due
	unpaired bool
	// The request last answered, for a form whose body outlives its
	// response.
	lastSeq   uint32
	lastReply reply
	// lastOwnSpace is the protection space of the request the response
	// being read answers; 0 for one without a request (the queue was
	// behind), and once the response ended (noteTokenRefusal). Only the
	// space itself: a refusal marks no ancestor.
	lastOwnSpace uint64

	// judge keeps what the server challenged and refused on the flow,
	// and the acceptances of Authorization credentials held back.
	judge httpauth.Judge

	// setupPage is the path of the request being read if it is a
	// device's Wi-Fi setup page (inspect.SetupPageAt), else "".
	setupPage  string
	ocspBody   bool // the request being read is application/ocsp-request
	espHeaders bool // the request being read has the ESP updaters' headers (espUpdaterHeader)
	soapAction bool // the request being read has a SOAPAction header: UPnP control
	xmlBody    bool // the request being read is typed text/xml or application/soap+xml, as SOAP is
	// envelopeDue: the request being read is UPnP control by its head
	// (upnpControl); unless its body begins as a SOAP envelope
	// (soapEnvelope) it is cleartext use.
	envelopeDue bool
	// bare: the request being read may carry nothing worth hiding so
	// far: a GET or HEAD of a target without a query, on a flow not yet
	// counted as cleartext use, whose headers are all quiet
	// (quietHeader) — no Cookie, Authorization of any scheme, X-Api-Key,
	// Host with an identifier, … — and none was dropped as too long.
	// Only such a request can be exempt (sentNothing, inClearByDesign's
	// connectivity checks), so only its headers are judged.
	bare bool
	// held is the URL of the one queued request, heldSeq, that is a
	// firmware download if answered with an image (heldLen > 0), so that
	// a device polling a version API allocates nothing.
	held              [maxHeld]byte
	heldLen           int
	heldSeq           uint32
	reportedCleartext bool // a request not in clear by design was seen
	sawClient         bool // http_client observation sent
	sawServer         bool // http_server observation sent
	sawRealm          bool // a realm was part of an observation
	sawDevice         bool // an ONVIF device information observation sent
}

// dropTarget wipes the request target, which may carry "?pwd=…", once its
// query login and firmware URL are read: a shorter next target would
// overwrite only its front.
func (a *analyzer) dropTarget() {
	clear(a.target[:a.targetLen])
	a.targetLen = 0
}

// closed reports whether the analyzer was released during the current
// Feed (StopInspection).
func (a *analyzer) closed() bool { return a.proto == nil }

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	h := &a.half[dir]
	consumed := 0
	for consumed < len(data) {
		n, more := a.step(f, dir, h, data[consumed:])
		consumed += n
		if a.closed() {
			// Stopped, or handed on after a line: the rest is the next
			// analyzer's (Flow.StartWebSocket).
			return consumed
		}
		if !more {
			break
		}
	}
	return consumed
}

// step handles one line or one run of body bytes. It returns how much it
// consumed and whether to go on.
func (a *analyzer) step(f *inspect.Flow, dir inspect.Dir, h *half, data []byte) (int, bool) {
	switch h.state {
	case stBody, stChunkData:
		n := int64(len(data))
		if n > h.remain {
			n = h.remain
		}
		a.bodyBytes(dir, h, data[:n])
		h.remain -= n
		if h.remain == 0 {
			if h.state == stBody {
				a.endMessage(f, dir, h)
			} else {
				h.state = stChunkEnd
			}
		}
		return int(n), true
	case stUntilClose:
		a.bodyBytes(dir, h, data)
		return len(data), false
	}
	line, n, ok, more := h.lines.Next(data, maxLine)
	switch {
	case ok:
		a.line(f, dir, h, line)
	case n > 0 && dir == inspect.ToServer && h.state == stHeaders:
		a.bare = false // a header line too long to read: whatever it held
	}
	return n, more
}

func (a *analyzer) line(f *inspect.Flow, dir inspect.Dir, h *half, line []byte) {
	switch h.state {
	case stStart, stResync:
		if len(line) == 0 && h.state == stStart {
			return // stray CRLF between messages (RFC 9112 section 2.2)
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
		name, value, ok := cutHeader(line)
		if !ok {
			return
		}
		a.framingHeader(h, name, value)
		if dir == inspect.ToServer {
			a.requestHeader(f, name, value)
			if a.proto.scanner != nil && f.ClientLocal {
				a.scanHeader(f, name, line)
			}
		} else {
			a.responseHeader(f, name, value)
		}
	case stChunkSize:
		size, ok := parseChunkSize(line)
		switch {
		case !ok:
			a.lose(f, dir, h)
		case size == 0:
			h.state = stTrailers
		default:
			h.state, h.remain = stChunkData, size
		}
	case stChunkEnd:
		h.state = stChunkSize
	case stTrailers:
		if len(line) == 0 {
			a.endMessage(f, dir, h)
		}
	}
}

// startLine reads a request or status line; false if line is neither.
func (a *analyzer) startLine(f *inspect.Flow, dir inspect.Dir, h *half, line []byte) bool {
	h.resetMessage()
	if dir == inspect.ToClient {
		status, ok := parseStatusLine(line)
		if !ok {
			return false
		}
		a.reply = reply{status: status}
		a.serverLen, a.realmLen, a.wsChosenLen = 0, 0, 0
		return true
	}
	method, target, ok := parseRequestLine(line)
	if !ok {
		return false
	}
	a.methodLen = copy(a.method[:], method)
	a.setupPage = ""
	if a.proto.scanner != nil {
		_, path, _ := splitTarget(target)
		a.setupPage = inspect.SetupPageAt(path).Path()
	}
	a.targetLen = copy(a.target[:], target)
	a.targetCut = len(target) > a.targetLen
	a.hostLen, a.agentLen, a.ocspBody, a.reqCookies, a.wsOfferLen = 0, 0, false, 0, 0
	a.espHeaders, a.soapAction, a.xmlBody = false, false, false
	a.bare = !a.reportedCleartext && (string(method) == "GET" || string(method) == "HEAD") &&
		!a.targetCut && bareTarget(target)
	a.reqSeq = a.nextSeq
	a.nextSeq++
	if a.proto.scanner != nil {
		a.proto.scanDecoded(f, dir, inspect.WhereURL, target, 0, isURL, "") // the whole line: not the buffer
	}
	return true
}

func (a *analyzer) framingHeader(h *half, name, value []byte) {
	switch {
	case inspect.EqualFold(name, "Content-Length"):
		if n, ok := parseDecimal(value); ok {
			h.contentLength = n
		}
	case inspect.EqualFold(name, "Transfer-Encoding"):
		h.chunked = inspect.ContainsFold(value, "chunked")
	case inspect.EqualFold(name, "Content-Type"):
		h.kind = classifyContentType(value)
		if h.kind == bodyMultipart {
			// Only a request's parts are read (for logins); its head
			// is read whole before its body.
			// A response's boundary is not kept: it may come while the
			// request's body is still being read with the request's.
			b := multipartBoundary(value)
			if len(b) == 0 || len(b) > maxBoundary || h != &a.half[inspect.ToServer] {
				h.kind = bodyBinary // no boundary, no parts
				break
			}
			a.boundaryLen = copy(a.boundary[:], b)
		}
	}
}

// bareTarget: a path alone, or Firefox's connectivity check, whose query
// only names the address family it tests (/success.txt?ipv4, ?ipv6).
func bareTarget(target []byte) bool {
	if !bytes.ContainsAny(target, "?;#") {
		return true
	}
	switch string(target) {
	case "/success.txt?ipv4", "/success.txt?ipv6":
		return true
	}
	return false
}

func (a *analyzer) requestHeader(f *inspect.Flow, name, value []byte) {
	if a.bare && !quietHeader(name, value) {
		a.bare = false
	}
	switch {
	case inspect.EqualFold(name, "Host"):
		a.hostLen = copy(a.host[:], value)
	case inspect.EqualFold(name, "Content-Type"):
		a.ocspBody = inspect.HasPrefixFold(value, "application/ocsp-request")
		a.xmlBody = inspect.HasPrefixFold(value, "text/xml") || inspect.HasPrefixFold(value, "application/soap+xml")
	case inspect.EqualFold(name, "User-Agent"):
		a.agentLen = copy(a.agent[:], value)
	case inspect.EqualFold(name, "Cookie"):
		a.reqCookies |= frameworkCookies(value)
	case inspect.EqualFold(name, "Authorization"):
		a.headerLogin(f, value, false)
	case inspect.EqualFold(name, "Proxy-Authorization"):
		a.headerLogin(f, value, true)
	case espUpdaterHeader(name):
		a.espHeaders = true
	case inspect.EqualFold(name, "SOAPAction"):
		a.soapAction = true
	case inspect.EqualFold(name, "Sec-WebSocket-Protocol"):
		if a.wsOfferLen == 0 {
			a.wsOfferLen = copy(a.wsOffer[:], firstToken(value, maxSubprotocol))
		}
	}
}

// scanHeader hands a request header line of a LAN client (the caller
// checks that, and that there is a scanner) to the payload scanner
// ("X-IMEI: 490154203237518", "From: alice@example.com"). Not
// Authorization, Proxy-Authorization and Cookie: their credentials and
// session tokens are the login analyzers' (a Digest username is a
// login's user, not a second finding), nor the framing headers every
// request has, which hold no personal data. A header from an internet
// client is the client's, not the home's.
func (a *analyzer) scanHeader(f *inspect.Flow, name, line []byte) {
	for _, h := range [...]string{"Authorization", "Proxy-Authorization", "Cookie", "Host", "Content-Length", "Content-Type",
		"Transfer-Encoding", "Connection", "Accept", "Accept-Encoding", "Accept-Language", "Cache-Control"} {
		if inspect.EqualFold(name, h) {
			return
		}
	}
	a.proto.scanner.ScanPayload(f, inspect.ToServer, "header", line, 0)
}

func (a *analyzer) responseHeader(f *inspect.Flow, name, value []byte) {
	switch {
	case inspect.EqualFold(name, "Server"):
		a.serverLen = copy(a.server[:], value)
	case inspect.EqualFold(name, "WWW-Authenticate"):
		if a.realmLen == 0 {
			a.realmLen = unescapedRealm(a.realm[:], value)
		}
		a.reply.challenge.Add(a.proto.mem, f.Server(), value, false)
	case inspect.EqualFold(name, "Proxy-Authenticate"):
		a.reply.challenge.Add(a.proto.mem, f.Server(), value, true)
	case inspect.EqualFold(name, "Set-Cookie"):
		if setsCookie(value) {
			name, _, _ := bytes.Cut(value, []byte("="))
			switch kind, bit := classifyCookie(bytes.TrimSpace(name)); kind {
			case cookieApp:
				a.reply.appSession = true
			case cookieFramework:
				a.reply.frameworkSessions |= bit
			}
		}
	case inspect.EqualFold(name, "Content-Type"):
		// Of interest only to a request that waits to learn it.
		a.reply.image = a.qLen > 0 && a.queue[a.qHead].ifImage && imageContentType(value)
	case inspect.EqualFold(name, "Location"):
		a.reply.toLogin = loginPage(value)
		a.reply.toHTTPS = httpsLocation(value)
	case inspect.EqualFold(name, "Via"):
		a.reply.via = true
	case inspect.EqualFold(name, "Upgrade"):
		a.reply.webSocket = inspect.ContainsFold(value, "websocket")
	case inspect.EqualFold(name, "Sec-WebSocket-Protocol"):
		a.reply.subprotocol = true
		a.wsChosenLen = copy(a.wsChosen[:], firstToken(value, maxSubprotocol))
	}
}

// endHeaders completes a message's header block and sets up its body.
func (a *analyzer) endHeaders(f *inspect.Flow, dir inspect.Dir, h *half) {
	if dir == inspect.ToServer {
		a.endRequestHeaders(f)
		switch {
		case h.chunked:
			a.startBody(h, stChunkSize, 0)
		case h.contentLength > 0:
			a.startBody(h, stBody, h.contentLength)
		default:
			a.endMessage(f, dir, h)
		}
		return
	}
	if a.reply.status >= 100 && a.reply.status < 200 {
		if a.reply.status == 101 { // Switching Protocols: no longer HTTP
			a.answer(f)
			if !a.closed() && a.startWebSocket(f) {
				return
			}
			f.StopInspection()
			return
		}
		h.state = stStart // interim response; the final one follows
		return
	}
	connect := a.answer(f)
	if a.closed() {
		return
	}
	if connect && a.reply.status < 300 {
		f.StopInspection() // a tunnel, usually TLS
		return
	}
	switch {
	case a.curHead || a.reply.status == 204 || a.reply.status == 304:
		a.endMessage(f, dir, h)
	case h.chunked:
		a.startBody(h, stChunkSize, 0)
	case h.contentLength == 0:
		a.endMessage(f, dir, h)
	case h.contentLength > 0:
		a.startBody(h, stBody, h.contentLength)
	default:
		a.startBody(h, stUntilClose, 0)
	}
}

// startWebSocket hands the flow over to the analyzer of the WebSocket
// subprotocol a 101 answer agreed on, when one runs as it
// (inspect.WebSocketProtocol): the answer's Sec-WebSocket-Protocol, or
// the request's offer if the answer has none, as some brokers leave it out
// and clients carry on. It reports whether it did; then the analyzer is
// closed.
func (a *analyzer) startWebSocket(f *inspect.Flow) bool {
	if !a.reply.webSocket {
		return false
	}
	sub := a.wsChosen[:a.wsChosenLen]
	if !a.reply.subprotocol {
		sub = a.wsOffer[:a.wsOfferLen]
	}
	return len(sub) > 0 && f.StartWebSocket(sub)
}

// firstToken is the first element of a comma-separated header value
// ("mqtt, mqttv3.1"), without spaces; nil if longer than max.
func firstToken(value []byte, max int) []byte {
	tok, _, _ := bytes.Cut(value, []byte(","))
	tok = bytes.TrimSpace(tok)
	if len(tok) > max {
		return nil
	}
	return tok
}

func (a *analyzer) startBody(h *half, s state, n int64) {
	h.state, h.remain = s, n
	h.dropBody()
	h.inBody = true
	h.bodyCut = false
	dir := inspect.ToClient
	if h == &a.half[inspect.ToServer] {
		dir = inspect.ToServer
		a.form.start(h.kind)
	}
	a.borrowSOAP(dir, h.kind)
}

// bodyBytes keeps the first maxBody bytes of a body; the rest is skipped,
// and bodyCut says so. A request's body is read whole, as it comes, for
// a login form or a SOAP message's UsernameToken; a response's for a
// SOAP message's fault and device information.
func (a *analyzer) bodyBytes(dir inspect.Dir, h *half, b []byte) {
	// A SOAP reader that will find nothing more (the body is no SOAP
	// message: an HTML page) is given back at once, not at the body's
	// end, which a long body may put off for hours.
	switch {
	case dir == inspect.ToServer:
		a.form.feed(b, a.boundary[:a.boundaryLen])
		if a.soap != nil {
			if a.soap.feed(b); a.soap.spent() {
				a.releaseSOAP(dir)
			}
		}
	case a.soapAnswer != nil:
		if a.soapAnswer.feed(b); a.soapAnswer.spent() {
			a.releaseSOAP(dir)
		}
	}
	n := copy(h.body[h.bodyLen:], b)
	h.bodyLen += n
	h.bodyCut = h.bodyCut || n < len(b)
}

// endMessage finishes a message: its body prefix is parsed and scanned,
// and the direction waits for the next start line.
func (a *analyzer) endMessage(f *inspect.Flow, dir inspect.Dir, h *half) {
	a.finishBody(f, dir, h, true)
	if dir == inspect.ToClient {
		a.noteTokenRefusal(f)
		a.resolveWait(f)
	}
	h.state = stStart
}

// finishBody hands a body prefix on, once. ended says the body's framing
// reached its end; otherwise the flow stopped within it (the byte budget,
// a capture that ends) and the prefix ends in a cut.
func (a *analyzer) finishBody(f *inspect.Flow, dir inspect.Dir, h *half, ended bool) {
	if !h.inBody || h.bodyFinal {
		return
	}
	h.bodyFinal = true
	body := h.body[:h.bodyLen]
	cut := h.bodyCut || !ended
	if e := a.awaiting(); e != nil && dir == inspect.ToClient && len(body) > 0 && !cut && h.kind != bodyBinary {
		a.reply.page = answerPage(body, e.page, a.proto.seed)
	}
	if dir == inspect.ToClient {
		a.readSOAPAnswer(f)
	}
	if dir == inspect.ToServer {
		// The form reader saw the whole body, past the prefix: only
		// an end before the framing's cuts its last field.
		a.bodyLogin(f, !ended)
		a.tokenLogin(f)
		if a.envelopeDue {
			a.envelopeDue = false
			if !soapEnvelope(body) {
				a.countCleartext(f) // a SOAPAction header on no SOAP message
			}
		}
	}
	if len(body) == 0 {
		return
	}
	if s := a.proto.scanner; s != nil && h.kind != bodyBinary && h.kind != bodyMultipart {
		where := "body"
		if dir == inspect.ToClient {
			where = inspect.WhereResponseBody
		}
		switch {
		case dir == inspect.ToServer && (h.kind == bodyForm || h.kind == bodyUnknown && looksLikeForm(body)):
			a.proto.scanDecoded(f, dir, inspect.WhereForm, body, inspect.CutEndIf(cut), isForm, a.setupPage)
		default:
			s.ScanPayload(f, dir, where, body, inspect.CutEndIf(cut))
		}
	}
	h.dropBody() // handed on: of no further use
}

// What scanDecoded is handed.
const (
	isURL  = iota // a request target: '+' is a space only in its query
	isForm        // a URL-encoded form body
)

// scanDecoded hands b to the payload scanner as the server will read it:
// "phone=%2B49+30+1234567" is "+49 30 1234567". A form posted to a Wi-Fi
// setup page goes behind its path and a "?" (page), as a GET of the form
// would carry it: the scanner reads the page's short field names (s, p)
// there only. What the scanner was handed is wiped after: a form may
// hold a password.
//
// b may be longer than the buffer (a request line arrives whole, however
// long): it is decoded in chunks of whole fields, cut after a "&". A
// field longer than the buffer is decoded in pieces that overlap by
// decodedOverlap bytes and are handed on as cut (inspect.Cut) where they
// were cut, so a datum across a piece's end is found whole in the next.
func (p *Protocol) scanDecoded(f *inspect.Flow, dir inspect.Dir, where string, b []byte, cut inspect.Cut, what int, page string) {
	if page == "" && !bytes.ContainsAny(b, "%+") {
		p.scanner.ScanPayload(f, dir, where, b, cut) // decoded, it would be the same
		return
	}
	pathLen := 0
	if what == isURL {
		path, _, _ := bytes.Cut(b, []byte("?"))
		pathLen = len(path)
	}
	chunkCut := cut & inspect.CutStart
	start := p.startChunk(page) // the page's path, in every chunk
	n := start
	for pos := 0; pos < len(b); {
		// The next field: the path, or a query or form field with its "&".
		end, mode := pathLen, inspect.KeepSeparators
		if pos >= pathLen {
			end, mode = len(b), inspect.PlusIsSpace|inspect.KeepSeparators
			if i := bytes.IndexByte(b[pos:], '&'); i >= 0 {
				end = pos + i + 1
			}
		}
		if n+end-pos <= len(p.decoded) {
			n += inspect.PercentDecode(p.decoded[n:], b[pos:end], mode)
			pos = end
			continue
		}
		if n > start {
			// The chunk ends after a whole field: no cut.
			p.scanChunk(f, dir, where, n, chunkCut)
			chunkCut = 0
			n = start
			continue
		}
		// A field longer than the buffer: its front, cut, and the rest
		// from a little before the cut.
		end = pos + len(p.decoded) - n
		end = escapeStart(b, pos, end)
		n += inspect.PercentDecode(p.decoded[n:], b[pos:end], mode)
		p.scanChunk(f, dir, where, n, chunkCut|inspect.CutEnd)
		chunkCut = inspect.CutStart
		n = start
		pos = escapeStart(b, pos+1, end-decodedOverlap)
	}
	p.scanChunk(f, dir, where, n, chunkCut|cut&inspect.CutEnd)
}

// decodedOverlap is how many raw bytes a piece of a long field repeats of
// the one before: a datum this long across the cut is seen whole.
const decodedOverlap = 64

// startChunk writes the path of a setup page and "?" at the start of the
// decoded buffer and returns their length.
func (p *Protocol) startChunk(page string) int {
	if page == "" {
		return 0
	}
	n := copy(p.decoded[:], page)
	p.decoded[n] = '?'
	return n + 1
}

// scanChunk hands the first n decoded bytes to the scanner and wipes them.
func (p *Protocol) scanChunk(f *inspect.Flow, dir inspect.Dir, where string, n int, cut inspect.Cut) {
	p.scanner.ScanPayload(f, dir, where, p.decoded[:n], cut)
	clear(p.decoded[:n])
}

// escapeStart moves i, between from and len(b), back to the start of a
// percent escape it would split ("%2|B"), so that the bytes before i
// decode whole; never before from.
func escapeStart(b []byte, from, i int) int {
	i = max(from, min(i, len(b)))
	for k := 1; k <= 2; k++ {
		if i-k >= from && b[i-k] == '%' {
			return i - k
		}
	}
	return i
}

// looksLikeForm reports whether a body without a Content-Type is a form
// all the same: name=value pairs, which never hold a raw space, and not
// a JSON document or markup.
func looksLikeForm(b []byte) bool {
	return len(b) > 0 && b[0] != '{' && b[0] != '[' && b[0] != '<' && bytes.IndexByte(b, '=') > 0 && !bytes.ContainsAny(b, " \t\r\n")
}

// lose drops a direction's place in the stream: it skips to the next
// start line, and since requests and responses can no longer be paired
// with certainty, later logins are reported with an unknown outcome.
func (a *analyzer) lose(f *inspect.Flow, dir inspect.Dir, h *half) {
	h.state = stResync
	h.lines.Reset()
	h.inBody = false
	h.dropBody() // never handed on now
	a.unpaired = true
	a.releaseSOAP(dir) // a token or answer cut by the gap is not read
	if dir == inspect.ToServer {
		if a.envelopeDue {
			a.envelopeDue = false
			a.countCleartext(f) // its body never read whole: not shown to be SOAP
		}
		a.form.reset() // a form cut by the gap is not read
		a.dropTarget() // request head cut short: never read now
		a.reportUnqueued(f)
	}
	a.resolveWait(f)
	a.flushPending(f)
}

// Wake implements inspect.Waker: acceptances held back (httpauth.Judge)
// are due.
func (a *analyzer) Wake(f *inspect.Flow, now time.Time) { a.judge.Wake(f, a.proto.mem, now) }

func (a *analyzer) Gap(f *inspect.Flow, dir inspect.Dir) {
	a.lose(f, dir, &a.half[dir])
}

func (a *analyzer) Close(f *inspect.Flow) {
	// A body cut short by the end of the flow still holds what it holds,
	// but its last field may be a part of one. A body delimited by the
	// end of the connection is whole if the sender's stream reached the
	// close (a FIN, a reset, a timeout) with nothing lost (Flow.Ended).
	for dir := inspect.ToServer; dir <= inspect.ToClient; dir++ {
		h := &a.half[dir]
		a.finishBody(f, dir, h, h.state == stUntilClose && f.Ended(dir))
	}
	a.noteTokenRefusal(f) // an answer the end of the flow ended
	a.resolveWait(f)
	a.judge.Close(f, a.proto.mem) // acceptances of requests before those never answered
	a.reportUnqueued(f)
	a.flushPending(f)
	a.Abandon(f) // a reader still lent would be lost with the analyzer
	a.proto.pool.Put(a)
}

// Abandon gives back the SOAP readers after a panic in the analyzer,
// reporting nothing: they would otherwise stay lent for good. The
// analyzer is not pooled again.
func (a *analyzer) Abandon(*inspect.Flow) {
	a.releaseSOAP(inspect.ToServer)
	a.releaseSOAP(inspect.ToClient)
}

// observeClient reports the first request's User-Agent and Host.
func (a *analyzer) observeClient(f *inspect.Flow) {
	if a.sawClient || (a.agentLen == 0 && a.hostLen == 0) {
		return
	}
	a.sawClient = true
	ev := &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindHTTPClient,
		Summary:  "HTTP client",
		Evidence: event.Evidence{},
	}
	if a.agentLen > 0 {
		ev.Evidence["user_agent"] = inspect.Scrubbed(a.agent[:a.agentLen], maxValue)
	}
	if a.hostLen > 0 && hostPort(a.host[:a.hostLen]) {
		// Only a host: a header with more ("admin:pw@cam") names no
		// server this device is known by. A label that holds the
		// device's identifier goes, as in a firmware URL.
		ev.Evidence["host"] = inspect.IDMaskedHost(inspect.Printable(a.host[:a.hostLen], maxHost))
	}
	f.Emit(inspect.SubjectClient, ev)
}

// observeServer reports the Server header and the authentication realm,
// which often names the device model ("IP Camera"): once when first seen,
// and again if a realm shows up later on the flow.
func (a *analyzer) observeServer(f *inspect.Flow) {
	newRealm := a.realmLen > 0 && !a.sawRealm
	if (a.sawServer && !newRealm) || (a.serverLen == 0 && a.realmLen == 0) {
		return
	}
	a.sawServer = true
	a.sawRealm = a.sawRealm || a.realmLen > 0
	ev := &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindHTTPServer,
		Summary:  "HTTP server",
		Evidence: event.Evidence{},
	}
	if a.serverLen > 0 {
		ev.Evidence["server"] = inspect.Scrubbed(a.server[:a.serverLen], maxValue)
	}
	if a.realmLen > 0 {
		ev.Evidence["realm"] = inspect.Printable(a.realm[:a.realmLen], maxRealm)
	}
	f.Emit(inspect.SubjectServer, ev)
}
