package daemon

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/quarantine"
	"github.com/iotgw/iotgw/pkg/store"
)

// checkDuringCommit is the fake kernel with a kernel check started while
// a quarantine is being committed: just after the kernel took it, before
// the daemon's view has it.
type checkDuringCommit struct {
	*quarantine.Fake
	d    atomic.Pointer[Daemon]
	done chan struct{}
}

func (c *checkDuringCommit) Quarantine(ctx context.Context, e quarantine.Entry) error {
	err := c.Fake.Quarantine(ctx, e)
	if d := c.d.Swap(nil); d != nil {
		go func() { d.checkKernel(ctx); close(c.done) }()
		// Not a synchronisation: time for a check that reads the view
		// without waiting for kernelMu to read it before the commit ends.
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// TestKernelCheckDuringCommit: a kernel check that overlaps the owner's
// quarantine must not reconcile it away.
func TestKernelCheckDuringCommit(t *testing.T) {
	fake := newFake(t)
	enf := &checkDuringCommit{Fake: fake, done: make(chan struct{})}
	h := start(t, enforcingConfig(), fake, t.TempDir(), func(deps *Deps) { deps.Enforcer = enf })
	defer h.stop()
	h.settle()
	enf.d.Store(h.d)
	if err := h.d.Quarantine(context.Background(), plug, "block", 0); err != nil {
		t.Fatal(err)
	}
	<-enf.done
	if _, ok := quarantined(t, fake)[plug]; !ok {
		t.Error("the kernel check removed the plug's quarantine")
	}
}

// TestKernelCheckBeforeProtectedRelease: a reload that makes a
// quarantined device trusted takes it out of the kernel (protection
// wins) before its evaluation releases it in the daemon's view. A kernel
// check in between must not send its entry again, which the kernel
// refuses, and tell the owner the rules could not be kept in place.
func TestKernelCheckBeforeProtectedRelease(t *testing.T) {
	fake := newFake(t)
	cfg := enforcingConfig()
	d, err := New(cfg, routerOwn(), Deps{Enforcer: fake, Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"}),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		OpenSource: func(ctx context.Context) (capture.Source, error) { <-ctx.Done(); return nil, ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d.Record(&event.Event{V: event.SchemaVersion, Time: time.Now(), Type: event.TypeObservation, Kind: event.KindBanner,
		Device: event.Endpoint{MAC: camera.String(), IP: "192.168.50.10", Local: true}, Summary: "banner", Evidence: event.Evidence{"banner": "camera"}})
	if err := d.Quarantine(ctx, camera, "block", 0); err != nil {
		t.Fatal(err)
	}
	next := *cfg
	next.Policy.Devices = append(slices.Clone(cfg.Policy.Devices), config.DeviceRule{MAC: camera, Trusted: true})
	d.Reload(&next) // no enforcement loop runs: the evaluation waits
	d.checkKernel(ctx)
	if p := d.Status().Problems; len(p) > 0 {
		t.Errorf("problems after the kernel check: %q", p)
	}
}
