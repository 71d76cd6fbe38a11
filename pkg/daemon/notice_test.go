package daemon

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// TestNoticeForTheKernelsHolder: the notice page tells the quarantine of
// the MAC the kernel's neighbour table has at the client's address, the
// MAC its answer goes to. A LAN host that took the quarantined camera's
// address (one IPv6 address it gives itself, one forged ARP) does not
// learn the owner's name for the camera and its findings; the camera
// asking from a temporary address the inventory has not seen yet, or
// over link-local (its address zoned by the interface), gets its own.
func TestNoticeForTheKernelsHolder(t *testing.T) {
	camAddr := netip.MustParseAddr("192.168.50.101")
	temporary := netip.MustParseAddr("2001:db8:50::5a1f:33")
	linkLocal := netip.MustParseAddr("fe80::c256:e3ff:fe1a:2b3c")
	squatter := hwaddr.MAC{0x02, 0x12, 0x34, 0x56, 0x78, 0x9a}
	tests := []struct {
		name   string
		kernel bool // the neighbour table is known (Deps.HolderOf)
		holder hwaddr.MAC
		addr   netip.Addr
		known  bool
	}{
		{"camera at its address", true, camera, camAddr, true},
		{"squatter at the camera's address", true, squatter, camAddr, false},
		{"camera at a new temporary address", true, camera, temporary, true},
		{"camera over link-local", true, camera, linkLocal.WithZone("br-lan"), true},
		{"camera over link-local, no neighbour table", false, camera, linkLocal.WithZone("br-lan"), true},
		{"laptop, not quarantined", true, laptop, netip.MustParseAddr("192.168.50.104"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kernel := func(a netip.Addr) (hwaddr.MAC, bool) { return tt.holder, a == tt.addr }
			h, _ := startQuarantined(t, enforcingConfig(), func(d *Deps) {
				if tt.kernel {
					d.HolderOf = kernel
				}
			})
			defer h.stop()
			if err := h.d.SetName(context.Background(), camera, "Anna's room camera"); err != nil {
				t.Fatal(err)
			}
			if !tt.kernel {
				h.d.seen(camera, linkLocal, "", "neighbour", time.Now())
			}
			info, known := h.d.NoticeFor(tt.addr)
			if known != tt.known {
				t.Fatalf("NoticeFor(%s) known %v (%+v), want %v", tt.addr, known, info, tt.known)
			}
			if known && (info.Name != "Anna's room camera" || len(info.Reasons) == 0) {
				t.Errorf("NoticeFor(%s) = %+v, want the camera's name and reasons", tt.addr, info)
			}
			if !known && (info.Name != "" || len(info.Reasons) > 0 || strings.Contains(info.Mode, "block")) {
				t.Errorf("NoticeFor(%s) told %+v", tt.addr, info)
			}
		})
	}
}
