package daemon

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/store"
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

// The packet path skips the router's own connections: its MAC and one
// of its addresses together, never its MAC alone, which every frame
// routed in from the internet carries on the LAN.
func TestIsRouter(t *testing.T) {
	own := netip.MustParseAddr("192.168.50.1")
	d, err := New(enforcingConfig(), Options{RouterMACs: []hwaddr.MAC{router}, RouterAddrs: []netip.Addr{own}},
		Deps{Enforcer: newFake(t), Store: store.Open(store.Options{Path: t.TempDir() + "/state.json"}),
			OpenSource: func(context.Context) (capture.Source, error) { return nil, errors.New("not opened") }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mac  hwaddr.MAC
		addr string
		want bool
	}{
		{router, "192.168.50.1", true},
		{router, "203.0.113.9", false}, // routed in from the internet
		{camera, "192.168.50.1", false},
	} {
		if got := d.isRouterLocked(tc.mac, netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("isRouter(%s, %s) = %v, want %v", tc.mac, tc.addr, got, tc.want)
		}
	}
}
