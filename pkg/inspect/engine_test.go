package inspect

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/event"
)

// recorder is a Protocol whose analyzers keep what they are fed and
// consume only whole lines, to exercise the engine's stream buffering.
type recorder struct {
	got      [2]bytes.Buffer
	gaps     [2]int
	closed   int
	started  int
	ended    int
	match    Confidence
	stopAt   int // StopInspection after this many bytes to the server; 0: never
	lineMode bool
	done     [2]bool   // Flow.Ended per direction when the analyzer closed
	dones    [][2]bool // done of every analyzer closed, in order
}

func (r *recorder) Name() string { return "rec" }
func (r *recorder) Match(*Flow, Dir, []byte) Confidence {
	return r.match
}
func (r *recorder) NewAnalyzer(*Flow) Analyzer { return &recAnalyzer{r: r} }
func (r *recorder) FlowStarted(*Flow)          { r.started++ }
func (r *recorder) FlowClosed(*Flow)           { r.ended++ }

type recAnalyzer struct{ r *recorder }

func (a *recAnalyzer) Feed(f *Flow, dir Dir, data []byte) int {
	n := len(data)
	if a.r.lineMode {
		n = bytes.LastIndexByte(data, '\n') + 1
	}
	a.r.got[dir].Write(data[:n])
	if a.r.stopAt > 0 && a.r.got[ToServer].Len() >= a.r.stopAt {
		f.StopInspection()
	}
	return n
}
func (a *recAnalyzer) Gap(_ *Flow, dir Dir) { a.r.gaps[dir]++ }
func (a *recAnalyzer) Close(f *Flow) {
	a.r.closed++
	a.r.done = [2]bool{f.Ended(ToServer), f.Ended(ToClient)}
	a.r.dones = append(a.r.dones, a.r.done)
}

type discard struct{ n int }

func (d *discard) Emit(*event.Event) { d.n++ }

func testEngine(t testing.TB, cfg Config, protos ...Protocol) *Engine {
	t.Helper()
	cfg.HashKey = []byte("engine test key")
	e, err := NewEngine(cfg, Options{Protocols: protos, Sink: &discard{}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// seg builds a TCP packet; client is 192.168.1.10:40000, server
// 203.0.113.5:21.
func seg(dir Dir, seq uint32, flags uint8, data string, at time.Duration) *Packet {
	p := &Packet{Timestamp: t0.Add(at), Kind: KindTCP, IPProto: IPProtocolTCP, TCPFlags: flags, Seq: seq, Payload: []byte(data)}
	c, s := netip.MustParseAddrPort("192.168.1.10:40000"), netip.MustParseAddrPort("203.0.113.5:21")
	if dir == ToClient {
		c, s = s, c
	}
	p.Src, p.SrcPort, p.Dst, p.DstPort = c.Addr(), c.Port(), s.Addr(), s.Port()
	return p
}

// play runs pkts through a new engine whose one protocol is r.
func play(t testing.TB, cfg Config, r *recorder, pkts ...*Packet) *Engine {
	t.Helper()
	e := testEngine(t, cfg, r)
	for _, p := range pkts {
		e.HandlePacket(p)
	}
	return e
}

func TestStreamReassembly(t *testing.T) {
	const A = TCPFlagACK
	withAck := func(p *Packet, ack uint32) *Packet { p.Ack = ack; return p }
	tests := []struct {
		name     string
		pkts     []*Packet
		lineMode bool
		want     string
		gaps     int
	}{
		{"in_order", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 102, A, "cd", 2)}, false, "abcd", 0},
		{"retransmission_dropped", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 100, A, "ab", 2), seg(ToServer, 102, A, "cd", 3)}, false, "abcd", 0},
		{"overlap_keeps_new_tail", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 101, A, "bcd", 2)}, false, "abcd", 0},
		// A segment past a hole waits for the hole's bytes; when they do
		// not come (the capture ends), the hole is a gap.
		{"gap_reported", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 110, A, "zz", 2)}, false, "abzz", 1},
		{"held_segment_continued", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 110, A, "zz", 2), seg(ToServer, 112, A, "yy", 3)}, false, "abzzyy", 1},
		{"two_holes", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 110, A, "zz", 2), seg(ToServer, 120, A, "yy", 3)}, false, "abzzyy", 2},
		{"swapped_segments_reordered", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "USER a\r\n", 1), seg(ToServer, 116, A, "ret\r\n", 2), seg(ToServer, 108, A, "PASS sec", 3)}, false, "USER a\r\nPASS secret\r\n", 0},
		// A FIN says nothing comes after it, not that nothing comes
		// before it: the hole in front of it is filled when its bytes come.
		{"fin_with_data_overtakes_the_hole", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "USER a\r\n", 1), seg(ToServer, 116, TCPFlagFIN|A, "ret\r\n", 2), seg(ToServer, 108, A, "PASS sec", 3)}, false, "USER a\r\nPASS secret\r\n", 0},
		{"bare_fin_behind_a_held_segment", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "USER a\r\n", 1), seg(ToServer, 116, A, "ret\r\n", 2), seg(ToServer, 121, TCPFlagFIN|A, "", 2), seg(ToServer, 108, A, "PASS sec", 3)}, false, "USER a\r\nPASS secret\r\n", 0},
		{"hole_before_a_fin_never_filled", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "USER a\r\n", 1), seg(ToServer, 116, TCPFlagFIN|A, "ret\r\n", 2)}, false, "USER a\r\nret\r\n", 1},
		// After a loss, fast retransmit repairs the hole once three
		// duplicate ACKs came, so three or more segments past it come
		// first: they join the held one.
		{"fast_retransmit", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), withAck(seg(ToClient, 499, TCPFlagSYN|A, "", 0), 100),
			seg(ToServer, 100, A, "GET / HT", 1),
			seg(ToServer, 116, A, "Authoriz", 2), withAck(seg(ToClient, 500, A, "", 2), 108),
			seg(ToServer, 124, A, "ation: B", 3), withAck(seg(ToClient, 500, A, "", 3), 108),
			seg(ToServer, 132, A, "asic eA==", 4), withAck(seg(ToClient, 500, A, "", 4), 108),
			seg(ToServer, 108, A, "TP/1.1\r\n", 5)}, false, "GET / HTTP/1.1\r\nAuthorization: Basic eA==", 0},
		{"held_in_reverse_order", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1),
			seg(ToServer, 106, A, "gh", 2), seg(ToServer, 104, A, "ef", 3), seg(ToServer, 103, A, "def", 4), seg(ToServer, 102, A, "c", 5)}, false, "abcdefgh", 0},
		{"duplicate_of_the_held_segment_dropped", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "USER a\r\n", 1),
			seg(ToServer, 116, A, "ret\r\n", 2), seg(ToServer, 116, A, "ret\r\n", 2), seg(ToServer, 117, A, "et", 2), seg(ToServer, 108, A, "PASS sec", 3)}, false, "USER a\r\nPASS secret\r\n", 0},
		// What is held fits one stream buffer: a segment that does not
		// declares the hole a gap.
		{"held_bytes_fill_the_buffer", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1),
			seg(ToServer, 110, A, strings.Repeat("x", 4000), 2), seg(ToServer, 4110, A, strings.Repeat("y", 200), 3), seg(ToServer, 102, A, "cdefghij", 4)},
			false, "ab" + strings.Repeat("x", 4000) + strings.Repeat("y", 200), 1},
		{"held_segment_overlapped_by_the_late_one", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 103, A, "def", 2), seg(ToServer, 102, A, "cde", 3)}, false, "abcdef", 0},
		// With the other direction captured, a segment past a hole that
		// cannot be held and that no ACK shows lost is not the stream's:
		// dropped, as a receiver drops it, however often it comes.
		{"forged_far_ahead_dropped", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToClient, 499, TCPFlagSYN|A, "", 0),
			seg(ToServer, 100+1<<30, A, "junk\n", 1), seg(ToServer, 100+1<<30, A, "junk\n", 1), seg(ToServer, 100+1<<30, A, "junk\n", 1), seg(ToServer, 100+1<<30, A, "junk\n", 1),
			seg(ToServer, 100, A, "USER root\r\n", 2), seg(ToServer, 111, A, "PASS xc3511\r\n", 3)}, false, "USER root\r\nPASS xc3511\r\n", 0},
		{"forged_within_reach_dropped_behind_a_held_one", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToClient, 499, TCPFlagSYN|A, "", 0),
			seg(ToServer, 100, A, "hi\r\n", 1), seg(ToServer, 100+70000, A, "junk\n", 1), seg(ToServer, 104, A, "USER root\r\n", 2), seg(ToServer, 115, A, "PASS xc3511\r\n", 3)}, false, "hi\r\nUSER root\r\nPASS xc3511\r\n", 0},
		// Without it, nothing can tell loss from forgery: the stream goes
		// on from the segment.
		{"one_direction_captured_goes_on", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1),
			seg(ToServer, 100+2<<20, A, "w", 2), seg(ToServer, 101+2<<20, A, "x", 3)}, false, "abwx", 1},
		// A held segment reaching into the one that declares the gap is
		// not read twice.
		{"held_overlapping_the_next", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1),
			seg(ToServer, 110, A, "0123456789", 2), seg(ToServer, 115, A, "56789XYZ", 3)}, false, "ab0123456789XYZ", 1},
		// A SYN with another sequence number in a direction that carried
		// data is not the stream's; data on a SYN (TCP Fast Open) is.
		{"syn_midstream_ignored", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 4999, TCPFlagSYN, "", 2), seg(ToServer, 102, A, "cd", 3)}, false, "abcd", 0},
		{"syn_midstream_data_dropped", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 99, TCPFlagSYN, "INJECT", 2), seg(ToServer, 102, A, "cd", 3)}, false, "abcd", 0},
		{"fast_open_data", []*Packet{seg(ToServer, 99, TCPFlagSYN, "ab", 0), seg(ToServer, 102, A, "cd", 1)}, false, "abcd", 0},
		{"midstream_pickup", []*Packet{seg(ToServer, 5000, A, "xy", 1), seg(ToServer, 5002, A, "z", 2)}, false, "xyz", 0},
		{"seq_wraparound", []*Packet{seg(ToServer, 0xfffffffe, A, "ab", 1), seg(ToServer, 0, A, "cd", 2)}, false, "abcd", 0},
		// 2^31 behind: the distance is math.MinInt32, whose negation overflows.
		{"seq_half_space_behind", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "ab", 1), seg(ToServer, 102+0x80000000, A, "zz", 2), seg(ToServer, 102, A, "cd", 3)}, false, "abcd", 0},
		{"lines_split_across_segments", []*Packet{seg(ToServer, 100, A, "US", 1), seg(ToServer, 102, A, "ER a\r", 2), seg(ToServer, 107, A, "\nPASS", 3), seg(ToServer, 112, A, " b\n", 4)}, true, "USER a\r\nPASS b\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{match: ContentMatch, lineMode: tt.lineMode}
			e := play(t, DefaultConfig(), r, tt.pkts...)
			e.Flush()
			if got := r.got[ToServer].String(); got != tt.want {
				t.Errorf("stream = %q, want %q", got, tt.want)
			}
			if r.gaps[ToServer] != tt.gaps {
				t.Errorf("gaps = %d, want %d", r.gaps[ToServer], tt.gaps)
			}
		})
	}
}

// TestEnded: a direction's end is real when its stream reached the
// close - its FIN, or the flow's close by RST, idle timeout or Flush -
// without a gap, a budget stop or stopped inspection; a FIN or RST
// numbered after the bytes read, or an acknowledgement of bytes never
// captured, means its tail was lost.
func TestEnded(t *testing.T) {
	const (
		A = TCPFlagACK
		F = TCPFlagFIN | TCPFlagACK
		R = TCPFlagRST | TCPFlagACK
	)
	big := string(bytes.Repeat([]byte("b"), 300))
	acking := func(p *Packet, ack uint32) *Packet { p.Ack = ack; return p }
	tests := []struct {
		name   string
		pkts   []*Packet
		stopAt int
		want   [2]bool
	}{
		{"both_fin", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToClient, 500, A, "ok", 2), seg(ToServer, 102, F, "", 3), seg(ToClient, 502, F, "", 4)}, 0, [2]bool{true, true}},
		{"fin_with_data", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToClient, 500, F, "ok", 2), seg(ToServer, 102, F, "cd", 3)}, 0, [2]bool{true, true}},
		{"reset", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToClient, 500, R, "", 2)}, 0, [2]bool{true, true}},
		{"reset_by_sender", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToServer, 102, R, "", 2)}, 0, [2]bool{true, true}},
		{"reset_after_own_fin", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToServer, 102, F, "", 2), seg(ToServer, 103, TCPFlagRST, "", 3)}, 0, [2]bool{true, true}},
		{"idle_or_flush", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToClient, 500, A, "ok", 2)}, 0, [2]bool{true, true}},
		{"budget_cut_then_fin", []*Packet{seg(ToServer, 100, A, big, 1), seg(ToServer, 400, A, big, 2), seg(ToClient, 500, F, "", 3), seg(ToServer, 700, F, "", 4)}, 0, [2]bool{false, true}},
		{"budget_cut_then_reset", []*Packet{seg(ToServer, 100, A, big, 1), seg(ToServer, 400, A, big, 2), seg(ToClient, 500, R, "", 3)}, 0, [2]bool{false, true}},
		{"fin_after_lost_tail", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToServer, 110, F, "", 2), seg(ToClient, 500, F, "", 3)}, 0, [2]bool{false, true}},
		{"fin_with_data_after_lost_bytes", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToServer, 110, F, "cd", 2), seg(ToClient, 500, F, "", 3)}, 0, [2]bool{true, true}},
		{"reset_after_lost_tail", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToServer, 110, R, "", 2)}, 0, [2]bool{false, true}},
		{"peer_acks_lost_tail", []*Packet{seg(ToServer, 100, A, "ab", 1), acking(seg(ToClient, 500, R, "", 2), 110)}, 0, [2]bool{false, true}},
		{"peer_acks_what_was_read", []*Packet{seg(ToServer, 100, A, "ab", 1), acking(seg(ToClient, 500, R, "", 2), 102)}, 0, [2]bool{true, true}},
		{"peer_acks_fin", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToServer, 102, F, "", 2), acking(seg(ToClient, 500, F, "", 3), 103)}, 0, [2]bool{true, true}},
		{"fin_overtakes_the_bytes_before_it", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToServer, 104, F, "ef", 2), seg(ToServer, 102, A, "cd", 3), seg(ToClient, 500, F, "", 4)}, 0, [2]bool{true, true}},
		{"reordered_tail_before_close", []*Packet{seg(ToServer, 100, A, "ab", 1), seg(ToServer, 104, F, "", 2), seg(ToServer, 102, A, "cd", 3), seg(ToClient, 500, F, "", 4)}, 0, [2]bool{true, true}},
		{"stopped_before_close", []*Packet{seg(ToClient, 500, F, "ok", 1), seg(ToServer, 100, A, "abcdef", 2)}, 4, [2]bool{false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ByteBudget = 500
			r := &recorder{match: ContentMatch, stopAt: tt.stopAt}
			e := testEngine(t, cfg, r)
			for _, p := range tt.pkts {
				e.HandlePacket(p)
			}
			e.Flush()
			if r.closed != 1 || r.done != tt.want {
				t.Errorf("closed %d, ended %v; want 1, %v", r.closed, r.done, tt.want)
			}
		})
	}
}

// TestEndedAfterGap: a gap with nothing read after it leaves the
// direction's end a cut; data read after the gap reaches the real end.
func TestEndedAfterGap(t *testing.T) {
	for _, tt := range []struct {
		name  string
		after string
		want  bool
	}{{"gap_last", "", false}, {"data_after_gap", "ok\n", true}} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.StreamBuffer = 512
			r := &recorder{match: ContentMatch, lineMode: true}
			e := testEngine(t, cfg, r)
			seq := uint32(100)
			// 600 bytes without a line do not fit the buffer: dropped, a gap.
			for _, s := range []string{strings.Repeat("x", 600), tt.after} {
				if s != "" {
					e.HandlePacket(seg(ToServer, seq, TCPFlagACK, s, time.Second))
					seq += uint32(len(s))
				}
			}
			e.HandlePacket(seg(ToServer, seq, TCPFlagFIN|TCPFlagACK, "", 2*time.Second))
			e.Flush()
			if r.gaps[ToServer] != 1 || r.done[ToServer] != tt.want {
				t.Errorf("gaps %d, ended %v; want 1, %v", r.gaps[ToServer], r.done[ToServer], tt.want)
			}
		})
	}
}

func TestStreamBufferOverflow(t *testing.T) {
	cfg := DefaultConfig()
	cfg.StreamBuffer = 512
	r := &recorder{match: ContentMatch, lineMode: true}
	e := testEngine(t, cfg, r)
	seq := uint32(100)
	send := func(s string) {
		e.HandlePacket(seg(ToServer, seq, TCPFlagACK, s, time.Second))
		seq += uint32(len(s))
	}
	send(string(bytes.Repeat([]byte("x"), 300))) // no newline: kept
	send(string(bytes.Repeat([]byte("y"), 300))) // buffer full without a line: dropped, gap
	send("ok\n")
	if r.gaps[ToServer] != 1 {
		t.Errorf("gaps = %d, want 1", r.gaps[ToServer])
	}
	if got := r.got[ToServer].String(); !bytes.HasSuffix([]byte(got), []byte("ok\n")) || len(got) > 512 {
		t.Errorf("stream after overflow = %d bytes ending %q", len(got), got[max(0, len(got)-3):])
	}
	if n := len(e.bufs.bufs); n > 1 {
		t.Errorf("%d buffers allocated for one flow", n)
	}
}

// TestByteBudget: the budget is per direction. Bytes past it are not
// read, the analyzer hears of a gap, and the other direction is still
// read until its budget is spent too, which ends inspection.
func TestByteBudget(t *testing.T) {
	const A = TCPFlagACK
	big := strings.Repeat("a", 300)
	tests := []struct {
		name   string
		client int // 300-byte segments from each side
		server int
		got    [2]int
		gaps   [2]int
		closed int
	}{
		{"within", 3, 3, [2]int{900, 900}, [2]int{0, 0}, 0},
		{"client_spent", 10, 3, [2]int{1000, 900}, [2]int{1, 0}, 0},
		{"server_spent", 1, 10, [2]int{300, 1000}, [2]int{0, 1}, 0},
		{"both_spent", 10, 10, [2]int{1000, 1000}, [2]int{0, 1}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ByteBudget = 1000
			r := &recorder{match: ContentMatch}
			e := testEngine(t, cfg, r)
			for i := range max(tt.client, tt.server) {
				if i < tt.server {
					e.HandlePacket(seg(ToClient, 1+uint32(i)*300, A, big, time.Duration(i)))
				}
				if i < tt.client {
					e.HandlePacket(seg(ToServer, 1+uint32(i)*300, A, big, time.Duration(i)))
				}
			}
			got := [2]int{r.got[ToServer].Len(), r.got[ToClient].Len()}
			if got != tt.got || r.gaps != tt.gaps || r.closed != tt.closed {
				t.Errorf("inspected %v bytes with %v gaps, %d closed; want %v, %v, %d", got, r.gaps, r.closed, tt.got, tt.gaps, tt.closed)
			}
		})
	}
}

func TestStopInspection(t *testing.T) {
	r := &recorder{match: ContentMatch, stopAt: 4}
	e := testEngine(t, DefaultConfig(), r)
	e.HandlePacket(seg(ToServer, 1, TCPFlagACK, "abcd", 0))
	e.HandlePacket(seg(ToServer, 5, TCPFlagACK, "efgh", 1))
	if got := r.got[ToServer].String(); got != "abcd" || r.closed != 1 {
		t.Errorf("got %q closed %d; want abcd, 1", got, r.closed)
	}
}

func TestOrientation(t *testing.T) {
	tests := []struct {
		name       string
		first      *Packet
		wantClient string
	}{
		{"syn_sender_is_client", seg(ToServer, 1, TCPFlagSYN, "", 0), "192.168.1.10:40000"},
		{"synack_sender_is_server", seg(ToClient, 1, TCPFlagSYN|TCPFlagACK, "", 0), "192.168.1.10:40000"},
		{"data_from_service_port", seg(ToClient, 1, TCPFlagACK, "220 hi\r\n", 0), "192.168.1.10:40000"},
		{"data_to_service_port", seg(ToServer, 1, TCPFlagACK, "USER a\r\n", 0), "192.168.1.10:40000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := testEngine(t, DefaultConfig())
			e.HandlePacket(tt.first)
			var got string
			e.table.each(func(f *Flow) { got = f.Client().String() })
			if got != tt.wantClient {
				t.Errorf("client = %s, want %s", got, tt.wantClient)
			}
		})
	}
}

// TestFlowCounters: the app is named once a protocol is chosen, and the
// packet and byte counters, 32 bits to keep a flow small, stop at their
// maximum rather than wrap to the counts of a new flow.
func TestFlowCounters(t *testing.T) {
	e := testEngine(t, DefaultConfig(), &recorder{match: NoMatch}, &recorder{match: ContentMatch})
	e.HandlePacket(seg(ToServer, 1, TCPFlagSYN, "", 0))
	var f *Flow
	e.table.each(func(fl *Flow) { f = fl })
	if f == nil || f.App() != "" {
		t.Fatalf("before data: flow %v, want one with no app", f)
	}
	e.HandlePacket(seg(ToServer, 2, TCPFlagACK, "USER a\r\n", 1))
	if f.App() != "rec" || f.app != 2 {
		t.Errorf("app %q (number %d), want rec, the second protocol", f.App(), f.app)
	}
	f.Packets[ToServer] = math.MaxUint32 - 1
	for i := range 3 {
		e.HandlePacket(seg(ToServer, 10, TCPFlagACK, "", time.Duration(2+i)))
	}
	if f.Packets != [2]uint32{math.MaxUint32, 0} || f.Bytes != [2]uint32{8, 0} {
		t.Errorf("packets %v bytes %v, want the first to stop at its maximum and 8 bytes", f.Packets, f.Bytes)
	}
	f.Bytes[ToServer] = math.MaxUint32 - 2
	e.HandlePacket(seg(ToServer, 10, TCPFlagACK, "abcd", 5))
	e.HandlePacket(seg(ToServer, 14, TCPFlagACK, "efgh", 6))
	if f.Bytes[ToServer] != math.MaxUint32 {
		t.Errorf("bytes %d, want them to stop at their maximum", f.Bytes[ToServer])
	}
}

func TestTooManyProtocols(t *testing.T) {
	protos := make([]Protocol, maxProtocols+1)
	for i := range protos {
		protos[i] = &recorder{}
	}
	if _, err := NewEngine(DefaultConfig(), Options{Protocols: protos, Sink: &discard{}}); err == nil || !strings.Contains(err.Error(), "protocols") {
		t.Errorf("%d protocols: %v, want an error", len(protos), err)
	}
	if _, err := NewEngine(DefaultConfig(), Options{Protocols: protos[:maxProtocols], Sink: &discard{}}); err != nil {
		t.Errorf("%d protocols: %v", maxProtocols, err)
	}
}

func TestFlowTableCapAndEviction(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxFlows = 16
	r := &recorder{match: ContentMatch}
	e := testEngine(t, cfg, r)
	for i := 0; i < 1000; i++ {
		p := seg(ToServer, 1, TCPFlagSYN, "", time.Duration(i)*time.Millisecond)
		p.SrcPort = uint16(1024 + i)
		e.HandlePacket(p)
	}
	if e.Flows() != 16 {
		t.Errorf("table holds %d flows, want the cap of 16", e.Flows())
	}
	if e.Stats.FlowsEvicted != 1000-16 || r.started != 1000 || r.ended != 1000-16 {
		t.Errorf("evicted %d started %d ended %d", e.Stats.FlowsEvicted, r.started, r.ended)
	}
	// The newest flows survived: LRU evicts the oldest.
	e.table.each(func(f *Flow) {
		if f.Client().Port() < 1024+1000-16 {
			t.Errorf("old flow %v survived", f.Client())
		}
	})
}

// TestEvictionPrefersUninspected: a full table evicts, among its least
// recently used flows, an unanswered SYN before a flow without
// inspection before one being inspected, so a SYN sweep does not push
// out the login it overlaps; when all of those are inspected, the least
// recently used goes.
func TestEvictionPrefersUninspected(t *testing.T) {
	const A = TCPFlagACK
	tests := []struct {
		name         string
		maxInspected int
		// The order in which flows 1 and 2 (data) and 3 (a SYN) go in a
		// sweep of 100 SYNs, by client port - 40000.
		want []uint16
	}{
		// Flow 2 finds the one inspection taken by flow 1.
		{"unanswered_syn_then_uninspected", 1, []uint16{3, 2}},
		{"all_inspected", 16, []uint16{3, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxFlows, cfg.MaxInspected = 16, tt.maxInspected
			e := testEngine(t, cfg, &recorder{match: ContentMatch})
			// Each flow from a host of its own: only MaxInspected
			// limits inspection here, not a host's share.
			hosts, byPort := distinctHosts(e, 128), map[uint16]netip.Addr{}
			from := func(port uint16, p *Packet) *Packet {
				if _, ok := byPort[port]; !ok {
					byPort[port] = hosts[len(byPort)%len(hosts)]
				}
				p.Src, p.SrcPort = byPort[port], port
				return p
			}
			for _, p := range []*Packet{from(40001, seg(ToServer, 1, A, "x", 0)), from(40002, seg(ToServer, 1, A, "y", 1)), from(40003, seg(ToServer, 1, TCPFlagSYN, "", 2))} {
				e.HandlePacket(p)
			}
			for port := uint16(41000); e.Flows() < cfg.MaxFlows; port++ {
				e.HandlePacket(from(port, seg(ToServer, 1, A, "z", time.Second)))
			}
			var gone []uint16
			for port := uint16(42000); port < 42100; port++ {
				e.HandlePacket(from(port, seg(ToServer, 1, TCPFlagSYN, "", 2*time.Second)))
				live := map[uint16]bool{}
				e.table.each(func(f *Flow) { live[f.Client().Port()] = true })
				for _, p := range []uint16{1, 2, 3} {
					if !live[40000+p] && !slices.Contains(gone, p) {
						gone = append(gone, p)
					}
				}
			}
			if !slices.Equal(gone, tt.want) {
				t.Errorf("flows evicted in the order %v, want %v", gone, tt.want)
			}
			syn := from(0, seg(ToServer, 1, TCPFlagSYN, "", 3*time.Second))
			evicted := e.Stats.FlowsEvicted
			if a := testing.AllocsPerRun(100, func() { syn.SrcPort++; e.HandlePacket(syn) }); a != 0 || e.Stats.FlowsEvicted != evicted+101 {
				t.Errorf("%v allocations per evicting SYN, %d evicted of 101", a, e.Stats.FlowsEvicted-evicted)
			}
		})
	}
}

// TestEvictionAnsweredSYNIsNoHalfOpen: a SYN the server answered is a
// connection on its way, not a sweep's probe: it goes after older flows
// without inspection, not first.
func TestEvictionAnsweredSYNIsNoHalfOpen(t *testing.T) {
	const A = TCPFlagACK
	from := func(port uint16, p *Packet) *Packet { p.SrcPort = port; return p }
	cfg := DefaultConfig()
	cfg.MaxFlows, cfg.MaxInspected = 16, 1
	synAck := seg(ToClient, 499, TCPFlagSYN|A, "", 3)
	synAck.DstPort, synAck.Ack = 40003, 2
	e := play(t, cfg, &recorder{match: ContentMatch},
		from(40001, seg(ToServer, 1, A, "x", 0)), from(40002, seg(ToServer, 1, A, "y", 1)),
		from(40003, seg(ToServer, 1, TCPFlagSYN, "", 2)), synAck)
	for port := uint16(41000); e.Flows() < cfg.MaxFlows; port++ {
		e.HandlePacket(from(port, seg(ToServer, 1, A, "z", time.Second)))
	}
	var gone []uint16
	for port := uint16(42000); port < 42100 && len(gone) < 2; port++ {
		e.HandlePacket(from(port, seg(ToServer, 1, TCPFlagSYN, "", 2*time.Second)))
		live := map[uint16]bool{}
		e.table.each(func(f *Flow) { live[f.Client().Port()] = true })
		for _, p := range []uint16{2, 3} {
			if !live[40000+p] && !slices.Contains(gone, p) {
				gone = append(gone, p)
			}
		}
	}
	if !slices.Equal(gone, []uint16{2, 3}) {
		t.Errorf("flows evicted in the order %v, want the older uninspected flow 2 before the answered SYN 3", gone)
	}
}

func TestIdleExpiry(t *testing.T) {
	cfg := DefaultConfig()
	cfg.UDPIdle = time.Minute
	r := &recorder{match: ContentMatch}
	e := testEngine(t, cfg, r)
	udp := func(port uint16, at time.Duration) *Packet {
		return &Packet{Timestamp: t0.Add(at), Kind: KindUDP, IPProto: IPProtocolUDP,
			Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("192.168.1.1"), SrcPort: port, DstPort: 53, Payload: []byte("q")}
	}
	e.HandlePacket(udp(5000, 0))
	e.HandlePacket(udp(5001, 30*time.Second))
	e.HandlePacket(udp(5002, 70*time.Second)) // the first flow is now 70 s idle
	if e.Flows() != 2 || e.Stats.FlowsExpired != 1 || r.closed != 1 {
		t.Errorf("flows %d expired %d closed %d; want 2, 1, 1", e.Flows(), e.Stats.FlowsExpired, r.closed)
	}
}

// TestExpiryAfterClockStepsBack: flows seen before the capture clock
// stepped back (NTP correcting a router clock that ran ahead) do not
// keep the flows seen after the step from expiring.
func TestExpiryAfterClockStepsBack(t *testing.T) {
	for _, before := range []int{1, 20} {
		t.Run(fmt.Sprint(before), func(t *testing.T) {
			e := testEngine(t, DefaultConfig(), &recorder{match: ContentMatch})
			send := func(port int, at time.Duration) {
				p := seg(ToServer, 100, TCPFlagACK, "x\n", at)
				p.SrcPort = uint16(port)
				e.HandlePacket(p)
			}
			for i := range before { // before the step
				send(40000+i, 5*time.Hour)
			}
			for i := range 100 { // after it: flows that go idle
				send(41000+i, time.Duration(i)*time.Second)
			}
			// Those seen before it count as idle from the step on.
			send(42000, time.Hour)
			if want := uint64(100 + before); e.Stats.FlowsExpired != want {
				t.Errorf("an hour later, %d flows expired, want %d", e.Stats.FlowsExpired, want)
			}
			send(42001, 2*time.Hour)
			if want := uint64(100 + before + 1); e.Stats.FlowsExpired != want {
				t.Errorf("another hour later, %d flows expired, want %d", e.Stats.FlowsExpired, want)
			}
		})
	}
}

// TestClockStepBackBoundedPerPacket: one packet after the step moves at
// most maxRebased of the flows seen before it, so the work a packet does
// stays bounded however many flows the step left in the future; the
// packets after it move the rest.
func TestClockStepBackBoundedPerPacket(t *testing.T) {
	const before = 25
	if maxRebased < 1 || maxRebased > 8 {
		t.Fatalf("maxRebased %d: a packet should move a few flows, at least one", maxRebased)
	}
	e := testEngine(t, DefaultConfig(), &recorder{match: ContentMatch})
	send := func(port int, at time.Duration) {
		p := seg(ToServer, 100, TCPFlagACK, "x\n", at)
		p.SrcPort = uint16(port)
		e.HandlePacket(p)
	}
	inFuture := func() int {
		n := 0
		for f := e.table.oldestOf(0); f != nil; f = e.table.prevOf(f) {
			if f.last > e.now.UnixNano() {
				n++
			}
		}
		return n
	}
	for i := range before {
		send(40000+i, 5*time.Hour)
	}
	for i := 0; ; i++ {
		want := max(before-(i+1)*maxRebased, 0)
		send(41000+i, time.Duration(i)*time.Second)
		if got := inFuture(); got != want {
			t.Fatalf("after packet %d past the step: %d flows still in the future, want %d", i+1, got, want)
		}
		if want == 0 {
			break
		}
	}
}

// TestReopenMarkEndsWithItsFlow: a client's SYN for a new connection,
// noted on a flow without an inspection, goes with that flow when it
// closes. The server's late SYN-ACK for it must not end the next flow
// on the same ports and start another from that SYN's number.
func TestReopenMarkEndsWithItsFlow(t *testing.T) {
	const A = TCPFlagACK
	withAck := func(p *Packet, ack uint32) *Packet { p.Ack = ack; return p }
	r := &recorder{match: ContentMatch}
	play(t, DefaultConfig(), r,
		// A handshake and nothing else: no inspection.
		seg(ToServer, 99, TCPFlagSYN, "", 0), withAck(seg(ToClient, 499, TCPFlagSYN|A, "", 1), 100), seg(ToServer, 100, A, "", 2),
		seg(ToServer, 4999, TCPFlagSYN, "", 3), // a new connection's SYN: noted
		seg(ToServer, 100, TCPFlagRST, "", 4),  // the old one ends
		// The next connection on the ports, then the late SYN-ACK for
		// the noted SYN.
		seg(ToServer, 6999, TCPFlagSYN, "", 5), withAck(seg(ToClient, 899, TCPFlagSYN|A, "", 6), 7000), seg(ToServer, 7000, A, "", 7),
		withAck(seg(ToClient, 499, TCPFlagSYN|A, "", 8), 5000),
		seg(ToServer, 7000, A, "USER admin\r\n", 9),
	)
	if r.started != 2 || r.ended != 1 {
		t.Errorf("%d flows started, %d ended; want the two connections, the first ended", r.started, r.ended)
	}
	if got := r.got[ToServer].String(); got != "USER admin\r\n" || r.gaps != [2]int{} {
		t.Errorf("the connection's bytes read as %q, gaps %v", got, r.gaps)
	}
}

// TestReopenMarkSurvivesReclaim: a client's SYN for a new connection on
// the ports of an idle inspected flow is noted in its inspection; when
// another host's flow takes that inspection before the server's SYN-ACK
// comes, the mark must go with the flow, not with the inspection, or the
// new connection is never read.
func TestReopenMarkSurvivesReclaim(t *testing.T) {
	const A = TCPFlagACK
	withAck := func(p *Packet, ack uint32) *Packet { p.Ack = ack; return p }
	other := func(p *Packet) *Packet { p.Src, p.SrcPort = netip.MustParseAddr("192.168.1.66"), 5000; return p }
	idle := reclaimIdle + time.Second
	cfg := DefaultConfig()
	cfg.MaxInspected = 1
	r := &recorder{match: ContentMatch}
	e := play(t, cfg, r,
		seg(ToServer, 99, TCPFlagSYN, "", 0), withAck(seg(ToClient, 499, TCPFlagSYN|A, "", 0), 100), seg(ToServer, 100, A, "hello\r\n", 1),
		seg(ToServer, 3000000000, TCPFlagSYN, "", idle), // the ports reused: noted
		other(seg(ToServer, 1, A, "x\r\n", idle)),       // takes the idle inspection
		other(seg(ToServer, 4, TCPFlagRST, "", idle)),   // and gives it back
		withAck(seg(ToClient, 7000, TCPFlagSYN|A, "", idle), 3000000001),
		withAck(seg(ToServer, 3000000001, A, "USER root\r\n", idle), 7001),
	)
	if e.Stats.Reclaimed != 1 {
		t.Fatalf("%d inspections reclaimed, want 1", e.Stats.Reclaimed)
	}
	if got := r.got[ToServer].String(); got != "hello\r\nx\r\nUSER root\r\n" || e.Stats.FlowsCreated != 3 {
		t.Errorf("stream %q over %d flows, want the new connection's login read over 3", got, e.Stats.FlowsCreated)
	}
}

// prevOf is the flow used just after f in f's list, nil after the last.
func (t *flowTable) prevOf(f *Flow) *Flow {
	if f.prev == 0 {
		return nil
	}
	return t.at(f.prev)
}

func TestFinAndRstCloseFlows(t *testing.T) {
	r := &recorder{match: ContentMatch}
	e := testEngine(t, DefaultConfig(), r)
	e.HandlePacket(seg(ToServer, 1, TCPFlagSYN, "", 0))
	e.HandlePacket(seg(ToServer, 2, TCPFlagFIN|TCPFlagACK, "", 1))
	e.HandlePacket(seg(ToClient, 9, TCPFlagFIN|TCPFlagACK, "", 2))
	if e.Flows() != 0 {
		t.Errorf("flow still open after both FINs")
	}
	// A late ACK does not recreate it.
	e.HandlePacket(seg(ToServer, 3, TCPFlagACK, "", 3))
	if e.Flows() != 0 {
		t.Errorf("bare ACK created a flow")
	}
	e.HandlePacket(seg(ToServer, 1, TCPFlagSYN, "", 4))
	e.HandlePacket(seg(ToClient, 1, TCPFlagRST, "", 5))
	if e.Flows() != 0 {
		t.Errorf("flow still open after RST")
	}
}

// TestResetInWindow: a RST ends the flow only near the place its
// sender's stream reached (or the peer's ACK past it), or when that place
// is not known; one far from it, a blind forgery, is dropped and the
// stream goes on.
func TestResetInWindow(t *testing.T) {
	const A = TCPFlagACK
	withAck := func(p *Packet, ack uint32) *Packet { p.Ack = ack; return p }
	open := []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), withAck(seg(ToClient, 499, TCPFlagSYN|A, "", 0), 100), seg(ToServer, 100, A, "USER a\r\n", 1)}
	tests := []struct {
		name   string
		pkts   []*Packet
		stopAt int
		reset  bool
	}{
		{"at_the_next_sequence_number", slices.Concat(open, []*Packet{seg(ToServer, 108, TCPFlagRST, "", 2)}), 0, true},
		{"from_the_peer", slices.Concat(open, []*Packet{seg(ToClient, 500, TCPFlagRST, "", 2)}), 0, true},
		{"after_bytes_the_capture_missed", slices.Concat(open, []*Packet{seg(ToServer, 5000, TCPFlagRST, "", 2)}), 0, true},
		{"behind_the_stream", slices.Concat(open, []*Packet{seg(ToServer, 104, TCPFlagRST, "", 2)}), 0, true},
		{"far_ahead", slices.Concat(open, []*Packet{seg(ToServer, 108+0x80000000, TCPFlagRST, "", 2)}), 0, false},
		{"far_behind", slices.Concat(open, []*Packet{seg(ToServer, 1<<32+108-1<<20, TCPFlagRST|A, "", 2)}), 0, false},
		{"near_an_ack_past_a_capture_loss", slices.Concat(open, []*Packet{withAck(seg(ToClient, 500, A, "", 2), 108+1<<20), seg(ToServer, 109+1<<20, TCPFlagRST, "", 3)}), 0, true},
		{"direction_not_seen", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToClient, 0x80000000, TCPFlagRST, "", 1)}, 0, true},
		{"inspection_stopped", []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToServer, 100, A, "abcd", 1), seg(ToServer, 100+0x80000000, TCPFlagRST, "", 2)}, 4, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{match: ContentMatch, stopAt: tt.stopAt}
			e := play(t, DefaultConfig(), r, tt.pkts...)
			if reset := e.Flows() == 0; reset != tt.reset {
				t.Fatalf("flow reset %v, want %v", reset, tt.reset)
			}
			if tt.reset {
				return
			}
			e.HandlePacket(seg(ToServer, 108, A, "PASS x\r\n", 3))
			if got := r.got[ToServer].String(); got != "USER a\r\nPASS x\r\n" || r.closed != 0 || e.Stats.OutOfWindow != 1 {
				t.Errorf("after the RST: stream %q, %d analyzers closed, %d dropped; want the stream whole, none closed, 1 dropped", got, r.closed, e.Stats.OutOfWindow)
			}
		})
	}
}

func TestIsLocal(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	for addr, want := range map[string]bool{
		"192.168.1.10": true, "10.1.2.3": true, "172.31.0.1": true, "172.32.0.1": false,
		"203.0.113.5": false, "fd00::1": true, "fe80::1": true, "2001:db8::1": false,
		"::ffff:192.168.1.1": true, "0.0.0.0": true, "255.255.255.255": true,
		"224.0.0.251": true, "ff02::fb": true, "8.8.8.8": false,
	} {
		if got := e.IsLocal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsLocal(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestIsLocalPrefixes: configured prefixes hold what netip.Prefix.Contains
// says they hold, whatever their host bits and lengths.
func TestIsLocalPrefixes(t *testing.T) {
	addrs := []string{"0.0.0.0", "10.0.0.1", "10.255.255.255", "11.0.0.1", "192.168.1.1", "192.168.1.77",
		"192.168.1.255", "192.168.2.1", "100.64.0.1", "100.127.255.255", "100.128.0.1", "203.0.113.9",
		"255.255.255.255", "::ffff:192.168.1.5", "::ffff:11.0.0.1", "2001:db8::1", "2001:db8:1::1",
		"fe80::1", "fe80::1%eth0", "fd12::1", "::1"}
	for _, tt := range []struct {
		name     string
		prefixes []string
	}{
		{"host bits set", []string{"192.168.1.77/24", "10.1.2.3/8"}},
		{"host and odd lengths", []string{"192.168.1.77/32", "100.64.0.0/10", "2001:db8::/48"}},
		{"everything v4", []string{"0.0.0.0/0"}},
		{"everything v6", []string{"::/0"}},
		{"mapped prefix", []string{"::ffff:192.168.1.0/120"}},
		{"v6 only", []string{"fe80::/10", "fc00::/7"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.LAN = nil
			for _, p := range tt.prefixes {
				cfg.LAN = append(cfg.LAN, netip.MustParsePrefix(p))
			}
			e := testEngine(t, cfg)
			for _, s := range addrs {
				a := netip.MustParseAddr(s)
				u := a.Unmap()
				want := u.IsUnspecified() || u.IsMulticast() || u == netip.AddrFrom4([4]byte{255, 255, 255, 255})
				for _, p := range cfg.LAN {
					want = want || p.Contains(u)
				}
				if got := e.IsLocal(a); got != want {
					t.Errorf("IsLocal(%s) = %v, want %v", s, got, want)
				}
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"":             "***",
		"ab":           "***",
		"abc":          "a***",
		"admin":        "a***",
		"password123":  "pa***",
		"\x00\x01xyzw": "\\x00\\x01***",
		"日本語の名前です":     "日本***",
		// Characters, not bytes: a short password in a script of
		// multi-byte characters must not come out whole.
		"密码":       "***",
		"王伟":       "***",
		"äöü":      "ä***",
		"пароль":   "па***",
		"\xff\xfe": "***",
	} {
		if got := Redact([]byte(in)); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// steadyFrames returns Ethernet frames of n established flows, each with
// a data segment, for the allocation test and the benchmark.
func steadyFrames(t testing.TB, n int) [][]byte {
	frames := make([][]byte, n)
	for i := range frames {
		tc := tcp("PA")
		tc.SrcPort = layers.TCPPort(20000 + i)
		tc.DstPort = 80
		frames[i] = frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tc, gopacket.Payload(bytes.Repeat([]byte("z"), 512)))
	}
	return frames
}

// TestEngineSteadyStateNoAlloc: decode + flow lookup + stream delivery of
// data to existing flows allocates nothing.
func TestEngineSteadyStateNoAlloc(t *testing.T) {
	frames := steadyFrames(t, 64)
	cfg := DefaultConfig()
	cfg.ByteBudget = 1 << 20
	cfg.HashKey = []byte("engine test key")
	// Without and with OnPanic, whose recover is deferred per packet.
	for _, onPanic := range []func(Panic){nil, func(Panic) {}} {
		r := &recorder{match: NoMatch} // no analyzer: pure flow tracking
		e, err := NewEngine(cfg, Options{Protocols: []Protocol{r}, Sink: &discard{}, OnPanic: onPanic})
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder()
		var p Packet
		info := capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: t0}
		for _, f := range frames { // create the flows
			d.Decode(f, info, &p)
			e.HandlePacket(&p)
		}
		i := 0
		allocs := testing.AllocsPerRun(2000, func() {
			d.Decode(frames[i%len(frames)], info, &p)
			e.HandlePacket(&p)
			i++
		})
		if allocs != 0 {
			t.Errorf("steady state (OnPanic set: %v) allocates %.2f times per packet", onPanic != nil, allocs)
		}
	}
}

func TestConfigLimits(t *testing.T) {
	tests := []struct {
		name   string
		change func(c *Config)
		err    string
	}{
		{"default", func(*Config) {}, ""},
		{"flows_at_limit", func(c *Config) { c.MaxFlows = MaxFlowsLimit }, ""},
		{"flows_over_limit", func(c *Config) { c.MaxFlows = MaxFlowsLimit + 1 }, "max_flows"},
		{"flows_too_few", func(c *Config) { c.MaxFlows = 15 }, "max_flows"},
		{"budget_at_limit", func(c *Config) { c.ByteBudget = MaxByteBudget }, ""},
		{"budget_over_limit", func(c *Config) { c.ByteBudget = MaxByteBudget + 1 }, "byte_budget"},
		{"buffer_over_limit", func(c *Config) { c.StreamBuffer = 1<<20 + 1 }, "stream_buffer"},
		{"no_buffers", func(c *Config) { c.MaxBuffers = 0 }, "max_buffers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.change(&c)
			err := c.Validate()
			if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("Validate: %v, want an error mentioning %q", err, tt.err)
			}
		})
	}
}

// BenchmarkDecodeAndFlow measures the per-packet cost of decoding a frame
// and finding its flow in a table of 4096 live flows.
func BenchmarkDecodeAndFlow(b *testing.B) {
	frames := steadyFrames(b, 4096)
	cfg := DefaultConfig()
	r := &recorder{match: NoMatch}
	e := testEngine(b, cfg, r)
	d := NewDecoder()
	var p Packet
	info := capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: t0}
	for _, f := range frames {
		d.Decode(f, info, &p)
		e.HandlePacket(&p)
	}
	b.SetBytes(int64(len(frames[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d.Decode(frames[i&4095], info, &p)
		e.HandlePacket(&p)
	}
}

// BenchmarkDecodeAndInspect measures the per-packet cost of decoding a
// frame, finding its flow among 512 inspected ones (16 from each of 32
// hosts) and handing its 512 bytes, a whole line, to the flow's analyzer.
func BenchmarkDecodeAndInspect(b *testing.B) {
	const flows, size = 512, 512
	payload := append(bytes.Repeat([]byte("z"), size-1), '\n')
	frames := make([][]byte, flows)
	for i := range frames {
		ip := ip4(layers.IPProtocolTCP)
		ip.SrcIP = net.IP{192, 168, byte(1 + i/16), 10}
		tc := tcp("PA")
		tc.SrcPort = layers.TCPPort(20000 + i%16)
		frames[i] = frame(b, eth(layers.EthernetTypeIPv4), ip, tc, gopacket.Payload(payload))
	}
	cfg := DefaultConfig()
	cfg.ByteBudget = MaxByteBudget
	e := testEngine(b, cfg, &lineProto{})
	d := NewDecoder()
	var p Packet
	info := capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: t0}
	// Packet i is flow i%flows's in round i/flows, which brings the next
	// bytes of the stream; the budget lasts this many rounds.
	const rounds = MaxByteBudget / size
	send := func(i int) {
		d.Decode(frames[i%flows], info, &p)
		p.Seq += uint32(i / flows % rounds * size)
		e.HandlePacket(&p)
	}
	for i := range flows {
		send(i)
	}
	if n := e.insps.inUse(); n != flows {
		b.Fatalf("%d flows inspected, want %d", n, flows)
	}
	b.SetBytes(int64(len(frames[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := flows; i < b.N+flows; i++ {
		if i%(flows*rounds) == 0 { // every budget spent: the flows start anew
			b.StopTimer()
			e.Flush()
			b.StartTimer()
		}
		send(i)
	}
}

// BenchmarkNewInspectedFlow measures a flow's inspection from its start
// to its end: its first bytes (an inspection and an analyzer taken) and
// its reset (both given back).
func BenchmarkNewInspectedFlow(b *testing.B) {
	e := testEngine(b, DefaultConfig(), &lineProto{})
	data := seg(ToServer, 1, TCPFlagACK, "USER a\r\n", 0)
	rst := seg(ToServer, 9, TCPFlagRST, "", 0)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		data.SrcPort = uint16(1024 + i%60000)
		rst.SrcPort = data.SrcPort
		e.HandlePacket(data)
		e.HandlePacket(rst)
	}
	if e.insps.inUse() != 0 || e.Flows() != 0 {
		b.Fatalf("%d flows left, %d inspected", e.Flows(), e.insps.inUse())
	}
}

func ExampleRedact() {
	fmt.Println(Redact([]byte("xc3511")), Redact([]byte("root")))
	// Output: xc*** r***
}

// UDP datagrams are not held to the byte budget: a broadcast conversation
// shared by every DHCP client stays inspected.
func TestUDPNotBudgeted(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ByteBudget = 300
	r := &recorder{match: ContentMatch}
	e := testEngine(t, cfg, r)
	for i := 0; i < 10; i++ {
		e.HandlePacket(&Packet{Timestamp: t0.Add(time.Duration(i) * time.Second), Kind: KindUDP, IPProto: IPProtocolUDP,
			Src: netip.MustParseAddr("0.0.0.0"), Dst: netip.MustParseAddr("255.255.255.255"), SrcPort: 68, DstPort: 67,
			Payload: bytes.Repeat([]byte("d"), 100)})
	}
	if got := r.got[ToServer].Len(); got != 1000 {
		t.Errorf("inspected %d bytes of 1000", got)
	}
}

// Beyond MaxInspected flows with an analyzer, new flows are tracked but
// not inspected; when one ends, a new flow can be inspected again.
func TestMaxInspected(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxInspected = 2
	r := &recorder{match: ContentMatch}
	e := testEngine(t, cfg, r)
	hosts := distinctHosts(e, 4) // not held back by a host's share
	send := func(port uint16, flags uint8, at time.Duration) {
		p := seg(ToServer, 1, flags, "x", at)
		p.Src, p.SrcPort = hosts[port%4], port
		e.HandlePacket(p)
	}
	send(1001, TCPFlagACK, 0)
	send(1002, TCPFlagACK, 1)
	send(1003, TCPFlagACK, 2) // over the cap
	if e.Stats.InspectLimit != 1 || r.got[ToServer].String() != "xx" {
		t.Fatalf("limit %d, inspected %q", e.Stats.InspectLimit, r.got[ToServer].String())
	}
	send(1001, TCPFlagRST, 3) // one ends
	send(1004, TCPFlagACK, 4)
	if r.got[ToServer].String() != "xxx" || e.insps.inUse() != 2 {
		t.Errorf("after a flow ended: inspected %q, %d inspecting", r.got[ToServer].String(), e.insps.inUse())
	}
}

// TestInspectionsGoBack ends inspected flows every way a flow can end,
// each holding a stream buffer with a partial line: every inspection and
// every buffer goes back to its pool, and inspections are reused.
func TestInspectionsGoBack(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxFlows = 16
	cfg.MaxInspected = 8
	cfg.ByteBudget = 256
	r := &recorder{match: ContentMatch, lineMode: true, stopAt: 600}
	e := testEngine(t, cfg, r)
	hosts := distinctHosts(e, 40) // a host a round: the pool's cap is tested, not the share
	at := time.Duration(0)
	send := func(port uint16, seq uint32, flags uint8, data string) {
		at += time.Millisecond
		p := seg(ToServer, seq, flags, data, at)
		p.Src, p.SrcPort = hosts[port-2000], port
		e.HandlePacket(p)
	}
	partial := "USER a\r\nPAS" // leaves "PAS" pending
	for round := range 40 {
		port := uint16(2000 + round)
		send(port, 1, TCPFlagACK, partial)
		switch round % 4 {
		case 0: // reset
			send(port, 1+uint32(len(partial)), TCPFlagRST, "")
		case 1: // both directions' budgets spent
			send(port, 1+uint32(len(partial)), TCPFlagACK, strings.Repeat("x", 300))
			at += time.Millisecond
			p := seg(ToClient, 500, TCPFlagACK, strings.Repeat("y\n", 150), at)
			p.Dst, p.DstPort = hosts[round], port
			e.HandlePacket(p)
		case 2: // a gap, then left for eviction or the flush
			send(port, 100, TCPFlagACK, "z")
		case 3: // the analyzer stops itself
			send(port, 1+uint32(len(partial)), TCPFlagACK, strings.Repeat("w\n", 300))
		}
	}
	if e.Stats.FlowsEvicted == 0 || e.Stats.BudgetStops == 0 || r.closed == 0 {
		t.Fatalf("not every ending was exercised: %+v, %d analyzers closed", e.Stats, r.closed)
	}
	e.Flush()
	if e.insps.inUse() != 0 || len(e.bufs.free) != len(e.bufs.bufs) {
		t.Errorf("after the flush: %d inspections of %d and %d buffers of %d not back",
			e.insps.inUse(), e.insps.used, len(e.bufs.bufs)-len(e.bufs.free), len(e.bufs.bufs))
	}
	if e.insps.used > int32(cfg.MaxInspected) || r.closed != 40-int(e.Stats.InspectLimit) {
		t.Errorf("%d inspections for at most %d at once; %d analyzers closed, %d flows over the cap",
			e.insps.used, cfg.MaxInspected, r.closed, e.Stats.InspectLimit)
	}
}

type countingClassifier struct{ calls int }

func (c *countingClassifier) Classify(l *Login) (PasswordClass, DefaultMatch) {
	c.calls++
	if l.Verify != nil && l.Verify([]byte("admin")) {
		return ClassDefault, DefaultMatch{Source: "test"}
	}
	return "", DefaultMatch{}
}

// A repeated challenge-response login is classified once.
func TestHashedLoginVerdictCache(t *testing.T) {
	cl := &countingClassifier{}
	cfg := DefaultConfig()
	cfg.HashKey = []byte("k")
	e, err := NewEngine(cfg, Options{Sink: &discard{}, Classifier: cl})
	if err != nil {
		t.Fatal(err)
	}
	login := func(user, response string) Credential {
		return e.classify(&Login{Protocol: "sip", Mechanism: "Digest", User: []byte(user), Kind: SecretHashed,
			Verify:    func(c []byte) bool { return string(c) == response },
			Challenge: [][]byte{[]byte(`nonce="1", response="` + response + `"`), []byte("REGISTER")}})
	}
	if c := login("alice", "admin"); c.Class != ClassDefault {
		t.Fatalf("class %s", c.Class)
	}
	login("alice", "admin")
	if cl.calls != 1 {
		t.Errorf("identical logins classified %d times", cl.calls)
	}
	if c := login("alice", "other"); c.Class != ClassHashed || cl.calls != 2 {
		t.Errorf("a different response: class %s after %d calls", c.Class, cl.calls)
	}
	login("bob", "admin")
	if cl.calls != 3 {
		t.Errorf("another user shared the cached verdict (%d calls)", cl.calls)
	}
}

// The memo of login findings answers each credential, outcome and
// refusal with the finding built for exactly those, however often and in
// whatever order they come, and stays bounded.
func TestLoginEventMemo(t *testing.T) {
	e := testEngine(t, DefaultConfig())
	base := Credential{Protocol: "ftp", Mechanism: "USER/PASS", User: "ad***", Class: ClassDefault,
		SecretHash: "0123456789abcdef", SecretShape: "ad***", DefaultVendor: "acme", DefaultSource: "list", Kind: SecretPassword}
	creds := []Credential{base}
	for _, change := range []func(*Credential){
		func(c *Credential) { c.Class = ClassWeak },
		func(c *Credential) { c.Class = ClassUnique },
		func(c *Credential) { c.User = "" },
		func(c *Credential) { c.SecretHash = "fedcba9876543210" },
		func(c *Credential) { c.Protocol = "pop3" },
		func(c *Credential) { c.Kind = SecretCommunity },
		func(c *Credential) { c.DefaultVendor, c.DefaultSource = "", "" },
	} {
		c := base
		change(&c)
		creds = append(creds, c)
	}
	check := func(c *Credential, o Outcome, refused bool) {
		t.Helper()
		got := e.credentialEvent(c, o, refused)
		if want := credentialEvent(c, o, refused); !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v, %s, refused %v:\n got %+v\nwant %+v", *c, o, refused, got, want)
		}
		// What the engine adds to its copy is not the next one's.
		got.Time, got.Count, got.Device.IP = t0, 7, "192.0.2.1"
	}
	for range 2 {
		for i := range creds {
			for _, o := range []Outcome{OutcomeUnknown, OutcomeAccepted, OutcomeRejected} {
				check(&creds[i], o, false)
				check(&creds[i], o, true)
			}
		}
	}
	for i := range maxMemoEvents + 10 {
		c := base
		c.User = strconv.Itoa(i)
		check(&c, OutcomeAccepted, false)
	}
	if n := len(e.logins); n > maxMemoEvents {
		t.Errorf("memo holds %d findings, bound %d", n, maxMemoEvents)
	}
	check(&creds[0], OutcomeRejected, true)
}

// upgradeProto's analyzers consume whole lines and turn the flow into
// TLS at a STARTTLS line; named "tls", it is the protocol they hand the
// flow to, which consumes everything.
type upgradeProto struct{ name string }

func (p upgradeProto) Name() string { return p.name }
func (p upgradeProto) Match(*Flow, Dir, []byte) Confidence {
	if p.name == "tls" {
		return NoMatch
	}
	return ContentMatch
}
func (p upgradeProto) NewAnalyzer(*Flow) Analyzer { return &upgradeAnalyzer{tls: p.name == "tls"} }

type upgradeAnalyzer struct{ tls bool }

func (a *upgradeAnalyzer) Feed(f *Flow, _ Dir, data []byte) int {
	if a.tls {
		return len(data)
	}
	if i := bytes.Index(data, []byte("STARTTLS\r\n")); i >= 0 {
		f.StartTLS()
		return i + len("STARTTLS\r\n")
	}
	return bytes.LastIndexByte(data, '\n') + 1
}
func (*upgradeAnalyzer) Gap(*Flow, Dir) {}
func (*upgradeAnalyzer) Close(*Flow)    {}

// TestStreamBuffersWiped splits "PASS s3cr3tpw" across segments and ends
// the pending line every way the engine can: no stream buffer, free or
// held, may keep a byte of the password once it is no longer pending.
func TestStreamBuffersWiped(t *testing.T) {
	const head = "PASS s3cr" // left pending by the first segment
	tests := []struct {
		name string
		then func(send func(seq uint32, flags uint8, data string), e *Engine)
	}{
		{"consumed", func(send func(uint32, uint8, string), _ *Engine) {
			send(10, TCPFlagACK, "3tpw\r\n")
		}},
		{"compacted", func(send func(uint32, uint8, string), _ *Engine) {
			send(10, TCPFlagACK, "3tpw\r\nUSER b") // "USER b" stays pending
		}},
		// A segment past a hole is held; the next one declares the gap.
		{"gap", func(send func(uint32, uint8, string), _ *Engine) {
			send(100, TCPFlagACK, "zz")
			send(200, TCPFlagACK, "yy")
		}},
		{"gap_at_the_end", func(send func(uint32, uint8, string), e *Engine) {
			send(100, TCPFlagACK, "zz")
			e.Flush()
		}},
		{"buffer_full", func(send func(uint32, uint8, string), _ *Engine) {
			send(10, TCPFlagACK, strings.Repeat("x", 512-len(head)))
		}},
		{"reset", func(send func(uint32, uint8, string), _ *Engine) {
			send(10, TCPFlagRST, "")
		}},
		{"starttls", func(send func(uint32, uint8, string), _ *Engine) {
			send(10, TCPFlagACK, "3tpw\r\nSTARTTLS\r\nxx")
		}},
		{"budget_spent", func(send func(uint32, uint8, string), _ *Engine) {
			send(10, TCPFlagACK, strings.Repeat("x", 256-len(head))) // all of the budget
			send(257, TCPFlagACK, "y")
		}},
		{"evicted", func(_ func(uint32, uint8, string), e *Engine) {
			for i := range 16 {
				p := seg(ToServer, 1, TCPFlagACK, "\n", time.Second)
				p.SrcPort = uint16(41000 + i)
				e.HandlePacket(p)
			}
		}},
		{"expired", func(_ func(uint32, uint8, string), e *Engine) {
			p := seg(ToServer, 1, TCPFlagACK, "\n", time.Hour)
			p.SrcPort = 41000
			e.HandlePacket(p)
		}},
		{"flushed", func(_ func(uint32, uint8, string), e *Engine) { e.Flush() }},
		// Idle, its inspection taken by another host's new flow.
		{"reclaimed", func(_ func(uint32, uint8, string), e *Engine) {
			p := seg(ToServer, 1, TCPFlagACK, "USER b\r\n", reclaimIdle+time.Second)
			p.Src = netip.MustParseAddr("192.168.1.11")
			e.HandlePacket(p)
			if e.Stats.Reclaimed != 1 {
				t.Errorf("%d inspections reclaimed, want 1", e.Stats.Reclaimed)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.MaxFlows = 16
			cfg.StreamBuffer = 512
			cfg.ByteBudget = 512
			if tt.name == "budget_spent" {
				cfg.ByteBudget = 256 // spent before the buffer is full
			}
			if tt.name == "reclaimed" {
				cfg.MaxInspected = 1 // the new flow finds none free
			}
			e := testEngine(t, cfg, upgradeProto{"line"}, upgradeProto{"tls"})
			send := func(seq uint32, flags uint8, data string) {
				e.HandlePacket(seg(ToServer, seq, flags, data, 0))
			}
			send(1, TCPFlagACK, head)
			if len(e.bufs.bufs) != 1 {
				t.Fatalf("%d stream buffers after a partial line, want 1", len(e.bufs.bufs))
			}
			tt.then(send, e)
			for i, b := range e.bufs.bufs {
				for _, part := range []string{"s3cr", "3tpw"} {
					if bytes.Contains(b, []byte(part)) {
						t.Errorf("buffer %d keeps %q: %q", i+1, part, bytes.TrimRight(b, "\x00"))
					}
				}
			}
			for _, id := range e.bufs.free {
				if i := bytes.IndexFunc(e.bufs.bytes(id), func(r rune) bool { return r != 0 }); i >= 0 {
					t.Errorf("free buffer %d not wiped from byte %d", id, i)
				}
			}
		})
	}
}

// The keyed hash of a secret is HMAC-SHA-256 under the configured key,
// cut to 8 bytes, whatever was hashed before it.
func TestSecretHashIsKeyedHMAC(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HashKey = []byte("engine test key")
	e, err := NewEngine(cfg, Options{Sink: &discard{}})
	if err != nil {
		t.Fatal(err)
	}
	want := func(secret string) string {
		m := hmac.New(sha256.New, cfg.HashKey)
		m.Write([]byte(secret))
		return hex.EncodeToString(m.Sum(nil)[:8])
	}
	for _, secret := range []string{"admin", "12345", "admin", "", "a much longer passphrase than one block of sha-256 takes at once, to be sure"} {
		if got := e.secretHash([]byte(secret)); got != want(secret) {
			t.Errorf("secretHash(%q) = %s, want %s", secret, got, want(secret))
		}
	}
}

// TestHeldUntilThePeerAcknowledges: a segment past a hole waits, unless
// the peer acknowledges the hole's bytes, which the capture then lost for
// good.
func TestHeldUntilThePeerAcknowledges(t *testing.T) {
	const A = TCPFlagACK
	ack := func(seq, ackNo uint32) *Packet {
		p := seg(ToClient, seq, A, "", 3)
		p.Ack = ackNo
		return p
	}
	tests := []struct {
		name string
		ack  *Packet
		want string // the stream before the flow ends
		gaps int
	}{
		{"ack_below_the_hole", ack(500, 102), "ab", 0},
		{"ack_past_the_hole", ack(500, 112), "abzz", 1},
		{"ack_beyond_any_window", ack(500, 102+1<<30+1), "ab", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{match: ContentMatch}
			e := testEngine(t, DefaultConfig(), r)
			for _, p := range []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToClient, 499, TCPFlagSYN|A, "", 1),
				seg(ToServer, 100, A, "ab", 1), seg(ToServer, 110, A, "zz", 2), tt.ack} {
				e.HandlePacket(p)
			}
			if got := r.got[ToServer].String(); got != tt.want || r.gaps[ToServer] != tt.gaps {
				t.Errorf("stream %q with %d gaps, want %q with %d", got, r.gaps[ToServer], tt.want, tt.gaps)
			}
			if e.Stats.Reordered != 1 {
				t.Errorf("%d segments held, want 1", e.Stats.Reordered)
			}
		})
	}
}

// TestUDPExpiresBehindIdleTCP: a TCP flow idle for less than its timeout
// does not keep the UDP flows opened after it (a DNS query each) from
// expiring after theirs, and so from holding every inspection slot.
func TestUDPExpiresBehindIdleTCP(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxInspected = 50
	r := &recorder{match: ContentMatch}
	e := testEngine(t, cfg, r)
	e.HandlePacket(seg(ToServer, 100, TCPFlagACK, "x", 0))
	// A host a flow, each within its share.
	hosts := distinctHosts(e, cfg.MaxInspected)
	for i := range cfg.MaxInspected - 1 { // every slot but the TCP flow's
		e.HandlePacket(&Packet{Timestamp: t0.Add(time.Second), Kind: KindUDP, IPProto: IPProtocolUDP,
			Src: hosts[i], SrcPort: uint16(50000 + i),
			Dst: netip.MustParseAddr("192.168.1.1"), DstPort: 53, Payload: []byte("query")})
	}
	if e.Stats.InspectLimit != 0 {
		t.Fatalf("%d flows refused while filling the slots", e.Stats.InspectLimit)
	}
	late := seg(ToServer, 100, TCPFlagACK, "USER root\n", 5*time.Minute)
	late.SrcPort = 40001
	e.HandlePacket(late)
	if e.Stats.FlowsExpired < uint64(cfg.MaxInspected-1) || e.Stats.InspectLimit != 0 {
		t.Errorf("after 5 minutes: %d flows expired, %d refused inspection; want the UDP flows expired and none refused",
			e.Stats.FlowsExpired, e.Stats.InspectLimit)
	}
}

// TestSpentDirectionHoldsNoBuffer: a direction whose byte budget is spent
// holds no stream buffer for a segment past a hole, which the other
// direction, still read, may need.
func TestSpentDirectionHoldsNoBuffer(t *testing.T) {
	const A = TCPFlagACK
	tests := []struct {
		name   string
		client []*Packet
	}{
		{"held_after_the_budget_is_spent", []*Packet{
			seg(ToServer, 1, A, strings.Repeat("a", 1100), 0), // the client's budget spent
			seg(ToServer, 2101, A, "late", 1),                 // past a hole in the spent direction
		}},
		{"held_before_the_budget_is_spent", []*Packet{
			seg(ToServer, 1, A, "a", 0),
			seg(ToServer, 2101, A, "late", 1),                 // held past a hole
			seg(ToServer, 2, A, strings.Repeat("b", 1100), 1), // spends the budget; the hole stays
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ByteBudget = 1000
			cfg.MaxBuffers = 1
			r := &recorder{match: ContentMatch}
			e := play(t, cfg, r, tt.client...)
			// The other direction, still read, needs the one buffer past a hole.
			e.HandlePacket(seg(ToClient, 1, A, "ok", 2))
			e.HandlePacket(seg(ToClient, 20, A, "PASS secret\r\n", 3))
			e.HandlePacket(seg(ToClient, 3, A, "................."[:17], 4))
			if e.Stats.BufferFull != 0 || r.gaps[ToClient] != 0 {
				t.Errorf("buffer full %d, gaps to client %d: the spent direction holds a buffer", e.Stats.BufferFull, r.gaps[ToClient])
			}
		})
	}
}

// reopenNeighbours is an engine with an inspected flow ("hello\r\n"
// read) and the port of a flow of otherHost's, opened by a SYN, whose
// hash falls in the inspected flow's slot of the table of noted SYNs.
func reopenNeighbours(t *testing.T) (*Engine, *recorder, uint16) {
	t.Helper()
	r := &recorder{match: ContentMatch}
	e := testEngine(t, DefaultConfig(), r)
	synAck := seg(ToClient, 499, TCPFlagSYN|TCPFlagACK, "", 0)
	synAck.Ack = 100
	for _, p := range []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), synAck, seg(ToServer, 100, TCPFlagACK, "hello\r\n", 1)} {
		e.HandlePacket(p)
	}
	var inspected *Flow
	e.table.each(func(f *Flow) { inspected = f })
	for port := uint16(1024); ; port++ {
		e.HandlePacket(otherHost(port, ToServer, 5, TCPFlagSYN, ""))
		var hit bool
		e.table.each(func(f *Flow) {
			hit = hit || f != inspected && f.Client().Port() == port && f.hash%reopenSlots == inspected.hash%reopenSlots
		})
		if hit {
			return e, r, port
		}
	}
}

// otherHost is seg for the flow of 192.168.1.66:port to seg's server.
func otherHost(port uint16, dir Dir, seq uint32, flags uint8, data string) *Packet {
	p := seg(dir, seq, flags, data, 2*time.Second)
	if dir == ToServer {
		p.Src, p.SrcPort = netip.MustParseAddr("192.168.1.66"), port
	} else {
		p.Dst, p.DstPort = netip.MustParseAddr("192.168.1.66"), port
	}
	return p
}

// TestReopenNotDisplacedByOtherFlows: another host's SYN for a new
// connection on its own ports, on a flow whose hash falls in the same
// slot of the engine's table, does not erase an inspected flow's: the
// victim's new connection on reused ports is still read.
func TestReopenNotDisplacedByOtherFlows(t *testing.T) {
	const A = TCPFlagACK
	withAck := func(p *Packet, ack uint32) *Packet { p.Ack = ack; return p }
	e, r, ap := reopenNeighbours(t)
	// The victim reuses its ports; the other SYN comes within the round trip.
	e.HandlePacket(seg(ToServer, 3000000000, TCPFlagSYN, "", time.Minute))
	e.HandlePacket(otherHost(ap, ToServer, 900000, TCPFlagSYN, ""))
	e.HandlePacket(withAck(seg(ToClient, 7000, TCPFlagSYN|A, "", time.Minute), 3000000001))
	e.HandlePacket(withAck(seg(ToServer, 3000000001, A, "USER root\r\n", time.Minute), 7001))
	e.Flush()
	if got := r.got[ToServer].String(); got != "hello\r\nUSER root\r\n" {
		t.Errorf("victim stream %q, want the login read", got)
	}
}

// TestReopenOfClosingFlowKeepsOthers: an inspected flow reopened on its
// ports closes, and the SYN noted in its inspection goes with it; it must
// not first push out the SYN another flow, without an inspection, noted
// in the same slot of the engine's table, whose new connection would
// then go unread.
func TestReopenOfClosingFlowKeepsOthers(t *testing.T) {
	const A = TCPFlagACK
	withAck := func(p *Packet, ack uint32) *Packet { p.Ack = ack; return p }
	e, r, port := reopenNeighbours(t)
	e.HandlePacket(otherHost(port, ToServer, 900000, TCPFlagSYN, "")) // its new connection's SYN
	// The inspected flow's ports are reused, and its server takes the SYN.
	e.HandlePacket(seg(ToServer, 3000000000, TCPFlagSYN, "", time.Minute))
	e.HandlePacket(withAck(seg(ToClient, 7000, TCPFlagSYN|A, "", time.Minute), 3000000001))
	// Then the other server takes its client's.
	e.HandlePacket(withAck(otherHost(port, ToClient, 8000, TCPFlagSYN|A, ""), 900001))
	e.HandlePacket(withAck(otherHost(port, ToServer, 900001, A, "USER other\r\n"), 8001))
	e.Flush()
	if got := r.got[ToServer].String(); !strings.Contains(got, "USER other\r\n") {
		t.Errorf("streams to servers %q: the other flow's new connection was not read", got)
	}
}

// TestReopenedPorts: a client's SYN for another sequence number on the
// ports of a connection opens a new one only when the server's SYN-ACK
// takes it; a challenge ACK (RFC 5961) keeps the connection as it was.
// Flows without an analyzer are reopened too: an unanswered SYN, a flow
// whose inspection stopped.
func TestReopenedPorts(t *testing.T) {
	const A = TCPFlagACK
	withAck := func(p *Packet, ack uint32) *Packet { p.Ack = ack; return p }
	first := []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), withAck(seg(ToClient, 499, TCPFlagSYN|A, "", 0), 100), seg(ToServer, 100, A, "hello\r\n", 1)}
	reopen := []*Packet{seg(ToServer, 3000000000, TCPFlagSYN, "", time.Minute),
		withAck(seg(ToClient, 7000, TCPFlagSYN|A, "", time.Minute), 3000000001), withAck(seg(ToServer, 3000000001, A, "USER root\r\n", time.Minute), 7001)}
	tests := []struct {
		name   string
		first  []*Packet
		then   []*Packet
		stopAt int
		want   string
		flows  uint64
	}{
		{"server_takes_the_new_syn", first, reopen, 0, "hello\r\nUSER root\r\n", 2},
		{"challenge_ack_keeps_the_connection", first, []*Packet{seg(ToServer, 3000000000, TCPFlagSYN, "", 2),
			withAck(seg(ToClient, 500, A, "", 2), 107), seg(ToServer, 107, A, "PASS x\r\n", 3)},
			0, "hello\r\nPASS x\r\n", 1},
		{"syn_ack_for_another_syn", first, []*Packet{seg(ToServer, 3000000000, TCPFlagSYN, "", 2),
			withAck(seg(ToClient, 7000, TCPFlagSYN|A, "", 2), 12345), seg(ToServer, 107, A, "PASS x\r\n", 3)},
			0, "hello\r\nPASS x\r\n", 1},
		{"after_an_unanswered_syn", []*Packet{seg(ToServer, 1000, TCPFlagSYN, "", 0)}, reopen, 0, "USER root\r\n", 2},
		{"after_inspection_stopped", first, reopen, 1, "hello\r\nUSER root\r\n", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{match: ContentMatch, stopAt: tt.stopAt}
			e := play(t, DefaultConfig(), r, slices.Concat(tt.first, tt.then)...)
			e.Flush()
			if got := r.got[ToServer].String(); got != tt.want || e.Stats.FlowsCreated != tt.flows {
				t.Errorf("stream %q over %d flows, want %q over %d", got, e.Stats.FlowsCreated, tt.want, tt.flows)
			}
		})
	}
}

// TestAckShortOfTheHeldSegment: an ACK that ends before a held segment
// makes the bytes up to it a gap and keeps the segment held: the bytes
// between may still come.
func TestAckShortOfTheHeldSegment(t *testing.T) {
	const A = TCPFlagACK
	r := &recorder{match: ContentMatch}
	e := testEngine(t, DefaultConfig(), r)
	ack := seg(ToClient, 500, A, "", 3)
	ack.Ack = 105
	for _, p := range []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToClient, 499, TCPFlagSYN|A, "", 0),
		seg(ToServer, 100, A, "ab", 1), seg(ToServer, 110, A, "0123456789", 2), ack, seg(ToServer, 105, A, "VWXYZ", 4)} {
		e.HandlePacket(p)
	}
	if got := r.got[ToServer].String(); got != "abVWXYZ0123456789" || r.gaps[ToServer] != 1 {
		t.Errorf("stream %q with %d gaps, want %q with 1", got, r.gaps[ToServer], "abVWXYZ0123456789")
	}
}

// TestRefusedFlowTriedAgain: a flow that found every inspection slot busy
// is inspected from its next bytes once one is free.
func TestRefusedFlowTriedAgain(t *testing.T) {
	const A = TCPFlagACK
	cfg := DefaultConfig()
	cfg.MaxInspected = 1
	r := &recorder{match: ContentMatch}
	e := testEngine(t, cfg, r)
	other := func(p *Packet) *Packet { p.SrcPort = 40001; return p }
	e.HandlePacket(seg(ToServer, 100, A, "first\n", 0))            // takes the slot
	e.HandlePacket(other(seg(ToServer, 500, A, "early\n", 1)))     // none free
	e.HandlePacket(seg(ToServer, 106, TCPFlagRST|A, "", 2))        // the slot frees
	e.HandlePacket(other(seg(ToServer, 506, A, "USER root\n", 3))) // tried again
	if got := r.got[ToServer].String(); got != "first\nUSER root\n" {
		t.Errorf("stream %q, want the second flow read from its bytes after the slot freed", got)
	}
	if e.Stats.InspectLimit != 1 {
		t.Errorf("InspectLimit %d, want 1", e.Stats.InspectLimit)
	}
}

// waker is a Protocol whose analyzers ask, at every datagram whose
// payload is a duration ("5s"), to be woken that long after it, and
// record when they are.
type waker struct {
	woken  []string // port of the flow, and capture time since t0
	closed int
}

func (w *waker) Name() string                        { return "waker" }
func (w *waker) Match(*Flow, Dir, []byte) Confidence { return ContentMatch }
func (w *waker) NewAnalyzer(*Flow) Analyzer          { return &wakerAnalyzer{w: w} }
func (a *wakerAnalyzer) Gap(*Flow, Dir)              {}
func (a *wakerAnalyzer) Close(*Flow)                 { a.w.closed++ }
func (a *wakerAnalyzer) Wake(f *Flow, now time.Time) {
	a.w.woken = append(a.w.woken, fmt.Sprint(f.Client().Port(), " ", now.Sub(t0)))
}

type wakerAnalyzer struct{ w *waker }

func (a *wakerAnalyzer) Feed(f *Flow, _ Dir, data []byte) int {
	if d, err := time.ParseDuration(string(data)); err == nil {
		f.WakeAt(f.Last().Add(d))
	}
	return len(data)
}

// TestWakeAt: an analyzer is woken at the first packet of any flow once
// its time has come, once, at the earliest time it asked for; not after
// its flow closed.
func TestWakeAt(t *testing.T) {
	udp := func(port uint16, at time.Duration, payload string) *Packet {
		return &Packet{Timestamp: t0.Add(at), Kind: KindUDP, IPProto: IPProtocolUDP,
			Src: netip.MustParseAddr("192.168.1.10"), Dst: netip.MustParseAddr("192.168.1.1"), SrcPort: port, DstPort: 9, Payload: []byte(payload)}
	}
	tests := []struct {
		name string
		pkts []*Packet
		want []string
	}{
		{"woken_by_another_flow", []*Packet{udp(5000, 0, "5s"), udp(5001, 4*time.Second, "x"), udp(5001, 6*time.Second, "x"), udp(5001, 7*time.Second, "x")},
			[]string{"5000 6s"}},
		{"earliest_time_asked_for", []*Packet{udp(5000, 0, "5s"), udp(5000, time.Second, "2s"), udp(5000, 2*time.Second, "9s"), udp(5001, 3*time.Second, "x"), udp(5001, 20*time.Second, "x")},
			[]string{"5000 3s"}},
		{"asked_again_after_waking", []*Packet{udp(5000, 0, "1s"), udp(5001, 2*time.Second, "x"), udp(5000, 3*time.Second, "1s"), udp(5001, 5*time.Second, "x")},
			[]string{"5000 2s", "5000 5s"}},
		{"two_flows", []*Packet{udp(5000, 0, "2s"), udp(5002, 0, "1s"), udp(5001, 3*time.Second, "x")},
			[]string{"5000 3s", "5002 3s"}},
		{"not_after_the_flow_closed", []*Packet{udp(5000, 0, "2m"), udp(5001, 61*time.Second, "x"), udp(5001, 3*time.Minute, "x")}, // UDPIdle 1m closes 5000
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.UDPIdle = time.Minute
			w := &waker{}
			e := testEngine(t, cfg, w)
			for _, p := range tt.pkts {
				e.HandlePacket(p)
			}
			if !slices.Equal(w.woken, tt.want) {
				t.Errorf("woken %q, want %q", w.woken, tt.want)
			}
			if len(e.wakes) != 0 {
				t.Errorf("%d wakes left", len(e.wakes))
			}
		})
	}
}

// callLog is a Protocol whose analyzers log every Feed and Gap, in order.
type callLog struct{ calls []string }

func (l *callLog) Name() string                        { return "log" }
func (l *callLog) Match(*Flow, Dir, []byte) Confidence { return ContentMatch }
func (l *callLog) NewAnalyzer(*Flow) Analyzer          { return &callLogAnalyzer{l: l} }

type callLogAnalyzer struct{ l *callLog }

func (a *callLogAnalyzer) Feed(_ *Flow, dir Dir, data []byte) int {
	a.l.calls = append(a.l.calls, fmt.Sprintf("feed %v %q", dir, data))
	return len(data)
}
func (a *callLogAnalyzer) Gap(_ *Flow, dir Dir) {
	a.l.calls = append(a.l.calls, fmt.Sprint("gap ", dir))
}
func (a *callLogAnalyzer) Close(*Flow) {}

// otherSeg is seg for another connection of the same client, from its
// port 40001.
func otherSeg(dir Dir, seq uint32, flags uint8, data string) *Packet {
	p := seg(dir, seq, flags, data, 0)
	if dir == ToServer {
		p.SrcPort = 40001
	} else {
		p.DstPort = 40001
	}
	return p
}

// playOne runs pkts through a new engine with a single inspection,
// whose protocols are protos.
func playOne(t *testing.T, pkts []*Packet, protos ...Protocol) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.MaxInspected = 1
	e := testEngine(t, cfg, protos...)
	for _, p := range pkts {
		e.HandlePacket(p)
	}
}

// TestLossBeforeTheAnalyzer: bytes lost in a direction before the flow's
// analyzer exists (a segment the capture dropped, bytes that came while
// every inspection was busy) are reported to it by Gap before it reads
// anything, the direction it is about to read last, so that it does not
// take what comes next for the start of that direction. A hole only a
// FIN showed is not: its bytes may still come, and are read in order,
// or reported by one Gap when bytes after it come.
func TestLossBeforeTheAnalyzer(t *testing.T) {
	const (
		A = TCPFlagACK
		F = TCPFlagFIN | TCPFlagACK
	)
	syn, synAck := seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToClient, 499, TCPFlagSYN|A, "", 0)
	tests := []struct {
		name string
		pkts []*Packet
		want []string
	}{
		{"nothing_lost", []*Packet{syn, synAck, seg(ToServer, 100, A, "hi", 1)}, []string{`feed to_server "hi"`}},
		{"joined_midstream", []*Packet{seg(ToClient, 510, A, "* OK", 1)}, []string{`feed to_client "* OK"`}},
		{"first_server_segment_lost", []*Packet{syn, synAck, seg(ToClient, 510, A, "* OK", 1)},
			[]string{"gap to_client", `feed to_client "* OK"`}},
		{"first_client_segment_lost", []*Packet{syn, synAck, seg(ToServer, 110, A, "hi", 1)},
			[]string{"gap to_server", `feed to_server "hi"`}},
		{"both_lost", []*Packet{syn, synAck, seg(ToClient, 510, F, "", 1), seg(ToServer, 110, A, "hi", 2)},
			[]string{"gap to_server", `feed to_server "hi"`}},
		// A FIN past the bytes seen leaves the hole open: they may still
		// come (the FIN overtook them, or they are retransmitted), in
		// order, or after a hole that is then reported, once.
		{"fin_overtook_the_bytes", []*Packet{syn, synAck, seg(ToServer, 110, F, "", 1), seg(ToServer, 100, A, "0123456789", 2)},
			[]string{`feed to_server "0123456789"`}},
		{"other_direction_filled_late", []*Packet{syn, synAck, seg(ToClient, 510, F, "", 1), seg(ToServer, 100, A, "hi", 2),
			seg(ToClient, 500, A, "0123456789", 3)},
			[]string{`feed to_server "hi"`, `feed to_client "0123456789"`}},
		{"other_direction_hole_reported_once", []*Packet{syn, synAck, seg(ToClient, 510, F, "", 1), seg(ToServer, 100, A, "hi", 2),
			seg(ToClient, 505, A, "56789", 3), seg(ToServer, 102, F, "", 4)},
			[]string{`feed to_server "hi"`, "gap to_client", `feed to_client "56789"`}},
		// The only inspection is another connection's while the server
		// greets, and free when the client first speaks.
		{"read_while_busy", []*Packet{otherSeg(ToServer, 99, TCPFlagSYN, ""), otherSeg(ToClient, 499, TCPFlagSYN|A, ""), otherSeg(ToServer, 100, A, "x"),
			syn, synAck, seg(ToClient, 500, A, "* OK", 1), otherSeg(ToServer, 101, TCPFlagRST|A, ""), seg(ToServer, 100, A, "hi", 2)},
			[]string{`feed to_server "x"`, "gap to_client", `feed to_server "hi"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &callLog{}
			playOne(t, tt.pkts, l)
			if !slices.Equal(l.calls, tt.want) {
				t.Errorf("calls %q, want %q", l.calls, tt.want)
			}
		})
	}
}

// earlyLog is a callLog whose analyzers are EarlyGappers.
type earlyLog struct{ callLog }

func (l *earlyLog) NewAnalyzer(*Flow) Analyzer {
	return &earlyLogAnalyzer{callLogAnalyzer{l: &l.callLog}}
}

type earlyLogAnalyzer struct{ callLogAnalyzer }

func (a *earlyLogAnalyzer) EarlyGap(*Flow) { a.l.calls = append(a.l.calls, "early gap") }

// TestEarlyGap: server bytes lost that the client had when it sent its
// first byte (they end at or before that segment's acknowledgement
// number, on a connection seen from its start) are reported to an
// EarlyGapper by EarlyGap, whether the loss is told before the client's
// bytes are read or after; a loss that may reach past them, or that
// follows client bytes lost too, by Gap.
func TestEarlyGap(t *testing.T) {
	const A = TCPFlagACK
	syn, synAck := seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToClient, 499, TCPFlagSYN|A, "", 0)
	// acked is seg with an acknowledgement number.
	acked := func(dir Dir, seq uint32, data string, ack uint32, at time.Duration) *Packet {
		p := seg(dir, seq, A, data, at)
		p.Ack = ack
		return p
	}
	// unacked carries the client's first bytes without the ACK flag, an
	// acknowledgement number in its field all the same.
	unacked := seg(ToServer, 100, TCPFlagPSH, "USER", 1)
	unacked.Ack = 510
	tests := []struct {
		name string
		pkts []*Packet
		want []string
	}{
		// The greeting (500-509) was lost; the client had it when it sent
		// USER. The reply comes, held until PASS acknowledges it.
		{"greeting_lost", []*Packet{syn, synAck, acked(ToServer, 100, "USER", 510, 1), acked(ToClient, 510, "+OK", 104, 2),
			acked(ToServer, 104, "PASS", 513, 3)},
			[]string{`feed to_server "USER"`, "early gap", `feed to_client "+OK"`, `feed to_server "PASS"`}},
		// The loss is known (PASS acknowledges bytes never seen) when the
		// reply comes.
		{"greeting_lost_pipelined", []*Packet{syn, synAck, acked(ToServer, 100, "USER", 510, 1), acked(ToServer, 104, "PASS", 510, 2),
			acked(ToClient, 510, "+OK", 108, 3)},
			[]string{`feed to_server "USER"`, `feed to_server "PASS"`, "early gap", `feed to_client "+OK"`}},
		{"greeting_read_while_busy", []*Packet{otherSeg(ToServer, 99, TCPFlagSYN, ""), otherSeg(ToClient, 499, TCPFlagSYN|A, ""), otherSeg(ToServer, 100, A, "x"),
			syn, synAck, acked(ToClient, 500, "* OK", 100, 1), otherSeg(ToServer, 101, TCPFlagRST|A, ""), acked(ToServer, 100, "hi", 504, 2)},
			[]string{`feed to_server "x"`, "early gap", `feed to_server "hi"`}},
		// The reply to USER (510-512) was lost too.
		{"reply_lost_too", []*Packet{syn, synAck, acked(ToServer, 100, "USER", 510, 1), acked(ToServer, 104, "PASS", 513, 2),
			acked(ToClient, 513, "+OK", 108, 3)},
			[]string{`feed to_server "USER"`, `feed to_server "PASS"`, "gap to_client", `feed to_client "+OK"`}},
		// The client spoke before it had the greeting.
		{"client_spoke_first", []*Packet{syn, synAck, acked(ToServer, 100, "USER", 500, 1), acked(ToClient, 510, "+OK", 104, 2),
			acked(ToServer, 104, "PASS", 513, 3)},
			[]string{`feed to_server "USER"`, "gap to_client", `feed to_client "+OK"`, `feed to_server "PASS"`}},
		// The client's first bytes (100-109) were lost: what it had
		// when it sent them is not known.
		{"client_bytes_lost_too", []*Packet{syn, synAck, acked(ToServer, 110, "USER", 510, 1), acked(ToClient, 510, "+OK", 114, 2),
			acked(ToServer, 114, "PASS", 513, 3)},
			[]string{"gap to_server", `feed to_server "USER"`, "gap to_client", `feed to_client "+OK"`, `feed to_server "PASS"`}},
		// A loss past what the client had (its ACKs show the capture lost
		// that much), then two more, which take the place so far past it
		// that the sequence numbers wrapped: what the client had lies
		// ahead of the place again, the last loss within it. None is
		// before the client spoke.
		{"far_past_what_client_had", []*Packet{syn, synAck, acked(ToServer, 100, "USER", 510, 1), acked(ToServer, 104, "PASS", 500+1<<30, 2),
			acked(ToClient, 500+1<<31-16, "+OK", 108, 3), acked(ToServer, 108, "QUIT", 500+1<<31-13+1<<30, 4),
			acked(ToClient, 500+1<<31-13+1<<30, "+OK", 112, 5), acked(ToServer, 112, "NOOP", 500+1<<31-5+1<<30, 6),
			acked(ToClient, 500+1<<31-5+1<<30, "+OK", 116, 7)},
			[]string{`feed to_server "USER"`, `feed to_server "PASS"`, "gap to_client", `feed to_client "+OK"`,
				`feed to_server "QUIT"`, "gap to_client", `feed to_client "+OK"`,
				`feed to_server "NOOP"`, "gap to_client", `feed to_client "+OK"`}},
		// The client spoke before the greeting came, which was read: the
		// place is past what the client had, and the reply lost after
		// the greeting is not before it spoke.
		{"greeting_read_after_client_spoke", []*Packet{syn, synAck, acked(ToServer, 100, "USER", 500, 1), acked(ToClient, 500, "+OK", 104, 2),
			acked(ToServer, 104, "PASS", 506, 3), acked(ToClient, 506, "+OK", 108, 4)},
			[]string{`feed to_server "USER"`, `feed to_client "+OK"`, `feed to_server "PASS"`, "gap to_client", `feed to_client "+OK"`}},
		// The client's first bytes came in a segment without the ACK
		// flag: its acknowledgement field says nothing.
		{"first_bytes_without_ack", []*Packet{syn, synAck, unacked, acked(ToClient, 510, "+OK", 104, 2),
			acked(ToServer, 104, "PASS", 513, 3)},
			[]string{`feed to_server "USER"`, "gap to_client", `feed to_client "+OK"`, `feed to_server "PASS"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &earlyLog{}
			playOne(t, tt.pkts, l)
			if !slices.Equal(l.calls, tt.want) {
				t.Errorf("calls %q, want %q", l.calls, tt.want)
			}
		})
	}
}

// handOver is a Protocol whose analyzers hand the flow on when the
// server says "go": to TLS (StartTLS) or, with ws, to the WebSocket
// subprotocol "log" (StartWebSocket).
type handOver struct{ ws bool }

func (h *handOver) Name() string                        { return "hand" }
func (h *handOver) Match(*Flow, Dir, []byte) Confidence { return ContentMatch }
func (h *handOver) NewAnalyzer(*Flow) Analyzer          { return h }

func (h *handOver) Feed(f *Flow, dir Dir, data []byte) int {
	if dir == ToClient && string(data) == "go" {
		if h.ws {
			f.StartWebSocket([]byte("log"))
		} else {
			f.StartTLS()
		}
	}
	return len(data)
}
func (h *handOver) Gap(*Flow, Dir) {}
func (h *handOver) Close(*Flow)    {}

// loggedTLS is callLog named "tls": the analyzer StartTLS hands on to.
type loggedTLS struct{ *callLog }

func (loggedTLS) Name() string                        { return "tls" }
func (loggedTLS) Match(*Flow, Dir, []byte) Confidence { return NoMatch }

// loggedWebSocket is callLog as the WebSocket subprotocol "log".
type loggedWebSocket struct{ *callLog }

func (loggedWebSocket) Name() string                          { return "ws" }
func (loggedWebSocket) Match(*Flow, Dir, []byte) Confidence   { return NoMatch }
func (loggedWebSocket) WebSocketSubprotocol(name []byte) bool { return string(name) == "log" }
func (l loggedWebSocket) NewWebSocketAnalyzer(f *Flow) Analyzer {
	return l.NewAnalyzer(f)
}

// TestLossBeforeTakeover: an analyzer that takes a flow over mid-flow
// (TLS after StartTLS, a WebSocket subprotocol's after StartWebSocket)
// reads on where its predecessor stopped, so it hears of bytes lost
// there before it reads anything: here the client's, which came while
// every inspection was busy. Its record or frame stream does not start
// at the bytes after the loss.
func TestLossBeforeTakeover(t *testing.T) {
	const A = TCPFlagACK
	syn, synAck := seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToClient, 499, TCPFlagSYN|A, "", 0)
	// A frame of 2 bytes, unmasked.
	const frame = "\x82\x02hi"
	tests := []struct {
		name string
		ws   bool
		pkts []*Packet
		want []string
	}{
		{"tls_nothing_lost", false, []*Packet{syn, synAck, seg(ToServer, 100, A, "x", 1), seg(ToClient, 500, A, "go", 2),
			seg(ToServer, 101, A, "hello", 3)}, []string{`feed to_server "hello"`}},
		{"tls_client_bytes_read_by_none", false, []*Packet{otherSeg(ToServer, 99, TCPFlagSYN, ""), otherSeg(ToClient, 499, TCPFlagSYN|A, ""), otherSeg(ToServer, 100, A, "x"),
			syn, synAck, seg(ToServer, 100, A, "x", 1), otherSeg(ToServer, 101, TCPFlagRST|A, ""), seg(ToClient, 500, A, "go", 2), seg(ToServer, 101, A, "hello", 3)},
			[]string{"gap to_server", `feed to_server "hello"`}},
		{"websocket_nothing_lost", true, []*Packet{syn, synAck, seg(ToServer, 100, A, "x", 1), seg(ToClient, 500, A, "go", 2),
			seg(ToServer, 101, A, frame, 3)}, []string{`feed to_server "hi"`}},
		{"websocket_client_bytes_read_by_none", true, []*Packet{otherSeg(ToServer, 99, TCPFlagSYN, ""), otherSeg(ToClient, 499, TCPFlagSYN|A, ""), otherSeg(ToServer, 100, A, "x"),
			syn, synAck, seg(ToServer, 100, A, "x", 1), otherSeg(ToServer, 101, TCPFlagRST|A, ""), seg(ToClient, 500, A, "go", 2), seg(ToServer, 101, A, frame, 3)},
			[]string{"gap to_server"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &callLog{}
			playOne(t, tt.pkts, &handOver{ws: tt.ws}, loggedTLS{l}, loggedWebSocket{l})
			if !slices.Equal(l.calls, tt.want) {
				t.Errorf("calls %q, want %q", l.calls, tt.want)
			}
		})
	}
}
