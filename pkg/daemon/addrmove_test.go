package daemon

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/netwatch"
	"github.com/iotgw/iotgw/pkg/quarantine"
)

// TestReusedAddressLeavesQuarantine: the quarantined camera moves to
// another address and DHCP gives its old one to the owner's phone; the
// camera's entry is re-sent without it, else the kernel's IP sets would
// cut the phone off.
func TestReusedAddressLeavesQuarantine(t *testing.T) {
	phone := hwaddr.MAC{0x3c, 0x22, 0xfb, 0x01, 0x02, 0x03}
	moved := netip.MustParseAddr("192.168.50.120")
	for _, how := range []string{"neighbour", "lease"} {
		t.Run(how, func(t *testing.T) {
			fake := newFake(t)
			h := start(t, enforcingConfig(), fake, t.TempDir())
			defer h.stop()
			h.settle()
			old := cameraEntry(t, fake).Addrs
			if len(old) == 0 {
				t.Fatalf("camera quarantined with no address: %+v", cameraEntry(t, fake))
			}
			reused := old[len(old)-1]

			ctx := context.Background()
			h.d.presence(ctx, netwatch.NeighborSeen{MAC: camera, IP: moved, Time: time.Now()})
			h.settle()
			if e := cameraEntry(t, fake); !slices.Contains(e.Addrs, moved) {
				t.Fatalf("camera's entry %v does not follow it to %s", e.Addrs, moved)
			}
			if how == "lease" {
				h.d.presence(ctx, netwatch.LeaseSeen{MAC: phone, IP: reused})
			} else {
				h.d.presence(ctx, netwatch.NeighborSeen{MAC: phone, IP: reused, Time: time.Now()})
			}
			h.settle()
			e := cameraEntry(t, fake)
			if slices.Contains(e.Addrs, reused) || !slices.Contains(e.Addrs, moved) {
				t.Errorf("camera's entry holds %v after %s went to the phone, want %s and not it", e.Addrs, reused, moved)
			}
			if _, ok := quarantined(t, fake)[phone]; ok {
				t.Error("the phone was quarantined")
			}
		})
	}
}

func cameraEntry(t *testing.T, f *quarantine.Fake) quarantine.Entry {
	t.Helper()
	entries, err := f.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.MAC == camera {
			return e
		}
	}
	t.Fatal("camera not quarantined")
	return quarantine.Entry{}
}
