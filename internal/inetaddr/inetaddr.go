// Package inetaddr tells addresses on the internet from the others.
package inetaddr

import "net/netip"

// specialPurpose are IANA special-purpose ranges that IsGlobalUnicast
// and IsPrivate let through but that reach no internet host and may reach
// the ISP's or the router's side (RFC 6890 and its updates): "this
// network", shared address space (carrier-grade NAT), IETF protocol
// assignments, benchmarking, reserved, IPv6 discard-only. (The
// documentation ranges route nowhere; the tests use them as the
// internet.)
var specialPurpose = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
}

// Public reports whether a is an internet unicast address: not loopback,
// link-local, private (RFC 1918, ULA), unspecified, multicast, nor in a
// special-purpose range (shared address space, benchmarking, ...). An
// IPv4-mapped IPv6 address is not unmapped: callers unmap first.
func Public(a netip.Addr) bool {
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range specialPurpose {
		if p.Contains(a) {
			return false
		}
	}
	return true
}
