package inspect

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"math"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Sink receives the events analyzers report. Emit must not keep ev's
// Evidence map beyond the call unless it owns it (the engine never reuses
// an emitted event).
type Sink interface {
	Emit(ev *event.Event)
}

// PacketObserver sees every decoded packet before flow handling (device
// inventory, SYN fingerprints). It must not allocate for known devices and
// must not keep p.
type PacketObserver interface {
	ObservePacket(p *Packet)
}

// Config bounds the engine's memory and sets what counts as the LAN.
type Config struct {
	MaxFlows     int           // flow table entries; beyond, one of the least recently used is evicted (flowTable.victim)
	MaxInspected int           // flows with an analyzer at once, a share of them per host (hostShareDiv) and a part for link-wide ones (linkWideShareDiv); beyond, new flows are only counted
	ByteBudget   int           // payload bytes inspected per flow direction
	StreamBuffer int           // bytes of one pending-stream buffer
	MaxBuffers   int           // pending-stream buffers in all, a share of them per host (hostShareDiv)
	TCPIdle      time.Duration // a TCP flow idle this long is expired
	UDPIdle      time.Duration // a UDP flow idle this long is expired
	LAN          []netip.Prefix
	// HashKey keys the hashes of captured secrets, so a hash can tell the
	// owner "the same password as on that other device" without being a
	// dictionary lookup away from the password. Empty: a random key.
	HashKey []byte
}

// DefaultConfig suits a home router: about 10 MB of flow state at most.
func DefaultConfig() Config {
	return Config{
		MaxFlows:     32768,
		MaxInspected: 1024,
		ByteBudget:   16 << 10,
		StreamBuffer: 4 << 10,
		MaxBuffers:   1024,
		TCPIdle:      10 * time.Minute,
		UDPIdle:      time.Minute,
		LAN:          DefaultLAN(),
	}
}

// DefaultLAN is the private, unique-local and link-local address space.
func DefaultLAN() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("fc00::/7"),
		netip.MustParsePrefix("fe80::/10"),
	}
}

// MaxFlowsLimit is the largest flow table: slot numbers are int32 and the
// index has twice as many buckets, which must fit an int on 32-bit
// routers.
const MaxFlowsLimit = 4 << 20

// MaxByteBudget is the largest per-direction byte budget. Past a megabyte
// a connection is carrying content, not logins; the bound also keeps the
// flow's uint32 counters far from wrapping.
const MaxByteBudget = 1 << 20

// Validate reports the first unusable setting.
func (c *Config) Validate() error {
	switch {
	case c.MaxFlows < 16 || c.MaxFlows > MaxFlowsLimit:
		return fmt.Errorf("max_flows %d: want 16 to %d", c.MaxFlows, MaxFlowsLimit)
	case c.MaxInspected < 1:
		return fmt.Errorf("max_inspected %d: want at least 1", c.MaxInspected)
	case c.ByteBudget < 256 || c.ByteBudget > MaxByteBudget:
		return fmt.Errorf("byte_budget %d: want 256 to %d", c.ByteBudget, MaxByteBudget)
	case c.StreamBuffer < 512 || c.StreamBuffer > 1<<20:
		return fmt.Errorf("stream_buffer %d: want 512 to 1048576", c.StreamBuffer)
	case c.MaxBuffers < 1:
		return fmt.Errorf("max_buffers %d: want at least 1", c.MaxBuffers)
	case c.TCPIdle <= 0 || c.UDPIdle <= 0:
		return errors.New("idle timeouts must be positive")
	}
	return nil
}

// EngineStats counts what the engine did. Fields only grow.
type EngineStats struct {
	Packets      uint64
	FlowsCreated uint64
	FlowsEvicted uint64 // pushed out by a full table
	FlowsExpired uint64 // idle timeout
	BudgetStops  uint64 // flow directions whose byte budget ran out
	Gaps         uint64 // TCP bytes missing (loss, reordering, full buffer)
	Reordered    uint64 // TCP segments held until the bytes before them came
	OutOfWindow  uint64 // TCP segments further ahead than any window, no ACK showing loss, and RSTs far from the stream's place: dropped
	BufferFull   uint64 // no pending-stream buffer was free
	HostBuffers  uint64 // no pending-stream buffer given, with buffers free, because the client's host held its share of them
	Unidentified uint64 // flows no protocol claimed
	InspectLimit uint64 // deliveries not inspected because MaxInspected were busy (the flow is tried again)
	HostLimit    uint64 // deliveries not inspected, with inspections free, because the client's host held its share (the flow is tried again)
	// LinkWideLimit counts deliveries of link-wide flows not inspected,
	// with inspections free and the host within its share, because
	// link-wide flows held their part of the pool (linkWideShareDiv; the
	// flow is tried again).
	LinkWideLimit uint64
	// Flows refused an inspection, each counted once, for the first
	// reason: every inspection busy, the client's host at its share, or
	// link-wide flows at their part. Their logins (or, for link-wide
	// ones, their devices' announcements) may go unread; a refused
	// download's every segment counts in InspectLimit or HostLimit, but
	// it is one connection.
	FlowsRefusedBusy     uint64
	FlowsRefusedShare    uint64
	FlowsRefusedLinkWide uint64
	Reclaimed            uint64 // inspections taken, for a new flow or a stream buffer, from flows idle or joined without a handshake (reclaim)
	Panics               uint64 // panics survived (Options.OnPanic)
	CutDatagrams         uint64 // UDP datagrams the capture cut short (Packet.CutDatagram): not inspected
	EventsEmitted        uint64
	LoginsReported       uint64
	// WebSockets counts flows an HTTP upgrade handed to a WebSocket
	// subprotocol's analyzer (Flow.StartWebSocket); WebSocketCompressed
	// those of them whose inspection stopped at a compressed frame
	// (permessage-deflate), which is not read.
	WebSockets          uint64
	WebSocketCompressed uint64
}

// Engine runs packets through the flow table and the analyzers. It is not
// safe for concurrent use: one engine per capture goroutine.
type Engine struct {
	cfg        Config
	lan        lanPrefixes
	onLink     onLink
	table      *flowTable
	bufs       bufferPool
	insps      slotPool[inspection]
	protocols  []Protocol
	observers  []FlowObserver
	identified []FlowIdentifiedObserver
	cleartext  []CleartextObserver
	classifier Classifier
	sink       Sink
	packetObs  PacketObserver
	router     func(hwaddr.MAC, netip.Addr) bool
	routerMAC  func(hwaddr.MAC) bool
	secretMAC  hash.Hash // HMAC-SHA-256 under the secret-hash key, reset per use
	secretSum  []byte    // secretMAC's last sum
	names      addrNames
	servers    serverNames

	reopens [reopenSlots]reopenMark
	// wakes are the inspections whose analyzers asked to be woken
	// (Flow.WakeAt), one entry each, and due the earliest time asked
	// for (0: none); dueWakes is wakeDue's scratch.
	wakes    []wake
	dueWakes []wake
	nextWake int64
	pap      [maxPAP]papPending
	papNext  uint8
	verdicts map[[32]byte]verdict
	now      time.Time
	source   string
	packetNo int64
	Stats    EngineStats

	// Events built before, by what they follow from: a repeat is a copy
	// (see eventMemo).
	logins    eventMemo[loginEventKey]
	greetings eventMemo[greetingKey]

	// webSockets are the frame readers of flows turned into WebSocket
	// (Flow.StartWebSocket), and wsPayload the scratch their analyzers
	// are fed unmasked payload from.
	webSockets FreeList[webSocketAnalyzer]
	wsPayload  [wsChunk]byte

	onPanic func(Panic)
	// busy is the flow whose analyzer or observers the engine is running,
	// and closing says that flow is being closed: what a panic abandons.
	busy    *Flow
	closing bool
	// delivering is a held segment detached for delivery, which a panic
	// in the analyzer must not leak.
	delivering heldSegment
	// speaking is, while handleTCP handles the segment that carries a
	// client's first byte (firstWords), its acknowledgement number, for
	// the gaps told before the flow's inspection keeps it (heard).
	speaking ackMark

	// hand is the inspection the sweep for idle ones weighed last
	// (reclaim).
	hand      int32
	hostShare uint32 // inspections a host may hold
	bufShare  uint32 // stream buffers a host may hold
	// linkWide counts the inspections of link-wide flows, which may
	// hold linkWideShare together (linkWideShareDiv).
	linkWide      uint32
	linkWideShare uint32
	// hosts counts the inspections and stream buffers held per client
	// host (hostOf). Last with flows, so that their 32 and 22 KiB do not
	// come between the fields every packet reads.
	hosts [hostBuckets]hostCount
	flows flowTexts
}

// hostCount is what one bucket of client hosts holds.
type hostCount struct {
	insps, bufs uint32
}

// Options wires an engine to its collaborators.
type Options struct {
	Protocols  []Protocol // in priority order; ties go to the earlier one
	Classifier Classifier // nil: every cleartext password is "unique"
	Sink       Sink
	Packets    PacketObserver // optional
	// Router, when set, says whether a client is the router itself: its
	// MAC and one of its addresses. Connections the router opens to
	// devices (its active audit, which reports its findings itself) are
	// not inspected, so that the audit's failed tries of default
	// passwords are not filed as the devices' logins. The MAC alone
	// would not do: every frame routed in from the internet carries the
	// router's MAC on the LAN. Called on the goroutine that handles
	// packets.
	Router func(mac hwaddr.MAC, addr netip.Addr) bool
	// RouterMAC, when set, says whether mac is one of the router's own. A
	// frame from it that is not the router's own (Router false) was
	// routed: its MAC is not the sender's, so it does not name the flow's
	// endpoint (a packet routed between two captured bridges is seen with
	// both MACs). Called on the goroutine that handles packets.
	RouterMAC func(mac hwaddr.MAC) bool
	// OnPanic, when set, makes the engine survive a panic of an analyzer
	// (or of anything it runs for a packet): the flow at hand is no
	// longer inspected, its analyzer is dropped without another call, and
	// OnPanic hears of it. One device's bytes must not stop a router's
	// inspection. Tests and fuzzing leave it nil, so that a panic fails
	// them.
	OnPanic func(Panic)
}

// Panic is a panic the engine survived, for Options.OnPanic. It holds no
// packet bytes, so it may be logged: Reason is a runtime error's text
// (indices, lengths, types) or else only the panic value's type.
type Panic struct {
	Protocol string // the analysing protocol; "packet" when none was
	Reason   string
	Stack    []byte // functions and file:line of the panicking goroutine, no arguments
	N        uint64 // panics survived so far, this one included
}

// NewEngine builds an engine; cfg is validated.
func NewEngine(cfg Config, opt Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if opt.Sink == nil {
		return nil, errors.New("inspect: no event sink")
	}
	if len(opt.Protocols) > maxProtocols {
		return nil, fmt.Errorf("inspect: %d protocols, at most %d", len(opt.Protocols), maxProtocols)
	}
	key := cfg.HashKey
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("inspect: hash key: %w", err)
		}
	}
	e := &Engine{
		cfg:           cfg,
		lan:           newLANPrefixes(cfg.LAN),
		table:         newFlowTable(cfg.MaxFlows),
		insps:         slotPool[inspection]{shift: extraChunkShift},
		bufs:          newBufferPool(cfg.StreamBuffer, cfg.MaxBuffers),
		hostShare:     uint32(max(1, cfg.MaxInspected/hostShareDiv)),
		bufShare:      uint32(max(2, cfg.MaxBuffers/hostShareDiv)),
		linkWideShare: uint32(max(1, cfg.MaxInspected/linkWideShareDiv)),
		protocols:     opt.Protocols,
		classifier:    opt.Classifier,
		sink:          opt.Sink,
		packetObs:     opt.Packets,
		router:        opt.Router,
		routerMAC:     opt.RouterMAC,
		onPanic:       opt.OnPanic,
		secretMAC:     hmac.New(sha256.New, key),
		verdicts:      make(map[[32]byte]verdict),
		logins:        make(eventMemo[loginEventKey]),
		greetings:     make(eventMemo[greetingKey]),
	}
	for _, p := range opt.Protocols {
		if o, ok := p.(FlowObserver); ok {
			e.observers = append(e.observers, o)
		}
		if o, ok := p.(FlowIdentifiedObserver); ok {
			e.identified = append(e.identified, o)
		}
		if o, ok := p.(CleartextObserver); ok {
			e.cleartext = append(e.cleartext, o)
		}
	}
	return e, nil
}

// SetSource names the capture that following packets come from and resets
// the packet counter used in event provenance.
func (e *Engine) SetSource(name string) {
	e.source = name
	e.packetNo = 0
}

// Now is the capture time of the packet being handled.
func (e *Engine) Now() time.Time { return e.now }

// IsLocal reports whether a belongs to the LAN: inside the configured
// prefixes or those on the LAN (SetOnLink, router advertisements), or an
// address that never leaves the link (unspecified, as a
// DHCP client's source; broadcast; multicast).
func (e *Engine) IsLocal(a netip.Addr) bool {
	a = a.Unmap()
	if a.IsUnspecified() || a.IsMulticast() || a == limitedBroadcast {
		return true
	}
	return e.lan.contains(a) || e.onLink.all.contains(a)
}

// lanPrefixes are the configured LAN prefixes, the IPv4 ones as masked
// numbers: every packet asks about its source, and a mask and a compare
// cost less than netip.Prefix.Contains.
type lanPrefixes struct {
	v4 []prefix4
	v6 []netip.Prefix
}

type prefix4 struct{ net, mask uint32 }

func newLANPrefixes(prefixes []netip.Prefix) lanPrefixes {
	var l lanPrefixes
	for _, p := range prefixes {
		switch {
		case !p.IsValid():
		case p.Addr().Is4():
			a := p.Addr().As4()
			mask := ^uint32(0) << (32 - p.Bits()) // 0 for a /0
			l.v4 = append(l.v4, prefix4{net: binary.BigEndian.Uint32(a[:]) & mask, mask: mask})
		default:
			l.v6 = append(l.v6, p)
		}
	}
	return l
}

// contains reports whether a prefix holds a, which is unmapped.
func (l *lanPrefixes) contains(a netip.Addr) bool {
	if a.Is4() {
		v := a.As4()
		n := binary.BigEndian.Uint32(v[:])
		for _, p := range l.v4 {
			if n&p.mask == p.net {
				return true
			}
		}
		return false
	}
	for _, p := range l.v6 {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// linkWide reports whether f is a conversation of the whole link: to a
// broadcast or multicast address, or from a client without an address
// yet (DHCP).
func (f *Flow) linkWide() bool {
	return f.ToGroup() || f.Client().Addr().Unmap().IsUnspecified()
}

// ToGroup reports whether the flow's server address reaches a group of
// hosts rather than one: a multicast address, the limited broadcast, or
// the directed broadcast of a LAN prefix the engine knows (a configured
// one or a LAN interface's). What a device sends there is discovery, no
// conversation with another device.
func (f *Flow) ToGroup() bool {
	s := f.Server().Addr().Unmap()
	if s.IsMulticast() || s == limitedBroadcast {
		return true
	}
	if !s.Is4() {
		return false
	}
	v := s.As4()
	n := binary.BigEndian.Uint32(v[:])
	for _, p := range f.engine.lan.v4 {
		if n&p.mask == p.net && ^p.mask > 1 && n|p.mask == ^uint32(0) {
			return true
		}
	}
	return slices.Contains(f.engine.onLink.broadcasts, n)
}

// Flows is the number of flows in the table.
func (e *Engine) Flows() int { return e.table.len() }

// HandlePacket runs one decoded packet through the flow table and the
// analyzers. p is borrowed for the duration of the call.
func (e *Engine) HandlePacket(p *Packet) {
	if e.onPanic != nil {
		defer e.survive()
	}
	e.busy = nil
	e.now = p.Timestamp
	e.packetNo++
	e.Stats.Packets++
	if e.packetObs != nil {
		e.packetObs.ObservePacket(p)
	}
	if p.Kind == KindPAP {
		e.handlePAP(p)
		return
	}
	if p.Kind == KindIP && p.IPProto == IPProtocolICMPv6 {
		e.routerAdvert(p)
	}
	if (p.Kind != KindTCP && p.Kind != KindUDP) || p.Fragment {
		return
	}
	e.expire()
	if e.onLink.placeDue {
		e.placeFlowsDue()
	}
	if e.nextWake != 0 && e.now.UnixNano() >= e.nextWake {
		e.wakeDue()
	}
	src, dst := netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort)
	// Built in place: makeKey's result, inlined, is copied, and the copy
	// stalls on the stores that just wrote it.
	key := FlowKey{A: src, B: dst, Proto: p.IPProto}
	key.orient()
	f, clientIsA := e.table.lookup(&key)
	isNew := f == nil
	dir := ToServer
	if isNew {
		// A flow starts with a SYN or with data (capture started mid-flow);
		// bare ACKs and RSTs of flows already gone do not resurrect them.
		if p.Kind == KindTCP && p.TCPFlags&TCPFlagSYN == 0 && len(p.Payload) == 0 {
			return
		}
		f = e.newFlow(p)
		if !f.isClient(src) {
			dir = ToClient
		}
	} else if srcIsA := key.A == src; clientIsA != srcIsA {
		dir = ToClient
	}
	if !isNew && dir == ToClient {
		if isn, ok := e.reopened(f, p); ok {
			// The server took a client's SYN for a new connection on
			// the ports of this one: a new flow, its client side from
			// that SYN.
			e.closeFlow(f)
			f, isNew = e.newFlow(p), true
			f.nextSeq[ToServer] = isn + 1
			f.set(flagSynced | flagOpened)
		}
	}
	e.busy = f
	f.last = p.Timestamp.UnixNano()
	if f.Packets[dir] != math.MaxUint32 {
		f.Packets[dir]++
	}
	if b := uint64(f.Bytes[dir]) + uint64(len(p.Payload)); b < math.MaxUint32 {
		f.Bytes[dir] = uint32(b)
	} else {
		f.Bytes[dir] = math.MaxUint32
	}
	if p.HasMAC {
		var mac *hwaddr.MAC
		if dir == ToServer && f.ClientLocal {
			mac = &f.ClientMAC
		} else if dir == ToClient && f.ServerLocal {
			mac = &f.ServerMAC
		}
		// A routed copy keeps what the sender's copy taught.
		if mac != nil && *mac != p.SrcMAC && !e.routed(p) {
			*mac = p.SrcMAC
		}
	}
	if isNew && !f.has(flagRouter) {
		for _, o := range e.observers {
			o.FlowStarted(f)
		}
	}
	if p.Kind == KindTCP {
		e.handleTCP(f, dir, p)
		return
	}
	if dir == ToServer && len(p.Payload) > 0 && f.has(flagAwaitClient) {
		f.flags &^= flagAwaitClient
		e.flowIdentified(f)
	}
	switch {
	case len(p.Payload) == 0 || f.has(flagStopped):
	case p.CutDatagram:
		// Not read, but its flow is still identified: its protocol's
		// use counts, as a cut datagram's front names it.
		e.Stats.CutDatagrams++
		e.identifyOnce(f, dir, p.Payload)
	default:
		e.deliver(f, dir, p.Payload)
	}
}

// flowIdentified tells the FlowIdentifiedObservers that f's protocol is
// known and its client has sent on it.
func (e *Engine) flowIdentified(f *Flow) {
	for _, o := range e.identified {
		o.FlowIdentified(f)
	}
}

// routed says whether p came with the router's MAC but not from the
// router: its source MAC is not the sender's.
func (e *Engine) routed(p *Packet) bool {
	return e.routerMAC != nil && e.routerMAC(p.SrcMAC) && (e.router == nil || !e.router(p.SrcMAC, p.Src.Unmap()))
}

func (e *Engine) newFlow(p *Packet) *Flow {
	if e.table.full() {
		e.closeFlow(e.table.victim())
		e.Stats.FlowsEvicted++
	}
	src := netip.AddrPortFrom(p.Src, p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst, p.DstPort)
	clientMAC := p.SrcMAC
	if senderIsServer(p) {
		src, dst = dst, src
		clientMAC = p.DstMAC
	}
	f := e.table.insert(e, src, dst, p.IPProto)
	if p.HasMAC && e.router != nil && e.router(clientMAC, src.Addr().Unmap()) {
		f.set(flagRouter | flagStopped)
	}
	f.first = p.Timestamp.UnixNano()
	f.last = f.first
	f.ClientLocal, f.ServerLocal = e.IsLocal(src.Addr()), e.IsLocal(dst.Addr())
	e.Stats.FlowsCreated++
	return f
}

// senderIsServer orients a new flow from its first packet: the sender of a
// bare SYN is the client; otherwise the side on a service port is the
// server.
func senderIsServer(p *Packet) bool {
	if p.Kind == KindTCP && p.TCPFlags&TCPFlagSYN != 0 {
		return p.TCPFlags&TCPFlagACK != 0
	}
	srcSvc, dstSvc := isServicePort(p.SrcPort), isServicePort(p.DstPort)
	if srcSvc != dstSvc {
		return srcSvc
	}
	return p.SrcPort < p.DstPort
}

// isServicePort is true for well-known ports and the registered ports IoT
// services commonly listen on.
func isServicePort(port uint16) bool {
	if port < 1024 {
		return true
	}
	switch port {
	case 1883, 8883, 1900, 2323, 3702, 5060, 5061, 5353, 5683, 8000, 8008, 8080, 8081, 8443, 8554, 8888, 9000, 10554, 49152:
		return true
	}
	return false
}

// reopenSlots is how many clients' SYNs for a new connection on the
// ports of a flow without an inspection the engine remembers at once
// (noteReopen). A SYN-ACK follows its SYN within a round trip, so a few
// suffice; a flow's place is chosen by its key's hash, so the lookup
// costs nothing.
const reopenSlots = 64

// reopenMark is a client's SYN for another sequence number on the ports
// of the flow whose key hashes to hash.
type reopenMark struct {
	hash, isn uint32
	valid     bool
}

// noteReopen remembers a client's SYN for another sequence number on the
// ports of f: a new connection if the server's SYN-ACK takes it
// (reopened). An inspected flow keeps it in its inspection, where no
// other flow's SYN can displace it; the ports of a flow without one (an
// unanswered SYN, a flow whose inspection stopped) are reused too, and
// its mark goes to a small table beside the flow table, best effort, as
// does an inspection's when the inspection ends before its flow
// (releaseInspection).
func (e *Engine) noteReopen(f *Flow, isn uint32) {
	if in := f.inspection(); in != nil {
		in.reopen = ackMark{seq: isn, valid: true}
		return
	}
	e.reopens[f.hash%reopenSlots] = reopenMark{hash: f.hash, isn: isn, valid: true}
}

// reopened reports whether p, a SYN-ACK from f's server, takes the SYN
// for a new connection noteReopen saw, and returns that SYN's number.
func (e *Engine) reopened(f *Flow, p *Packet) (uint32, bool) {
	if p.Kind != KindTCP || p.TCPFlags&(TCPFlagSYN|TCPFlagACK) != TCPFlagSYN|TCPFlagACK {
		return 0, false
	}
	if in := f.inspection(); in != nil && in.reopen.valid {
		return in.reopen.seq, p.Ack == in.reopen.seq+1
	}
	m := e.reopens[f.hash%reopenSlots]
	if !m.valid || m.hash != f.hash {
		return 0, false
	}
	return m.isn, p.Ack == m.isn+1
}

// forgetReopen drops what noteReopen remembered of f, which is closing.
func (e *Engine) forgetReopen(f *Flow) {
	if m := &e.reopens[f.hash%reopenSlots]; m.hash == f.hash {
		*m = reopenMark{}
	}
}

func (e *Engine) handleTCP(f *Flow, dir Dir, p *Packet) {
	flags := p.TCPFlags
	seq, data := p.Seq, p.Payload
	if firstWords(f, dir, p) {
		e.speaking = ackMark{seq: p.Ack, valid: true}
		defer e.heard(f)
	}
	if flags&TCPFlagACK != 0 {
		e.peerAcked(f, 1-dir, p.Ack)
	}
	if flags&TCPFlagSYN != 0 {
		data = nil // a SYN's data is read only on the SYN that opens its direction
		switch {
		case !f.has(flagSynced << dir):
			f.nextSeq[dir] = p.Seq + 1
			f.set(flagSynced << dir)
			if (dir == ToServer) == (flags&TCPFlagACK == 0) {
				f.set(flagOpened << dir)
			}
			if f.Bytes[dir] == uint32(len(p.Payload)) {
				data, seq = p.Payload, p.Seq+1 // TCP Fast Open
			}
		case p.Seq+1 != f.nextSeq[dir] && dir == ToServer:
			// Another SYN for a place already set is not the stream's:
			// the server answers it with a challenge ACK and keeps its
			// place (RFC 5961). Only the server's SYN-ACK for it makes it
			// a new connection on the same ports (HandlePacket).
			e.noteReopen(f, p.Seq)
		}
	}
	// A direction whose budget is spent is read no more: its bytes cost
	// nothing more than a stopped flow's (a long download's).
	if len(data) > 0 && !f.has(flagStopped) && !f.has(flagCut<<dir) {
		if !f.has(flagSynced << dir) {
			f.nextSeq[dir] = seq
			f.set(flagSynced << dir)
		}
		switch diff := int32(seq - f.nextSeq[dir]); {
		case diff < 0: // retransmission, maybe with new bytes at the end
			data, seq = trimFront(data, seq, f.nextSeq[dir])
		case diff > 0: // bytes before this segment are missing, or late
			switch {
			case !e.lossConfirmed(f, dir) && e.hold(f, dir, seq, data, diff):
				data = nil // delivered once the bytes before it come
			case diff > maxJump && f.has(flagSynced<<(1-dir)) && !e.lossConfirmed(f, dir):
				// Further ahead than any window, and no ACK says the
				// capture lost that much: not the stream's, and a forged
				// one would move its place past every real byte.
				e.Stats.OutOfWindow++
				data = nil
			default:
				e.Stats.Gaps++
				e.gapBefore(f, dir, seq)
				e.deliverHeldBefore(f, dir, seq)
				// The held segment may reach into this one.
				data, seq = trimFront(data, seq, f.nextSeq[dir])
			}
		}
		if len(data) > 0 {
			f.nextSeq[dir] = seq + uint32(len(data))
			e.deliver(f, dir, data)
			e.deliverHeld(f, dir)
		}
	}
	if flags&TCPFlagRST != 0 {
		if !e.resetInWindow(f, dir, p.Seq) {
			e.Stats.OutOfWindow++
			return
		}
		// Nothing comes after a reset: a hole still open is a gap. A FIN
		// leaves it open: the bytes before the FIN may still come, and
		// an ACK past them, a reset or the flow's end closes it.
		e.flushHeld(f, dir)
	}
	if flags&(TCPFlagRST|TCPFlagFIN) != 0 {
		lostTail(f, dir, p)
	}
	if flags&TCPFlagRST != 0 {
		e.closeFlow(f)
		return
	}
	if flags&TCPFlagFIN != 0 {
		f.set(flagFIN << dir)
		if f.has(flagFIN) && f.has(flagFIN<<ToClient) {
			e.closeFlow(f)
		}
	}
}

// firstWords reports whether p, sent in dir, carries the first byte the
// client sent on f, a connection seen from its start: its
// acknowledgement number says which server bytes the client had when it
// first spoke.
func firstWords(f *Flow, dir Dir, p *Packet) bool {
	return dir == ToServer && len(p.Payload) > 0 && p.TCPFlags&(TCPFlagSYN|TCPFlagACK) == TCPFlagACK &&
		f.Opened() && f.Bytes[ToServer] == uint32(len(p.Payload)) && p.Seq == f.nextSeq[ToServer]
}

// heard keeps in f's inspection, if it still has one, what the client
// had when it first spoke (speaking), for the gaps told after the
// segment that carried its first byte.
func (e *Engine) heard(f *Flow) {
	if in := f.inspection(); in != nil {
		in.heard = e.speaking
	}
	e.speaking = ackMark{}
}

// resetInWindow reports whether a RST sent in dir with sequence number
// seq may end f. A receiver takes a RST only at the next sequence number
// it expects and answers one elsewhere in its window with a challenge
// ACK (RFC 5961 3.2); the capture may have missed bytes the receiver
// has, so a RST within maxJump of the stream's place, or of the peer's
// ACK past it, counts. One further away is a blind forgery, which would
// end the flow's inspection with a single segment. Where the place is
// not known (the direction not seen, its budget spent or inspection
// stopped, so the place is no longer followed), a RST is taken.
func (e *Engine) resetInWindow(f *Flow, dir Dir, seq uint32) bool {
	if !f.has(flagSynced<<dir) || f.has(flagStopped) || f.has(flagCut<<dir) {
		return true
	}
	in := f.inspection()
	return near(seq, f.nextSeq[dir]) || in != nil && in.acked[dir].valid && near(seq, in.acked[dir].seq)
}

// near reports whether seq is within maxJump of place, either way.
func near(seq, place uint32) bool {
	d := int32(seq - place)
	return d >= -maxJump && d <= maxJump
}

// lostTail marks a direction whose end the analyzer did not read: a FIN
// or RST (p, sent in dir) is numbered after the bytes delivered in dir,
// or acknowledges bytes of the other direction that were never captured.
func lostTail(f *Flow, dir Dir, p *Packet) {
	if f.has(flagSynced << dir) {
		markLost(f, dir, p.Seq+uint32(len(p.Payload)))
	}
	if other := 1 - dir; p.TCPFlags&TCPFlagACK != 0 && f.has(flagSynced<<other) {
		markLost(f, other, p.Ack)
	}
}

// markLost marks d lost if seq is past the next sequence number expected
// in d. A FIN already seen takes one sequence number of its own.
func markLost(f *Flow, d Dir, seq uint32) {
	ahead := int32(seq - f.nextSeq[d])
	if f.has(flagFIN << d) {
		ahead--
	}
	if ahead > 0 {
		f.set(flagLost << d)
	}
}

// Reordering. A segment that comes before the bytes in front of it
// (swapped on the way, one of them retransmitted) is held, within
// maxHoldAhead, in a stream buffer of an inspected flow until they come;
// the segments that touch it join it in that one buffer per direction, up
// to its size. The hole becomes a gap when the peer's ACK shows the
// capture lost its bytes (the receiver had them), when a segment that
// cannot join the held ones comes (a second hole, a full buffer), or
// when the direction is reset or the flow ends; a FIN does not close
// it, since the bytes before the FIN may still come (its segment
// overtook them, or they are retransmitted). A segment
// further than maxJump ahead is not the stream's unless an ACK says the
// capture lost that much: a forged one would move the stream's place past
// every real byte.
const (
	maxHoldAhead = 64 << 10
	maxJump      = maxHoldAhead
	// maxWindow bounds how far ahead of the stream's place an ACK may
	// reach to count.
	maxWindow = 1 << 30
)

// trimFront cuts from data, which starts at seq, the bytes before next,
// the stream's place; it returns what is left and where that starts.
func trimFront(data []byte, seq, next uint32) ([]byte, uint32) {
	// Negate in 64 bits: a segment 2^31 behind is math.MinInt32 ahead.
	back := -int64(int32(seq - next))
	switch {
	case back <= 0:
		return data, seq
	case back >= int64(len(data)):
		return nil, next
	}
	return data[back:], next
}

// peerAcked records an ACK for the bytes of dir, and turns a hole in
// front of a held segment of dir into a gap once the ACK passes it.
func (e *Engine) peerAcked(f *Flow, dir Dir, ack uint32) {
	in := f.inspection()
	if in == nil || !f.has(flagSynced<<dir) {
		return
	}
	ahead := int32(ack - f.nextSeq[dir])
	if ahead <= 0 || ahead > maxWindow {
		return
	}
	if !in.acked[dir].valid || int32(ack-in.acked[dir].seq) > 0 {
		in.acked[dir] = ackMark{seq: ack, valid: true}
	}
	h := in.held[dir]
	switch {
	case h.n == 0:
	case int32(ack-h.seq) >= 0:
		e.flushHeld(f, dir)
	default:
		// The ACK ends short of the held segment: the bytes up to it are
		// lost, those after it may still come.
		e.Stats.Gaps++
		e.gapBefore(f, dir, ack)
		f.nextSeq[dir] = ack
	}
}

// lossConfirmed reports whether the peer acknowledged bytes of dir past
// the stream's place: bytes the capture lost, which will not come again.
func (e *Engine) lossConfirmed(f *Flow, dir Dir) bool {
	in := f.inspection()
	return in != nil && in.acked[dir].valid && int32(in.acked[dir].seq-f.nextSeq[dir]) > 0
}

// hold keeps a segment that came diff bytes ahead of f's place in dir,
// and reports whether it did, or whether it dropped the segment as a
// copy of bytes already held.
func (e *Engine) hold(f *Flow, dir Dir, seq uint32, data []byte, diff int32) bool {
	in := f.inspection()
	if in == nil {
		return false
	}
	h := &in.held[dir]
	if h.n > 0 {
		return e.holdMore(h, seq, data)
	}
	if diff > maxHoldAhead || len(data) > e.bufs.size {
		return false
	}
	id := e.getBuffer(f, in.seat)
	if id == 0 {
		return false
	}
	h.seq, h.n, h.buf = seq, uint32(copy(e.bufs.bytes(id), data)), id
	e.Stats.Reordered++
	return true
}

// holdMore joins a segment to the held bytes h when it touches or
// overlaps them, within the one buffer: after a loss, fast retransmit
// repairs the hole only after three or more segments past it came. A
// segment within the held bytes (a duplicate) is dropped. One that
// leaves a second hole, or does not fit, is not held.
func (e *Engine) holdMore(h *heldSegment, seq uint32, data []byte) bool {
	off := int64(int32(seq - h.seq)) // where data starts, from the held start
	n, end := int64(h.n), off+int64(len(data))
	lo, hi := min(off, 0), max(end, n)
	switch {
	case off > n || end < 0:
		return false
	case lo == 0 && hi == n:
		return true
	case hi-lo > int64(e.bufs.size):
		return false
	}
	buf := e.bufs.bytes(h.buf)
	if lo < 0 { // data starts before the held bytes: move them up
		copy(buf[-lo:], buf[:n])
		copy(buf, data[:-lo])
	}
	if end > n {
		copy(buf[n-lo:], data[n-off:])
	}
	h.seq, h.n = h.seq+uint32(lo), uint32(hi-lo)
	e.Stats.Reordered++
	return true
}

// deliverHeld hands on the segment held in dir once f's place reached it.
func (e *Engine) deliverHeld(f *Flow, dir Dir) {
	in := f.inspection()
	if in == nil {
		return
	}
	h := in.held[dir]
	if h.n == 0 || int32(h.seq-f.nextSeq[dir]) > 0 {
		return
	}
	// Detached: delivering may end the inspection. A panic in the
	// analyzer leaves it to survive to give back (e.delivering).
	in.held[dir] = heldSegment{}
	e.delivering = h
	if data, _ := trimFront(e.bufs.bytes(h.buf)[:h.n], h.seq, f.nextSeq[dir]); len(data) > 0 {
		f.nextSeq[dir] = h.seq + h.n
		e.deliver(f, dir, data)
	}
	e.dropHeld(&e.delivering)
}

// dropHeld gives a held segment's buffer back to the pool and forgets it.
func (e *Engine) dropHeld(h *heldSegment) {
	if h.n > 0 {
		e.putBuffer(h.buf, int(h.n))
	}
	*h = heldSegment{}
}

// flushHeld declares the hole in front of the segment held in dir a gap
// and hands the segment on: the bytes before it will not come (the peer
// acknowledged them, the flow was reset, the flow or the capture ends).
func (e *Engine) flushHeld(f *Flow, dir Dir) {
	in := f.inspection()
	if in == nil || in.held[dir].n == 0 {
		return
	}
	e.Stats.Gaps++
	e.gapBefore(f, dir, in.held[dir].seq)
	if in := f.inspection(); in != nil && in.held[dir].n > 0 {
		f.nextSeq[dir] = in.held[dir].seq
		e.deliverHeld(f, dir)
	}
}

// deliverHeldBefore hands on, after the gap just declared, the segment
// held in dir if it lies before seq, the segment that declared the gap.
func (e *Engine) deliverHeldBefore(f *Flow, dir Dir, seq uint32) {
	in := f.inspection()
	if in == nil || in.held[dir].n == 0 || int32(in.held[dir].seq-seq) >= 0 {
		return
	}
	f.nextSeq[dir] = in.held[dir].seq
	e.deliverHeld(f, dir)
	if in := f.inspection(); in != nil && int32(seq-f.nextSeq[dir]) > 0 {
		e.Stats.Gaps++
		e.gapBefore(f, dir, seq)
	}
}

// gap tells f's analyzer that bytes sent in dir were lost, where they
// end not known.
func (e *Engine) gap(f *Flow, dir Dir) { e.lose(f, dir, ackMark{}) }

// gapBefore is gap for lost bytes that end before end, the sequence
// number of the first byte after them (or a later one).
func (e *Engine) gapBefore(f *Flow, dir Dir, end uint32) {
	e.lose(f, dir, ackMark{seq: end, valid: true})
}

// lose is gap and gapBefore: end, when valid, is where the lost bytes
// end.
func (e *Engine) lose(f *Flow, dir Dir, end ackMark) {
	f.set(flagLost << dir)
	if !f.has(flagIdentified) {
		f.set(flagSkipped << dir) // the place moved past the hole
	}
	if f.has(flagStopped) {
		return
	}
	in := f.inspection()
	if in == nil {
		return
	}
	e.releaseBuffer(&in.half[dir])
	if dir == ToClient && e.beforeClientSpoke(f, in, end) {
		if g, ok := in.analyzer.(EarlyGapper); ok {
			g.EarlyGap(f)
			return
		}
	}
	in.analyzer.Gap(f, dir)
}

// beforeClientSpoke reports whether the server bytes lost from f's place
// up to end were all sent before the server had the client's first
// byte: the client had them when it sent that byte, on a connection seen
// from its start. A loss that may reach past them moves the place past
// them: it forgets what the client had, so that no later loss, however
// far the sequence numbers wrapped, is taken for one before it.
func (e *Engine) beforeClientSpoke(f *Flow, in *inspection, end ackMark) bool {
	heard := in.heard
	if e.speaking.valid {
		heard = e.speaking
	}
	place := f.nextSeq[ToClient]
	if end.valid && heard.valid && int32(heard.seq-place) >= 0 && end.seq-place <= heard.seq-place {
		return true
	}
	in.heard, e.speaking = ackMark{}, ackMark{}
	return false
}

// deliver hands stream bytes to the flow's analyzer, identifying the
// protocol on first data and enforcing the byte budget.
func (e *Engine) deliver(f *Flow, dir Dir, data []byte) {
	e.identifyOnce(f, dir, data)
	in := f.inspection()
	if in == nil {
		return
	}
	in.fed = f.last
	if !f.IsTCP() {
		// The budget bounds work on connections; UDP analyzers read
		// small, separate datagrams, and broadcast conversations (every
		// DHCP client's 0.0.0.0:68 → 255.255.255.255:67, a device's mDNS)
		// share one long-lived flow that must stay inspected.
		in.analyzer.Feed(f, dir, data)
		return
	}
	left := e.cfg.ByteBudget - int(in.inspected[dir])
	spent := len(data) > left
	if spent {
		data = data[:left]
	}
	if len(data) > 0 {
		in.inspected[dir] += uint32(len(data))
		a := in.analyzer
		e.feedStream(f, in, dir, data)
		if f.analyzer() != a {
			return // stopped, or upgraded to TLS with a budget of its own
		}
	}
	if spent {
		e.cut(f, dir)
	}
}

// identifyOnce identifies f's protocol on its first data, which a cut
// datagram's front still shows, and tells the observers.
func (e *Engine) identifyOnce(f *Flow, dir Dir, data []byte) {
	if f.has(flagIdentified) {
		return
	}
	s, ok := e.admit(f)
	if !ok {
		if f.IsTCP() {
			// No analyzer will read these bytes: to the one a later
			// admission makes, they are lost.
			f.set(flagLost<<dir | flagSkipped<<dir)
		}
		return
	}
	f.set(flagIdentified)
	if !e.identify(f, dir, data, s) {
		e.Stats.Unidentified++
		f.set(flagStopped)
		return
	}
	e.lostBefore(f, dir)
	switch {
	case f.has(flagRouter):
		// The router's own: never observed.
	case !f.IsTCP() && dir == ToClient:
		// A datagram flow that begins with its server's: an answer
		// to a request the client sent to a group (a printer's to a
		// broadcast SNMP query). The client has said nothing to this
		// server yet, and may never.
		f.set(flagAwaitClient)
	default:
		e.flowIdentified(f)
	}
}

// lostBefore tells f's new analyzer, about to read dir, which directions
// lost bytes before it existed, by Gap (or EarlyGap) as if it had read
// from the start (see Flow.Opened): the other direction first, so that
// dir's Gap comes right before the bytes that follow it. A hole a FIN or an ACK showed
// in front of the place is not told: its bytes may still come, in
// order, or be reported once later bytes come after it.
func (e *Engine) lostBefore(f *Flow, dir Dir) {
	for _, d := range [2]Dir{1 - dir, dir} {
		if f.has(flagSkipped << d) {
			e.gapBefore(f, d, f.nextSeq[d])
		}
	}
}

// lostBeforeTakeover tells the analyzer that just took f over mid-flow
// (StartTLS, StartWebSocket) which directions lost bytes after the last
// ones its predecessor read: it reads on from there, and its records or
// frames do not start at the bytes after a loss. The direction being fed
// is not marked (feedStream cleared it), so the order does not matter.
func (e *Engine) lostBeforeTakeover(f *Flow) {
	for _, d := range [2]Dir{ToServer, ToClient} {
		if f.has(flagLost << d) {
			e.gap(f, d)
		}
	}
}

// cut ends the reading of dir, whose byte budget is spent. The budget is
// per direction: a large download must not keep the login sent after it
// on the same connection from being read. Once both directions are
// spent, inspection stops.
func (e *Engine) cut(f *Flow, dir Dir) {
	if f.has(flagCut << dir) {
		return
	}
	f.set(flagCut << dir)
	e.Stats.BudgetStops++
	if f.has(flagCut << (1 - dir)) {
		f.StopInspection()
		return
	}
	// What the analyzer reads of dir ends here, short of the
	// direction's end: as after lost bytes. A segment held past a hole
	// will never be read; its buffer goes back to the pool.
	if in := f.inspection(); in != nil {
		e.dropHeld(&in.held[dir])
	}
	e.gap(f, dir)
}

// maxProtocols is how many protocols a flow's one-byte app number can name.
const maxProtocols = 255

// Fair share. One host (a compromised camera, a misbehaving app) that
// opens thousands of connections and sends a few bytes on each must not
// take every inspection, and with them the stream buffers their partial
// lines hold, from the other devices until the flows time out: the
// default-password login another device types meanwhile would go
// unread. So no host holds more than 1/hostShareDiv of MaxInspected
// (at least one), nor of MaxBuffers (at least two: a partial line each
// way). Buffers need a share of their own: an inspection may hold four
// (two directions' pending bytes and held segments), so two hosts
// within their shares of inspections could take every buffer, and
// another device's password split over two segments would be lost. A
// host at its share of buffers takes one of its own idle flows'
// (reclaim), or else its flow reads on as after lost bytes: that costs
// the flow asking, not the host's other flows or other hosts. A flow
// that finds no buffer free at all takes an idle flow's.
//
// The host is the flow's client address: the client opens flows, so it
// is who spends inspections; a server cannot make them (its answers
// join the client's flows); every capture has it (a MAC is missing from
// NFLOG and tunnel captures, and is the router's for a client on the
// internet); and it caps one host on the internet hammering a forwarded
// port just as one on the LAN. A host with many addresses (IPv6 privacy
// addresses, forged sources) gets a share per address: the share only
// bounds what one address takes. Hosts behind one address (a NAT router
// on the LAN, its own network behind it) get one share between them.
//
// An address can be forged. Flows start from data alone, as a capture
// that begins mid-connection needs, so a LAN host sending a byte now
// and then on a hundred connections in a device's name would fill that
// device's share, never idle, and its own logins would go unread; over
// nine addresses, the whole pool. So a flow whose handshake was seen,
// finding its host at its share, takes the inspection of one of the
// host's flows whose handshake was not, idle or not, and finding the
// pool full, one of any host's (reclaim): the forger must forge the
// handshakes too. One who does can still use up the device's share.
//
// Counters are per bucket of a keyed hash of the address, a fixed array,
// so memory is bounded whatever the number of hosts and nothing is
// allocated. Hosts whose addresses fall in one bucket share one share:
// a collision only makes the cap stricter for them (with 50 devices, a
// given one shares its bucket with another with a chance of about 1.2%),
// and the key is the flow table's, random per engine, so that traffic
// cannot aim at another host's bucket.
const (
	hostShareDiv = 8
	hostBuckets  = 4096 // a power of two; 32 KiB of counters
)

// HostBuckets is the number of buckets client addresses are counted in
// (HostBucket), and 1/HostShareDiv the share of the engine's inspections
// and buffers one may hold: an analyzer that lends something of its own
// per host counts in as many, and lends one as much.
const (
	HostBuckets  = hostBuckets
	HostShareDiv = hostShareDiv
)

// HostBucket is the bucket client address a is counted in for its fair
// share (see hostBucket).
func (e *Engine) HostBucket(a netip.Addr) uint32 { return e.hostBucket(a) }

// HostBucket is the bucket f's client address is counted in for its fair
// share of the engine's inspections and buffers.
func (f *Flow) HostBucket() uint32 { return f.engine.hostOf(f) }

// hostOf is the bucket of f's client in e.hosts.
func (e *Engine) hostOf(f *Flow) uint32 {
	if !f.has(flagIPv6) {
		return e.hostHash(f.ip[sideClient][:]) // as hostBucket, without building the address
	}
	return e.hostBucket(f.Client().Addr())
}

// hostBucket is the bucket of the host a in e.hosts. An IPv4 address
// counts as its 4 bytes, also in its IPv6-mapped form: one host.
func (e *Engine) hostBucket(a netip.Addr) uint32 {
	if a = a.Unmap(); a.Is4() {
		b := a.As4()
		return e.hostHash(b[:])
	}
	b := a.As16()
	return e.hostHash(b[:])
}

// hostHash is the bucket of the address bytes b, in network order.
func (e *Engine) hostHash(b []byte) uint32 {
	return uint32(maphash.Bytes(e.table.seed, b)) & (hostBuckets - 1)
}

// Link-wide flows. Broadcast and multicast conversations (mDNS, SSDP,
// every DHCP client's: Flow.linkWide) keep their inspections: they are
// every device's announcements, which fingerprint it and name its
// firmware, so other flows never take them (reclaim). Datagrams need no
// handshake, and a host sending discovery from many addresses and ports
// would then hold the whole pool, and no login on the LAN would be read.
// So link-wide inspections together hold at most 1/linkWideShareDiv of
// MaxInspected (at least one): a home's devices need a few discovery
// flows each, far below a quarter of the pool, and the rest stays for
// everything else. A new link-wide flow beyond that part takes the
// inspection of a link-wide flow idle for reclaimIdleUDP, as an idle
// datagram flow gives way, or is refused. The per-host share holds for
// them as for any flow.
const linkWideShareDiv = 4

// seat is what an inspection counts against while a flow holds it: the
// bucket of its client's host and, when link-wide, the link-wide part.
// The inspection keeps it, so that its release takes back from the
// counts exactly what its start added: whether a flow is link-wide
// depends on the LAN prefixes, which may change meanwhile.
type seat struct {
	host     uint32
	linkWide bool
}

// seatOf is the seat f would take now.
func (e *Engine) seatOf(f *Flow) seat {
	return seat{host: e.hostOf(f), linkWide: f.linkWide()}
}

// admit reports whether f, not inspected yet, may take an inspection
// now, and the seat it takes. Analyzer state is what costs memory per
// flow: beyond MaxInspected in all, or the client's share, or for a
// link-wide flow the link-wide part, a flow is tracked but not
// inspected, unless an inspection has gone idle (or, at the share, was
// never opened) and is taken for it (reclaim): of a flow of the same
// host when the host holds its share, of a link-wide flow when the
// link-wide part is held, so that the share and the part hold. A flow
// refused is counted and tried again with its next bytes, since
// inspections free up as flows end or go idle.
func (e *Engine) admit(f *Flow) (s seat, ok bool) {
	s = e.seatOf(f)
	full, atShare := e.insps.inUse() >= e.cfg.MaxInspected, e.hosts[s.host].insps >= e.hostShare
	partHeld := s.linkWide && e.linkWide >= e.linkWideShare
	if !full && !atShare && !partHeld {
		return s, true
	}
	var only reclaimOnly
	if atShare {
		only |= ofHost
	}
	if partHeld {
		only |= linkWideOnes
	}
	if e.reclaim(f, s, only) {
		return s, true
	}
	// Deliveries refused are counted each time, a flow once.
	deliveries, flows := &e.Stats.LinkWideLimit, &e.Stats.FlowsRefusedLinkWide
	switch {
	case full:
		deliveries, flows = &e.Stats.InspectLimit, &e.Stats.FlowsRefusedBusy
	case atShare:
		deliveries, flows = &e.Stats.HostLimit, &e.Stats.FlowsRefusedShare
	}
	*deliveries++
	if !f.has(flagRefused) {
		f.set(flagRefused)
		*flows++
	}
	return s, false
}

// Reclaiming idle inspections. The share keeps one host from taking
// every inspection at once, not many hosts (or one with many addresses)
// from taking them all with flows that send a few bytes and go quiet
// until their idle timeout, ten minutes for TCP. So when a new flow
// finds no inspection free, or its host at its share, or a flow finds
// no stream buffer free, a TCP flow that had no payload byte read for
// reclaimIdle loses its inspection to it, as if its analyzer had
// stopped (stopIdle), for good: what it sends later is the middle of a
// conversation no analyzer followed, and an inspection that came back
// could be lost again at once. A UDP flow gives way after
// reclaimIdleUDP: its datagrams are exchanges of a second or so, and
// datagrams from many forged addresses would otherwise hold every
// inspection for the UDP idle timeout; a link-wide conversation (every
// DHCP client's, mDNS, SSDP) gives way only to another link-wide one,
// when idle as long (see the link-wide part), or to a connection of its
// own host at its share whose handshake was seen. A flow whose handshake
// was not seen gives way to one whose was even when it is not idle (see
// the fair share); a datagram flow has none, and datagrams kept coming
// from many addresses would otherwise hold the pool.
//
// Candidates are found as the flow table finds its victims, by weighing
// a few: a hand sweeps the pool reclaimScan inspections at a time, so
// that a flood's every refused packet costs little and successive tries
// weigh every inspection; of those weighed, the longest idle goes.
const (
	// reclaimIdle is far longer than a login's exchange (prompt, user,
	// password, a verdict a server delays by seconds), and a tenth of
	// the TCP idle timeout a flood's flows would otherwise hold their
	// inspections for.
	reclaimIdle    = time.Minute
	reclaimIdleUDP = 10 * time.Second
	reclaimScan    = 8
)

// reclaimOnly narrows the inspections reclaim may take to those that
// free what the flow asking lacks.
type reclaimOnly uint8

const (
	ofHost       reclaimOnly = 1 << iota // of its host, which holds its share
	withBuffer                           // holding a stream buffer
	linkWideOnes                         // link-wide, whose part is held
)

// reclaim stops, for the flow f of seat s, the inspection of a flow
// idle (a TCP one for reclaimIdle, another for reclaimIdleUDP) among the
// next reclaimScan inspections the hand comes to, one that only allows.
// When f's handshake was seen, a flow whose handshake was not (a
// datagram flow's never is) is taken too, idle or not: forged flows
// spread over many addresses must not hold the whole pool either (see
// the fair share). A link-wide UDP flow is taken only for a link-wide
// flow (see the link-wide part); a link-wide TCP one is no device's
// discovery and goes as any TCP flow does. The longest idle of those
// weighed goes. It reports whether one did.
func (e *Engine) reclaim(f *Flow, s seat, only reclaimOnly) bool {
	n := e.insps.used
	if n == 0 {
		return false
	}
	displace := f.Opened()
	now := e.now.UnixNano()
	var victim *inspection
	for range min(reclaimScan, n) {
		e.hand = e.hand%n + 1
		in := e.insps.at(e.hand)
		if in.fed > now {
			// Fed before the capture clock stepped back: idle from now,
			// as expire counts it.
			in.fed = now
		}
		// The inspection's own fields first: most inspections are not
		// idle, and their flows lie elsewhere in memory.
		idle := time.Duration(now - in.fed)
		if idle < reclaimIdleUDP && !displace || only&ofHost != 0 && in.host != s.host ||
			only&withBuffer != 0 && !in.holdsBuffer() || only&linkWideOnes != 0 && !in.linkWide ||
			victim != nil && in.fed >= victim.fed {
			continue
		}
		// A free slot has no flow; the flow at hand (one being closed
		// may be long idle) is not its own victim.
		g := in.flow
		if g == nil || g == f {
			continue
		}
		if mayTake(in, g, s, displace, only&ofHost != 0, idle) {
			victim = in
		}
	}
	if victim == nil {
		return false
	}
	e.Stats.Reclaimed++
	e.stopIdle(victim.flow)
	return true
}

// mayTake reports whether a flow of seat s, opened if displace, may take
// in, g's inspection, idle for idle; ofHost when the host holds its
// share. A link-wide inspection gives way to an opened connection of its
// own host at its share: a device's discovery needs a few flows, and
// discovery forged in its name must not keep its logins unread.
func mayTake(in *inspection, g *Flow, s seat, displace, ofHost bool, idle time.Duration) bool {
	switch {
	case in.linkWide && s.linkWide && idle >= reclaimIdleUDP:
		return true
	case g.IsTCP():
		return idle >= reclaimIdle || displace && !g.Opened()
	case in.linkWide:
		return displace && ofHost
	}
	return idle >= reclaimIdleUDP || displace
}

// stopIdle ends the inspection of g, idle or never opened, for another
// flow (reclaim), as its analyzer's StopInspection would: Close reports
// what is pending (a login whose verdict never came, its outcome
// unknown), Ended tells it that g did not end, and the buffers go back
// to the pool, wiped.
func (e *Engine) stopIdle(g *Flow) {
	outer, closing := e.busy, e.closing
	e.busy, e.closing = g, false // a panic in Close is g's
	g.StopInspection()
	e.busy, e.closing = outer, closing
}

// getBuffer takes a stream buffer for f, whose inspection has seat s;
// with none free, or the host holding its share, the buffers of an
// idle inspection (reclaim) of any host or of the same one; or 0, which
// it counts.
func (e *Engine) getBuffer(f *Flow, s seat) int32 {
	if e.hosts[s.host].bufs >= e.bufShare && !e.reclaim(f, s, ofHost|withBuffer) {
		e.Stats.HostBuffers++
		return 0
	}
	id := e.bufs.get(s.host)
	if id == 0 && e.reclaim(f, s, withBuffer) {
		id = e.bufs.get(s.host)
	}
	if id == 0 {
		e.Stats.BufferFull++
		return 0
	}
	e.hosts[s.host].bufs++
	return id
}

// putBuffer gives buffer id (0: none) back to the pool and its count
// back to the host it was taken for; the first used bytes are wiped.
func (e *Engine) putBuffer(id int32, used int) {
	if id != 0 {
		e.hosts[e.bufs.put(id, used)].bufs--
	}
}

func (e *Engine) identify(f *Flow, dir Dir, data []byte, s seat) bool {
	var best Protocol
	var bestIndex int
	var conf Confidence
	for i, p := range e.protocols {
		c := p.Match(f, dir, data)
		if c > conf {
			best, bestIndex, conf = p, i, c
			if c == ContentMatch {
				break
			}
		}
	}
	if best == nil {
		return false
	}
	f.app = uint8(bestIndex + 1)
	f.setAnalyzer(best.NewAnalyzer(f), s)
	return f.insp != 0
}

// protocol returns the registered protocol with the given name, or nil.
func (e *Engine) protocol(name string) Protocol {
	for _, p := range e.protocols {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// feedStream feeds TCP bytes, keeping what the analyzer leaves unconsumed
// in a pooled buffer. in is f's inspection; once Feed has closed the
// analyzer it may belong to another analyzer, so it is not touched then.
func (e *Engine) feedStream(f *Flow, in *inspection, dir Dir, data []byte) {
	f.flags &^= flagLost << dir // what is read now comes after any loss
	hs := &in.half[dir]
	a := in.analyzer
	if hs.pending == 0 {
		n := clampConsumed(a.Feed(f, dir, data), len(data))
		if f.analyzer() != a {
			if e.handedOn(f, in) && n < len(data) {
				e.feedStream(f, in, dir, data[n:]) // the rest is the new analyzer's
			}
			return // stopped, upgraded to TLS, or handed on
		}
		if n == len(data) {
			return
		}
		rest := data[n:]
		if hs.buf == 0 {
			hs.buf = e.getBuffer(f, in.seat)
		}
		if hs.buf == 0 || len(rest) > e.bufs.size {
			e.gap(f, dir)
			return
		}
		hs.pending = uint32(copy(e.bufs.bytes(hs.buf), rest))
		return
	}
	buf := e.bufs.bytes(hs.buf)
	pending := int(hs.pending)
	// again: the analyzer was handed on and the new one has yet to read
	// what the old one left.
	for again := false; len(data) > 0 || again; {
		m := copy(buf[pending:], data)
		pending += m
		data = data[m:]
		// Recorded before Feed: a StartTLS, StopInspection or gap within
		// it releases the buffer and must wipe every byte it holds.
		hs.pending = uint32(pending)
		n := clampConsumed(a.Feed(f, dir, buf[:pending]), pending)
		again = false
		if f.analyzer() != a {
			if !e.handedOn(f, in) {
				return
			}
			a, again = in.analyzer, n < pending
		} else if n == 0 && pending == len(buf) {
			e.Stats.Gaps++
			e.gap(f, dir)
			if len(data) > 0 && f.analyzer() == a {
				e.feedStream(f, in, dir, data)
			}
			return
		}
		rest := copy(buf, buf[n:pending])
		// Consumed bytes must not linger behind the pending ones: beyond
		// hs.pending a buffer is always zero, so a release wipes only
		// what is pending.
		clear(buf[rest:pending])
		pending = rest
	}
	hs.pending = uint32(pending)
	if pending == 0 {
		e.releaseBuffer(hs)
	}
}

// releaseBuffer gives hs's buffer back to the pool, wiping what it held:
// a partial line may be half a password.
func (e *Engine) releaseBuffer(hs *halfStream) {
	e.putBuffer(hs.buf, int(hs.pending))
	hs.buf, hs.pending = 0, 0
}

func clampConsumed(n, max int) int {
	if n < 0 {
		return 0
	}
	if n > max {
		return max
	}
	return n
}

// expire closes flows idle past their timeout, oldest first in each of
// the table's lists (TCP, the others); it stops at the first flow still
// alive in each, so the cost is proportional to what expires.
//
// A flow last seen after now was seen before the capture clock stepped
// back (a router's clock corrected by NTP): its idleness is counted from
// now, and it goes to the front of its list, lest it stop the expiry of
// every flow behind it until the clock catches up. A few per packet keep
// the cost after a step bounded.
func (e *Engine) expire() {
	now := e.now.UnixNano()
	for l, idle := range [2]time.Duration{e.cfg.TCPIdle, e.cfg.UDPIdle} {
		for rebased := 0; ; {
			f := e.table.oldestOf(l)
			if f == nil {
				break
			}
			if f.last > now && rebased < maxRebased {
				f.last = now
				e.table.touchOldest(l)
				rebased++
				continue
			}
			if now-f.last < int64(idle) {
				break
			}
			e.Stats.FlowsExpired++
			e.closeFlow(f)
		}
	}
}

// wake is an inspection whose analyzer asked to be woken, with its flow:
// an inspection given back and taken again by another flow is not the
// one that asked.
type wake struct {
	f    *Flow
	insp int32
}

// wakeDue wakes the analyzers whose time has come (Flow.WakeAt), and
// forgets the entries of inspections since given back. A panic in Wake
// is the woken flow's.
func (e *Engine) wakeDue() {
	now := e.now.UnixNano()
	keep, due := e.wakes[:0], e.dueWakes[:0]
	e.nextWake = 0
	for _, w := range e.wakes {
		in := e.insps.at(w.insp)
		switch {
		case in.flow != w.f || in.wake == 0:
			// Given back (and perhaps taken again: its new flow has an
			// entry of its own).
		case in.wake > now:
			keep = append(keep, w)
			if e.nextWake == 0 || in.wake < e.nextWake {
				e.nextWake = in.wake
			}
		default:
			in.wake = 0
			due = append(due, w)
		}
	}
	clear(e.wakes[len(keep):])
	e.wakes, e.dueWakes = keep, due
	for i, w := range due {
		due[i] = wake{}
		if w.f.insp != w.insp || !w.f.has(flagInUse) {
			continue // a Wake before it closed the flow
		}
		if wk, ok := e.insps.at(w.insp).analyzer.(Waker); ok {
			e.busy = w.f
			wk.Wake(w.f, e.now)
			e.busy = nil
		}
	}
}

// maxRebased is how many flows last seen in the capture clock's future
// one packet moves to the front of a list (expire).
const maxRebased = 8

func (e *Engine) closeFlow(f *Flow) {
	outer := e.busy
	e.busy, e.closing = f, true
	if f.IsTCP() && !f.has(flagStopped) {
		e.flushHeld(f, ToServer)
		e.flushHeld(f, ToClient)
	}
	f.closeAnalyzer()
	if !f.has(flagRouter) {
		for _, o := range e.observers {
			o.FlowClosed(f)
		}
	}
	e.removeFlow(f)
	e.busy, e.closing = outer, false
}

// removeFlow frees f's slot and forgets a SYN noted on its ports, which
// the release of its inspection may have just moved to e.reopens.
func (e *Engine) removeFlow(f *Flow) {
	e.forgetReopen(f)
	e.table.remove(f)
}

// survive recovers a panic for Options.OnPanic: the busy flow's
// inspection goes back to the pools unread, its analyzer gives back what
// it borrowed (Abandoner), the flow is no longer inspected (a flow being
// closed is removed), and the engine goes on.
func (e *Engine) survive() {
	r := recover()
	if r == nil {
		return
	}
	e.Stats.Panics++
	p := Panic{Protocol: "packet", Reason: fmt.Sprintf("%T", r), N: e.Stats.Panics}
	if rerr, ok := r.(runtime.Error); ok {
		p.Reason = rerr.Error()
	}
	e.dropHeld(&e.delivering) // a held segment being delivered
	if f := e.busy; f != nil && f.has(flagInUse) {
		if app := f.App(); app != "" {
			p.Protocol = app
		}
		a := f.analyzer()
		f.releaseInspection()
		abandon(a, f)
		f.set(flagStopped)
		if e.closing {
			e.removeFlow(f)
		}
	}
	e.busy, e.closing = nil, false
	p.Stack = callers()
	e.onPanic(p)
}

// abandon lets a, whose method panicked, give back what it borrowed
// (Abandoner); a second panic there is dropped: the first was reported.
func abandon(a Analyzer, f *Flow) {
	ab, ok := a.(Abandoner)
	if !ok {
		return
	}
	defer func() { _ = recover() }()
	ab.Abandon(f)
}

// callers lists the functions and lines on the stack of a panic being
// recovered. Unlike debug.Stack it prints no argument values: an
// analyzer's arguments are often packet bytes (a byte, a small array of
// a password), and the stack goes to the log.
func callers() []byte {
	var pcs [32]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs[:])])
	var b bytes.Buffer
	for {
		fr, more := frames.Next()
		fmt.Fprintf(&b, "%s\n\t%s:%d\n", fr.Function, fr.File, fr.Line)
		if !more {
			return b.Bytes()
		}
	}
}

// Flush closes every flow, as at the end of a capture, so that pending
// logins and aggregates are reported.
func (e *Engine) Flush() {
	e.flushPAP()
	for {
		f := e.table.oldest()
		if f == nil {
			return
		}
		e.flushFlow(f)
	}
}

// flushFlow closes f for Flush; a panic (with OnPanic) removes f, so
// that Flush goes on with the others.
func (e *Engine) flushFlow(f *Flow) {
	if e.onPanic != nil {
		defer e.survive()
	}
	e.busy = nil
	e.closeFlow(f)
}

// Subject says which end of a flow an event is about.
type Subject uint8

const (
	SubjectClient Subject = iota
	SubjectServer
)

// Emit completes ev with the flow, the device it is about, the time and
// the provenance, and hands it to the sink.
func (f *Flow) Emit(subject Subject, ev *event.Event) {
	e := f.engine
	ev.V = event.SchemaVersion
	if ev.Time.IsZero() {
		ev.Time = e.now
	}
	ev.Flow = f.eventFlow()
	if subject == SubjectClient {
		ev.Device = ev.Flow.Client
	} else {
		ev.Device = ev.Flow.Server
	}
	ev.Source = e.source
	ev.Packet = e.packetNo
	e.Stats.EventsEmitted++
	e.sink.Emit(ev)
}

// Engine returns the engine running the flow, for analyzers that emit
// events not tied to a flow or need its clock.
func (f *Flow) Engine() *Engine { return f.engine }

// ReportCleartext tells the engine's CleartextObservers that the flow
// carries content in clear. The router's own connections are not the
// devices' and are not reported.
func (f *Flow) ReportCleartext() {
	if f.has(flagRouter) {
		return
	}
	for _, o := range f.engine.cleartext {
		o.CleartextUsed(f)
	}
}

// eventFlow is the flow as events name it, shared with the events of
// flows made alike (see flowTexts).
func (f *Flow) eventFlow() *event.Flow {
	k := flowText{f.Client(), f.Server(), f.ClientMAC, f.ServerMAC, f.Proto, f.app, f.ClientLocal, f.ServerLocal, f.joined()}
	slot := &f.engine.flows[k.slot()]
	if slot.flow == nil || slot.key != k {
		slot.key, slot.flow = k, f.newEventFlow()
	}
	return slot.flow
}

func (f *Flow) newEventFlow() *event.Flow {
	transport := "udp"
	if f.IsTCP() {
		transport = "tcp"
	}
	return &event.Flow{
		Transport: transport,
		Client:    f.engine.endpoint(f.Client(), f.ClientMAC, f.ClientLocal),
		Server:    f.engine.endpoint(f.Server(), f.ServerMAC, f.ServerLocal),
		App:       f.App(),
		Direction: direction(f.ClientLocal, f.ServerLocal),
		Joined:    f.joined(),
	}
}

// joined: a TCP connection whose opening was not seen.
func (f *Flow) joined() bool { return f.IsTCP() && !f.Opened() }

func (e *Engine) endpoint(ap netip.AddrPort, mac hwaddr.MAC, local bool) event.Endpoint {
	ep := event.Endpoint{IP: e.names.ip(ap.Addr().Unmap()), Port: ap.Port(), Local: local}
	if !mac.IsZero() {
		ep.MAC = e.names.mac(mac)
	}
	return ep
}

func direction(clientLocal, serverLocal bool) event.Direction {
	switch {
	case clientLocal && serverLocal:
		return event.LANToLAN
	case clientLocal:
		return event.LANToWAN
	case serverLocal:
		return event.WANToLAN
	}
	return event.WANToWAN
}
