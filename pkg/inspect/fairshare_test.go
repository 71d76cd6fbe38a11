package inspect

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

// distinctHosts returns n client addresses whose counters in e.hosts
// differ, so that a test's hosts do not share a share by chance (the
// buckets' key is random per engine).
func distinctHosts(e *Engine, n int) []netip.Addr {
	used := map[uint32]bool{}
	var out []netip.Addr
	for i := 0; len(out) < n; i++ {
		a := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
		if b := e.hostBucket(a); !used[b] {
			used[b] = true
			out = append(out, a)
		}
	}
	return out
}

// sendFrom hands e an ACK segment of data, sent to the server at seq,
// from the client address src.
func sendFrom(e *Engine, src netip.Addr, seq uint32, data string, at time.Duration) {
	p := seg(ToServer, seq, TCPFlagACK, data, at)
	p.Src = src
	e.HandlePacket(p)
}

// TestHostShare: a host holds at most its share of MaxInspected (an
// eighth, at least one); its further flows are counted in HostLimit and
// tried again with their next bytes, another host's flows are inspected
// meanwhile, and one of the host's flows ending makes room for the next.
func TestHostShare(t *testing.T) {
	const A = TCPFlagACK
	tests := []struct {
		name         string
		maxInspected int
		share        int
	}{
		{"default", 1024, 128},
		{"small", 16, 2},
		{"at_least_one", 7, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxInspected = tt.maxInspected
			r := &recorder{match: ContentMatch}
			e := testEngine(t, cfg, r)
			hosts := distinctHosts(e, 2)
			greedy, other := hosts[0], hosts[1]
			send := func(host netip.Addr, port uint16, seq uint32, flags uint8, data string) {
				p := seg(ToServer, seq, flags, data, time.Second)
				p.Src, p.SrcPort = host, port
				e.HandlePacket(p)
			}
			for i := range tt.share + 10 {
				send(greedy, uint16(1000+i), 1, A, "x")
			}
			if n := e.insps.inUse(); n != tt.share || e.Stats.HostLimit != 10 || e.Stats.InspectLimit != 0 {
				t.Fatalf("%d flows of one host inspected, %d refused for the share, %d for the cap; want %d, 10, 0",
					n, e.Stats.HostLimit, e.Stats.InspectLimit, tt.share)
			}
			send(other, 40000, 1, A, "USER root\n")
			if got := r.got[ToServer].String(); !strings.HasSuffix(got, "xUSER root\n") {
				t.Fatalf("stream %q: another host's flow not inspected", got)
			}
			// A refused flow is tried again with its next bytes, and is
			// inspected once one of the host's flows has ended.
			refused := uint16(1000 + tt.share)
			send(greedy, refused, 2, A, "y")
			send(greedy, 1000, 2, TCPFlagRST, "")
			send(greedy, refused, 3, A, "z")
			if got := r.got[ToServer].String(); !strings.HasSuffix(got, "USER root\nz") || e.Stats.HostLimit != 11 {
				t.Errorf("stream %q, %d refused for the share: want the refused flow read after a slot freed, 11 refused", got, e.Stats.HostLimit)
			}
			checkPools(t, e)
		})
	}
}

// TestHostCountsReturnToZero ends inspected flows of three hosts every
// way an inspection can end: their hosts' counts go back to zero, and
// after the flush every count is zero. A leak would shrink a host's
// share for good.
func TestHostCountsReturnToZero(t *testing.T) {
	const A = TCPFlagACK
	// send sends p on flow i (0, 1) of host h, p built as from
	// 192.168.1.10:40000 to 203.0.113.5:21.
	type sender func(h, i int, p *Packet)
	each := func(send sender, p func() *Packet) {
		for h := range 3 {
			for i := range 2 {
				send(h, i, p())
			}
		}
	}
	withAck := func(p *Packet, ack uint32) *Packet { p.Ack = ack; return p }
	tests := []struct {
		name   string
		cfg    func(*Config)
		protos []Protocol // nil: a line protocol with STARTTLS, and TLS
		then   func(e *Engine, send sender)
	}{
		{"reset", nil, nil, func(_ *Engine, send sender) {
			each(send, func() *Packet { return seg(ToServer, 11, TCPFlagRST, "", time.Second) })
		}},
		{"fin_both_ways", nil, nil, func(_ *Engine, send sender) {
			each(send, func() *Packet { return seg(ToServer, 11, TCPFlagFIN|A, "", time.Second) })
			each(send, func() *Packet { return seg(ToClient, 500, TCPFlagFIN|A, "", time.Second) })
		}},
		{"expired", nil, nil, func(_ *Engine, send sender) {
			send(3, 0, seg(ToServer, 1, TCPFlagSYN, "", 11*time.Minute))
		}},
		{"evicted", nil, nil, func(_ *Engine, send sender) {
			// A fourth host's inspected flows push every older one out.
			for i := range 16 {
				send(3, i, seg(ToServer, 1, A, "z\n", time.Second))
			}
		}},
		{"reopened_ports", nil, nil, func(_ *Engine, send sender) {
			each(send, func() *Packet { return seg(ToServer, 3000000000, TCPFlagSYN, "", time.Second) })
			each(send, func() *Packet { return withAck(seg(ToClient, 7000, TCPFlagSYN|A, "", time.Second), 3000000001) })
		}},
		{"budgets_spent", func(c *Config) { c.ByteBudget = 256 }, nil, func(_ *Engine, send sender) {
			each(send, func() *Packet { return seg(ToServer, 11, A, strings.Repeat("x", 300), time.Second) })
			each(send, func() *Packet { return seg(ToClient, 500, A, strings.Repeat("y\n", 150), time.Second) })
		}},
		{"analyzer_stops", nil, []Protocol{upgradeProto{"line"}}, func(_ *Engine, send sender) {
			// STARTTLS without a TLS protocol stops inspection.
			each(send, func() *Packet { return seg(ToServer, 11, A, "SS b\r\nSTARTTLS\r\n", time.Second) })
		}},
		{"starttls_then_reset", nil, nil, func(e *Engine, send sender) {
			each(send, func() *Packet { return seg(ToServer, 11, A, "SS b\r\nSTARTTLS\r\n", time.Second) })
			if e.insps.inUse() != 6 {
				t.Errorf("%d flows inspected after STARTTLS, want the 6 handed to TLS", e.insps.inUse())
			}
			checkHosts(t, e) // each TLS inspection took the share the plaintext one gave back
			each(send, func() *Packet { return seg(ToServer, 27, TCPFlagRST, "", time.Second) })
		}},
		{"analyzer_panics", nil, []Protocol{&boom{}}, func(_ *Engine, send sender) {
			each(send, func() *Packet { return seg(ToServer, 11, A, "feed!...", time.Second) })
		}},
		{"flushed", nil, nil, func(e *Engine, _ sender) { e.Flush() }},
		{"reclaimed_at_the_share", func(c *Config) { c.MaxInspected = 16 }, nil, func(e *Engine, send sender) {
			// Each host, at its share of 2, takes its idle flows'
			// inspections for two new flows, which then end.
			for h := range 3 {
				for i := 2; i < 4; i++ {
					send(h, i, seg(ToServer, 1, A, "USER b\r\nPA", reclaimIdle+time.Second))
				}
			}
			if e.Stats.Reclaimed != 6 {
				t.Errorf("%d inspections reclaimed, want 6", e.Stats.Reclaimed)
			}
			for h := range 3 {
				for i := 2; i < 4; i++ {
					send(h, i, seg(ToServer, 11, TCPFlagRST, "", reclaimIdle+time.Second))
				}
			}
		}},
		{"reclaimed_for_buffers", func(c *Config) { c.MaxBuffers = 6 }, nil, func(e *Engine, send sender) {
			// Three more hosts' partial lines need the idle flows'
			// buffers: two each, a host's share.
			for h := 3; h < 6; h++ {
				for i := range 2 {
					send(h, i, seg(ToServer, 1, A, "USER b\r\nPA", reclaimIdle+time.Second))
				}
			}
			if e.Stats.Reclaimed != 6 || e.Stats.BufferFull+e.Stats.HostBuffers != 0 {
				t.Errorf("%d inspections reclaimed, %d buffers missing, %d refused for the share; want 6, 0, 0",
					e.Stats.Reclaimed, e.Stats.BufferFull, e.Stats.HostBuffers)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxFlows = 16
			cfg.HashKey = []byte("engine test key")
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			e, panics := upgradeEngine(t, cfg, tt.protos)
			hosts := distinctHosts(e, 6)
			send := func(h, i int, p *Packet) {
				if p.SrcPort == 40000 {
					p.Src, p.SrcPort = hosts[h], uint16(40000+i)
				} else {
					p.Dst, p.DstPort = hosts[h], uint16(40000+i)
				}
				e.HandlePacket(p)
				checkPools(t, e)
			}
			// Two flows from each of three hosts, each with a partial
			// line pending.
			each(send, func() *Packet { return seg(ToServer, 1, A, "USER a\r\nPA", 0) })
			for h := range 3 {
				if n := e.hosts[e.hostBucket(hosts[h])].insps; n != 2 {
					t.Fatalf("host %d counts %d inspections, want 2", h, n)
				}
			}
			tt.then(e, send)
			for h := range 3 {
				if n := e.hosts[e.hostBucket(hosts[h])].insps; n != 0 {
					t.Errorf("host %d counts %d inspections after its flows' ends", h, n)
				}
			}
			if tt.name == "analyzer_panics" && *panics != 6 {
				t.Errorf("%d panics survived, want 6", *panics)
			}
			e.Flush()
			checkPools(t, e)
			for b, n := range e.hosts {
				if n != (hostCount{}) {
					t.Fatalf("after the flush bucket %d counts %+v", b, n)
				}
			}
		})
	}
}

// TestIdleInspectionReclaimed: when a new flow finds every inspection
// taken, or its host at its share, or no stream buffer free, a TCP flow
// that had no payload byte for reclaimIdle loses its inspection to it:
// its analyzer is closed as by StopInspection (its ends not real ends),
// its buffers go back, it is read no more. Flows active within
// reclaimIdle, UDP flows, and other hosts' flows when the host is at its
// share keep theirs.
func TestIdleInspectionReclaimed(t *testing.T) {
	const A = TCPFlagACK
	// pkt is a packet to the server of flow port of host: TCP from
	// sequence number 1 on, or a UDP datagram.
	type pkt struct {
		host int
		port uint16
		seq  uint32
		data string
		at   time.Duration
		udp  bool
	}
	partial := func(host int, port uint16, at time.Duration) pkt {
		return pkt{host, port, 1, "USER a\r\nPA", at, false}
	}
	idle := reclaimIdle + time.Second
	tests := []struct {
		name      string
		cfg       func(*Config)
		hold      []pkt // the flows that take the inspections
		next      []pkt // a new flow's bytes
		reclaimed bool
		refused   string // "cap" or "share" when next is not read
		victim    int    // the flow of hold that loses its inspection
	}{
		{"pool_full", func(c *Config) { c.MaxInspected = 4 },
			[]pkt{partial(0, 1, 0), partial(1, 1, 0), partial(2, 1, 0), partial(3, 1, 0)},
			[]pkt{partial(4, 1, idle)}, true, "", 0},
		{"pool_full_not_idle_yet", func(c *Config) { c.MaxInspected = 4 },
			[]pkt{partial(0, 1, 0), partial(1, 1, 0), partial(2, 1, 0), partial(3, 1, 0)},
			[]pkt{partial(4, 1, reclaimIdle-time.Second)}, false, "cap", 0},
		{"pool_full_lately_active", func(c *Config) { c.MaxInspected = 2 },
			[]pkt{partial(0, 1, 0), partial(1, 1, 0), {0, 1, 11, "SS a\r\n", 30 * time.Second, false}, {1, 1, 11, "SS b\r\n", 30 * time.Second, false}},
			[]pkt{partial(4, 1, idle)}, false, "cap", 0},
		// UDP flows give way sooner (TestIdleUDPGivesWay), not at once.
		{"pool_full_of_udp", func(c *Config) { c.MaxInspected, c.UDPIdle = 2, 10*time.Minute },
			[]pkt{{0, 1, 0, "query", 0, true}, {1, 1, 0, "query", 0, true}},
			[]pkt{partial(4, 1, reclaimIdleUDP-time.Second)}, false, "cap", 0},
		{"host_at_share", func(c *Config) { c.MaxInspected = 16 }, // a share of 2
			[]pkt{partial(0, 1, 0), partial(0, 2, 0)},
			[]pkt{partial(0, 3, idle)}, true, "", 0},
		{"host_at_share_others_idle", func(c *Config) { c.MaxInspected = 16 },
			[]pkt{partial(1, 1, 0), partial(2, 1, 0), partial(0, 1, reclaimIdle), partial(0, 2, reclaimIdle)},
			[]pkt{partial(0, 3, idle)}, false, "share", 0},
		{"buffers_taken", func(c *Config) { c.MaxBuffers = 2 },
			[]pkt{partial(0, 1, 0), partial(1, 1, 0)},
			[]pkt{partial(2, 1, idle)}, true, "", 0},
		// A segment past a hole is held in a buffer until the bytes
		// before it come.
		{"buffers_taken_by_a_held_segment", func(c *Config) { c.MaxBuffers = 1 },
			[]pkt{partial(0, 1, 0)},
			[]pkt{{1, 1, 1, "USER b\r\n", idle, false}, {1, 1, 20, "later", idle, false}}, true, "", 0},
		{"buffers_taken_not_by_the_first_idle", func(c *Config) { c.MaxBuffers = 1 },
			[]pkt{{0, 1, 1, "USER a\r\n", 0, false}, partial(1, 1, 0)},
			[]pkt{partial(2, 1, idle)}, true, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.TCPIdle = 10 * time.Minute
			tt.cfg(&cfg)
			r := &recorder{match: ContentMatch, lineMode: true}
			e := testEngine(t, cfg, r)
			hosts := distinctHosts(e, 5)
			send := func(p pkt) {
				q := seg(ToServer, p.seq, A, p.data, p.at)
				if p.udp {
					q.Kind, q.IPProto = KindUDP, IPProtocolUDP
				}
				q.Src, q.SrcPort = hosts[p.host], 40000+p.port
				e.HandlePacket(q)
				checkPools(t, e)
			}
			for _, p := range tt.hold {
				send(p)
			}
			held, closed := r.got[ToServer].Len(), r.closed
			lent := len(e.bufs.bufs) - len(e.bufs.free)
			for _, p := range tt.next {
				send(p)
			}
			read := r.got[ToServer].Len() > held
			if read != (tt.refused == "") || e.Stats.BufferFull != 0 || r.gaps[ToServer] != 0 {
				t.Errorf("new flow read: %v (%d refused for the cap, %d for the share), %d buffers missing, %d gaps; want read: %v",
					read, e.Stats.InspectLimit, e.Stats.HostLimit, e.Stats.BufferFull, r.gaps[ToServer], tt.refused == "")
			}
			if refused := map[string]uint64{"cap": e.Stats.InspectLimit, "share": e.Stats.HostLimit}; tt.refused != "" && refused[tt.refused] != 1 {
				t.Errorf("refused for the cap %d, for the share %d; want once for the %s", e.Stats.InspectLimit, e.Stats.HostLimit, tt.refused)
			}
			var want uint64
			if tt.reclaimed {
				want = 1
			}
			if e.Stats.Reclaimed != want || r.closed-closed != int(want) {
				t.Fatalf("%d inspections reclaimed, %d analyzers closed; want %d", e.Stats.Reclaimed, r.closed-closed, want)
			}
			if !tt.reclaimed {
				return
			}
			// The idle flow's analyzer was told its flow had not ended,
			// its buffer is back and wiped, and it is read no more; the
			// new flow's partial line took a buffer.
			if r.done != [2]bool{} {
				t.Errorf("Ended %v for a flow that goes on", r.done)
			}
			if n := len(e.bufs.bufs) - len(e.bufs.free); n != lent {
				t.Errorf("%d buffers lent, want %d: the idle flow's given back, the new one's taken", n, lent)
			}
			var stopped *Flow
			e.table.each(func(f *Flow) {
				if f.has(flagStopped) {
					stopped = f
				}
			})
			v := tt.hold[tt.victim]
			if stopped == nil || stopped.Client() != netip.AddrPortFrom(hosts[v.host], 40000+v.port) || stopped.insp != 0 {
				t.Fatalf("flow stopped: %v, want the idle one of host %d, without an inspection", stopped, v.host)
			}
			got := r.got[ToServer].Len()
			send(pkt{v.host, v.port, 11, "SS a\r\n", idle, false})
			if r.got[ToServer].Len() != got {
				t.Errorf("the flow that lost its inspection is still read")
			}
		})
	}
}

// TestHostBufferShare: a host holds at most its share of the stream
// buffers (an eighth, at least two), whether for partial lines or for
// segments held past a hole; its next partial line is read as after a
// gap, while another host's is kept whole. A minute later the host's
// new partial line takes the buffer of one of its own idle flows, not of
// another host's.
func TestHostBufferShare(t *testing.T) {
	const A = TCPFlagACK
	cfg := DefaultConfig()
	cfg.MaxBuffers = 32 // a share of 4
	r := &recorder{match: ContentMatch, lineMode: true}
	e := testEngine(t, cfg, r)
	if e.bufShare != 4 {
		t.Fatalf("share of %d buffers, want 4", e.bufShare)
	}
	hosts := distinctHosts(e, 2)
	greedy, other := hosts[0], hosts[1]
	send := func(host netip.Addr, port uint16, seq uint32, data string, at time.Duration) {
		p := seg(ToServer, seq, A, data, at)
		p.Src, p.SrcPort = host, port
		e.HandlePacket(p)
		checkPools(t, e)
	}
	// Two flows each with a partial line and a segment past a hole.
	for port := range uint16(2) {
		send(greedy, 1000+port, 1, "USER a\r\nPA", 0)
		send(greedy, 1000+port, 20, "x\r\n", 0)
	}
	send(greedy, 1002, 1, "USER a\r\nPA", time.Second)
	if e.Stats.HostBuffers != 1 || r.gaps[ToServer] != 1 || e.hosts[e.hostBucket(greedy)].bufs != 4 {
		t.Fatalf("%d buffers refused for the share, %d gaps, the host holds %d buffers; want 1, 1, 4",
			e.Stats.HostBuffers, r.gaps[ToServer], e.hosts[e.hostBucket(greedy)].bufs)
	}
	send(other, 2000, 1, "USER b\r\nPA", time.Second)
	send(other, 2000, 11, "SS b\r\n", time.Second)
	if got := r.got[ToServer].String(); !strings.HasSuffix(got, "USER b\r\nPASS b\r\n") || r.gaps[ToServer] != 1 {
		t.Fatalf("stream %q with %d gaps: another host's partial line was not kept", got, r.gaps[ToServer])
	}
	send(other, 2001, 1, "USER c\r\nPA", time.Second) // idle, beside the host's
	idle := reclaimIdle + 2*time.Second
	send(greedy, 1003, 1, "USER d\r\nPA", idle)
	send(greedy, 1003, 11, "SS d\r\n", idle)
	if got := r.got[ToServer].String(); !strings.HasSuffix(got, "USER d\r\nPASS d\r\n") || e.Stats.Reclaimed != 1 || e.Stats.HostBuffers != 1 {
		t.Fatalf("stream %q, %d reclaimed, %d refused for the share: want the host's own idle buffer taken", got, e.Stats.Reclaimed, e.Stats.HostBuffers)
	}
	var stopped *Flow
	e.table.each(func(f *Flow) {
		if f.has(flagStopped) {
			stopped = f
		}
	})
	if stopped == nil || stopped.Client().Addr() != greedy {
		t.Errorf("flow stopped: %v, want one of the host's idle ones", stopped)
	}
}

// TestUnopenedFlowsGiveWay: at its host's share, a new flow whose
// handshake was seen takes the inspection of one of the host's flows
// whose handshake was not, though it is not idle: of those weighed, the
// one fed longest ago. A new flow without a handshake takes none, and
// flows whose handshakes were seen keep theirs until they are idle.
func TestUnopenedFlowsGiveWay(t *testing.T) {
	const A = TCPFlagACK
	tests := []struct {
		name       string
		heldOpened bool // the flows holding the share had handshakes
		newOpened  bool // the new flow has one
		reclaimed  bool
		victimPort uint16
	}{
		{name: "opened_takes_unopened", newOpened: true, reclaimed: true, victimPort: 2},
		{name: "unopened_takes_none"},
		{name: "opened_keep_theirs", heldOpened: true, newOpened: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxInspected = 16 // a share of 2
			r := &recorder{match: ContentMatch, lineMode: true}
			e := testEngine(t, cfg, r)
			hosts := distinctHosts(e, 2)
			send := func(host int, port uint16, dir Dir, seq uint32, flags uint8, data string, at time.Duration) {
				p := seg(dir, seq, flags, data, at)
				if dir == ToServer {
					p.Src, p.SrcPort = hosts[host], 40000+port
				} else {
					p.Dst, p.DstPort = hosts[host], 40000+port
				}
				p.Ack = 500
				e.HandlePacket(p)
				checkPools(t, e)
			}
			open := func(host int, port uint16, at time.Duration) {
				send(host, port, ToServer, 0, TCPFlagSYN, "", at)
				send(host, port, ToClient, 499, TCPFlagSYN|A, "", at)
			}
			// Flow 1, the first the sweep weighs, is fed last: flow 2 is
			// idle longest. Another host's flow, idle longer still, is
			// not the host's to take.
			send(1, 1, ToServer, 1, A, "USER o\r\n", 0)
			for _, port := range []uint16{1, 2} {
				if tt.heldOpened {
					open(0, port, time.Second)
				}
				send(0, port, ToServer, 1, A, "USER a\r\n", time.Second)
			}
			send(0, 1, ToServer, 9, A, "PASS a\r\n", 10*time.Second)
			if tt.newOpened {
				open(0, 3, 20*time.Second)
			}
			send(0, 3, ToServer, 1, A, "USER b\r\n", 20*time.Second)
			read := strings.HasSuffix(r.got[ToServer].String(), "USER b\r\n")
			if read != tt.reclaimed || (e.Stats.Reclaimed == 1) != tt.reclaimed || (e.Stats.HostLimit == 1) == tt.reclaimed {
				t.Fatalf("new flow read: %v, %d inspections taken, %d refused for the share; want read: %v",
					read, e.Stats.Reclaimed, e.Stats.HostLimit, tt.reclaimed)
			}
			if !tt.reclaimed {
				return
			}
			var stopped []uint16
			e.table.each(func(f *Flow) {
				if f.has(flagStopped) {
					stopped = append(stopped, f.Client().Port()-40000)
				}
			})
			if len(stopped) != 1 || stopped[0] != tt.victimPort || r.done != [2]bool{} {
				t.Errorf("flows stopped %v, want the host's flow %d; Ended %v", stopped, tt.victimPort, r.done)
			}
		})
	}
}

// TestRefusedFlowsCountedOnce: a flow refused an inspection counts once
// among the refused flows, for the first reason it was refused, however
// many of its deliveries are refused (each counted in InspectLimit or
// HostLimit).
func TestRefusedFlowsCountedOnce(t *testing.T) {
	const A = TCPFlagACK
	cfg := DefaultConfig()
	cfg.MaxInspected = 8 // a share of 1
	r := &recorder{match: ContentMatch}
	e := testEngine(t, cfg, r)
	hosts := distinctHosts(e, 9)
	seqs := map[[2]int]uint32{}
	send := func(host int, port uint16, n int) {
		for range n {
			k := [2]int{host, int(port)}
			seqs[k]++
			p := seg(ToServer, seqs[k], A, "x", time.Second)
			p.Src, p.SrcPort = hosts[host], port
			e.HandlePacket(p)
		}
	}
	send(0, 1000, 1)
	send(0, 1001, 50) // a bulk upload past the host's share
	for h := 1; h < 8; h++ {
		send(h, 1000, 1)
	}
	send(8, 1000, 30) // every inspection busy
	send(0, 1001, 20) // the same flow, now refused for the cap
	if s := e.Stats; s.FlowsRefusedShare != 1 || s.FlowsRefusedBusy != 1 || s.HostLimit != 50 || s.InspectLimit != 50 {
		t.Errorf("refused flows: %d for the share, %d for the cap; deliveries %d, %d; want 1, 1, 50, 50",
			s.FlowsRefusedShare, s.FlowsRefusedBusy, s.HostLimit, s.InspectLimit)
	}
}

// TestReclaimSweepGoesRound: each try weighs the next reclaimScan
// inspections, so successive tries weigh them all: a new flow finds the
// idle ones though the first it weighs are busy.
func TestReclaimSweepGoesRound(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxInspected = 2 * reclaimScan
	r := &recorder{match: ContentMatch, lineMode: true}
	e := testEngine(t, cfg, r)
	hosts := distinctHosts(e, 2*reclaimScan+1)
	for h := range 2 * reclaimScan {
		sendFrom(e, hosts[h], 1, "USER a\r\n", 0)
	}
	for h := range reclaimScan { // the first weighed are busy again
		sendFrom(e, hosts[h], 9, "PASS a\r\n", reclaimIdle)
	}
	newcomer := 2 * reclaimScan
	sendFrom(e, hosts[newcomer], 1, "USER b\r\n", reclaimIdle+time.Second)
	if e.Stats.Reclaimed != 0 || e.Stats.InspectLimit != 1 {
		t.Fatalf("%d reclaimed, %d refused: the first try should weigh the busy inspections only", e.Stats.Reclaimed, e.Stats.InspectLimit)
	}
	sendFrom(e, hosts[newcomer], 9, "PASS b\r\n", reclaimIdle+time.Second)
	if !strings.HasSuffix(r.got[ToServer].String(), "PASS b\r\n") || e.Stats.Reclaimed != 1 {
		t.Errorf("%d reclaimed, stream %q: the second try did not come to the idle inspections", e.Stats.Reclaimed, r.got[ToServer].String())
	}
}

// TestReclaimAfterClockStepsBack: an inspection fed before the capture
// clock stepped back counts as idle from the step, as expire counts its
// flow: it is taken a minute after the step, not a minute after the
// time it was fed.
func TestReclaimAfterClockStepsBack(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxInspected = 1
	r := &recorder{match: ContentMatch, lineMode: true}
	e := testEngine(t, cfg, r)
	hosts := distinctHosts(e, 2)
	sendFrom(e, hosts[0], 1, "USER a\r\n", 5*time.Hour) // the clock ran ahead
	sendFrom(e, hosts[1], 1, "USER b\r\n", 0)           // stepped back: the one inspection is busy
	sendFrom(e, hosts[1], 9, "PASS b\r\n", reclaimIdle+time.Second)
	if got := r.got[ToServer].String(); got != "USER a\r\nPASS b\r\n" || e.Stats.Reclaimed != 1 {
		t.Errorf("stream %q, %d reclaimed: the inspection fed before the step was not idle a minute after it", got, e.Stats.Reclaimed)
	}
}

// TestReclaimWhileClosing: a flow closing (FINs both ways) hands on its
// held segment, whose partial line needs a stream buffer, and none is
// free: an idle flow's inspection is taken. That flow did not end, and
// its analyzer must not be told it did, though the engine is closing a
// flow at that moment.
func TestReclaimWhileClosing(t *testing.T) {
	const A = TCPFlagACK
	cfg := DefaultConfig()
	cfg.MaxBuffers = 16 // a host's share is 2
	r := &recorder{match: ContentMatch, lineMode: true}
	e := testEngine(t, cfg, r)
	hosts := distinctHosts(e, 16)
	send := func(h int, dir Dir, seq uint32, flags uint8, data string, at time.Duration) {
		p := seg(dir, seq, flags, data, at)
		if dir == ToServer {
			p.Src = hosts[h]
		} else {
			p.Dst = hosts[h]
		}
		e.HandlePacket(p)
		checkPools(t, e)
	}
	for h := 1; h < 16; h++ { // fifteen idle partial lines, a buffer each
		send(h, ToServer, 1, A, "USER a\r\nPA", 0)
	}
	at := reclaimIdle + time.Second
	send(0, ToServer, 1, A, "USER b\r\n", at)
	send(0, ToServer, 14, A, "SS b", at) // past a hole: the last buffer
	send(0, ToServer, 18, TCPFlagFIN|A, "", at)
	send(0, ToClient, 500, TCPFlagFIN|A, "", at)
	if e.Stats.Reclaimed != 1 || len(r.dones) != 2 {
		t.Fatalf("%d reclaimed, %d analyzers closed; want the idle one's and the closing one's", e.Stats.Reclaimed, len(r.dones))
	}
	if r.dones[0] != [2]bool{} {
		t.Errorf("the idle flow's analyzer was told its directions ended: %v", r.dones[0])
	}
}

// TestMappedClientIsOneHost: an IPv4 client, plain or IPv6-mapped (a
// dual-stack capture), counts in one bucket, so it has one share.
func TestMappedClientIsOneHost(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxInspected = 8 // a share of 1
	e := testEngine(t, cfg, &recorder{match: ContentMatch})
	plain, mapped := netip.MustParseAddr("192.168.1.10"), netip.MustParseAddr("::ffff:192.168.1.10")
	if e.hostBucket(plain) != e.hostBucket(mapped) {
		t.Fatalf("buckets %d and %d for one host", e.hostBucket(plain), e.hostBucket(mapped))
	}
	e.HandlePacket(seg(ToServer, 1, TCPFlagACK, "x", 0))
	p := seg(ToServer, 1, TCPFlagACK, "x", 0)
	p.Src, p.Dst = mapped, netip.MustParseAddr("2001:db8::1")
	e.HandlePacket(p)
	checkPools(t, e)
	if e.Stats.HostLimit != 1 || e.insps.inUse() != 1 {
		t.Errorf("%d refused for the share, %d inspected: the mapped client took a share of its own", e.Stats.HostLimit, e.insps.inUse())
	}
}

// TestIdleUDPGivesWay: a UDP flow without a datagram for reclaimIdleUDP
// gives its inspection to a new flow that finds none free, so datagrams
// from many forged addresses cannot hold every inspection for the UDP
// idle timeout; a conversation of the whole link (broadcast, multicast,
// a DHCP client without an address) keeps its own.
func TestIdleUDPGivesWay(t *testing.T) {
	addr := netip.MustParseAddr
	for _, tc := range []struct {
		name           string
		client, server netip.Addr
		after          time.Duration
		taken          bool
	}{
		{"unicast_idle", addr("192.168.1.77"), addr("203.0.113.5"), reclaimIdleUDP + time.Second, true},
		{"unicast_not_idle_yet", addr("192.168.1.77"), addr("203.0.113.5"), reclaimIdleUDP - time.Second, false},
		{"broadcast", addr("192.168.1.77"), addr("255.255.255.255"), reclaimIdle + time.Second, false},
		{"multicast", addr("192.168.1.77"), addr("224.0.0.251"), reclaimIdle + time.Second, false},
		{"dhcp_client_without_address", addr("0.0.0.0"), addr("192.168.1.1"), reclaimIdle + time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxInspected, cfg.UDPIdle = 1, 10*time.Minute
			r := &recorder{match: ContentMatch, lineMode: true}
			e := testEngine(t, cfg, r)
			q := seg(ToServer, 0, 0, "query\n", 0)
			q.Kind, q.IPProto = KindUDP, IPProtocolUDP
			q.Src, q.Dst = tc.client, tc.server
			e.HandlePacket(q)
			held := r.got[ToServer].Len()
			open := []*Packet{seg(ToServer, 99, TCPFlagSYN, "", tc.after), seg(ToServer, 100, TCPFlagACK, "USER a\r\n", tc.after)}
			for _, p := range open {
				p.Src = addr("192.168.1.88")
				e.HandlePacket(p)
			}
			checkPools(t, e)
			if taken := r.got[ToServer].Len() > held; taken != tc.taken || (e.Stats.Reclaimed == 1) != tc.taken {
				t.Errorf("the new flow read: %v, %d inspections taken; want taken: %v", taken, e.Stats.Reclaimed, tc.taken)
			}
		})
	}
}

// linkWidePacket is a packet from host's port to server: a UDP datagram,
// or a TCP segment (ACK and flags) of a connection the capture joined.
func linkWidePacket(host netip.Addr, port uint16, server netip.AddrPort, tcp bool, flags uint8, data string, at time.Duration) *Packet {
	p := seg(ToServer, 1, TCPFlagACK|flags, data, at)
	if !tcp {
		p.Kind, p.IPProto, p.TCPFlags = KindUDP, IPProtocolUDP, 0
	}
	p.Src, p.SrcPort, p.Dst, p.DstPort = host, port, server.Addr(), server.Port()
	return p
}

// TestLinkWidePart: link-wide flows (to a group, or from a client
// without an address) hold at most a quarter of MaxInspected between
// them, whatever the number of their hosts. Beyond it a new one takes the
// inspection of one idle for reclaimIdleUDP, or is refused and counted,
// while other flows are inspected; other flows never take theirs.
func TestLinkWidePart(t *testing.T) {
	ssdp := netip.MustParseAddrPort("239.255.255.250:1900")
	mdns := netip.MustParseAddrPort("[ff02::fb]:5353")
	unicast := netip.MustParseAddrPort("192.168.1.1:53")
	type flow struct {
		server netip.AddrPort
		at     time.Duration
		tcp    bool // joined TCP; else UDP
	}
	tests := []struct {
		name string
		// held are the flows of the first hosts at the start, one each;
		// then those of the next hosts.
		held, then []flow
		refused    uint64 // flows refused for the link-wide part
		reclaimed  uint64
		linkWide   uint32 // link-wide inspections at the end
		inspected  int
	}{
		{name: "within_the_part",
			held: []flow{{ssdp, 0, false}, {mdns, 0, false}, {ssdp, 0, true}},
			then: []flow{{ssdp, time.Second, false}}, linkWide: 4, inspected: 4},
		{name: "beyond_the_part",
			held: []flow{{ssdp, 0, false}, {mdns, 0, false}, {ssdp, 0, false}, {mdns, 0, false}},
			then: []flow{{ssdp, time.Second, false}, {mdns, time.Second, false}, {ssdp, time.Second, true}},
			// Other flows are still inspected.
			refused: 3, linkWide: 4, inspected: 4},
		{name: "unicast_beside_a_held_part",
			held:    []flow{{ssdp, 0, false}, {mdns, 0, false}, {ssdp, 0, false}, {mdns, 0, false}},
			then:    []flow{{ssdp, time.Second, false}, {unicast, time.Second, false}, {unicast, time.Second, true}},
			refused: 1, linkWide: 4, inspected: 6},
		{name: "idle_one_taken",
			held:      []flow{{ssdp, 0, false}, {mdns, 0, false}, {ssdp, 0, false}, {mdns, 0, false}},
			then:      []flow{{ssdp, reclaimIdleUDP + time.Second, false}, {mdns, reclaimIdleUDP + time.Second, true}},
			reclaimed: 2, linkWide: 4, inspected: 4},
		{name: "none_idle_yet",
			held:    []flow{{ssdp, 0, false}, {mdns, 0, false}, {ssdp, 0, false}, {mdns, 0, false}},
			then:    []flow{{ssdp, reclaimIdleUDP - time.Second, false}},
			refused: 1, linkWide: 4, inspected: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxInspected = 16 // a part of 4, a share of 2
			cfg.UDPIdle = time.Hour
			e := testEngine(t, cfg, &recorder{match: ContentMatch})
			hosts := distinctHosts(e, len(tt.held)+len(tt.then))
			for i, fl := range append(tt.held, tt.then...) {
				e.HandlePacket(linkWidePacket(hosts[i], 40000, fl.server, fl.tcp, 0, "x\n", fl.at))
				checkPools(t, e)
			}
			s := e.Stats
			if s.FlowsRefusedLinkWide != tt.refused || s.LinkWideLimit != tt.refused || s.FlowsRefusedBusy+s.FlowsRefusedShare != 0 ||
				s.Reclaimed != tt.reclaimed || e.linkWide != tt.linkWide || e.insps.inUse() != tt.inspected {
				t.Errorf("refused %d for the part (%d deliveries), %d else, %d taken, %d link-wide of %d inspected; want %d, %d, 0, %d, %d of %d",
					s.FlowsRefusedLinkWide, s.LinkWideLimit, s.FlowsRefusedBusy+s.FlowsRefusedShare, s.Reclaimed, e.linkWide, e.insps.inUse(),
					tt.refused, tt.refused, tt.reclaimed, tt.linkWide, tt.inspected)
			}
		})
	}
}

// TestLinkWideCountReturnsToZero ends link-wide inspections every way
// an inspection can end: the count of them goes back to zero. A leak
// would shrink the link-wide part for good, until no device's discovery
// were read; a count taken back twice would wrap and refuse them all at
// once. Whether a flow is link-wide is kept from the inspection's start,
// so that LAN prefixes changed meanwhile do not change what its end
// takes back.
func TestLinkWideCountReturnsToZero(t *testing.T) {
	group := netip.MustParseAddrPort("239.255.255.250:1900")
	// A broadcast address only once its prefix is on the LAN.
	broadcast := netip.MustParseAddrPort("100.64.1.255:9")
	onLink := []netip.Prefix{netip.MustParsePrefix("100.64.1.0/24")}
	// send sends p, from host h (of the first four) to the flow's server.
	type sender func(h int, p *Packet)
	tests := []struct {
		name   string
		tcp    bool
		server netip.AddrPort
		before func(e *Engine) // before the flows start
		// unicast: the flows start as unicast ones, link-wide only
		// once their server's prefix is on the LAN
		unicast bool
		protos  []Protocol // nil: a line protocol with STARTTLS, and TLS
		then    func(e *Engine, send sender, server netip.AddrPort)
	}{
		{name: "reset", tcp: true, server: group, then: func(_ *Engine, send sender, _ netip.AddrPort) {
			for h := range 4 {
				send(h, &Packet{TCPFlags: TCPFlagRST, Seq: 3})
			}
		}},
		{name: "expired", server: group, then: func(e *Engine, _ sender, _ netip.AddrPort) {
			e.HandlePacket(seg(ToServer, 1, TCPFlagSYN, "", 2*time.Hour))
		}},
		{name: "evicted", server: group, then: func(e *Engine, _ sender, _ netip.AddrPort) {
			// Later inspected flows of other hosts push the older ones out.
			for _, h := range distinctHosts(e, 20)[4:] {
				sendFrom(e, h, 1, "z\n", 2*time.Second)
				checkPools(t, e)
			}
		}},
		{name: "analyzer_stops", server: group, protos: []Protocol{upgradeProto{"line"}}, then: func(_ *Engine, send sender, _ netip.AddrPort) {
			// STARTTLS without a TLS protocol stops inspection.
			for h := range 4 {
				send(h, &Packet{Payload: []byte("STARTTLS\r\n")})
			}
		}},
		{name: "starttls_then_reset", tcp: true, server: group, then: func(e *Engine, send sender, _ netip.AddrPort) {
			for h := range 4 {
				send(h, &Packet{Seq: 3, Payload: []byte("STARTTLS\r\n")})
			}
			if e.linkWide != 4 {
				t.Errorf("%d link-wide inspections after STARTTLS, want the 4 handed to TLS", e.linkWide)
			}
			for h := range 4 {
				send(h, &Packet{TCPFlags: TCPFlagRST, Seq: 13})
			}
		}},
		{name: "analyzer_panics", server: group, protos: []Protocol{&boom{}}, then: func(_ *Engine, send sender, _ netip.AddrPort) {
			for h := range 4 {
				send(h, &Packet{Payload: []byte("feed!...")})
			}
		}},
		{name: "idle_ones_taken_then_stopped", server: group, protos: []Protocol{upgradeProto{"line"}}, then: func(e *Engine, _ sender, server netip.AddrPort) {
			// Four more hosts take the idle ones' inspections, then stop.
			hosts := distinctHosts(e, 8)[4:]
			for _, data := range []string{"x\n", "STARTTLS\r\n"} {
				for _, h := range hosts {
					e.HandlePacket(linkWidePacket(h, 40000, server, false, 0, data, reclaimIdleUDP+time.Second))
					checkPools(t, e)
				}
			}
			if e.Stats.Reclaimed != 4 {
				t.Errorf("%d inspections taken, want the 4 idle ones", e.Stats.Reclaimed)
			}
		}},
		{name: "flushed", server: group, then: func(e *Engine, _ sender, _ netip.AddrPort) { e.Flush() }},
		{name: "prefix_on_the_lan_later", tcp: true, server: broadcast, unicast: true, then: func(e *Engine, send sender, _ netip.AddrPort) {
			e.SetOnLink(onLink)
			for h := range 4 {
				send(h, &Packet{TCPFlags: TCPFlagRST, Seq: 3})
			}
		}},
		{name: "prefix_off_the_lan_later", tcp: true, server: broadcast, before: func(e *Engine) { e.SetOnLink(onLink) },
			then: func(e *Engine, send sender, _ netip.AddrPort) {
				e.SetOnLink(nil)
				for h := range 4 {
					send(h, &Packet{TCPFlags: TCPFlagRST, Seq: 3})
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxFlows, cfg.MaxInspected = 16, 16 // a part of 4
			cfg.HashKey = []byte("engine test key")
			e, panics := upgradeEngine(t, cfg, tt.protos)
			if tt.before != nil {
				tt.before(e)
			}
			hosts := distinctHosts(e, 4)
			send := func(h int, p *Packet) {
				q := linkWidePacket(hosts[h], 40000, tt.server, tt.tcp, p.TCPFlags, string(p.Payload), time.Second)
				q.Seq = p.Seq
				e.HandlePacket(q)
				checkPools(t, e)
			}
			for h := range 4 {
				send(h, &Packet{Payload: []byte("x\n")})
			}
			if want := map[bool]uint32{false: 4, true: 0}[tt.unicast]; e.linkWide != want {
				t.Fatalf("%d link-wide inspections, want %d", e.linkWide, want)
			}
			tt.then(e, send, tt.server)
			if e.linkWide != 0 {
				t.Errorf("%d link-wide inspections counted after their flows' ends", e.linkWide)
			}
			if tt.name == "analyzer_panics" && *panics != 4 {
				t.Errorf("%d panics survived, want 4", *panics)
			}
			e.Flush()
			checkPools(t, e)
		})
	}
}

// TestStartTLSKeepsItsSeat: the TLS inspection a STARTTLS hands over
// takes the seat the plaintext one gave back, link-wide or not as the
// flow was at its start, though LAN prefixes changed in between: else a
// flow whose server became a broadcast address took a link-wide
// inspection beyond the part, and one whose server stopped being one
// left its TLS inspection out of the count.
func TestStartTLSKeepsItsSeat(t *testing.T) {
	group := netip.MustParseAddrPort("239.255.255.250:1900")
	// A broadcast address only while its prefix is on the LAN.
	broadcast := netip.MustParseAddrPort("100.64.1.255:9")
	onLink := []netip.Prefix{netip.MustParsePrefix("100.64.1.0/24")}
	tests := []struct {
		name         string
		before, then []netip.Prefix // on the LAN before the flows, and before STARTTLS
		groups       int            // other link-wide flows
	}{
		{name: "prefix_on_the_lan_later", then: onLink, groups: 4},
		{name: "prefix_off_the_lan_later", before: onLink, groups: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxFlows, cfg.MaxInspected = 16, 16 // a part of 4
			cfg.HashKey = []byte("engine test key")
			e, _ := upgradeEngine(t, cfg, nil)
			e.SetOnLink(tt.before)
			hosts := distinctHosts(e, tt.groups+1)
			for _, h := range hosts[:tt.groups] {
				e.HandlePacket(linkWidePacket(h, 40000, group, false, 0, "x\n", time.Second))
			}
			tls := hosts[tt.groups]
			e.HandlePacket(linkWidePacket(tls, 40000, broadcast, true, 0, "x\n", time.Second))
			checkPools(t, e)
			want := e.linkWide
			e.SetOnLink(tt.then)
			p := linkWidePacket(tls, 40000, broadcast, true, 0, "STARTTLS\r\n", 2*time.Second)
			p.Seq = 3
			e.HandlePacket(p)
			checkPools(t, e)
			if e.linkWide != want || e.insps.inUse() != tt.groups+1 {
				t.Errorf("%d link-wide inspections of %d after STARTTLS, want %d of %d", e.linkWide, e.insps.inUse(), want, tt.groups+1)
			}
		})
	}
}

// upgradeEngine builds an engine for cfg reading protos, by default a
// line protocol that upgrades to TLS, and counting the panics it
// survives.
func upgradeEngine(t *testing.T, cfg Config, protos []Protocol) (*Engine, *int) {
	t.Helper()
	if protos == nil {
		protos = []Protocol{upgradeProto{"line"}, upgradeProto{"tls"}}
	}
	panics := new(int)
	e, err := NewEngine(cfg, Options{Protocols: protos, Sink: &discard{}, OnPanic: func(Panic) { *panics++ }})
	if err != nil {
		t.Fatal(err)
	}
	return e, panics
}
