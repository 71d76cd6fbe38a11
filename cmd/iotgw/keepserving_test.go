package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
)

type problemLog struct {
	mu    sync.Mutex
	calls []string
}

func (p *problemLog) SetProblem(key, detail string) { p.add("set " + key + ": " + detail) }
func (p *problemLog) ClearProblem(key string)       { p.add("clear " + key) }

func (p *problemLog) add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, s)
}

// TestKeepServingRetries: a listener that cannot open, or fails later,
// raises its problem and is tried again; listening clears the problem.
// The daemon never stops for it.
func TestKeepServingRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr := &problemLog{}
	tries := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		keepServing(ctx, "dnsproxy", pr, slog.New(slog.NewTextHandler(io.Discard, nil)), func(ctx context.Context, up func()) error {
			tries++
			switch tries {
			case 1:
				return errors.New("listen udp 192.168.1.1:5353: address already in use")
			case 2:
				up()
				return errors.New("server: closed")
			}
			up()
			cancel()
			<-ctx.Done()
			return errors.New("stopped because ctx ended: no problem")
		})
	}()
	<-done
	want := []string{
		"set dnsproxy: listen udp 192.168.1.1:5353: address already in use",
		"clear dnsproxy",
		"set dnsproxy: server: closed",
		"clear dnsproxy",
	}
	if !slices.Equal(pr.calls, want) || tries != 3 {
		t.Errorf("after %d tries, problems %q, want %q", tries, pr.calls, want)
	}
}
