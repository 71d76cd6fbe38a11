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
