package dnsproxy

import (
	"context"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
)

// memUpstream answers every query with one A record, in memory.
type memUpstream struct{}

func (memUpstream) exchange(_ context.Context, m *dns.Msg, _ string) (*dns.Msg, error) {
	r := new(dns.Msg)
	r.SetReply(m)
	r.Answer = []dns.RR{&dns.A{
		Hdr: dns.RR_Header{Name: m.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 300},
		A:   netip.MustParseAddr("203.0.113.7").AsSlice(),
	}}
	return r, nil
}

func benchRespond(b *testing.B, quarantined bool, name string) {
	client := netip.MustParseAddr("192.168.1.23")
	lookup := newFakeLookup()
	lookup.set(client, quarantined)
	cfg := testConfig(netip.MustParseAddrPort("127.0.0.1:53"))
	p, err := New(cfg, Deps{Quarantine: lookup, Allow: &fakeAllow{}, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	p.up = memUpstream{}
	req := query(name, dns.TypeA)
	req.SetEdns0(1232, false)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if p.encode(p.respond(ctx, client, netip.Addr{}, req, false), req, false) == nil {
			b.Fatal("no answer")
		}
	}
}

// The whole answer path in memory, without sockets: what one query costs
// the proxy itself.
func BenchmarkRespondNotice(b *testing.B)     { benchRespond(b, true, "www.example.test.") }
func BenchmarkRespondForward(b *testing.B)    { benchRespond(b, false, "www.example.test.") }
func BenchmarkRespondUpdateHost(b *testing.B) { benchRespond(b, true, "fw.vendor.test.") }

// One client, one query at a time, through the proxy's UDP socket on
// loopback: the notice path and the forward path to the fake upstream.
func BenchmarkUDPRoundTrip(b *testing.B) {
	up, stop, err := startUpstreamAt("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	for _, tc := range []struct {
		name        string
		quarantined bool
	}{{"notice", true}, {"forward", false}} {
		b.Run(tc.name, func(b *testing.B) {
			lookup := newFakeLookup()
			lookup.set(loop4, tc.quarantined)
			cfg := testConfig(up.addr)
			cfg.Listen = cfg.Listen[:1]
			p, err := New(cfg, Deps{Quarantine: lookup, Allow: &fakeAllow{}, Logger: quietLogger()})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- p.Serve(ctx, func() {}) }()
			<-p.Ready()
			conn, err := dns.Dial("udp", p.Addrs()[0].String())
			if err != nil {
				b.Fatal(err)
			}
			req := query("www.example.test.", dns.TypeA)
			b.ReportAllocs()
			for b.Loop() {
				if err := conn.WriteMsg(req); err != nil {
					b.Fatal(err)
				}
				if _, err := conn.ReadMsg(); err != nil {
					b.Fatal(err)
				}
			}
			conn.Close()
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}
