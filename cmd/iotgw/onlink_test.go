package main

import (
	"context"
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
			followOnLink(ctx, current, wake, func(p []netip.Prefix) { sets = append(sets, p) }, slog.New(slog.NewTextHandler(io.Discard, nil)))
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
