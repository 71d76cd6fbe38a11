package web

import (
	"net/netip"
	"sync"
	"time"
)

// Login back-off: each client (an IPv4 address, or an IPv6 /64) may fail
// freeFailures times; then every further failure doubles a lock-out that
// starts at firstLockout and ends at maxLockout. Across all clients,
// failures draw on a bucket of globalBurst refilled one per
// globalRefill, so many addresses together guess no faster than that,
// while the owner waits at most one refill interval.
const (
	freeFailures  = 5
	firstLockout  = 30 * time.Second
	maxLockout    = 15 * time.Minute
	forgetAfter   = 24 * time.Hour
	globalBurst   = 30
	globalRefill  = 2 * time.Second
	maxLimited    = 1024 // client prefixes remembered; the stalest goes first
	ipv6ClientLen = 64
)

type clientFailures struct {
	failures int
	last     time.Time
	until    time.Time
}

// limiter is the login rate limiter: one for the password, one for the
// setup code.
type limiter struct {
	now func() time.Time

	mu      sync.Mutex
	clients map[netip.Prefix]*clientFailures
	tokens  float64
	filled  time.Time
}

func newLimiter(now func() time.Time) *limiter {
	return &limiter{now: now, clients: map[netip.Prefix]*clientFailures{}, tokens: globalBurst, filled: now()}
}

func clientKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = ipv6ClientLen
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// refill adds the tokens earned since the last look. l.mu held.
func (l *limiter) refill(now time.Time) {
	if d := now.Sub(l.filled); d > 0 {
		l.tokens = min(globalBurst, l.tokens+float64(d)/float64(globalRefill))
		l.filled = now
	}
}

// wait is how long the client at a must wait before it may try; zero
// when it may try now.
func (l *limiter) wait(a netip.Addr) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.refill(now)
	var w time.Duration
	if c := l.clients[clientKey(a)]; c != nil && now.Before(c.until) {
		w = c.until.Sub(now)
	}
	if l.tokens < 1 {
		w = max(w, time.Duration((1-l.tokens)*float64(globalRefill)))
	}
	return w
}

// fail counts a failed attempt by the client at a.
func (l *limiter) fail(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.refill(now)
	l.tokens = max(0, l.tokens-1)
	k := clientKey(a)
	c := l.clients[k]
	if c == nil {
		if len(l.clients) >= maxLimited {
			l.evictStalest()
		}
		c = &clientFailures{}
		l.clients[k] = c
	}
	if now.Sub(c.last) > forgetAfter {
		c.failures = 0
	}
	c.failures++
	c.last = now
	if n := c.failures - freeFailures; n >= 0 {
		lock := firstLockout
		for i := 0; i < n && lock < maxLockout; i++ {
			lock *= 2
		}
		c.until = now.Add(min(lock, maxLockout))
	}
}

// succeed forgets the client's failures.
func (l *limiter) succeed(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.clients, clientKey(a))
}

// evictStalest drops the client whose last failure is oldest. l.mu held;
// linear in maxLimited, and only reached when the table is full.
func (l *limiter) evictStalest() {
	var oldest netip.Prefix
	var t time.Time
	first := true
	for k, c := range l.clients {
		if first || c.last.Before(t) {
			oldest, t, first = k, c.last, false
		}
	}
	delete(l.clients, oldest)
}
