package tls

import (
	"bytes"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// TestInternetClientsOfferIsNotTheLANServers: a scanner on the internet
// offers a port-forwarded camera only weak things (an SSL 2.0 export
// probe, RC4 only, TLS 1.0 only) and the camera refuses with an alert:
// nothing the camera did is weak. Had it agreed to TLS 1.0, that would be
// its fault.
func TestInternetClientsOfferIsNotTheLANServers(t *testing.T) {
	v2 := []byte{typeClientHello, 0, 2, 0, 6, 0, 0, 0, 16, 2, 0, 0x80, 4, 0, 0x80}
	v2 = append(v2, bytes.Repeat([]byte{0xcc}, 16)...)
	v2 = append([]byte{0x80, byte(len(v2))}, v2...)
	alert := record(21, []byte{2, 40}) // fatal handshake_failure
	tls10 := records(hello{version: versionTLS10, ciphers: []uint16{0x002f}}.message())
	tests := []struct {
		name           string
		client, server []byte
		want           string // reason of the finding on the camera, "" for none
	}{
		{"sslv2_export_probe", v2, alert, ""},
		{"rc4_only_offer", records(hello{version: versionTLS12, ciphers: []uint16{0x0004, 0x0005}}.message()), alert, ""},
		{"tls10_only_offer_refused", tls10, alert, ""},
		{"tls10_only_offer_taken", tls10, serverHello(versionTLS10, 0x002f, 0), "old_version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "198.51.100.7:40000", "192.168.1.20:443")
			c.ClientBytes(tt.client)
			c.ServerBytes(tt.server)
			c.Close()
			e.Flush()
			got := col.Kind(event.KindWeakTLS)
			switch {
			case tt.want == "" && len(got) != 0:
				t.Errorf("finding on %s: %s (%s)", got[0].Device.IP, got[0].Summary, got[0].Evidence["reason"])
			case tt.want != "" && (len(got) != 1 || got[0].Evidence["reason"] != tt.want || got[0].Device.IP != "192.168.1.20"):
				t.Errorf("findings %v, want one on the camera for %s", got, tt.want)
			}
		})
	}
}
