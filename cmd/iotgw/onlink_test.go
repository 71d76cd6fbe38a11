package main

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestFollowOnLink: the prefixes read at start are set at once, a tick
// that reads the same ones (in another order) sets nothing, and one that
// reads a new delegation sets it.
func TestFollowOnLink(t *testing.T) {
	a, b := netip.MustParsePrefix("2001:db8:5:1::/64"), netip.MustParsePrefix("192.168.1.0/24")
	c := netip.MustParsePrefix("2001:db8:9:1::/64")
	reads := [][]netip.Prefix{{a, b}, {b, a}, {c, b}, {c, b}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tick := make(chan time.Time)
	var sets [][]netip.Prefix
	n := 0
	current := func() []netip.Prefix {
		r := reads[n]
		if n++; n == len(reads) {
			cancel() // the loop ends at its next wait
		}
		return r
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		followOnLink(ctx, current, tick, func(p []netip.Prefix) { sets = append(sets, p) }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	for range len(reads) - 1 {
		tick <- time.Time{}
	}
	<-done
	want := [][]netip.Prefix{{a, b}, {c, b}}
	if !slices.EqualFunc(sets, want, slices.Equal) {
		t.Errorf("set %v, want %v", sets, want)
	}
}
