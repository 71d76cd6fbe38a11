package daemon

import (
	"context"
	"net/netip"
	"slices"
	"time"

	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/netwatch"
)

// Presence takes what netwatch reports about the LAN: neighbours and
// leases make and refresh devices, "away" is shown to the owner, and the
// router's own addresses stay protected as they change.
func (d *Daemon) Presence(ctx context.Context, events <-chan netwatch.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			d.presence(ctx, ev)
		}
	}
}

func (d *Daemon) presence(ctx context.Context, ev netwatch.Event) {
	switch e := ev.(type) {
	case netwatch.NeighborSeen:
		d.seen(e.MAC, e.IP, "", "neighbour", e.Time)
	case netwatch.LeaseSeen:
		source := device.SourceLease
		if e.MACFromDUID {
			source = device.SourceLeaseDUID
		}
		d.seen(e.MAC, e.IP, e.Hostname, source, d.now())
	case netwatch.DeviceAway:
		d.mu.Lock()
		d.metaFor(e.MAC).awayAt = e.LastSeen
		d.mu.Unlock()
	case netwatch.AddressChanged:
		if d.routerAddr(e.Prefix.Addr(), e.Added) {
			_ = d.updateProtected(ctx) // a failure is its problem
		}
	case netwatch.LinkChanged:
		// A LAN interface missing at start (a guest bridge whose Wi-Fi
		// was off) brings the router's MAC there when it comes up.
		if e.Up && !e.MAC.IsZero() {
			d.routerMAC(e.MAC)
		}
	}
}

// maxRouterMACs bounds the router's MACs learnt while running: one per
// LAN interface, and a few changes of them.
const maxRouterMACs = 64

// routerMAC adds one of the router's own MACs. They are never forgotten:
// an interface that goes down keeps its MAC the router's.
func (d *Daemon) routerMAC(mac hwaddr.MAC) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !slices.Contains(d.opt.RouterMACs, mac) && len(d.opt.RouterMACs) < maxRouterMACs {
		d.opt.RouterMACs = append(d.opt.RouterMACs, mac)
	}
}

func (d *Daemon) seen(mac hwaddr.MAC, ip netip.Addr, hostname, source string, at time.Time) {
	d.mu.Lock()
	// The router never leases its own address: a lease that says so was
	// forged into the file (a client's host name can write lines there on
	// older odhcpd) and would move the address to that device.
	if (source == device.SourceLease || source == device.SourceLeaseDUID) && slices.Contains(d.opt.RouterAddrs, ip.Unmap()) {
		d.mu.Unlock()
		d.log.Warn("lease for the router's own address ignored", "mac", mac, "ip", ip)
		return
	}
	inv := d.pipe.Inventory()
	inv.Seen(mac, ip, hostname, source, at)
	if m, ok := d.meta[mac]; ok {
		m.awayAt = time.Time{}
		if m.quarantine != nil && !slices.Contains(m.kernelAddrs, ip) {
			// A quarantined device took a new address: the kernel's IP
			// sets must follow it.
			defer d.schedule(mac)
		}
	}
	// ip may have moved to mac from another device, here or earlier from
	// a packet: a quarantined device whose kernel entry still has it
	// would block its new user until re-sent without it.
	for other, m := range d.meta {
		if other == mac || m.quarantine == nil || !slices.Contains(m.kernelAddrs, ip) {
			continue
		}
		if dev, ok := inv.Lookup(device.Key{MAC: other}); !ok || !slices.Contains(dev.Addrs, ip) {
			defer d.schedule(other)
		}
	}
	// Before the deferred schedules, which may take it.
	d.mu.Unlock()
}

// routerAddr adds or removes one of the router's own addresses and
// reports whether the list changed.
func (d *Daemon) routerAddr(a netip.Addr, added bool) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := slices.Index(d.opt.RouterAddrs, a)
	switch {
	case added && i < 0:
		d.opt.RouterAddrs = append(d.opt.RouterAddrs, a)
		return true
	case !added && i >= 0:
		d.opt.RouterAddrs = slices.Delete(d.opt.RouterAddrs, i, i+1)
		return true
	}
	return false
}
