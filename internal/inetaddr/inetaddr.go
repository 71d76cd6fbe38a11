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
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64 (RFC 8215): any IPv4 address, private ones too
}

// nat64 is the well-known NAT64 prefix (RFC 6052).
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// sixToFour is 6to4 (RFC 3056): 2002:V4ADDR::/48 is the site behind the
// IPv4 address V4ADDR.
var sixToFour = netip.MustParsePrefix("2002::/16")

// Reached is the address packets to a end up at: for an address in the
// well-known NAT64 prefix, the IPv4 address in its last 32 bits, which a
// NAT64 on the router or at the ISP translates it to; for a 6to4
// address, the IPv4 address in its bits 16 to 48, which a router with
// 6to4 sends it to inside IPv4; else a itself.
func Reached(a netip.Addr) netip.Addr {
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:]))
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6]))
	}
	return a
}

// Public reports whether a is an internet unicast address: not loopback,
// link-local, private (RFC 1918, ULA), unspecified, multicast, nor in a
// special-purpose range (shared address space, benchmarking, ...). An
// IPv4-mapped IPv6 address is not unmapped: callers unmap first. A NAT64
// address is as public as the IPv4 address it reaches (RFC 6052 keeps the
// well-known prefix for public ones, but translators do not all refuse
// the others), and so is a 6to4 address.
func Public(a netip.Addr) bool {
	a = Reached(a)
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
