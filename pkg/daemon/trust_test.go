package daemon

import (
	"context"
	"errors"
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// refusingProtect fails SetProtected while refuse is set, as netlink
// refusing the batch does.
type refusingProtect struct {
	Enforcer
	refuse atomic.Bool
}

func (r *refusingProtect) SetProtected(ctx context.Context, macs []hwaddr.MAC, addrs []netip.Addr) error {
	if r.refuse.Load() {
		return errors.New("netlink receive: no buffer space available")
	}
	return r.Enforcer.SetProtected(ctx, macs, addrs)
}

// TestFailedTrustNotSaved: when the kernel's protected sets refuse a
// change of the camera's trust, the owner is told, and the daemon and its
// store both keep the trust as it was. Marking the quarantined camera
// trusted released it first, and the release was saved with the trust:
// the next start trusted it after the owner was told it did not.
func TestFailedTrustNotSaved(t *testing.T) {
	for _, tc := range []struct {
		name          string
		before, after bool // trusted before, asked for
	}{
		{"trust the quarantined camera", false, true},
		{"stop trusting the camera", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			kernel := &refusingProtect{}
			h, _ := startQuarantined(t, enforcingConfig(), func(d *Deps) { kernel.Enforcer, d.Enforcer = d.Enforcer, kernel })
			defer h.stop()
			if tc.before {
				if err := h.d.SetTrusted(ctx, camera, true); err != nil {
					t.Fatal(err)
				}
			}
			kernel.refuse.Store(true)
			if err := h.d.SetTrusted(ctx, camera, tc.after); err == nil {
				t.Fatal("SetTrusted succeeded while the kernel refused the protected sets")
			}
			dev, _ := h.d.Device(camera)
			saved := false
			for _, dec := range h.store.Snapshot().Decisions {
				if dec.MAC == camera {
					saved = dec.Trusted
				}
			}
			if dev.Trusted != tc.before || saved != tc.before {
				t.Errorf("trusted after the failure: daemon %v, store %v; want both %v", dev.Trusted, saved, tc.before)
			}
		})
	}
}
