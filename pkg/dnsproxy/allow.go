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

	"github.com/iotgw/iotgw/internal/inetaddr"
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

// allowable reports whether a may go into the allow sets: neither a nor
// the IPv4 address a NAT64 translates it to, or a 6to4 router sends it
// to, may be the LAN's or the router's.
func (p *Proxy) allowable(a netip.Addr) bool {
	if !inetaddr.Public(a) {
		return false
	}
	reached := inetaddr.Reached(a)
	for _, pr := range p.cfg.NotAllowed {
		if pr.Contains(a) || pr.Contains(reached) {
			return false
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

// allowRetryPause is how long allow-set updates wait after one failed;
// allowFullPause how long an address a full allow set refused is not
// offered again (room comes only as allowances expire).
const (
	allowRetryPause = 5 * time.Second
	allowFullPause  = 30 * time.Second
)

// pushAllowed hands addrs to the allow sets unless each was handed over
// recently enough. It returns once the sets are updated, so that the
// client's first connection finds its address allowed, and says how long
// every address in addrs stays allowed: less than ttl for one handed over
// earlier, 0 when one is not (the update failed, was refused or is still
// on its way for another query, or the cache is full). The caller holds
// an upstream slot, which bounds the queries waiting here.
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
	var full *quarantine.AllowFullError
	switch {
	case err == nil:
		p.allow.settle(todo, nil, now.Add(ttl), now)
	case errors.As(err, &full):
		// A full allow set applied the rest and refuses the others
		// until allowances expire: asking again at every query would
		// only cost batches.
		p.allow.settle(todo, full.Refused, now.Add(ttl), now.Add(allowFullPause))
	case errors.Is(err, quarantine.ErrAllowFull):
		p.allow.settle(nil, todo, now, now.Add(allowFullPause)) // which were refused is unknown
	default:
		p.allow.forget(todo)
		p.allowPause.Store(now.Add(allowRetryPause).UnixNano())
	}
	if err != nil {
		// Log the first failure and then every hundredth, not each one.
		if n := p.st.allowErrors.Add(1); n == 1 || n%100 == 0 {
			p.log.Warn("allow update hosts", "addrs", len(todo), "failures", n, "err", err)
		}
	}
	return p.allow.left(addrs, now)
}

// allowCache remembers until when each address was allowed, so that a
// device asking again and again does not cost a netlink batch each time.
// The quarantine backends never shorten an allowance, so skipping an
// address that is allowed for at least half the wanted time loses nothing
// that matters. An address is counted allowed only once the allow set
// took it: while another query's hand-over of it is on its way, or after
// a full set refused it, answers carry TTL 0.
type allowCache struct {
	mu      sync.Mutex
	max     int    // per family
	held    [2]int // entries per family: IPv4, IPv6
	entries map[netip.Addr]allowEntry
}

type allowEntry struct {
	until   time.Time // allowed until; zero or past: not allowed
	retry   time.Time // refused by a full set: not offered again before
	pending bool      // handed over, the allow set's answer not back yet
}

func newAllowCache(maxPerFamily int) *allowCache {
	return &allowCache{max: maxPerFamily, entries: make(map[netip.Addr]allowEntry)}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// due returns the addresses to hand over now and marks them pending: not
// those allowed for at least half of ttl, being handed over already, or
// refused a moment ago. When an address's family is full, finished
// entries are dropped; if it is still full, the address is not handed
// over: a pool larger than the cache (a wildcard or CDN domain) must not
// grow the allow sets without bound.
func (c *allowCache) due(addrs []netip.Addr, ttl time.Duration, now time.Time) []netip.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	var todo []netip.Addr
	for _, a := range addrs {
		e, known := c.entries[a]
		if known && (e.pending || e.until.Sub(now) >= ttl/2 || now.Before(e.retry)) {
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
		e.pending = true
		c.entries[a] = e
	}
	return todo
}

// settle records the allow set's answer to a hand-over of todo: refused
// ones are not offered again before retry, the others are allowed until
// until.
func (c *allowCache) settle(todo, refused []netip.Addr, until, retry time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range todo {
		if e, ok := c.entries[a]; ok {
			e.pending = false
			if until.After(e.until) {
				e.until = until
			}
			c.entries[a] = e
		}
	}
	for _, a := range refused {
		if e, ok := c.entries[a]; ok {
			e.pending, e.until, e.retry = false, time.Time{}, retry
			c.entries[a] = e
		}
	}
}

// left is how long every address in addrs stays allowed from now, as far
// as the cache knows: 0 if one is not.
func (c *allowCache) left(addrs []netip.Addr, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var least time.Duration
	for i, a := range addrs {
		e, ok := c.entries[a]
		if !ok || e.pending || !e.until.After(now) {
			return 0
		}
		if d := e.until.Sub(now); i == 0 || d < least {
			least = d
		}
	}
	return least
}

// pruneLocked drops the entries that are neither allowed, nor pending,
// nor waiting out a refusal.
func (c *allowCache) pruneLocked(now time.Time) {
	for a, e := range c.entries {
		if !e.pending && !e.until.After(now) && !e.retry.After(now) {
			c.deleteLocked(a)
		}
	}
}

func (c *allowCache) deleteLocked(a netip.Addr) {
	if _, ok := c.entries[a]; ok {
		delete(c.entries, a)
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
