package daemon

import (
	"testing"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// The audit takes a device's target when its audit starts: none for a
// device the daemon does not know or protects, the addresses it used
// for the others.
func TestAuditTarget(t *testing.T) {
	h := start(t, enforcingConfig(), newFake(t), t.TempDir())
	defer h.stop()
	h.settle()
	if tg, ok := h.d.AuditTarget(camera); !ok || tg.MAC != camera || len(tg.Addrs) == 0 {
		t.Errorf("camera: %+v, %v; want its addresses", tg, ok)
	}
	if _, ok := h.d.AuditTarget(router); ok {
		t.Error("the router itself is an audit target")
	}
	if _, ok := h.d.AuditTarget(hwaddr.MAC{0x02, 0, 0, 0, 0x99, 0x99}); ok {
		t.Error("an unknown device is an audit target")
	}
}
