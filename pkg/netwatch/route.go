package netwatch

import (
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/pkg/hwaddr"
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

// HolderOf returns a lookup, in the caller's network namespace, of the MAC
// the kernel's neighbour table has for an address on one of the LAN
// interfaces named, in a state that carries one (reachable, stale, delay,
// probe, permanent). It is the kernel's latest word on who answers at an
// address: the device inventory keeps a device's last address after it
// left, and the address may be another host's since. The active audit
// asks it before it touches a device.
func HolderOf(ifaces []string) func(netip.Addr) (hwaddr.MAC, bool) {
	return holderOf(ifaces, netlink.NeighList, func(index int) (string, error) {
		link, err := netlink.LinkByIndex(index)
		if err != nil {
			return "", err
		}
		return link.Attrs().Name, nil
	})
}

// holderOf is HolderOf over the kernel's listing of neighbours and names
// of links. A listing the kernel marks interrupted (a neighbour changed
// while it was read, as the connect just made may do) is read again, and
// a lookup that failed, of the listing or of the name of the link of an
// entry for the address, is tried once more: either would read as no one
// holding the address, which ends an audit with what it learnt lost.
func holderOf(ifaces []string, list func(linkIndex, family int) ([]netlink.Neigh, error), linkName func(int) (string, error)) func(netip.Addr) (hwaddr.MAC, bool) {
	return func(a netip.Addr) (hwaddr.MAC, bool) {
		a = a.Unmap()
		mac, ok, failed := lookupHolder(a, ifaces, list, linkName)
		if failed {
			mac, ok, _ = lookupHolder(a, ifaces, list, linkName)
		}
		return mac, ok
	}
}

// lookupHolder is one lookup of holderOf: the holder of a, whether there
// is one, and, when there is none, whether the kernel failed to tell.
func lookupHolder(a netip.Addr, ifaces []string, list func(linkIndex, family int) ([]netlink.Neigh, error), linkName func(int) (string, error)) (mac hwaddr.MAC, found, failed bool) {
	family := netlink.FAMILY_V4
	if a.Is6() {
		family = netlink.FAMILY_V6
	}
	neighs, err := dump(true, func() ([]netlink.Neigh, error) { return list(0, family) })
	if err != nil {
		return hwaddr.MAC{}, false, true
	}
	for _, n := range neighs {
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok || ip.Unmap() != a.WithZone("") || n.State&usableStates == 0 || len(n.HardwareAddr) != 6 {
			continue
		}
		name, err := linkName(n.LinkIndex)
		if err != nil {
			failed = true
			continue
		}
		if !slices.Contains(ifaces, name) {
			continue
		}
		if z := a.Zone(); z != "" && z != name {
			continue
		}
		return hwaddr.FromBytes(n.HardwareAddr), true, false
	}
	return hwaddr.MAC{}, false, failed
}

// usableStates are the NUD states whose entries carry a MAC the kernel
// believes.
const usableStates = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE | netlink.NUD_PERMANENT
