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
		// NAT64 (RFC 6052): the well-known prefix stands for the IPv4
		// address in its last 32 bits, which a NAT64 on the router or at
		// the ISP reaches; the local-use prefix (RFC 8215) is not global.
		{"64:ff9b::cb00:7107", true},    // 203.0.113.7
		{"64:ff9b::c0a8:114", false},    // 192.168.1.20
		{"64:ff9b::7f00:1", false},      // 127.0.0.1
		{"64:ff9b::a940:1", true},       // 169.64.0.1
		{"64:ff9b::6440:1", false},      // 100.64.0.1
		{"64:ff9b:1::cb00:7107", false}, // local-use: any IPv4 address behind it
		{"64:ff9b:1:ffff::1", false},
		// 6to4 (RFC 3056): a router with 6to4 sends the packets inside
		// IPv4 to the address in bits 16 to 48, where a DNS answer could
		// place the LAN's own hosts.
		{"2002:cb00:7107::1", true},    // 203.0.113.7
		{"2002:a00:1::1", false},       // 10.0.1.0
		{"2002:c0a8:101:1::53", false}, // 192.168.1.1
		{"2002:ac10:1::1", false},      // 172.16.0.1
		{"2002:7f00:1::1", false},      // 127.0.0.1
		{"2002:a9fe:101::1", false},    // 169.254.1.1
		{"2002:6440:1::1", false},      // 100.64.0.1
		{"2002::1", false},             // 0.0.0.0
		{"2002:e000:1::1", false},      // 224.0.0.1
		{"2002:ffff:ffff::1", false},   // 255.255.255.255
		{"2002:c000:0:ffff::1", false}, // 192.0.0.0
		{"2001:db8:c0a8:101::1", true}, // not 6to4
	} {
		if got := Public(netip.MustParseAddr(tt.addr)); got != tt.public {
			t.Errorf("Public(%s) = %v, want %v", tt.addr, got, tt.public)
		}
	}
}

func TestReached(t *testing.T) {
	for _, tt := range []struct{ addr, want string }{
		{"64:ff9b::c0a8:114", "192.168.1.20"},
		{"64:ff9b::cb00:7107", "203.0.113.7"},
		{"64:ff9b:1::c0a8:114", "64:ff9b:1::c0a8:114"}, // local-use: the network's own mapping
		{"2001:db8::c0a8:114", "2001:db8::c0a8:114"},
		{"2002:c0a8:114::1", "192.168.1.20"},
		{"2002:cb00:7107:5::abcd", "203.0.113.7"},
		{"192.168.1.20", "192.168.1.20"},
	} {
		if got := Reached(netip.MustParseAddr(tt.addr)); got != netip.MustParseAddr(tt.want) {
			t.Errorf("Reached(%s) = %s, want %s", tt.addr, got, tt.want)
		}
	}
}
