package device

import (
	"maps"
	"net/netip"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
)

// TestWSDIdentity: WS-Discovery observations (pkg/inspect/wsd) name a
// device's type, model and vendor as claims: the ONVIF name scope only
// when it is a maker's name the vendor table knows, and nothing when the
// XAddrs are another device's.
func TestWSDIdentity(t *testing.T) {
	const private = "02:00:5e:00:00:40" // locally administered: no OUI vote
	camera := event.Evidence{"message": "probe_matches", "types": "dn:NetworkVideoTransmitter tds:Device",
		"onvif_types": "video_encoder", "profiles": "Streaming", "hardware": "DS-2CD2142FWD-I", "name": "HIKVISION",
		"xaddrs_host": "192.168.1.40", "addresses": "192.168.1.40"}
	with := func(ev event.Evidence, kv ...string) event.Evidence {
		out := maps.Clone(ev)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(out, kv[i])
				continue
			}
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name                string
		ip                  string // the sender's
		ev                  event.Evidence
		vendor, typ, model  string
		typeSource, modelOf string // evidence source of the type, rule of the model
	}{
		{"onvif_camera", "192.168.1.40", camera, "Hikvision", "camera", "DS-2CD2142FWD-I", "wsd", "onvif-scope-hardware"},
		{"hello_multicast", "192.168.1.40", with(camera, "message", "hello"), "Hikvision", "camera", "DS-2CD2142FWD-I", "wsd", "onvif-scope-hardware"},
		// The owner named it: no vendor from the name.
		{"owner_named", "192.168.1.40", with(camera, "name", "Front door"), "", "camera", "DS-2CD2142FWD-I", "wsd", "onvif-scope-hardware"},
		// Words of a vendor's name in what the owner typed name no vendor:
		// no disclosure policy of Brother's or Ring's for a no-name camera.
		{"owner_named_with_vendor_words", "192.168.1.40", with(camera, "name", "Brother's room"), "", "camera", "DS-2CD2142FWD-I", "wsd", "onvif-scope-hardware"},
		{"owner_named_after_a_vendor", "192.168.1.40", with(camera, "name", "Ring doorbell view"), "", "camera", "DS-2CD2142FWD-I", "wsd", "onvif-scope-hardware"},
		{"maker_and_model", "192.168.1.40", with(camera, "name", "HIKVISION DS-2CD2142FWD-I"), "Hikvision", "camera", "DS-2CD2142FWD-I", "wsd", "onvif-scope-hardware"},
		{"name_of_a_model", "192.168.1.40", with(camera, "name", "AXIS M3045-V", "hardware", "M3045-V"), "Axis", "camera", "M3045-V", "wsd", "onvif-scope-hardware"},
		{"manufacturer_scope", "192.168.1.40", with(camera, "name", "IPC", "manufacturer", "Tiandy"), "Tiandy", "camera", "DS-2CD2142FWD-I", "wsd", "onvif-scope-hardware"},
		{"windows_host", "192.168.1.40", event.Evidence{"message": "resolve_matches", "types": "wsdp:Device pub:Computer",
			"xaddrs_host": "192.168.1.40:5357", "addresses": "192.168.1.40"}, "", "computer", "", "wsd", ""},
		{"printer", "192.168.1.40", event.Evidence{"message": "hello", "types": "wsdp:Device wprt:PrintDeviceType"}, "", "printer", "", "wsd", ""},
		// Another device's address in XAddrs: a proxy answering for
		// it, or someone announcing a camera in its name.
		{"xaddrs_of_another_device", "192.168.1.40", with(camera, "xaddrs_host", "192.168.1.50", "addresses", "192.168.1.50"), "", TypeUnknown, "", "", ""},
		{"xaddrs_of_another_ipv4", "192.168.1.40", with(camera, "xaddrs_host", "192.168.1.77", "addresses", "192.168.1.77"), "", TypeUnknown, "", "", ""},
		{"xaddrs_host_name", "192.168.1.40", with(camera, "xaddrs_host", "cam.local", "addresses", ""), "Hikvision", "camera", "DS-2CD2142FWD-I", "wsd", "onvif-scope-hardware"},
		// One match of a ProbeMatches of several, which a discovery
		// proxy sends for the devices it knows: the sender's only by
		// an address of its own.
		{"one_of_several_matches_by_its_address", "192.168.1.40", with(camera, "several_hosts", "yes"), "Hikvision", "camera", "DS-2CD2142FWD-I", "wsd", "onvif-scope-hardware"},
		{"one_of_several_matches_without_xaddrs", "192.168.1.40", with(camera, "xaddrs_host", "", "addresses", "", "several_hosts", "yes"), "", TypeUnknown, "", "", ""},
		// A searcher's Probe names what it looks for.
		{"probe_for_cameras", "192.168.1.40", event.Evidence{"message": "probe", "types": "dn:NetworkVideoTransmitter"}, "", TypeUnknown, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.Seen(mustMAC(private), netip.MustParseAddr(tt.ip), "", "neighbour", t0)
			inv.Seen(mustMAC("02:00:5e:00:00:50"), netip.MustParseAddr("192.168.1.50"), "", "neighbour", t0)
			inv.Emit(obs(private, tt.ip, event.KindWSD, tt.ev))
			d := device(t, inv, private)
			id := d.Identity
			if id.Vendor.Value != tt.vendor || id.Type.Value != tt.typ || id.Model.Value != tt.model {
				t.Errorf("identity %q %q %q, want %q %q %q", id.Vendor.Value, id.Type.Value, id.Model.Value, tt.vendor, tt.typ, tt.model)
			}
			if len(id.Type.Evidence) > 0 && id.Type.Evidence[0].Source != tt.typeSource {
				t.Errorf("type from %q, want %q", id.Type.Evidence[0].Source, tt.typeSource)
			}
			if len(id.Model.Evidence) > 0 && id.Model.Evidence[0].Rule != tt.modelOf {
				t.Errorf("model from rule %q, want %q", id.Model.Evidence[0].Rule, tt.modelOf)
			}
			if len(d.Observations) != 1 {
				t.Errorf("%d observations, want the message filed", len(d.Observations))
			}
		})
	}
	if event.SourceTrust(string(event.KindWSD)) != event.TrustClaim {
		t.Error("a WS-Discovery datagram is more than a claim")
	}
}
