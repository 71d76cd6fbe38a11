package netwatch

import (
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// OnLAN returns a check that the kernel, in the caller's network
// namespace, sends to an address straight out of one of the LAN
// interfaces named: a neighbour on the LAN itself, not the router's own
// address, not a subnet's broadcast address, not a host behind a
// gateway, not one on the WAN side. A
// link-local address with a zone is judged by its zone. The active audit
// uses it before it touches a device.
func OnLAN(ifaces []string) func(netip.Addr) bool {
	return func(a netip.Addr) bool {
		a = a.Unmap()
		if z := a.Zone(); z != "" {
			return slices.Contains(ifaces, z)
		}
		routes, err := netlink.RouteGet(a.AsSlice())
		if err != nil || len(routes) == 0 {
			return false
		}
		r := routes[0]
		// One host, straight out of an interface: not the router's own
		// address (local), not a subnet's broadcast address, not via a
		// gateway.
		if r.Type != unix.RTN_UNICAST || r.Gw != nil {
			return false
		}
		link, err := netlink.LinkByIndex(r.LinkIndex)
		return err == nil && slices.Contains(ifaces, link.Attrs().Name)
	}
}
