package inspect

import (
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"

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

// FlowKey identifies a flow in both directions: the lower endpoint is A.
type FlowKey struct {
	A, B  netip.AddrPort
	Proto layers.IPProtocol
}

func makeKey(p *Packet) FlowKey {
	a := netip.AddrPortFrom(p.Src, p.SrcPort)
	b := netip.AddrPortFrom(p.Dst, p.DstPort)
	if b.Compare(a) < 0 {
		a, b = b, a
	}
	return FlowKey{A: a, B: b, Proto: p.IPProto}
}

// Flow is one TCP connection or UDP conversation. Analyzers read its
// exported fields; they must not keep a *Flow after Close, because the
// engine reuses the slot for another flow.
type Flow struct {
	Key                      FlowKey
	Client, Server           netip.AddrPort
	ClientMAC, ServerMAC     hwaddr.MAC // zero unless the endpoint is on the LAN
	ClientLocal, ServerLocal bool       // inside the configured LAN prefixes
	First, Last              time.Time  // capture times of the first and latest packet
	Packets                  [2]uint64  // indexed by Dir
	Bytes                    [2]uint64  // transport payload bytes, indexed by Dir
	App                      string     // protocol analysing the flow, "" until known

	engine   *Engine
	analyzer Analyzer
	half     [2]halfStream
	// inspected counts payload bytes handed to the analyzer per direction,
	// checked against the byte budget.
	inspected [2]int
	sawSYN    bool
	fin       [2]bool
	// stopped is set once inspection ends (budget spent, analyzer done,
	// no protocol matched); the flow is still counted.
	stopped bool
	// identified is set once protocol identification has run.
	identified bool
	// upgraded is set once the flow turned into TLS (StartTLS).
	upgraded bool

	// LRU links, as indexes into the table's slab; -1 is none.
	prev, next int32
	inUse      bool
}

// IsTCP reports whether the flow is a TCP connection.
func (f *Flow) IsTCP() bool { return f.Key.Proto == layers.IPProtocolTCP }

// StopInspection ends analysis of the flow: the analyzer is closed and no
// further payload is delivered. TLS analyzers call it after the handshake
// messages they need; the engine calls it when the byte budget is spent.
func (f *Flow) StopInspection() {
	if f.stopped {
		return
	}
	f.stopped = true
	f.closeAnalyzer()
	f.releaseBuffers()
}

// closeAnalyzer closes the flow's analyzer, if any, and frees its place
// among the engine's inspected flows.
func (f *Flow) closeAnalyzer() {
	if f.analyzer == nil {
		return
	}
	a := f.analyzer
	f.analyzer = nil
	f.engine.inspecting--
	a.Close(f)
}

// setAnalyzer starts analysis with a, which may be nil (no analyzer).
func (f *Flow) setAnalyzer(a Analyzer) {
	f.analyzer = a
	if a != nil {
		f.engine.inspecting++
	}
}

// UpgradedToTLS reports whether the flow switched to TLS after a
// plaintext start (STARTTLS and kin), so it is not plaintext use.
func (f *Flow) UpgradedToTLS() bool { return f.upgraded }

// StartTLS says the connection turns into TLS after what the analyzer
// has read (STARTTLS, STLS, AUTH TLS): the analyzer is closed and what
// follows in either direction goes to the TLS analyzer, which reads the
// handshake (JA3/JA4, weak versions and ciphers) and then stops
// inspection. The rest of the data in the current Feed call is dropped;
// the caller should return right away. Without a registered "tls"
// protocol it is StopInspection.
func (f *Flow) StartTLS() {
	if f.stopped {
		return
	}
	f.upgraded = true
	f.closeAnalyzer()
	f.releaseBuffers()
	tls := f.engine.protocol("tls")
	if tls == nil {
		f.stopped = true
		return
	}
	// The handshake gets a fresh budget: the plaintext part may have used
	// most of it, and TLS inspection stops after the hellos anyway.
	f.inspected = [2]int{}
	f.setAnalyzer(tls.NewAnalyzer(f))
	if f.analyzer == nil {
		f.stopped = true
	}
}

func (f *Flow) releaseBuffers() {
	for i := range f.half {
		if f.half[i].buf != nil {
			f.engine.bufs.put(f.half[i].buf)
			f.half[i].buf = nil
		}
	}
}

// halfStream is one direction of a TCP stream: the next expected sequence
// number and the bytes the analyzer has not consumed yet.
type halfStream struct {
	next   uint32
	synced bool
	buf    []byte // pooled; len is the number of pending bytes
}

// flowTable is a fixed-size slab of flows indexed by key, with an LRU list
// so that the least recently used flow is evicted when the table is full
// and idle flows expire from the tail.
type flowTable struct {
	slab       []Flow
	index      map[FlowKey]int32
	free       []int32
	head, tail int32 // most and least recently used
}

func newFlowTable(max int) *flowTable {
	t := &flowTable{
		slab:  make([]Flow, max),
		index: make(map[FlowKey]int32, max),
		free:  make([]int32, 0, max),
		head:  -1,
		tail:  -1,
	}
	for i := max - 1; i >= 0; i-- {
		t.free = append(t.free, int32(i))
	}
	return t
}

func (t *flowTable) len() int { return len(t.index) }

func (t *flowTable) lookup(k FlowKey) *Flow {
	i, ok := t.index[k]
	if !ok {
		return nil
	}
	t.touch(i)
	return &t.slab[i]
}

// insert takes a free slot; the caller must have evicted if none is free.
func (t *flowTable) insert(k FlowKey) *Flow {
	n := len(t.free)
	i := t.free[n-1]
	t.free = t.free[:n-1]
	t.index[k] = i
	f := &t.slab[i]
	f.inUse = true
	f.prev, f.next = -1, t.head
	if t.head >= 0 {
		t.slab[t.head].prev = i
	}
	t.head = i
	if t.tail < 0 {
		t.tail = i
	}
	return f
}

func (t *flowTable) full() bool { return len(t.free) == 0 }

// oldest returns the least recently used flow, or nil.
func (t *flowTable) oldest() *Flow {
	if t.tail < 0 {
		return nil
	}
	return &t.slab[t.tail]
}

func (t *flowTable) unlink(i int32) {
	f := &t.slab[i]
	if f.prev >= 0 {
		t.slab[f.prev].next = f.next
	} else {
		t.head = f.next
	}
	if f.next >= 0 {
		t.slab[f.next].prev = f.prev
	} else {
		t.tail = f.prev
	}
	f.prev, f.next = -1, -1
}

func (t *flowTable) touch(i int32) {
	if t.head == i {
		return
	}
	t.unlink(i)
	f := &t.slab[i]
	f.next = t.head
	if t.head >= 0 {
		t.slab[t.head].prev = i
	}
	t.head = i
	if t.tail < 0 {
		t.tail = i
	}
}

// remove frees f's slot. The caller has closed its analyzer.
func (t *flowTable) remove(f *Flow) {
	i, ok := t.index[f.Key]
	if !ok || &t.slab[i] != f {
		return
	}
	t.unlink(i)
	delete(t.index, f.Key)
	*f = Flow{prev: -1, next: -1}
	t.free = append(t.free, i)
}

// each calls fn for every flow in use, most recent first.
func (t *flowTable) each(fn func(*Flow)) {
	for i := t.head; i >= 0; {
		next := t.slab[i].next
		fn(&t.slab[i])
		i = next
	}
}

// bufferPool hands out fixed-size stream buffers up to a hard count, so
// that pending stream bytes cost at most max*size bytes however many flows
// there are.
type bufferPool struct {
	size, max, allocated int
	free                 [][]byte
	exhausted            uint64
}

func (p *bufferPool) get() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b[:0]
	}
	if p.allocated >= p.max {
		p.exhausted++
		return nil
	}
	p.allocated++
	return make([]byte, 0, p.size)
}

func (p *bufferPool) put(b []byte) {
	if cap(b) == p.size {
		p.free = append(p.free, b[:0])
	}
}
