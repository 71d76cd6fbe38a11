package capture

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// routedCopies recognises, on one of several capture interfaces, the
// second copy of a packet the router forwarded from another of them:
// captured once received on the sender's interface and once sent on the
// receiver's. The received copy is the one to keep (it carries the
// sender's MAC); the sent one carries the router's.
//
// A sent frame is such a copy when its IP source is a host on another
// captured interface's subnet and not one of the router's own addresses.
// Two other kinds of sent frames are the only copy there is and are kept:
// the router's own (DNS answers, the notice page, the audit: it may
// answer a device from its address on another interface, so the address,
// not the subnet, decides), and what it forwards from an interface that
// is not captured (the internet's side of a device's connections). The
// source MAC cannot tell these apart: every sent frame has the router's.
// Known limit: with masquerade between two captured zones (uncommon
// between LAN zones on OpenWrt), the received copy of a reply carries
// the router's address, and the sent copy dropped here was the only one
// with the device's.
type routedCopies struct {
	from  []netip.Prefix // the subnets of the other captured interfaces
	local []netip.Addr   // the router's own addresses
}

// newRoutedCopies makes, for each interface of names, its recogniser,
// from the addresses the interfaces have now (in the caller's network
// namespace). Addresses added later are not known until the source is
// opened again: until then their packets may be seen twice, never lost.
func newRoutedCopies(names []string) ([]*routedCopies, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("afpacket: the router's addresses: %w", err)
	}
	var local []netip.Addr
	for _, a := range addrs {
		if p, ok := prefixOf(a); ok {
			local = append(local, p.Addr())
		}
	}
	subnets := make([][]netip.Prefix, len(names))
	for i, name := range names {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("afpacket %s: %w", name, err)
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("afpacket %s: addresses: %w", name, err)
		}
		for _, a := range addrs {
			// Link-local sources are never forwarded, and every
			// interface has fe80::/64.
			if p, ok := prefixOf(a); ok && !p.Addr().IsLinkLocalUnicast() {
				subnets[i] = append(subnets[i], p.Masked())
			}
		}
	}
	return routedFor(subnets, local), nil
}

// routedFor makes the recognisers from each interface's subnets. An
// interface without a subnet of its own (a bridge's port, an unnumbered
// link) gets none: what it sends is bridged as often as routed, and a
// frame a bridge passes between two of its ports is seen on no other
// ring.
func routedFor(subnets [][]netip.Prefix, local []netip.Addr) []*routedCopies {
	out := make([]*routedCopies, len(subnets))
	for i := range subnets {
		if len(subnets[i]) == 0 {
			continue
		}
		rc := &routedCopies{local: local}
		for j := range subnets {
			if j != i {
				rc.from = append(rc.from, subnets[j]...)
			}
		}
		out[i] = rc
	}
	return out
}

func prefixOf(a net.Addr) (netip.Prefix, bool) {
	n, ok := a.(*net.IPNet)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	p := netip.PrefixFrom(ip.Unmap(), ones)
	return p, p.IsValid()
}

// copied reports whether frame, an Ethernet frame (with at most one VLAN
// tag) the router sent, is the copy of a packet it forwarded from another
// captured interface. It allocates nothing.
func (rc *routedCopies) copied(frame []byte) bool {
	if len(frame) < 14 {
		return false
	}
	etherType, l3 := binary.BigEndian.Uint16(frame[12:]), 14
	if (etherType == 0x8100 || etherType == 0x88a8) && len(frame) >= 18 {
		etherType, l3 = binary.BigEndian.Uint16(frame[16:]), 18
	}
	ip := frame[l3:]
	var src netip.Addr
	switch {
	case etherType == 0x0800 && len(ip) >= 20 && ip[0]>>4 == 4:
		src = netip.AddrFrom4([4]byte(ip[12:16]))
	case etherType == 0x86dd && len(ip) >= 40 && ip[0]>>4 == 6:
		src = netip.AddrFrom16([16]byte(ip[8:24]))
	default:
		return false
	}
	for _, p := range rc.from {
		if p.Contains(src) {
			return !slices.Contains(rc.local, src)
		}
	}
	return false
}
