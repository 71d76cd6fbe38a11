package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestFollowOnLink: the prefixes read at start are set at once, an
// address message after which the same ones are read (in another order)
// sets nothing, and one after which a new delegation is read sets it,
// long before the poll. Time is the test's own (synctest).
func TestFollowOnLink(t *testing.T) {
	a, b := netip.MustParsePrefix("2001:db8:5:1::/64"), netip.MustParsePrefix("192.168.1.0/24")
	c := netip.MustParsePrefix("2001:db8:9:1::/64")
	reads := [][]netip.Prefix{{a, b}, {b, a}, {c, b}, {c, b}}
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var sig testSignal
		wake := addrWake{changed: sig.wait, poll: time.Hour, quiet: 200 * time.Millisecond, most: 2 * time.Second}
		var sets [][]netip.Prefix
		n := 0
		current := func() []netip.Prefix {
			r := reads[min(n, len(reads)-1)]
			n++
			return r
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			followOnLink(ctx, current, wake, func(p []netip.Prefix) error { sets = append(sets, p); return nil }, slog.New(slog.NewTextHandler(io.Discard, nil)))
		}()
		for range len(reads) - 1 {
			synctest.Wait()
			sig.notify()
			time.Sleep(time.Second)
		}
		cancel()
		<-done
		if n != len(reads) {
			t.Errorf("%d reads, want %d: one at start and one after each message", n, len(reads))
		}
		want := [][]netip.Prefix{{a, b}, {c, b}}
		if !slices.EqualFunc(sets, want, slices.Equal) {
			t.Errorf("set %v, want %v", sets, want)
		}
	})
}

// TestFollowOnLinkRetriesFailedSet: prefixes that set failed to take
// (the quarantine's batch refused) are given again at the next wake-up,
// the same ones though they are, until set takes them; then no more.
// Time is the test's own (synctest).
func TestFollowOnLinkRetriesFailedSet(t *testing.T) {
	a, b := netip.MustParsePrefix("2001:db8:5:1::/64"), netip.MustParsePrefix("192.168.1.0/24")
	tests := []struct {
		name  string
		fails int  // set fails this many times first
		poke  bool // an address message, not the poll, wakes it
		want  int  // sets within 25 s
	}{
		{"taken_at_once", 0, false, 1},
		{"failed_once_taken_at_the_poll", 1, false, 2},
		{"failed_twice", 2, false, 3},
		{"failed_once_taken_at_a_message", 1, true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var sig testSignal
				wake := addrWake{changed: sig.wait, poll: 10 * time.Second, quiet: 200 * time.Millisecond, most: 2 * time.Second}
				if tt.poke {
					wake.poll = time.Hour
				}
				var sets [][]netip.Prefix
				set := func(p []netip.Prefix) error {
					sets = append(sets, p)
					if len(sets) <= tt.fails {
						return errors.New("batch refused")
					}
					return nil
				}
				done := make(chan struct{})
				go func() {
					defer close(done)
					followOnLink(ctx, func() []netip.Prefix { return []netip.Prefix{a, b} }, wake, set, slog.New(slog.NewTextHandler(io.Discard, nil)))
				}()
				if tt.poke {
					synctest.Wait()
					sig.notify()
				}
				time.Sleep(25 * time.Second)
				cancel()
				<-done
				if len(sets) != tt.want {
					t.Errorf("%d sets, want %d", len(sets), tt.want)
				}
				for _, p := range sets {
					if !sameSet(p, []netip.Prefix{a, b}) {
						t.Errorf("set %v, want %v", p, []netip.Prefix{a, b})
					}
				}
			})
		})
	}
}
