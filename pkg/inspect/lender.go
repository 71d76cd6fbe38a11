package inspect

// Lender lends what a Protocol shares among its flows (reassembly
// buffers, tables of names) within a bound: at most max at once, and at
// most max/HostShareDiv to the flows of one client host bucket
// (Flow.HostBucket), the share of the engine's inspections one may hold,
// so that a device leaving hundreds of connections half done cannot keep
// another's from being read. What is given back is kept for reuse, not
// cleared. Like the analyzers, it is used from the engine's goroutine
// only.
type Lender[T any] struct {
	max    int
	free   []*T
	lent   int
	byHost [HostBuckets]uint8
}

// NewLender returns a Lender of at most max objects; max/HostShareDiv
// must fit a host's count (255).
func NewLender[T any](max int) Lender[T] {
	if max/HostShareDiv > 255 {
		panic("inspect: a Lender's share per host past its counter")
	}
	return Lender[T]{max: max}
}

// Get returns an object for a flow of the client bucket host, or nil
// when max are lent or the host holds its share.
func (l *Lender[T]) Get(host uint32) *T {
	if l.lent >= l.max || int(l.byHost[host]) >= l.max/HostShareDiv {
		return nil
	}
	l.lent++
	l.byHost[host]++
	if n := len(l.free); n > 0 {
		t := l.free[n-1]
		l.free = l.free[:n-1]
		return t
	}
	return new(T)
}

// Put gives back t, lent to a flow of the client bucket host.
func (l *Lender[T]) Put(t *T, host uint32) {
	l.lent--
	l.byHost[host]--
	l.free = append(l.free, t)
}

// Lent is how many objects are lent now.
func (l *Lender[T]) Lent() int { return l.lent }

// LentTo is how many objects the flows of the client bucket host hold.
func (l *Lender[T]) LentTo(host uint32) int { return int(l.byHost[host]) }
