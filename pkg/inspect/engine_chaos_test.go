package inspect

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// chaosProto's analyzers consume a random part of what they are fed and
// now and then stop inspection or start TLS from Feed or Gap; sometimes
// NewAnalyzer declines. It keeps the analyzers not yet closed.
type chaosProto struct {
	name   string
	rng    *rand.Rand
	t      *testing.T
	nilPct int
	live   map[*chaosAnalyzer]bool
}

func (p *chaosProto) Name() string                        { return p.name }
func (p *chaosProto) Match(*Flow, Dir, []byte) Confidence { return ContentMatch }
func (p *chaosProto) NewAnalyzer(*Flow) Analyzer {
	if p.rng.IntN(100) < p.nilPct {
		return nil
	}
	a := &chaosAnalyzer{p: p}
	p.live[a] = true
	return a
}

type chaosAnalyzer struct {
	p      *chaosProto
	closed bool
}

// act ends the analyzer one time in ten; it reports whether it did.
func (a *chaosAnalyzer) act(f *Flow) bool {
	switch a.p.rng.IntN(20) {
	case 0:
		f.StopInspection()
		return true
	case 1:
		f.StartTLS()
		return true
	}
	return false
}

func (a *chaosAnalyzer) Feed(f *Flow, _ Dir, data []byte) int {
	if a.closed || f.analyzer() != Analyzer(a) {
		a.p.t.Fatalf("Feed of a closed analyzer (%v) or one not the flow's", a.closed)
	}
	if a.act(f) {
		return len(data)
	}
	switch a.p.rng.IntN(3) { // nothing (so buffers fill), all, or a part
	case 0:
		return 0
	case 1:
		return len(data)
	}
	return a.p.rng.IntN(len(data) + 1)
}

func (a *chaosAnalyzer) Gap(f *Flow, _ Dir) {
	if a.closed {
		a.p.t.Fatalf("Gap after Close")
	}
	a.act(f)
}

func (a *chaosAnalyzer) Close(*Flow) {
	if a.closed {
		a.p.t.Fatalf("Close twice")
	}
	a.closed = true
	delete(a.p.live, a)
}

// checkPools asserts the engine's bookkeeping: every inspection and every
// stream buffer is held by at most one flow or free, never both; the
// count of inspecting flows is exact and within the cap; a stopped flow
// holds nothing.
func checkPools(t *testing.T, e *Engine) {
	t.Helper()
	held := map[int32]bool{}
	bufs := map[int32]bool{}
	ipv6 := map[int32]bool{}
	e.table.each(func(f *Flow) {
		if f.has(flagIPv6) {
			if ipv6[f.ipv6ID()] {
				t.Fatalf("IPv6 pool entry %d shared", f.ipv6ID())
			}
			ipv6[f.ipv6ID()] = true
		}
		if f.insp == 0 {
			return
		}
		in := f.inspection()
		if held[f.insp] || in.analyzer == nil || f.has(flagStopped) {
			t.Fatalf("inspection %d: shared %v, analyzer %v, flow stopped %v", f.insp, held[f.insp], in.analyzer, f.has(flagStopped))
		}
		held[f.insp] = true
		for _, h := range in.half {
			if h.buf == 0 && h.pending != 0 || h.buf != 0 && bufs[h.buf] {
				t.Fatalf("stream buffer %d with %d pending: missing or shared", h.buf, h.pending)
			}
			if h.buf != 0 {
				bufs[h.buf] = true
			}
		}
		for _, h := range in.held {
			if h.n == 0 != (h.buf == 0) || h.buf != 0 && bufs[h.buf] {
				t.Fatalf("held segment of %d bytes in buffer %d: missing or shared", h.n, h.buf)
			}
			if h.buf != 0 {
				bufs[h.buf] = true
			}
		}
	})
	for _, id := range e.insps.free {
		if held[id] {
			t.Fatalf("inspection %d both free and held", id)
		}
	}
	for _, id := range e.bufs.free {
		if bufs[id] {
			t.Fatalf("buffer %d both free and held", id)
		}
	}
	if n := len(held); n != e.insps.inUse() || n > e.cfg.MaxInspected {
		t.Fatalf("%d flows inspected, pool lends %d, cap %d", n, e.insps.inUse(), e.cfg.MaxInspected)
	}
	checkHosts(t, e)
	if len(bufs)+len(e.bufs.free) != len(e.bufs.bufs) {
		t.Fatalf("buffers: %d held + %d free, %d allocated", len(bufs), len(e.bufs.free), len(e.bufs.bufs))
	}
	if len(ipv6) != e.table.ipv6.inUse() {
		t.Fatalf("IPv6 pool lends %d entries, flows hold %d", e.table.ipv6.inUse(), len(ipv6))
	}
	// A noted SYN ends with its flow: a mark left behind would let a
	// late SYN-ACK end the next flow on the same ports.
	hashes := map[uint32]bool{}
	e.table.each(func(f *Flow) { hashes[f.hash] = true })
	for i, m := range e.reopens {
		if m.valid && !hashes[m.hash] {
			t.Fatalf("reopen mark %d outlives its flow", i)
		}
	}
}

// checkHosts asserts the per-host counts of inspections and stream
// buffers: each is the number of inspecting flows, and of buffers they
// hold, whose client falls in its bucket, within the shares; none is
// left over from a flow whose inspection ended. So is the count of
// link-wide inspections, within their part.
func checkHosts(t testing.TB, e *Engine) {
	t.Helper()
	want := map[uint32]hostCount{}
	var lent, linkWide uint32
	e.table.each(func(f *Flow) {
		in := f.inspection()
		if in == nil {
			return
		}
		if in.linkWide {
			linkWide++
		}
		if in.host != e.hostOf(f) {
			t.Fatalf("inspection of %v counted in bucket %d, its client's is %d", f.Client(), in.host, e.hostOf(f))
		}
		c := want[in.host]
		c.insps++
		for _, id := range [4]int32{in.half[0].buf, in.half[1].buf, in.held[0].buf, in.held[1].buf} {
			if id == 0 {
				continue
			}
			if owner := uint32(e.bufs.owner[id-1]); owner != in.host {
				t.Fatalf("buffer %d of %v counted in bucket %d, its client's is %d", id, f.Client(), owner, in.host)
			}
			c.bufs++
			lent++
		}
		want[in.host] = c
	})
	var sum hostCount
	for _, n := range e.hosts {
		sum.insps += n.insps
		sum.bufs += n.bufs
	}
	if sum.insps != uint32(e.insps.inUse()) || sum.bufs != lent {
		t.Fatalf("hosts count %d inspections and %d buffers, %d and %d are lent", sum.insps, sum.bufs, e.insps.inUse(), lent)
	}
	if linkWide != e.linkWide || e.linkWide > e.linkWideShare {
		t.Fatalf("%d link-wide inspections counted, flows hold %d, part %d", e.linkWide, linkWide, e.linkWideShare)
	}
	for b, n := range want {
		if e.hosts[b] != n || n.insps > e.hostShare || n.bufs > e.bufShare {
			t.Fatalf("bucket %d counts %+v, flows hold %+v, shares %d and %d", b, e.hosts[b], n, e.hostShare, e.bufShare)
		}
	}
}

// TestEngineBookkeepingUnderChaos sends random TCP traffic over IPv4 and
// IPv6 (gaps,
// retransmissions, SYN, FIN, RST, idle expiry, eviction) on a few ports
// through small pools to chaotic analyzers, with and without a TLS
// protocol, and checks the bookkeeping after every packet and the flush.
func TestEngineBookkeepingUnderChaos(t *testing.T) {
	var limits EngineStats // summed over the seeds
	defer func() {
		if limits.InspectLimit == 0 || limits.HostLimit == 0 || limits.Reclaimed == 0 || limits.HostBuffers == 0 || limits.BufferFull == 0 {
			t.Errorf("the pool's cap refused %d flows, the host's share %d, %d idle inspections reclaimed, %d buffers refused for the host's share, %d missing: not every limit reached",
				limits.InspectLimit, limits.HostLimit, limits.Reclaimed, limits.HostBuffers, limits.BufferFull)
		}
	}()
	for seed := range uint64(120) {
		rng := rand.New(rand.NewPCG(seed, 1))
		live := map[*chaosAnalyzer]bool{}
		protos := []Protocol{&chaosProto{name: "plain", rng: rng, t: t, nilPct: 5, live: live}}
		if seed%2 == 0 {
			protos = append(protos, &chaosProto{name: "tls", rng: rng, t: t, nilPct: 20, live: live})
		}
		cfg := DefaultConfig()
		cfg.MaxFlows, cfg.MaxInspected = 16, 6
		cfg.ByteBudget, cfg.StreamBuffer, cfg.MaxBuffers = 600, 512, 5
		cfg.TCPIdle = 50 * time.Millisecond
		// Half the seeds keep idle flows long enough for their
		// inspections to be reclaimed.
		reclaiming := seed%4 >= 2
		if reclaiming {
			cfg.TCPIdle = 10 * time.Minute
		}
		e := testEngine(t, cfg, protos...)
		seqs := map[[2]int]uint32{}
		at := time.Duration(0)
		payload := make([]byte, 700)
		for range 3000 {
			at += time.Duration(rng.IntN(3)) * time.Millisecond
			if reclaiming && rng.IntN(200) == 0 {
				at += reclaimIdle
			}
			port, dir := uint16(3000+rng.IntN(24)), Dir(rng.IntN(2))
			k := [2]int{int(port), int(dir)}
			seq := seqs[k]
			flags := uint8(TCPFlagACK)
			switch rng.IntN(60) {
			case 0:
				flags |= TCPFlagRST
			case 1, 2:
				flags |= TCPFlagFIN
			case 3:
				flags = TCPFlagSYN
			}
			switch rng.IntN(15) {
			case 0:
				seq += uint32(rng.IntN(50)) // bytes lost
			case 1:
				seq -= uint32(rng.IntN(50)) // a retransmission
			}
			n := rng.IntN(len(payload))
			if flags == TCPFlagSYN || rng.IntN(5) == 0 {
				n = 0
			}
			p := seg(dir, seq, flags, "", at)
			p.Payload = payload[:n]
			// Eight clients, so that both a host's share and the
			// pool's cap are reached.
			client := netip.AddrFrom4([4]byte{192, 168, 1, byte(10 + port%8)})
			if dir == ToServer {
				p.Src = client
			} else {
				p.Dst = client
			}
			if port%3 == 0 { // an IPv6 flow: its addresses live in the table's pool
				p.Src, p.Dst = netip.AddrFrom16(p.Src.As16()), netip.AddrFrom16(p.Dst.As16())
			}
			if dir == ToServer {
				p.SrcPort = port
			} else {
				p.DstPort = port
			}
			seqs[k] = seq + uint32(n)
			e.HandlePacket(p)
			checkPools(t, e)
			if len(live) != e.insps.inUse() {
				t.Fatalf("seed %d: %d analyzers open, engine counts %d", seed, len(live), e.insps.inUse())
			}
		}
		limits.InspectLimit += e.Stats.InspectLimit
		limits.HostLimit += e.Stats.HostLimit
		limits.Reclaimed += e.Stats.Reclaimed
		limits.HostBuffers += e.Stats.HostBuffers
		limits.BufferFull += e.Stats.BufferFull
		e.Flush()
		checkPools(t, e)
		if e.insps.inUse() != 0 || len(live) != 0 || e.table.ipv6.inUse() != 0 {
			t.Fatalf("seed %d after the flush: %d inspecting, %d analyzers open, %d IPv6 pool entries lent", seed, e.insps.inUse(), len(live), e.table.ipv6.inUse())
		}
	}
}

// lineProto's analyzers consume whole lines and come from a FreeList, as
// the real analyzers do, so that a flow's start and end allocate nothing.
type lineProto struct{ pool FreeList[lineAnalyzer] }

func (p *lineProto) Name() string                        { return "line" }
func (p *lineProto) Match(*Flow, Dir, []byte) Confidence { return ContentMatch }
func (p *lineProto) NewAnalyzer(*Flow) Analyzer {
	a := p.pool.Get()
	a.p = p
	return a
}

type lineAnalyzer struct{ p *lineProto }

func (a *lineAnalyzer) Feed(_ *Flow, _ Dir, data []byte) int {
	return bytes.LastIndexByte(data, '\n') + 1
}
func (a *lineAnalyzer) Gap(*Flow, Dir) {}
func (a *lineAnalyzer) Close(*Flow)    { a.p.pool.Put(a) }

// TestFlowChurnNoAlloc: flows that start, leave a partial line in a
// stream buffer, hold segments past a hole and are reset, over and over,
// allocate nothing once the pools have grown.
func TestFlowChurnNoAlloc(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxFlows = 64
	e := testEngine(t, cfg, &lineProto{})
	var pkts []*Packet
	at := time.Duration(0)
	for i := range 40 {
		for _, s := range []struct {
			seq   uint32
			flags uint8
			data  string
		}{
			{1, TCPFlagACK, "USER a\r\nPA"},
			// A hole, held bytes, one joining them, a duplicate, the fill.
			{15, TCPFlagACK, "\r\nx"}, {18, TCPFlagACK, "x"}, {15, TCPFlagACK, "\r\n"}, {11, TCPFlagACK, "SS b"},
			{19, TCPFlagRST, ""},
		} {
			at += time.Millisecond
			p := seg(ToServer, s.seq, s.flags, s.data, at)
			p.SrcPort = uint16(5000 + i)
			pkts = append(pkts, p)
		}
	}
	run := func() {
		for _, p := range pkts {
			e.HandlePacket(p)
		}
	}
	run()
	if a := testing.AllocsPerRun(50, run); a != 0 {
		t.Errorf("%v allocations per 40 flows", a)
	}
	if e.Stats.FlowsCreated < 40*51 || e.insps.inUse() != 0 || e.Stats.Reordered < 40*51*2 || e.Stats.Gaps != 0 {
		t.Errorf("%d flows created, %d still inspected, %d segments held, %d gaps: the churn did not happen",
			e.Stats.FlowsCreated, e.insps.inUse(), e.Stats.Reordered, e.Stats.Gaps)
	}
}

// TestTCPPathsNoAlloc: the TCP paths that are not the steady state (a
// port reused for a new connection, a RST dropped, a direction's budget
// spent, a flow refused for its host's share, a stream buffer refused
// for it, an idle inspection or its buffer taken for a new flow or for
// the same host's, an unopened flow's taken for an opened one) allocate
// nothing once the pools have grown.
func TestTCPPathsNoAlloc(t *testing.T) {
	const A = TCPFlagACK
	type step struct {
		dir        Dir
		seq, ack   uint32
		flags      uint8
		data       string
		sinceStart time.Duration
	}
	// client is a step's client: one of two hosts, on the round's port
	// plus port.
	type client struct {
		host int
		port uint16
	}
	idle := reclaimIdle + time.Second
	tests := []struct {
		name  string
		cfg   func(*Config)
		flows uint64 // created per round
		steps []step
		from  []client // per step; nil: all from one client
		stats EngineStats
	}{
		{name: "port_reused", flows: 2, steps: []step{
			{ToServer, 99, 0, TCPFlagSYN, "", 0}, {ToClient, 499, 100, TCPFlagSYN | A, "", 0}, {ToServer, 100, 500, A, "USER a\r\nPA", 0},
			{ToServer, 3000000000, 0, TCPFlagSYN, "", time.Second}, {ToClient, 7000, 3000000001, TCPFlagSYN | A, "", time.Second},
			{ToServer, 3000000001, 7001, A, "USER b\r\nPA", time.Second}, {ToServer, 3000000011, 7001, TCPFlagRST, "", time.Second},
		}},
		{name: "one_direction_spent", flows: 1, steps: []step{
			{ToServer, 99, 0, TCPFlagSYN, "", 0}, {ToClient, 499, 100, TCPFlagSYN | A, "", 0}, {ToServer, 100, 500, A, "USER a\r\nPA", 0},
			{ToClient, 500, 110, A, strings.Repeat("x\n", 9000), 0}, {ToServer, 110, 18500, A, "SS b\r\n", 0}, {ToServer, 116, 18500, TCPFlagRST, "", 0},
		}},
		{name: "forged_reset_dropped", flows: 1, steps: []step{
			{ToServer, 99, 0, TCPFlagSYN, "", 0}, {ToClient, 499, 100, TCPFlagSYN | A, "", 0}, {ToServer, 100, 500, A, "USER a\r\nPA", 0},
			{ToServer, 0x80000000, 0, TCPFlagRST, "", 0}, {ToServer, 110, 500, A, "SS b\r\n", 0}, {ToServer, 116, 500, TCPFlagRST, "", 0},
		}},
		// A share of one: the host's second flow waits for its first to end.
		{name: "host_at_share", cfg: func(c *Config) { c.MaxInspected = 8 }, flows: 2, steps: []step{
			{ToServer, 1, 0, A, "USER a\r\nPA", 0}, {ToServer, 1, 0, A, "USER b\r\n", 0}, {ToServer, 11, 0, TCPFlagRST, "", 0},
			{ToServer, 9, 0, A, "PASS b\r\nUS", 0}, {ToServer, 19, 0, TCPFlagRST, "", 0},
		}, from: []client{{0, 0}, {0, 1}, {0, 0}, {0, 1}, {0, 1}}, stats: EngineStats{HostLimit: 1}},
		// The one inspection, idle, goes to another host's flow, refused
		// before; the idle flow is read no more.
		{name: "idle_inspection_reclaimed", cfg: func(c *Config) { c.MaxInspected = 1 }, flows: 2, steps: []step{
			{ToServer, 1, 0, A, "USER a\r\nPA", 0}, {ToServer, 1, 0, A, "USER b\r\n", time.Second},
			{ToServer, 9, 0, A, "PASS b\r\nUS", idle}, {ToServer, 11, 0, A, "SS a\r\n", idle},
			{ToServer, 17, 0, TCPFlagRST, "", idle}, {ToServer, 19, 0, TCPFlagRST, "", idle},
		}, from: []client{{0, 0}, {1, 0}, {1, 0}, {0, 0}, {0, 0}, {1, 0}}, stats: EngineStats{InspectLimit: 1, Reclaimed: 1}},
		// The one stream buffer, held by an idle flow, goes to another's
		// partial line.
		{name: "idle_buffer_reclaimed", cfg: func(c *Config) { c.MaxBuffers = 1 }, flows: 2, steps: []step{
			{ToServer, 1, 0, A, "USER a\r\nPA", 0}, {ToServer, 1, 0, A, "USER b\r\nPA", idle},
			{ToServer, 11, 0, TCPFlagRST, "", idle}, {ToServer, 11, 0, TCPFlagRST, "", idle},
		}, from: []client{{0, 0}, {1, 0}, {0, 0}, {1, 0}}, stats: EngineStats{Reclaimed: 1}},
		// A share of one, held by a flow joined without a handshake: the
		// host's flow with one takes it.
		{name: "unopened_flow_displaced", cfg: func(c *Config) { c.MaxInspected = 8 }, flows: 2, steps: []step{
			{ToServer, 1, 0, A, "USER a\r\nPA", 0}, {ToServer, 99, 0, TCPFlagSYN, "", time.Second},
			{ToClient, 499, 100, TCPFlagSYN | A, "", time.Second}, {ToServer, 100, 500, A, "USER b\r\n", time.Second},
			{ToServer, 11, 0, TCPFlagRST, "", time.Second}, {ToServer, 108, 500, TCPFlagRST, "", time.Second},
		}, from: []client{{0, 0}, {0, 1}, {0, 1}, {0, 1}, {0, 0}, {0, 1}}, stats: EngineStats{Reclaimed: 1}},
		// A share of two buffers: the host's third partial line finds
		// none, though the pool has more.
		{name: "host_at_buffer_share", cfg: func(c *Config) { c.MaxBuffers = 16 }, flows: 3, steps: []step{
			{ToServer, 1, 0, A, "USER a\r\nPA", 0}, {ToServer, 1, 0, A, "USER b\r\nPA", 0}, {ToServer, 1, 0, A, "USER c\r\nPA", 0},
			{ToServer, 11, 0, TCPFlagRST, "", 0}, {ToServer, 11, 0, TCPFlagRST, "", 0}, {ToServer, 11, 0, TCPFlagRST, "", 0},
		}, from: []client{{0, 0}, {0, 1}, {0, 2}, {0, 0}, {0, 1}, {0, 2}}, stats: EngineStats{HostBuffers: 1}},
		// The same, a minute later: the host's idle flow gives its buffer.
		{name: "idle_buffer_of_the_host_reclaimed", cfg: func(c *Config) { c.MaxBuffers = 16 }, flows: 3, steps: []step{
			{ToServer, 1, 0, A, "USER a\r\nPA", 0}, {ToServer, 1, 0, A, "USER b\r\nPA", 0}, {ToServer, 1, 0, A, "USER c\r\nPA", idle},
			{ToServer, 11, 0, TCPFlagRST, "", idle}, {ToServer, 11, 0, TCPFlagRST, "", idle}, {ToServer, 11, 0, TCPFlagRST, "", idle},
		}, from: []client{{0, 0}, {0, 1}, {0, 2}, {0, 0}, {0, 1}, {0, 2}}, stats: EngineStats{Reclaimed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxFlows = 64
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			e := testEngine(t, cfg, &lineProto{})
			hosts := distinctHosts(e, 2)
			pkts := make([]*Packet, len(tt.steps))
			for i, s := range tt.steps {
				pkts[i] = seg(s.dir, s.seq, s.flags, s.data, s.sinceStart)
				pkts[i].Ack = s.ack
			}
			var p Packet
			port, at := uint16(0), time.Duration(0)
			round := func() {
				port = 5000 + (port+1)%100
				at += 2 * time.Minute // past the last step's time
				for i, q := range pkts {
					p = *q
					p.Timestamp = p.Timestamp.Add(at)
					c := client{-1, 0}
					if tt.from != nil {
						c = tt.from[i]
					}
					if q.SrcPort == 40000 {
						p.SrcPort = port + c.port
						if c.host >= 0 {
							p.Src = hosts[c.host]
						}
					} else {
						p.DstPort = port + c.port
						if c.host >= 0 {
							p.Dst = hosts[c.host]
						}
					}
					e.HandlePacket(&p)
				}
			}
			round()
			created, stats := e.Stats.FlowsCreated, e.Stats
			if a := testing.AllocsPerRun(100, round); a != 0 {
				t.Errorf("%v allocations per round", a)
			}
			// AllocsPerRun runs round once more to warm up.
			if n := e.Stats.FlowsCreated - created; e.Flows() != 0 || n != 101*tt.flows {
				t.Errorf("%d flows left, %d created, want 0 and %d: the rounds did not happen", e.Flows(), n, 101*tt.flows)
			}
			got := EngineStats{HostLimit: e.Stats.HostLimit - stats.HostLimit, InspectLimit: e.Stats.InspectLimit - stats.InspectLimit,
				Reclaimed: e.Stats.Reclaimed - stats.Reclaimed, BufferFull: e.Stats.BufferFull - stats.BufferFull,
				HostBuffers: e.Stats.HostBuffers - stats.HostBuffers, FlowsRefusedBusy: e.Stats.FlowsRefusedBusy - stats.FlowsRefusedBusy,
				FlowsRefusedShare: e.Stats.FlowsRefusedShare - stats.FlowsRefusedShare}
			// Each refused flow is refused once a round.
			want := EngineStats{HostLimit: 101 * tt.stats.HostLimit, InspectLimit: 101 * tt.stats.InspectLimit, Reclaimed: 101 * tt.stats.Reclaimed,
				HostBuffers: 101 * tt.stats.HostBuffers, FlowsRefusedBusy: 101 * tt.stats.InspectLimit, FlowsRefusedShare: 101 * tt.stats.HostLimit}
			if got != want {
				t.Errorf("over 101 rounds: got %+v, want %+v", got, want)
			}
		})
	}
}

// runRecorder's analyzers keep what they read of the client's stream as
// runs: a gap starts a new one.
type runRecorder struct{ runs [][]byte }

func (r *runRecorder) Name() string                        { return "runs" }
func (r *runRecorder) Match(*Flow, Dir, []byte) Confidence { return ContentMatch }
func (r *runRecorder) NewAnalyzer(*Flow) Analyzer          { return r }
func (r *runRecorder) Close(*Flow)                         {}

func (r *runRecorder) Feed(_ *Flow, dir Dir, b []byte) int {
	if dir == ToServer {
		if len(r.runs) == 0 {
			r.runs = append(r.runs, nil)
		}
		r.runs[len(r.runs)-1] = append(r.runs[len(r.runs)-1], b...)
	}
	return len(b)
}

func (r *runRecorder) Gap(_ *Flow, dir Dir) {
	if dir == ToServer {
		r.runs = append(r.runs, nil)
	}
}

// FuzzTCPReassembly sends pieces of a client's stream in the order the
// input chooses (reordered, repeated, overlapping, some never), with the
// server's ACKs, FINs and a RST: whatever comes, the analyzer reads the
// stream's bytes in order and none twice, each run between gaps a piece
// of it after the one before, and the engine's pools stay consistent.
func FuzzTCPReassembly(f *testing.F) {
	stream := make([]byte, 6000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range stream {
		stream[i] = byte(rng.Uint32())
	}
	f.Add(uint32(100), []byte{0, 0, 8, 0, 0, 16, 5, 0, 0, 8, 8, 0})
	f.Add(uint32(0xfffffff0), []byte{0, 0, 20, 0, 0, 40, 20, 1, 0, 60, 20, 2, 0, 20, 20, 3, 0, 80, 0, 5})
	f.Add(uint32(7), []byte{0, 100, 200, 0, 0, 100, 200, 0, 0, 0, 100, 0, 0, 250, 0, 6, 0, 0, 250, 0})
	f.Fuzz(func(t *testing.T, isn uint32, ops []byte) {
		r := &runRecorder{}
		cfg := DefaultConfig()
		cfg.ByteBudget, cfg.StreamBuffer, cfg.MaxBuffers = MaxByteBudget, 512, 3
		e := testEngine(t, cfg, r)
		at := time.Duration(0)
		send := func(p *Packet) {
			at += time.Millisecond
			p.Timestamp = t0.Add(at)
			e.HandlePacket(p)
			checkPools(t, e)
		}
		send(seg(ToServer, isn, TCPFlagSYN, "", 0))
		synAck := seg(ToClient, 7, TCPFlagSYN|TCPFlagACK, "", 0)
		synAck.Ack = isn + 1
		send(synAck)
	play:
		for ; len(ops) >= 4; ops = ops[4:] {
			off := int(ops[0])<<8 | int(ops[1])
			off %= len(stream)
			end := min(off+int(ops[2]), len(stream))
			seq := isn + 1 + uint32(off)
			switch ops[3] % 8 {
			case 5: // the server acknowledges up to off
				p := seg(ToClient, 8, TCPFlagACK, "", 0)
				p.Ack = seq
				send(p)
			case 6:
				send(seg(ToServer, seq, TCPFlagFIN|TCPFlagACK, "", 0))
			case 7: // what comes after a reset is another flow's
				send(seg(ToServer, seq, TCPFlagRST, "", 0))
				break play
			default:
				p := seg(ToServer, seq, TCPFlagACK, "", 0)
				p.Payload = stream[off:end]
				send(p)
			}
		}
		e.Flush()
		checkPools(t, e)
		pos := 0
		for _, run := range r.runs {
			if len(run) == 0 {
				continue
			}
			i := bytes.Index(stream[pos:], run)
			if i < 0 {
				t.Fatalf("a run of %d bytes is not the stream's after byte %d: bytes twice or out of order", len(run), pos)
			}
			pos += i + len(run)
		}
	})
}
