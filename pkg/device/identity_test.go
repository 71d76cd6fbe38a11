package device

import (
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/device/fingerprint"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/ssdp"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func lan(a netip.Addr) bool { return netip.MustParsePrefix("192.168.1.0/24").Contains(a) }

func newInv() *Inventory { return NewInventory(64, lan) }

// obs is an observation about the device with the given MAC and address.
func obs(mac, ip string, kind event.Kind, ev event.Evidence) *event.Event {
	return &event.Event{Time: t0, Type: event.TypeObservation, Kind: kind,
		Device: event.Endpoint{MAC: mac, IP: ip, Local: true}, Evidence: ev}
}

func dhcp(mac string, ev event.Evidence) *event.Event {
	ev["client_mac"] = mac
	if ev["message_type"] == "" {
		ev["message_type"] = "request"
	}
	return obs("", "0.0.0.0", event.KindDHCP, ev)
}

func device(t *testing.T, inv *Inventory, mac string) *Device {
	t.Helper()
	m, err := hwaddr.Parse(mac)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := inv.Lookup(Key{MAC: m})
	if !ok {
		t.Fatalf("no device %s", mac)
	}
	return d
}

// TestIdentityFromSignals feeds real-world signal strings (from the
// corpus, the demo capture and vendors' documented formats) and checks
// the identity concluded.
func TestIdentityFromSignals(t *testing.T) {
	upnp := func(name string) event.Evidence {
		f, err := os.Open("../inspect/ssdp/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		d, err := ssdp.ParseDescription(f, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fingerprint.UPnPEvidence(d)
	}
	tests := []struct {
		name   string
		mac    string
		events []*event.Event
		vendor string
		typ    string
		model  string
		os     string
		fw     string
		minTyp float64 // minimum confidence of the type
	}{
		{"hikvision_camera_dhcp", "c0:56:e3:1a:2b:3c", []*event.Event{
			dhcp("c0:56:e3:1a:2b:3c", event.Evidence{"hostname": "ipcam", "vendor_class": "HIKVISION", "prl": "1,3,6,12,15,28,42"}),
		}, "Hikvision", "camera", "", "Linux", "", 0.7},
		{"synology_nas_nul_hostname", "00:11:32:17:49:f0", []*event.Event{
			dhcp("00:11:32:17:49:f0", event.Evidence{"hostname": "nas1", "prl": "1,28,2,3,15,6,12"}),
		}, "Synology", "nas", "", "Linux", "", 0.7},
		{"grandstream_phone_oui_only", "00:0b:82:01:fc:42", []*event.Event{
			dhcp("00:0b:82:01:fc:42", event.Evidence{"prl": "1,3,6,42"}),
		}, "Grandstream", "phone", "", "", "", 0.5},
		// Windows DHCP on an Apple MAC with a MacBook host name (Boot
		// Camp): the OS follows the DHCP stack, the vendor the hardware,
		// and the conflict shows as a lower confidence.
		{"macbook_running_windows", "28:cf:da:dc:8d:76", []*event.Event{
			dhcp("28:cf:da:dc:8d:76", event.Evidence{"hostname": "NicksMacBook", "fqdn": "NicksMacBook", "vendor_class": "MSFT 5.0", "prl": "1,15,3,6,44,46,47,31,33,121,249,43"}),
		}, "Apple", "computer", "", "Windows", "", 0.5},
		{"raspberry_pi_dhcpcd", "b8:27:eb:b8:53:c8", []*event.Event{
			dhcp("b8:27:eb:b8:53:c8", event.Evidence{"hostname": "raspberrypi", "vendor_class": "dhcpcd-6.11.5:Linux-4.1.18-v7+:armv7l:BCM2709", "prl": "1,121,33,3,6,12,15,28,42,51,54,58,59,100,101,119"}),
		}, "Raspberry Pi", "computer", "", "Linux", "", 0.9},
		{"tomato_router_ssdp", "00:90:4c:11:22:33", []*event.Event{
			obs("00:90:4c:11:22:33", "192.168.1.1", event.KindSSDP, event.Evidence{"message": "notify", "server": "UPnP/Tomato 1.28.7500 MIPSR2Toastman-RT K26 USB Ext UPnP/1.0 MiniUPnPd/1.6", "nt": "urn:schemas-upnp-org:device:InternetGatewayDevice:1"}),
		}, "", "router", "", "Tomato", "Tomato 1.28.7500", 0.9},
		{"samsung_tv_mdns_upnp", "8c:79:f5:3d:4e:5f", []*event.Event{
			obs("8c:79:f5:3d:4e:5f", "192.168.1.103", event.KindMDNS, event.Evidence{"hostname": "samsung-tv", "services": "_airplay._tcp", "instance": "[TV] Samsung 7 Series (55)", "txt_manufacturer": "Samsung", "txt_model": "UE55TU7100"}),
			obs("8c:79:f5:3d:4e:5f", "192.168.1.103", event.KindUPnP, upnp("samsung-tv.xml")),
		}, "Samsung", "tv", "", "", "T-KTMDEUC-1500.3", 0.9},
		{"sonos_upnp", "48:a6:b8:00:00:01", []*event.Event{
			obs("48:a6:b8:00:00:01", "192.168.1.20", event.KindUPnP, upnp("sonos-speaker.xml")),
		}, "Sonos", "speaker", "", "", "", 0.8},
		{"hue_bridge_upnp", "00:17:88:00:00:01", []*event.Event{
			obs("00:17:88:00:00:01", "192.168.1.21", event.KindUPnP, upnp("philips-hue-bridge.xml")),
			obs("00:17:88:00:00:01", "192.168.1.21", event.KindSSDP, event.Evidence{"message": "notify", "server": "Hue/1.0 UPnP/1.0 IpBridge/1.48.0"}),
		}, "Philips Hue", "hub", "", "", "", 0.8},
		{"cloud_domains_name_the_vendor", "d8:f1:5b:00:00:01", []*event.Event{
			obs("d8:f1:5b:00:00:01", "192.168.1.30", event.KindDNSQuery, event.Evidence{"name": "a1.tuyaeu.com", "qtype": "A"}),
			obs("d8:f1:5b:00:00:01", "192.168.1.30", event.KindDHCP, event.Evidence{"message_type": "request", "prl": "1,3,28,6"}),
		}, "Tuya", "plug", "", "lwIP", "", 0.4},
		{"iphone_private_mac", "da:a1:19:00:00:01", []*event.Event{
			dhcp("da:a1:19:00:00:01", event.Evidence{"hostname": "Annas-iPhone", "prl": "1,121,3,6,15,119,252"}),
		}, "Apple", "phone", "", "iOS", "", 0.8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			for _, ev := range tt.events {
				inv.Emit(ev)
			}
			id := device(t, inv, tt.mac).Identity
			check := func(what string, a Attribute, want string) {
				t.Helper()
				if want == "" {
					return
				}
				if !strings.EqualFold(a.Value, want) {
					t.Errorf("%s = %q (%.2f, alternatives %v), want %q", what, a.Value, a.Confidence, a.Alternatives, want)
				}
				if len(a.Evidence) == 0 || a.Confidence <= 0 || a.Confidence > 1 {
					t.Errorf("%s: confidence %v with %d evidence", what, a.Confidence, len(a.Evidence))
				}
			}
			check("vendor", id.Vendor, tt.vendor)
			check("type", id.Type, tt.typ)
			check("model", id.Model, tt.model)
			check("os", id.OS, tt.os)
			check("firmware", id.Firmware, tt.fw)
			if id.Type.Confidence < tt.minTyp {
				t.Errorf("type confidence %.2f < %.2f", id.Type.Confidence, tt.minTyp)
			}
		})
	}
}

func TestConflictingEvidenceLowersConfidence(t *testing.T) {
	inv := newInv()
	inv.Emit(dhcp("28:cf:da:dc:8d:76", event.Evidence{"hostname": "NicksMacBook", "vendor_class": "MSFT 5.0", "prl": "1,15,3,6,44,46,47,31,33,121,249,43"}))
	os := device(t, inv, "28:cf:da:dc:8d:76").Identity.OS
	if os.Value != "Windows" || len(os.Alternatives) == 0 || os.Alternatives[0].Value != "macOS" {
		t.Fatalf("os %+v", os)
	}
	if os.Confidence >= 0.96 {
		t.Fatalf("confidence %.2f ignores the macOS host name", os.Confidence)
	}
}

// TestAppDomainsDoNotNameAPhone: a phone with a private MAC resolves the
// clouds of the Hue, Sonos, camera and Alexa apps on it; those domains
// say which apps it runs, not that it is a hub, a speaker or a camera.
// A device that is no phone or computer is still named by its domains.
func TestAppDomainsDoNotNameAPhone(t *testing.T) {
	apps := []string{"discovery.meethue.com", "api.sonos.com", "api.hik-connect.com", "avs-alexa-eu.amazon.com"}
	tests := []struct {
		name         string
		dhcp         event.Evidence
		vendor, typ  string
		domainsCount bool
	}{
		// Android's DHCP client says Android, not phone: a Fire TV
		// sends it too.
		{"android_phone", event.Evidence{"vendor_class": "android-dhcp-13", "prl": "1,3,6,15,26,28,51,58,59,43,114,108"}, "", TypeUnknown, false},
		{"android_phone_by_name", event.Evidence{"vendor_class": "android-dhcp-7", "hostname": "android-3f2a9c0b1d4e5f60"}, "", TypeUnknown, false},
		{"unknown_device", event.Evidence{"prl": "1,3,28,6"}, "Philips Hue", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			const mac, ip = "da:a1:19:00:00:02", "192.168.1.40"
			inv.Emit(dhcp(mac, tt.dhcp))
			for _, name := range apps {
				inv.Emit(obs(mac, ip, event.KindDNSQuery, event.Evidence{"name": name, "qtype": "A"}))
			}
			id := device(t, inv, mac).Identity
			if tt.typ != "" && id.Type.Value != tt.typ {
				t.Errorf("type %q (alternatives %v), want %q", id.Type.Value, id.Type.Alternatives, tt.typ)
			}
			fromDomains := 0
			for _, a := range []Attribute{id.Vendor, id.Type, id.Model, id.OS} {
				for _, e := range a.Evidence {
					if e.Signal == string(fingerprint.SigDomain) {
						fromDomains++
					}
				}
			}
			if tt.domainsCount != (fromDomains > 0) {
				t.Errorf("%d pieces of domain evidence in %+v", fromDomains, id)
			}
			if !tt.domainsCount && (id.Vendor.Value != tt.vendor || len(id.Type.Alternatives) != 0) {
				t.Errorf("vendor %q, type alternatives %v: the apps' domains voted", id.Vendor.Value, id.Type.Alternatives)
			}
			if tt.domainsCount && id.Vendor.Value == "" {
				t.Errorf("no vendor from the domains: %+v", id.Vendor)
			}
		})
	}
}

// TestAndroidDHCPClientNamesTheOS: phones, Fire TV sticks, Echo Shows
// and Android TV boxes all send android-dhcp-*, and up to Android 7 the
// host name android-<id>; they say Android, and the type comes from
// elsewhere or stays unknown.
func TestAndroidDHCPClientNamesTheOS(t *testing.T) {
	tests := []struct {
		name        string
		mac         string
		hostname    string
		mdns        event.Evidence // nil: none
		vendor, typ string
	}{
		{"fire_tv_stick", "f0:27:2d:11:22:33", "amazon-1a2b3c4d5", nil, "Amazon", TypeUnknown},
		{"android_tv_box", "da:a1:19:00:00:03", "", event.Evidence{"hostname": "living-room", "services": "_androidtvremote2._tcp"}, "", "tv"},
		// Android 7 and earlier named every device android-<id>, phone,
		// tablet or TV box alike.
		{"old_android_phone", "da:a1:19:00:00:04", "android-3f2a9c0b1d4e5f60", nil, "", TypeUnknown},
		{"old_android_tv_box", "da:a1:19:00:00:05", "android-3f2a9c0b1d4e5f60", event.Evidence{"hostname": "android-3f2a9c0b1d4e5f60", "services": "_androidtvremote2._tcp"}, "", "tv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.Emit(dhcp(tt.mac, event.Evidence{"hostname": tt.hostname, "vendor_class": "android-dhcp-9", "prl": "1,3,6,15,26,28,51,58,59,43"}))
			inv.Emit(obs(tt.mac, "192.168.1.30", event.KindDNSQuery, event.Evidence{"name": "avs-alexa-eu.amazon.com"}))
			if tt.mdns != nil {
				inv.Emit(obs(tt.mac, "192.168.1.30", event.KindMDNS, tt.mdns))
			}
			id := device(t, inv, tt.mac).Identity
			if id.OS.Value != "Android" || id.Type.Value != tt.typ || id.Vendor.Value != tt.vendor {
				t.Errorf("vendor %q type %q os %q, want %q %q Android", id.Vendor.Value, id.Type.Value, id.OS.Value, tt.vendor, tt.typ)
			}
		})
	}
}

// TestESPFirmwareOS: Tasmota and ESPHome run on lwIP; the stack's DHCP
// signature supports the firmware's name instead of outvoting it, and
// the firmware's name is no maker.
func TestESPFirmwareOS(t *testing.T) {
	tests := []struct {
		name     string
		hostname string
		mdns     event.Evidence // nil: none
		os       string
	}{
		{"tasmota", "tasmota-1A2B3C-0123", nil, "Tasmota"},
		{"esphome", "ESP_12AB34", event.Evidence{"hostname": "kitchen-sensor", "services": "_esphomelib._tcp"}, "ESPHome"},
		{"plain_esp_sdk", "ESP_12AB34", nil, "lwIP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			const mac = "24:0a:c4:12:34:57" // Espressif
			inv.Emit(dhcp(mac, event.Evidence{"hostname": tt.hostname, "prl": "1,3,28,6"}))
			if tt.mdns != nil {
				inv.Emit(obs(mac, "192.168.1.20", event.KindMDNS, tt.mdns))
			}
			id := device(t, inv, mac).Identity
			if id.OS.Value != tt.os || len(id.OS.Alternatives) != 0 {
				t.Errorf("os %q (alternatives %v), want %q alone", id.OS.Value, id.OS.Alternatives, tt.os)
			}
			if id.Vendor.Value != "Espressif" || !id.Vendor.OnlyChip() {
				t.Errorf("vendor %+v, want the chip maker alone", id.Vendor)
			}
		})
	}
}

// TestMDNSOfAnotherAddress: an announcement is the sender's own when its
// address records name one of the sender's addresses, or none at all;
// one naming only other addresses relays another host's records (an
// access point reflecting mDNS), which say nothing about the sender. A
// host of a response naming several is the sender's only by an address
// the sender used.
func TestMDNSOfAnotherAddress(t *testing.T) {
	printer := event.Evidence{"hostname": "HP-LaserJet-M404", "services": "_ipp._tcp,_pdl-datastream._tcp",
		"txt_ty": "HP LaserJet Pro M404dn", "txt_usb_mfg": "HP"}
	with := func(ev event.Evidence, addrs string) event.Evidence {
		out := maps.Clone(ev)
		if addrs != "" {
			out["addresses"] = addrs
		}
		return out
	}
	several := func(ev event.Evidence) event.Evidence {
		ev["several_hosts"] = "yes"
		return ev
	}
	tests := []struct {
		name  string
		known string // an address the sender used before, if any
		ip    string // the sender's
		mdns  event.Evidence
		own   bool
	}{
		{"own_address", "", "192.168.1.40", with(printer, "192.168.1.40"), true},
		{"its_other_address", "192.168.1.40", "fe80::1234", with(printer, "192.168.1.40,fe80::99"), true},
		{"no_address_records", "", "192.168.1.40", with(printer, ""), true},
		{"relayed_by_an_access_point", "", "192.168.1.2", with(printer, "192.168.1.40"), false},
		{"relayed_v4_mapped", "", "192.168.1.2", with(printer, "::ffff:192.168.1.40"), false},
		// Its link-local address, announced over IPv4 before it sent
		// from it: nothing says it is another's.
		{"link_local_over_ipv4", "", "192.168.1.40", with(printer, "fe80::99"), true},
		{"another_link_local", "", "fe80::1234", with(printer, "fe80::99"), false},
		{"held_by_another_device", "", "2001:db8::2", with(printer, "2001:db8::40"), false},
		{"unknown_global_ipv6", "", "2001:db8::2", with(printer, "2001:db8::41"), true},
		// A host with an address of someone else's is someone else,
		// whatever global IPv6 addresses nothing is known of.
		{"another_ipv4_beside_unknown_ipv6", "", "192.168.1.2", with(printer, "192.168.1.40,2001:db8::41"), false},
		{"held_by_another_beside_unknown_ipv6", "", "2001:db8::2", with(printer, "2001:db8::40,2001:db8::41"), false},
		{"its_own_beside_unknown_ipv6", "", "192.168.1.40", with(printer, "192.168.1.40,2001:db8::41"), true},
		// One host of a response naming several, none by the address
		// it came from (a Thread border router's accessories): only
		// an address the sender used makes it the sender's.
		{"one_of_several_by_its_other_address", "192.168.1.40", "fe80::1234", several(with(printer, "192.168.1.40,fe80::99")), true},
		{"one_of_several_by_an_unknown_ula", "", "192.168.1.2", several(with(printer, "fd5a:1b2c:3d4e:1::41")), false},
		{"one_of_several_without_address_records", "", "192.168.1.40", several(with(printer, "")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			const mac = "f0:9f:c2:01:02:03" // Ubiquiti
			if tt.known != "" {
				inv.Seen(mustMAC(mac), netip.MustParseAddr(tt.known), "", "neighbour", t0)
			}
			inv.Seen(mustMAC("3c:2a:f4:00:00:40"), netip.MustParseAddr("2001:db8::40"), "", "neighbour", t0)
			inv.Emit(obs(mac, tt.ip, event.KindMDNS, tt.mdns))
			d := device(t, inv, mac)
			id := d.Identity
			took := len(d.Hostnames) > 0 || id.Type.Value == "printer" || id.Vendor.Value == "HP" || id.Model.Value != ""
			if took != tt.own {
				t.Errorf("identity taken %v, want %v: hostnames %v, %s %s %q", took, tt.own, d.Hostnames, id.Vendor.Value, id.Type.Value, id.Model.Value)
			}
			if len(d.Observations) != 1 {
				t.Errorf("%d observations, want the announcement filed", len(d.Observations))
			}
		})
	}
}

// TestDomainsDoNotOutvoteTheDevice: domain votes cannot outvote strong
// evidence the device gives of itself (its OUI, host name): a NAS running
// a DNS forwarder for the household resolves every device's cloud. They
// still support what the device says, and name a device that says
// little of itself (a chip maker's OUI is not its maker).
func TestDomainsDoNotOutvoteTheDevice(t *testing.T) {
	household := []string{"api.roku.com", "log-ingestion.samsungacr.com", "avs-alexa-eu.amazon.com", "ws.meethue.com", "fw.ring.com", "a2.tuyaeu.com", "api.sonos.com"}
	tests := []struct {
		name        string
		mac         string
		dhcp        event.Evidence
		domains     []string
		vendor, typ string
		fromDomains bool // the vendor's evidence includes a domain
	}{
		{"nas_forwarding_the_household", "00:11:32:17:49:f0", event.Evidence{"hostname": "nas1", "prl": "1,28,2,3,15,6,12"}, household, "Synology", "nas", false},
		{"plug_on_a_chip_makers_module", "24:0a:c4:12:34:56", event.Evidence{"prl": "1,3,28,6"}, []string{"a2.tuyaeu.com"}, "Tuya", "plug", true},
		{"hue_bridge_resolving_its_cloud", "00:17:88:01:02:03", event.Evidence{"prl": "1,3,28,6"}, []string{"ws.meethue.com"}, "Philips Hue", "hub", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.Emit(dhcp(tt.mac, tt.dhcp))
			for _, name := range tt.domains {
				inv.Emit(obs(tt.mac, "192.168.1.4", event.KindDNSQuery, event.Evidence{"name": name}))
			}
			id := device(t, inv, tt.mac).Identity
			if id.Vendor.Value != tt.vendor || id.Type.Value != tt.typ {
				t.Errorf("vendor %q type %q (alternatives %v, %v), want %q %q", id.Vendor.Value, id.Type.Value,
					id.Vendor.Alternatives, id.Type.Alternatives, tt.vendor, tt.typ)
			}
			domainEv := slices.ContainsFunc(id.Vendor.Evidence, func(e Evidence) bool { return e.Signal == string(fingerprint.SigDomain) })
			if domainEv != tt.fromDomains {
				t.Errorf("vendor evidence %+v: from domains %v, want %v", id.Vendor.Evidence, domainEv, tt.fromDomains)
			}
		})
	}
}

func TestPrivateMACHasNoOUIVendor(t *testing.T) {
	inv := newInv()
	// 02:00:00… and da:… have the locally administered bit set.
	inv.Emit(dhcp("da:a1:19:00:00:01", event.Evidence{"prl": "1,3,6"}))
	id := device(t, inv, "da:a1:19:00:00:01").Identity
	if !id.PrivateMAC || id.RegisteredVendor != "" || id.Vendor.Value != "" {
		t.Fatalf("identity %+v", id)
	}
}

func TestSoftwareFromBannersAndFirmware(t *testing.T) {
	inv := newInv()
	const mac = "c0:56:e3:1a:2b:3c"
	srv := func(banner, proto string) *event.Event {
		e := obs(mac, "192.168.1.101", event.KindBanner, event.Evidence{"protocol": proto, "banner": banner})
		e.Flow = &event.Flow{Transport: "tcp", Server: event.Endpoint{IP: "192.168.1.101", Port: 23, Local: true}, Client: event.Endpoint{IP: "192.168.1.104", Local: true}}
		return e
	}
	inv.Emit(srv("BusyBox v1.19.4 (2016-05-12 10:11:45 CST) built-in shell (ash)", "telnet"))
	inv.Emit(srv("SSH-2.0-dropbear_2014.63", "ssh"))
	inv.Emit(srv("SSH-2.0-dropbear_2014.63", "ssh")) // a repeat adds nothing
	inv.Emit(obs(mac, "192.168.1.101", event.KindHTTPServer, event.Evidence{"server": "Boa/0.94.14rc21"}))
	inv.Emit(obs(mac, "192.168.1.101", event.KindUPnP, event.Evidence{"manufacturer": "Hikvision", "model_name": "DS-2CD2032-I", "firmware_version": "V5.4.0 build 160530"}))
	d := device(t, inv, mac)
	var got []string
	for _, s := range d.Software {
		got = append(got, s.Product+" "+s.Version+" "+s.Source)
	}
	want := []string{
		"busybox 1.19.4 banner/telnet",
		"dropbear 2014.63 banner/ssh",
		"boa 0.94.14rc21 http_server",
		"hikvision:ds-2cd2032-i V5.4.0 build 160530 upnp",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("software\n got %q\nwant %q", got, want)
	}
}

// TestONVIFDeviceInformationSoftware: a camera's answer to ONVIF's
// GetDeviceInformation, an http_server observation, names its vendor,
// model and firmware, which become software the advisory feed can name,
// served on a connection seen from its start or, on one joined, only a
// claim.
func TestONVIFDeviceInformationSoftware(t *testing.T) {
	for _, tt := range []struct {
		name   string
		joined bool
		want   string
	}{
		{"connection_seen_whole", false, "hikvision:ds-2cd2032-i V5.4.5 build 170124 http_server"},
		{"connection_joined", true, "hikvision:ds-2cd2032-i V5.4.5 build 170124 http_server/joined"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			const mac = "c0:56:e3:1a:2b:3d"
			e := obs(mac, "192.168.1.64", event.KindHTTPServer, event.Evidence{"manufacturer": "HIKVISION", "model": "DS-2CD2032-I", "firmware_version": "V5.4.5 build 170124"})
			e.Flow = &event.Flow{Transport: "tcp", Server: event.Endpoint{IP: "192.168.1.64", Port: 80, Local: true}, Client: event.Endpoint{IP: "192.168.1.20", Local: true}, Joined: tt.joined}
			inv.Emit(e)
			d := device(t, inv, mac)
			var got []string
			for _, s := range d.Software {
				got = append(got, s.Product+" "+s.Version+" "+s.Source)
			}
			if !slices.Equal(got, []string{tt.want}) {
				t.Errorf("software %q, want %q", got, tt.want)
			}
			if id := d.Identity; !strings.EqualFold(id.Vendor.Value, "Hikvision") || id.Model.Value != "DS-2CD2032-I" {
				t.Errorf("identity vendor %q model %q", id.Vendor.Value, id.Model.Value)
			}
		})
	}
}

func TestHostnamesAndAddressesOverTime(t *testing.T) {
	inv := newInv()
	const mac = "50:c7:bf:0a:1b:2c"
	for i := range 12 {
		ev := dhcp(mac, event.Evidence{"hostname": "plug-" + string(rune('a'+i))})
		ev.Time = t0.Add(time.Duration(i) * time.Minute)
		inv.Emit(ev)
	}
	m, _ := hwaddr.Parse(mac)
	for i := range 20 {
		inv.ObservePacket(&inspect.Packet{Timestamp: t0.Add(time.Duration(i) * time.Second), Kind: inspect.KindUDP,
			HasMAC: true, SrcMAC: m, Src: netip.AddrFrom4([4]byte{192, 168, 1, byte(10 + i)}), Dst: netip.MustParseAddr("192.168.1.1")})
	}
	// The first address again, later: it moves to the end, keeps its
	// first-seen time.
	late := t0.Add(time.Hour)
	inv.ObservePacket(&inspect.Packet{Timestamp: late, Kind: inspect.KindUDP, HasMAC: true, SrcMAC: m,
		Src: netip.MustParseAddr("192.168.1.29"), Dst: netip.MustParseAddr("192.168.1.1")})
	d := device(t, inv, mac)
	if len(d.Hostnames) != maxHostnames || d.Hostnames[maxHostnames-1].Name != "plug-l" {
		t.Fatalf("hostnames %+v", d.Hostnames)
	}
	if len(d.Addrs) != maxAddrs || len(d.Addresses) != maxAddrs {
		t.Fatalf("%d addrs, %d addresses", len(d.Addrs), len(d.Addresses))
	}
	for i, a := range d.Addresses {
		if a.Addr != d.Addrs[i] {
			t.Fatalf("Addresses[%d] = %v, Addrs[%d] = %v", i, a.Addr, i, d.Addrs[i])
		}
	}
	last := d.Addresses[maxAddrs-1]
	if last.Addr != netip.MustParseAddr("192.168.1.29") || !last.LastSeen.Equal(late) || !last.FirstSeen.Equal(t0.Add(19*time.Second)) {
		t.Fatalf("last address %+v", last)
	}
}

func TestVotesBounded(t *testing.T) {
	inv := newInv()
	const mac = "00:11:22:33:44:55"
	// A hostile device announcing a new model in every mDNS packet.
	for i := range 500 {
		inv.Emit(obs(mac, "192.168.1.9", event.KindMDNS, event.Evidence{"txt_model": "M" + strings.Repeat("x", i%50) + string(rune('A'+i%26))}))
	}
	d := device(t, inv, mac)
	if len(d.votes) > maxVotes || d.DroppedEvents == 0 {
		t.Fatalf("%d votes, %d dropped", len(d.votes), d.DroppedEvents)
	}
	if len(d.Identity.Model.Alternatives) > maxAlternatives || len(d.Identity.Model.Evidence) > maxEvidence {
		t.Fatalf("model %+v", d.Identity.Model)
	}
}

func synPacket(mac hwaddr.MAC, src, dst string, sport uint16, seq uint32) *inspect.Packet {
	return &inspect.Packet{Timestamp: t0, Kind: inspect.KindTCP, HasMAC: true, SrcMAC: mac,
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), TTL: 64, Window: 64240,
		SrcPort: sport, DstPort: 443, Seq: seq, TCPFlags: inspect.TCPFlagSYN,
		TCPOptions: []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}}
}

func TestSYNFingerprintAndInternetConnections(t *testing.T) {
	inv := newInv()
	m, _ := hwaddr.Parse("00:11:22:33:44:66")
	inv.ObservePacket(synPacket(m, "192.168.1.50", "203.0.113.10", 40000, 1))
	inv.ObservePacket(synPacket(m, "192.168.1.50", "203.0.113.10", 40000, 1)) // retransmit
	inv.ObservePacket(synPacket(m, "192.168.1.50", "192.168.1.1", 40001, 2))  // LAN
	d := device(t, inv, "00:11:22:33:44:66")
	if d.Identity.SYN != "64:64240:1460:M,S,T,N,W" || d.Identity.OS.Value != "Linux" {
		t.Fatalf("identity %+v", d.Identity)
	}
	if d.traffic.wanConns != 1 {
		t.Fatalf("%d internet connections", d.traffic.wanConns)
	}
}

func TestObservePacketKnownDeviceAllocatesNothing(t *testing.T) {
	inv := newInv()
	m, _ := hwaddr.Parse("00:11:22:33:44:77")
	p := synPacket(m, "192.168.1.51", "203.0.113.10", 40000, 1)
	inv.ObservePacket(p)
	n := testing.AllocsPerRun(1000, func() {
		p.Seq++
		inv.ObservePacket(p)
	})
	if n != 0 {
		t.Fatalf("ObservePacket allocates %v times for a known device", n)
	}
}

func BenchmarkObservePacketKnownDevice(b *testing.B) {
	inv := newInv()
	m, _ := hwaddr.Parse("00:11:22:33:44:88")
	p := synPacket(m, "192.168.1.52", "203.0.113.10", 40000, 1)
	inv.ObservePacket(p)
	b.ReportAllocs()
	for b.Loop() {
		p.Seq++
		inv.ObservePacket(p)
	}
}

// FuzzLearn feeds hostile observation values (host names, banners,
// headers are all chosen by whoever is on the LAN) through the rules and
// checks the bounds hold.
func FuzzLearn(f *testing.F) {
	f.Add("dhcp", "hostname", "ipcam")
	f.Add("banner", "banner", "BusyBox v1.19.4")
	f.Add("http_server", "server", "GoAhead-Webs/$1${2}")
	f.Add("mdns", "txt_model", "MacBookPro15,2")
	f.Add("upnp", "firmware_version", "\x00\xff")
	f.Add("dns_query", "name", "a..b.hikvision.com.")
	inv := newInv()
	f.Fuzz(func(t *testing.T, kind, key, value string) {
		ev := obs("00:11:22:33:44:99", "192.168.1.99", event.Kind(kind), event.Evidence{key: value, "message_type": "request", "message": "notify"})
		inv.Emit(ev)
		d := device(t, inv, "00:11:22:33:44:99")
		if len(d.votes) > maxVotes || len(d.Software) > maxSoftware || len(d.Hostnames) > maxHostnames {
			t.Fatalf("bounds: %d votes, %d software, %d hostnames", len(d.votes), len(d.Software), len(d.Hostnames))
		}
		for _, a := range []Attribute{d.Identity.Vendor, d.Identity.Type, d.Identity.Model, d.Identity.Firmware, d.Identity.OS} {
			if a.Confidence < 0 || a.Confidence > 1 {
				t.Fatalf("confidence %v", a.Confidence)
			}
		}
	})
}

// TestAddressDeviceMergedIntoMAC: events for an address come before its
// MAC is known; once a packet ties the two, the MAC device holds them,
// and later events and packets reach that device, never the merged one
// (the inventory remembers the devices it found last).
func TestAddressDeviceMergedIntoMAC(t *testing.T) {
	inv := newInv()
	const mac, ip = "50:c7:bf:0a:1b:2c", "192.168.1.77"
	first := inv.File(obs("", ip, event.KindDNSQuery, event.Evidence{"name": "a.example"}))
	if first == nil || !first.Key.MAC.IsZero() {
		t.Fatalf("the event made device %+v, want one keyed by address", first)
	}
	m, _ := hwaddr.Parse(mac)
	pkt := &inspect.Packet{Timestamp: t0.Add(time.Second), Kind: inspect.KindUDP, HasMAC: true, SrcMAC: m,
		Src: netip.MustParseAddr(ip), Dst: netip.MustParseAddr("192.168.1.1"), Length: 100}
	inv.ObservePacket(pkt)
	later := inv.File(obs("", ip, event.KindDNSQuery, event.Evidence{"name": "b.example"}))
	inv.ObservePacket(pkt)
	d := device(t, inv, mac)
	if later != d || len(inv.devices) != 1 || inv.recent[0] != d || inv.recent[1] == first {
		t.Fatalf("later event went to %+v; %d devices, want only %s", later.Key, len(inv.devices), mac)
	}
	seen := 0
	for _, o := range d.Observations {
		seen += max(o.Count, 1)
	}
	if seen != 2 || d.Packets != 2 {
		t.Errorf("the MAC device counts %d observations and %d packets, want 2 and 2", seen, d.Packets)
	}
}

// TestGenericHostNameWords: a host name whose words only look like a
// device type's or a maker's does not name one, and a computer is not
// called a camera for its owner's name.
func TestGenericHostNameWords(t *testing.T) {
	tests := []struct {
		name      string
		mac       string // 00:14:22 is Dell's
		dhcp      event.Evidence
		typ       string
		notVendor string
	}{
		// Windows' default name for user Cam's PC, Dell's OUI.
		{"windows_pc_of_cam", "00:14:22:01:02:03", event.Evidence{"hostname": "CAM-PC", "vendor_class": "MSFT 5.0"}, "computer", ""},
		{"laptop_of_cam", "da:14:22:01:02:03", event.Evidence{"hostname": "cam-laptop"}, "computer", ""},
		{"imac_inside_a_word", "00:14:22:01:02:05", event.Evidence{"hostname": "climacontrol"}, TypeUnknown, "Apple"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.Emit(dhcp(tt.mac, tt.dhcp))
			id := device(t, inv, tt.mac).Identity
			if id.Type.Value != tt.typ {
				t.Errorf("type %q (alternatives %v), want %q", id.Type.Value, id.Type.Alternatives, tt.typ)
			}
			if tt.notVendor != "" && (id.Vendor.Value == tt.notVendor || id.OS.Value == "macOS") {
				t.Errorf("vendor %q os %q from the host name %q", id.Vendor.Value, id.OS.Value, tt.dhcp["hostname"])
			}
		})
	}
}

// TestSharedPrinterIsNotTheHost: a computer sharing its USB printer
// through CUPS (a Raspberry Pi print server, a Mac with printer sharing)
// announces the queue with the printer's make and model; they name the
// printer, not the computer.
func TestSharedPrinterIsNotTheHost(t *testing.T) {
	tests := []struct {
		name, mac string
		mdns      event.Evidence
		vendor    string
		typ       string
	}{
		{"raspberry_pi_print_server", "b8:27:eb:00:00:01", event.Evidence{"hostname": "pi", "services": "_ipp._tcp",
			"txt_rp": "printers/HP_LaserJet", "txt_ty": "HP LaserJet 1020", "txt_usb_mfg": "HP", "txt_usb_mdl": "LaserJet 1020"}, "Raspberry Pi", "computer"},
		{"mac_sharing_a_printer", "da:a1:19:00:00:10", event.Evidence{"hostname": "Annas-MacBook-Pro", "services": "_ipp._tcp",
			"txt_rp": "printers/HP_LaserJet", "txt_ty": "HP LaserJet 1020", "txt_usb_mfg": "HP"}, "Apple", "computer"},
		// A printer's own queue still names it.
		{"network_printer", "da:a1:19:00:00:11", event.Evidence{"hostname": "BRW1234", "services": "_ipp._tcp",
			"txt_rp": "ipp/print", "txt_ty": "Brother HL-L2350DW", "txt_usb_mfg": "Brother"}, "Brother", "printer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := newInv()
			inv.Emit(obs(tt.mac, "192.168.1.60", event.KindMDNS, tt.mdns))
			id := device(t, inv, tt.mac).Identity
			if id.Vendor.Value != tt.vendor || id.Type.Value != tt.typ {
				t.Errorf("vendor %q type %q model %q, want %q %q", id.Vendor.Value, id.Type.Value, id.Model.Value, tt.vendor, tt.typ)
			}
			if tt.typ != "printer" && id.Model.Value != "" {
				t.Errorf("model %q: the shared printer's", id.Model.Value)
			}
		})
	}
}
