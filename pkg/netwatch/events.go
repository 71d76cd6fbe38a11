package netwatch

import (
	"net/netip"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Event is one of NeighborSeen, LinkChanged, AddressChanged, DeviceAway or
// LeaseSeen. Consumers switch on the concrete type.
type Event interface{ netwatchEvent() }

// NeighborSeen reports a MAC/IP binding in the kernel's ARP (IPv4) or NDP
// (IPv6) table on a LAN interface: a new binding, one that moved to another
// interface, or the first after the device had been away. Repeated
// updates of a binding already reported are not repeated.
type NeighborSeen struct {
	MAC   hwaddr.MAC
	IP    netip.Addr
	Iface string
	State NeighState
	// Time is when the kernel last had word from the device: the last
	// confirmation for reachable, stale, delay and probe entries (the
	// kernel reports its age), the time of the update for permanent ones.
	Time time.Time
}

// LinkChanged reports that a LAN interface came up or went down (or was
// deleted). Up means administratively up and with carrier (IFF_UP and
// IFF_RUNNING). It is sent once per change, and once for each LAN
// interface when watching starts.
type LinkChanged struct {
	Iface string
	Up    bool
	MAC   hwaddr.MAC // the interface's own address: the router's MAC
	Time  time.Time
}

// AddressChanged reports one of the router's own addresses on a LAN
// interface being added or removed. The daemon needs them to never
// quarantine the router and to know where to serve DNS.
type AddressChanged struct {
	Iface  string
	Prefix netip.Prefix // the address and its on-link prefix length
	Added  bool
	Time   time.Time
}

// DeviceAway reports that a MAC has had no sign of life — no reachable,
// stale, delay or probe neighbour entry confirmed by the device, no DHCP
// lease renewal — for Config.AwayAfter. It is sent once; the next sign of
// life is reported as NeighborSeen or LeaseSeen.
type DeviceAway struct {
	MAC      hwaddr.MAC
	LastSeen time.Time
}

// LeaseSeen reports a DHCP lease that is new or changed (renewed,
// re-addressed, renamed) in one of the lease files.
type LeaseSeen struct {
	MAC      hwaddr.MAC
	IP       netip.Addr
	Hostname string    // as the client asked for it; empty when none or invalid
	Expires  time.Time // zero for an infinite lease
	// Iface is the interface the lease was given on (odhcpd only).
	Iface string
	// MACFromDUID is set for DHCPv6 leases, which name no MAC: the MAC is
	// the link-layer address in the client's DUID (types LLT and LL),
	// which is the device's, though not always that of the interface it
	// uses on this LAN.
	MACFromDUID bool
	Time        time.Time // when the watcher read the change
}

func (NeighborSeen) netwatchEvent()   {}
func (LinkChanged) netwatchEvent()    {}
func (AddressChanged) netwatchEvent() {}
func (DeviceAway) netwatchEvent()     {}
func (LeaseSeen) netwatchEvent()      {}

// NeighState is the kernel's NUD state of a neighbour entry, restricted to
// the states that carry a usable MAC.
type NeighState uint8

// The reported neighbour states.
const (
	StateReachable NeighState = iota + 1 // confirmed within the reachable time
	StateStale                           // valid but unconfirmed for a while
	StateDelay                           // in use, confirmation awaited
	StateProbe                           // being probed by unicast ARP/NS
	StatePermanent                       // configured statically
)

// String returns the name ip-neighbour(8) prints.
func (s NeighState) String() string {
	switch s {
	case StateReachable:
		return "reachable"
	case StateStale:
		return "stale"
	case StateDelay:
		return "delay"
	case StateProbe:
		return "probe"
	case StatePermanent:
		return "permanent"
	}
	return "unknown"
}
