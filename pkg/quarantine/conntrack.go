package quarantine

import (
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
	if len(addrs) == 0 {
		return 0, nil
	}
	h, err := netlink.NewHandle()
	if o.netns {
		h, err = netlink.NewHandleAt(netns.NsHandle(o.netnsFd))
	}
	if err != nil {
		return 0, fmt.Errorf("quarantine: conntrack: %w", err)
	}
	defer h.Close()
	// One dump of the table per family, matched against every filter.
	byFamily := map[netlink.InetFamily][]netlink.CustomConntrackFilter{}
	for _, a := range addrs {
		a = a.Unmap()
		family := netlink.InetFamily(unix.AF_INET)
		if a.Is6() {
			family = unix.AF_INET6
		}
		for _, field := range []netlink.ConntrackFilterType{netlink.ConntrackOrigSrcIP, netlink.ConntrackReplySrcIP} {
			f := &netlink.ConntrackFilter{}
			if err := f.AddIP(field, net.IP(a.AsSlice())); err != nil {
				return 0, fmt.Errorf("quarantine: conntrack filter for %s: %w", a, err)
			}
			byFamily[family] = append(byFamily[family], f)
		}
	}
	var total uint
	for _, family := range []netlink.InetFamily{unix.AF_INET, unix.AF_INET6} {
		if len(byFamily[family]) == 0 {
			continue
		}
		n, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, family, byFamily[family]...)
		total += n
		if err != nil {
			return total, fmt.Errorf("quarantine: flushing connections of %v: %w", addrs, err)
		}
	}
	return total, nil
}
