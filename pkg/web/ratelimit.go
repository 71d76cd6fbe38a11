package web

import (
	"net/netip"
	"sync"
	"time"
)

// Login back-off: each client address may fail freeFailures times; then every further failure doubles a lock-out that
// starts at firstLockout and ends at maxLockout. Across all clients,
// password attempts draw on a shared bucket of globalBurst refilled one
// per globalRefill (a right password gives its token back), so many
// addresses together guess no faster than that. A client has one attempt
// in flight at a time.
//
// IPv6 clients count by address, not by /64: the page serves only the LAN,
// whose devices all share one /64, so a prefix key let any device keep the
// owner locked out. An address a device makes up gains it no more than an
// IPv4 address it takes; the bucket bounds both. A device that makes up
// addresses can keep the shared bucket empty, though, so a browser that
// logged in before (its known-browser cookie, which only the password
// earns) does not draw on it: the owner is never kept out by others'
// guesses. The setup code (60 bits) needs no shared bucket: guessing it
// at any rate the router can answer takes longer than the router lasts,
// and without one a device cannot keep the owner from setting the page
// up.
const (
	freeFailures = 5
	firstLockout = 30 * time.Second
	maxLockout   = 15 * time.Minute
	forgetAfter  = 24 * time.Hour
	globalBurst  = 30
	globalRefill = 2 * time.Second
	maxLimited   = 1024 // clients remembered; the stalest goes first
)

type clientFailures struct {
	failures int
	last     time.Time // last failure, or when the entry was made
	until    time.Time
	inFlight bool
	token    bool // the attempt in flight holds a shared token
}

// limiter is the login rate limiter: one for the password, one for the
// setup code.
type limiter struct {
	now    func() time.Time
	shared bool // attempts draw on the shared bucket

	mu      sync.Mutex
	clients map[netip.Addr]*clientFailures
	bucket  bucket // the shared bucket
}

// newLimiter returns a limiter; shared makes attempts draw on the shared
// bucket.
func newLimiter(now func() time.Time, shared bool) *limiter {
	return &limiter{now: now, shared: shared, clients: map[netip.Addr]*clientFailures{}, bucket: newBucket(globalBurst, globalRefill, now())}
}

func clientKey(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// bucket is a token bucket: burst tokens at most, one more each refill.
// Its owner locks it.
type bucket struct {
	burst  float64
	refill time.Duration
	tokens float64
	filled time.Time
}

func newBucket(burst float64, refill time.Duration, now time.Time) bucket {
	return bucket{burst: burst, refill: refill, tokens: burst, filled: now}
}

// fill adds the tokens earned since the last look. A clock set back
// earns none.
func (b *bucket) fill(now time.Time) {
	if d := now.Sub(b.filled); d > 0 {
		b.tokens = min(b.burst, b.tokens+float64(d)/float64(b.refill))
		b.filled = now
	}
}

// giveBack returns a token taken for nothing.
func (b *bucket) giveBack() { b.tokens = min(b.burst, b.tokens+1) }

// inFlightWait is what a client with an attempt still being checked is
// told to wait: a second form sent before the first is answered.
const inFlightWait = time.Second

// begin admits an attempt by the client at a and returns zero, or says
// how long it must wait. An admitted attempt holds a shared token (unless
// the limiter has no shared bucket or the browser is known) and is the
// client's only one in flight until end: requests sent together cannot
// all pass the check before the first failure is counted.
func (l *limiter) begin(a netip.Addr, known bool) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.bucket.fill(now)
	k := clientKey(a)
	c := l.clients[k]
	var w time.Duration
	if c != nil && now.Before(c.until) {
		w = c.until.Sub(now)
	}
	if c != nil && c.inFlight {
		w = max(w, inFlightWait)
	}
	shared := l.shared && !known
	if shared && l.bucket.tokens < 1 {
		w = max(w, time.Duration((1-l.bucket.tokens)*float64(l.bucket.refill)))
	}
	if w > 0 {
		return w
	}
	if c == nil {
		c = l.add(k)
	}
	if shared {
		l.bucket.tokens--
		c.token = true
	}
	c.inFlight = true
	return 0
}

// outcome is how an admitted attempt ended.
type outcome int

const (
	attemptFailed    outcome = iota // a wrong password or code: counted
	attemptSucceeded                // forgets the client's failures
	attemptAborted                  // not decided (a server error): not counted
)

// end closes the client's attempt. A failure keeps its shared token; a
// success or an abort gives it back.
func (l *limiter) end(a netip.Addr, o outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.bucket.fill(now)
	k := clientKey(a)
	c := l.clients[k]
	token := false // an entry evicted meanwhile: its token is not given back
	if c != nil {
		token = c.token
		c.inFlight, c.token = false, false
	}
	if o != attemptFailed {
		if token && l.shared {
			l.bucket.giveBack()
		}
		if c != nil && (o == attemptSucceeded || c.failures == 0) {
			delete(l.clients, k)
		}
		return
	}
	if c == nil { // evicted meanwhile
		c = l.add(k)
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

// add remembers a new client, dropping the stalest when the table is
// full. l.mu held.
func (l *limiter) add(k netip.Addr) *clientFailures {
	if len(l.clients) >= maxLimited {
		l.evictStalest()
	}
	c := &clientFailures{last: l.now()}
	l.clients[k] = c
	return c
}

// evictStalest drops the client whose last failure is oldest. l.mu held;
// linear in maxLimited, and only reached when the table is full.
func (l *limiter) evictStalest() {
	var oldest netip.Addr
	var t time.Time
	first := true
	for k, c := range l.clients {
		if first || c.last.Before(t) {
			oldest, t, first = k, c.last, false
		}
	}
	delete(l.clients, oldest)
}

// Wrong setup codes are logged within a budget: their limiter has no
// shared bucket, so a device making up addresses would otherwise write a
// line per guess as fast as the router answers, and push everything
// else out of the router's small log (OpenWrt's logd keeps a ring of
// some 64 KiB in memory), its own earlier doings included. A burst of
// logBurst lines, then one per logRefill; the line written says how
// many were left out before it.
const (
	logBurst  = 10
	logRefill = time.Minute
)

// logBudget rations the log lines of one kind of failure.
type logBudget struct {
	now func() time.Time

	mu      sync.Mutex
	bucket  bucket
	skipped int
}

func newLogBudget(now func() time.Time) *logBudget {
	return &logBudget{now: now, bucket: newBucket(logBurst, logRefill, now())}
}

// take reports whether a line may be written now and, if so, how many
// were left out since the last one written.
func (b *logBudget) take() (ok bool, skipped int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bucket.fill(b.now())
	if b.bucket.tokens < 1 {
		b.skipped++
		return false, 0
	}
	b.bucket.tokens--
	skipped, b.skipped = b.skipped, 0
	return true, skipped
}
