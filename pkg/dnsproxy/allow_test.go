package dnsproxy

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestAllowAddrs: only the addresses that answer the question go into the
// allow sets: of the asked type, owned by the end of the CNAME chain from
// the question name, in a successful answer, and public.
func TestAllowAddrs(t *testing.T) {
	p := &Proxy{cfg: Config{AllowTTLMin: time.Minute, AllowTTLMax: time.Hour,
		NotAllowed: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32"), netip.MustParsePrefix("2001:db8:1::/48")}}}
	rrs := func(t *testing.T, ss ...string) []dns.RR {
		var out []dns.RR
		for _, s := range ss {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, rr)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
		ans   []string
		want  []string
		ttl   time.Duration
	}{
		{"direct", dns.TypeA, dns.RcodeSuccess, []string{"fw.vendor.test. 300 IN A 203.0.113.10"}, []string{"203.0.113.10"}, 5 * time.Minute},
		{"cname chain", dns.TypeA, dns.RcodeSuccess, []string{
			"fw.vendor.test. 600 IN CNAME a.cdn.test.",
			"a.cdn.test. 600 IN CNAME edge.cdn.test.",
			"edge.cdn.test. 120 IN A 203.0.113.12",
			"unrelated.attacker.test. 120 IN A 203.0.113.66", // not on the chain
			"a.cdn.test. 120 IN A 203.0.113.67",              // not its end
		}, []string{"203.0.113.12"}, 2 * time.Minute},
		{"case and trailing dot", dns.TypeA, dns.RcodeSuccess, []string{"FW.Vendor.TEST. 300 IN A 203.0.113.10"}, []string{"203.0.113.10"}, 5 * time.Minute},
		{"other type", dns.TypeA, dns.RcodeSuccess, []string{"fw.vendor.test. 300 IN AAAA 2001:db8::10"}, nil, 0},
		{"not success", dns.TypeA, dns.RcodeNameError, []string{"fw.vendor.test. 300 IN A 203.0.113.10"}, nil, 0},
		{"cname loop", dns.TypeA, dns.RcodeSuccess, []string{"fw.vendor.test. 60 IN CNAME x.test.", "x.test. 60 IN CNAME fw.vendor.test."}, nil, 0},
		{"special and listed ranges", dns.TypeA, dns.RcodeSuccess, []string{
			"fw.vendor.test. 300 IN A 100.64.1.1",   // carrier-grade NAT
			"fw.vendor.test. 300 IN A 192.0.0.8",    // IETF protocol assignments
			"fw.vendor.test. 300 IN A 198.18.0.1",   // benchmarking
			"fw.vendor.test. 300 IN A 192.168.1.20", // private: the LAN
			"fw.vendor.test. 300 IN A 198.51.100.7", // NotAllowed: the router's WAN address
			"fw.vendor.test. 300 IN A 203.0.113.10",
		}, []string{"203.0.113.10"}, 5 * time.Minute},
		{"v6 listed prefix", dns.TypeAAAA, dns.RcodeSuccess, []string{
			"fw.vendor.test. 30 IN AAAA 2001:db8:1::5", // the LAN's delegated prefix
			"fw.vendor.test. 30 IN AAAA 2001:db8:2::5",
		}, []string{"2001:db8:2::5"}, time.Minute},
		// A NAT64 on the router or at the ISP takes these to the IPv4
		// address they end in.
		{"nat64 rebinding", dns.TypeAAAA, dns.RcodeSuccess, []string{
			"fw.vendor.test. 300 IN AAAA 64:ff9b::c0a8:101",    // 192.168.1.1: the router
			"fw.vendor.test. 300 IN AAAA 64:ff9b::a00:5",       // 10.0.0.5
			"fw.vendor.test. 300 IN AAAA 64:ff9b::c633:6407",   // 198.51.100.7: NotAllowed
			"fw.vendor.test. 300 IN AAAA 64:ff9b:1::cb00:710a", // local-use prefix
			"fw.vendor.test. 300 IN AAAA 64:ff9b::cb00:710a",   // 203.0.113.10
		}, []string{"64:ff9b::cb00:710a"}, 5 * time.Minute},
		// A router with 6to4 sends these inside IPv4 to the address in
		// their bits 16 to 48.
		{"6to4 rebinding", dns.TypeAAAA, dns.RcodeSuccess, []string{
			"fw.vendor.test. 300 IN AAAA 2002:c0a8:101::1",  // 192.168.1.1: the router
			"fw.vendor.test. 300 IN AAAA 2002:a00:5:1::53",  // 10.0.0.5
			"fw.vendor.test. 300 IN AAAA 2002:7f00:1::1",    // 127.0.0.1
			"fw.vendor.test. 300 IN AAAA 2002:c633:6407::1", // 198.51.100.7: NotAllowed
			"fw.vendor.test. 300 IN AAAA 2002:cb00:710a::1", // 203.0.113.10
		}, []string{"2002:cb00:710a::1"}, 5 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := new(dns.Msg)
			resp.Rcode = tc.rcode
			resp.Answer = rrs(t, tc.ans...)
			addrs, ttl := p.allowAddrs(dns.Question{Name: "fw.vendor.test.", Qtype: tc.qtype, Qclass: dns.ClassINET}, resp)
			var got []string
			for _, a := range addrs {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tc.want) || (len(tc.want) > 0 && ttl != tc.ttl) {
				t.Errorf("got %v (ttl %s), want %v (ttl %s)", got, ttl, tc.want, tc.ttl)
			}
		})
	}
}
