package dnsproxy

import (
	"context"
	"hash/maphash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on observations. A client asking for the same name again within
// observeWindow is reported once; beyond observeRate new pairs a second
// (burst observeBurst) and beyond observeQueue waiting for the Observer,
// observations are dropped and counted.
const (
	observeWindow = 10 * time.Minute
	observeSeen   = 4096
	observeRate   = 20
	observeBurst  = 100
	observeQueue  = 256
)

type observations struct {
	sink  Observer
	now   func() time.Time
	queue chan Observation
	seed  maphash.Seed

	mu     sync.Mutex
	seen   map[uint64]time.Time // hash of (client, name) → last reported
	tokens float64
	last   time.Time

	out, dropped atomic.Uint64
}

func newObservations(sink Observer, now func() time.Time) *observations {
	return &observations{
		sink:   sink,
		now:    now,
		queue:  make(chan Observation, observeQueue),
		seed:   maphash.MakeSeed(),
		seen:   make(map[uint64]time.Time),
		tokens: observeBurst,
	}
}

// add queues an observation unless it repeats a recent one or exceeds the
// bounds. It never blocks.
func (o *observations) add(client netip.Addr, name string) {
	if o.sink == nil || name == "" {
		return
	}
	key := o.key(client, name)
	now := o.now()
	o.mu.Lock()
	if t, ok := o.seen[key]; ok && now.Sub(t) < observeWindow {
		o.mu.Unlock()
		return
	}
	if !o.take(now) {
		o.mu.Unlock()
		o.dropped.Add(1)
		return
	}
	if len(o.seen) >= observeSeen {
		o.prune(now)
	}
	o.seen[key] = now
	o.mu.Unlock()

	select {
	case o.queue <- Observation{Client: client, Name: name, At: now}:
	default:
		o.dropped.Add(1)
	}
}

func (o *observations) key(client netip.Addr, name string) uint64 {
	var h maphash.Hash
	h.SetSeed(o.seed)
	b := client.As16()
	h.Write(b[:])
	// In lower case: a name is the same name whatever case it came in.
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		h.WriteByte(c)
	}
	return h.Sum64()
}

// take refills the token bucket by the time passed and takes one token.
func (o *observations) take(now time.Time) bool {
	if !o.last.IsZero() && now.After(o.last) {
		o.tokens = min(observeBurst, o.tokens+now.Sub(o.last).Seconds()*observeRate)
	}
	o.last = now
	if o.tokens < 1 {
		return false
	}
	o.tokens--
	return true
}

// prune drops pairs older than the window; if none are, it forgets all,
// which at worst repeats an observation.
func (o *observations) prune(now time.Time) {
	for k, t := range o.seen {
		if now.Sub(t) >= observeWindow {
			delete(o.seen, k)
		}
	}
	if len(o.seen) >= observeSeen {
		clear(o.seen)
	}
}

// deliver hands queued observations to the Observer until ctx ends.
func (o *observations) deliver(ctx context.Context) {
	if o.sink == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ob := <-o.queue:
			o.sink.Observe(ob)
			o.out.Add(1)
		}
	}
}
