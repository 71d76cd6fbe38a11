package dnsproxy

import (
	"net/netip"
	"sync"
)

// upstreamSlots bounds the queries in flight to the upstream: in all, per
// client address (a quarter) and per IPv6 /64 (half). Any LAN host may
// write to the proxy's port, and one that keeps every slot busy (queries
// for names whose servers never answer) would leave quarantined devices'
// update lookups failing. A /64 is no client: the LAN's IPv6 hosts share
// its one /64, and link-local ones fe80::/64. But a host may take any
// number of addresses in it, and with half of the slots the addresses it
// makes up leave the IPv4 clients theirs.
type upstreamSlots struct {
	max, perClient, perGroup int

	mu    sync.Mutex
	total int
	// Entries only while slots are held, so at most max of each.
	byClient map[netip.Addr]int
	byGroup  map[netip.Prefix]int
}

// clientShareDiv: one client address holds at most a quarter of the
// slots, one IPv6 /64 at most half.
const clientShareDiv = 4

func newUpstreamSlots(n int) *upstreamSlots {
	perClient := (n + clientShareDiv - 1) / clientShareDiv
	return &upstreamSlots{max: n, perClient: perClient, perGroup: max(n/2, perClient),
		byClient: map[netip.Addr]int{}, byGroup: map[netip.Prefix]int{}}
}

// take reports whether client may send a query upstream now; if so, it
// must release the slot after.
func (s *upstreamSlots) take(client netip.Addr) bool {
	g, grouped := groupOf(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= s.max || s.byClient[client] >= s.perClient || grouped && s.byGroup[g] >= s.perGroup {
		return false
	}
	s.total++
	s.byClient[client]++
	if grouped {
		s.byGroup[g]++
	}
	return true
}

func (s *upstreamSlots) release(client netip.Addr) {
	g, grouped := groupOf(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	decrement(s.byClient, client)
	if grouped {
		decrement(s.byGroup, g)
	}
}

// decrement lowers m[k], deleting it at zero.
func decrement[K comparable](m map[K]int, k K) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

// groupOf is the /64 of an IPv6 client, whose addresses share half the
// slots; an IPv4 client is in no group.
func groupOf(a netip.Addr) (netip.Prefix, bool) {
	if !a.Is6() || a.Is4In6() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked(), true
}
