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
		if p.encode(p.respond(ctx, client, req, false), req, false) == nil {
			b.Fatal("no answer")
		}
	}
}

// The whole answer path in memory, without sockets: what one query costs
// the proxy itself.
func BenchmarkRespondNotice(b *testing.B)     { benchRespond(b, true, "www.example.test.") }
func BenchmarkRespondForward(b *testing.B)    { benchRespond(b, false, "www.example.test.") }
func BenchmarkRespondUpdateHost(b *testing.B) { benchRespond(b, true, "fw.vendor.test.") }
