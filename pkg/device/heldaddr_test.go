package device

import (
	"net/netip"
	"testing"
	"time"
)

// TestHeldAddress: a device is at a management address when it sends
// from it and from no IPv4 address of its own lately; one frame from the
// address while it keeps its own does not put it there.
func TestHeldAddress(t *testing.T) {
	mgmt, router := netip.MustParseAddr("192.168.50.250"), netip.MustParseAddr("192.168.50.1")
	own := netip.MustParseAddr("192.168.50.77")
	ula := netip.MustParseAddr("fd00::77")
	t0 := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	used := func(a netip.Addr, at time.Duration) Address {
		return Address{Addr: a, FirstSeen: t0.Add(at), LastSeen: t0.Add(at)}
	}
	protected := []netip.Addr{router, mgmt}
	tests := []struct {
		name  string
		addrs []Address
		want  netip.Addr // invalid: not at any
	}{
		{"no_address", nil, netip.Addr{}},
		{"own_address_only", []Address{used(own, 0)}, netip.Addr{}},
		{"management_address_alone", []Address{used(mgmt, 0)}, mgmt},
		{"router_address_alone", []Address{used(router, 0)}, router},
		{"with_an_ipv6_address", []Address{used(ula, 0), used(mgmt, time.Second)}, mgmt},
		// One forged ARP from the management address.
		{"keeps_its_own_address", []Address{used(mgmt, time.Second), used(own, 2*time.Second)}, netip.Addr{}},
		{"own_address_just_before", []Address{used(own, 0), used(mgmt, time.Minute)}, netip.Addr{}},
		{"left_its_dhcp_address_for_it", []Address{used(own, -time.Hour), used(mgmt, 0)}, mgmt},
		// Of two protected addresses, the one it used last.
		{"last_used_of_two", []Address{used(mgmt, 0), used(router, time.Second)}, router},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &Device{Addresses: tt.addrs}
			got, ok := d.HeldAddress(protected)
			if got != tt.want || ok != tt.want.IsValid() {
				t.Errorf("HeldAddress = %v, %v; want %v", got, ok, tt.want)
			}
		})
	}
}
