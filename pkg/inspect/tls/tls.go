// Package tls watches TLS handshakes. It reassembles each flow's
// ClientHello and ServerHello across TCP segments and TLS records, reports
// them as observations (SNI, JA3 and JA4 client fingerprints, the
// negotiated version and cipher suite), finds weak protocol versions and
// cipher suites (weak_tls), and then stops inspecting the flow: what
// follows the hellos is encrypted.
//
// A client that offers weak suites among strong ones is only noted
// (weak_offered=yes on the ClientHello observation): the server decides,
// and a finding follows only if it chooses a weak suite. A client that
// offers nothing but weak suites, or speaks the SSL 2.0 hello format, is a
// finding by itself.
package tls

import (
	"encoding/binary"
	"strings"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is TLS over TCP (HTTPS, IMAPS, MQTT over TLS, DNS over TLS …).
type Protocol struct {
	pool inspect.FreeList[analyzer]
	// bufs lends reassembly buffers to the flows whose hello is
	// incomplete, so that a flow waiting for its ServerHello, or one
	// whose hellos are done, holds none.
	bufs helloBuffers
	fp   Fingerprinter
}

type helloBuffers = inspect.Lender[[maxHello]byte]

// New returns the TLS protocol.
func New() *Protocol { return &Protocol{bufs: inspect.NewLender[[maxHello]byte](maxHelloBuffers)} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "tls" }

// Match implements inspect.Protocol: a handshake record carrying a hello,
// or an SSL 2.0 hello, proves TLS; on a port where TLS is implicit, bytes
// that could still become a hello are enough.
func (*Protocol) Match(f *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() {
		return inspect.NoMatch
	}
	switch helloShape(b) {
	case isHello:
		return inspect.ContentMatch
	case mayBeHello:
		if tlsPort(f.Server().Port()) {
			return inspect.PortMatch
		}
	}
	return inspect.NoMatch
}

// tlsPort is true for the ports that carry TLS from the first byte:
// HTTPS, SMTPS, LDAPS, DNS over TLS, IMAPS, POP3S, SIP over TLS, MQTT over
// TLS and the common alternative HTTPS port.
func tlsPort(port uint16) bool {
	switch port {
	case 443, 465, 636, 853, 993, 995, 5061, 8443, 8883:
		return true
	}
	return false
}

type shape uint8

const (
	notHello shape = iota
	mayBeHello
	isHello
)

// Record framing limits (RFC 8446 section 5.2: a ciphertext record is at
// most 2^14 + 256 bytes; RFC 5246 allowed 2^14 + 2048).
const (
	recordHeaderLen    = 5
	sslv2HeaderLen     = 2
	maxRecordLen       = 1<<14 + 2048
	recordHandshake    = 22
	handshakeHeaderLen = 4
)

// helloShape looks at the first bytes of a flow: a TLS handshake record
// starting a ClientHello or ServerHello, or an SSL 2.0 CLIENT-HELLO.
// Fewer bytes than needed to tell give mayBeHello if they agree so far.
func helloShape(b []byte) shape {
	if len(b) == 0 {
		return mayBeHello
	}
	if b[0]&0x80 != 0 { // SSL 2.0 two-byte record header
		return sslv2HelloShape(b)
	}
	if b[0] != recordHandshake {
		return notHello
	}
	if len(b) >= 3 && (b[1] != 3 || b[2] > 4) {
		return notHello
	}
	if len(b) >= recordHeaderLen {
		if n := binary.BigEndian.Uint16(b[3:]); n == 0 || n > maxRecordLen {
			return notHello
		}
	}
	if len(b) < recordHeaderLen+1 {
		return mayBeHello
	}
	if b[5] == typeClientHello || b[5] == typeServerHello {
		return isHello
	}
	return notHello
}

func sslv2HelloShape(b []byte) shape {
	if len(b) >= 2 && int(b[0]&0x7f)<<8|int(b[1]) < 9 {
		return notHello
	}
	if len(b) >= 3 && b[2] != typeClientHello {
		return notHello
	}
	if len(b) < 5 {
		return mayBeHello
	}
	if v := binary.BigEndian.Uint16(b[3:]); v == versionSSL2 || v>>8 == 3 && v&0xff <= 4 {
		return isHello
	}
	return notHello
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(f *inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	a.host = f.HostBucket()
	return a
}

// maxHello bounds the reassembly of one hello message: a ClientHello is
// a few hundred bytes, about 1.8 KiB with a post-quantum key share
// (X25519MLKEM768); a ServerHello at most about 1.2 KiB. Larger hellos
// are abandoned.
const maxHello = 8 << 10

// maxHelloBuffers caps the hellos being reassembled at once (2 MiB). A
// hello is normally complete within a few segments, so few are lent at a
// time; the cap keeps a flood of half-sent hellos from costing more. One
// client address borrows at most 1/HostShareDiv of them
// (inspect.Lender): a device that leaves hundreds of hellos half-sent
// cannot keep another's, split over two segments as a post-quantum key
// share makes it, from being read. Buffers are not cleared: a side reads
// only the bytes it wrote.
const maxHelloBuffers = 256

// analyzer is the per-flow state: one hello being reassembled per
// direction, and what the ClientHello said until the verdict is reported.
type analyzer struct {
	proto  *Protocol
	host   uint32 // the client's bucket (Flow.HostBucket)
	client side
	server side

	sawClient     bool
	sni           string   // the ClientHello's server name, as events show it
	clientMax     uint16   // highest version offered
	bestOffered   strength // of the strongest suite offered
	sawServer     bool
	negotiated    uint16
	chosen        uint16 // cipher suite; meaningless for SSL 2.0
	serverIsSSLv2 bool
}

// side reassembles the first handshake message sent in one direction from
// records that may be split anywhere.
type side struct {
	hdr      [recordHeaderLen]byte
	hdrLen   int
	records  int
	sslv2    bool // SSL 2.0 record framing
	inRecord bool
	recLeft  int             // body bytes of the current record not yet read
	buf      *[maxHello]byte // lent while the message is incomplete
	msgLen   int             // bytes of the message collected in buf
	msgWant  int             // length of the message with its header; 0 until known
	done     bool
}

func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	n := len(data)
	s := &a.client
	if dir == inspect.ToClient {
		s = &a.server
	}
	for len(data) > 0 && !s.done {
		k, msg := s.next(&a.proto.bufs, a.host, data, dir == inspect.ToClient)
		data = data[k:]
		if msg == nil {
			continue
		}
		if dir == inspect.ToServer {
			a.clientHello(f, msg, s.sslv2)
		} else {
			a.serverHello(f, msg, s.sslv2)
		}
	}
	if s.done {
		s.release(&a.proto.bufs, a.host)
	}
	if a.server.done {
		// The server's hello decides; after it (or once its direction is
		// unreadable) nothing in the flow is worth reading.
		f.StopInspection()
	}
	return n
}

// next consumes a prefix of data: record header bytes, or record body
// bytes that it adds to the message, in a buffer borrowed from bufs for
// the client bucket host. It
// returns how many bytes it consumed and, once the message is complete,
// its body (without the handshake header), valid until s is released. It
// marks s done when the message is complete or cannot be had.
func (s *side) next(bufs *helloBuffers, host uint32, data []byte, fromServer bool) (int, []byte) {
	if !s.inRecord {
		return s.header(data, fromServer), nil
	}
	k := min(len(data), s.recLeft)
	chunk := data[:k]
	s.recLeft -= k
	if s.recLeft == 0 {
		s.inRecord = false
	}
	if s.buf == nil {
		if s.buf = bufs.Get(host); s.buf == nil {
			s.done = true
			return k, nil
		}
	}
	buf := s.buf[:]
	for len(chunk) > 0 {
		limit := s.msgWant
		if limit == 0 {
			limit = handshakeHeaderLen
		}
		c := copy(buf[s.msgLen:limit], chunk)
		s.msgLen += c
		chunk = chunk[c:]
		if s.msgWant == 0 {
			if s.msgLen < handshakeHeaderLen {
				continue
			}
			want := handshakeHeaderLen + (int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3]))
			if !s.helloType(buf[0], fromServer) || want > len(buf) {
				s.done = true
				return k, nil
			}
			s.msgWant = want
		}
		if s.msgLen == s.msgWant {
			s.done = true
			if s.sslv2 {
				return k, buf[:s.msgLen]
			}
			return k, buf[handshakeHeaderLen:s.msgLen]
		}
	}
	return k, nil
}

// release returns the side's buffer, if it holds one, to the client
// bucket host.
func (s *side) release(bufs *helloBuffers, host uint32) {
	if s.buf != nil {
		bufs.Put(s.buf, host)
		s.buf = nil
	}
}

func (s *side) helloType(t byte, fromServer bool) bool {
	if fromServer {
		return t == typeServerHello
	}
	return t == typeClientHello
}

// header collects a record header and starts the record. Only handshake
// records come before a hello; anything else ends the side.
func (s *side) header(data []byte, fromServer bool) int {
	if s.hdrLen == 0 && s.records == 0 && data[0]&0x80 != 0 {
		s.sslv2 = true
	}
	size := recordHeaderLen
	if s.sslv2 {
		size = sslv2HeaderLen
	}
	k := copy(s.hdr[s.hdrLen:size], data)
	s.hdrLen += k
	if s.hdrLen < size {
		return k
	}
	s.hdrLen = 0
	s.records++
	if s.sslv2 {
		// The record is the message; an SSL 2.0 ServerHello carries the
		// certificate too, but only its fixed prefix matters.
		s.recLeft = int(s.hdr[0]&0x7f)<<8 | int(s.hdr[1])
		s.msgWant = s.recLeft
		if fromServer {
			s.msgWant = min(s.recLeft, sslv2ServerHelloPrefix)
		}
		if s.recLeft == 0 || s.msgWant > maxHello {
			s.done = true
			return k
		}
		s.inRecord = true
		return k
	}
	s.recLeft = int(binary.BigEndian.Uint16(s.hdr[3:]))
	if s.hdr[0] != recordHandshake || s.hdr[1] != 3 || s.hdr[2] > 4 || s.recLeft == 0 || s.recLeft > maxRecordLen {
		s.done = true
		return k
	}
	s.inRecord = true
	return k
}

func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) {
	// A record stream cannot be resynchronised: give up on the direction.
	s := &a.client
	if dir == inspect.ToClient {
		s = &a.server
	}
	s.done = true
	s.release(&a.proto.bufs, a.host)
}

func (a *analyzer) Close(f *inspect.Flow) {
	a.client.release(&a.proto.bufs, a.host)
	a.server.release(&a.proto.bufs, a.host)
	a.reportWeakness(f)
	a.proto.pool.Put(a)
}

// Abandon gives back the hello buffers after a panic in the analyzer,
// reporting nothing: they would otherwise stay lent for good. The
// analyzer is not pooled again.
func (a *analyzer) Abandon(*inspect.Flow) {
	a.client.release(&a.proto.bufs, a.host)
	a.server.release(&a.proto.bufs, a.host)
}

// clientHello reports a complete ClientHello and remembers what the
// verdict needs.
func (a *analyzer) clientHello(f *inspect.Flow, msg []byte, sslv2 bool) {
	var h ClientHello
	var err error
	if sslv2 {
		err = h.DecodeSSLv2(msg)
	} else {
		err = h.Decode(msg)
	}
	if err != nil {
		return
	}
	a.sawClient = true
	a.clientMax = h.MaxVersion()
	a.bestOffered = bestOffered(&h)
	weakOffered := offersWeak(&h)

	ev := event.Evidence{
		"tls_version_max": versionName(a.clientMax),
		"ech":             yesNo(h.ECH),
		"weak_offered":    yesNo(weakOffered),
	}
	summary := "TLS ClientHello"
	if sslv2 {
		ev["sslv2_format"] = "yes"
		summary = "SSL 2.0 format ClientHello"
	} else {
		ev["ja3"] = a.proto.fp.JA3(&h)
		ev["ja4"] = a.proto.fp.JA4(&h)
	}
	if h.ServerName != nil {
		// A name the device chose: one built from its MAC or serial
		// ("a4cf129b3e01.iot.vendor.example") must not show it.
		a.sni = inspect.IDMaskedHost(inspect.Printable(h.ServerName, 255))
		ev["sni"] = a.sni
		summary += " for " + a.sni
	}
	if alpn := alpnList(h.ALPN); alpn != "" {
		ev["alpn"] = alpn
	}
	f.Emit(inspect.SubjectClient, &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindTLSClient,
		Severity: event.SeverityInfo,
		Summary:  summary,
		Evidence: ev,
	})
}

// serverHello reports a complete ServerHello.
func (a *analyzer) serverHello(f *inspect.Flow, msg []byte, sslv2 bool) {
	var s ServerHello
	var err error
	if sslv2 {
		err = s.DecodeSSLv2(msg)
	} else {
		err = s.Decode(msg)
	}
	if err != nil {
		return
	}
	a.sawServer = true
	a.serverIsSSLv2 = s.SSLv2
	a.negotiated = s.Negotiated()
	a.chosen = s.CipherSuite
	ev := event.Evidence{
		"tls_version":    versionName(a.negotiated),
		"tls_version_id": hex16(a.negotiated),
	}
	summary := "TLS ServerHello: " + versionName(a.negotiated)
	if !s.SSLv2 {
		ev["cipher"] = cipherName(s.CipherSuite)
		ev["cipher_id"] = hex16(s.CipherSuite)
		ev["cipher_strength"] = strengthName(suiteStrength(s.CipherSuite))
		summary += ", " + ev["cipher"]
	}
	f.Emit(inspect.SubjectServer, &event.Event{
		Type:     event.TypeObservation,
		Kind:     event.KindTLSServer,
		Severity: event.SeverityInfo,
		Summary:  summary,
		Evidence: ev,
	})
}

// reason is why a weak_tls finding was filed; a weakness holds a set of
// them, named in its evidence in this order whichever end noted them.
type reason uint8

const (
	reasonOldVersion      reason = 1 << iota // SSL or TLS 1.0/1.1 negotiated, or the best the client offers
	reasonWeakCipher                         // the server chose a weak suite
	reasonSSLv2Hello                         // the client speaks the SSL 2.0 hello format
	reasonOnlyWeakOffered                    // the client offers no strong suite
)

// reasonNames are the evidence's names of the reasons, bit by bit.
func reasonNames() [4]string {
	return [4]string{"old_version", "weak_cipher", "sslv2_hello", "only_weak_offered"}
}

// reportWeakness emits the flow's weak_tls findings, if any: once, when
// the flow's inspection ends. The negotiated version and suite come from
// the ServerHello; without one, the client's best offer stands in, since
// no server can negotiate better than that.
//
// Each weakness is the fault of one end: the suite, and a version below
// the client's best, are the server's choice; the offer (its best
// version, its suites, the SSL 2.0 format) is the client's. A fault
// counts against the end on the LAN: two devices on the LAN each get
// their own finding; a device talking to the internet gets both ends'
// (it accepted what its cloud chose). A LAN server an internet client
// talks to answers only for what it agreed to, the version and suite of
// its ServerHello: the offer is the client's (a scanner's probe of a
// port-forwarded camera), which the server may have refused.
func (a *analyzer) reportWeakness(f *inspect.Flow) {
	if !a.sawClient && !a.sawServer {
		return
	}
	var faults [2]weakness // by inspect.SubjectClient, inspect.SubjectServer
	if !f.ClientLocal && f.ServerLocal {
		if a.sawServer {
			faults[inspect.SubjectServer].note(versionStrength(a.negotiated), reasonOldVersion)
			if !a.serverIsSSLv2 {
				faults[inspect.SubjectServer].note(suiteStrength(a.chosen), reasonWeakCipher)
			}
		}
		if w := faults[inspect.SubjectServer]; w.reasons != 0 {
			a.emitWeakness(f, inspect.SubjectServer, w, a.negotiated)
		}
		return
	}
	serverSide, clientSide := inspect.SubjectClient, inspect.SubjectClient
	if f.ServerLocal {
		serverSide = inspect.SubjectServer
		if !f.ClientLocal {
			clientSide = inspect.SubjectServer
		}
	}
	version := a.clientMax
	if a.sawServer {
		version = a.negotiated
	}
	switch {
	case a.sawClient && versionStrength(a.clientMax) != strong:
		faults[clientSide].note(versionStrength(a.clientMax), reasonOldVersion)
		if a.sawServer && a.negotiated < a.clientMax {
			faults[serverSide].note(versionStrength(a.negotiated), reasonOldVersion)
		}
	case a.sawServer:
		faults[serverSide].note(versionStrength(a.negotiated), reasonOldVersion)
	}
	if a.sawServer && !a.serverIsSSLv2 {
		faults[serverSide].note(suiteStrength(a.chosen), reasonWeakCipher)
	}
	if a.sawClient {
		if a.client.sslv2 {
			faults[clientSide].note(sslv2HelloStrength(a.clientMax), reasonSSLv2Hello)
		}
		faults[clientSide].note(a.bestOffered, reasonOnlyWeakOffered)
	}
	for subject, w := range faults {
		if w.reasons != 0 {
			a.emitWeakness(f, inspect.Subject(subject), w, version)
		}
	}
}

// weakness is what one end of a flow is to blame for.
type weakness struct {
	reasons reason
	worst   strength
}

func (w *weakness) note(s strength, r reason) {
	if s == strong || s == unlisted || s == signaling {
		return
	}
	w.reasons |= r
	w.worst = max(w.worst, s)
}

// String names the reasons as the evidence lists them: "old_version,weak_cipher".
func (r reason) String() string {
	var b strings.Builder
	for i, name := range reasonNames() {
		if r&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(name)
	}
	return b.String()
}

func (a *analyzer) emitWeakness(f *inspect.Flow, subject inspect.Subject, w weakness, version uint16) {
	sev := event.SeverityMedium
	if w.worst == insecure {
		sev = event.SeverityHigh
	}
	ev := event.Evidence{
		"tls_version": versionName(version),
		"reason":      w.reasons.String(),
	}
	summary := "Weak TLS: " + versionName(version)
	if a.sawServer && !a.serverIsSSLv2 {
		ev["cipher"] = cipherName(a.chosen)
		summary += " with " + ev["cipher"]
	}
	if !a.sawServer {
		summary += " at best, as offered by the client"
	}
	if a.sni != "" {
		ev["sni"] = a.sni
		summary += " to " + a.sni
	}
	f.Emit(subject, &event.Event{
		Type:       event.TypeFinding,
		Kind:       event.KindWeakTLS,
		Severity:   sev,
		Capability: event.CapSecureCommunication,
		Provision:  "5.5-1",
		Summary:    summary,
		Evidence:   ev,
	})
}

// strengthName is a chosen suite's grade as the tls_server_hello
// observation names it for the scorecard, which credits a connection as
// strong only on "strong": a suite the table does not know, or a
// signalling value, which is no suite, is "unknown".
func strengthName(s strength) string {
	switch s {
	case strong:
		return "strong"
	case weak:
		return "weak"
	case insecure:
		return "insecure"
	}
	return "unknown"
}

// sslv2HelloStrength grades the SSL 2.0 hello format: insecure when the
// client offers nothing newer than SSL 3.0, weak when it is only the
// compatible wrapper of a TLS hello.
func sslv2HelloStrength(maxVersion uint16) strength {
	if maxVersion <= versionSSL3 {
		return insecure
	}
	return weak
}

// bestOffered grades the strongest suite the client offers; signalling
// values and GREASE do not count. A hello without suites grades strong:
// there is nothing to blame.
func bestOffered(h *ClientHello) strength {
	best, any := insecure, false
	eachSuite(h, func(s strength) {
		if s != signaling {
			best, any = min(best, s), true
		}
	})
	if !any {
		return strong
	}
	return best
}

// offersWeak reports whether any suite offered is weak or insecure.
func offersWeak(h *ClientHello) bool {
	weakSeen := false
	eachSuite(h, func(s strength) {
		if s == weak || s == insecure {
			weakSeen = true
		}
	})
	return weakSeen
}

// eachSuite grades every suite the client offers, SSL 2.0 cipher specs
// included.
func eachSuite(h *ClientHello, fn func(strength)) {
	if h.SSLv2 {
		for i := 0; i+2 < len(h.CipherSuites); i += 3 {
			fn(sslv2SpecStrength(h.CipherSuites[i:]))
		}
		return
	}
	for i := 0; i+1 < len(h.CipherSuites); i += 2 {
		if v := binary.BigEndian.Uint16(h.CipherSuites[i:]); !isGREASE(v) {
			fn(suiteStrength(v))
		}
	}
}

// sslv2SpecStrength grades a 3-byte SSL 2.0 cipher spec. Specs starting
// with 0 wrap a TLS suite (RFC 5246 appendix E.2); the native SSL 2.0
// ones all use MD5 and at most 3DES, and the two EXPORT40 kinds (2 and 4)
// are export-grade.
func sslv2SpecStrength(spec []byte) strength {
	switch spec[0] {
	case 0:
		return suiteStrength(binary.BigEndian.Uint16(spec[1:]))
	case 2, 4:
		return insecure
	}
	return weak
}

// alpnList joins the offered ALPN protocol names with ','.
func alpnList(list []byte) string {
	var b strings.Builder
	r := reader{b: list}
	for !r.empty() {
		name := r.vec8()
		if r.err != nil {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(inspect.Printable(name, 64))
		if b.Len() > 256 {
			break
		}
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
