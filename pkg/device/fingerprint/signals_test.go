package fingerprint

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/ssdp"
)

func collect(t *testing.T, ev *event.Event) []string {
	t.Helper()
	rs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	rs.Signals(ev, func(s Signal, v string) { out = append(out, string(s)+"="+v) })
	slices.Sort(out)
	return out
}

func TestSignals(t *testing.T) {
	tests := []struct {
		name string
		kind event.Kind
		ev   event.Evidence
		want []string
	}{
		{"dhcp_discover", event.KindDHCP, event.Evidence{"message_type": "discover", "hostname": "ipcam", "vendor_class": "HIKVISION", "prl": "1,3,6,12,15,28,42", "client_mac": "c0:56:e3:1a:2b:3c"},
			[]string{"dhcp_prl=1,3,6,12,15,28,42", "dhcp_vendor_class=HIKVISION", "hostname=ipcam"}},
		{"dhcp_fqdn_differs", event.KindDHCP, event.Evidence{"message_type": "request", "hostname": "a", "fqdn": "a.example.com"},
			[]string{"hostname=a", "hostname=a.example.com"}},
		{"dhcp_ack_is_the_servers", event.KindDHCP, event.Evidence{"message_type": "ack", "domain": "lan", "assigned_ip": "192.168.1.2"}, nil},
		{"dhcpv6", event.KindDHCP, event.Evidence{"message_type": "solicit", "oro": "23,24", "vendor_enterprise": "311", "vendor_class": "MSFT 5.0"},
			[]string{"dhcp_vendor_class=MSFT 5.0", "dhcpv6_enterprise=311", "dhcpv6_oro=23,24"}},
		{"dns", event.KindDNSQuery, event.Evidence{"name": "cloud.example-camera.com", "qtype": "A"}, []string{"domain=cloud.example-camera.com"}},
		{"mdns", event.KindMDNS, event.Evidence{"hostname": "samsung-tv", "services": "_airplay._tcp,_raop._tcp", "instance": "[TV] Samsung 7 Series (55)", "txt_model": "UE55TU7100", "addresses": "192.168.50.103"},
			[]string{"hostname=samsung-tv", "instance=[TV] Samsung 7 Series (55)", "mdns_service=_airplay._tcp", "mdns_service=_raop._tcp", "mdns_txt=model=UE55TU7100"}},
		{"mdns_query_browses_others", event.KindMDNS, event.Evidence{"queried_services": "_googlecast._tcp"}, nil},
		// A CUPS queue the host shares (rp=printers/…): the printer
		// keys describe the printer on its USB port, not the host.
		{"mdns_shared_cups_queue", event.KindMDNS, event.Evidence{"hostname": "pi", "services": "_ipp._tcp", "txt_rp": "printers/HP_LaserJet", "txt_ty": "HP LaserJet 1020", "txt_usb_mfg": "HP", "txt_usb_mdl": "LaserJet 1020"},
			[]string{"hostname=pi", "mdns_service=_ipp._tcp"}},
		{"mdns_printer_own_queue", event.KindMDNS, event.Evidence{"hostname": "BRW1234", "services": "_ipp._tcp", "txt_rp": "ipp/print", "txt_ty": "Brother HL-L2350DW"},
			[]string{"hostname=BRW1234", "mdns_service=_ipp._tcp", "mdns_txt=ty=Brother HL-L2350DW"}},
		{"ssdp_notify", event.KindSSDP, event.Evidence{"message": "notify", "server": "Linux/3.10 UPnP/1.0 MiniUPnPd/1.6", "nt": "upnp:rootdevice"},
			[]string{"server=Linux/3.10 UPnP/1.0 MiniUPnPd/1.6", "ssdp_type=upnp:rootdevice"}},
		{"ssdp_msearch_target_is_not_the_sender", event.KindSSDP, event.Evidence{"message": "msearch", "st": "roku:ecp", "user_agent": "Linux/6.1 UPnP/1.1 demo-control-point/1.0"},
			[]string{"user_agent=Linux/6.1 UPnP/1.1 demo-control-point/1.0"}},
		{"wsd_probe_matches", event.KindWSD, event.Evidence{"message": "probe_matches", "types": "dn:NetworkVideoTransmitter tds:Device",
			"onvif_types": "video_encoder,Network_Video_Transmitter", "profiles": "Streaming", "hardware": "DS-2CD2142FWD-I", "name": "HIKVISION",
			"manufacturer": "Hikvision", "xaddrs_host": "192.168.1.64", "addresses": "192.168.1.64"},
			[]string{"onvif_scope=hardware/DS-2CD2142FWD-I", "onvif_scope=manufacturer/Hikvision", "onvif_scope=name/HIKVISION",
				"onvif_scope=type/Network_Video_Transmitter", "onvif_scope=type/video_encoder", "wsd_type=dn:NetworkVideoTransmitter", "wsd_type=tds:Device"}},
		{"wsd_hello_without_scopes", event.KindWSD, event.Evidence{"message": "hello", "types": "wsdp:Device pub:Computer"},
			[]string{"wsd_type=pub:Computer", "wsd_type=wsdp:Device"}},
		{"wsd_probe_looks_for_others", event.KindWSD, event.Evidence{"message": "probe", "types": "dn:NetworkVideoTransmitter"}, nil},
		{"wsd_resolve_looks_for_others", event.KindWSD, event.Evidence{"message": "resolve"}, nil},
		{"upnp", event.KindUPnP, event.Evidence{"manufacturer": "Samsung Electronics", "model_name": "UE55TU7100", "firmware_version": "T-KTM2AKUC-1234.5", "device_type": "urn:schemas-upnp-org:device:MediaRenderer:1", "serial": "0A***", "friendly_name": "[TV] Samsung 7 Series (55)"},
			[]string{"instance=[TV] Samsung 7 Series (55)", "upnp_device_type=urn:schemas-upnp-org:device:MediaRenderer:1", "upnp_firmware=T-KTM2AKUC-1234.5", "upnp_manufacturer=Samsung Electronics", "upnp_model=UE55TU7100"}},
		// Media software on a PC names itself, not the PC: only the
		// Server header of the answer is a signal.
		{"upnp_kodi", event.KindUPnP, event.Evidence{"manufacturer": "XBMC Foundation", "model_name": "Kodi", "model_number": "21.0", "device_type": "urn:schemas-upnp-org:device:MediaRenderer:1", "friendly_name": "Kodi", "server": "UPnP/1.0 DLNADOC/1.50 Platinum/1.0.5.13"},
			[]string{"server=UPnP/1.0 DLNADOC/1.50 Platinum/1.0.5.13"}},
		{"upnp_wmp_sharing", event.KindUPnP, event.Evidence{"manufacturer": "Microsoft Corporation", "model_name": "Windows Media Player Sharing", "device_type": "urn:schemas-upnp-org:device:MediaServer:1"}, nil},
		{"upnp_xbox_is_a_device", event.KindUPnP, event.Evidence{"manufacturer": "Microsoft Corporation", "model_name": "Xbox 360", "device_type": "urn:schemas-upnp-org:device:MediaRenderer:1"},
			[]string{"upnp_device_type=urn:schemas-upnp-org:device:MediaRenderer:1", "upnp_manufacturer=Microsoft Corporation", "upnp_model=Xbox 360"}},
		{"http_client", event.KindHTTPClient, event.Evidence{"user_agent": "curl/7.88.1", "host": "fw.example-tv.com:8080"}, []string{"domain=fw.example-tv.com", "user_agent=curl/7.88.1"}},
		{"http_host_is_address", event.KindHTTPClient, event.Evidence{"host": "192.168.50.103:9197"}, nil},
		{"http_host_is_v6_literal", event.KindHTTPClient, event.Evidence{"host": "[fe80::1]:80"}, nil},
		{"http_server", event.KindHTTPServer, event.Evidence{"server": "lighttpd/1.4.35", "realm": "NETGEAR R7000"}, []string{"http_realm=NETGEAR R7000", "server=lighttpd/1.4.35"}},
		{"onvif_device_information", event.KindHTTPServer, event.Evidence{"manufacturer": "HIKVISION", "model": "DS-2CD2032-I", "firmware_version": "V5.4.5 build 170124"},
			[]string{"onvif_firmware=V5.4.5 build 170124", "onvif_manufacturer=HIKVISION", "onvif_model=DS-2CD2032-I"}},
		{"tls", event.KindTLSClient, event.Evidence{"sni": "fw.example-tv.com", "ja3": "a3afc2c46ba4a7d7fbe1cfb7a3031c2f", "ja4": "t13d311000_e8f1e7e78f70_1f22a2ca17c4", "alpn": "h2"},
			[]string{"domain=fw.example-tv.com", "ja3=a3afc2c46ba4a7d7fbe1cfb7a3031c2f", "ja4=t13d311000_e8f1e7e78f70_1f22a2ca17c4"}},
		{"banner", event.KindBanner, event.Evidence{"protocol": "telnet", "banner": "BusyBox v1.19.3", "stage": "after_login"}, []string{"banner=BusyBox v1.19.3"}},
		{"mqtt", event.KindBanner, event.Evidence{"protocol": "mqtt", "client_id": "HS110-0A1B2C"}, []string{"mqtt_client_id=HS110-0A1B2C"}},
		{"blank_values", event.KindBanner, event.Evidence{"banner": "   "}, nil},
		{"finding", event.KindDefaultCredentials, event.Evidence{"protocol": "ftp"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := collect(t, &event.Event{Kind: tt.kind, Evidence: tt.ev})
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestMediaSoftware checks the [[upnp_software]] entries against the
// manufacturer and modelName each software announces, and that device
// makers' descriptions, DLNA servers included, match none.
func TestMediaSoftware(t *testing.T) {
	rs, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		manufacturer, model string
		want                string // entry id; "" for none
	}{
		{"XBMC Foundation", "Kodi", "kodi"},
		{"Microsoft Corporation", "Windows Media Player Sharing", "windows-media-player"},
		{"Microsoft Corporation", "Windows Media Player", "windows-media-player"},
		{"Microsoft", "Windows Media Player Sharing", "windows-media-player"},         // MythTV to an Xbox 360
		{"Justin Maggard", "Windows Media Connect compatible (MiniDLNA)", "minidlna"}, // the publisher's own entry wins over a build's
		{"NETGEAR", "Windows Media Connect compatible (ReadyDLNA)", "windows-media-connect-compatible"},
		{"Justin Maggard", "MiniDLNA", "minidlna"}, // model_name set in minidlna.conf
		{" Plex, Inc. ", "Plex Media Server", "plex-media-server"},
		{"Jellyfin", "Jellyfin Server", "jellyfin"},
		{"emby", "Emby Server", "emby"},
		// Devices, and look-alikes that are not the software.
		{"Microsoft Corporation", "Xbox 360", ""},
		{"Microsoft Corporation", "Windows Media Player Sharing Box", ""},
		{"Synology Inc.", "DS920+", ""},
		{"Samsung Electronics", "UE55TU7100", ""},
		{"Sonos, Inc.", "Sonos One", ""},
		{"XBMC Foundation Partner Ltd", "Kodi Box", ""},
		{"", "", ""},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		got := ""
		if u := rs.MediaSoftware(tt.manufacturer, tt.model); u != nil {
			got = u.ID
			covered[u.ID] = true
		}
		if got != tt.want {
			t.Errorf("MediaSoftware(%q, %q) = %q, want %q", tt.manufacturer, tt.model, got, tt.want)
		}
	}
	for _, u := range rs.software {
		if !covered[u.ID] {
			t.Errorf("upnp_software %s is exercised by no test case", u.ID)
		}
		if len(strings.TrimSpace(u.Source)) < 10 {
			t.Errorf("upnp_software %s: source %q names no source", u.ID, u.Source)
		}
	}
}

func TestUPnPEvidence(t *testing.T) {
	f, err := os.Open("../../inspect/ssdp/testdata/samsung-tv.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	desc, err := ssdp.ParseDescription(f, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev := UPnPEvidence(desc)
	if ev[UPnPManufacturer] != "Samsung Electronics" || ev[UPnPModelName] == "" || ev[UPnPDeviceType] == "" {
		t.Fatalf("evidence %v", ev)
	}
	if s := ev[UPnPSerial]; s != "" && (!strings.HasSuffix(s, "***") || len(s) > 5) {
		t.Fatalf("serial not redacted: %q", s)
	}
}
