package quarantine

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// FlushConntrack deletes the connection-tracking entries a newly
// quarantined device's addresses originated. Rules only see a
// connection's first packet in the nat hooks (the notice redirect, the
// DNS redirect), and an offloaded connection skips the filter hooks:
// without the flush, connections opened before the quarantine would go
// on. It acts in the current network namespace.
func FlushConntrack(addrs []netip.Addr) (uint, error) {
	var total uint
	for _, a := range addrs {
		a = a.Unmap()
		family := netlink.InetFamily(unix.AF_INET)
		if a.Is6() {
			family = unix.AF_INET6
		}
		f := &netlink.ConntrackFilter{}
		if err := f.AddIP(netlink.ConntrackOrigSrcIP, net.IP(a.AsSlice())); err != nil {
			return total, fmt.Errorf("quarantine: conntrack filter for %s: %w", a, err)
		}
		n, err := netlink.ConntrackDeleteFilters(netlink.ConntrackTable, family, f)
		total += n
		if err != nil {
			return total, fmt.Errorf("quarantine: flushing connections of %s: %w", a, err)
		}
	}
	return total, nil
}
