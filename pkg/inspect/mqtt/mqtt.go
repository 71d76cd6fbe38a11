// Package mqtt follows MQTT 3.1, 3.1.1 and 5.0 sessions over TCP, or in
// WebSocket messages after an HTTP upgrade: it reports the CONNECT login
// with the broker's CONNACK verdict, the client's identifier and protocol
// version for fingerprinting, and hands PUBLISH topics and payload
// prefixes (both directions) to a personal-data scanner.
//
// Framing runs as a byte-at-a-time state machine per direction. Every byte
// is consumed at once; of each packet only a bounded prefix is copied into a
// fixed per-flow array, so a large PUBLISH costs no memory and the engine's
// stream buffers are never used.
package mqtt

import (
	"encoding/binary"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is MQTT over plain TCP (port 1883, or any port where the first
// bytes are a CONNECT), and in WebSocket messages on a connection an
// HTTP upgrade turned over to it (inspect.WebSocketProtocol).
type Protocol struct {
	scanner inspect.PayloadScanner
	pool    inspect.FreeList[analyzer]
	// command holds a Tasmota command, with its payload, while it is
	// scanned; one engine goroutine uses a Protocol.
	command [inspect.MaxTasmotaCommand + 1 + maxPayload]byte
}

// New returns the MQTT protocol. scanner, when not nil, receives PUBLISH
// topics ("mqtt_topic") and payload prefixes ("mqtt_payload", or, for a
// Tasmota command topic, "mqtt_command": see scan), and the Will topic
// and message of a CONNECT under the same names.
func New(scanner inspect.PayloadScanner) *Protocol { return &Protocol{scanner: scanner} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "mqtt" }

// Port is the IANA port of MQTT without TLS.
const Port = 1883

// Match implements inspect.Protocol: a CONNECT naming MQTT or MQIsdp on any
// port, or a plausible fixed header on port 1883.
func (*Protocol) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	if !f.IsTCP() || len(b) == 0 {
		return inspect.NoMatch
	}
	if dir == inspect.ToServer && isConnect(b) {
		return inspect.ContentMatch
	}
	if f.Server().Port() != Port || b[0]>>4 == 0 {
		return inspect.NoMatch
	}
	if dir == inspect.ToServer && b[0]>>4 == typeConnect && b[0] != typeConnect<<4 {
		return inspect.NoMatch // CONNECT flags are reserved zero
	}
	return inspect.PortMatch
}

// isConnect reports whether b starts with a CONNECT fixed header followed by
// the protocol name of MQTT 3.1 ("MQIsdp") or 3.1.1/5.0 ("MQTT").
func isConnect(b []byte) bool {
	if len(b) < 2 || b[0] != typeConnect<<4 {
		return false
	}
	_, n, ok := varint(b[1:])
	if !ok {
		return false
	}
	name, _, ok := str16(b[1+n:])
	return ok && (string(name) == "MQTT" || string(name) == "MQIsdp")
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	return a
}

// WebSocketSubprotocol implements inspect.WebSocketProtocol: MQTT over
// WebSocket is "mqtt" (MQTT 3.1.1 section 6, 5.0 section 6), and
// "mqttv3.1" for MQTT 3.1. Browsers' and brokers' libraries compare the
// names without regard to case.
func (*Protocol) WebSocketSubprotocol(name []byte) bool {
	return inspect.EqualFold(name, "mqtt") || inspect.EqualFold(name, "mqttv3.1")
}

// NewWebSocketAnalyzer implements inspect.WebSocketProtocol: the same
// analyzer, reading the messages' payload as its stream (an MQTT packet
// may span messages, and a message hold several), whose reports say
// transport "websocket".
func (p *Protocol) NewWebSocketAnalyzer(f *inspect.Flow) inspect.Analyzer {
	a := p.NewAnalyzer(f).(*analyzer)
	a.transport = inspect.TransportWebSocket
	return a
}

// Control packet types (MQTT 5.0 section 2.1.2; the same numbers in 3.x).
const (
	typeConnect = 1
	typeConnack = 2
	typePublish = 3
	typeAuth    = 15 // 5.0 only
)

// Bounds on what one packet may cost.
const (
	// maxRemaining is the largest remaining length accepted. The encoding
	// allows 256 MiB; a larger announcement than this from an IoT client
	// is a desynchronised stream, not a message.
	maxRemaining = 16 << 20
	// capture is how many leading bytes of each packet's body are kept:
	// enough for a CONNECT's fields and a PUBLISH's topic, properties and
	// payload prefix.
	capture    = 2048
	maxTopic   = 256  // topic bytes handed to the scanner
	maxPayload = 1024 // payload bytes handed to the scanner
)

// stage is where a direction's framing stands.
type stage uint8

const (
	stageHeader stage = iota // expecting the fixed header's first byte
	stageLength              // reading the remaining-length varint
	stageBody                // inside the variable header and payload
	stageDead                // framing lost; the rest is ignored
)

// stream is the framing state of one direction.
type stream struct {
	stage   stage
	header  byte // first byte of the current packet
	lenVal  int  // remaining length: being decoded, then the body's
	lenN    int  // varint bytes read so far
	left    int  // body bytes not yet seen
	n       int  // body bytes kept in buf
	handled bool // the current packet was parsed: complete, or its prefix filled buf
	// skip is how many bytes of the body to pass over before keeping
	// again, and topicCut and willCut say the CONNECT's Will topic and
	// payload in buf were cut (passOver).
	skip     int
	topicCut bool
	willCut  bool
	buf      [capture]byte
}

type analyzer struct {
	proto   *Protocol
	dirs    [2]stream
	level   byte // protocol level from CONNECT: 3, 4 or 5; 0 until seen
	pending inspect.PendingLogin
	// passwordOnly: the pending login is a 3.x CONNECT with a password
	// and no user name, which those versions forbid; a broker that
	// answers it may have ignored the password.
	passwordOnly bool
	sawID        bool // the client-id observation was emitted
	// transport is what carries the session when not TCP itself:
	// inspect.TransportWebSocket, or "".
	transport string
}

// Feed implements inspect.Analyzer. It always consumes all of data.
func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	s := &a.dirs[dir]
	for i := 0; i < len(data); {
		switch s.stage {
		case stageDead:
			return len(data)
		case stageHeader:
			s.header = data[i]
			i++
			if a.validType(s.header >> 4) {
				s.stage, s.lenVal, s.lenN = stageLength, 0, 0
			} else {
				a.kill(f, dir)
			}
		case stageLength:
			c := data[i]
			i++
			s.lenVal |= int(c&0x7f) << (7 * s.lenN)
			s.lenN++
			switch {
			case c&0x80 != 0 && s.lenN == 4:
				a.kill(f, dir) // a fifth length byte: not MQTT
			case c&0x80 != 0:
			case s.lenVal > maxRemaining:
				a.kill(f, dir)
			default:
				s.stage, s.left, s.n, s.handled = stageBody, s.lenVal, 0, false
				s.skip, s.topicCut, s.willCut = 0, false, false
				if s.left == 0 {
					s.stage = stageHeader
					a.packet(f, dir, s)
				}
			}
		case stageBody:
			k := min(s.left, len(data)-i)
			if s.skip > 0 {
				k = min(k, s.skip)
				s.skip -= k
			} else if !s.handled {
				c := copy(s.buf[s.n:], data[i:i+k])
				s.n += c
				if c < k && dir == inspect.ToServer && s.header == typeConnect<<4 {
					k = c // what follows may come after a Will payload passed over
				}
			}
			i += k
			s.left -= k
			if !s.handled && s.left > 0 && s.n == len(s.buf) && dir == inspect.ToServer && s.header == typeConnect<<4 {
				s.skip = s.passOver()
			}
			if !s.handled && (s.left == 0 || s.n == len(s.buf)) {
				s.handled = true
				a.packet(f, dir, s)
				// A CONNECT's password is in buf: it must not wait for a
				// later packet (a PINGREQ writes nothing) to be overwritten.
				s.drop()
			}
			if s.left == 0 {
				s.stage = stageHeader
			}
		}
		if a.proto == nil { // closed by StopInspection
			return len(data)
		}
	}
	return len(data)
}

// validType rejects the reserved packet type 0, and AUTH before 5.0.
func (a *analyzer) validType(t byte) bool {
	return t != 0 && (t != typeAuth || a.level == 0 || a.level == 5)
}

// drop wipes the kept prefix, which may hold a password, once it is no
// longer needed: the flow may live for days before Close zeroes it.
func (s *stream) drop() {
	clear(s.buf[:s.n])
	s.n = 0
}

// kill gives up on a direction whose framing is lost; with both lost the
// flow holds nothing more to read.
func (a *analyzer) kill(f *inspect.Flow, dir inspect.Dir) {
	a.dirs[dir].stage = stageDead
	a.dirs[dir].drop()
	if a.dirs[inspect.ToServer].stage == stageDead && a.dirs[inspect.ToClient].stage == stageDead {
		f.StopInspection()
	}
}

// packet handles one packet from its kept prefix, which is the whole body
// unless the body is longer than the capture (bytes were dropped, or are
// still to come): then the prefix is cut.
func (a *analyzer) packet(f *inspect.Flow, dir inspect.Dir, s *stream) {
	body := s.buf[:s.n]
	cut := s.n < s.lenVal
	switch s.header >> 4 {
	case typeConnect:
		// The fixed header's flags of a CONNECT are reserved and zero
		// (MQTT 3.1.1 section 2.2.2): a broker closes the connection on
		// anything else, so there is no login to report.
		if dir == inspect.ToServer && s.header == typeConnect<<4 {
			a.connect(f, body, s.topicCut, s.willCut)
		}
	case typeConnack:
		if dir == inspect.ToClient {
			a.connack(f, body)
		}
	case typePublish:
		a.publish(f, dir, s.header, body, cut)
	}
}

// Connect flags (MQTT 5.0 section 3.1.2.3).
const (
	flagWill     = 0x04
	flagPassword = 0x40
	flagUser     = 0x80
)

// What is kept of a CONNECT's fields before the login when they are too
// long for the buffer (passOver). Together with the fixed fields and
// emptied property blocks they take under 900 bytes, so that well over
// half the buffer stays for the user name and password.
const (
	// clientIDKept is what observeClient reads of a client identifier:
	// the 64 bytes it shows, and the 256 after them that Scrubbed looks
	// ahead to hide an address or a number crossing its cut.
	clientIDKept = 64 + 256
	// willKept is how much of a Will payload is kept for the payload
	// scanner.
	willKept = 256
)

// passOver makes room, in a CONNECT's full buffer, for the user name and
// password that follow the fields before them, any of which may be
// long: a client identifier (a device naming itself with a certificate
// or a blob of JSON), 5.0 property blocks (user properties may run to
// kilobytes), dropped since nothing reads them, a Will topic, and a Will
// payload (a device's last message, kilobytes of JSON). Of each the front
// that is read is kept, where the buffer holds it: clientIDKept bytes of
// the identifier, maxTopic of the topic, willKept of the payload. Each
// such field is cut in place, its length rewritten to match and what
// follows it in the buffer moved down. passOver returns how many bytes
// still to come of a field the buffer ends in are to be passed over as
// they stream: of the long fields only their lengths matter. Called
// again each time the buffer fills, it cuts nothing twice.
func (s *stream) passOver() int {
	r := reader{b: s.buf[:s.n]}
	name := r.str16()
	level := r.u8() &^ 0x80
	flags := r.u8()
	r.skip(2)
	if r.short || !knownVersion(name, level) {
		return 0
	}
	if level == 5 {
		if left := s.dropProperties(&r); r.short {
			return left
		}
	}
	if left, _ := s.cutString(&r, clientIDKept); r.short || flags&flagWill == 0 {
		return left
	}
	if level == 5 {
		if left := s.dropProperties(&r); r.short {
			return left
		}
	}
	left, cut := s.cutString(&r, maxTopic)
	s.topicCut = s.topicCut || cut
	if r.short {
		return left
	}
	left, cut = s.cutString(&r, willKept)
	s.willCut = s.willCut || cut
	return left
}

// cutString shortens the string at r to its first keep bytes, removing
// the others held and rewriting its length to match, and reports whether
// it did. It returns how many of its bytes are still to come, and then,
// or when its length or its first keep bytes are not all held yet, sets
// r.short. A string is not cut before its first keep bytes are held:
// cut shorter, an address or a number in it would be read cut, and its
// front shown. The fields before it take so little room once cut that
// it is held that far by the time the buffer fills again.
func (s *stream) cutString(r *reader, keep int) (left int, cut bool) {
	at, start := r.off, r.off+2
	if start > s.n {
		r.short = true
		return 0, false
	}
	length := int(binary.BigEndian.Uint16(s.buf[at:]))
	held := min(length, s.n-start)
	if keep = min(keep, length); held < keep {
		r.short = true
		return 0, false
	}
	if keep < length {
		s.remove(start+keep, held-keep)
		binary.BigEndian.PutUint16(s.buf[at:], uint16(keep))
		cut = true
	}
	r.b, r.off = s.buf[:s.n], start+keep
	if held < length {
		r.short = true
		return length - held, cut
	}
	return 0, cut
}

// dropProperties empties the property block at r: its bytes held are
// removed and its length rewritten as zero in as many bytes (a Variable
// Byte Integer may be padded with 0x80). It returns how many of its bytes
// are still to come, and then, or when the length itself is cut, sets
// r.short.
func (s *stream) dropProperties(r *reader) int {
	length, n, ok := varint(r.b[r.off:])
	if !ok {
		r.short = true
		return 0
	}
	start := r.off + n
	held := min(length, s.n-start)
	s.remove(start, held)
	for i := r.off; i < start-1; i++ {
		s.buf[i] = 0x80
	}
	s.buf[start-1] = 0
	r.b, r.off = s.buf[:s.n], start
	if held < length {
		r.short = true
		return length - held
	}
	return 0
}

// remove deletes n kept bytes at off, moving those after them down and
// wiping the freed end.
func (s *stream) remove(off, n int) {
	copy(s.buf[off:], s.buf[off+n:s.n])
	clear(s.buf[s.n-n : s.n])
	s.n -= n
}

// connect reads a CONNECT: protocol level, client identifier, Will, user
// name and password. A field cut off by the capture ends the parse; what
// was read before it is still used. topicCut and willCut say the Will
// topic and payload in b are the fronts of longer ones.
func (a *analyzer) connect(f *inspect.Flow, b []byte, topicCut, willCut bool) {
	r := reader{b: b}
	name := r.str16()
	level := r.u8() &^ 0x80 // mosquitto bridges set the top bit
	flags := r.u8()
	r.skip(2) // keep alive
	if r.short || !knownVersion(name, level) {
		return
	}
	a.pending.Report(f, inspect.OutcomeUnknown) // a new CONNECT replaces an unanswered one
	a.level = level
	if level == 5 {
		r.properties()
	}
	clientID := r.str16()
	if r.short {
		return
	}
	a.observeClient(f, clientID)
	if flags&flagWill != 0 {
		if level == 5 {
			r.properties()
		}
		topic, payload := r.str16(), r.str16()
		if r.short {
			return
		}
		a.scan(f, inspect.ToServer, topic, payload, topicCut, willCut)
	}
	var user, secret []byte
	if flags&flagUser != 0 {
		user = r.str16()
	}
	if flags&flagPassword != 0 {
		secret = r.str16()
	}
	if r.short || flags&(flagUser|flagPassword) == 0 {
		return
	}
	// MQTT 5.0 allows a password without a user name; 3.1 and 3.1.1 do
	// not (3.1.1 section 3.1.2.9), and a broker must close the
	// connection (mosquitto does).
	a.passwordOnly = level != 5 && flags&flagUser == 0
	kind := inspect.SecretPassword
	if looksLikeJWT(secret) {
		kind = inspect.SecretToken
	}
	a.pending.Keep(f, &inspect.Login{
		Protocol:  "mqtt",
		Mechanism: "CONNECT",
		Transport: a.transport,
		User:      user,
		Secret:    secret,
		Kind:      kind,
	})
}

func knownVersion(name []byte, level byte) bool {
	switch string(name) {
	case "MQIsdp":
		return level == 3
	case "MQTT":
		return level >= 3 && level <= 5
	}
	return false
}

func versionName(level byte) string {
	switch level {
	case 3:
		return "3.1"
	case 4:
		return "3.1.1"
	}
	return "5.0"
}

func (a *analyzer) observeClient(f *inspect.Flow, clientID []byte) {
	if a.sawID {
		return
	}
	a.sawID = true
	ev := &event.Event{
		Type:    event.TypeObservation,
		Kind:    event.KindBanner,
		Summary: "MQTT client connect",
		Evidence: event.Evidence{
			"protocol":     "mqtt",
			"client_id":    inspect.Scrubbed(clientID, 64),
			"mqtt_version": versionName(a.level),
		},
	}
	if a.transport != "" {
		ev.Evidence["transport"] = a.transport
	}
	f.Emit(inspect.SubjectClient, ev)
}

// connack reports the pending login with the broker's verdict. Only codes
// about the credentials count as a refusal; an unsupported version or a
// busy server says nothing about them.
func (a *analyzer) connack(f *inspect.Flow, b []byte) {
	if len(b) < 2 {
		return
	}
	code := b[1]
	outcome := inspect.OutcomeUnknown
	switch {
	case a.passwordOnly:
		// The broker broke the protocol to answer at all: it may have
		// let the client in anonymously, the password unread, refused
		// it as anonymous (mosquitto 1.x under 3.1), or refused the
		// CONNECT as malformed (3.1.1's code 4).
	case code == 0:
		outcome = inspect.OutcomeAccepted
	case a.level != 5 && (code == 4 || code == 5): // bad user name or password, not authorised
		outcome = inspect.OutcomeRejected
	case a.level == 5 && (code == 0x86 || code == 0x87 || code == 0x8a || code == 0x8c):
		// bad user name or password, not authorised, banned, bad authentication method
		outcome = inspect.OutcomeRejected
	}
	a.pending.Report(f, outcome)
}

// publish hands the topic and a payload prefix to the scanner; b may be
// cut short by the capture (cut), which still leaves a fair prefix to
// scan. A QoS of 3 is malformed: where the payload starts is unknown, so
// nothing is scanned.
func (a *analyzer) publish(f *inspect.Flow, dir inspect.Dir, header byte, b []byte, cut bool) {
	if a.proto.scanner == nil {
		return
	}
	qos := header >> 1 & 3
	if qos == 3 || len(b) < 2 {
		return
	}
	topicLen := int(b[0])<<8 | int(b[1])
	topic := b[2:min(len(b), 2+topicLen)]
	topicCut := len(topic) < topicLen
	r := reader{b: b}
	r.skip(2 + topicLen)
	if qos > 0 {
		r.skip(2) // packet identifier
	}
	if a.level == 5 {
		r.properties()
	}
	a.scan(f, dir, topic, r.rest(), topicCut, cut)
}

// scan hands a topic and payload to the scanner, each bounded; topicCut
// and payloadCut say the capture already cut them short. The payload of
// a command to a Tasmota device goes behind the command and a space, as
// Tasmota's console takes it ("Password1 hunter2…"): the payload alone
// does not say what it sets.
func (a *analyzer) scan(f *inspect.Flow, dir inspect.Dir, topic, payload []byte, topicCut, payloadCut bool) {
	sc := a.proto.scanner
	if sc == nil {
		return
	}
	if len(topic) > 0 {
		sc.ScanPayload(f, dir, "mqtt_topic", topic[:min(len(topic), maxTopic)], inspect.CutEndIf(topicCut || len(topic) > maxTopic))
	}
	if cmd := inspect.TasmotaCommand(topic); cmd != nil && !topicCut {
		b := a.proto.command[:]
		n := copy(b, cmd)
		b[n] = ' '
		n++
		n += copy(b[n:], payload[:min(len(payload), maxPayload)])
		sc.ScanPayload(f, dir, inspect.WhereMQTTCommand, b[:n], inspect.CutEndIf(payloadCut || len(payload) > maxPayload))
		clear(b[:n]) // it may hold a password
		return
	}
	if len(payload) > 0 {
		sc.ScanPayload(f, dir, "mqtt_payload", payload[:min(len(payload), maxPayload)], inspect.CutEndIf(payloadCut || len(payload) > maxPayload))
	}
}

// Gap implements inspect.Analyzer: with bytes missing, packet boundaries
// are lost for good in that direction. (Unlike a framing error, a gap does
// not stop inspection: the engine is in the middle of its own bookkeeping.)
// The unfinished packet's prefix will never be parsed: wipe it.
func (a *analyzer) Gap(_ *inspect.Flow, dir inspect.Dir) {
	a.dirs[dir].stage = stageDead
	a.dirs[dir].drop()
}

// Close implements inspect.Analyzer.
func (a *analyzer) Close(f *inspect.Flow) {
	a.pending.Report(f, inspect.OutcomeUnknown)
	a.proto.pool.Put(a)
}

// looksLikeJWT reports whether s has the shape of a JSON Web Token: three
// base64url parts, the first a JSON object ("eyJ" is base64 for `{"`).
func looksLikeJWT(s []byte) bool {
	if len(s) < 16 || s[0] != 'e' || s[1] != 'y' || s[2] != 'J' {
		return false
	}
	dots := 0
	for _, c := range s {
		switch {
		case c == '.':
			dots++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '=':
		default:
			return false
		}
	}
	return dots == 2
}
