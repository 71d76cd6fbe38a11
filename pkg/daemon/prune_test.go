package daemon

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/internal/testclock"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/netwatch"
	"github.com/iotgw/iotgw/pkg/quarantine"
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

// TestWaitingQuarantineOutlivesMadeUpMACs: a device whose quarantine waits
// out its grace period keeps its place and its findings while frames from
// made-up MACs (which it can send itself) fill the inventory, and is
// quarantined when the wait ends.
func TestWaitingQuarantineOutlivesMadeUpMACs(t *testing.T) {
	const maxDevices = 16
	cfg := enforcingConfig()
	cfg.Inspect.MaxDevices = maxDevices
	cfg.Policy.Grace.Duration = time.Hour
	fake := newFake(t)
	clk := testclock.New(time.Now())
	h := start(t, cfg, fake, t.TempDir(), func(d *Deps) { d.Now = clk.Now })
	defer h.stop()
	h.settle()
	ctx := context.Background()
	waiter := hwaddr.MAC{0x02, 0x77, 0, 0, 0, 1}
	h.d.mu.Lock()
	h.d.pipe.Inject(&event.Event{V: 1, Time: clk.Now(), Type: event.TypeFinding, Kind: event.KindDefaultCredentials,
		Severity: event.SeverityHigh, Summary: "Telnet login with factory-default credentials",
		Device:   event.Endpoint{MAC: waiter.String(), IP: "192.168.50.77", Local: true},
		Evidence: event.Evidence{"protocol": "telnet", "user": "ro***", "password_class": "default", "accepted": "yes"}})
	h.d.mu.Unlock()
	h.d.evaluate(ctx, waiter)
	if _, ok := quarantined(t, fake)[waiter]; ok {
		t.Fatal("quarantined within its grace period")
	}
	for i := 0; i < 4*maxDevices; i++ {
		mac := hwaddr.MAC{0x02, 0x00, 0x00, 0x00, byte(i >> 8), byte(i)}
		h.d.presence(ctx, netwatch.NeighborSeen{MAC: mac, IP: netip.AddrFrom4([4]byte{192, 168, 51, byte(i)}), Time: clk.Now()})
	}
	clk.Advance(2 * time.Hour)
	h.d.evaluate(ctx, waiter)
	if quarantined(t, fake)[waiter] != quarantine.ModeBlock {
		dev, _ := h.d.Device(waiter)
		t.Errorf("not quarantined after its grace period (findings %d)", len(dev.Findings))
	}
}

// TestWaitingPinsBounded: made-up devices with findings cannot pin the
// inventory full by waiting for their quarantines.
func TestWaitingPinsBounded(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Policy.Grace.Duration = time.Hour
	h := start(t, cfg, newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	ctx := context.Background()
	var macs []hwaddr.MAC
	for i := range maxWaitingPins + 10 {
		mac := hwaddr.MAC{0x02, 0x78, 0, 0, 0, byte(i)}
		macs = append(macs, mac)
		h.d.mu.Lock()
		h.d.pipe.Inject(&event.Event{V: 1, Time: time.Now(), Type: event.TypeFinding, Kind: event.KindDefaultCredentials,
			Severity: event.SeverityHigh, Summary: "default login",
			Device:   event.Endpoint{MAC: mac.String(), Local: true},
			Evidence: event.Evidence{"protocol": "telnet", "password_class": "default", "accepted": "yes"}})
		h.d.mu.Unlock()
		h.d.evaluate(ctx, mac)
	}
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	pinned := 0
	for _, mac := range macs {
		if h.d.pipe.Inventory().Pinned(device.Key{MAC: mac}) {
			pinned++
		}
	}
	if pinned != maxWaitingPins {
		t.Errorf("%d waiting devices pinned, want the first %d", pinned, maxWaitingPins)
	}
}
