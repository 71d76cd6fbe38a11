package daemon

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/quarantine"
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
