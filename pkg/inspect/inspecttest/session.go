package inspecttest

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// What the tests of the login analyzers (POP3, SMTP, IMAP) share: scripted
// sessions from a LAN client, tables of the logins they must report and
// of what Match answers, the fuzz invariants, and the allocation checks.
//
// The table rows are aliases of unnamed struct types, so that a table can
// list its rows positionally (vet objects to unkeyed fields only in
// literals of named types from another package).

// LANClient is the client of a Session: on the LAN, so that a login to a
// public server is about it.
const LANClient = "192.168.1.10:40000"

// BodySegment is a segment of message text (a retrieved mail, a DATA
// body) without the terminating line.
const BodySegment = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\r\n" +
	"incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud\r\n"

// Session is a TCP conversation from LANClient to a server, fed into a
// fresh engine that runs one protocol behind a Probe and keeps every
// event.
type Session struct {
	*Conv
	Events *Collector
	Probe  *Probe
	engine *inspect.Engine
}

// NewSession starts a session with proto after the handshake.
func NewSession(tb testing.TB, proto inspect.Protocol, server string) *Session {
	tb.Helper()
	return NewClassifiedSession(tb, nil, proto, server)
}

// NewClassifiedSession starts a session whose logins cl classifies.
func NewClassifiedSession(tb testing.TB, cl inspect.Classifier, proto inspect.Protocol, server string) *Session {
	tb.Helper()
	s := &Session{Events: &Collector{}, Probe: &Probe{Protocol: proto}}
	s.engine = Engine(tb, s.Events, cl, s.Probe)
	s.Conv = NewTCP(s.engine, LANClient, server)
	return s
}

// Analyzer returns the session's flow and analyzer; tb fails when no
// analyzer was made.
func (s *Session) Analyzer(tb testing.TB) (*inspect.Flow, inspect.Analyzer) {
	tb.Helper()
	f, a := s.Probe.Last()
	if a == nil {
		tb.Fatal("no analyzer")
	}
	return f, a
}

// End closes the conversation and flushes the engine, so that a login
// still waiting for its verdict is reported, and returns the events.
func (s *Session) End() *Collector {
	s.Close()
	s.engine.Flush()
	return s.Events
}

// Login is what a test expects of a reported login's evidence; the user
// is redacted ("jo***"), accepted is "yes", "no" or "unknown".
type Login = struct{ User, Mechanism, Class, Accepted string }

// LoginCase is a scripted session and the logins it must report, in
// order.
type LoginCase = struct {
	Name   string
	Script func(c *Conv)
	Want   []Login
}

// RunLogins plays each case in a fresh Session with a protocol from
// newProto and checks that the findings are exactly the logins wanted,
// about the client, and that no secret appears in any event.
func RunLogins[P inspect.Protocol](t *testing.T, newProto func() P, server string, cases []LoginCase, secrets ...string) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			PlayLogins(t, newProto(), server, tt.Script, tt.Want, secrets...)
		})
	}
}

// PlayLogins plays script in a fresh Session with proto, checks that the
// findings are exactly the logins wanted, about the client, and that no
// secret appears in any event, and returns the events for a test's own
// further checks.
func PlayLogins(t testing.TB, proto inspect.Protocol, server string, script func(c *Conv), want []Login, secrets ...string) *Collector {
	t.Helper()
	s := NewSession(t, proto, server)
	script(s.Conv)
	col := s.End()
	CheckLogins(t, col, proto.Name(), netip.MustParseAddrPort(LANClient).Addr().String(), want)
	for _, secret := range secrets {
		if Leaks(t, col.Events, secret) {
			t.Errorf("%q leaked into an event", secret)
		}
	}
	return col
}

// CheckLogins checks that the findings in col are exactly the logins
// wanted, in order, reported by protocol about the device at IP address
// device.
func CheckLogins(t testing.TB, col *Collector, protocol, device string, want []Login) {
	t.Helper()
	got := col.Findings()
	if len(got) != len(want) {
		t.Fatalf("got %d findings, want %d logins: %v", len(got), len(want), col.Events)
	}
	for i, l := range got {
		w, ev := want[i], l.Evidence
		if ev["protocol"] != protocol || ev["user"] != w.User || ev["mechanism"] != w.Mechanism || ev["password_class"] != w.Class || ev["accepted"] != w.Accepted {
			t.Errorf("login %d: evidence %v, want %+v", i, ev, w)
		}
		if l.Device.IP != device {
			t.Errorf("login %d is about %v, want %s", i, l.Device, device)
		}
	}
}

// MatchCase is the first payload of a flow and what Match must answer.
type MatchCase = struct {
	Name   string
	Server string // "198.51.100.7:110"
	Dir    inspect.Dir
	Data   string
	Want   inspect.Confidence
}

// RunMatch sends each case's payload on a fresh TCP flow from LANClient
// and checks what Match answers for a protocol from newProto.
func RunMatch[P inspect.Protocol](t *testing.T, newProto func() P, cases []MatchCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			if got := FirstMatch(t, newProto(), true, LANClient, tt.Server, tt.Dir, []byte(tt.Data)); got != tt.Want {
				t.Errorf("Match = %v, want %v", got, tt.Want)
			}
		})
	}
}

// FuzzConversation fuzzes a session with a protocol from newProto: a
// greeting, the client's bytes, the server's reply, each in one segment
// (seed with f.Add(greeting, client, reply []byte)). However mangled the
// input, the analyzer reports at most one login per client line and at
// most one banner, and no event holds a word only the client sent (see
// LeakedWord): a password or user goes out redacted or hashed.
func FuzzConversation[P inspect.Protocol](f *testing.F, newProto func() P, server string) {
	f.Fuzz(func(t *testing.T, greeting, client, reply []byte) {
		s := NewSession(t, newProto(), server)
		s.ServerBytes(greeting).ClientBytes(client).ServerBytes(reply)
		col := s.End()
		if got, max := len(col.Findings()), bytes.Count(client, []byte("\n"))+1; got > max {
			t.Fatalf("%d findings from %d client lines", got, max)
		}
		if len(col.Kind(event.KindBanner)) > 1 {
			t.Fatal("more than one banner")
		}
		if w := LeakedWord(t, col.Events, client, greeting, reply); w != "" {
			t.Fatalf("the client's %q in an event", w)
		}
	})
}

// StreamNoAllocs checks that a consumes seg, sent in dir, whole and
// without allocating, time after time: a body streams through.
func StreamNoAllocs(t *testing.T, f *inspect.Flow, a inspect.Analyzer, dir inspect.Dir, seg []byte) {
	t.Helper()
	allocs := testing.AllocsPerRun(200, func() {
		if a.Feed(f, dir, seg) != len(seg) {
			t.Fatal("body not consumed")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs per body segment", allocs)
	}
}

// ExchangeNoAllocs checks that a reads a command and its reply without
// allocating.
func ExchangeNoAllocs(t *testing.T, f *inspect.Flow, a inspect.Analyzer, cmd, reply []byte) {
	t.Helper()
	allocs := testing.AllocsPerRun(200, func() {
		a.Feed(f, inspect.ToServer, cmd)
		a.Feed(f, inspect.ToClient, reply)
	})
	if allocs != 0 {
		t.Errorf("%v allocs per command and reply", allocs)
	}
}

// BenchStream measures a reading seg, sent in dir, over and over.
func BenchStream(b *testing.B, f *inspect.Flow, a inspect.Analyzer, dir inspect.Dir, seg []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(seg)))
	for b.Loop() {
		a.Feed(f, dir, seg)
	}
}
