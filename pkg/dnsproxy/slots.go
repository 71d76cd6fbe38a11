package dnsproxy

import (
	"net/netip"
	"sync"
)

// upstreamSlots bounds the queries in flight to the upstream, in all and
// per client: any LAN host may write to the proxy's port, and one that
// keeps every slot busy (queries for names whose servers never answer)
// would leave quarantined devices' update lookups failing.
type upstreamSlots struct {
	max, perClient int

	mu    sync.Mutex
	total int
	held  map[netip.Addr]int // by shareKey; an entry per client holding a slot, so at most max
}

// clientShareDiv: one client holds at most a quarter of the slots.
const clientShareDiv = 4

func newUpstreamSlots(n int) *upstreamSlots {
	return &upstreamSlots{max: n, perClient: (n + clientShareDiv - 1) / clientShareDiv, held: map[netip.Addr]int{}}
}

// take reports whether client may send a query upstream now; if so, it
// must release the slot after.
func (s *upstreamSlots) take(client netip.Addr) bool {
	k := shareKey(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.total >= s.max || s.held[k] >= s.perClient {
		return false
	}
	s.total++
	s.held[k]++
	return true
}

func (s *upstreamSlots) release(client netip.Addr) {
	k := shareKey(client)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.held[k]--; s.held[k] <= 0 {
		delete(s.held, k)
	}
}

// shareKey is the client as its share counts it: an IPv6 host may use
// any address of its /64.
func shareKey(a netip.Addr) netip.Addr {
	if a.Is6() && !a.Is4In6() {
		return netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}
