package netwatch

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// OnLAN returns a check that the kernel, in the caller's network
// namespace, sends to an address straight out of one of the LAN
// interfaces named: a neighbour on the LAN itself, not the router's own
// address, not a subnet's broadcast address, not a host behind a
// gateway, not one on the WAN side. A
// link-local address with a zone is judged by its zone, and by the route
// out of it: the router's own link-local address is on a LAN interface
// too. The active audit uses it before it touches a device.
func OnLAN(ifaces []string) func(netip.Addr) bool {
	return func(a netip.Addr) bool {
		a = a.Unmap()
		opts := &netlink.RouteGetOptions{}
		if z := a.Zone(); z != "" {
			if !slices.Contains(ifaces, z) {
				return false
			}
			// Out of that interface, as the connect goes: the route
			// still tells the router's own address on it.
			opts.Oif = z
		}
		routes, err := netlink.RouteGetWithOptions(a.AsSlice(), opts)
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
// asks it before it touches a device, the notice page at every request.
//
// It asks the kernel for the one entry on each interface (RTM_GETNEIGH
// for an address, Linux 5.0 and later), never for the whole table: any
// LAN host can fill the table with entries (up to gc_thresh3, 1024 by
// default) and then ask the notice page as often as it likes, and a
// listing per request would cost the router that many entries each
// time. Nor does it keep an answer: the notice page decides by it whose
// quarantine to tell, and a host that has just taken an address from a
// device must not be told the device's.
func HolderOf(ifaces []string) func(netip.Addr) (hwaddr.MAC, bool) {
	return holderOf(ifaces, linkIndex, neighbourAt)
}

// linkIndex is the index of the interface named, or false when there is
// none now (a guest bridge switched off).
func linkIndex(name string) (int, bool, error) {
	link, err := netlink.LinkByName(name)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("link %s: %w", name, err)
	}
	return link.Attrs().Index, true, nil
}

// neighbourAt is the kernel's neighbour entry for a on the link at
// index, or false when it has none there.
func neighbourAt(index int, a netip.Addr) (netlink.Neigh, bool, error) {
	family := unix.AF_INET
	if a.Is6() {
		family = unix.AF_INET6
	}
	req := nl.NewNetlinkRequest(unix.RTM_GETNEIGH, 0)
	req.AddData(&netlink.Ndmsg{Family: uint8(family), Index: uint32(index)})
	req.AddData(nl.NewRtAttr(unix.NDA_DST, a.AsSlice()))
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWNEIGH)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV):
		return netlink.Neigh{}, false, nil // none there, or the link just went
	case err != nil:
		return netlink.Neigh{}, false, fmt.Errorf("neighbour %s on link %d: %w", a.WithZone(""), index, err)
	case len(msgs) == 0:
		return netlink.Neigh{}, false, nil
	}
	n, err := netlink.NeighDeserialize(msgs[0])
	if err != nil {
		return netlink.Neigh{}, false, fmt.Errorf("neighbour %s on link %d: %w", a.WithZone(""), index, err)
	}
	return *n, true, nil
}

// holderOf is HolderOf over the kernel's links by name and neighbour
// entries by link and address. A lookup that failed, of a link or of an
// entry, is tried once more: either would read as no one holding the
// address, which ends an audit with what it learnt lost.
func holderOf(ifaces []string, link func(string) (int, bool, error), neighbour func(int, netip.Addr) (netlink.Neigh, bool, error)) func(netip.Addr) (hwaddr.MAC, bool) {
	return func(a netip.Addr) (hwaddr.MAC, bool) {
		a = a.Unmap()
		mac, ok, err := lookupHolder(a, ifaces, link, neighbour)
		if err != nil {
			mac, ok, _ = lookupHolder(a, ifaces, link, neighbour)
		}
		return mac, ok
	}
}

// lookupHolder is one lookup of holderOf: the holder of a on the first
// of ifaces (only its zone's, for an address with one) that has an
// entry for it with a MAC, and, when there is none, the first error
// met.
func lookupHolder(a netip.Addr, ifaces []string, link func(string) (int, bool, error), neighbour func(int, netip.Addr) (netlink.Neigh, bool, error)) (hwaddr.MAC, bool, error) {
	var firstErr error
	for _, name := range ifaces {
		if z := a.Zone(); z != "" && z != name {
			continue
		}
		index, ok, err := link(name)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		if !ok {
			continue
		}
		n, ok, err := neighbour(index, a.WithZone(""))
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		if ok && n.State&usableStates != 0 && len(n.HardwareAddr) == 6 {
			return hwaddr.FromBytes(n.HardwareAddr), true, nil
		}
	}
	return hwaddr.MAC{}, false, firstErr
}

// usableStates are the NUD states whose entries carry a MAC the kernel
// believes.
const usableStates = netlink.NUD_REACHABLE | netlink.NUD_STALE | netlink.NUD_DELAY | netlink.NUD_PROBE | netlink.NUD_PERMANENT
