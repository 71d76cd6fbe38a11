package daemon

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// TestQuarantinedDeviceTakingProtectedAddress: a quarantined device that
// starts to send from a management address nobody holds (the owner's PC
// is off) does not free itself: only its MAC (the router's, an owner's,
// a trusted one) protects a device already quarantined.
func TestQuarantinedDeviceTakingProtectedAddress(t *testing.T) {
	cfg := enforcingConfig()
	mgmt := netip.MustParseAddr("192.168.50.250")
	cfg.Daemon.ManagementAddresses = []netip.Addr{mgmt}
	h, fake := startQuarantined(t, cfg)
	defer h.stop()
	h.d.seen(camera, mgmt, "", "neighbour", h.d.now())
	dev, _ := h.d.Device(camera)
	h.d.schedule(camera)
	h.settle()
	if quarantined(t, fake)[camera] != quarantine.ModeBlock {
		t.Errorf("the camera freed itself by taking the management address (its addresses: %v)", dev.Addrs)
	}
}

// TestDeviceSendingFromProtectedAddress: a device not yet quarantined
// that sends one frame from a management address nobody holds, and keeps
// its own address, is not shielded by it, from policy nor from the
// owner; the PC that holds the management address alone stays protected,
// and so does one that left its DHCP address for it long enough ago.
func TestDeviceSendingFromProtectedAddress(t *testing.T) {
	mgmt := netip.MustParseAddr("192.168.50.250")
	own := netip.MustParseAddr("192.168.50.77")
	tests := []struct {
		name          string
		seen          func(h *harness, mac hwaddr.MAC, now time.Time)
		wantProtected bool
	}{
		{"keeps_its_own_address", func(h *harness, mac hwaddr.MAC, now time.Time) {
			h.d.seen(mac, own, "", "neighbour", now)
			h.d.seen(mac, mgmt, "", "neighbour", now.Add(time.Second)) // one forged ARP
			h.d.seen(mac, own, "", "neighbour", now.Add(2*time.Second))
		}, false},
		{"management_address_alone", func(h *harness, mac hwaddr.MAC, now time.Time) {
			h.d.seen(mac, mgmt, "", "neighbour", now)
		}, true},
		{"left_its_dhcp_address_for_it", func(h *harness, mac hwaddr.MAC, now time.Time) {
			h.d.seen(mac, own, "", "neighbour", now.Add(-time.Hour))
			h.d.seen(mac, mgmt, "", "neighbour", now)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := enforcingConfig()
			cfg.Daemon.ManagementAddresses = []netip.Addr{mgmt}
			fake := newFake(t)
			h := launch(t, cfg, fake, t.TempDir(), false)
			defer h.stop()
			mac := hwaddr.MAC{0x00, 0x12, 0x34, 0x56, 0x78, 0x9a}
			tt.seen(h, mac, h.d.now())
			// The finding names the address the device sends from now.
			dev, _ := h.d.Device(mac)
			h.d.Record(exploitedFirmware(mac, dev.Addrs[len(dev.Addrs)-1]))
			h.settle()
			if _, got := quarantined(t, fake)[mac]; got == tt.wantProtected {
				t.Errorf("quarantined by policy: %v, want %v", got, !tt.wantProtected)
			}
			if tt.wantProtected {
				return
			}
			h.d.Release(context.Background(), mac)
			if err := h.d.Quarantine(context.Background(), mac, "", 0); err != nil {
				t.Errorf("the owner's quarantine: %v", err)
			}
		})
	}
}

// TestOwnerLoginTakesTheKernelsMAC: the owner's device at a login is the
// MAC the kernel's neighbour table has for the login's address, not a
// device that took the address in the inventory while the laptop was
// evicted (a flood of made-up MACs) and that the laptop, back, could not
// take it from: that device gets no protection, the laptop does.
func TestOwnerLoginTakesTheKernelsMAC(t *testing.T) {
	cfg := enforcingConfig()
	cfg.Inspect.MaxDevices = 16
	fake := newFake(t)
	at := netip.MustParseAddr("192.168.50.104")
	kernel := func(a netip.Addr) (hwaddr.MAC, bool) { return laptop, a == at }
	h := launch(t, cfg, fake, t.TempDir(), false, func(d *Deps) { d.HolderOf = kernel })
	defer h.stop()
	squatter := hwaddr.MAC{0x00, 0x12, 0x34, 0x56, 0x78, 0x9a}
	t0 := h.d.now()
	h.d.seen(laptop, at, "", "neighbour", t0)
	fillInventory(h, 16, t0.Add(time.Minute))
	h.d.seen(squatter, at, "", "neighbour", t0.Add(2*time.Minute))
	h.d.seen(laptop, at, "", "neighbour", t0.Add(3*time.Minute))
	if holder, _ := h.d.pipe.Inventory().HolderOf(at); holder != squatter {
		t.Fatalf("the inventory gives %s to %s, want the squatter (the case this test is about)", at, holder)
	}
	h.d.OwnerAt(at)
	h.d.Record(exploitedFirmware(squatter, at.String()))
	h.settle()
	if _, ok := quarantined(t, fake)[squatter]; !ok {
		t.Errorf("the squatter was not quarantined: it passed for the owner's device")
	}
	h.d.mu.Lock()
	laptopProtected := h.d.routerOrOwnerMAC(laptop)
	h.d.mu.Unlock()
	if !laptopProtected {
		t.Errorf("the laptop the owner logged in from is not protected by its MAC")
	}
}
