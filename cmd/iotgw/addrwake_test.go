package main

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// testSignal stands for netwatch's AddrChanged: wait returns a channel
// that notify closes.
type testSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

func (s *testSignal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch == nil {
		s.ch = make(chan struct{})
	}
	return s.ch
}

func (s *testSignal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ch != nil {
		close(s.ch)
		s.ch = nil
	}
}

// every is the times from first to last, step apart.
func every(first, last, step time.Duration) []time.Duration {
	var out []time.Duration
	for at := first; at <= last; at += step {
		out = append(out, at)
	}
	return out
}

// TestAddrWakeFollow: the addresses are read at once, soon after an
// address message once its burst has settled (one read for the burst, and
// at most addrWake.most after its start for one that goes on), and at
// each poll without any message. Time is the test's own (synctest).
func TestAddrWakeFollow(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name     string
		messages []time.Duration // when the kernel tells of a change
		noEvents bool            // no subscription: polls only
		until    time.Duration
		reads    []time.Duration // after the first, at 0
	}{
		{"one_message", []time.Duration{1000 * ms}, false, 5 * time.Second, []time.Duration{1200 * ms}},
		{"a_burst_is_one_read", every(1000*ms, 1500*ms, 100*ms), false, 5 * time.Second, []time.Duration{1700 * ms}},
		{"a_burst_that_goes_on", every(1000*ms, 5050*ms, 150*ms), false, 6 * time.Second, []time.Duration{3000 * ms, 5100 * ms}},
		{"no_message_polls", nil, false, 25 * time.Second, []time.Duration{10 * time.Second, 20 * time.Second}},
		{"message_then_poll", []time.Duration{1000 * ms}, false, 12 * time.Second, []time.Duration{1200 * ms, 10 * time.Second}},
		{"without_events_polls", nil, true, 25 * time.Second, []time.Duration{10 * time.Second, 20 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var sig testSignal
				w := addrWake{changed: sig.wait, poll: 10 * time.Second, quiet: 200 * ms, most: 2 * time.Second}
				if tt.noEvents {
					w.changed = nil
				}
				ctx, cancel := context.WithCancel(context.Background())
				start := time.Now()
				var reads []time.Duration
				done := make(chan struct{})
				go func() {
					defer close(done)
					w.follow(ctx, func() bool { reads = append(reads, time.Since(start)); return true })
				}()
				for _, at := range tt.messages {
					time.Sleep(time.Until(start.Add(at)))
					sig.notify()
				}
				time.Sleep(time.Until(start.Add(tt.until)))
				cancel()
				<-done
				if want := append([]time.Duration{0}, tt.reads...); !slices.Equal(reads, want) {
					t.Errorf("read at %v, want %v", reads, want)
				}
			})
		})
	}
}

// TestAddrWakeFollowEnds: follow returns when check says so and when ctx
// ends, also in the middle of a burst.
func TestAddrWakeFollowEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sig testSignal
		w := addrWake{changed: sig.wait, poll: time.Hour, quiet: time.Second, most: time.Minute}
		reads := 0
		w.follow(context.Background(), func() bool { reads++; return reads < 3 })
		if reads != 3 {
			t.Errorf("%d reads, want 3: follow goes on until check says no", reads)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.follow(ctx, func() bool { return true })
		}()
		synctest.Wait()
		sig.notify() // now in settle
		synctest.Wait()
		cancel()
		<-done
	})
}
