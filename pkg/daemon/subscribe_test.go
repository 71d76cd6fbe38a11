package daemon

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/store"
)

// Event streams are capped: a new one ends the oldest, whose reader sees
// its channel closed; the others go on receiving.
func TestSubscribersCapped(t *testing.T) {
	d := idleDaemon(t)
	var chans []<-chan *event.Event
	for range maxSubscribers + 3 {
		ch, cancel := d.Subscribe()
		defer cancel()
		chans = append(chans, ch)
	}
	d.mu.Lock()
	n := len(d.subs)
	d.Emit(&event.Event{Type: event.TypeObservation, Kind: event.KindBanner})
	d.mu.Unlock()
	if n != maxSubscribers {
		t.Errorf("%d streams open, want %d", n, maxSubscribers)
	}
	for i, ch := range chans {
		ev, open := <-ch
		if ended := i < 3; ended != !open || !ended && ev == nil {
			t.Errorf("stream %d: open %v, event %v; want the first 3 ended, the rest fed", i, open, ev)
		}
	}
}

// idleDaemon is a daemon that is not run: its capture source waits for
// the end, so events reach it only as a test emits or injects them.
func idleDaemon(t *testing.T) *Daemon {
	t.Helper()
	d, err := New(enforcingConfig(), routerOwn(), Deps{
		Enforcer: newFake(t), Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"}),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() },
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}
