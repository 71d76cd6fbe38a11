// Package inspecttest helps test analyzers: a Sink that keeps events,
// synthetic TCP and UDP conversations fed straight into an engine, and
// runs over capture files, including the shared corpus of real captures.
package inspecttest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testenv"
	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// Collector is a Sink that keeps every event.
type Collector struct {
	Events []*event.Event
}

// Emit implements inspect.Sink.
func (c *Collector) Emit(ev *event.Event) { c.Events = append(c.Events, ev) }

// Kind returns the events of one kind, in order.
func (c *Collector) Kind(k event.Kind) []*event.Event {
	var out []*event.Event
	for _, e := range c.Events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// Findings returns the findings, in order.
func (c *Collector) Findings() []*event.Event {
	var out []*event.Event
	for _, e := range c.Events {
		if e.IsFinding() {
			out = append(out, e)
		}
	}
	return out
}

// Engine returns an engine with the default configuration, a fixed hash
// key, the given classifier (may be nil) and protocols, emitting into c.
func Engine(t testing.TB, c *Collector, cl inspect.Classifier, protos ...inspect.Protocol) *inspect.Engine {
	t.Helper()
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	cfg.MaxFlows = 1024 // small: fuzz targets build an engine per input
	cfg.MaxBuffers = 64
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: protos, Classifier: cl, Sink: c})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// RunFile decodes and inspects a capture file with a fresh engine. A read
// error fails the test unless wantErr is set; the error is returned.
func RunFile(t testing.TB, path string, cl inspect.Classifier, protos ...inspect.Protocol) (*Collector, error) {
	t.Helper()
	c := &Collector{}
	e := Engine(t, c, cl, protos...)
	err := RunFileInto(path, e)
	e.Flush()
	return c, err
}

// RunFileInto runs a capture file through an existing engine.
func RunFileInto(path string, e *inspect.Engine) error {
	src, err := capture.OpenFile(path)
	if err != nil {
		return err
	}
	defer src.Close()
	e.SetSource(filepath.Base(path))
	d := inspect.NewDecoder()
	var p inspect.Packet
	for {
		data, info, err := src.ReadPacket()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		d.Decode(data, info, &p)
		e.HandlePacket(&p)
	}
}

// CorpusFile returns the path of a capture in the shared corpus
// (../shared/corpus/files beside the repository, where CI puts it); a
// missing file fails the test.
func CorpusFile(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(testenv.RepoRoot(t), "..", "shared", "corpus", "files", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("corpus file missing (the corpus belongs in ../shared beside the repository): %v", err)
	}
	return p
}

// RepoFile returns the path of a file relative to the repository root.
func RepoFile(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(testenv.RepoRoot(t), rel)
}

// Conv is a synthetic conversation between a client and a server, fed
// packet by packet into an engine. TCP conversations start with a
// three-way handshake; each Client/Server call is one segment.
type Conv struct {
	e              *inspect.Engine
	client, server netip.AddrPort
	cmac, smac     hwaddr.MAC
	tcp            bool
	cseq, sseq     uint32
	now            time.Time
	pkt            inspect.Packet // reused, so feeding allocates nothing
}

// Base time of synthetic conversations.
var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// NewTCP starts a TCP conversation ("192.168.1.10:50000" → "203.0.113.5:21")
// with a handshake.
func NewTCP(e *inspect.Engine, client, server string) *Conv {
	return NewTCPAt(e, client, server, 0)
}

// NewTCPAt is NewTCP with the handshake at the base time plus after.
func NewTCPAt(e *inspect.Engine, client, server string, after time.Duration) *Conv {
	c := newConv(e, client, server, true)
	c.now = c.now.Add(after)
	c.cseq, c.sseq = 1000, 5000
	c.send(inspect.ToServer, nil, inspect.TCPFlagSYN)
	c.send(inspect.ToClient, nil, inspect.TCPFlagSYN|inspect.TCPFlagACK)
	c.send(inspect.ToServer, nil, inspect.TCPFlagACK)
	return c
}

// JoinTCP is a TCP connection the capture joins after its handshake, as
// when capture starts in the middle of a session.
func JoinTCP(e *inspect.Engine, client, server string) *Conv {
	c := newConv(e, client, server, true)
	c.cseq, c.sseq = 1000, 5000
	return c
}

// OpenTCP is NewTCP, or JoinTCP when joined: for tables of cases that
// differ in whether the capture saw the connection's start.
func OpenTCP(e *inspect.Engine, joined bool, client, server string) *Conv {
	if joined {
		return JoinTCP(e, client, server)
	}
	return NewTCP(e, client, server)
}

// SYN sends the handshake packet of dir alone (SYN, or SYN-ACK towards
// the client), as when the capture missed the other.
func (c *Conv) SYN(dir inspect.Dir) *Conv {
	flags := uint8(inspect.TCPFlagSYN)
	if dir == inspect.ToClient {
		flags |= inspect.TCPFlagACK
	}
	c.send(dir, nil, flags)
	return c
}

// Wait lets d pass before the conversation's next packet.
func (c *Conv) Wait(d time.Duration) *Conv {
	c.now = c.now.Add(d)
	return c
}

// NewUDP starts a UDP conversation.
func NewUDP(e *inspect.Engine, client, server string) *Conv {
	return newConv(e, client, server, false)
}

func newConv(e *inspect.Engine, client, server string, tcp bool) *Conv {
	return &Conv{
		e:      e,
		client: netip.MustParseAddrPort(client),
		server: netip.MustParseAddrPort(server),
		cmac:   hwaddr.MAC{0x02, 0, 0, 0, 0, 0x01},
		smac:   hwaddr.MAC{0x02, 0, 0, 0, 0, 0x02},
		tcp:    tcp,
		now:    epoch,
	}
}

// ClientMAC gives the conversation's client the MAC m: conversations
// from different hosts share one MAC unless told.
func (c *Conv) ClientMAC(m hwaddr.MAC) *Conv {
	c.cmac = m
	return c
}

// Client sends data from the client in one segment or datagram.
func (c *Conv) Client(data string) *Conv {
	c.send(inspect.ToServer, []byte(data), inspect.TCPFlagACK|inspect.TCPFlagPSH)
	return c
}

// Server sends data from the server in one segment or datagram.
func (c *Conv) Server(data string) *Conv {
	c.send(inspect.ToClient, []byte(data), inspect.TCPFlagACK|inspect.TCPFlagPSH)
	return c
}

// ClientBytes and ServerBytes send binary payloads.
func (c *Conv) ClientBytes(b []byte) *Conv {
	c.send(inspect.ToServer, b, inspect.TCPFlagACK|inspect.TCPFlagPSH)
	return c
}

// ServerBytes sends a binary payload from the server.
func (c *Conv) ServerBytes(b []byte) *Conv {
	c.send(inspect.ToClient, b, inspect.TCPFlagACK|inspect.TCPFlagPSH)
	return c
}

// ClientChars sends s one byte per segment, as a person typing over
// telnet does.
func (c *Conv) ClientChars(s string) *Conv {
	for i := 0; i < len(s); i++ {
		c.Client(s[i : i+1])
	}
	return c
}

// Lookup has the client ask for name in a DNS query with id (type A, or
// AAAA when the first of addrs is an IPv6 address) and the server answer
// with addrs: a device's own lookup, which names its flows to them.
func (c *Conv) Lookup(id uint16, name string, addrs ...netip.Addr) *Conv {
	qtype := byte(1) // A
	if len(addrs) > 0 && !addrs[0].Unmap().Is4() {
		qtype = 28 // AAAA
	}
	var question []byte
	for label := range strings.SplitSeq(name, ".") {
		question = append(question, byte(len(label)))
		question = append(question, label...)
	}
	question = append(question, 0, 0, qtype, 0, 1) // root, type, class IN
	header := func(flags uint16, an int) []byte {
		return []byte{byte(id >> 8), byte(id), byte(flags >> 8), byte(flags), 0, 1, byte(an >> 8), byte(an), 0, 0, 0, 0}
	}
	response := append(header(0x8180, len(addrs)), question...)
	for _, a := range addrs {
		a = a.Unmap()
		rtype := byte(1)
		if !a.Is4() {
			rtype = 28
		}
		// A pointer to the question's name, the type, class IN, a
		// minute's TTL and the address.
		response = append(response, 0xc0, 12, 0, rtype, 0, 1, 0, 0, 0, 60, 0, byte(a.BitLen()/8))
		response = append(response, a.AsSlice()...)
	}
	return c.ClientBytes(append(header(0x0100, 0), question...)).ServerBytes(response)
}

// Lose skips n bytes of the stream sent in dir, as a capture that dropped
// a segment does: the next segment arrives after a hole.
func (c *Conv) Lose(dir inspect.Dir, n int) *Conv {
	if dir == inspect.ToServer {
		c.cseq += uint32(n)
	} else {
		c.sseq += uint32(n)
	}
	return c
}

// Close ends a TCP conversation with FINs from both sides.
func (c *Conv) Close() {
	if !c.tcp {
		return
	}
	c.send(inspect.ToServer, nil, inspect.TCPFlagFIN|inspect.TCPFlagACK)
	c.send(inspect.ToClient, nil, inspect.TCPFlagFIN|inspect.TCPFlagACK)
}

func (c *Conv) send(dir inspect.Dir, data []byte, flags uint8) {
	c.now = c.now.Add(time.Millisecond)
	p := &c.pkt
	*p = inspect.Packet{Timestamp: c.now, HasMAC: true, Length: 54 + len(data), Payload: data}
	src, dst := c.client, c.server
	smac, dmac := c.cmac, c.smac
	seq, ack := &c.cseq, c.sseq
	if dir == inspect.ToClient {
		src, dst, smac, dmac, seq, ack = c.server, c.client, c.smac, c.cmac, &c.sseq, c.cseq
	}
	p.Src, p.Dst, p.SrcPort, p.DstPort = src.Addr(), dst.Addr(), src.Port(), dst.Port()
	p.SrcMAC, p.DstMAC = smac, dmac
	if c.tcp {
		p.Kind, p.IPProto = inspect.KindTCP, 6
		p.TCPFlags = flags
		p.Seq = *seq
		if flags&inspect.TCPFlagACK != 0 {
			p.Ack = ack // all the other side sent, lost bytes too: the peer got them
		}
		*seq += uint32(len(data))
		if flags&(inspect.TCPFlagSYN|inspect.TCPFlagFIN) != 0 {
			*seq++
		}
	} else {
		p.Kind, p.IPProto = inspect.KindUDP, 17
	}
	if src.Addr().Is4() {
		p.TTL = 64
	}
	c.e.HandlePacket(p)
}

// Probe wraps a Protocol and keeps every flow and analyzer it makes, so
// that allocation tests and benchmarks can feed an analyzer directly,
// without the engine's per-packet cost and byte budget. Embedding the
// interface hides the wrapped type's other methods: do not wrap a
// FlowObserver.
type Probe struct {
	inspect.Protocol
	Flows     []*inspect.Flow
	Analyzers []inspect.Analyzer
}

// NewAnalyzer implements inspect.Protocol.
func (p *Probe) NewAnalyzer(f *inspect.Flow) inspect.Analyzer {
	a := p.Protocol.NewAnalyzer(f)
	p.Flows, p.Analyzers = append(p.Flows, f), append(p.Analyzers, a)
	return a
}

// Last returns the latest flow and its analyzer, or nil, nil if none was
// made.
func (p *Probe) Last() (*inspect.Flow, inspect.Analyzer) {
	if len(p.Flows) == 0 {
		return nil, nil
	}
	return p.Flows[len(p.Flows)-1], p.Analyzers[len(p.Analyzers)-1]
}

// MatchProbe wraps a Protocol and records what its Match answers for a
// flow the engine built, then declines the flow, so that Match is tested
// on real flows without an analyzer being made. As with Probe, do not
// wrap a FlowObserver.
type MatchProbe struct {
	inspect.Protocol
	Got   inspect.Confidence // the latest answer
	Calls int
}

// Match implements inspect.Protocol.
func (p *MatchProbe) Match(f *inspect.Flow, dir inspect.Dir, b []byte) inspect.Confidence {
	p.Got = p.Protocol.Match(f, dir, b)
	p.Calls++
	return inspect.NoMatch
}

// CheckEvidence checks got, the evidence of the event where names, against
// want: each key holds its value, and a key written "-key" is absent.
func CheckEvidence(t testing.TB, where string, got event.Evidence, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if absent, ok := strings.CutPrefix(k, "-"); ok {
			if g, ok := got[absent]; ok {
				t.Errorf("%s: %s = %q, want absent (evidence %v)", where, absent, g, got)
			}
			continue
		}
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q (evidence %v)", where, k, got[k], v, got)
		}
	}
}

// Distinctive reports whether s is long, alphanumeric and mixes letters
// and digits, so that finding it in an event's JSON can only be a leak.
func Distinctive(s []byte) bool {
	var letter, digit bool
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			letter = true
		case '0' <= c && c <= '9':
			digit = true
		default:
			return false
		}
	}
	return len(s) >= 8 && letter && digit
}

// LeakedWord returns a Distinctive word of sent, a run of letters and
// digits, that an event holds and none of heard does, or "" when there
// is none: what one end sent and only it, a password or a user, must
// reach the events redacted or hashed. Words the other end sent too (an
// echo, a greeting) may be written by design.
func LeakedWord(t testing.TB, events []*event.Event, sent []byte, heard ...[]byte) string {
	t.Helper()
	if len(events) == 0 {
		return ""
	}
	out, err := json.Marshal(events)
	if err != nil {
		t.Fatal(err)
	}
	notAlnum := func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
	}
	for _, w := range bytes.FieldsFunc(sent, notAlnum) {
		if Distinctive(w) && bytes.Contains(out, w) && !slices.ContainsFunc(heard, func(h []byte) bool { return bytes.Contains(h, w) }) {
			return string(w)
		}
	}
	return ""
}

// Leaks reports whether any event, as written in JSON, contains s; use it
// to prove that a secret never leaves the inspector.
func Leaks(t testing.TB, events []*event.Event, s string) bool {
	t.Helper()
	// JSON writes <, > and & as \u003c…, so look for the escaped form too.
	esc, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	escaped := string(esc[1 : len(esc)-1])
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), s) || strings.Contains(string(b), escaped) {
			return true
		}
	}
	return false
}
