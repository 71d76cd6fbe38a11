package daemon

import (
	"net/netip"
	"testing"

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
