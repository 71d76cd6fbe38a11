package dnsproxy

import (
	"net/netip"
	"testing"
)

// TestUpstreamSlotsShares: of 8 slots one address holds 2, and the IPv6
// addresses of one /64 4 together. A LAN's IPv6 hosts all live in its
// one /64, and its link-local ones in fe80::/64: one of them holding its
// share leaves the others theirs.
func TestUpstreamSlotsShares(t *testing.T) {
	for _, tc := range []struct {
		name string
		held []string // taken, in order, each granted
		next string
		want bool
	}{
		{"an IPv4 client holds a quarter", []string{"192.0.2.1", "192.0.2.1"}, "192.0.2.1", false},
		{"another IPv4 client", []string{"192.0.2.1", "192.0.2.1"}, "192.0.2.2", true},
		{"an IPv6 client holds a quarter", []string{"fd99::10", "fd99::10"}, "fd99::10", false},
		{"another host of the LAN's /64", []string{"fd99::10", "fd99::10"}, "fd99::20", true},
		{"another link-local host", []string{"fe80::1", "fe80::1"}, "fe80::2", true},
		{"a /64 holds half", []string{"fd99::1", "fd99::1", "fd99::2", "fd99::2"}, "fd99::3", false},
		{"another /64 while one holds half", []string{"fd99::1", "fd99::1", "fd99::2", "fd99::2"}, "fd98::1", true},
		{"IPv4 while a /64 holds half", []string{"fd99::1", "fd99::1", "fd99::2", "fd99::2"}, "192.0.2.1", true},
		{"all slots taken", []string{"192.0.2.1", "192.0.2.1", "192.0.2.2", "192.0.2.2", "192.0.2.3", "192.0.2.3", "192.0.2.4", "192.0.2.4"}, "192.0.2.5", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newUpstreamSlots(8)
			for _, a := range tc.held {
				if !s.take(netip.MustParseAddr(a)) {
					t.Fatalf("setting up: %s refused", a)
				}
			}
			next := netip.MustParseAddr(tc.next)
			if got := s.take(next); got != tc.want {
				t.Fatalf("take(%s): %v, want %v", tc.next, got, tc.want)
			}
			if tc.want {
				s.release(next)
			}
			for _, a := range tc.held {
				s.release(netip.MustParseAddr(a))
			}
			if s.total != 0 || len(s.byClient) != 0 || len(s.byGroup) != 0 {
				t.Errorf("after every release: total %d, %d clients, %d groups held", s.total, len(s.byClient), len(s.byGroup))
			}
		})
	}
}
