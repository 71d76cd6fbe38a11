package inspect

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Dir is the direction of data within a flow.
type Dir uint8

const (
	ToServer Dir = 0 // sent by the side that opened the flow
	ToClient Dir = 1 // sent by the side that accepted it
)

func (d Dir) String() string {
	if d == ToServer {
		return "to_server"
	}
	return "to_client"
}

// Sender is the end of the flow that sent data going in d: the device a
// datagram announcing or describing itself is about.
func (d Dir) Sender() Subject {
	if d == ToServer {
		return SubjectClient
	}
	return SubjectServer
}

// FlowKey identifies a flow in both directions: the lower endpoint is A.
type FlowKey struct {
	A, B  netip.AddrPort
	Proto IPProtocol
}

func makeKey(a, b netip.AddrPort, proto IPProtocol) FlowKey {
	k := FlowKey{A: a, B: b, Proto: proto}
	k.orient()
	return k
}

// orient makes the lower endpoint A.
func (k *FlowKey) orient() {
	if k.B.Compare(k.A) < 0 {
		k.A, k.B = k.B, k.A
	}
}

// Flow is one TCP connection or UDP conversation. Analyzers read its
// exported fields and methods; they must not keep a *Flow after Close,
// because the engine reuses the slot for another flow.
//
// A table may hold a hundred thousand flows, so the struct is kept to 96
// bytes on 64-bit: IPv4 endpoints are stored as their 4 bytes and IPv6
// ones in a pool beside the table (Client and Server rebuild them; a
// netip.AddrPort takes 32), the key is not stored (Key derives it), times
// are Unix nanoseconds, the protocol is a number, counters are 32 bits,
// the flags are bits, and fields are ordered so that there is no
// padding (TestFlowSize).
type Flow struct {
	first, last int64 // capture times of the first and latest packet
	engine      *Engine

	// Packets and transport payload Bytes per Dir. A counter that
	// reaches its maximum stays there.
	Packets [2]uint32
	Bytes   [2]uint32

	// nextSeq is the next expected TCP sequence number per direction.
	nextSeq [2]uint32
	// insp numbers the flow's inspection in the engine's pool while an
	// analyzer reads the flow; 0 otherwise.
	insp int32
	// The table's bookkeeping: the key's hash and LRU links as slot
	// numbers (0 is none).
	hash       uint32
	prev, next int32

	// ip and port are the client's (index 0) and the server's (1). The
	// addresses are IPv4; with flagIPv6, ip[0] holds the number of the
	// endpoints' entry in the table's IPv6 pool.
	ip                       [2][4]byte
	port                     [2]uint16
	ClientMAC, ServerMAC     hwaddr.MAC // zero unless the endpoint is on the LAN
	flags                    flowFlags
	Proto                    IPProtocol
	ClientLocal, ServerLocal bool // inside the configured LAN prefixes

	// app is the analysing protocol's place in the engine's list plus
	// one; 0 until identified.
	app uint8
}

// flowFlags are a flow's yes-or-no states, one bit each. 32 bits take
// no more room than 16: they fill the slot's padding.
type flowFlags uint32

const (
	// flagInUse: the table slot holds a flow.
	flagInUse flowFlags = 1 << iota
	// flagIPv6: an endpoint is IPv6; the addresses are in the IPv6 pool.
	flagIPv6
	// flagSynced (and flagSynced<<ToClient): the next sequence number of
	// the direction is known.
	flagSynced
	_
	// flagFIN (and flagFIN<<ToClient): the direction has sent a FIN.
	flagFIN
	_
	// flagStopped: inspection has ended (both directions' budgets spent,
	// analyzer done, no protocol matched); the flow is still counted.
	flagStopped
	// flagIdentified: protocol identification has run.
	flagIdentified
	// flagUpgraded: the flow turned into TLS (StartTLS).
	flagUpgraded
	// flagCut (and flagCut<<ToClient): the byte budget kept bytes of the
	// direction from the analyzer.
	flagCut
	_
	// flagLost (and flagLost<<ToClient): bytes of the direction after the
	// last ones the analyzer read were lost: a gap not followed by data, a
	// FIN or RST at a later sequence number, the peer acknowledging
	// bytes never captured, or bytes that came while the flow was refused
	// an inspection. Data fed to the analyzer afterwards clears it.
	flagLost
	_
	// flagRouter: the router itself opened the connection (the active
	// audit, the UPnP description fetches): tracked, never inspected or
	// observed, since it says nothing about the devices.
	flagRouter
	// flagOpened (and flagOpened<<ToClient): the client's SYN (the
	// server's SYN-ACK) was seen, so the direction's first bytes are
	// known.
	flagOpened
	_
	// flagRefused: the flow was refused an inspection at least once and
	// counted in one of EngineStats.FlowsRefusedBusy, FlowsRefusedShare
	// and FlowsRefusedLinkWide.
	flagRefused
	// flagAwaitClient: a UDP flow identified on its server's datagram;
	// its FlowIdentifiedObservers are told when its client first sends.
	flagAwaitClient
	// flagSkipped (and flagSkipped<<ToClient): before the flow had an
	// analyzer, the direction's place moved past bytes none read (a
	// hole in front of its first data, bytes that came while the flow
	// was refused an inspection). Unlike a FIN past the bytes seen,
	// whose hole may still fill, they will not come: the analyzer made
	// later hears of them by Gap (Engine.lostBefore).
	flagSkipped
	_
)

func (f *Flow) has(flag flowFlags) bool { return f.flags&flag != 0 }

func (f *Flow) set(flag flowFlags) { f.flags |= flag }

// ipv6Endpoints are the addresses of a flow with an IPv6 endpoint, in
// their 16-byte forms.
type ipv6Endpoints struct {
	ip  [2][16]byte // client, server
	is4 [2]bool     // the address is IPv4 (only when the flow mixes)
}

// The endpoints' places in Flow.ip, Flow.port and ipv6Endpoints.
const (
	sideClient = 0
	sideServer = 1
)

// App is the name of the protocol analysing the flow, "" until known.
func (f *Flow) App() string {
	if f.app == 0 {
		return ""
	}
	return f.engine.protocols[f.app-1].Name()
}

// NewFlow returns a flow outside any engine's traffic, for tests of code
// that reads flows, such as a protocol's Match.
func NewFlow(client, server netip.AddrPort, proto IPProtocol) *Flow {
	e := &Engine{table: newFlowTable(1)}
	return e.table.insert(e, client, server, proto)
}

// Client is the endpoint that opened the flow.
func (f *Flow) Client() netip.AddrPort { return f.endpoint(sideClient) }

// Server is the endpoint that accepted the flow.
func (f *Flow) Server() netip.AddrPort { return f.endpoint(sideServer) }

func (f *Flow) endpoint(side int) netip.AddrPort {
	if !f.has(flagIPv6) {
		return netip.AddrPortFrom(netip.AddrFrom4(f.ip[side]), f.port[side])
	}
	ep := f.ipv6()
	addr := netip.AddrFrom16(ep.ip[side])
	if ep.is4[side] {
		addr = addr.Unmap()
	}
	return netip.AddrPortFrom(addr, f.port[side])
}

// ipv6ID is the number of the flow's entry in the table's IPv6 pool.
func (f *Flow) ipv6ID() int32 { return int32(binary.NativeEndian.Uint32(f.ip[sideClient][:])) }

func (f *Flow) ipv6() *ipv6Endpoints { return f.engine.table.ipv6.at(f.ipv6ID()) }

// setEndpoints stores c and s; packet addresses carry no zone. A flow
// with an IPv6 endpoint takes an entry of the table's IPv6 pool.
func (f *Flow) setEndpoints(t *flowTable, c, s netip.AddrPort) {
	f.port = [2]uint16{c.Port(), s.Port()}
	if c.Addr().Is4() && s.Addr().Is4() {
		f.ip = [2][4]byte{c.Addr().As4(), s.Addr().As4()}
		return
	}
	id := t.ipv6.get()
	*t.ipv6.at(id) = ipv6Endpoints{
		ip:  [2][16]byte{c.Addr().As16(), s.Addr().As16()},
		is4: [2]bool{c.Addr().Is4(), s.Addr().Is4()},
	}
	binary.NativeEndian.PutUint32(f.ip[sideClient][:], uint32(id))
	f.set(flagIPv6)
}

// isClient reports whether ap is the flow's client.
func (f *Flow) isClient(ap netip.AddrPort) bool { return f.isEndpoint(sideClient, ap) }

// isServer reports whether ap is the flow's server.
func (f *Flow) isServer(ap netip.AddrPort) bool { return f.isEndpoint(sideServer, ap) }

func (f *Flow) isEndpoint(side int, ap netip.AddrPort) bool {
	if ap.Port() != f.port[side] {
		return false
	}
	if !f.has(flagIPv6) {
		return ap.Addr().Is4() && ap.Addr().As4() == f.ip[side]
	}
	ep := f.ipv6()
	return ap.Addr().Is4() == ep.is4[side] && ap.Addr().As16() == ep.ip[side]
}

// Key is the flow's key, the same from either direction.
func (f *Flow) Key() FlowKey { return makeKey(f.Client(), f.Server(), f.Proto) }

// First is the capture time of the flow's first packet.
func (f *Flow) First() time.Time { return time.Unix(0, f.first) }

// Last is the capture time of the flow's latest packet.
func (f *Flow) Last() time.Time { return time.Unix(0, f.last) }

// IsTCP reports whether the flow is a TCP connection.
func (f *Flow) IsTCP() bool { return f.Proto == IPProtocolTCP }

// match reports whether f is the flow of k, and whether k.A is its
// client, so a lookup orients the packet with the comparison it made.
func (f *Flow) match(k *FlowKey) (ok, clientIsA bool) {
	if f.Proto != k.Proto {
		return false, false
	}
	if f.isClient(k.A) && f.isServer(k.B) {
		return true, true
	}
	return f.isClient(k.B) && f.isServer(k.A), false
}

// StopInspection ends analysis of the flow: the analyzer is closed and no
// further payload is delivered. TLS analyzers call it after the handshake
// messages they need; the engine calls it when the byte budgets of both
// directions are spent.
func (f *Flow) StopInspection() {
	if f.has(flagStopped) {
		return
	}
	f.set(flagStopped)
	f.closeAnalyzer()
}

// inspection is the flow's inspection, nil when no analyzer reads it.
func (f *Flow) inspection() *inspection {
	if f.insp == 0 {
		return nil
	}
	return f.engine.insps.at(f.insp)
}

// analyzer is the flow's analyzer, or nil.
func (f *Flow) analyzer() Analyzer {
	if f.insp == 0 {
		return nil
	}
	return f.engine.insps.at(f.insp).analyzer
}

// closeAnalyzer closes the flow's analyzer, if any, and gives its
// inspection and stream buffers back to the engine.
func (f *Flow) closeAnalyzer() {
	a := f.analyzer()
	if a == nil {
		return
	}
	f.releaseInspection()
	a.Close(f)
}

// releaseInspection gives the flow's inspection and stream buffers back
// to the engine without a word to the analyzer.
func (f *Flow) releaseInspection() {
	if f.insp == 0 {
		return
	}
	e := f.engine
	in := e.insps.at(f.insp)
	for i := range in.half {
		e.releaseBuffer(&in.half[i])
		e.dropHeld(&in.held[i])
		in.acked[i] = ackMark{}
	}
	in.heard = ackMark{}
	if in.reopen.valid && !(e.closing && e.busy == f) {
		// The flow may outlive its inspection (stopped, taken for an
		// idle one's): a SYN for its ports noted meanwhile must still
		// let the server's SYN-ACK start the new connection. A flow
		// being closed leaves the table, and its mark with it; moving
		// the mark would only push out another flow's.
		e.reopens[f.hash%reopenSlots] = reopenMark{hash: f.hash, isn: in.reopen.seq, valid: true}
	}
	e.hosts[in.host].insps--
	if in.linkWide {
		e.linkWide--
	}
	e.insps.put(f.insp)
	f.insp = 0
}

// setAnalyzer starts analysis with a, which may be nil (no analyzer);
// s is the flow's seat (Engine.seatOf), whose counts the inspection adds
// to until it is released.
func (f *Flow) setAnalyzer(a Analyzer, s seat) {
	if a == nil {
		return
	}
	e := f.engine
	f.insp = e.insps.get()
	in := e.insps.at(f.insp)
	in.analyzer, in.flow, in.fed, in.seat = a, f, f.last, s
	e.hosts[s.host].insps++
	if s.linkWide {
		e.linkWide++
	}
}

// WakeAt asks for the analyzer's Wake (see Waker) at capture time t, or
// sooner if it asked for an earlier time already. Without an analyzer,
// or one that is no Waker, it does nothing.
func (f *Flow) WakeAt(t time.Time) {
	in := f.inspection()
	if in == nil {
		return
	}
	if _, ok := in.analyzer.(Waker); !ok {
		return
	}
	at := max(t.UnixNano(), 1)
	if in.wake != 0 && in.wake <= at {
		return
	}
	e := f.engine
	if in.wake == 0 {
		e.wakes = append(e.wakes, wake{f: f, insp: f.insp})
	}
	in.wake = at
	if e.nextWake == 0 || at < e.nextWake {
		e.nextWake = at
	}
}

// Ended reports whether what the analyzer read last in dir is the true
// end of what that side of the flow sent, so that a datum running into it
// is whole. Analyzers ask it in Close. The direction's end is real when
// the side closed (a FIN at the sequence number after the bytes read) or
// the engine is closing the flow (both FINs, a RST, an idle timeout,
// eviction, Flush), and
//   - the byte budget did not cut the direction;
//   - no bytes of it are missing after the last ones read: a gap with
//     nothing read after it, a FIN or RST at a later sequence number, or
//     the peer acknowledging bytes never captured all make the end a cut.
//
// Inspection that stops before the flow closes (budget, StartTLS, the
// analyzer's own stop, an idle inspection taken for another flow)
// closes the analyzer at that moment, when the engine is not closing
// the flow: its end is real only if the side had closed already.
func (f *Flow) Ended(dir Dir) bool {
	e := f.engine
	return (f.has(flagFIN<<dir) || e.closing && e.busy == f) && !f.has(flagCut<<dir) && !f.has(flagLost<<dir)
}

// UpgradedToTLS reports whether the flow switched to TLS after a
// plaintext start (STARTTLS and kin), so it is not plaintext use.
func (f *Flow) UpgradedToTLS() bool { return f.has(flagUpgraded) }

// Opened reports whether both SYNs of the connection were seen: what an
// analyzer read first is what each side sent first, not the middle of a
// session the capture joined late, unless Gap said that bytes before it
// were lost (as it says of gaps after it).
func (f *Flow) Opened() bool {
	both := flagOpened | flagOpened<<ToClient
	return f.flags&both == both
}

// StartTLS says the connection turns into TLS after what the analyzer
// has read (STARTTLS, STLS, AUTH TLS): the analyzer is closed and what
// follows in either direction goes to the TLS analyzer, which reads the
// handshake (JA3/JA4, weak versions and ciphers) and then stops
// inspection. The rest of the data in the current Feed call is dropped;
// the caller should return right away. Without a registered "tls"
// protocol it is StopInspection.
func (f *Flow) StartTLS() {
	if f.has(flagStopped) {
		return
	}
	// The seat the plaintext inspection holds, taken before it is given
	// back: whether the flow is link-wide may have changed with the LAN
	// prefixes since its start (seat).
	s := f.engine.seatOf(f)
	if in := f.inspection(); in != nil {
		s = in.seat
	}
	f.set(flagUpgraded)
	f.closeAnalyzer()
	tls := f.engine.protocol("tls")
	if tls == nil {
		f.set(flagStopped)
		return
	}
	// The handshake gets a fresh inspection, so a fresh budget: the
	// plaintext part may have used most of it, and TLS inspection stops
	// after the hellos anyway. It takes the seat the plaintext one
	// gave back.
	f.setAnalyzer(tls.NewAnalyzer(f), s)
	if f.insp == 0 {
		f.set(flagStopped)
		return
	}
	f.engine.lostBeforeTakeover(f)
}

// inspection is a flow's state while an analyzer reads it. At most
// max_inspected flows have one at a time, so it lives in the engine's
// pool rather than in each of the table's (many more) flow slots.
type inspection struct {
	analyzer Analyzer
	// inspected counts payload bytes handed to the analyzer per
	// direction, checked against the byte budget (at most 1 MiB).
	inspected [2]uint32
	half      [2]halfStream
	// held are bytes per direction (one segment, or several that touch)
	// that came before the bytes in front of them; acked the peer's
	// highest ACK past the stream's place.
	held  [2]heldSegment
	acked [2]ackMark
	// heard is the acknowledgement number of the segment that carried
	// the client's first byte, on a connection seen from its start: the
	// server bytes the client had when it first spoke (Engine.firstWords).
	heard ackMark
	// reopen: a client's SYN for a new connection on the flow's ports
	// (Engine.noteReopen).
	reopen ackMark
	// flow is the flow inspected, for the sweep that reclaims idle
	// inspections (Engine.reclaim); fed the capture time (Unix
	// nanoseconds) of the latest bytes handed to the analyzer, or of the
	// inspection's start.
	flow *Flow
	fed  int64
	// seat is what the inspection counts against: its client's bucket
	// in Engine.hosts, and whether it is one of Engine.linkWide.
	seat
	// wake is when the analyzer asked to be woken (Flow.WakeAt), in Unix
	// nanoseconds of capture time; 0: not.
	wake int64
	// handedOn: the analyzer was handed the inspection during the
	// previous one's Feed (Flow.StartWebSocket), and is still to be fed
	// what that one left unconsumed.
	handedOn bool
}

// holdsBuffer reports whether the inspection holds a stream buffer.
func (in *inspection) holdsBuffer() bool {
	return in.half[0].buf|in.half[1].buf|in.held[0].buf|in.held[1].buf != 0
}

// ackMark is a sequence number (an acknowledgement number, a SYN's, the
// end of a hole), when one is known.
type ackMark struct {
	seq   uint32
	valid bool
}

// heldSegment is a run of TCP bytes (one segment, or several that touch)
// kept in a stream buffer until the bytes before it come.
type heldSegment struct {
	seq uint32
	n   uint32 // bytes held; 0 for none
	buf int32  // the pool's buffer number
}

// halfStream is what the analyzer has not consumed yet of one direction
// of a TCP stream.
type halfStream struct {
	pending uint32 // bytes at the start of the buffer
	buf     int32  // the pool's buffer number, 0 for none
}

// slotPool hands out numbered slots of T in chunks, so that a pointer to
// one stays valid while others are handed out (an analyzer's Feed may
// start TLS inspection, which takes an inspection). Numbers start at 1;
// 0 is none. The owner bounds how many are in use.
type slotPool[T any] struct {
	chunks [][]T
	shift  uint8 // a chunk holds 1<<shift slots
	limit  int32 // the most slots handed out at once; 0: no limit
	used   int32 // slots ever handed out
	free   []int32
}

// Chunk sizes: the flow table's large, as it fills at the busiest moment;
// the per-flow extras (inspections, IPv6 endpoints) small, as few flows
// need them.
const (
	flowChunkShift  = 10
	extraChunkShift = 6
)

// get returns a zeroed slot's number, never 0. The caller keeps the count
// within limit.
func (p *slotPool[T]) get() int32 {
	if n := len(p.free); n > 0 {
		id := p.free[n-1]
		p.free = p.free[:n-1]
		return id
	}
	if p.used>>p.shift == int32(len(p.chunks)) {
		size := int32(1) << p.shift
		if p.limit > 0 {
			size = min(size, p.limit-p.used)
		}
		p.chunks = append(p.chunks, make([]T, size))
	}
	p.used++
	return p.used
}

// inUse is the number of slots handed out and not given back.
func (p *slotPool[T]) inUse() int { return int(p.used) - len(p.free) }

func (p *slotPool[T]) at(id int32) *T {
	i := id - 1
	return &p.chunks[i>>p.shift][i&(1<<p.shift-1)]
}

// put zeroes slot id and takes it back.
func (p *slotPool[T]) put(id int32) {
	var zero T
	*p.at(id) = zero
	p.free = append(p.free, id)
}

// flowTable holds the flows: slots in a pool of chunks allocated as the
// table fills (so memory follows the busiest moment, never more than
// max flows), an open-addressing index of slot numbers, and an LRU list
// so that one of the least recently used flows is evicted when the table
// is full (victim) and idle flows expire from the tail.
//
// The index is a power-of-two array of slot numbers, at least twice the
// flow cap so probes stay short, with linear probing and backward-shift
// deletion; a Go map would store each 72-byte key a second time. The
// hash is seeded per table so that traffic cannot be shaped to collide.
type flowTable struct {
	slots   slotPool[Flow]
	ipv6    slotPool[ipv6Endpoints] // addresses of flows with an IPv6 endpoint
	buckets []int32                 // slot numbers; 0 is empty
	mask    uint32
	seed    maphash.Seed
	// lru are the TCP flows (0) and the others (1), each most recently
	// used first: their idle timeouts differ, and in one list an idle TCP
	// flow would keep every newer UDP flow (a DNS query each) from
	// expiring behind it.
	lru [2]lruList
	// last is the slot lookup found for lastKey (0 for none), and
	// lastClientIsA its orientation: packets come in runs of one flow (a
	// burst of segments, a transfer), and a hit skips hashing the key
	// and probing the index, whose buckets are seldom in cache. remove
	// clears it.
	last          int32
	lastKey       FlowKey
	lastClientIsA bool
}

// lruList is a doubly linked list of flows by slot number.
type lruList struct {
	head, tail int32 // most and least recently used; 0 when empty
}

// list is the LRU list f belongs to.
func (t *flowTable) list(f *Flow) *lruList {
	if f.Proto == IPProtocolTCP {
		return &t.lru[0]
	}
	return &t.lru[1]
}

func newFlowTable(max int) *flowTable {
	size := 1
	for size < 2*max {
		size <<= 1
	}
	return &flowTable{
		slots:   slotPool[Flow]{shift: flowChunkShift, limit: int32(max)},
		ipv6:    slotPool[ipv6Endpoints]{shift: extraChunkShift},
		buckets: make([]int32, size),
		mask:    uint32(size - 1),
		seed:    maphash.MakeSeed(),
	}
}

func (t *flowTable) len() int { return t.slots.inUse() }

func (t *flowTable) at(i int32) *Flow { return t.slots.at(i) }

func (t *flowTable) hash(k *FlowKey) uint32 {
	if k.A.Addr().Is4() && k.B.Addr().Is4() {
		// Most flows: hashing 13 bytes costs half of hashing 37.
		var b [2*6 + 1]byte
		a4, b4 := k.A.Addr().As4(), k.B.Addr().As4()
		copy(b[0:4], a4[:])
		binary.BigEndian.PutUint16(b[4:], k.A.Port())
		copy(b[6:10], b4[:])
		binary.BigEndian.PutUint16(b[10:], k.B.Port())
		b[12] = byte(k.Proto)
		return uint32(maphash.Bytes(t.seed, b[:]))
	}
	var b [2*18 + 1]byte
	a16, b16 := k.A.Addr().As16(), k.B.Addr().As16()
	copy(b[0:16], a16[:])
	binary.BigEndian.PutUint16(b[16:], k.A.Port())
	copy(b[18:34], b16[:])
	binary.BigEndian.PutUint16(b[34:], k.B.Port())
	b[36] = byte(k.Proto)
	return uint32(maphash.Bytes(t.seed, b[:]))
}

// find returns the bucket that holds k, or the empty bucket where it
// would go, k's slot or 0, and whether k.A is the flow's client.
func (t *flowTable) find(k *FlowKey, h uint32) (bucket uint32, slot int32, clientIsA bool) {
	for b := h & t.mask; ; b = (b + 1) & t.mask {
		s := t.buckets[b]
		if s == 0 {
			return b, 0, false
		}
		if f := t.at(s); f.hash == h {
			if ok, clientIsA := f.match(k); ok {
				return b, s, clientIsA
			}
		}
	}
}

// lookup returns k's flow, or nil, and whether k.A is its client. The
// key, too large for registers, is passed by pointer here and below: a
// copy read back right after the packet's key was written stalls.
func (t *flowTable) lookup(k *FlowKey) (f *Flow, clientIsA bool) {
	if t.last != 0 && *k == t.lastKey {
		t.touch(t.last)
		return t.at(t.last), t.lastClientIsA
	}
	_, i, clientIsA := t.find(k, t.hash(k))
	if i == 0 {
		return nil, false
	}
	t.last, t.lastKey, t.lastClientIsA = i, *k, clientIsA
	t.touch(i)
	return t.at(i), clientIsA
}

// insert takes a free slot for e's flow from client to server, which must
// not be in the table; the caller must have evicted if the table is full.
func (t *flowTable) insert(e *Engine, client, server netip.AddrPort, proto IPProtocol) *Flow {
	k := makeKey(client, server, proto)
	i := t.slots.get()
	h := t.hash(&k)
	b, _, _ := t.find(&k, h)
	t.buckets[b] = i
	f := t.at(i)
	f.engine = e
	f.setEndpoints(t, client, server)
	f.Proto, f.hash = proto, h
	f.set(flagInUse)
	t.pushFront(i)
	return f
}

// pushFront puts the unlinked flow of slot i first in its list.
func (t *flowTable) pushFront(i int32) {
	l := t.list(t.at(i))
	t.at(i).next = l.head
	if l.head != 0 {
		t.at(l.head).prev = i
	}
	l.head = i
	if l.tail == 0 {
		l.tail = i
	}
}

func (t *flowTable) full() bool { return t.len() >= int(t.slots.limit) }

// oldest returns the least recently used flow of either list, or nil.
func (t *flowTable) oldest() *Flow {
	a, b := t.oldestOf(0), t.oldestOf(1)
	switch {
	case a == nil:
		return b
	case b == nil || a.last <= b.last:
		return a
	}
	return b
}

// evictScan is how many flows at the tail of each LRU list a full table
// weighs for eviction: few enough that a flood's every new flow costs
// little, enough to pass over the flows being inspected at the tail.
const evictScan = 8

// victim returns the flow a full table evicts: among the evictScan least
// recently used flows of each list, a half-open TCP flow (a SYN nobody
// answered, which a scanning device leaves by the thousand) before a flow
// without inspection, before one being inspected, the least recently
// used first within each kind. A SYN sweep then does not push out the
// login it overlaps.
func (t *flowTable) victim() *Flow {
	var best *Flow
	bestRank := 3
	for l := range t.lru {
		for i, n := t.lru[l].tail, 0; i != 0 && n < evictScan; i, n = t.at(i).prev, n+1 {
			f := t.at(i)
			if r := f.evictRank(); r < bestRank || r == bestRank && f.last < best.last {
				best, bestRank = f, r
			}
			if bestRank == 0 {
				return best // the oldest of its list; the other list has none
			}
		}
	}
	return best
}

// evictRank orders flows for eviction, the first to go lowest: 0 for a
// half-open TCP flow (no answer, no bytes), 1 without inspection, 2 with.
func (f *Flow) evictRank() int {
	switch {
	case f.IsTCP() && !f.has(flagSynced<<ToClient) && f.Bytes == [2]uint32{}:
		return 0
	case f.insp == 0:
		return 1
	}
	return 2
}

// oldestOf returns the least recently used flow of list l (0: TCP, 1:
// the others), or nil.
func (t *flowTable) oldestOf(l int) *Flow {
	if t.lru[l].tail == 0 {
		return nil
	}
	return t.at(t.lru[l].tail)
}

func (t *flowTable) unlink(i int32) {
	f := t.at(i)
	l := t.list(f)
	if f.prev != 0 {
		t.at(f.prev).next = f.next
	} else {
		l.head = f.next
	}
	if f.next != 0 {
		t.at(f.next).prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = 0, 0
}

// touchOldest moves the least recently used flow of list l to the front.
func (t *flowTable) touchOldest(l int) { t.touch(t.lru[l].tail) }

func (t *flowTable) touch(i int32) {
	if t.list(t.at(i)).head == i {
		return
	}
	t.unlink(i)
	t.pushFront(i)
}

// remove frees f's slot. The caller has closed its analyzer.
func (t *flowTable) remove(f *Flow) {
	if !f.has(flagInUse) {
		return
	}
	k := f.Key()
	b, i, _ := t.find(&k, f.hash)
	if i == 0 || t.at(i) != f {
		return
	}
	if i == t.last {
		t.last = 0
	}
	t.unlink(i)
	t.deleteBucket(b)
	if f.has(flagIPv6) {
		t.ipv6.put(f.ipv6ID())
	}
	t.slots.put(i)
}

// deleteBucket empties bucket b and moves later entries of its probe run
// back, so that every entry stays reachable from its home bucket.
func (t *flowTable) deleteBucket(b uint32) {
	for j := (b + 1) & t.mask; ; j = (j + 1) & t.mask {
		s := t.buckets[j]
		if s == 0 {
			break
		}
		home := t.at(s).hash & t.mask
		// The entry at j may move to b unless its home lies cyclically
		// in (b, j].
		if (j-home)&t.mask >= (j-b)&t.mask {
			t.buckets[b] = s
			b = j
		}
	}
	t.buckets[b] = 0
}

// each calls fn for every flow in use: the TCP flows, then the others,
// each most recent first.
func (t *flowTable) each(fn func(*Flow)) {
	for l := range t.lru {
		for i := t.lru[l].head; i != 0; {
			next := t.at(i).next
			fn(t.at(i))
			i = next
		}
	}
}

// bufferPool hands out fixed-size stream buffers up to a hard count, so
// that pending stream bytes cost at most max*size bytes however many flows
// there are. A flow holds a buffer by number, not by slice, which keeps
// the flow slot small. Free buffers are all zero: stream bytes may be
// half a password, and must not outlive the flow that sent them.
type bufferPool struct {
	size, max int
	bufs      [][]byte // buffer n is bufs[n-1]
	// owner is the host bucket each buffer was taken for: a buffer may
	// go back after its inspection is gone (a held segment being
	// delivered), and its host's count must drop all the same.
	owner     []uint16
	free      []int32
	exhausted uint64
}

// A host bucket fits a buffer's owner.
const _ uint16 = hostBuckets - 1

func newBufferPool(size, max int) bufferPool {
	return bufferPool{size: size, max: max, bufs: make([][]byte, 0, max), owner: make([]uint16, 0, max), free: make([]int32, 0, max)}
}

// get returns a buffer's number, taken for the host bucket host, or 0
// when all max are in use.
func (p *bufferPool) get(host uint32) int32 {
	if n := len(p.free); n > 0 {
		id := p.free[n-1]
		p.free = p.free[:n-1]
		p.owner[id-1] = uint16(host)
		return id
	}
	if len(p.bufs) >= p.max {
		p.exhausted++
		return 0
	}
	p.bufs = append(p.bufs, make([]byte, p.size))
	p.owner = append(p.owner, uint16(host))
	return int32(len(p.bufs))
}

// put gives buffer id back after clearing its first used bytes, the only
// ones its holder left non-zero, so a free buffer keeps no stream bytes
// and the per-packet cost is what was written, not the buffer size. It
// returns the host bucket the buffer was taken for.
func (p *bufferPool) put(id int32, used int) (host uint32) {
	clear(p.bufs[id-1][:used])
	p.free = append(p.free, id)
	return uint32(p.owner[id-1])
}

// bytes is buffer id's memory, its full size.
func (p *bufferPool) bytes(id int32) []byte { return p.bufs[id-1] }
