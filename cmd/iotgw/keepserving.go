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

// Back-off between tries of a listener that failed: short first, for an
// address that comes up a moment after the daemon at boot.
const (
	retryFirst = time.Second
	retryMax   = 30 * time.Second
)

// keepServing runs serve until ctx ends and never gives up: a listener
// failing (an address not up yet, a port in use) must not stop
// enforcement, which a daemon exiting for it would. serve calls up once
// it listens, which clears the problem key; an error raises it, and serve
// is tried again after a back-off that up resets.
func keepServing(ctx context.Context, key string, pr problemReporter, log *slog.Logger, serve func(ctx context.Context, up func()) error) {
	wait := retryFirst
	up := func() {
		wait = retryFirst
		pr.ClearProblem(key)
	}
	for {
		err := serve(ctx, up)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("stopped without an error")
		}
		pr.SetProblem(key, err.Error())
		log.Error("not serving; trying again", "service", key, "err", err, "in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, retryMax)
	}
}
