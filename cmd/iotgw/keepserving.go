package main

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// problemReporter is where keepServing tells of a listener's health: the
// daemon's problems, which the page shows and alerts push.
type problemReporter interface {
	SetProblem(key, detail string)
	ClearProblem(key string)
}

// keeper holds the timing of keepServing.
type keeper struct {
	// Back-off between tries: short first, for an address that comes up
	// a moment after the daemon at boot.
	first, most time.Duration
	// raiseAfter failures in a row raise the problem: a listener that
	// opens at the second try, as at boot, alerts nobody.
	raiseAfter int
	// healthy: a listener up this long clears its problem and has its
	// failures forgotten; one that fails sooner keeps backing off, so a
	// listener that opens and dies at once neither floods the log nor
	// alerts at every try.
	healthy time.Duration
	// wake ends a back-off early once the LAN's addresses changed: a
	// listener that failed for want of an address (the LAN's IPv4 from
	// a slow upstream at boot) is tried again when one comes, not up to
	// most later.
	wake addrWake
}

// errServeAgain, wrapped in serve's error, asks for serve to run again at
// once: its settings changed (the router's addresses), nothing failed, so
// no failure is counted, no problem raised and no back-off waited.
var errServeAgain = errors.New("settings changed")

// keepServing runs serve until ctx ends and never gives up: a listener
// failing (an address not up yet, a port in use) must not stop
// enforcement, which a daemon exiting for it would. serve calls up once
// it listens. A failed one is tried again after a back-off, or once
// wake tells of changed addresses.
func keepServing(ctx context.Context, key string, pr problemReporter, log *slog.Logger, wake addrWake, serve func(ctx context.Context, up func()) error) {
	k := keeper{first: time.Second, most: 30 * time.Second, raiseAfter: 3, healthy: 10 * time.Second, wake: wake}
	k.run(ctx, key, pr, log, serve)
}

func (k keeper) run(ctx context.Context, key string, pr problemReporter, log *slog.Logger, serve func(ctx context.Context, up func()) error) {
	wait, failures := k.first, 0
	for {
		// Taken before serve: an address that comes while it fails
		// ends the back-off.
		changed := k.wake.next()
		var timer *time.Timer
		cleared := make(chan struct{})
		up := func() {
			timer = time.AfterFunc(k.healthy, func() {
				defer close(cleared)
				pr.ClearProblem(key)
			})
		}
		err := serve(ctx, up)
		if timer != nil && !timer.Stop() {
			<-cleared // ran its course: forget the failures before this one
			wait, failures = k.first, 0
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errServeAgain) {
			log.Info("serving anew", "service", key, "why", err)
			continue
		}
		if err == nil {
			err = errors.New("stopped without an error")
		}
		if failures++; failures >= k.raiseAfter {
			pr.SetProblem(key, err.Error())
		}
		log.Error("not serving; trying again", "service", key, "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-changed:
			t.Stop()
			if !k.wake.settle(ctx) {
				return
			}
		}
		wait = min(2*wait, k.most)
	}
}
