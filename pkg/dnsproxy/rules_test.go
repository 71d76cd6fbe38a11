package dnsproxy

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// TestSetRules: new update and local domains and a new upstream apply
// to the next query of a running proxy; invalid rules change nothing.
func TestSetRules(t *testing.T) {
	up, other := startUpstream(t), startUpstream(t)
	allow := &fakeAllow{}
	p := startProxy(t, testConfig(up.addr), Deps{Quarantine: newFakeLookup(loop4), Allow: allow})
	addr := p.Addrs()[0]
	notice := netip.MustParseAddr("192.168.1.1")
	answer := func(name string) netip.Addr {
		t.Helper()
		r := ask(t, "udp", addr, query(name, dns.TypeA))
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				got, _ := netip.AddrFromSlice(a.A)
				return got.Unmap()
			}
		}
		return netip.Addr{}
	}
	for _, tc := range []struct {
		name  string
		rules Rules
		want  map[string]netip.Addr // name → first A answered
		via   *fakeUpstream
	}{
		{"at start", Rules{UpdateDomains: []string{"fw.vendor.test"}, Upstream: up.addr}, map[string]netip.Addr{
			"fw.vendor.test.": netip.MustParseAddr("203.0.113.7"), "edge.cdn.test.": notice, "nas.lan.": netip.MustParseAddr("192.168.1.20"),
		}, up},
		{"update domain moved", Rules{UpdateDomains: []string{"cdn.test"}, Upstream: up.addr}, map[string]netip.Addr{
			"fw.vendor.test.": notice, "edge.cdn.test.": netip.MustParseAddr("203.0.113.12"),
		}, up},
		{"no local domains, another upstream", Rules{UpdateDomains: []string{"cdn.test"}, LocalDomains: []string{"home.arpa"}, Upstream: other.addr}, map[string]netip.Addr{
			"nas.lan.": notice, "edge.cdn.test.": netip.MustParseAddr("203.0.113.12"),
		}, other},
	} {
		if err := p.SetRules(tc.rules); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		before := tc.via.queries("udp")
		for name, want := range tc.want {
			if got := answer(name); got != want {
				t.Errorf("%s: %s answered %s, want %s", tc.name, name, got, want)
			}
		}
		if tc.via.queries("udp") == before {
			t.Errorf("%s: no query reached the upstream set", tc.name)
		}
	}
	if !slices.ContainsFunc(allow.taken(), func(c allowCall) bool {
		return slices.Contains(c.addrs, netip.MustParseAddr("203.0.113.12"))
	}) {
		t.Errorf("the new update domain's address was not allowed: %v", allow.taken())
	}

	// A loop, a bad name: refused, the rules in force stay.
	for _, bad := range []Rules{{Upstream: addr}, {UpdateDomains: []string{"bad..name"}}} {
		if err := p.SetRules(bad); err == nil {
			t.Errorf("SetRules(%+v) succeeded", bad)
		}
	}
	if got := answer("edge.cdn.test."); got != netip.MustParseAddr("203.0.113.12") {
		t.Errorf("after refused rules: edge.cdn.test. answered %s", got)
	}
}
