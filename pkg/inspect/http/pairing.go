package http

import (
	"bytes"
	"strconv"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/httpauth"
)

// endRequestHeaders queues the request just read with what it carried:
// credentials from its headers and query string, and a firmware download.
func (a *analyzer) endRequestHeaders(f *inspect.Flow) {
	a.observeClient(f)
	switch {
	case a.qLen == maxPending && a.queue[a.qHead].awaiting:
		a.resolveWait(f) // answered, its page still coming: judged without it
	case a.qLen == maxPending:
		// The server is far behind: give up on the oldest request, but
		// remember that its response is still due so that later ones
		// stay paired.
		a.resolve(f, &a.queue[a.qHead], &reply{})
		a.dropHead()
		a.dropped++
	}
	e := &a.queue[(a.qHead+a.qLen)%maxPending]
	a.qLen++
	method := a.method[:a.methodLen]
	*e = pending{
		seq:     a.reqSeq,
		head:    string(method) == "HEAD",
		connect: string(method) == "CONNECT",
		proxied: inspect.HasPrefixFold(a.target[:a.targetLen], "http://"),
		creds:   a.reqCreds,
		cookies: a.reqCookies,
	}
	a.reqCreds = [2]pendingCred{}
	target := a.target[:a.targetLen]
	host, path, ambiguous := splitTarget(target)
	header := a.host[:a.hostLen]
	origin := host
	if len(origin) == 0 {
		origin = header
	}
	// The request's place: where a challenge in its answer protects,
	// and, when it carries Authorization credentials or a body that may
	// hold a token, whether they were demanded.
	h := &a.half[inspect.ToServer]
	tokenDue := soapKind(h.kind) && (h.chunked || h.contentLength > 0)
	e.spaces = a.judge.Spaces(f, a.proto.mem, origin, path, e.creds[0].used || tokenDue)
	c, query := a.queryLogin(f, target, a.targetCut)
	if query {
		a.attach(f, &e.creds, c)
	}
	if query || h.chunked || h.contentLength > 0 {
		e.page = a.proto.pageHash(path) // a form login may be judged by the page answered
	}
	if ambiguous && !bytes.EqualFold(host, header) {
		path = nil // "http://cdn/npm/fw@1.2.3/x.bin": no made-up URL
	}
	host = origin
	switch classifyFirmware(method, host, path, a.agent[:a.agentLen], a.espHeaders, f.ServerLocal) {
	case firmwareFile:
		e.firmware = firmwareURL(f, host, path, true)
	case firmwareCheck:
		e.firmware, e.updateCheck = firmwareURL(f, host, path, false), true
	case firmwareIfImage:
		a.holdFirmware(f, e, host, path)
	}
	r := clearRequest{method: method, host: host, path: path, ocspBody: a.ocspBody,
		soapAction: a.soapAction, soapBody: a.xmlBody && (h.chunked || h.contentLength > 0),
		lan: f.ClientLocal && f.ServerLocal, bare: a.bareRequest(e)}
	switch {
	case a.reportedCleartext:
	case a.targetCut || !inClearByDesign(r):
		if a.sentNothing(target, path, e) {
			e.clearUnlessHTTPS = true // judged by its answer (resolve)
		} else {
			a.countCleartext(f)
		}
	case r.lan && upnpControl(r):
		a.envelopeDue = true // judged by its body (finishBody)
	}
	a.dropTarget()
}

// countCleartext counts the flow as cleartext use, once.
func (a *analyzer) countCleartext(f *inspect.Flow) {
	if !a.reportedCleartext {
		a.reportedCleartext = true
		f.ReportCleartext()
	}
}

// sentNothing reports whether the request being read (queued as e)
// carried nothing worth hiding by what the analyzer knows of it: a GET
// or HEAD of a path alone (no query or path parameters, no identifier
// in a segment as the firmware rule finds them, no percent escape),
// without a body, credentials, cookies or any header but the quiet ones
// a browser or plain client sends (quietHeader). Such a request
// answered only by a redirect to HTTPS (a browser's first visit to a
// typed name, the owner opening iotgw's page with http://) is no
// cleartext use.
func (a *analyzer) sentNothing(target, path []byte, e *pending) bool {
	if !a.bareRequest(e) {
		return false
	}
	if len(target) == 0 || target[0] != '/' {
		return false // an absolute form (a proxy's, perhaps with user:password@)
	}
	for rest := path; len(rest) > 0; {
		var seg []byte
		seg, rest, _ = bytes.Cut(rest, []byte("/"))
		if inspect.Identifying(seg) {
			return false
		}
	}
	return true
}

// bareRequest reports whether the request being read (queued as e) is a
// GET or HEAD of a target without a query, with quiet headers only
// (analyzer.bare), no credentials and no body.
func (a *analyzer) bareRequest(e *pending) bool {
	h := &a.half[inspect.ToServer]
	return a.bare && !e.creds[0].used && !e.creds[1].used && !h.chunked && h.contentLength <= 0
}

// quietHeaders are the request headers browsers and plain clients (curl,
// an OS's connectivity check) send of themselves: content negotiation,
// connection and cache handling, conditionals on what the server sent
// before, privacy and upgrade preferences, fetch metadata. Their values
// are the client's or the server's, not a secret; each is still checked
// for an identifier (quietHeader), as a device may put anything in any
// header. Content-Length and Transfer-Encoding frame a body, which is
// judged on its own.
var quietHeaders = [...]string{
	"Accept", "Connection", "Keep-Alive", "Cache-Control", "Pragma", "Upgrade-Insecure-Requests",
	"DNT", "Sec-GPC", "Sec-Purpose", "Priority", "TE", "Content-Length", "Transfer-Encoding",
}

// quietHeaderPrefixes name families of quiet headers: Accept-Encoding,
// Accept-Language and kin; If-Modified-Since, If-None-Match and kin;
// fetch metadata (Sec-Fetch-Mode) and client hints (Sec-CH-UA).
var quietHeaderPrefixes = [...]string{"Accept-", "If-", "Sec-Fetch-", "Sec-CH-"}

// quietHeader reports whether a request header carries nothing worth
// hiding: a Host without an identifier in a label (as
// inspect.AppendIDMaskedHost finds them:
// "357938035643809.devices.example"), or a User-Agent, Referer or quiet
// header (quietHeaders) without an identifier in a word ("SN
// 357938035643809", "MAC A4:CF:12:9B:3E:01"), a Referer without a query
// too. Anything else may hold a credential or an
// identifier: Cookie, Authorization and Proxy-Authorization of any
// scheme, X-Api-Key, X-Device-Token, any header of an application's own.
func quietHeader(name, value []byte) bool {
	switch {
	case inspect.EqualFold(name, "Host"):
		host := hostName(value)
		if len(host) > 0 && host[0] == '[' {
			return true // an IPv6 literal: an address
		}
		// Label by label: Identifying splits its words at the dots.
		return !inspect.Identifying(host)
	case inspect.EqualFold(name, "Referer"):
		return bytes.IndexByte(value, '?') < 0 && !identifyingWord(value)
	case inspect.EqualFold(name, "User-Agent"):
		return !identifyingWord(value)
	}
	return quietName(name) && !identifyingWord(value)
}

// quietName: name is one of quietHeaders or starts with one of
// quietHeaderPrefixes.
func quietName(name []byte) bool {
	if inspect.EqualFoldAny(name, quietHeaders[:]) {
		return true
	}
	for _, p := range quietHeaderPrefixes {
		if inspect.HasPrefixFold(name, p) {
			return true
		}
	}
	return false
}

// identifyingWord reports whether a header value holds an identifier
// (inspect.Identifying) in one of its words, split where User-Agent
// products and comments, lists and parameters split them: "Cam/2.1 (SN
// 357938035643809)" holds one, "Mozilla/5.0 (X11; Linux x86_64)" none.
func identifyingWord(v []byte) bool {
	start := 0
	for i := 0; i <= len(v); i++ {
		if i < len(v) {
			switch v[i] {
			case '@', '%':
				return true // as inspect.Identifying has it
			case ' ', '\t', ';', ',', '(', ')', '/', '=', '"':
			default:
				continue
			}
		}
		// Identifying finds nothing else in a word shorter than its
		// shortest number, hex run, token or MAC address: most words
		// are, and are passed over cheaply.
		if i-start >= inspect.MinIdentifierLen && inspect.Identifying(v[start:i]) {
			return true
		}
		start = i + 1
	}
	return false
}

// holdFirmware keeps the URL of a request that is a firmware download
// only if answered with an image until its answer comes: in the
// analyzer's held, which one such request at a time uses; another
// queued meanwhile, or a URL too long for it, gets a copy of its own.
func (a *analyzer) holdFirmware(f *inspect.Flow, e *pending, host, path []byte) {
	e.ifImage = true
	if a.heldLen == 0 {
		if url := appendFirmwareURL(a.held[:0], f, host, path, true); len(url) > 0 && &url[0] == &a.held[0] {
			a.heldLen, a.heldSeq = len(url), e.seq
			return
		}
	}
	e.firmware = firmwareURL(f, host, path, true)
}

// attach adds a credential to those of a request (a queued one, or one
// whose form logins wait for their page); with no room left it is
// reported at once, its outcome unknown.
func (a *analyzer) attach(f *inspect.Flow, creds *[2]pendingCred, c pendingCred) {
	for i := range creds {
		if !creds[i].used {
			creds[i] = c
			return
		}
	}
	f.ReportCredential(&c.sent.Cred, inspect.OutcomeUnknown, f.LoginSubject())
}

// addRequestCred keeps a credential from the headers of the request being
// read until the request is queued.
func (a *analyzer) addRequestCred(f *inspect.Flow, c pendingCred) {
	for i := range a.reqCreds {
		if !a.reqCreds[i].used {
			a.reqCreds[i] = c
			return
		}
	}
	f.ReportCredential(&c.sent.Cred, inspect.OutcomeUnknown, f.LoginSubject())
}

// bodyCred places a login found in a request body: on its queued request,
// or, if the response already came (an early 401), reported with it. A
// UsernameToken answered before its body ended is reported unknown: the
// server answered before it had read the token and the operation (a
// final answer to Expect: 100-continue).
func (a *analyzer) bodyCred(f *inspect.Flow, c pendingCred) {
	if c.soap && a.lastSeq == a.reqSeq {
		f.ReportCredential(&c.sent.Cred, inspect.OutcomeUnknown, f.LoginSubject())
		return
	}
	for i := 0; i < a.qLen; i++ {
		if e := &a.queue[(a.qHead+i)%maxPending]; e.seq == a.reqSeq {
			a.attach(f, &e.creds, c)
			return
		}
	}
	o := inspect.OutcomeUnknown
	if a.lastSeq == a.reqSeq {
		o = a.outcome(&a.lastReply, a.reqCookies)
	}
	f.ReportCredential(&c.sent.Cred, o, f.LoginSubject())
}

// dropHead takes the oldest queued request off the queue, handled: its
// entry is read in place. What it leaves in the slot holds no secret (a
// Credential is classified) and is overwritten whole when the slot is
// taken again.
func (a *analyzer) dropHead() {
	a.qHead = (a.qHead + 1) % maxPending
	a.qLen--
}

// answer pairs a final response with the oldest queued request and
// reports what the request carried. It returns whether that request was a
// CONNECT.
//
// The Server header and realm of an answer a proxy relayed (to an
// absolute-form request, or with a Via header) are the origin's, not the
// flow's server's: a LAN proxy is not a web server whose version any
// site could choose.
func (a *analyzer) answer(f *inspect.Flow) (connect bool) {
	a.resolveWait(f) // the answer before ended (it always has: one at a time)
	a.curHead = false
	a.lastOwnSpace = 0
	if a.dropped > 0 || a.qLen == 0 {
		if a.dropped > 0 {
			a.dropped--
		}
		a.reply.relayed = a.reply.via
		if !a.reply.relayed {
			a.observeServer(f)
		}
		return false
	}
	e := &a.queue[a.qHead]
	a.reply.relayed = a.reply.via || e.proxied
	if !a.reply.relayed {
		a.observeServer(f)
	}
	a.curHead = e.head
	a.lastSeq, a.lastReply = e.seq, a.reply
	a.lastOwnSpace = e.spaces.Own
	if !a.unpaired {
		a.judge.Answered(f, a.proto.mem, &e.spaces, &httpauth.Answer{Status: a.reply.status, Challenge: a.reply.challenge})
	}
	// A form login's verdict hangs on the page a 2xx shows; a body
	// still to come may bring one too (an early answer). A
	// UsernameToken's hangs on the fault the answer's body may hold,
	// whatever its status. The request then stays at the head of the
	// queue until the answer's body is read (resolveWait): HTTP/1.1
	// answers come one at a time.
	e.awaiting = a.reply.status >= 200 && a.reply.status < 300 && (e.creds[0].form || e.creds[1].form || a.bodyToCome(e.seq)) ||
		e.creds[0].soap || e.creds[1].soap
	a.resolve(f, e, &a.reply)
	connect = e.connect
	if !e.awaiting {
		a.dropHead()
	}
	return connect
}

// bodyToCome reports whether request seq is the one being read and its
// body is still to be read.
func (a *analyzer) bodyToCome(seq uint32) bool {
	h := &a.half[inspect.ToServer]
	return seq == a.reqSeq && h.inBody && !h.bodyFinal
}

// awaiting is the request at the head of the queue when its logins wait
// for the body of its answer, being read (pending.awaiting); else nil.
func (a *analyzer) awaiting() *pending {
	if e := &a.queue[a.qHead]; a.qLen > 0 && e.awaiting {
		return e
	}
	return nil
}

// resolveWait reports the form logins and UsernameTokens that waited for
// the body of their answer, once it is read or will never be, and takes
// their request off the queue.
func (a *analyzer) resolveWait(f *inspect.Flow) {
	e := a.awaiting()
	if e == nil {
		return
	}
	if a.lastSeq == e.seq {
		a.lastReply = a.reply // with what the body showed, for a form still to come
	}
	for i := range e.creds {
		switch c := &e.creds[i]; {
		case c.used && c.soap:
			f.ReportCredential(&c.sent.Cred, a.soapOutcome(f, &a.reply, c, &e.spaces), f.LoginSubject())
		case c.used && c.form:
			f.ReportCredential(&c.sent.Cred, a.outcome(&a.reply, e.cookies), f.LoginSubject())
		}
	}
	a.dropHead()
}

// resolve reports a request's credentials and firmware download given
// its response (status 0: none seen). Authorization credentials go to
// the judge (httpauth.Judge), which may hold an acceptance back.
func (a *analyzer) resolve(f *inspect.Flow, e *pending, r *reply) {
	if e.clearUnlessHTTPS && !a.reportedCleartext && (a.unpaired || !redirectToHTTPS(r)) {
		// Unanswered (status 0: the connection ended, or lost bytes),
		// or answered with more than a way to HTTPS: counted now.
		a.countCleartext(f)
	}
	for i := range e.creds {
		c := &e.creds[i]
		switch {
		case !c.used:
		case (c.form || c.soap) && e.awaiting:
			// judged by resolveWait, with the page or the fault
		case c.soap:
			f.ReportCredential(&c.sent.Cred, a.soapOutcome(f, r, c, &e.spaces), f.LoginSubject())
		case c.form:
			f.ReportCredential(&c.sent.Cred, a.outcome(r, e.cookies), f.LoginSubject())
		case a.unpaired || r.status == 0:
			a.judge.Report(f, a.proto.mem, &c.sent, &e.spaces, nil)
		default:
			a.judge.Report(f, a.proto.mem, &c.sent, &e.spaces, &httpauth.Answer{Status: r.status, Challenge: r.challenge, ToLogin: r.toLogin})
		}
	}
	switch {
	case e.ifImage:
		url, n := e.firmware, 0
		if a.heldLen > 0 && a.heldSeq == e.seq {
			n, a.heldLen = a.heldLen, 0
		}
		// Only an answer seen, and paired for sure, tells.
		if a.unpaired || r.status < 200 || r.status > 299 || !r.image {
			break
		}
		if url == "" {
			url = string(a.held[:n])
		}
		if url != "" {
			reportFirmware(f, url, r.status, false)
		}
	case e.firmware != "":
		reportFirmware(f, e.firmware, r.status, e.updateCheck)
	}
}

// redirectToHTTPS: the answer is a redirect (301, 302, 303, 307, 308) to
// an https:// URL.
func redirectToHTTPS(r *reply) bool {
	switch r.status {
	case 301, 302, 303, 307, 308:
		return r.toHTTPS
	}
	return false
}

// httpsLocation: a Location header that leads to HTTPS and carries no
// query, where a code or token sent back in clear would ride.
func httpsLocation(v []byte) bool {
	return inspect.HasPrefixFold(v, "https://") && bytes.IndexByte(v, '?') < 0
}

// outcome is the server's verdict on a form or query login from its
// response; Authorization credentials are judged by httpauth.Judge.
//
// Servers answer a failed form login with 200 and an error page as often
// as with a success page, so 200 alone says nothing, and 401 or 403
// means rejected. A session cookie is one the
// application names itself, or a framework's session cookie (PHPSESSID)
// the request carried, issued anew at login (classifyCookie); a cookie
// set only to delete one is none. A 3xx that sets one means accepted,
// unless it redirects to a login or error page. On a 2xx a session
// cookie alone is weak evidence: frameworks set one on every answer
// (Rails) or keep the "Invalid password" message in it (Flask). It
// means accepted only when the whole body was read (at most maxBody
// bytes) and shows neither a login form nor a failure message
// (answerPage); an empty body, or one too long to read whole, leaves
// the login unknown.
//
// Anything else, or pairing made unreliable by lost bytes, is unknown.
// cookies are the framework session cookies the login's request carried.
func (a *analyzer) outcome(r *reply, cookies uint16) inspect.Outcome {
	if a.unpaired || r.status == 0 {
		return inspect.OutcomeUnknown
	}
	refused := r.status == 401 || r.status == 403
	session := r.appSession || r.frameworkSessions&cookies != 0
	took := r.status >= 200 && r.status < 400 && session && !r.toLogin && (r.status >= 300 || r.page == pageOther)
	switch {
	case refused:
		return inspect.OutcomeRejected
	case took:
		return inspect.OutcomeAccepted
	}
	return inspect.OutcomeUnknown
}

// flushPending reports every queued request as unanswered.
func (a *analyzer) flushPending(f *inspect.Flow) {
	for a.qLen > 0 {
		a.resolve(f, &a.queue[a.qHead], &reply{})
		a.dropHead()
	}
	a.dropped = 0
}

// reportUnqueued reports the credentials of a request whose headers never
// ended, its outcome unknown.
func (a *analyzer) reportUnqueued(f *inspect.Flow) {
	for i := range a.reqCreds {
		if c := &a.reqCreds[i]; c.used {
			f.ReportCredential(&c.sent.Cred, inspect.OutcomeUnknown, f.LoginSubject())
		}
	}
	a.reqCreds = [2]pendingCred{}
}

// reportFirmware reports a firmware request: medium when the server sent
// the file (2xx), low when it did not (a 404, a redirect to HTTPS) or no
// answer was seen: the device asks over plain HTTP all the same. A check
// for updates (check) is low: the image it leads to is judged when it
// is fetched.
func reportFirmware(f *inspect.Flow, url string, status int, check bool) {
	st := "none"
	if status > 0 {
		st = strconv.Itoa(status)
	}
	sev, summary := event.SeverityMedium, "Firmware or software update downloaded over plain HTTP from "+url
	switch {
	case check:
		sev, summary = event.SeverityLow, "Firmware or software update check over plain HTTP to "+url+" (answer: "+st+")"
	case status < 200 || status > 299:
		sev, summary = event.SeverityLow, "Firmware or software update requested over plain HTTP from "+url+" (answer: "+st+")"
	}
	ev := event.Evidence{"url": url, "status": st}
	if check {
		ev["request"] = "update_check"
	}
	f.Emit(inspect.SubjectClient, &event.Event{
		Type:       event.TypeFinding,
		Kind:       event.KindFirmwareOverHTTP,
		Severity:   sev,
		Capability: event.CapSoftwareUpdates,
		// 5.3-7: update mechanisms use best-practice cryptography; a
		// download over plain HTTP has none on the wire.
		Provision: "5.3-7",
		Summary:   summary,
		Evidence:  ev,
	})
}
