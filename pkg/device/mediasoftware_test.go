package device

import (
	"os"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/device/fingerprint"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/ssdp"
)

// upnpVotes lists the vendor, type, model and firmware votes d took
// from fetched UPnP descriptions, as "field=value (rule)". OS votes are
// left out: they come from the Server header, the host's HTTP stack.
func upnpVotes(d *Device) []string {
	names := [numFields]string{"vendor", "type", "model", "firmware", "os"}
	var out []string
	for _, v := range d.votes {
		if v.ev.Source == string(event.KindUPnP) && v.field != fieldOS {
			out = append(out, names[v.field]+"="+v.value+" ("+v.ev.Rule+")")
		}
	}
	return out
}

// TestMediaSoftwareDescription: the description media software serves
// names the software (Kodi, Windows Media Player, Plex, Jellyfin, Emby,
// MiniDLNA), not the computer it runs on, so it votes for no vendor,
// model, firmware or type of the device; the computer's own signals
// decide. Appliances serving DLNA keep their description's votes. The
// manufacturer and modelName strings are those the software announces
// (sources in rules.toml, [[upnp_software]]).
func TestMediaSoftwareDescription(t *testing.T) {
	const pc = "3c:52:82:00:00:01"
	windowsPC := []*event.Event{
		dhcp(pc, event.Evidence{"hostname": "DESKTOP-7G3K2LQ", "vendor_class": "MSFT 5.0"}),
	}
	software := []struct {
		name string
		ev   event.Evidence
	}{
		{"kodi_server", event.Evidence{"manufacturer": "XBMC Foundation", "model_name": "Kodi", "model_number": "21.0",
			"device_type": "urn:schemas-upnp-org:device:MediaServer:1", "friendly_name": "Kodi"}},
		{"kodi_renderer", event.Evidence{"manufacturer": "XBMC Foundation", "model_name": "Kodi", "model_number": "21.0",
			"device_type": "urn:schemas-upnp-org:device:MediaRenderer:1", "friendly_name": "Kodi"}},
		{"wmp_sharing", event.Evidence{"manufacturer": "Microsoft Corporation", "model_name": "Windows Media Player Sharing", "model_number": "12.0",
			"device_type": "urn:schemas-upnp-org:device:MediaServer:1", "server": "Microsoft-Windows/10.0 UPnP/1.0 UPnP-Device-Host/1.0 Microsoft-HTTPAPI/2.0"}},
		{"wmp_renderer", event.Evidence{"manufacturer": "Microsoft Corporation", "model_name": "Windows Media Player", "model_number": "12",
			"device_type": "urn:schemas-upnp-org:device:MediaRenderer:1", "friendly_name": "User (DESKTOP-7G3K2LQ : Windows Media Player)"}},
		{"plex", event.Evidence{"manufacturer": "Plex, Inc.", "model_name": "Plex Media Server", "model_number": "1.40.0",
			"device_type": "urn:schemas-upnp-org:device:MediaServer:1", "friendly_name": "Plex Media Server: DESKTOP-7G3K2LQ"}},
		{"jellyfin", event.Evidence{"manufacturer": "Jellyfin", "model_name": "Jellyfin Server", "model_number": "01",
			"device_type": "urn:schemas-upnp-org:device:MediaServer:1", "friendly_name": "Jellyfin"}},
		{"emby", event.Evidence{"manufacturer": "Emby", "model_name": "Emby Server",
			"device_type": "urn:schemas-upnp-org:device:MediaServer:1", "friendly_name": "Emby Server"}},
		{"minidlna", event.Evidence{"manufacturer": "Justin Maggard", "model_name": "Windows Media Connect compatible (MiniDLNA)", "model_number": "1.3.3",
			"device_type": "urn:schemas-upnp-org:device:MediaServer:1", "friendly_name": "DESKTOP-7G3K2LQ: minidlna"}},
	}
	for _, tt := range software {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			for _, ev := range windowsPC {
				inv.Emit(ev)
			}
			inv.Emit(obs(pc, "192.168.1.40", event.KindUPnP, tt.ev))
			d := device(t, inv, pc)
			if v := upnpVotes(d); len(v) > 0 {
				t.Errorf("the software's description voted %q", v)
			}
			id := d.Identity
			if id.Type.Value != "computer" || len(id.Type.Alternatives) > 0 {
				t.Errorf("type = %q (alternatives %v), want computer alone", id.Type.Value, id.Type.Alternatives)
			}
			if id.OS.Value != "Windows" {
				t.Errorf("os = %q, want Windows", id.OS.Value)
			}
			for what, a := range map[string]Attribute{"vendor": id.Vendor, "model": id.Model, "firmware": id.Firmware} {
				for _, ev := range a.Evidence {
					if ev.Source == string(event.KindUPnP) {
						t.Errorf("%s = %q from the description (%s)", what, a.Value, ev.Rule)
					}
				}
			}
		})
	}

	// A hardware maker's build of MiniDLNA (NETGEAR's ReadyDLNA) names
	// the maker: that vote stays, the software's model and type do not.
	t.Run("vendor_build", func(t *testing.T) {
		const nas = "a0:40:a0:00:00:01"
		inv := newInv()
		inv.Emit(obs(nas, "192.168.1.60", event.KindUPnP, event.Evidence{"manufacturer": "NETGEAR",
			"model_name": "Windows Media Connect compatible (ReadyDLNA)", "device_type": "urn:schemas-upnp-org:device:MediaServer:1"}))
		d := device(t, inv, nas)
		votes := map[field]bool{}
		for _, v := range d.votes {
			if v.ev.Source == string(event.KindUPnP) {
				votes[v.field] = true
			}
		}
		if !votes[fieldVendor] || votes[fieldModel] || votes[fieldType] {
			t.Errorf("description votes %q, want the vendor's alone", upnpVotes(d))
		}
		if !strings.EqualFold(d.Identity.Vendor.Value, "netgear") {
			t.Errorf("vendor = %q, want NETGEAR", d.Identity.Vendor.Value)
		}
	})

	fixture := func(name string) event.Evidence {
		f, err := os.Open("../inspect/ssdp/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		desc, err := ssdp.ParseDescription(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fingerprint.UPnPEvidence(desc)
	}
	appliances := []struct {
		name, mac string
		ev        event.Evidence
		vendor    string
		model     string
		typ       string
	}{
		{"synology_nas", "00:11:32:17:49:f0", event.Evidence{"manufacturer": "Synology Inc.", "model_name": "DS920+",
			"device_type": "urn:schemas-upnp-org:device:MediaServer:1", "friendly_name": "DiskStation"}, "Synology", "DS920+", "nas"},
		{"samsung_tv", "8c:79:f5:3d:4e:5f", fixture("samsung-tv.xml"), "Samsung", "UE55TU7100", "media_player"},
		{"sonos_speaker", "48:a6:b8:00:00:01", fixture("sonos-speaker.xml"), "Sonos", "Sonos One", "speaker"},
	}
	for _, tt := range appliances {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.Emit(obs(tt.mac, "192.168.1.50", event.KindUPnP, tt.ev))
			d := device(t, inv, tt.mac)
			votes := map[field]bool{}
			for _, v := range d.votes {
				if v.ev.Source == string(event.KindUPnP) {
					votes[v.field] = true
				}
			}
			if !votes[fieldVendor] || !votes[fieldModel] || !votes[fieldType] {
				t.Errorf("description votes %q, want vendor, model and type among them", upnpVotes(d))
			}
			id := d.Identity
			if id.Vendor.Value != tt.vendor {
				t.Errorf("vendor = %q, want %q", id.Vendor.Value, tt.vendor)
			}
			if tt.model != "" && id.Model.Value != tt.model {
				t.Errorf("model = %q, want %q", id.Model.Value, tt.model)
			}
			if id.Type.Value != tt.typ {
				t.Errorf("type = %q, want %q", id.Type.Value, tt.typ)
			}
		})
	}
}
