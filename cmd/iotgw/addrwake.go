package main

import (
	"context"
	"time"
)

// Timing of addrWake in the daemon.
const (
	// addrPoll reads the addresses even without a wake-up: a
	// notification lost (a LAN interface whose name was not known yet)
	// or told late (after ENOBUFS, once the watcher has subscribed
	// again).
	addrPoll = 10 * time.Second
	// addrQuiet ends a burst of address messages: a renumbering removes
	// and adds a dozen addresses within milliseconds, and each proxy
	// restart would lose the queries in flight.
	addrQuiet = 200 * time.Millisecond
	// addrMost bounds the wait for a burst that does not end.
	addrMost = 2 * time.Second
)

// addrWake says when the router's LAN addresses are read again: once the
// kernel's messages about them have settled, and every poll anyway.
type addrWake struct {
	// changed returns a channel closed at the next address message
	// (netwatch's AddrChanged); nil polls only.
	changed     func() <-chan struct{}
	poll        time.Duration
	quiet, most time.Duration
}

func newAddrWake(changed func() <-chan struct{}) addrWake {
	return addrWake{changed: changed, poll: addrPoll, quiet: addrQuiet, most: addrMost}
}

// next is the channel of the next change; nil, which never fires, when
// there are no messages to follow.
func (w addrWake) next() <-chan struct{} {
	if w.changed == nil {
		return nil
	}
	return w.changed()
}

// follow calls check at once and again at each wake-up, until ctx ends
// or check returns false.
func (w addrWake) follow(ctx context.Context, check func() bool) {
	t := time.NewTicker(w.poll)
	defer t.Stop()
	for {
		// Taken before check reads: a change while it reads wakes the wait.
		changed := w.next()
		if !check() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-changed:
			if !w.settle(ctx) {
				return
			}
		}
	}
}

// settle waits until no message came for quiet, or most has passed; it
// returns false when ctx ended first.
func (w addrWake) settle(ctx context.Context) bool {
	quiet := time.NewTimer(w.quiet)
	defer quiet.Stop()
	most := time.NewTimer(w.most)
	defer most.Stop()
	for {
		changed := w.next()
		select {
		case <-ctx.Done():
			return false
		case <-changed:
			quiet.Reset(w.quiet)
		case <-quiet.C:
			return true
		case <-most.C:
			return true
		}
	}
}
