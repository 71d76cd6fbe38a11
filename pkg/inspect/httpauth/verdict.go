package httpauth

import (
	"bytes"
	"hash/maphash"
	"net/netip"
	"time"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// The server's verdict on a credential sent in an Authorization or
// Proxy-Authorization header.
//
// Clients send Basic credentials with every request (curl -u, scripts,
// LAN scanners), and a page that anyone may see is served with them as
// without: a 2xx or 3xx says the server took a credential only where it
// is known to demand one. That is where it challenged (a 401 with
// WWW-Authenticate, a 407 with Proxy-Authenticate) a request in the same
// protection space (RFC 7617 section 2.2: the directory of the
// challenged path and everything below it, on the same origin; a proxy
// as a whole), on this connection or, within what Memory keeps, another;
// or, for Digest, where the response answers a nonce the server was seen
// to issue in a challenge. Without that proof the verdict is unknown.
//
// A redirect to a login or error page refuses the credential, as 401
// and 403 do (407 and 403 a proxy's). A refusal wins over acceptance: a
// 2xx for a credential the same server refused (on this connection, or
// within Memory) is unknown, and an acceptance is held back until the
// connection ends or holdFor has passed (inspect.Flow.WakeAt), so that a
// refusal that follows soon (a scanner's next probe) makes it unknown
// too. Unknown, not no: the 2xx did not refuse it, and a server may take
// a password for one page and refuse it for another (a viewer account on
// a setup page).
//
// A token, a credential carried in the message rather than in a header
// (ONVIF's WS-Security UsernameToken), is judged by its protocol's
// reader, with the same proof: a 2xx accepts it only where the server is
// known to demand one (TokenDemanded), which a challenge shows, or a
// refusal for want of a token (TokenRefused); a refusal of a token
// makes header credentials no more demanded, as a server that checks a
// token may serve anyone who sends only Basic.
//
// Only a connection seen from its handshake puts the proof of a demand
// (a challenge, a nonce, a refusal for want of a token) into Memory: a
// TCP connection the capture joined (inspect.Flow.Opened false) may be
// two frames anyone on the LAN made up in the server's name, whose proof
// would otherwise make a later 2xx on a real connection to that server
// accept a credential. Its proof counts on that connection only. A
// credential's refusal goes into Memory from any connection: it can only
// keep a later 2xx from accepting.
//
// Nothing here keeps a secret: credentials are classified before they
// are judged, identities and places are keyed hashes (maphash, seeded
// per Memory), and held verdicts are inspect.Credentials.

// Judge bounds: what one connection remembers.
const (
	judgeChallenges = 4 // protection spaces challenged on the connection
	judgeNonces     = 4 // Digest nonces issued on it
	judgeRefusals   = 4 // credentials refused on it
	judgeHeld       = 2 // distinct accepted credentials held back (an origin's and a proxy's)
	// MaxDepth is the most ancestor directories of a request path whose
	// challenge makes it demanded; a challenge deeper than that covers
	// only its own directory.
	MaxDepth = 8
	// holdFor is how long an acceptance is held back for a refusal of
	// the same credential to overturn it, in capture time; the end of the
	// connection releases it sooner.
	holdFor = 10 * time.Second
)

// Memory bounds: what a protocol remembers of its servers across
// connections.
const (
	memorySlots = 1024
	memoryTTL   = time.Hour
)

// Memory remembers, across connections, the protection spaces servers
// challenged, the Digest nonces they issued and the credentials they
// refused, as keyed hashes in a fixed table: a browser answers a
// challenge on a new connection, a scanner probes on many. Entries live
// memoryTTL; a newer entry that falls in the same slot replaces an older
// one, which is then forgotten (acceptance needs proof, so a lost
// challenge only leaves a verdict unknown). One engine goroutine uses a
// Memory.
type Memory struct {
	seed  maphash.Seed
	slots [memorySlots]memorySlot
}

type memorySlot struct {
	key uint64
	at  int64 // UnixNano of the last time it was recorded
}

// NewMemory returns an empty Memory with a seed of its own.
func NewMemory() *Memory { return &Memory{seed: maphash.MakeSeed()} }

func (m *Memory) put(key uint64, now int64) {
	if key == 0 {
		return
	}
	m.slots[key%memorySlots] = memorySlot{key, now}
}

func (m *Memory) has(key uint64, now int64) bool {
	s := m.slots[key%memorySlots]
	return key != 0 && s.key == key && now-s.at < int64(memoryTTL)
}

// What a key stands for.
const (
	keySpace   = 's'
	keyProxy   = 'p'
	keyNonce   = 'n'
	keyRefused = 'r'
	keyID      = 'i'
	// keyTokenRefused marks a space where a token was demanded
	// (tokenSpace).
	keyTokenRefused = 't'
)

// hashServer starts a key about server.
func (m *Memory) hashServer(h *maphash.Hash, server netip.AddrPort, kind byte) {
	h.SetSeed(m.seed)
	a := server.Addr().As16()
	h.Write(a[:])
	h.WriteByte(byte(server.Port() >> 8))
	h.WriteByte(byte(server.Port()))
	h.WriteByte(kind)
}

// key64 ends a key; 0 is kept for "none".
func key64(h *maphash.Hash) uint64 {
	if k := h.Sum64(); k != 0 {
		return k
	}
	return 1
}

// Spaces are the protection spaces of a request's origin credentials, as
// keys of a Memory: the directory of its path on its origin, which a
// challenge to it protects, and the directories above it, whose
// challenges cover it too. (A proxy's is the proxy: Judge keeps its key.)
type Spaces struct {
	Own uint64
	Up  [MaxDepth]uint64 // ancestors of Own, from the root
	NUp uint8
}

// spaces returns the protection spaces of a request for path (without
// its query) on origin (the Host, or the host of an absolute target; nil
// for protocols whose URLs name the server itself) to the server whose
// serverKey is server. With ancestors false only Own is set: enough to
// record a challenge to a request that carried no credential.
//
// Every request needs its Own, so it is cheap: keyed hashes of the
// origin and of the directory, mixed with the server's, which a
// connection computes once (Judge.Spaces).
func (m *Memory) spaces(server uint64, origin, path []byte, ancestors bool) Spaces {
	var sp Spaces
	dir := path[:bytes.LastIndexByte(path, '/')+1]
	if len(dir) == 0 {
		dir = []byte("/") // "*", or a target without a path
	}
	base := mix(server, maphash.Bytes(m.seed, origin))
	if ancestors {
		for i := 0; i < len(dir)-1 && sp.NUp < MaxDepth; i++ {
			if dir[i] == '/' {
				sp.Up[sp.NUp] = mix(base, maphash.Bytes(m.seed, dir[:i+1]))
				sp.NUp++
			}
		}
	}
	sp.Own = mix(base, maphash.Bytes(m.seed, dir))
	return sp
}

// serverKey is the key of server under which its protection spaces are.
func (m *Memory) serverKey(server netip.AddrPort) uint64 {
	var h maphash.Hash
	m.hashServer(&h, server, keySpace)
	return key64(&h)
}

// mix combines two keyed hashes into a key (a multiply-xorshift
// finalizer over an asymmetric combination: mix(a, b) != mix(b, a));
// 0 is kept for "none".
func mix(a, b uint64) uint64 {
	x := a ^ (b*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019 + a<<6 + a>>2)
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	if x == 0 {
		return 1
	}
	return x
}

// proxyKey is the key of server as a proxy, the protection space of
// Proxy-Authorization credentials.
func (m *Memory) proxyKey(server netip.AddrPort) uint64 {
	var h maphash.Hash
	m.hashServer(&h, server, keyProxy)
	return key64(&h)
}

// tokenSpace is the key under which a refusal for want of a token in
// the protection space space is kept: apart from its challenges.
func tokenSpace(space uint64) uint64 { return mix(space, keyTokenRefused) }

// NonceKey is the key of a Digest nonce server issued or a response
// answers.
func (m *Memory) NonceKey(server netip.AddrPort, nonce []byte) uint64 {
	if len(nonce) == 0 {
		return 0
	}
	var h maphash.Hash
	m.hashServer(&h, server, keyNonce)
	h.Write(nonce)
	return key64(&h)
}

// ID is the identity of a classified credential for the verdicts of one
// server: its scheme, its user and its password's keyed hash. A Digest
// response carries no password: its identity is the user, the realm and
// what the classifier recognised in it (a default, and whose), so that
// two passwords of one user that the default list cannot tell apart
// count as one, and a refusal of one keeps the other's acceptance out of
// "yes" (never the other way round).
func (m *Memory) ID(c *inspect.Credential, user, realm []byte) uint64 {
	var h maphash.Hash
	h.SetSeed(m.seed)
	h.WriteByte(keyID)
	for _, s := range [...]string{c.Mechanism, c.SecretHash, string(c.Class), c.DefaultVendor, c.DefaultSource} {
		h.WriteString(s)
		h.WriteByte(0)
	}
	h.Write(user)
	h.WriteByte(0)
	h.Write(realm)
	return key64(&h)
}

// refusedKey is the key of a refusal of the credential id by server as
// an origin, or, with proxy, as a proxy: each refuses only its own.
func (m *Memory) refusedKey(server netip.AddrPort, id uint64, proxy bool) uint64 {
	var h maphash.Hash
	m.hashServer(&h, server, keyRefused)
	if proxy {
		h.WriteByte(keyProxy)
	}
	var b [8]byte
	for i := range b {
		b[i] = byte(id >> (8 * i))
	}
	h.Write(b[:])
	return key64(&h)
}

// Sent is a classified credential from a request header, with what its
// verdict needs.
type Sent struct {
	Cred  inspect.Credential
	ID    uint64 // Memory.ID
	Nonce uint64 // Memory.NonceKey of the nonce a Digest response answers; 0 for others
	Proxy bool   // from Proxy-Authorization
	// Unchecked: the request is one servers answer without checking
	// credentials (RTSP OPTIONS): its 2xx proves nothing.
	Unchecked bool
}

// ClassifySent reads and classifies the credential that follows scheme
// in an Authorization or Proxy-Authorization value sent to f's server,
// as Classify does, and returns it with its identity and, for Digest,
// the key of the nonce it answers. scratch is wiped before it returns.
func ClassifySent(f *inspect.Flow, m *Memory, l *inspect.Login, scheme Scheme, cred, method []byte, scratch *[MaxBasic]byte) (Sent, bool) {
	defer clear(scratch[:])
	if !ReadLogin(l, scheme, cred, method, scratch) {
		return Sent{}, false
	}
	s := Sent{Cred: f.Classify(l)}
	var realm []byte
	if scheme == SchemeDigest {
		d, _ := ParseDigest(cred)
		realm = d.Realm
		s.Nonce = m.NonceKey(f.Server(), d.Nonce)
	}
	s.ID = m.ID(&s.Cred, l.User, realm)
	return s, true
}

// Challenge says what the challenges of a response were: Nonces, the
// Digest nonces they issued (as Memory.NonceKey), at most two.
type Challenge struct {
	Origin bool // a WWW-Authenticate header
	Proxy  bool // a Proxy-Authenticate header
	Stale  bool // one says only the nonce was stale
	Nonces [2]uint64
}

// Add reads one WWW-Authenticate (proxy false) or Proxy-Authenticate
// header value from server.
func (c *Challenge) Add(m *Memory, server netip.AddrPort, value []byte, proxy bool) {
	if proxy {
		c.Proxy = true
	} else {
		c.Origin = true
	}
	c.Stale = c.Stale || Stale(value)
	if k := m.NonceKey(server, challengeParam(value, "nonce")); k != 0 {
		if c.Nonces[0] == 0 {
			c.Nonces[0] = k
		} else if c.Nonces[1] == 0 {
			c.Nonces[1] = k
		}
	}
}

// Answer is a response as the verdict on a header credential reads it.
type Answer struct {
	Status    int
	Challenge Challenge
	ToLogin   bool // a 3xx to a login or error page
}

// Judge keeps one connection's side of the verdicts: what its server
// challenged and refused on it, and the acceptances held back. Its zero
// value is ready; Close reports what it holds.
type Judge struct {
	server     uint64 // Memory.serverKey of the server, once needed
	proxy      uint64 // Memory.proxyKey of the server, once needed
	challenges [judgeChallenges]uint64
	nonces     [judgeNonces]uint64
	refusals   [judgeRefusals]uint64
	held       [judgeHeld]held
	nChal      uint8 // next ring slot of each
	nNonce     uint8
	nRefused   uint8
}

// held is an acceptance held back: n requests with credential cred,
// accepted, the first at time at; refusal is the key a refusal of it
// would have (Memory.refusedKey).
type held struct {
	cred    inspect.Credential
	refusal uint64
	n       uint32
	at      int64
}

// Answered records what a response to a request in spaces sp to f's
// server shows of the server's demands: a 401 with a challenge protects
// the request's own directory, a 407 with one the proxy, and Digest
// nonces it issued are the server's.
func (j *Judge) Answered(f *inspect.Flow, m *Memory, sp *Spaces, a *Answer) {
	now := f.Last().UnixNano()
	switch {
	case a.Status == 401 && a.Challenge.Origin:
		j.challenged(f, m, sp.Own, now)
	case a.Status == 407 && a.Challenge.Proxy:
		j.challenged(f, m, j.proxyKey(f, m), now)
	default:
		return // a challenge header on any other answer demands nothing
	}
	for _, k := range a.Challenge.Nonces {
		if k != 0 {
			j.nonces[j.nNonce%judgeNonces] = k
			j.nNonce++
			if witnessed(f) {
				m.put(k, now)
			}
		}
	}
}

// witnessed reports whether what f's server answered may go into a
// Memory: not on a TCP connection whose handshake was not seen (see
// Judge).
func witnessed(f *inspect.Flow) bool { return !f.IsTCP() || f.Opened() }

// Spaces returns the protection spaces of a request for path (without its
// query) on origin (the Host, or the host of an absolute target; nil for
// protocols whose URLs name the server itself) to f's server. With
// ancestors false only Own is set: enough to record a challenge to a
// request that carried no credential.
func (j *Judge) Spaces(f *inspect.Flow, m *Memory, origin, path []byte, ancestors bool) Spaces {
	if j.server == 0 {
		j.server = m.serverKey(f.Server())
	}
	return m.spaces(j.server, origin, path, ancestors)
}

// proxyKey is the key of f's server as a proxy (Memory.proxyKey).
func (j *Judge) proxyKey(f *inspect.Flow, m *Memory) uint64 {
	if j.proxy == 0 {
		j.proxy = m.proxyKey(f.Server())
	}
	return j.proxy
}

// challenged records that f's server demands a login in the space or
// proxy key: on the connection, and in m if witnessed.
func (j *Judge) challenged(f *inspect.Flow, m *Memory, key uint64, now int64) {
	if !j.known(j.challenges[:], key) {
		j.challenges[j.nChal%judgeChallenges] = key
		j.nChal++
	}
	if witnessed(f) {
		m.put(key, now)
	}
}

// TokenRefused records that f's server refused a request in its own
// protection space own (Spaces.Own) for want of a token (a SOAP fault
// saying the sender is not authorized, a 401 without a challenge),
// whether the request carried one or not: tokens are demanded in that
// space from now on (TokenDemanded).
func (j *Judge) TokenRefused(f *inspect.Flow, m *Memory, own uint64) {
	if own != 0 {
		j.challenged(f, m, tokenSpace(own), f.Last().UnixNano())
	}
}

// TokenDemanded reports whether f's server is known to demand a login
// where a request in spaces sp went: it challenged for HTTP
// authentication there (which cameras check before a token, or instead
// of it) or refused a request for want of a token there (TokenRefused),
// in sp's own space or one above, on this connection or within m.
func (j *Judge) TokenDemanded(f *inspect.Flow, m *Memory, sp *Spaces) bool {
	now := f.Last().UnixNano()
	if j.recorded(m, sp.Own, now) || j.recorded(m, tokenSpace(sp.Own), now) {
		return true
	}
	for _, k := range sp.Up[:sp.NUp] {
		if j.recorded(m, k, now) || j.recorded(m, tokenSpace(k), now) {
			return true
		}
	}
	return false
}

// recorded reports whether the challenge or demand key was recorded on
// this connection or within m.
func (j *Judge) recorded(m *Memory, key uint64, now int64) bool {
	return key != 0 && (j.known(j.challenges[:], key) || m.has(key, now))
}

// Report files s, sent with a request in spaces sp to f's server, with
// the verdict of answer a (nil: none seen, or none that can be paired
// with the request). An acceptance is held back (see Judge).
func (j *Judge) Report(f *inspect.Flow, m *Memory, s *Sent, sp *Spaces, a *Answer) {
	now := f.Last().UnixNano()
	if a == nil {
		f.ReportCredential(&s.Cred, inspect.OutcomeUnknown, f.LoginSubject())
		return
	}
	took := a.Status >= 200 && a.Status < 400
	refusal := m.refusedKey(f.Server(), s.ID, s.Proxy)
	switch {
	case Refused(a.Status, s.Proxy, a.Challenge.Stale) || took && a.Status >= 300 && a.ToLogin:
		j.refused(f, m, refusal, now)
		f.ReportCredential(&s.Cred, inspect.OutcomeRejected, f.LoginSubject())
	case took && !s.Unchecked && !j.wasRefused(m, refusal, now) && j.demanded(f, m, s, sp, now):
		j.hold(f, m, s, refusal, now)
	default:
		f.ReportCredential(&s.Cred, inspect.OutcomeUnknown, f.LoginSubject())
	}
}

// demanded reports whether the server is known to demand s where it was
// sent.
func (j *Judge) demanded(f *inspect.Flow, m *Memory, s *Sent, sp *Spaces, now int64) bool {
	if s.Nonce != 0 && (j.known(j.nonces[:], s.Nonce) || m.has(s.Nonce, now)) {
		return true
	}
	if s.Proxy {
		k := j.proxyKey(f, m)
		return j.known(j.challenges[:], k) || m.has(k, now)
	}
	if j.recorded(m, sp.Own, now) {
		return true
	}
	for _, k := range sp.Up[:sp.NUp] {
		if j.recorded(m, k, now) {
			return true
		}
	}
	return false
}

func (*Judge) known(keys []uint64, key uint64) bool {
	for _, k := range keys {
		if k == key && k != 0 {
			return true
		}
	}
	return false
}

func (j *Judge) wasRefused(m *Memory, refusal uint64, now int64) bool {
	return j.known(j.refusals[:], refusal) || m.has(refusal, now)
}

// refused records a refusal (Memory.refusedKey) and reports the
// acceptances of the same credential held back as unknown.
func (j *Judge) refused(f *inspect.Flow, m *Memory, refusal uint64, now int64) {
	if !j.known(j.refusals[:], refusal) {
		j.refusals[j.nRefused%judgeRefusals] = refusal
		j.nRefused++
	}
	m.put(refusal, now)
	for i := range j.held {
		if h := &j.held[i]; h.n > 0 && h.refusal == refusal {
			j.release(f, h, inspect.OutcomeUnknown)
		}
	}
}

// hold keeps an acceptance of s back, with those of the same credential
// already held; with no room left, the oldest is released first.
func (j *Judge) hold(f *inspect.Flow, m *Memory, s *Sent, refusal uint64, now int64) {
	free := -1 // an empty slot, else the oldest
	for i := range j.held {
		h := &j.held[i]
		if h.n > 0 && h.refusal == refusal && h.cred == s.Cred {
			h.n++
			return
		}
		if free < 0 || j.held[free].n > 0 && (h.n == 0 || h.at < j.held[free].at) {
			free = i
		}
	}
	if j.held[free].n > 0 {
		j.settle(f, m, &j.held[free], now)
	}
	j.held[free] = held{cred: s.Cred, refusal: refusal, n: 1, at: now}
	f.WakeAt(time.Unix(0, now+int64(holdFor)))
}

// Wake reports the acceptances held back for holdFor by now, and asks
// to be woken for the earliest one still held: the flow keeps one wake
// time, the first asked for. Analyzers call it from their
// inspect.Waker's Wake.
func (j *Judge) Wake(f *inspect.Flow, m *Memory, now time.Time) {
	t := now.UnixNano()
	next := int64(0)
	for i := range j.held {
		h := &j.held[i]
		switch {
		case h.n == 0:
		case t-h.at >= int64(holdFor):
			j.settle(f, m, h, t)
		case next == 0 || h.at < next:
			next = h.at
		}
	}
	if next != 0 {
		f.WakeAt(time.Unix(0, next+int64(holdFor)))
	}
}

// Close reports every acceptance held back: the connection ends.
func (j *Judge) Close(f *inspect.Flow, m *Memory) {
	for i := range j.held {
		if h := &j.held[i]; h.n > 0 {
			j.settle(f, m, h, f.Last().UnixNano())
		}
	}
}

// settle reports a held acceptance: accepted, unless the server refused
// the same credential meanwhile on another connection.
func (j *Judge) settle(f *inspect.Flow, m *Memory, h *held, now int64) {
	o := inspect.OutcomeAccepted
	if m.has(h.refusal, now) {
		o = inspect.OutcomeUnknown
	}
	j.release(f, h, o)
}

func (j *Judge) release(f *inspect.Flow, h *held, o inspect.Outcome) {
	n := h.n
	c := h.cred
	*h = held{}
	for ; n > 0; n-- {
		f.ReportCredential(&c, o, f.LoginSubject())
	}
}
