package quarantine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// FlushConntrack deletes the connection-tracking entries of a newly
// quarantined device's addresses: those it originated, and those it
// answers (a port forward from the WAN, a LAN peer's session). Rules only
// see a
// connection's first packet in the nat hooks (the notice redirect, the
// DNS redirect), and an offloaded connection skips the filter hooks:
// without the flush, connections opened before the quarantine would go
// on. NFTables.Quarantine does it itself; this is for other callers, in
// the current network namespace.
func FlushConntrack(addrs []netip.Addr) (uint, error) { return flushConntrack(options{}, addrs) }

func flushConntrack(o options, addrs []netip.Addr) (uint, error) {
	filters := conntrackFilters{}
	for _, a := range addrs {
		for _, field := range []netlink.ConntrackFilterType{netlink.ConntrackOrigSrcIP, netlink.ConntrackReplySrcIP} {
			if err := filters.add(a, field, nil); err != nil {
				return 0, err
			}
		}
	}
	n, err := deleteConntrack(o, filters)
	if err != nil {
		return n, fmt.Errorf("quarantine: flushing connections of %v: %w", addrs, err)
	}
	return n, nil
}

// neighbourAddrs lists the unicast addresses, link-local ones aside, that
// the kernel's neighbour tables hold for macs. A connection through the
// router has one for the device's end whether or not its entry names the
// address (an IPv6 privacy address not learnt yet), since the router must
// reach it to forward the answers.
func neighbourAddrs(o options, macs []hwaddr.MAC) ([]netip.Addr, error) {
	if len(macs) == 0 {
		return nil, nil
	}
	h, err := handle(o)
	if err != nil {
		return nil, fmt.Errorf("quarantine: list neighbours: %w", err)
	}
	defer h.Close()
	// An interrupted dump may lack entries; what it has is still right.
	neighs, err := h.NeighList(0, netlink.FAMILY_ALL)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("quarantine: list neighbours: %w", err)
	}
	var out []netip.Addr
	for _, nb := range neighs {
		if len(nb.HardwareAddr) != len(hwaddr.MAC{}) || !slices.Contains(macs, hwaddr.FromBytes(nb.HardwareAddr)) {
			continue
		}
		a, ok := netip.AddrFromSlice(nb.IP)
		if a = a.Unmap(); ok && a.IsGlobalUnicast() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out, nil
}

// flushRedirected deletes the connection-tracking entries a released
// device's redirects left: its DNS (to any resolver: the redirect to the
// proxy hides where), and its connections answered by one of the router's
// addresses (the notice page). A device that asks DNS from a fixed source
// port refreshes its entry with every query, and with it the redirect to
// the proxy, which answers every client as quarantined. Its other
// connections stay.
func flushRedirected(o options, addrs, routerAddrs []netip.Addr) (uint, error) {
	filters, err := redirectedFilters(addrs, routerAddrs)
	if err != nil {
		return 0, err
	}
	n, err := deleteConntrack(o, filters)
	if err != nil {
		return n, fmt.Errorf("quarantine: flushing redirected connections of %v: %w", addrs, err)
	}
	return n, nil
}

func redirectedFilters(addrs, routerAddrs []netip.Addr) (conntrackFilters, error) {
	filters := conntrackFilters{}
	for _, a := range addrs {
		for _, proto := range []uint8{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			dns := func(f *netlink.ConntrackFilter) error {
				return errors.Join(f.AddProtocol(proto), f.AddPort(netlink.ConntrackOrigDstPort, 53))
			}
			if err := filters.add(a, netlink.ConntrackOrigSrcIP, dns); err != nil {
				return nil, err
			}
		}
		for _, r := range routerAddrs {
			if a.Unmap().Is4() != r.Unmap().Is4() {
				continue
			}
			answeredByRouter := func(f *netlink.ConntrackFilter) error {
				return f.AddIP(netlink.ConntrackReplySrcIP, net.IP(r.Unmap().AsSlice()))
			}
			if err := filters.add(a, netlink.ConntrackOrigSrcIP, answeredByRouter); err != nil {
				return nil, err
			}
		}
	}
	return filters, nil
}

// conntrackFilters are deletion filters by address family.
type conntrackFilters map[netlink.InetFamily][]netlink.CustomConntrackFilter

// add adds a filter matching a in field and whatever more narrow sets.
func (fs conntrackFilters) add(a netip.Addr, field netlink.ConntrackFilterType, narrow func(*netlink.ConntrackFilter) error) error {
	a = a.Unmap()
	family := netlink.InetFamily(unix.AF_INET)
	if a.Is6() {
		family = unix.AF_INET6
	}
	f := &netlink.ConntrackFilter{}
	err := f.AddIP(field, net.IP(a.AsSlice()))
	if err == nil && narrow != nil {
		err = narrow(f)
	}
	if err != nil {
		return fmt.Errorf("quarantine: conntrack filter for %s: %w", a, err)
	}
	fs[family] = append(fs[family], f)
	return nil
}

// deleteConntrack deletes the entries any filter matches: one dump of the
// table per family, matched against every filter.
func deleteConntrack(o options, filters conntrackFilters) (uint, error) {
	if len(filters) == 0 {
		return 0, nil
	}
	h, err := handle(o)
	if err != nil {
		return 0, err
	}
	defer h.Close()
	var total uint
	for _, family := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		if len(filters[family]) == 0 {
			continue
		}
		n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, family, filters[family]...)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// handle is a netlink handle in the backend's network namespace.
func handle(o options) (*netlink.Handle, error) {
	h, err := netlink.NewHandle()
	if o.netns {
		h, err = netlink.NewHandleAt(netns.NsHandle(o.netnsFd))
	}
	if err != nil {
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	return h, nil
}
