// Package snmp reads SNMP v1, v2c and v3 message headers on UDP (RFC 1157,
// RFC 3416, RFC 3412/3414). It reports every community string a flow
// carries as a credential sent in clear, with the agent's answer as its
// verdict: a Response accepts only when it answers a request seen, with
// its request-id and community; a lone Response, which anyone on the LAN
// can send in an agent's name, proves nothing. SNMPv3 users are reported
// with their security level as observations, so that an agent serving
// requests without authentication shows up on its scorecard; their
// verdict takes the same proof, a Response with the msgID of a request
// seen, which at authPriv is read from the message header around the
// encrypted PDU.
package snmp

import (
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Protocol is SNMP over UDP.
type Protocol struct {
	pool inspect.FreeList[analyzer]
}

// New returns the SNMP protocol.
func New() *Protocol { return &Protocol{} }

// Name implements inspect.Protocol.
func (*Protocol) Name() string { return "snmp" }

// isPort reports whether port is an SNMP agent or trap port: 161 and 162,
// and 10161 and 10162, which agents also use for SNMP in clear despite
// their registration for SNMP over TLS.
func isPort(port uint16) bool {
	return port == 161 || port == 162 || port == 10161 || port == 10162
}

// Match implements inspect.Protocol: a message that decodes, on an SNMP
// port at either end. A datagram that starts like BER but does not decode
// (cut by the snap length) is a port match.
func (*Protocol) Match(f *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	if f.IsTCP() || (!isPort(f.Server().Port()) && !isPort(f.Client().Port())) {
		return inspect.NoMatch
	}
	var m message
	if parse(b, &m) {
		return inspect.ContentMatch
	}
	if len(b) > 0 && b[0] == tagSequence {
		return inspect.PortMatch
	}
	return inspect.NoMatch
}

// NewAnalyzer implements inspect.Protocol.
func (p *Protocol) NewAnalyzer(*inspect.Flow) inspect.Analyzer {
	a := p.pool.Get()
	a.proto = p
	return a
}

// PDU tags (RFC 3416 section 3, RFC 1157 for the v1 Trap).
const (
	pduGet      = 0xa0
	pduGetNext  = 0xa1
	pduResponse = 0xa2
	pduSet      = 0xa3
	pduTrapV1   = 0xa4
	pduGetBulk  = 0xa5
	pduInform   = 0xa6
	pduTrapV2   = 0xa7
	pduReport   = 0xa8
)

// Message versions as encoded on the wire.
const (
	versionV1  = 0
	versionV2c = 1
	versionV3  = 3
)

// msgFlags bits and the User-based Security Model (RFC 3412 section 6.4).
// The reportable flag marks a request (a Confirmed Class PDU), which an
// agent answers with a Response or a Report; it is readable where the
// PDU is encrypted.
const (
	flagAuth       = 0x01
	flagPriv       = 0x02
	flagReportable = 0x04
	modelUSM       = 3
)

// message is what the analyzer reads from one datagram. Slices point into
// the datagram.
type message struct {
	version   int64
	community []byte // v1, v2c
	msgID     int64  // v3, when hasMsgID
	hasMsgID  bool
	flags     byte   // v3 msgFlags
	user      []byte // v3 USM msgUserName
	pdu       byte   // PDU tag; 0 for an encrypted v3 scoped PDU
	requestID int64  // of a PDU but a v1 trap, when hasID
	hasID     bool
	refusal   bool // a Report counting a failed USM check (usmRefusal)
}

// correlator is what ties a Response to its request: the msgID in v3
// (RFC 3412 section 7.2), present where an encrypted PDU hides its
// request-id; the request-id in v1 and v2c.
func (m *message) correlator() (int64, bool) {
	if m.version == versionV3 {
		return m.msgID, m.hasMsgID
	}
	return m.requestID, m.hasID
}

// parse decodes the header of one SNMP message into m.
func parse(b []byte, m *message) bool {
	*m = message{}
	msg, _, ok := expect(b, tagSequence)
	if !ok {
		return false
	}
	if m.version, msg, ok = integer(msg); !ok {
		return false
	}
	switch m.version {
	case versionV1, versionV2c:
		if m.community, msg, ok = expect(msg, tagOctets); !ok {
			return false
		}
		return m.readPDU(msg)
	case versionV3:
		return m.parseV3(msg)
	}
	return false
}

// parseV3 reads msgGlobalData, the USM security parameters and the scoped
// PDU's type when it is not encrypted.
func (m *message) parseV3(b []byte) bool {
	global, b, ok := expect(b, tagSequence)
	if !ok {
		return false
	}
	var id, flags []byte
	if id, global, ok = expect(global, tagInteger); !ok {
		return false
	}
	m.msgID, m.hasMsgID = requestID(id)
	if _, global, ok = expect(global, tagInteger); !ok { // msgMaxSize
		return false
	}
	if flags, global, ok = expect(global, tagOctets); !ok || len(flags) != 1 {
		return false
	}
	m.flags = flags[0]
	if m.flags&(flagAuth|flagPriv) == flagPriv { // privacy without authentication is invalid
		return false
	}
	model, _, ok := integer(global)
	if !ok {
		return false
	}
	params, b, ok := expect(b, tagOctets)
	if !ok {
		return false
	}
	if model == modelUSM && !m.readUSM(params) {
		return false
	}
	tag, data, _, ok := element(b)
	switch {
	case !ok:
		return false
	case tag == tagOctets && m.flags&flagPriv != 0: // encryptedPDU
		return true
	case tag != tagSequence:
		return false
	}
	if _, data, ok = expect(data, tagOctets); !ok { // contextEngineID
		return false
	}
	if _, data, ok = expect(data, tagOctets); !ok { // contextName
		return false
	}
	return m.readPDU(data)
}

// readUSM reads msgUserName from UsmSecurityParameters (RFC 3414 section
// 2.4).
func (m *message) readUSM(b []byte) bool {
	usm, _, ok := expect(b, tagSequence)
	if !ok {
		return false
	}
	if _, usm, ok = expect(usm, tagOctets); !ok { // msgAuthoritativeEngineID
		return false
	}
	if _, usm, ok = expect(usm, tagInteger); !ok { // msgAuthoritativeEngineBoots
		return false
	}
	if _, usm, ok = expect(usm, tagInteger); !ok { // msgAuthoritativeEngineTime
		return false
	}
	m.user, _, ok = expect(usm, tagOctets)
	return ok
}

// readPDU reads the PDU's tag and checks that its first field is what the
// tag promises: a request-id, or a v1 trap's enterprise OID.
func (m *message) readPDU(b []byte) bool {
	tag, content, _, ok := element(b)
	if !ok || tag < pduGet || tag > pduReport {
		return false
	}
	first := byte(tagInteger)
	if tag == pduTrapV1 {
		first = tagOID
	}
	id, _, ok := expect(content, first)
	if !ok {
		return false
	}
	m.pdu = tag
	if tag != pduTrapV1 {
		m.requestID, m.hasID = requestID(id)
	}
	if tag == pduReport {
		m.refusal = usmRefusal(content)
	}
	return true
}

// usmStats is the OID prefix of the USM's error counters, 1.3.6.1.6.3.15.1.1
// (RFC 3414 section 5), which a Report's first variable binding names.
const usmStats = "\x2b\x06\x01\x06\x03\x0f\x01\x01"

// usmRefusal reports whether a Report PDU's contents name a USM counter
// of refused requests: unsupported security level (1), unknown user (3),
// wrong digest (5, a wrong password) or decryption error (6). A Report
// of a clock out of step (2) or an unknown engine ID (4) is part of
// every exchange: the request is sent again.
func usmRefusal(pdu []byte) bool {
	_, rest, ok := expect(pdu, tagInteger) // request-id
	for range 2 {                          // error-status, error-index
		if ok {
			_, rest, ok = expect(rest, tagInteger)
		}
	}
	if !ok {
		return false
	}
	list, _, ok := expect(rest, tagSequence)
	if !ok {
		return false
	}
	binding, _, ok := expect(list, tagSequence)
	if !ok {
		return false
	}
	oid, _, ok := expect(binding, tagOID)
	if !ok || len(oid) != len(usmStats)+2 || string(oid[:len(usmStats)]) != usmStats {
		return false
	}
	switch oid[len(usmStats)] {
	case 1, 3, 5, 6:
		return true
	}
	return false
}

// requestID reads a request-id's contents, two's complement. It is an
// Integer32 (RFC 3416), but agents that count it unsigned send five
// bytes: up to eight are read, so that equal values compare equal
// however they are encoded.
func requestID(c []byte) (int64, bool) {
	if len(c) == 0 || len(c) > 8 {
		return 0, false
	}
	v := int64(int8(c[0]))
	for _, x := range c[1:] {
		v = v<<8 | int64(x)
	}
	return v, true
}

// maxEntries bounds the distinct communities and v3 users remembered per
// flow. A flow that tries more (a scanner guessing communities from one
// socket) has its further requests ignored; a Response to one of them,
// the proof of a right guess, is still reported.
const maxEntries = 8

// maxRequests bounds the requests remembered per flow until their
// Response; past it the oldest is forgotten. A manager with more
// requests outstanding on one socket loses only the proof of the
// oldest.
const maxRequests = 16

// request is a request seen, which only a Response with its correlator,
// from the end it was sent to, answers. Its community, or its v3 user and
// security level, is kept as its hashKey.
type request struct {
	id   int64
	key  uint64
	dir  inspect.Dir // the direction it was sent in
	used bool
}

// entry is one community or v3 user seen on the flow. Only a hash of the
// name is kept to recognise it again.
type entry struct {
	key     uint64
	used    bool
	pending bool // seen, verdict not reported yet
	// loose: a Response with this community answered no request seen.
	// Anyone on the LAN can send one in an agent's name, so it accepts
	// nothing; but the agent may have answered a request the capture
	// missed, so the community is no longer refused either.
	loose   bool
	v3      bool
	subject inspect.Subject
	cred    inspect.Credential // community: classified on first sight
	user    string             // v3: redacted user name
	level   string             // v3: security level
}

type analyzer struct {
	proto    *Protocol
	entries  [maxEntries]entry
	requests [maxRequests]request
	nextReq  int // the slot the next request takes, oldest first
}

// Feed implements inspect.Analyzer: one datagram per call.
func (a *analyzer) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	var m message
	if !parse(data, &m) {
		return len(data)
	}
	if m.version == versionV3 {
		a.v3(f, dir, &m)
	} else {
		a.community(f, dir, &m)
	}
	return len(data)
}

// community handles a v1 or v2c message. A request's community is
// reported when the agent answers it (accepted: a Response with the
// request's request-id and community, from the end the request went to)
// or the flow ends (refused: agents drop wrong communities silently); a
// trap's right away. A Response that answers no request seen accepts
// nothing: its community is reported, the outcome unknown.
func (a *analyzer) community(f *inspect.Flow, dir inspect.Dir, m *message) {
	key := hashKey(byte(m.version), 0, m.community)
	e := a.find(key)
	switch m.pdu {
	case pduResponse:
		if e != nil && !e.pending {
			return
		}
		o := inspect.OutcomeUnknown
		if a.answered(key, dir, m) {
			o = inspect.OutcomeAccepted
		}
		if e == nil {
			e = a.add(key)
			cred := a.classify(f, m)
			if e == nil { // no room: report without remembering
				f.ReportCredential(&cred, o, f.LoginSubject())
				return
			}
			e.cred, e.subject, e.pending = cred, f.LoginSubject(), true
		}
		if o == inspect.OutcomeAccepted {
			a.reportCommunity(f, e, o)
		} else {
			e.loose = true
		}
	case pduReport:
	default:
		if m.pdu != pduTrapV1 && m.pdu != pduTrapV2 && (e == nil || e.pending) {
			a.remember(key, dir, m)
		}
		if e != nil {
			return
		}
		if e = a.add(key); e == nil {
			return
		}
		e.cred, e.pending = a.classify(f, m), true
		e.subject = f.LoginSubject() // a request: the agent's community
		if isNotification(m.pdu) {
			e.subject = dir.Sender()
		}
		if m.pdu == pduTrapV1 || m.pdu == pduTrapV2 { // no answer will come
			a.reportCommunity(f, e, inspect.OutcomeUnknown)
		}
	}
}

// remember keeps a request for the Response that answers it; a
// retransmission (the same correlator, key and direction) is kept once.
func (a *analyzer) remember(key uint64, dir inspect.Dir, m *message) {
	id, ok := m.correlator()
	if !ok {
		return
	}
	r := request{id: id, key: key, dir: dir, used: true}
	for i := range a.requests {
		if a.requests[i] == r {
			return
		}
	}
	a.requests[a.nextReq] = r
	a.nextReq = (a.nextReq + 1) % len(a.requests)
}

// answered reports whether a Response sent in dir answers a request
// remembered, which it then forgets.
func (a *analyzer) answered(key uint64, dir inspect.Dir, m *message) bool {
	id, ok := m.correlator()
	if !ok {
		return false
	}
	want := request{id: id, key: key, dir: 1 - dir, used: true}
	for i := range a.requests {
		if a.requests[i] == want {
			a.requests[i] = request{}
			return true
		}
	}
	return false
}

func (a *analyzer) classify(f *inspect.Flow, m *message) inspect.Credential {
	mech := "community v1"
	if m.version == versionV2c {
		mech = "community v2c"
	}
	return f.Classify(&inspect.Login{
		Protocol:  "snmp",
		Mechanism: mech,
		Secret:    m.community,
		Kind:      inspect.SecretCommunity,
	})
}

func (a *analyzer) reportCommunity(f *inspect.Flow, e *entry, o inspect.Outcome) {
	if !e.pending {
		return
	}
	e.pending = false
	f.ReportCredential(&e.cred, o, e.subject)
}

// v3 handles an SNMPv3 message. Engine discovery (an empty user name) is
// part of every v3 exchange and says nothing. A named user is reported
// once per flow as an observation with its security level and whether the
// agent answered: an answer to a request seen (its msgID, user and
// security level, from the end the request went to) accepts; a Report
// of a failed check (unknown user, unsupported security level, wrong
// password: usmRefusal) to a request seen refuses it, whatever the
// request's level (agents send it at noAuthNoPriv). At authPriv the
// answer's PDU is encrypted and its type unread; a message the agent
// encrypts is no request when its reportable flag is clear, and it is
// authenticated and encrypted with the user's keys, which a wrong key
// or an unknown user would have had refused in clear: it accepts as a
// Response does. An answer or Report that answers no request seen
// settles nothing, as for a community: anyone on the LAN can send it in
// the agent's name. The user then waits for one that does; at the end
// of the flow it is unknown.
func (a *analyzer) v3(f *inspect.Flow, dir inspect.Dir, m *message) {
	if len(m.user) == 0 {
		return
	}
	level := m.flags & (flagAuth | flagPriv)
	key := hashKey(versionV3, level, m.user)
	e := a.find(key)
	encryptedAnswer := m.pdu == 0 && m.flags&flagReportable == 0
	switch {
	case m.pdu == pduResponse || encryptedAnswer:
		if e != nil && !e.pending {
			return
		}
		answered := a.answered(key, dir, m)
		if e == nil {
			if e = a.add(key); e == nil {
				return
			}
			initUser(e, m, f.LoginSubject())
		}
		if answered {
			a.observeUser(f, e, inspect.OutcomeAccepted)
		}
	case m.pdu == pduReport:
		if m.refusal {
			a.refused(f, dir, m)
		}
	default: // requests, by their type or, encrypted, by their reportable flag, and notifications
		if m.pdu != pduTrapV1 && m.pdu != pduTrapV2 && (e == nil || e.pending) {
			a.remember(key, dir, m)
		}
		if e != nil {
			return
		}
		if e = a.add(key); e == nil {
			return
		}
		subject := f.LoginSubject()
		if isNotification(m.pdu) {
			subject = dir.Sender()
		}
		initUser(e, m, subject)
		if m.pdu == pduTrapV2 {
			a.observeUser(f, e, inspect.OutcomeUnknown)
		}
	}
}

// refused reports as refused the user whose request, at any security
// level, a Report sent in dir answers.
func (a *analyzer) refused(f *inspect.Flow, dir inspect.Dir, m *message) {
	for _, level := range [...]byte{0, flagAuth, flagAuth | flagPriv} {
		key := hashKey(versionV3, level, m.user)
		if e := a.find(key); e != nil && a.answered(key, dir, m) {
			a.observeUser(f, e, inspect.OutcomeRejected)
		}
	}
}

func initUser(e *entry, m *message, subject inspect.Subject) {
	e.v3, e.pending, e.subject = true, true, subject
	e.user = inspect.Redact(m.user)
	e.level = levelName(m.flags)
}

func levelName(flags byte) string {
	switch {
	case flags&flagPriv != 0:
		return "authPriv"
	case flags&flagAuth != 0:
		return "authNoPriv"
	}
	return "noAuthNoPriv"
}

func levelSummary(level string) string {
	switch level {
	case "authPriv":
		return "SNMPv3 with authentication and encryption (authPriv)"
	case "authNoPriv":
		return "SNMPv3 with authentication, without encryption (authNoPriv)"
	}
	return "SNMPv3 without authentication or encryption (noAuthNoPriv)"
}

func (a *analyzer) observeUser(f *inspect.Flow, e *entry, o inspect.Outcome) {
	if !e.pending {
		return
	}
	e.pending = false
	f.Emit(e.subject, &event.Event{
		Type:    event.TypeObservation,
		Kind:    event.KindBanner,
		Summary: levelSummary(e.level),
		Evidence: event.Evidence{
			"protocol":       "snmp",
			"snmp_version":   "3",
			"security_model": "usm",
			"security_level": e.level,
			"user":           e.user,
			"accepted":       o.String(),
		},
	})
}

// isNotification reports whether a PDU is sent by an agent on its own:
// then the sender is the device it is about.
func isNotification(pdu byte) bool {
	return pdu == pduTrapV1 || pdu == pduTrapV2 || pdu == pduInform
}

// find returns the entry with key, or nil.
func (a *analyzer) find(key uint64) *entry {
	for i := range a.entries {
		if e := &a.entries[i]; e.used && e.key == key {
			return e
		}
	}
	return nil
}

// add claims a free entry, or one whose verdict is already reported; nil
// when every entry still waits for a verdict.
func (a *analyzer) add(key uint64) *entry {
	var reuse *entry
	for i := range a.entries {
		e := &a.entries[i]
		if !e.used {
			reuse = e
			break
		}
		if !e.pending && reuse == nil {
			reuse = e
		}
	}
	if reuse != nil {
		*reuse = entry{key: key, used: true}
	}
	return reuse
}

// hashKey is FNV-1a over the version, a discriminator and a name, so that
// a community is recognised without keeping it.
func hashKey(version, kind byte, name []byte) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	h = (h ^ uint64(version)) * prime
	h = (h ^ uint64(kind)) * prime
	for _, c := range name {
		h = (h ^ uint64(c)) * prime
	}
	return h
}

// Gap implements inspect.Analyzer; datagrams carry no stream state.
func (*analyzer) Gap(*inspect.Flow, inspect.Dir) {}

// Close implements inspect.Analyzer: requests never answered are
// reported as refused, since an agent discards a request with a wrong
// community without a word (RFC 1157 section 4.1): a sweep trying
// "public" on every host must not make each a device that has it. A
// community seen in a Response that answered no request seen is
// unknown.
func (a *analyzer) Close(f *inspect.Flow) {
	for i := range a.entries {
		e := &a.entries[i]
		switch {
		case !e.used:
		case e.v3:
			a.observeUser(f, e, inspect.OutcomeUnknown)
		case e.loose:
			a.reportCommunity(f, e, inspect.OutcomeUnknown)
		default:
			a.reportCommunity(f, e, inspect.OutcomeRejected)
		}
	}
	a.proto.pool.Put(a)
}
