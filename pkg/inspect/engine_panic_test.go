package inspect

import (
	"bytes"
	"strings"
	"testing"
)

// boom is a protocol whose code panics where its payload says: in Match
// ("match!"), in Feed ("feed!"), in Close (after "close!" was fed) and in
// FlowClosed (after "observe!").
type boom struct {
	fed        bytes.Buffer
	closeBad   bool
	observeBad bool
	abandonBad bool
	abandoned  int // Abandon calls
}

func (b *boom) Name() string { return "boom" }
func (b *boom) Match(_ *Flow, _ Dir, data []byte) Confidence {
	if bytes.Contains(data, []byte("match!")) {
		panic("boom in Match")
	}
	return ContentMatch
}
func (b *boom) NewAnalyzer(*Flow) Analyzer { return &boomAnalyzer{b: b} }
func (b *boom) FlowStarted(*Flow)          {}
func (b *boom) FlowClosed(*Flow) {
	if b.observeBad {
		panic("boom in FlowClosed")
	}
}

type boomAnalyzer struct{ b *boom }

// Abandon counts the engine's calls after a panic, and panics itself
// when the payload asked for it ("abandon!"): the engine must survive that
// too.
func (a *boomAnalyzer) Abandon(*Flow) {
	a.b.abandoned++
	if a.b.abandonBad {
		panic("boom in Abandon")
	}
}

func (a *boomAnalyzer) Feed(_ *Flow, _ Dir, data []byte) int {
	if bytes.Contains(data, []byte("abandon!")) {
		a.b.abandonBad = true
	}
	if bytes.Contains(data, []byte("feed!")) {
		return parseSecret([8]byte(data[:8])) // panics
	}
	if bytes.Contains(data, []byte("close!")) {
		a.b.closeBad = true
	}
	if bytes.Contains(data, []byte("observe!")) {
		a.b.observeBad = true
	}
	a.b.fed.Write(data)
	return len(data)
}

// parseSecret fails as a parser bug would, with packet bytes in its
// arguments, which a stack trace with argument values would print.
//
//go:noinline
func parseSecret(b [8]byte) int {
	var s []int
	return s[b[0]] // a runtime error
}

func (a *boomAnalyzer) Gap(*Flow, Dir) {}
func (a *boomAnalyzer) Close(*Flow) {
	if a.b.closeBad {
		panic("boom in Close")
	}
}

// With Options.OnPanic the engine survives a panic in any of a protocol's
// methods: it reports it, stops inspecting that flow (removing it when it
// was closing), keeps its pools whole, and goes on inspecting the others.
func TestEngineSurvivesPanics(t *testing.T) {
	tests := []struct {
		name      string
		payload   string
		rst       bool // end the flow with a reset after the payload
		reopen    bool // a SYN for a new connection on the ports before the reset
		protocol  string
		inspected bool // the flow is still inspected afterwards
		flows     int  // flows in the table afterwards
		abandoned int  // the analyzer's Abandon calls
	}{
		{name: "feed", payload: "feed!pas", protocol: "boom", flows: 1, abandoned: 1},
		// A second panic, in Abandon, is recovered and not reported.
		{name: "feed_then_abandon", payload: "feed!pasabandon!", protocol: "boom", flows: 1, abandoned: 1},
		{name: "match", payload: "match!", protocol: "packet", flows: 1},
		{name: "close", payload: "close!", rst: true, protocol: "boom", flows: 0},
		// The SYN's mark must not outlive the flow (checkPools).
		{name: "close_after_a_syn_for_the_ports", payload: "close!", rst: true, reopen: true, protocol: "boom", flows: 0},
		{name: "observer", payload: "observe!", rst: true, protocol: "boom", flows: 0},
		{name: "none", payload: "fine", protocol: "", inspected: true, flows: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &boom{}
			var panics []string
			cfg := DefaultConfig()
			cfg.HashKey = []byte("engine test key")
			e, err := NewEngine(cfg, Options{Protocols: []Protocol{b}, Sink: &discard{}, OnPanic: func(p Panic) {
				if len(p.Stack) == 0 || p.N != uint64(len(panics)+1) {
					t.Errorf("panic %+v: no stack, or counted wrong", p)
				}
				// The stack names the functions, never their arguments:
				// "feed!pas" would show as 0x66, 0x65, … in them.
				if bytes.Contains(p.Stack, []byte("0x")) || !bytes.Contains(p.Stack, []byte("inspect.")) {
					t.Errorf("panic stack holds argument words, or no function:\n%s", p.Stack)
				}
				// A panic value may quote what was parsed: only a
				// runtime error's text or the value's type is passed on.
				if strings.Contains(p.Reason, "boom") || p.Reason == "" {
					t.Errorf("panic reason %q", p.Reason)
				}
				panics = append(panics, p.Protocol)
			}})
			if err != nil {
				t.Fatal(err)
			}
			e.HandlePacket(seg(ToServer, 99, TCPFlagSYN, "", 0))
			e.HandlePacket(seg(ToServer, 100, TCPFlagACK, tt.payload, 1))
			if tt.reopen {
				e.HandlePacket(seg(ToServer, 3000000000, TCPFlagSYN, "", 2))
			}
			if tt.rst {
				e.HandlePacket(seg(ToServer, 100+uint32(len(tt.payload)), TCPFlagRST, "", 2))
			}
			wantPanics := 1
			if tt.name == "none" {
				wantPanics = 0
			}
			if len(panics) != wantPanics || wantPanics == 1 && panics[0] != tt.protocol || e.Stats.Panics != uint64(wantPanics) {
				t.Fatalf("panics reported %q (stats %d), want %d for protocol %q", panics, e.Stats.Panics, wantPanics, tt.protocol)
			}
			if e.Flows() != tt.flows {
				t.Errorf("%d flows in the table, want %d", e.Flows(), tt.flows)
			}
			if b.abandoned != tt.abandoned {
				t.Errorf("Abandon called %d times, want %d", b.abandoned, tt.abandoned)
			}
			if got := e.insps.inUse() == 1; got != tt.inspected {
				t.Errorf("flow inspected: %v, want %v", got, tt.inspected)
			}
			checkPools(t, e)
			// The engine goes on: another connection is inspected.
			b.closeBad, b.observeBad, b.abandonBad = false, false, false
			other := seg(ToServer, 500, TCPFlagACK, "next", 3)
			other.SrcPort = 40001
			e.HandlePacket(other)
			if !bytes.HasSuffix(b.fed.Bytes(), []byte("next")) {
				t.Errorf("the next connection was not inspected: fed %q", b.fed.String())
			}
		})
	}
}

// A flow whose close panics during Flush is removed, and Flush goes on
// with the others.
func TestFlushSurvivesPanics(t *testing.T) {
	b := &boom{closeBad: true}
	n := 0
	cfg := DefaultConfig()
	cfg.HashKey = []byte("engine test key")
	e, err := NewEngine(cfg, Options{Protocols: []Protocol{b}, Sink: &discard{}, OnPanic: func(Panic) { n++ }})
	if err != nil {
		t.Fatal(err)
	}
	for port := range uint16(3) {
		p := seg(ToServer, 100, TCPFlagACK, "hello", 0)
		p.SrcPort = 41000 + port
		e.HandlePacket(p)
	}
	e.Flush()
	if e.Flows() != 0 || n != 3 {
		t.Errorf("after Flush: %d flows left, %d panics reported; want 0 and 3", e.Flows(), n)
	}
	checkPools(t, e)
}

// Without OnPanic a panic goes up: tests and fuzzing must see it.
func TestEnginePanicsWithoutOnPanic(t *testing.T) {
	e := testEngine(t, DefaultConfig(), &boom{})
	defer func() {
		if recover() == nil {
			t.Error("the analyzer's panic was swallowed")
		}
	}()
	e.HandlePacket(seg(ToServer, 100, TCPFlagACK, "feed!", 0))
}

// TestPanicInHeldSegment: an analyzer that panics on a held segment's
// bytes, handed on once the bytes before it came, leaves no buffer lent
// out or unwiped.
func TestPanicInHeldSegment(t *testing.T) {
	b := &boom{}
	cfg := DefaultConfig()
	cfg.HashKey = []byte("engine test key")
	panics := 0
	e, err := NewEngine(cfg, Options{Protocols: []Protocol{b}, Sink: &discard{}, OnPanic: func(Panic) { panics++ }})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Packet{seg(ToServer, 99, TCPFlagSYN, "", 0), seg(ToClient, 499, TCPFlagSYN|TCPFlagACK, "", 0),
		seg(ToServer, 100, TCPFlagACK, "ab", 1), seg(ToServer, 104, TCPFlagACK, "feed!pas", 2), seg(ToServer, 102, TCPFlagACK, "cd", 3)} {
		e.HandlePacket(p)
	}
	if panics != 1 || e.Stats.Reordered != 1 {
		t.Fatalf("%d panics, %d segments held; want the held one to panic", panics, e.Stats.Reordered)
	}
	checkPools(t, e)
	for id := int32(1); id <= int32(len(e.bufs.bufs)); id++ {
		if bytes.Contains(e.bufs.bytes(id), []byte("pas")) {
			t.Errorf("buffer %d keeps the held bytes", id)
		}
	}
	if len(e.bufs.free) != len(e.bufs.bufs) {
		t.Errorf("%d of %d buffers free after the flow stopped", len(e.bufs.free), len(e.bufs.bufs))
	}
}
