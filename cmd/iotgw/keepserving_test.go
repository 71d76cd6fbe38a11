package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type problemLog struct {
	mu      sync.Mutex
	calls   []string
	cleared chan struct{}
}

func (p *problemLog) SetProblem(key, detail string) { p.add("set " + key + ": " + detail) }
func (p *problemLog) ClearProblem(key string) {
	p.add("clear " + key)
	p.cleared <- struct{}{}
}

func (p *problemLog) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, s)
}

// TestKeepServingRetries: a listener that cannot open, or dies at once
// after opening, is tried again and raises its problem from the third
// failure in a row; one that stays up clears it and has its failures
// forgotten. A restart for changed settings is no failure. The daemon
// never stops for it.
func TestKeepServingRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr := &problemLog{cleared: make(chan struct{}, 1)}
	k := keeper{first: time.Millisecond, most: 4 * time.Millisecond, raiseAfter: 3, healthy: time.Second}
	tries := 0
	k.run(ctx, "dnsproxy", pr, slog.New(slog.NewTextHandler(io.Discard, nil)), func(ctx context.Context, up func()) error {
		tries++
		err := fmt.Errorf("try %d", tries)
		switch tries {
		case 1, 2, 3:
			return err // cannot listen
		case 4:
			up()
			return err // listened, died at once: still failing
		case 5:
			up()
			<-pr.cleared // stayed up
			return err
		case 6:
			return err // one failure after a healthy run: no problem yet
		case 7, 8, 9:
			// Addresses changed, three times in a row: no failures, so
			// the two before still raise nothing.
			return fmt.Errorf("addresses: %w", errServeAgain)
		}
		up()
		cancel()
		<-ctx.Done()
		return errors.New("stopped because ctx ended: no problem")
	})
	want := []string{"set dnsproxy: try 3", "set dnsproxy: try 4", "clear dnsproxy"}
	if !slices.Equal(pr.calls, want) || tries != 10 {
		t.Errorf("after %d tries, problems %q, want %q", tries, pr.calls, want)
	}
}

// TestKeepServingTriesAgainAtAddressMessage: a listener that failed for
// want of an address is tried again once an address message has
// settled, not at the end of its back-off; without messages the back-off
// stands. Time is the test's own (synctest).
func TestKeepServingTriesAgainAtAddressMessage(t *testing.T) {
	const backoff = time.Minute
	tests := []struct {
		name     string
		message  bool
		secondAt time.Duration
	}{
		{"address_message", true, 5*time.Second + 200*time.Millisecond},
		{"no_message", false, backoff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var sig testSignal
				k := keeper{first: backoff, most: backoff, raiseAfter: 3, healthy: time.Second,
					wake: addrWake{changed: sig.wait, poll: time.Hour, quiet: 200 * time.Millisecond, most: 2 * time.Second}}
				start := time.Now()
				var tries []time.Duration
				done := make(chan struct{})
				go func() {
					defer close(done)
					k.run(ctx, "dnsproxy", &problemLog{}, slog.New(slog.NewTextHandler(io.Discard, nil)), func(ctx context.Context, up func()) error {
						if tries = append(tries, time.Since(start)); len(tries) == 2 {
							cancel()
						}
						return errors.New("the LAN has no IPv4 address yet")
					})
				}()
				time.Sleep(5 * time.Second)
				if tt.message {
					sig.notify()
				}
				<-done
				if want := []time.Duration{0, tt.secondAt}; !slices.Equal(tries, want) {
					t.Errorf("tries at %v, want %v", tries, want)
				}
			})
		})
	}
}
