package ssdp

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseDescription(t *testing.T) {
	tests := []struct {
		file string
		want Description
	}{
		{"router-igd-miniupnpd.xml", Description{Device: Device{
			DeviceType:       "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
			FriendlyName:     "Example Router",
			Manufacturer:     "Example Networks",
			ManufacturerURL:  "http://www.example.com/",
			ModelName:        "ER-1200",
			ModelNumber:      "1.28.7500",
			ModelDescription: "Example Router IGD",
			SerialNumber:     "00000000",
			UDN:              "uuid:04645c3d-e6b4-4eea-bd35-5c320c129690",
			PresentationURL:  "http://192.168.1.1/",
			Devices: []Device{{
				DeviceType:       "urn:schemas-upnp-org:device:WANDevice:1",
				FriendlyName:     "WANDevice",
				Manufacturer:     "MiniUPnP",
				ManufacturerURL:  "http://miniupnp.free.fr/",
				ModelName:        "WAN Device",
				ModelNumber:      "20140313",
				ModelDescription: "WAN Device",
				UDN:              "uuid:04645c3d-e6b4-4eea-bd35-5c320c129691",
				Devices: []Device{{
					DeviceType:   "urn:schemas-upnp-org:device:WANConnectionDevice:1",
					FriendlyName: "WANConnectionDevice",
					Manufacturer: "MiniUPnP",
					ModelName:    "MiniUPnPd",
					ModelNumber:  "20140313",
					UDN:          "uuid:04645c3d-e6b4-4eea-bd35-5c320c129692",
				}},
			}},
		}}},
		{"samsung-tv.xml", Description{Device: Device{
			DeviceType:       "urn:schemas-upnp-org:device:MediaRenderer:1",
			FriendlyName:     "[TV] Living Room",
			Manufacturer:     "Samsung Electronics",
			ManufacturerURL:  "http://www.samsung.com/sec",
			ModelName:        "UE55TU7100",
			ModelNumber:      "AllShare1.0",
			ModelDescription: "Samsung TV DMR",
			SerialNumber:     "0A1B2C3D4E5F",
			UDN:              "uuid:1f2e3d4c-0000-1000-8000-f47b09aabbcc",
			Versions:         []Version{{"firmwareVersion", "T-KTMDEUC-1500.3"}},
		}}},
		{"philips-hue-bridge.xml", Description{URLBase: "http://192.168.1.20:80/", Device: Device{
			DeviceType:       "urn:schemas-upnp-org:device:Basic:1",
			FriendlyName:     "Hue Bridge (192.168.1.20)",
			Manufacturer:     "Signify",
			ManufacturerURL:  "http://www.philips-hue.com",
			ModelName:        "Philips hue bridge 2015",
			ModelNumber:      "BSB002",
			ModelDescription: "Philips hue Personal Wireless Lighting",
			SerialNumber:     "001788fffe112233",
			UDN:              "uuid:2f402f80-da50-11e1-9b23-001788112233",
			PresentationURL:  "index.html",
		}}},
		// Sonos names its versions its own way; hardwareVersion,
		// minCompatibleVersion and displayVersion are not firmware.
		{"sonos-speaker.xml", Description{Device: Device{
			DeviceType:       "urn:schemas-upnp-org:device:ZonePlayer:1",
			FriendlyName:     "192.168.1.31 - Sonos One - RINCON_48A6B8112233",
			Manufacturer:     "Sonos, Inc.",
			ManufacturerURL:  "http://www.sonos.com",
			ModelName:        "Sonos One",
			ModelNumber:      "S18",
			ModelDescription: "Sonos One",
			UDN:              "uuid:RINCON_48A6B811223301400",
			Versions:         []Version{{"softwareVersion", "72.2-35180"}},
			Devices: []Device{
				{DeviceType: "urn:schemas-upnp-org:device:MediaRenderer:1", FriendlyName: "Kitchen - Sonos One Media Renderer",
					Manufacturer: "Sonos, Inc.", ModelName: "Sonos One", ModelNumber: "S18", UDN: "uuid:RINCON_48A6B811223301400_MR"},
				{DeviceType: "urn:schemas-upnp-org:device:MediaServer:1", FriendlyName: "Kitchen - Sonos One Media Server",
					Manufacturer: "Sonos, Inc.", ModelName: "Sonos One", ModelNumber: "S18", UDN: "uuid:RINCON_48A6B811223301400_MS"},
			},
		}}},
		// Declared ISO-8859-1, with a Latin-1 byte in the friendly name.
		{"hikvision-camera.xml", Description{Device: Device{
			DeviceType:       "urn:schemas-upnp-org:device:Basic:1",
			FriendlyName:     "DS-2CD2143G0-I - Einfahrt Süd",
			Manufacturer:     "Hikvision",
			ManufacturerURL:  "http://www.hikvision.com",
			ModelName:        "DS-2CD2143G0-I",
			ModelNumber:      "DS-2CD2143G0-I",
			ModelDescription: "Network Camera",
			SerialNumber:     "DS-2CD2143G0-I20190101AAWRC12345678",
			UDN:              "uuid:a1b2c3d4-e5f6-4a5b-8c7d-c056e3112233",
			PresentationURL:  "http://192.168.1.64:80/",
			Versions:         []Version{{"firmwareVersion", "V5.5.82 build 190909"}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			got, err := ParseDescription(f, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseDescriptionHostile(t *testing.T) {
	const head = `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">`
	deep := head + "<device><x>" + strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100) + "</x></device></root>"
	many := head + "<device><deviceList>" + strings.Repeat("<device><UDN>u</UDN></device>", 40) + "</deviceList></device></root>"
	tests := []struct {
		name  string
		doc   string
		limit int64
		want  string // substring of the error; "" for success
	}{
		{"billion_laughs", `<?xml version="1.0"?><!DOCTYPE root [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>` +
			`<root><device><friendlyName>&b;</friendlyName></device></root>`, 0, "DOCTYPE"},
		{"external_entity", `<?xml version="1.0"?><!DOCTYPE root [<!ENTITY x SYSTEM "file:///etc/passwd">]><root><device><friendlyName>&x;</friendlyName></device></root>`, 0, "DOCTYPE"},
		{"undefined_entity", head + `<device><friendlyName>&nbsp;</friendlyName></device></root>`, 0, "entity"},
		{"too_large", head + "<device><friendlyName>" + strings.Repeat("x", 2000) + "</friendlyName></device></root>", 1000, "too large"},
		{"too_deep", deep, 0, "nested deeper"},
		{"too_many_devices", many, 0, "more than 32 devices"},
		{"wrong_root", `<html><device/></html>`, 0, "want <root>"},
		{"no_device", head + `</root>`, 0, "no <device>"},
		{"unclosed", head + `<device><friendlyName>x</device></root>`, 0, "syntax"},
		{"truncated", head + `<device><friendlyName>x`, 0, "EOF"},
		{"unknown_charset", `<?xml version="1.0" encoding="EBCDIC"?><root><device/></root>`, 0, "charset"},
		{"empty", ``, 0, "no <device>"},
		{"long_field_cut", head + "<device><modelName>" + strings.Repeat("é", 300) + "</modelName></device></root>", 0, ""},
		{"control_chars_dropped", head + "<device><modelName> a\t b\nc\u009fd </modelName></device></root>", 0, ""},
		// Bidirectional overrides and invisible characters would make the
		// name shown read otherwise than it is.
		{"format_chars_dropped", head + "<device><modelName>Hue\u202eegdirb\u202c\u200b\u2066x\u2069\ufeff</modelName></device></root>", 0, ""},
		{"device_outside_device_list_ignored", head + "<device><vendor><device><UDN>fake</UDN></device></vendor><UDN>real</UDN></device></root>", 0, ""},
		{"too_many_versions", head + "<device>" + strings.Repeat("<version>1</version>", 20) + "</device></root>", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDescription(strings.NewReader(tt.doc), tt.limit)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("error %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.want)
			}
			if tt.name == "too_large" && !errors.Is(err, ErrTooLarge) {
				t.Errorf("error %v is not ErrTooLarge", err)
			}
			switch tt.name {
			case "long_field_cut":
				if len(d.Device.ModelName) != maxField || !strings.HasPrefix(d.Device.ModelName, "éé") {
					t.Errorf("model name of %d bytes, want %d bytes of whole characters", len(d.Device.ModelName), maxField)
				}
			case "format_chars_dropped":
				if d.Device.ModelName != "Hueegdirbx" {
					t.Errorf("model name %q, want %q", d.Device.ModelName, "Hueegdirbx")
				}
			case "control_chars_dropped":
				if d.Device.ModelName != "a b cd" {
					t.Errorf("model name %q, want %q", d.Device.ModelName, "a b cd")
				}
			case "device_outside_device_list_ignored":
				if d.Device.UDN != "real" || len(d.Device.Devices) != 0 {
					t.Errorf("device %+v, want UDN real and no embedded device", d.Device)
				}
			case "too_many_versions":
				if len(d.Device.Versions) != maxVersions {
					t.Errorf("%d versions, want %d", len(d.Device.Versions), maxVersions)
				}
			}
		})
	}
}

func FuzzParseDescription(f *testing.F) {
	for _, name := range []string{"router-igd-miniupnpd.xml", "samsung-tv.xml", "hikvision-camera.xml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDescription(strings.NewReader(string(b)), 8<<10)
		if err != nil {
			return
		}
		var count func(Device) int
		count = func(d Device) int {
			n := 1
			if len(d.FriendlyName) > maxField || len(d.Versions) > maxVersions {
				t.Fatalf("unbounded device %+v", d)
			}
			for _, e := range d.Devices {
				n += count(e)
			}
			return n
		}
		if n := count(d.Device); n > maxDevices {
			t.Fatalf("%d devices", n)
		}
	})
}
