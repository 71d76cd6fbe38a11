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
// refusing the batch does; meanwhile, when set, runs before it fails (the
// owner renaming the device in another tab).
type refusingProtect struct {
	Enforcer
	refuse    atomic.Bool
	meanwhile func()
}

func (r *refusingProtect) SetProtected(ctx context.Context, macs []hwaddr.MAC, addrs []netip.Addr) error {
	if r.refuse.Load() {
		if r.meanwhile != nil {
			r.meanwhile()
		}
		return errors.New("netlink receive: no buffer space available")
	}
	return r.Enforcer.SetProtected(ctx, macs, addrs)
}

// TestFailedTrustNotSaved: when the kernel's protected sets refuse a
// change of the camera's trust, the owner is told, and the daemon and its
// store both keep the trust as it was. Marking the quarantined camera
// trusted released it first, and the release was saved with the trust:
// the next start trusted it after the owner was told it did not. Only
// the trust is taken back: a name the owner gave meanwhile stays, and
// the released camera is judged again, as the next start would judge it.
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
			h, fake := startQuarantined(t, enforcingConfig(), func(d *Deps) { kernel.Enforcer, d.Enforcer = d.Enforcer, kernel })
			defer h.stop()
			if tc.before {
				if err := h.d.SetTrusted(ctx, camera, true); err != nil {
					t.Fatal(err)
				}
			}
			const name = "Hall camera"
			kernel.meanwhile = func() {
				if err := h.d.SetName(ctx, camera, name); err != nil {
					t.Error(err)
				}
			}
			kernel.refuse.Store(true)
			if err := h.d.SetTrusted(ctx, camera, tc.after); err == nil {
				t.Fatal("SetTrusted succeeded while the kernel refused the protected sets")
			}
			kernel.refuse.Store(false)
			h.settle()
			dev, _ := h.d.Device(camera)
			saved, savedName := false, ""
			for _, dec := range h.store.Snapshot().Decisions {
				if dec.MAC == camera {
					saved, savedName = dec.Trusted, dec.Name
				}
			}
			if dev.Trusted != tc.before || saved != tc.before {
				t.Errorf("trusted after the failure: daemon %v, store %v; want both %v", dev.Trusted, saved, tc.before)
			}
			if dev.Name != name || savedName != name {
				t.Errorf("name given meanwhile: daemon %q, store %q; want both %q", dev.Name, savedName, name)
			}
			if _, blocked := quarantined(t, fake)[camera]; blocked == tc.before {
				t.Errorf("camera quarantined %v after the failure, want %v (policy's verdict on an untrusted camera)", blocked, !tc.before)
			}
		})
	}
}
