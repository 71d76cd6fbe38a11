package main

import (
	"fmt"
	"net/netip"
	"testing"
)

func TestDefaultListen(t *testing.T) {
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	tests := []struct {
		name string
		lan  []netip.Addr
		want []netip.Addr
	}{
		{"ipv4_ula_global_link_local", addrs("192.168.1.1", "fd12:3456::1", "2001:db8:1::1", "fe80::1"), addrs("192.168.1.1", "fd12:3456::1")},
		{"global_only", addrs("2001:db8:1::1", "fe80::1"), addrs("2001:db8:1::1")},
		{"link_local_only", addrs("fe80::1"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultListen(tt.lan); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("defaultListen(%v) = %v, want %v", tt.lan, got, tt.want)
			}
		})
	}
}

// TestWebClients: the page admits loopback, its own addresses (a shell on
// the router) and what the LAN check admits; a host the route check puts
// elsewhere (the WAN side) is refused, whichever address it reached.
func TestWebClients(t *testing.T) {
	neighbour := netip.MustParseAddr("192.168.1.23")
	fromLAN := func(a netip.Addr) bool { return a == neighbour || a == netip.MustParseAddr("fd12::23") }
	admit := webClients([]netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("fd12::1")}, fromLAN)
	tests := []struct {
		client string
		want   bool
	}{
		{"127.0.0.1", true},
		{"::1", true},
		{"192.168.1.1", true},
		{"::ffff:192.168.1.1", true}, // as an IPv6 socket reports it
		{"fd12::1", true},
		{"192.168.1.23", true},
		{"::ffff:192.168.1.23", true},
		{"fd12::23", true},
		{"203.0.113.9", false},
		{"192.168.1.24", false}, // in the LAN's prefix, but not on it (the route check said no)
		{"2001:db8::9", false},
	}
	for _, tt := range tests {
		if got := admit(netip.MustParseAddr(tt.client)); got != tt.want {
			t.Errorf("client %s admitted %v, want %v", tt.client, got, tt.want)
		}
	}
}
