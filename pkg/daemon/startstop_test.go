package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// slowKernel is an enforcer whose protected sets take until the daemon
// is asked to stop.
type slowKernel struct {
	*quarantine.Fake
	entered chan struct{}
}

func (k slowKernel) SetProtected(ctx context.Context, _ []hwaddr.MAC, _ []netip.Addr) error {
	close(k.entered)
	<-ctx.Done()
	return ctx.Err()
}

// TestStopWhileStarting: a daemon asked to stop while it starts stops
// without an error (procd stopping it during a slow start is no failure).
func TestStopWhileStarting(t *testing.T) {
	k := slowKernel{Fake: newFake(t), entered: make(chan struct{})}
	d, err := New(enforcingConfig(), routerOwn(), Deps{Enforcer: k, Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"}),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-k.entered
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v, want nil when stopped while starting", err)
	}
}
