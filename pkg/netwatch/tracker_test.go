package netwatch

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/hwaddr"
)

func TestTrackerBindings(t *testing.T) {
	tr := newTracker(2)
	now := time.Unix(0, 0)
	cam, _ := tr.add(camMAC, now)
	plug, _ := tr.add(plugMAC, now)
	lan := binding{"br-lan", camIP}

	tr.bind(cam, lan)
	if !cam.bound(lan) || tr.byAddr[lan] != camMAC {
		t.Fatal("binding not recorded")
	}
	if cam.bound(binding{"br-guest", camIP}) {
		t.Error("binding on another interface taken for this one")
	}

	// The address moves to the plug (DHCP gave it out again).
	tr.bind(plug, lan)
	if cam.bound(lan) || !plug.bound(lan) || tr.byAddr[lan] != plugMAC {
		t.Fatalf("moved address: camera %v, plug %v, index %v", cam.bound(lan), plug.bound(lan), tr.byAddr[lan])
	}

	// The kernel deletes the entry, naming only the address.
	tr.unbind(lan)
	if plug.bound(lan) || len(tr.byAddr) != 0 {
		t.Fatalf("after unbind: plug %v, index %v", plug.bound(lan), tr.byAddr)
	}
	tr.unbind(lan) // again: nothing to do

	// Evicting a device drops its bindings from the index.
	tr.bind(cam, lan)
	tr.touch(plug)
	if _, evicted := tr.add(hwaddr.MAC{0, 1, 2, 3, 4, 5}, now); !evicted {
		t.Fatal("no eviction at the cap")
	}
	if tr.get(camMAC) != nil || len(tr.byAddr) != 0 {
		t.Fatalf("evicted device left behind: %v", tr.byAddr)
	}
}

func TestTrackerBindingCapKeepsIndex(t *testing.T) {
	tr := newTracker(4)
	d, _ := tr.add(camMAC, time.Unix(0, 0))
	var bs []binding
	for i := range maxBindings + 3 {
		b := binding{"br-lan", netip.AddrFrom4([4]byte{10, 97, 0, byte(100 + i)})}
		bs = append(bs, b)
		tr.bind(d, b)
	}
	if d.nbind != maxBindings || len(tr.byAddr) != maxBindings {
		t.Fatalf("%d bindings, %d indexed; want %d", d.nbind, len(tr.byAddr), maxBindings)
	}
	for i, b := range bs {
		if want := i >= 3; d.bound(b) != want {
			t.Errorf("binding %d bound=%v, want %v", i, d.bound(b), want)
		}
	}
	tr.forgetBindings(d)
	if d.nbind != 0 || len(tr.byAddr) != 0 {
		t.Fatalf("after forgetting: %d bindings, index %v", d.nbind, tr.byAddr)
	}
}
