package daemon

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/netwatch"
)

// TestSpoofedMACsDoNotGrowMeta: a LAN device sending from ever new MACs
// pushes real devices out of the capped inventory; the daemon's per-device
// state follows the inventory and keeps only quarantined and decided
// devices beyond it.
func TestSpoofedMACsDoNotGrowMeta(t *testing.T) {
	const maxDevices = 16
	cfg := enforcingConfig()
	cfg.Inspect.MaxDevices = maxDevices
	h := start(t, cfg, newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	ctx := context.Background()
	if err := h.d.Quarantine(ctx, plug, "block", 0); err != nil {
		t.Fatal(err)
	}
	if err := h.d.SetName(ctx, laptop, "work laptop"); err != nil {
		t.Fatal(err)
	}
	kept := []hwaddr.MAC{camera, plug, laptop} // quarantined by policy, by the owner, named

	for tick := 0; tick < 5; tick++ {
		for i := 0; i < 200; i++ {
			mac := hwaddr.MAC{0x02, 0x00, 0x00, byte(tick), byte(i >> 8), byte(i)}
			ip := netip.AddrFrom4([4]byte{192, 168, 51, byte(i)})
			h.d.presence(ctx, netwatch.NeighborSeen{MAC: mac, IP: ip, Time: time.Now()})
			// What evaluate, DeviceAway or a full work queue do for it.
			h.d.mu.Lock()
			h.d.metaFor(mac)
			h.d.mu.Unlock()
		}
		now := time.Now()
		h.d.announceNew(now)
		h.d.sampleTraffic(now)
		h.d.mu.Lock()
		n := len(h.d.meta)
		var lost []hwaddr.MAC
		for _, mac := range kept {
			if _, ok := h.d.meta[mac]; !ok {
				lost = append(lost, mac)
			}
		}
		h.d.mu.Unlock()
		if n > maxDevices+len(kept) {
			t.Fatalf("tick %d: %d meta entries, want at most %d", tick, n, maxDevices+len(kept))
		}
		if len(lost) > 0 {
			t.Fatalf("tick %d: quarantined or decided devices %v forgotten", tick, lost)
		}
	}
	if got := len(h.d.Devices()); got > maxDevices+len(kept) {
		t.Errorf("Devices() lists %d, want at most %d", got, maxDevices+len(kept))
	}
}
