package inspecttest

import (
	"testing"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// Stream is a TCP conversation for allocation tests and benchmarks of a
// request-response protocol: a Conv on an engine of its own that inspects
// up to inspect.MaxByteBudget bytes a direction. Exchange opens a new
// connection before the budget runs out, as a long-lived client would, so
// that a long benchmark keeps measuring inspection and not an engine that
// stopped reading. Fed byte slices, it allocates nothing itself.
type Stream struct {
	*Conv
	Engine    *inspect.Engine
	Collector *Collector
	start     [2]uint32 // sequence numbers at the start of the connection, by direction
}

// NewStream connects client to server ("192.168.1.10:40000",
// "192.168.1.20:80") on a new engine that inspects with p alone.
func NewStream(t testing.TB, p inspect.Protocol, client, server string) *Stream {
	t.Helper()
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	cfg.ByteBudget = inspect.MaxByteBudget
	s := &Stream{Collector: &Collector{}}
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{p}, Sink: s.Collector})
	if err != nil {
		t.Fatal(err)
	}
	s.Engine, s.Conv = e, NewTCP(e, client, server)
	s.start = [2]uint32{s.cseq, s.sseq}
	return s
}

// Exchange sends req from the client and resp from the server, a segment
// each, after a reset and a new handshake if either would take its
// direction past the byte budget.
func (s *Stream) Exchange(req, resp []byte) {
	if int(s.cseq-s.start[0])+len(req) > inspect.MaxByteBudget || int(s.sseq-s.start[1])+len(resp) > inspect.MaxByteBudget {
		s.send(inspect.ToServer, nil, inspect.TCPFlagRST)
		s.send(inspect.ToServer, nil, inspect.TCPFlagSYN)
		s.send(inspect.ToClient, nil, inspect.TCPFlagSYN|inspect.TCPFlagACK)
		s.send(inspect.ToServer, nil, inspect.TCPFlagACK)
		s.start = [2]uint32{s.cseq, s.sseq}
	}
	s.ClientBytes(req).ServerBytes(resp)
}

// FirstMatch returns what p's Match answers for payload, the first bytes
// of a new TCP or UDP flow from client to server, sent in dir. Like
// MatchProbe, it declines the flow; a Match never called fails the test.
func FirstMatch(t testing.TB, p inspect.Protocol, tcp bool, client, server string, dir inspect.Dir, payload []byte) inspect.Confidence {
	t.Helper()
	probe := &MatchProbe{Protocol: p}
	e := Engine(t, &Collector{}, nil, probe)
	var c *Conv
	if tcp {
		c = NewTCP(e, client, server)
	} else {
		c = NewUDP(e, client, server)
	}
	if dir == inspect.ToServer {
		c.ClientBytes(payload)
	} else {
		c.ServerBytes(payload)
	}
	if probe.Calls == 0 {
		t.Error("Match not called")
	}
	return probe.Got
}

// Interleave sends client's and server's bytes in turn, up to step bytes
// a segment (step > 0), as fuzz targets cut a conversation: a client
// segment, then a server segment, until both are sent.
func Interleave(c *Conv, client, server []byte, step int) {
	for len(client) > 0 || len(server) > 0 {
		n, m := min(step, len(client)), min(step, len(server))
		c.ClientBytes(client[:n]).ServerBytes(server[:m])
		client, server = client[n:], server[m:]
	}
}
