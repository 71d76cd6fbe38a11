package quarantine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
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
	filters := map[netlink.InetFamily][]netlink.CustomConntrackFilter{}
	for _, a := range addrs {
		for _, field := range []netlink.ConntrackFilterType{netlink.ConntrackOrigSrcIP, netlink.ConntrackReplySrcIP} {
			if err := addFilter(filters, a, field, nil); err != nil {
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

func redirectedFilters(addrs, routerAddrs []netip.Addr) (map[netlink.InetFamily][]netlink.CustomConntrackFilter, error) {
	filters := map[netlink.InetFamily][]netlink.CustomConntrackFilter{}
	for _, a := range addrs {
		a = a.Unmap()
		family := netlink.InetFamily(unix.AF_INET)
		if a.Is6() {
			family = unix.AF_INET6
		}
		for _, proto := range []uint8{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			f := &netlink.ConntrackFilter{}
			if err := errors.Join(f.AddIP(netlink.ConntrackOrigSrcIP, net.IP(a.AsSlice())), f.AddProtocol(proto),
				f.AddPort(netlink.ConntrackOrigDstPort, 53)); err != nil {
				return nil, fmt.Errorf("quarantine: conntrack filter for %s: %w", a, err)
			}
			filters[family] = append(filters[family], f)
		}
		for _, r := range routerAddrs {
			if a.Unmap().Is4() != r.Unmap().Is4() {
				continue
			}
			if err := addFilter(filters, a, netlink.ConntrackOrigSrcIP, &r); err != nil {
				return nil, err
			}
		}
	}
	return filters, nil
}

// addFilter adds a filter matching a in field and, when replySrc is set,
// answered from replySrc.
func addFilter(filters map[netlink.InetFamily][]netlink.CustomConntrackFilter, a netip.Addr, field netlink.ConntrackFilterType, replySrc *netip.Addr) error {
	a = a.Unmap()
	family := netlink.InetFamily(unix.AF_INET)
	if a.Is6() {
		family = unix.AF_INET6
	}
	f := &netlink.ConntrackFilter{}
	if err := f.AddIP(field, net.IP(a.AsSlice())); err != nil {
		return fmt.Errorf("quarantine: conntrack filter for %s: %w", a, err)
	}
	if replySrc != nil {
		if err := f.AddIP(netlink.ConntrackReplySrcIP, net.IP(replySrc.Unmap().AsSlice())); err != nil {
			return fmt.Errorf("quarantine: conntrack filter for %s: %w", *replySrc, err)
		}
	}
	filters[family] = append(filters[family], f)
	return nil
}

// deleteConntrack deletes the entries any filter matches: one dump of the
// table per family, matched against every filter.
func deleteConntrack(o options, filters map[netlink.InetFamily][]netlink.CustomConntrackFilter) (uint, error) {
	if len(filters) == 0 {
		return 0, nil
	}
	h, err := netlink.NewHandle()
	if o.netns {
		h, err = netlink.NewHandleAt(netns.NsHandle(o.netnsFd))
	}
	if err != nil {
		return 0, fmt.Errorf("conntrack: %w", err)
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
