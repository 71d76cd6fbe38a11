package daemon

import (
	"net/netip"
	"testing"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// The quarantined camera answers the router's ARP for the laptop's
// address (the router's neighbour table is anyone's to write), and the
// owner logs in to the page from the laptop meanwhile: the camera, which
// cannot reach the page itself, does not become the owner's device and
// stays quarantined.
func TestOwnerLoginDoesNotFreeTheNeighbourSpoofer(t *testing.T) {
	laptopAddr := netip.MustParseAddr("192.168.50.104")
	h, fake := startQuarantined(t, enforcingConfig(), func(d *Deps) {
		d.HolderOf = func(a netip.Addr) (hwaddr.MAC, bool) { return camera, a == laptopAddr }
	})
	defer h.stop()
	h.d.OwnerAt(laptopAddr)
	h.settle()
	h.d.checkKernel(t.Context())
	if _, ok := quarantined(t, fake)[camera]; !ok {
		t.Error("the camera is free after the owner logged in from an address its ARP claimed")
	}
	if dev, _ := h.d.Device(camera); dev.Quarantine == nil {
		t.Error("the daemon no longer holds the camera quarantined")
	}
}
