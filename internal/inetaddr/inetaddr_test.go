package inetaddr

import (
	"net/netip"
	"testing"
)

func TestPublic(t *testing.T) {
	for _, tt := range []struct {
		addr   string
		public bool
	}{
		{"203.0.113.7", true}, {"2001:db8::1", true},
		{"127.0.0.1", false}, {"10.0.0.1", false}, {"192.168.1.10", false}, {"172.16.0.1", false},
		{"169.254.1.1", false}, {"100.64.0.1", false}, {"100.127.255.254", false}, {"100.128.0.1", true}, {"fd00::1", false}, {"fe80::1", false}, {"::1", false}, {"0.0.0.0", false}, {"224.0.0.1", false},
		{"198.18.0.1", false}, {"192.0.0.9", false}, {"240.0.0.1", false}, {"100::1", false},
	} {
		if got := Public(netip.MustParseAddr(tt.addr)); got != tt.public {
			t.Errorf("Public(%s) = %v, want %v", tt.addr, got, tt.public)
		}
	}
}
