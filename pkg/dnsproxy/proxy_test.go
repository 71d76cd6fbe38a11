package dnsproxy

import (
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// answerText renders the answer section as "type value ttl" lines.
func answerText(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		f := strings.Fields(rr.String())
		// name ttl class type value…
		out = append(out, strings.Join(append([]string{f[3]}, f[4:]...), " ")+" ttl="+f[1])
	}
	return out
}

func TestAnswers(t *testing.T) {
	up := startUpstream(t)
	allow := &fakeAllow{}
	quarantined := newFakeLookup()
	// A stopped clock: an address allowed by an earlier case has all of
	// its allowance left, and a quarantined client's TTL shows it whole.
	stopped := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	p := startProxy(t, testConfig(up.addr), Deps{Quarantine: quarantined, Allow: allow, Now: func() time.Time { return stopped }})

	tests := []struct {
		name        string
		quarantined bool
		q           string
		qtype       uint16
		rcode       int
		answer      []string
		allowed     []allowCall
	}{
		{name: "unquarantined_forwarded_unchanged", q: "www.example.test.", qtype: dns.TypeA,
			answer: []string{"A 198.51.100.10 ttl=300"}},
		{name: "unquarantined_aaaa", q: "www.example.test.", qtype: dns.TypeAAAA,
			answer: []string{"AAAA 2001:db8::10 ttl=300"}},
		{name: "unquarantined_nxdomain_passed", q: "nothing.example.test.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError},
		{name: "unquarantined_upstream_servfail_passed", q: "servfail.test.", qtype: dns.TypeA,
			rcode: dns.RcodeServerFailure},
		{name: "unquarantined_update_domain_allowed_too", q: "fw.vendor.test.", qtype: dns.TypeA,
			answer:  []string{"A 203.0.113.7 ttl=300"},
			allowed: []allowCall{{addrs: []netip.Addr{netip.MustParseAddr("203.0.113.7")}, ttl: 300 * time.Second}}},
		{name: "unquarantined_long_ttl_not_capped", q: "long.fw.vendor.test.", qtype: dns.TypeA,
			answer:  []string{"A 203.0.113.11 ttl=86400"},
			allowed: []allowCall{{addrs: []netip.Addr{netip.MustParseAddr("203.0.113.11")}, ttl: time.Hour}}},
		{name: "quarantined_notice_a", quarantined: true, q: "www.example.test.", qtype: dns.TypeA,
			answer: []string{"A 192.168.1.1 ttl=30"}},
		{name: "quarantined_notice_aaaa", quarantined: true, q: "www.example.test.", qtype: dns.TypeAAAA,
			answer: []string{"AAAA fd00::1 ttl=30"}},
		{name: "quarantined_notice_for_nonexistent_name", quarantined: true, q: "nothing.example.test.", qtype: dns.TypeA,
			answer: []string{"A 192.168.1.1 ttl=30"}},
		{name: "quarantined_txt_nodata", quarantined: true, q: "www.example.test.", qtype: dns.TypeTXT},
		{name: "quarantined_https_nodata", quarantined: true, q: "www.example.test.", qtype: dns.TypeHTTPS},
		{name: "quarantined_mixed_case_keeps_qname", quarantined: true, q: "WwW.ExAmPlE.TeSt.", qtype: dns.TypeA,
			answer: []string{"A 192.168.1.1 ttl=30"}},
		{name: "quarantined_update_domain_resolved_already_allowed", quarantined: true, q: "fw.vendor.test.", qtype: dns.TypeA,
			answer: []string{"A 203.0.113.7 ttl=300"}},
		{name: "quarantined_update_domain_aaaa_allowed", quarantined: true, q: "fw.vendor.test.", qtype: dns.TypeAAAA,
			answer:  []string{"AAAA 2001:db8::7 ttl=300"},
			allowed: []allowCall{{addrs: []netip.Addr{netip.MustParseAddr("2001:db8::7")}, ttl: 300 * time.Second}}},
		{name: "quarantined_update_subdomain", quarantined: true, q: "eu.fw.vendor.test.", qtype: dns.TypeA,
			answer:  []string{"A 203.0.113.9 ttl=300"},
			allowed: []allowCall{{addrs: []netip.Addr{netip.MustParseAddr("203.0.113.9")}, ttl: 300 * time.Second}}},
		{name: "quarantined_update_uppercase", quarantined: true, q: "EU.FW.Vendor.Test.", qtype: dns.TypeA,
			answer: []string{"A 203.0.113.9 ttl=300"}}, // allowed above already: no second update
		{name: "quarantined_short_ttl_allowed_for_minimum", quarantined: true, q: "short.fw.vendor.test.", qtype: dns.TypeA,
			answer:  []string{"A 203.0.113.10 ttl=5"},
			allowed: []allowCall{{addrs: []netip.Addr{netip.MustParseAddr("203.0.113.10")}, ttl: time.Minute}}},
		{name: "quarantined_long_ttl_capped_in_answer", quarantined: true, q: "long.fw.vendor.test.", qtype: dns.TypeA,
			answer: []string{"A 203.0.113.11 ttl=3600"}},
		{name: "quarantined_cname_chain_target_allowed", quarantined: true, q: "cdn.fw.vendor.test.", qtype: dns.TypeA,
			answer:  []string{"CNAME edge.cdn.test. ttl=120", "A 203.0.113.12 ttl=120"},
			allowed: []allowCall{{addrs: []netip.Addr{netip.MustParseAddr("203.0.113.12")}, ttl: 120 * time.Second}}},
		{name: "unquarantined_mixed_answer_whole", q: "mixed.fw.vendor.test.", qtype: dns.TypeA,
			answer:  []string{"A 203.0.113.20 ttl=300", "A 10.0.0.5 ttl=300"},
			allowed: []allowCall{{addrs: []netip.Addr{netip.MustParseAddr("203.0.113.20")}, ttl: 300 * time.Second}}},
		// A quarantined client gets only the addresses it may reach.
		{name: "quarantined_mixed_answer_cut_to_allowed", quarantined: true, q: "mixed.fw.vendor.test.", qtype: dns.TypeA,
			answer: []string{"A 203.0.113.20 ttl=300"}},
		{name: "quarantined_rebinding_answer_not_allowed", quarantined: true, q: "rebind.fw.vendor.test.", qtype: dns.TypeA},
		{name: "quarantined_lookalike_prefix_gets_notice", quarantined: true, q: "evilfw.vendor.test.", qtype: dns.TypeA,
			answer: []string{"A 192.168.1.1 ttl=30"}},
		{name: "quarantined_lookalike_suffix_gets_notice", quarantined: true, q: "fw.vendor.test.evil.test.", qtype: dns.TypeA,
			answer: []string{"A 192.168.1.1 ttl=30"}},
		{name: "quarantined_escaped_dot_label_gets_notice", quarantined: true, q: `a\.fw.vendor.test.`, qtype: dns.TypeA,
			answer: []string{"A 192.168.1.1 ttl=30"}},
		{name: "quarantined_local_domain_forwarded", quarantined: true, q: "nas.lan.", qtype: dns.TypeA,
			answer: []string{"A 192.168.1.20 ttl=60"}},
		{name: "quarantined_single_label_forwarded", quarantined: true, q: "openwrt.", qtype: dns.TypeA,
			answer: []string{"A 192.168.1.1 ttl=60"}},
		{name: "quarantined_reverse_lookup_forwarded", quarantined: true, q: "1.1.168.192.in-addr.arpa.", qtype: dns.TypePTR,
			answer: []string{"PTR openwrt.lan. ttl=60"}},
		// Nothing else under the reverse zones, nor other types for host
		// names: each would reach a server on the internet, a way out.
		{name: "quarantined_reverse_lookup_outside_lan_nodata", quarantined: true, q: "9.113.0.203.in-addr.arpa.", qtype: dns.TypePTR},
		{name: "quarantined_reverse_txt_nodata", quarantined: true, q: "1.1.168.192.in-addr.arpa.", qtype: dns.TypeTXT},
		{name: "quarantined_ip6_arpa_tunnel_nodata", quarantined: true, q: "data.8.b.d.0.1.0.0.2.ip6.arpa.", qtype: dns.TypeTXT},
		{name: "quarantined_single_label_txt_nodata", quarantined: true, q: "openwrt.", qtype: dns.TypeTXT},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, addr := range p.Addrs() {
			client := loop4
			if addr.Addr().Is6() {
				client = loop6
			}
			for _, tt := range tests {
				t.Run(network+"/"+client.String()+"/"+tt.name, func(t *testing.T) {
					quarantined.set(client, tt.quarantined)
					r := ask(t, network, addr, query(tt.q, tt.qtype))
					if r.Rcode != tt.rcode {
						t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
					}
					if len(r.Question) != 1 || r.Question[0].Name != tt.q {
						t.Errorf("question %v, want %s", r.Question, tt.q)
					}
					if got := answerText(r); !slices.Equal(got, tt.answer) {
						t.Errorf("answer\n got %q\nwant %q", got, tt.answer)
					}
					got := allow.taken()
					if network != "udp" || !addr.Addr().Is4() {
						// The first pass filled the allow cache: no repeats.
						if len(got) != 0 {
							t.Errorf("repeated allow updates %v", got)
						}
						return
					}
					if !slices.EqualFunc(got, tt.allowed, func(a, b allowCall) bool {
						return slices.Equal(a.addrs, b.addrs) && a.ttl == b.ttl
					}) {
						t.Errorf("allow updates\n got %v\nwant %v", got, tt.allowed)
					}
				})
			}
		}
	}
	st := p.Stats()
	if st.TCPQueries == 0 || st.NoticeAnswers == 0 || st.Forwarded == 0 || st.UpdateLookups == 0 || st.AllowUpdates == 0 {
		t.Errorf("stats not counted: %+v", st)
	}
}

func TestNoticeWithoutIPv6(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.NoticeV6 = netip.Addr{}
	p := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(loop4), Allow: &fakeAllow{}})
	r := ask(t, "udp", p.Addrs()[0], query("www.example.test.", dns.TypeAAAA))
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 {
		t.Fatalf("want NODATA, got %s %v", dns.RcodeToString[r.Rcode], r.Answer)
	}
	if up.queries("udp")+up.queries("tcp") != 0 {
		t.Error("a quarantined client's query reached the upstream")
	}
}

// TestNoticeOnTheQuerysLink: a quarantined client is answered with the
// router's address on the link its query came in on (the listen address
// it reached, the redirect's destination), not with the first router
// address, which on another bridge its quarantine cuts off: br-lan's
// address for a device on br-guest. The other family's answer is the
// link's own listen address of that family; a link without one, or a
// listen address on no link, takes NoticeV4 and NoticeV6.
func TestNoticeOnTheQuerysLink(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	lan, guest, nowhere := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")
	cfg.Listen = []netip.AddrPort{netip.AddrPortFrom(lan, 0), netip.AddrPortFrom(guest, 0), netip.MustParseAddrPort("[::1]:0"), netip.AddrPortFrom(nowhere, 0)}
	cfg.Links = []Link{
		{Name: "br-lan", Addrs: []netip.Addr{lan, netip.MustParseAddr("fe80::1")}},
		{Name: "br-guest", Addrs: []netip.Addr{netip.MustParseAddr("fe80::1"), loop6, guest}},
	}
	cfg.AllQuarantined = true
	p := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}})
	at := map[netip.Addr]netip.AddrPort{}
	for _, a := range p.Addrs() {
		at[a.Addr()] = a
	}
	tests := []struct {
		name  string
		at    netip.Addr
		qtype uint16
		want  string
	}{
		{"lan_a_its_own_address", lan, dns.TypeA, "A 127.0.0.1 ttl=30"},
		{"lan_aaaa_none_on_the_link_fallback", lan, dns.TypeAAAA, "AAAA fd00::1 ttl=30"},
		{"guest_a_its_own_address", guest, dns.TypeA, "A 127.0.0.2 ttl=30"},
		{"guest_aaaa_the_links_ipv6", guest, dns.TypeAAAA, "AAAA ::1 ttl=30"},
		{"guest_over_ipv6_a_the_links_ipv4", loop6, dns.TypeA, "A 127.0.0.2 ttl=30"},
		{"guest_over_ipv6_aaaa_its_own_address", loop6, dns.TypeAAAA, "AAAA ::1 ttl=30"},
		{"no_link_a_fallback", nowhere, dns.TypeA, "A 192.168.1.1 ttl=30"},
		{"no_link_aaaa_fallback", nowhere, dns.TypeAAAA, "AAAA fd00::1 ttl=30"},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				r := ask(t, network, at[tt.at], query("www.example.test.", tt.qtype))
				if got := answerText(r); !slices.Equal(got, []string{tt.want}) {
					t.Errorf("answer at %s: %q, want %q", tt.at, got, tt.want)
				}
			})
		}
	}
}

// TestNoticeAtLinkLocal: a query that reached a link-local listen
// address, zoned by its interface, is answered with that link's own
// addresses, never a link-local one.
func TestNoticeAtLinkLocal(t *testing.T) {
	const port = 5354
	guestV4, guestV6 := netip.MustParseAddr("192.168.78.1"), netip.MustParseAddr("2001:db8:77:2::1")
	lanLL, guestLL := netip.MustParseAddr("fe80::1%br-lan"), netip.MustParseAddr("fe80::1%br-guest")
	cfg := Config{
		Listen: []netip.AddrPort{
			netip.MustParseAddrPort("192.168.77.1:5354"), netip.AddrPortFrom(lanLL, port),
			netip.AddrPortFrom(guestV4, port), netip.AddrPortFrom(guestLL, port), netip.AddrPortFrom(guestV6, port),
		},
		NoticeV4: netip.MustParseAddr("192.168.77.1"),
		Links: []Link{
			{Name: "br-lan", Addrs: []netip.Addr{netip.MustParseAddr("192.168.77.1"), netip.MustParseAddr("fe80::1")}},
			{Name: "br-guest", Addrs: []netip.Addr{guestV4, netip.MustParseAddr("fe80::1"), guestV6}},
		},
	}
	got := noticeByListenAddr(cfg)
	want := map[netip.Addr]noticeAddrs{
		netip.MustParseAddr("192.168.77.1"): {v4: netip.MustParseAddr("192.168.77.1")},
		lanLL:                               {v4: netip.MustParseAddr("192.168.77.1")},
		guestV4:                             {v4: guestV4, v6: guestV6},
		guestLL:                             {v4: guestV4, v6: guestV6},
		guestV6:                             {v4: guestV4, v6: guestV6},
	}
	if !maps.Equal(got, want) {
		t.Errorf("notice addresses by listen address\n got %v\nwant %v", got, want)
	}
}

// TestQuarantinedLocalNames: a quarantined client's queries reach the
// upstream only for names the router answers itself.
func TestQuarantinedLocalNames(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.AllQuarantined = true // and the lookup knows no client at all
	cfg.LANPrefixes = append(cfg.LANPrefixes, netip.MustParsePrefix("172.16.0.0/12"))
	p := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}})
	addr := p.Addrs()[0]
	for _, tc := range []struct {
		q         string
		qtype     uint16
		forwarded bool
	}{
		{"nas.lan.", dns.TypeA, true},
		{"openwrt.", dns.TypeA, true},
		{"openwrt.", dns.TypeAAAA, true},
		{"openwrt.", dns.TypeTXT, false},
		{"1.1.168.192.in-addr.arpa.", dns.TypePTR, true},
		{"1.1.168.192.in-addr.arpa.", dns.TypeTXT, false},
		{"9.113.0.203.in-addr.arpa.", dns.TypePTR, false},
		// Names below a LAN address's zone carry data out: only whole
		// addresses in the prefixes go.
		{"data.1.168.192.in-addr.arpa.", dns.TypePTR, false},
		{"5.4.30.172.in-addr.arpa.", dns.TypePTR, true}, // 172.30.4.5, in 172.16.0.0/12
		{"5.4.3.172.in-addr.arpa.", dns.TypePTR, false}, // 172.3.4.5, public
		{"data.x.3.172.in-addr.arpa.", dns.TypePTR, false},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", dns.TypePTR, true},
		{"data.8.b.d.0.1.0.0.2.ip6.arpa.", dns.TypePTR, false},
		{"www.example.test.", dns.TypeA, false},
		{"fw.vendor.test.", dns.TypeA, true},
	} {
		before := p.Stats().Forwarded
		ask(t, "udp", addr, query(tc.q, tc.qtype))
		if got := p.Stats().Forwarded > before; got != tc.forwarded {
			t.Errorf("%s %s: forwarded %v, want %v", tc.q, dns.TypeToString[tc.qtype], got, tc.forwarded)
		}
	}
}

// TestUpdateDomainsOfOthers: a name below an update domain is resolved
// for a quarantined client only if whoever holds the update domain holds
// it too. Below a public suffix inside the update domain (S3 buckets in
// s3.amazonaws.com, EC2 hosts named after their address in
// compute-1.amazonaws.com) anyone registers names, and an attacker's
// host there would be let through the quarantine; an update domain that
// is a public suffix itself is refused (see TestNewConfig).
func TestUpdateDomainsOfOthers(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.AllQuarantined = true
	cfg.UpdateDomains = []string{"amazonaws.com", "vendor-fw.s3.amazonaws.com"}
	allow := &fakeAllow{}
	p := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(), Allow: allow})
	addr := p.Addrs()[0]
	for _, tc := range []struct {
		name   string
		answer string
	}{
		{"vendor-fw.s3.amazonaws.com.", "203.0.113.30"}, // listed itself
		{"attacker.s3.amazonaws.com.", "192.168.1.1"},   // a bucket below s3.amazonaws.com
		{"ec2-198-51-100-9.compute-1.amazonaws.com.", "192.168.1.1"},
	} {
		r := ask(t, "udp", addr, query(tc.name, dns.TypeA))
		if got := answerText(r); len(got) != 1 || !strings.HasPrefix(got[0], "A "+tc.answer+" ") {
			t.Errorf("%s: answer %q, want %s", tc.name, got, tc.answer)
		}
	}
	want := []netip.Addr{netip.MustParseAddr("203.0.113.30")}
	if got := allow.taken(); len(got) != 1 || !slices.Equal(got[0].addrs, want) {
		t.Errorf("allowed %v, want only %v", got, want)
	}
}

func TestReverseAddr(t *testing.T) {
	for _, tc := range []struct {
		name string
		want string // "" : not an address's name
	}{
		{"1.1.168.192.in-addr.arpa.", "192.168.1.1"},
		{"1.1.168.192.IN-ADDR.ARPA", "192.168.1.1"},
		{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.", "fd00::1"},
		{"B.A.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.B.D.0.1.0.0.2.IP6.ARPA", "2001:db8:1::ab"},
		{"1.168.192.in-addr.arpa.", ""},           // a zone, not an address
		{"data.1.168.192.in-addr.arpa.", ""},      // a label below the zone
		{"x.1.1.168.192.in-addr.arpa.", ""},       // five labels
		{"256.1.168.192.in-addr.arpa.", ""},       // not an octet
		{"01.1.168.192.in-addr.arpa.", ""},        // a leading zero
		{"data.8.b.d.0.1.0.0.2.ip6.arpa.", ""},    // too few nibbles
		{"1.1.168.192.in-addr.arpa.example.", ""}, // not under arpa
	} {
		got, ok := reverseAddr(tc.name)
		switch {
		case tc.want == "" && ok:
			t.Errorf("reverseAddr(%q) = %v, want none", tc.name, got)
		case tc.want != "" && (!ok || got != netip.MustParseAddr(tc.want)):
			t.Errorf("reverseAddr(%q) = %v, %v; want %s", tc.name, got, ok, tc.want)
		}
	}
}

// TestOutsideClientsDropped: a query whose source is outside Clients gets
// no answer, over UDP (a forged source: the answer would go to that host)
// and TCP alike, not even an error for a malformed one; one from inside
// does.
func TestOutsideClientsDropped(t *testing.T) {
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.Clients = []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("::1/128")}
	p := startProxy(t, cfg, Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}})
	for _, tt := range []struct {
		name     string
		listen   netip.AddrPort // the client's source is the same loopback
		answered bool
	}{
		{"outside_127.0.0.1", p.Addrs()[0], false},
		{"inside_::1", p.Addrs()[1], true},
	} {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				before := p.Stats().Outsiders
				c := &dns.Client{Net: network, Timeout: 300 * time.Millisecond}
				m := query("fw.vendor.test.", dns.TypeTXT)
				r, _, err := c.Exchange(m, tt.listen.String())
				if answered := err == nil && r != nil; answered != tt.answered {
					t.Errorf("answered %v (err %v), want %v", answered, err, tt.answered)
				}
				want := uint64(1)
				if tt.answered {
					want = 0
				}
				if got := p.Stats().Outsiders - before; got != want {
					t.Errorf("Outsiders went up by %d, want %d", got, want)
				}
			})
		}
	}
	outside := p.Addrs()[0]
	for _, tt := range []struct{ name, raw string }{
		{"two_questions", "1234 0100 0002 0000 0000 0000" + qHex + qHex},
		{"opcode_notify", "1234 2000 0001 0000 0000 0000" + qHex},
		{"question_cut_short", "1234 0100 0001 0000 0000 0000 01 61 04 74"},
	} {
		t.Run("udp/outside_malformed_"+tt.name, func(t *testing.T) {
			c, err := net.Dial("udp", outside.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if got := rawUDP(t, c, mustHex(tt.raw), 300*time.Millisecond); got != nil {
				t.Errorf("answered %x", got)
			}
		})
		t.Run("tcp/outside_malformed_"+tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", outside.String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg := mustHex(tt.raw)
			if _, err := c.Write(append([]byte{0, byte(len(msg))}, msg...)); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, err := c.Read(make([]byte, 512)); n > 0 {
				t.Errorf("answered %d bytes (%v)", n, err)
			}
		})
	}
}

// TestAdmitsLANSources: the servers' reader reads what a LAN client
// sends whatever form its source takes on the socket (a link-local
// address with its zone, an IPv4 address mapped into IPv6 by a
// dual-stack socket) and drops the rest; the check allocates nothing.
func TestAdmitsLANSources(t *testing.T) {
	cfg := testConfig(netip.MustParseAddrPort("127.0.0.1:53"))
	cfg.Clients = []netip.Prefix{netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fe80::/64")}
	p, err := New(cfg, Deps{Quarantine: newFakeLookup(), Allow: &fakeAllow{}, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		source net.Addr
		admit  bool
	}{
		{"udp_v4", &net.UDPAddr{IP: net.IPv4(192, 168, 1, 20).To4(), Port: 5353}, true},
		{"udp_v4_mapped", &net.UDPAddr{IP: net.ParseIP("::ffff:192.168.1.20"), Port: 5353}, true},
		{"udp_link_local_zone", &net.UDPAddr{IP: net.ParseIP("fe80::1234"), Port: 5353, Zone: "br-lan"}, true},
		{"tcp_link_local_zone", &net.TCPAddr{IP: net.ParseIP("fe80::1234"), Port: 40000, Zone: "br-lan"}, true},
		{"tcp_v4_mapped", &net.TCPAddr{IP: net.ParseIP("::ffff:192.168.1.20"), Port: 40000}, true},
		{"udp_internet", &net.UDPAddr{IP: net.IPv4(203, 0, 113, 9).To4(), Port: 53}, false},
		{"udp_internet_mapped", &net.UDPAddr{IP: net.ParseIP("::ffff:203.0.113.9"), Port: 53}, false},
		{"tcp_ula", &net.TCPAddr{IP: net.ParseIP("fd00::5"), Port: 40000}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.admits(tt.source); got != tt.admit {
				t.Errorf("admits(%v) = %v, want %v", tt.source, got, tt.admit)
			}
			if n := testing.AllocsPerRun(100, func() { p.admits(tt.source) }); n != 0 {
				t.Errorf("admits(%v) allocates %v times", tt.source, n)
			}
		})
	}
}
