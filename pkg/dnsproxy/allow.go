package dnsproxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/iotgw/iotgw/pkg/quarantine"
)

const (
	// maxAllowPerAnswer bounds the addresses one answer adds to the allow
	// sets; a real update host needs a handful.
	maxAllowPerAnswer = 16
)

// allowAddrs returns the addresses an answer to an update-domain query
// gives the name asked, and how long to allow them: the smallest TTL
// among them, within the configured bounds. Only what answers the
// question counts: a successful answer's records of the asked type owned
// by the end of the CNAME chain from the question name, not whatever
// else the answer carries. And only public unicast addresses outside
// the LAN and the router (Config.NotAllowed): an update host is on the
// internet, and an answer pointing into the LAN (DNS rebinding) or at
// special-purpose space must not open it to a quarantined device.
func (p *Proxy) allowAddrs(q dns.Question, resp *dns.Msg) ([]netip.Addr, time.Duration) {
	if resp.Rcode != dns.RcodeSuccess || (q.Qtype != dns.TypeA && q.Qtype != dns.TypeAAAA) {
		return nil, 0
	}
	name := chainEnd(dns.CanonicalName(q.Name), resp.Answer)
	var (
		addrs  []netip.Addr
		minTTL uint32
	)
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Rrtype != q.Qtype || h.Class != dns.ClassINET || dns.CanonicalName(h.Name) != name {
			continue
		}
		var a netip.Addr
		switch rr := rr.(type) {
		case *dns.A:
			a, _ = netip.AddrFromSlice(rr.A)
		case *dns.AAAA:
			a, _ = netip.AddrFromSlice(rr.AAAA)
		}
		a = a.Unmap()
		if !p.allowable(a) || len(addrs) == maxAllowPerAnswer {
			continue
		}
		if len(addrs) == 0 || h.Ttl < minTTL {
			minTTL = h.Ttl
		}
		addrs = append(addrs, a)
	}
	ttl := time.Duration(minTTL) * time.Second
	return addrs, min(max(ttl, p.cfg.AllowTTLMin), p.cfg.AllowTTLMax)
}

// maxCNAMEChain bounds the aliases followed, as resolvers do.
const maxCNAMEChain = 8

// chainEnd follows the CNAME records in answer from name and returns the
// last name of the chain (name itself without aliases).
func chainEnd(name string, answer []dns.RR) string {
	for range maxCNAMEChain {
		next := ""
		for _, rr := range answer {
			if c, ok := rr.(*dns.CNAME); ok && dns.CanonicalName(c.Hdr.Name) == name {
				next = dns.CanonicalName(c.Target)
				break
			}
		}
		if next == "" {
			break
		}
		name = next
	}
	return name
}

// specialPurpose are IANA special-purpose ranges that IsGlobalUnicast
// and IsPrivate let through but that reach no update host and may reach
// the ISP's or the router's side (RFC 6890 and its updates): "this
// network", shared address space (carrier-grade NAT), IETF protocol
// assignments, benchmarking, reserved, IPv6 discard-only. (The
// documentation ranges route nowhere; the tests use them as the
// internet.)
var specialPurpose = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("100::/64"),
}

// allowable reports whether a may go into the allow sets.
func (p *Proxy) allowable(a netip.Addr) bool {
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, set := range [][]netip.Prefix{specialPurpose, p.cfg.NotAllowed} {
		for _, pr := range set {
			if pr.Contains(a) {
				return false
			}
		}
	}
	return true
}

// capTTL lowers every TTL in the answer and authority sections to ttl.
func capTTL(m *dns.Msg, ttl time.Duration) {
	limit := uint32(ttl / time.Second)
	for _, section := range [][]dns.RR{m.Answer, m.Ns} {
		for _, rr := range section {
			if h := rr.Header(); h.Ttl > limit {
				h.Ttl = limit
			}
		}
	}
}

// keepAddrs drops from m's answer the address records whose address is
// not in addrs.
func keepAddrs(m *dns.Msg, addrs []netip.Addr) {
	m.Answer = slices.DeleteFunc(m.Answer, func(rr dns.RR) bool {
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A
		case *dns.AAAA:
			ip = rr.AAAA
		default:
			return false
		}
		a, ok := netip.AddrFromSlice(ip)
		return !ok || !slices.Contains(addrs, a.Unmap())
	})
}

// allowRetryPause is how long allow-set updates wait after one failed.
const allowRetryPause = 5 * time.Second

// pushAllowed hands addrs to the allow sets unless each was handed over
// recently enough. It returns once the sets are updated, so that the
// client's first connection finds its address allowed, and says how long
// every address in addrs stays allowed: less than ttl for one handed over
// earlier, 0 when one is not (the update failed or waits out a pause, or
// the cache is full). The caller holds an upstream slot, which bounds the
// queries waiting here.
func (p *Proxy) pushAllowed(ctx context.Context, addrs []netip.Addr, ttl time.Duration) time.Duration {
	now := p.now()
	if now.UnixNano() < p.allowPause.Load() {
		return p.allow.left(addrs, now)
	}
	todo := p.allow.due(addrs, ttl, now)
	if len(todo) == 0 {
		return p.allow.left(addrs, now)
	}
	// The quarantine backend does one change at a time; a query waits
	// for its turn no longer than for an upstream answer.
	ctx, cancel := context.WithTimeout(ctx, p.cfg.UpstreamTimeout)
	defer cancel()
	p.st.allowUpdates.Add(1)
	err := p.deps.Allow.SetAllowed(ctx, todo, ttl)
	if err != nil {
		// A full allow set applied the rest and refuses the others until
		// allowances expire: asking again at every query would only cost
		// batches. Any other failure is retried after a pause.
		if !errors.Is(err, quarantine.ErrAllowFull) {
			p.allow.forget(todo)
			p.allowPause.Store(now.Add(allowRetryPause).UnixNano())
		}
		// Log the first failure and then every hundredth, not each one.
		if n := p.st.allowErrors.Add(1); n == 1 || n%100 == 0 {
			p.log.Warn("allow update hosts", "addrs", len(todo), "failures", n, "err", err)
		}
		return 0
	}
	return p.allow.left(addrs, now)
}

// allowCache remembers until when each address was allowed, so that a
// device asking again and again does not cost a netlink batch each time.
// The quarantine backends never shorten an allowance, so skipping an
// address that is allowed for at least half the wanted time loses nothing
// that matters.
type allowCache struct {
	mu    sync.Mutex
	max   int    // per family
	held  [2]int // entries of until per family: IPv4, IPv6
	until map[netip.Addr]time.Time
}

func newAllowCache(maxPerFamily int) *allowCache {
	return &allowCache{max: maxPerFamily, until: make(map[netip.Addr]time.Time)}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// due returns the addresses to hand over now and records them as allowed
// for ttl. When an address's family is full, expired entries are dropped;
// if it is still full, the address is not handed over: a pool larger than
// the cache (a wildcard or CDN domain) must not grow the allow sets
// without bound.
func (c *allowCache) due(addrs []netip.Addr, ttl time.Duration, now time.Time) []netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	var todo []netip.Addr
	for _, a := range addrs {
		u, known := c.until[a]
		if known && u.Sub(now) >= ttl/2 {
			continue
		}
		fam := family(a)
		if !known && c.held[fam] >= c.max {
			c.pruneLocked(now)
			if c.held[fam] >= c.max {
				continue
			}
		}
		todo = append(todo, a)
		if !known {
			c.held[fam]++
		}
		c.until[a] = now.Add(ttl)
	}
	return todo
}

// left is how long every address in addrs stays allowed from now, as far
// as the cache knows: 0 if one is not.
func (c *allowCache) left(addrs []netip.Addr, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var least time.Duration
	for i, a := range addrs {
		u, ok := c.until[a]
		if !ok || !u.After(now) {
			return 0
		}
		if d := u.Sub(now); i == 0 || d < least {
			least = d
		}
	}
	return least
}

func (c *allowCache) pruneLocked(now time.Time) {
	for a, u := range c.until {
		if !u.After(now) {
			c.deleteLocked(a)
		}
	}
}

func (c *allowCache) deleteLocked(a netip.Addr) {
	if _, ok := c.until[a]; ok {
		delete(c.until, a)
		c.held[family(a)]--
	}
}

// forget drops addresses whose hand-over failed, so the next query retries.
func (c *allowCache) forget(addrs []netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range addrs {
		c.deleteLocked(a)
	}
}
