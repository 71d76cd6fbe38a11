package inspect

import (
	"bytes"
	"testing"
	"time"
)

// lineUpgrader's analyzers consume whole lines and, at a line "UPGRADE
// <subprotocol>", hand the flow on with Flow.StartWebSocket, as HTTP's
// does at a 101 answer.
type lineUpgrader struct{ refused int }

func (*lineUpgrader) Name() string                        { return "lines" }
func (*lineUpgrader) Match(*Flow, Dir, []byte) Confidence { return ContentMatch }
func (u *lineUpgrader) NewAnalyzer(*Flow) Analyzer        { return &lineUpgraderAnalyzer{u: u} }

type lineUpgraderAnalyzer struct {
	u      *lineUpgrader
	closed bool
}

func (a *lineUpgraderAnalyzer) Feed(f *Flow, _ Dir, data []byte) int {
	n := 0
	for {
		i := bytes.IndexByte(data[n:], '\n')
		if i < 0 {
			return n
		}
		line := bytes.TrimSpace(data[n : n+i])
		n += i + 1
		if sub, ok := bytes.CutPrefix(line, []byte("UPGRADE ")); ok {
			if f.StartWebSocket(sub) {
				if !a.closed {
					panic("handed on without a Close")
				}
				return n
			}
			a.u.refused++
		}
	}
}
func (*lineUpgraderAnalyzer) Gap(*Flow, Dir) {}
func (a *lineUpgraderAnalyzer) Close(*Flow)  { a.closed = true }

// wsRecorder runs as WebSocket subprotocol "rec" and keeps what its
// analyzer is fed.
type wsRecorder struct {
	count  bool // count the bytes fed instead of keeping them
	n      int
	got    [2]bytes.Buffer
	gaps   [2]int
	closed int
}

func (*wsRecorder) Name() string                        { return "wsrec" }
func (*wsRecorder) Match(*Flow, Dir, []byte) Confidence { return NoMatch }
func (r *wsRecorder) NewAnalyzer(*Flow) Analyzer        { return &wsRecAnalyzer{r} }
func (*wsRecorder) WebSocketSubprotocol(name []byte) bool {
	return string(name) == "rec"
}
func (r *wsRecorder) NewWebSocketAnalyzer(*Flow) Analyzer { return &wsRecAnalyzer{r} }

type wsRecAnalyzer struct{ r *wsRecorder }

func (a *wsRecAnalyzer) Feed(_ *Flow, dir Dir, data []byte) int {
	a.r.n += len(data)
	if !a.r.count {
		a.r.got[dir].Write(data)
	}
	return len(data)
}
func (a *wsRecAnalyzer) Gap(_ *Flow, dir Dir) { a.r.gaps[dir]++ }
func (a *wsRecAnalyzer) Close(*Flow)          { a.r.closed++ }

// wsFrame is a final frame of opcode op (with rsv, the RSV bits), with
// payload masked by a fixed key if masked.
func wsFrame(op byte, masked bool, payload string) string {
	key := [4]byte{0xa1, 0x02, 0xc3, 0x44}
	b := []byte{0x80 | op, byte(len(payload))}
	if !masked {
		return string(append(b, payload...))
	}
	b[1] |= 0x80
	b = append(b, key[:]...)
	for i := range len(payload) {
		b = append(b, payload[i]^key[i&3])
	}
	return string(b)
}

func TestStartWebSocket(t *testing.T) {
	const (
		opBinary = 0x2
		opClose  = 0x8
		opPing   = 0x9
		rsv1     = 0x40
	)
	connect, connack := wsFrame(opBinary, true, "CONNECT"), wsFrame(opBinary, false, "CONNACK")
	type send struct {
		dir  Dir
		data string
	}
	tests := []struct {
		name       string
		sends      []send
		want       [2]string // fed to the subprotocol's analyzer
		gaps       [2]int
		compressed uint64
		stopped    bool // inspection ended before the flow
	}{
		{"frames_after_upgrade", []send{{ToClient, "UPGRADE rec\r\n"}, {ToServer, connect}, {ToClient, connack}},
			[2]string{"CONNECT", "CONNACK"}, [2]int{}, 0, false},
		// What follows the upgrade in its own segment is the new
		// analyzer's, with or without bytes pending before it.
		{"frames_in_the_upgrade_segment", []send{{ToClient, "UPGRADE rec\r\n" + connack}},
			[2]string{"", "CONNACK"}, [2]int{}, 0, false},
		{"frames_after_pending_bytes", []send{{ToClient, "UPGR"}, {ToClient, "ADE rec\r\n" + connack}},
			[2]string{"", "CONNACK"}, [2]int{}, 0, false},
		{"frames_pending_in_the_other_direction", []send{{ToServer, connect[:3]}, {ToClient, "UPGRADE rec\r\n"}, {ToServer, connect[3:]}},
			[2]string{"CONNECT", ""}, [2]int{}, 0, false},
		{"frame_split_across_segments", []send{{ToClient, "UPGRADE rec\r\n"}, {ToServer, connect[:1]}, {ToServer, connect[1:4]}, {ToServer, connect[4:9]}, {ToServer, connect[9:]}},
			[2]string{"CONNECT", ""}, [2]int{}, 0, false},
		{"control_frames_skipped", []send{{ToClient, "UPGRADE rec\r\n"}, {ToServer, wsFrame(opPing, true, "hi") + connect}},
			[2]string{"CONNECT", ""}, [2]int{}, 0, false},
		{"unknown_subprotocol_stays", []send{{ToClient, "UPGRADE chat\r\n"}, {ToServer, connect}},
			[2]string{}, [2]int{}, 0, false},
		{"compressed_stops", []send{{ToClient, "UPGRADE rec\r\n"}, {ToServer, wsFrame(rsv1|opBinary, true, "zz")}, {ToServer, connect}},
			[2]string{}, [2]int{}, 1, true},
		{"malformed_direction_dropped", []send{{ToClient, "UPGRADE rec\r\n"}, {ToServer, "GET / HTTP/1.1\r\n\r\n"}, {ToClient, connack}},
			[2]string{"", "CONNACK"}, [2]int{1, 0}, 0, false},
		{"closed_both_ways_stops", []send{{ToClient, "UPGRADE rec\r\n"}, {ToServer, connect + wsFrame(opClose, true, "")},
			{ToClient, wsFrame(opClose, false, "")}, {ToServer, connect}},
			[2]string{"CONNECT", ""}, [2]int{}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &wsRecorder{}
			e := testEngine(t, DefaultConfig(), &lineUpgrader{}, rec)
			seq := [2]uint32{1000, 5000}
			e.HandlePacket(seg(ToServer, seq[ToServer]-1, TCPFlagSYN, "", 0))
			e.HandlePacket(seg(ToClient, seq[ToClient]-1, TCPFlagSYN|TCPFlagACK, "", 0))
			for i, s := range tt.sends {
				e.HandlePacket(seg(s.dir, seq[s.dir], TCPFlagACK, s.data, time.Duration(i+1)*time.Millisecond))
				seq[s.dir] += uint32(len(s.data))
			}
			if rec.closed != 0 != tt.stopped {
				t.Errorf("subprotocol analyzer closed %d times before the flow ended", rec.closed)
			}
			e.Flush()
			if got := [2]string{rec.got[0].String(), rec.got[1].String()}; got != tt.want {
				t.Errorf("fed %q, want %q", got, tt.want)
			}
			if rec.gaps != tt.gaps || e.Stats.WebSocketCompressed != tt.compressed {
				t.Errorf("gaps %v, compressed %d; want %v, %d", rec.gaps, e.Stats.WebSocketCompressed, tt.gaps, tt.compressed)
			}
			if handed := tt.want != [2]string{} || tt.compressed > 0; handed && (rec.closed != 1 || e.Stats.WebSockets != 1) {
				t.Errorf("subprotocol analyzer closed %d times, %d WebSocket flows; want 1, 1", rec.closed, e.Stats.WebSockets)
			}
		})
	}
}

// TestWebSocketSteadyStateNoAlloc sends masked frames on a flow handed
// to a WebSocket subprotocol: the frame reader allocates nothing.
func TestWebSocketSteadyStateNoAlloc(t *testing.T) {
	rec := &wsRecorder{count: true}
	cfg := DefaultConfig()
	cfg.ByteBudget = MaxByteBudget
	e := testEngine(t, cfg, &lineUpgrader{}, rec)
	seq := [2]uint32{1000, 5000}
	e.HandlePacket(seg(ToServer, seq[ToServer]-1, TCPFlagSYN, "", 0))
	e.HandlePacket(seg(ToClient, seq[ToClient]-1, TCPFlagSYN|TCPFlagACK, "", 0))
	e.HandlePacket(seg(ToClient, seq[ToClient], TCPFlagACK, "UPGRADE rec\r\n", time.Millisecond))
	frame := wsFrame(0x2, true, "PUBLISH home/temp 21.5")
	p := seg(ToServer, seq[ToServer], TCPFlagACK, frame, 2*time.Millisecond)
	allocs := testing.AllocsPerRun(200, func() {
		e.HandlePacket(p)
		p.Seq += uint32(len(frame))
	})
	if allocs != 0 {
		t.Errorf("%v allocs per frame", allocs)
	}
	if want := 201 * len("PUBLISH home/temp 21.5"); rec.n != want || rec.closed != 0 {
		t.Errorf("%d payload bytes fed, want %d; closed %d times: not measured", rec.n, want, rec.closed)
	}
}
