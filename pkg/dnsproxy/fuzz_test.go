package dnsproxy

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// fuzzUpstream answers with the fuzzer's bytes. Unless the reply's first
// flag bit says otherwise, ID and question are made to match, so that the
// paths behind the proxy's checks run too.
type fuzzUpstream struct{ reply []byte }

func (f fuzzUpstream) exchange(_ context.Context, m *dns.Msg, _ string) (*dns.Msg, error) {
	r := new(dns.Msg)
	if err := r.Unpack(f.reply); err != nil {
		return nil, err
	}
	if f.reply[2]&0x01 == 0 {
		r.Id, r.Response, r.Question = m.Id, true, m.Question
	}
	return r, nil
}

func packed(m *dns.Msg) []byte {
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

func FuzzRespond(f *testing.F) {
	up, stop, err := startUpstreamAt("127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	defer stop()
	seedQuery := func(name string, qtype uint16, edns bool) []byte {
		m := query(name, qtype)
		if edns {
			m.SetEdns0(4096, true)
		}
		return packed(m)
	}
	reply := func(name string, qtype uint16) []byte {
		m := query(name, qtype)
		m.Response = true
		m.Answer = up.answer(m.Question[0])
		return packed(m)
	}
	f.Add(seedQuery("www.example.test.", dns.TypeA, false), reply("www.example.test.", dns.TypeA))
	f.Add(seedQuery("fw.vendor.test.", dns.TypeA, true), reply("fw.vendor.test.", dns.TypeA))
	f.Add(seedQuery("cdn.fw.vendor.test.", dns.TypeA, true), reply("cdn.fw.vendor.test.", dns.TypeA))
	f.Add(seedQuery("big.test.", dns.TypeTXT, false), reply("big.test.", dns.TypeTXT))
	f.Add(seedQuery("nas.lan.", dns.TypeAAAA, true), reply("nas.lan.", dns.TypeA))
	f.Add(seedQuery("1.1.168.192.in-addr.arpa.", dns.TypePTR, false), reply("1.1.168.192.in-addr.arpa.", dns.TypePTR))
	f.Add(seedQuery("data.1.168.192.in-addr.arpa.", dns.TypePTR, false), reply("data.1.168.192.in-addr.arpa.", dns.TypePTR))
	long := strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 60) + "."
	f.Add(seedQuery(long, dns.TypeAAAA, false), reply(long, dns.TypeAAAA))
	f.Add(mustHex("1234 0100 0002 0000 0000 0000"+qHex+qHex), []byte{0, 0, 1})

	quarantined := netip.MustParseAddr("192.168.1.23")
	free := netip.MustParseAddr("192.168.1.42")
	lookup := newFakeLookup(quarantined)
	cfg := testConfig(up.addr)
	f.Fuzz(func(t *testing.T, q, upstreamReply []byte) {
		req := new(dns.Msg)
		if req.Unpack(q) != nil || len(upstreamReply) < 3 {
			return
		}
		p, err := New(cfg, Deps{Quarantine: lookup, Allow: &fakeAllow{}, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		p.up = fuzzUpstream{reply: upstreamReply}
		for _, client := range []netip.Addr{quarantined, free} {
			for _, tcp := range []bool{false, true} {
				resp := p.respond(context.Background(), client, netip.Addr{}, req, tcp)
				if req.Response {
					if resp != nil {
						t.Fatal("answered a response")
					}
					continue
				}
				if resp == nil || resp.Id != req.Id || !resp.Response {
					t.Fatalf("bad answer %v to %v", resp, req)
				}
				b := p.encode(resp, req, tcp)
				if b == nil {
					t.Fatalf("no bytes for answer %v", resp)
				}
				if limit := clientLimit(req, cfg); !tcp && len(b) > limit {
					t.Fatalf("UDP answer of %d bytes, client takes %d", len(b), limit)
				}
			}
		}
	})
}

func clientLimit(req *dns.Msg, cfg Config) int {
	opt := req.IsEdns0()
	if opt == nil {
		return dns.MinMsgSize
	}
	size := DefaultMaxUDPSize
	if cfg.MaxUDPSize != 0 {
		size = cfg.MaxUDPSize
	}
	return min(max(int(opt.UDPSize()), dns.MinMsgSize), size)
}
