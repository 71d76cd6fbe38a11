package netwatch

import "sync"

// broadcast wakes every waiter at once, however many times it is
// notified before they wake: a burst of notifications costs at most one
// channel, and nothing is queued for a waiter that is slow or gone.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{} // closed by the next notify; nil while nobody waits
}

// wait returns a channel closed at the next notify.
func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
