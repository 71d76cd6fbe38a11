package dnsproxy

import (
	"fmt"
	"net/netip"
	"sync/atomic"
)

// MaxAddrSet bounds an AddrSet.
const MaxAddrSet = 65536

// AddrSet is a QuarantineLookup the daemon fills with the addresses of
// the quarantined devices whose DNS the proxy answers. Reads take no lock;
// Replace swaps the whole set.
type AddrSet struct {
	set atomic.Pointer[map[netip.Addr]struct{}]
}

// Replace makes addrs the quarantined addresses.
func (s *AddrSet) Replace(addrs []netip.Addr) error {
	if len(addrs) > MaxAddrSet {
		return fmt.Errorf("dnsproxy: %d quarantined addresses, at most %d", len(addrs), MaxAddrSet)
	}
	m := make(map[netip.Addr]struct{}, len(addrs))
	for _, a := range addrs {
		m[a.Unmap().WithZone("")] = struct{}{}
	}
	s.set.Store(&m)
	return nil
}

// IsQuarantined implements QuarantineLookup.
func (s *AddrSet) IsQuarantined(client netip.Addr) bool {
	m := s.set.Load()
	if m == nil {
		return false
	}
	_, ok := (*m)[client.Unmap().WithZone("")]
	return ok
}
