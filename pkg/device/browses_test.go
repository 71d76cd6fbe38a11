package device

import (
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
)

// TestBrowsesAt: a phone, named by its MAC or by its address alone, is
// one whose lookups are its user's browsing; a camera, an address no
// device holds and an endpoint without either are not. Asked for every
// lookup the daemon files, it allocates nothing, not for an endpoint
// without a MAC either.
func TestBrowsesAt(t *testing.T) {
	const phone, camera = "f0:99:bf:00:00:01", "c0:56:e3:1a:2b:3c"
	inv := newInv()
	inv.Emit(obs(phone, "192.168.1.50", event.KindDHCP, event.Evidence{"client_mac": phone, "message_type": "request", "vendor_class": "android-dhcp-14"}))
	inv.Emit(obs(camera, "192.168.1.20", event.KindDNSQuery, event.Evidence{"name": "p2p.camcloud.example"}))
	tests := []struct {
		name string
		ep   event.Endpoint
		want bool
	}{
		{"phone_by_mac", event.Endpoint{MAC: phone, IP: "192.168.1.50"}, true},
		{"phone_by_address", event.Endpoint{IP: "192.168.1.50"}, true},
		{"camera", event.Endpoint{MAC: camera, IP: "192.168.1.20"}, false},
		{"camera_by_address", event.Endpoint{IP: "192.168.1.20"}, false},
		{"unknown_address", event.Endpoint{IP: "192.168.1.99"}, false},
		{"nothing", event.Endpoint{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inv.BrowsesAt(tt.ep); got != tt.want {
				t.Errorf("BrowsesAt = %v, want %v", got, tt.want)
			}
			if n := testing.AllocsPerRun(100, func() { inv.BrowsesAt(tt.ep) }); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}
