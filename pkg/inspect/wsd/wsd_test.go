package wsd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// TestRecorded reads testdata/wsdd-host.pcap, recorded by
// scripts/detection/record-wsd.sh: Debian's wsdd announcing a host
// (Hello, Bye) and answering another wsdd's Probe and Resolve.
func TestRecorded(t *testing.T) {
	const host, searcher = "192.168.52.10", "192.168.52.20"
	c, err := inspecttest.RunFile(t, inspecttest.RepoFile(t, "pkg/inspect/wsd/testdata/wsdd-host.pcap"), nil, New())
	if err != nil {
		t.Fatal(err)
	}
	evs := c.Kind(event.KindWSD)
	want := map[string]struct {
		device   string
		evidence map[string]string
	}{
		"hello": {host, map[string]string{"xaddrs_host": "192.168.52.10:5357", "addresses": host, "-types": ""}},
		"bye":   {host, map[string]string{"-xaddrs_host": "", "-types": ""}},
		"probe": {searcher, map[string]string{"types": "wsdp:Device"}},
		"probe_matches": {host, map[string]string{"types": "wsdp:Device pub:Computer", "-xaddrs_host": "",
			"-addresses": "", "-several_hosts": ""}},
		"resolve": {searcher, map[string]string{"-types": ""}},
		"resolve_matches": {host, map[string]string{"types": "wsdp:Device pub:Computer",
			"xaddrs_host": "192.168.52.10:5357", "addresses": host}},
	}
	seen := map[string]bool{}
	for _, e := range evs {
		msg := e.Evidence["message"]
		w, ok := want[msg]
		if !ok || seen[msg] {
			t.Errorf("unexpected or repeated %q: %v", msg, e.Evidence)
			continue
		}
		seen[msg] = true
		if e.Device.IP != w.device || e.Flow.App != "wsd" {
			t.Errorf("%s: device %s app %q, want %s, wsd", msg, e.Device.IP, e.Flow.App, w.device)
		}
		checkEvidence(t, msg, e, w.evidence)
	}
	if len(seen) != len(want) {
		t.Errorf("got %v, want one of each of %d messages", seen, len(want))
	}
	// Message ids are version 1 UUIDs that end in the sender's MAC.
	if inspecttest.Leaks(t, evs, "3ca9f46a7b01") {
		t.Error("a message id reached an event")
	}
}

func checkEvidence(t *testing.T, name string, e *event.Event, want map[string]string) {
	t.Helper()
	if e.Kind != event.KindWSD || e.Type != event.TypeObservation || e.Severity != event.SeverityInfo {
		t.Errorf("%s: %s %s %s, want a WS-Discovery observation", name, e.Type, e.Kind, e.Severity)
	}
	inspecttest.CheckEvidence(t, name, e.Evidence, want)
}

// The ONVIF messages below are hand-written, not captured: their shape
// follows the WS-Discovery 2005/04 and 1.1 examples and the ONVIF Core
// Specification's discovery chapter (Types dn:NetworkVideoTransmitter
// tds:Device; scopes onvif://www.onvif.org/<category>/<value> with the
// categories type, location, hardware, name and Profile), filled with the
// values Hikvision and Axis cameras announce.
const (
	hdr2005 = `<?xml version="1.0" encoding="UTF-8"?>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" ` +
		`xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
		`xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" ` +
		`xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl">` +
		`<SOAP-ENV:Header><wsa:MessageID>uuid:ae0e7bd0-1dd1-11b2-8000-c056e31a2b3c</wsa:MessageID>` +
		`<wsa:RelatesTo>uuid:2b1c3d4e-0000-4000-8000-000000000001</wsa:RelatesTo>` +
		`<wsa:ReplyTo><wsa:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>` +
		`<wsa:To SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>` +
		`<wsa:Action SOAP-ENV:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/`

	hikvisionProbeMatches = hdr2005 + `ProbeMatches</wsa:Action>` +
		`<d:AppSequence InstanceId="1700000000" MessageNumber="3"/></SOAP-ENV:Header>` +
		`<SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch>` +
		`<wsa:EndpointReference><wsa:Address>urn:uuid:3fa1fe68-b915-4053-a3e1-c056e31a2b3c</wsa:Address></wsa:EndpointReference>` +
		`<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>` +
		`<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming ` +
		"onvif://www.onvif.org/MAC/c0:56:e3:1a:2b:3c\n\t onvif://www.onvif.org/hardware/DS-2CD2142FWD-I " +
		`onvif://www.onvif.org/name/HIKVISION onvif://www.onvif.org/location/city/hangzhou</d:Scopes>` +
		`<d:XAddrs>http://192.168.1.64/onvif/device_service http://[fe80::c256:e3ff:fe1a:2b3c%25eth0]/onvif/device_service</d:XAddrs>` +
		`<d:MetadataVersion>10</d:MetadataVersion>` +
		`</d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`

	// WS-Discovery 1.1, other prefixes, an Axis camera's scopes with a
	// percent-encoded name and a manufacturer scope, a location set by
	// the owner, and a comment.
	axisHello = `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" ` +
		`xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:wsd="http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01">` +
		`<s:Header><a:Action>http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/Hello</a:Action>` +
		`<a:MessageID>urn:uuid:0d9e8f7a-0000-4000-8000-00408c000001</a:MessageID></s:Header><s:Body>` +
		`<!-- <wsd:Types>ignored</wsd:Types> --><wsd:Hello>` +
		`<a:EndpointReference><a:Address>urn:uuid:5f5a69c2-e0ae-504f-829b-00408c000001</a:Address></a:EndpointReference>` +
		`<wsd:Types xmlns:dn="http://www.onvif.org/ver10/network/wsdl">dn:NetworkVideoTransmitter</wsd:Types>` +
		`<wsd:Scopes>onvif://www.onvif.org/type/Network_Video_Transmitter onvif://www.onvif.org/Profile/G ` +
		`onvif://www.onvif.org/manufacturer/AXIS onvif://www.onvif.org/hardware/M3045-V ` +
		`onvif://www.onvif.org/name/AXIS%20M3045-V onvif://www.onvif.org/location/Anna%27s%20flat</wsd:Scopes>` +
		`<wsd:XAddrs>http://192.168.1.20/onvif/device_service</wsd:XAddrs>` +
		`<wsd:MetadataVersion>1</wsd:MetadataVersion></wsd:Hello></s:Body></s:Envelope>`

	// A printer's Hello, as WSD printers announce (Types of the WS-Print
	// device profile).
	printerHello = hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello>` +
		`<wsa:EndpointReference><wsa:Address>urn:uuid:16a65700-007c-1000-bb49-3c2af4000001</wsa:Address></wsa:EndpointReference>` +
		`<d:Types xmlns:wprt="http://schemas.microsoft.com/windows/2006/08/wdp/print" ` +
		`xmlns:wscn="http://schemas.microsoft.com/windows/2006/08/wdp/scan">wsdp:Device wprt:PrintDeviceType wscn:ScanDeviceType</d:Types>` +
		`<d:XAddrs>http://192.168.1.30:80/WebServices/Device</d:XAddrs>` +
		`<d:MetadataVersion>3</d:MetadataVersion></d:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>`

	// Two matches in one ProbeMatches, the second with an XAddrs the
	// first lacks.
	twoProbeMatches = hdr2005 + `ProbeMatches</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches>` +
		`<d:ProbeMatch><d:Types>a:First</d:Types></d:ProbeMatch>` +
		`<d:ProbeMatch><d:Types>b:Second</d:Types><d:XAddrs>http://192.168.1.99/</d:XAddrs></d:ProbeMatch>` +
		`</d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`

	onvifProbe = hdr2005 + `Probe</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Probe>` +
		`<d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></SOAP-ENV:Body></SOAP-ENV:Envelope>`
)

func TestSynthetic(t *testing.T) {
	tests := []struct {
		name     string
		client   string // sender of packets
		server   string
		packets  []string
		fromPeer []string // datagrams the other side sends
		want     []map[string]string
		secrets  []string // never in an event
	}{
		{"onvif_probe_matches", "192.168.1.10:40000", "192.168.1.64:3702", nil, []string{hikvisionProbeMatches},
			[]map[string]string{{"message": "probe_matches", "types": "dn:NetworkVideoTransmitter tds:Device",
				"onvif_types": "video_encoder", "profiles": "Streaming", "hardware": "DS-2CD2142FWD-I", "name": "HIKVISION",
				"xaddrs_host": "192.168.1.64,[fe80::c256:e3ff:fe1a:2b3c%25eth0]", "addresses": "192.168.1.64,fe80::c256:e3ff:fe1a:2b3c",
				"-manufacturer": ""}},
			[]string{"hangzhou", "c0:56:e3:1a:2b:3c", "location", "ae0e7bd0"}},
		{"onvif_hello_wsd_1_1", "192.168.1.20:3702", "239.255.255.250:3702", []string{axisHello}, nil,
			[]map[string]string{{"message": "hello", "types": "dn:NetworkVideoTransmitter", "onvif_types": "Network_Video_Transmitter",
				"profiles": "G", "manufacturer": "AXIS", "hardware": "M3045-V", "name": "AXIS M3045-V",
				"xaddrs_host": "192.168.1.20", "addresses": "192.168.1.20"}},
			[]string{"Anna", "flat", "ignored"}},
		{"name_and_hardware_after_many_scopes", "192.168.1.21:3702", "239.255.255.250:3702",
			[]string{hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello><d:Scopes>` +
				`onvif://www.onvif.org/location/country/china onvif://www.onvif.org/type/Network_Video_Transmitter ` +
				`onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/type/audio_encoder onvif://www.onvif.org/type/ptz ` +
				`onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/Profile/G onvif://www.onvif.org/Profile/T ` +
				`onvif://www.onvif.org/extension/unique_identifier/1 onvif://www.onvif.org/name/Dahua ` +
				`onvif://www.onvif.org/hardware/IPC-HDW2431T-AS-S2</d:Scopes></d:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>`}, nil,
			[]map[string]string{{"name": "Dahua", "hardware": "IPC-HDW2431T-AS-S2", "profiles": "Streaming,G,T",
				"onvif_types": "Network_Video_Transmitter,video_encoder,audio_encoder,ptz"}}, []string{"china", "unique_identifier"}},
		// An escape that is not one ("%" typed by the owner, cut short)
		// stays as it is; the others are decoded.
		{"scope_escapes_decoded_one_by_one", "192.168.1.21:3702", "239.255.255.250:3702",
			[]string{hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello><d:Scopes>` +
				`onvif://www.onvif.org/name/IPC%20Camera%20100% onvif://www.onvif.org/hardware/DS%2D2CD2142FWD%2DI%zz ` +
				`onvif://www.onvif.org/location/country/china</d:Scopes></d:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>`}, nil,
			[]map[string]string{{"name": "IPC Camera 100%", "hardware": "DS-2CD2142FWD-I%zz"}}, []string{"china"}},
		// A scope URI ending in a slash names the same value: the
		// type still votes camera, the model has no slash.
		{"scope_trailing_slashes", "192.168.1.21:3702", "239.255.255.250:3702",
			[]string{hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello><d:Scopes>` +
				`onvif://www.onvif.org/type/video_encoder/ onvif://www.onvif.org/Profile/Streaming// ` +
				`onvif://www.onvif.org/hardware/DS-2CD2142FWD-I/ onvif://www.onvif.org/name/HIKVISION/ ` +
				`onvif://www.onvif.org/manufacturer/</d:Scopes></d:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>`}, nil,
			[]map[string]string{{"onvif_types": "video_encoder", "profiles": "Streaming", "hardware": "DS-2CD2142FWD-I",
				"name": "HIKVISION", "-manufacturer": ""}}, nil},
		{"printer_hello", "192.168.1.30:3702", "239.255.255.250:3702", []string{printerHello}, nil,
			[]map[string]string{{"message": "hello", "types": "wsdp:Device wprt:PrintDeviceType wscn:ScanDeviceType",
				"-onvif_types": "", "-name": ""}}, nil},
		{"probe_from_ephemeral_port", "192.168.1.10:53412", "239.255.255.250:3702", []string{onvifProbe}, nil,
			[]map[string]string{{"message": "probe", "types": "dn:NetworkVideoTransmitter", "-xaddrs_host": ""}}, nil},
		{"hello_burst_deduplicated", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{axisHello, axisHello, printerHello, axisHello}, nil,
			[]map[string]string{{"name": "AXIS M3045-V"}, {"types": "wsdp:Device wprt:PrintDeviceType wscn:ScanDeviceType"}}, nil},
		// Each match is filed under the sender, read as the first is;
		// the fields of one are not another's. One of several is a
		// discovery proxy's answer for the devices it knows as much as
		// the sender's own: each is marked several_hosts, for the
		// device layer to take it as the sender's only by an address
		// of its own (the first here has none, the second names
		// another device).
		{"every_match_read", "192.168.1.10:40000", "192.168.1.64:3702", nil, []string{twoProbeMatches},
			[]map[string]string{{"message": "probe_matches", "types": "a:First", "-xaddrs_host": "", "-addresses": "", "several_hosts": "yes"},
				{"message": "probe_matches", "types": "b:Second", "xaddrs_host": "192.168.1.99", "addresses": "192.168.1.99", "several_hosts": "yes"}}, nil},
		{"every_resolve_match_read", "192.168.1.10:40000", "192.168.1.64:3702", nil,
			[]string{strings.ReplaceAll(strings.ReplaceAll(twoProbeMatches, "ProbeMatches", "ResolveMatches"), "ProbeMatch>", "ResolveMatch>")},
			[]map[string]string{{"message": "resolve_matches", "types": "a:First", "-xaddrs_host": "", "several_hosts": "yes"},
				{"message": "resolve_matches", "types": "b:Second", "xaddrs_host": "192.168.1.99", "several_hosts": "yes"}}, nil},
		// The first match again, alone: now it may be the sender's.
		{"match_alone_after_several", "192.168.1.10:40000", "192.168.1.64:3702", nil,
			[]string{twoProbeMatches, strings.Replace(twoProbeMatches, `<d:ProbeMatch><d:Types>b:Second</d:Types><d:XAddrs>http://192.168.1.99/</d:XAddrs></d:ProbeMatch>`, "", 1), twoProbeMatches},
			[]map[string]string{{"types": "a:First", "several_hosts": "yes"}, {"types": "b:Second", "several_hosts": "yes"},
				{"types": "a:First", "-several_hosts": ""}}, nil},
		// A ProbeMatches of one match, however long, is the sender's
		// alone.
		{"one_match_is_no_several", "192.168.1.10:40000", "192.168.1.64:3702", nil, []string{hikvisionProbeMatches},
			[]map[string]string{{"message": "probe_matches", "hardware": "DS-2CD2142FWD-I", "-several_hosts": ""}}, nil},
		{"header_addresses_not_the_body", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello>` +
				`<d:Types>x:Y</d:Types></d:Hello></SOAP-ENV:Body>` +
				`<d:XAddrs>http://192.168.1.99/</d:XAddrs></SOAP-ENV:Envelope>`},
			nil, []map[string]string{{"types": "x:Y", "-xaddrs_host": ""}}, nil},
		{"userinfo_dropped_from_xaddrs", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello>` +
				`<d:XAddrs>http://admin:hunter2@192.168.1.20:8080/onvif/device_service</d:XAddrs></d:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>`},
			nil, []map[string]string{{"xaddrs_host": "192.168.1.20:8080", "addresses": "192.168.1.20"}}, []string{"hunter2", "admin"}},
		{"host_name_xaddrs_no_address", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello>` +
				`<d:XAddrs>http://printer.local:80/ws x</d:XAddrs></d:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>`},
			nil, []map[string]string{{"xaddrs_host": "printer.local:80", "-addresses": ""}}, nil},
		{"entities_and_attributes", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello x="a>b" y='>'>` +
				`<d:Types>a:B&#x20;c:D&amp;</d:Types><d:Scopes>onvif://www.onvif.org/name/A&amp;B&#233;&bogus; ` +
				"onvif://www.onvif.org/name/second onvif://www.onvif.org/hardware/\x1b[2Jx</d:Scopes>" +
				`</d:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>`},
			nil, []map[string]string{{"types": "a:B c:D&", "name": "A&Bé&bogus;", "hardware": "[2Jx"}}, nil},
		// A reference to no character (a surrogate, past U+10FFFF) is
		// no reference: it stays as it came, as anything unknown does.
		{"invalid_character_references_as_they_came", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello>` +
				`<d:Scopes>onvif://www.onvif.org/name/Cam&#xD800;X&#x110000;</d:Scopes>` +
				`</d:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>`},
			nil, []map[string]string{{"name": "Cam&#xD800;X&#x110000;"}}, nil},
		{"unknown_action_is_not_wsd", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{strings.Replace(printerHello, "discovery/Hello", "discovery/Hallo", 1),
				strings.Replace(printerHello, "discovery/Hello", "discoveryx/Hello", 1)}, nil, nil, nil},
		{"body_action_is_not_the_header_one", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{`<s:Envelope><s:Body><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</wsa:Action></s:Body></s:Envelope>`},
			nil, nil, nil},
		{"other_soap_is_not_wsd", "192.168.1.10:40000", "192.168.1.20:80",
			[]string{`<s:Envelope><s:Header><a:Action>http://www.onvif.org/ver10/device/wsdl/GetDeviceInformation</a:Action></s:Header></s:Envelope>`},
			nil, nil, nil},
		{"no_envelope_first", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{`<x><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hello</a:Action></x>`}, nil, nil, nil},
		{"ssdp_on_the_port", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\n\r\n"}, nil, nil, nil},
		{"truncated", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{axisHello[:300], axisHello[:strings.Index(axisHello, "Profile/G")]}, nil,
			[]map[string]string{{"message": "hello", "-types": ""}, {"message": "hello", "types": "dn:NetworkVideoTransmitter",
				"onvif_types": "Network_Video_Transmitter", "-profiles": ""}}, nil},
		// A datagram a capture's snaplen cut inside an element: its last
		// item may be cut short ("M3045-V" as "M30", 192.168.1.20 as
		// another device's 192.168.1.2), so only the items before it
		// count, and an Action cut short names nothing.
		{"cut_inside_a_value", "192.168.1.20:3702", "239.255.255.250:3702",
			[]string{axisHello[:strings.Index(axisHello, "M3045-V ")+3],
				printerHello[:strings.Index(printerHello, "192.168.1.30")+11],
				strings.Replace(onvifProbe, "Probe</wsa:Action>", "ProbeMatches</wsa:Action>", 1)[:strings.Index(onvifProbe, "Probe</wsa:Action>")+5]},
			nil, []map[string]string{{"message": "hello", "manufacturer": "AXIS", "profiles": "G", "-hardware": ""},
				{"message": "hello", "types": "wsdp:Device wprt:PrintDeviceType wscn:ScanDeviceType", "-xaddrs_host": "", "-addresses": ""}}, nil},
		{"garbage", "192.168.1.20:3702", "239.255.255.250:3702", []string{"\x00\x01<", "<", "<<>>", "< a", "<!--"}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewUDP(e, tt.client, tt.server)
			for _, p := range tt.packets {
				c.Client(p)
			}
			for _, p := range tt.fromPeer {
				c.Server(p)
			}
			e.Flush()
			if len(col.Events) != len(tt.want) {
				var got []event.Evidence
				for _, e := range col.Events {
					got = append(got, e.Evidence)
				}
				t.Fatalf("got %d events, want %d: %v", len(col.Events), len(tt.want), got)
			}
			for i, w := range tt.want {
				checkEvidence(t, tt.name, col.Events[i], w)
			}
			for _, s := range tt.secrets {
				if inspecttest.Leaks(t, col.Events, s) {
					t.Errorf("%q reached an event", s)
				}
			}
			sender := tt.client
			if len(tt.packets) == 0 {
				sender = tt.server
			}
			for _, ev := range col.Events {
				if !strings.HasPrefix(sender, ev.Device.IP+":") || ev.Flow.App != "wsd" {
					t.Errorf("device %v app %q, want the sender %s, wsd", ev.Device, ev.Flow.App, sender)
				}
				for k, v := range ev.Evidence {
					if len(v) > maxValue {
						t.Errorf("%s: %d bytes", k, len(v))
					}
				}
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name           string
		tcp            bool
		client, server string
		dir            inspect.Dir
		payload        string
		want           inspect.Confidence
	}{
		{"probe_matches_between_ephemeral_ports", false, "192.168.1.10:40000", "192.168.1.64:45000", inspect.ToClient,
			hikvisionProbeMatches, inspect.ContentMatch},
		{"hello_from_ephemeral_port", false, "192.168.1.20:51744", "239.255.255.250:3702", inspect.ToServer,
			axisHello, inspect.ContentMatch},
		{"garbage_on_the_port", false, "192.168.1.10:40000", "239.255.255.250:3702", inspect.ToServer,
			"\x00\x01", inspect.PortMatch},
		{"garbage_elsewhere", false, "192.168.1.10:40000", "192.168.1.64:45000", inspect.ToServer,
			"<x/>", inspect.NoMatch},
		{"tcp", true, "192.168.1.10:40000", "192.168.1.64:3702", inspect.ToServer, axisHello, inspect.NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := inspecttest.FirstMatch(t, New(), tt.tcp, tt.client, tt.server, tt.dir, []byte(tt.payload))
			if got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReportsBounded(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewUDP(e, "192.168.1.20:3702", "239.255.255.250:3702")
	for i := range 3 * maxReports {
		c.Client(strings.Replace(printerHello, "wsdp:Device", "wsdp:Device"+strings.Repeat("x", i), 1))
	}
	e.Flush()
	if len(col.Events) != maxReports {
		t.Errorf("got %d events, want the bound %d", len(col.Events), maxReports)
	}
}

// manyProbeMatches is a ProbeMatches of n matches, each of its own type.
func manyProbeMatches(n int) string {
	var b strings.Builder
	b.WriteString(hdr2005 + `ProbeMatches</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches>`)
	for i := range n {
		fmt.Fprintf(&b, `<d:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:%d</wsa:Address></wsa:EndpointReference>`+
			`<d:Types>x:T%d</d:Types><d:Scopes>onvif://www.onvif.org/type/t%d</d:Scopes>`+
			`<d:XAddrs>http://192.168.1.64:%d/</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch>`, i, i, i, 8000+i)
	}
	b.WriteString(`</d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>`)
	return b.String()
}

// TestMatchesBounded: of a ProbeMatches the first maxMatches matches
// are read, each of them whole, and no more.
func TestMatchesBounded(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.64:3702").Server(manyProbeMatches(maxMatches + 3))
	e.Flush()
	if len(col.Events) != maxMatches {
		t.Fatalf("got %d events, want the bound %d", len(col.Events), maxMatches)
	}
	for i, ev := range col.Events {
		inspecttest.CheckEvidence(t, fmt.Sprint("match ", i), ev.Evidence, map[string]string{
			"message": "probe_matches", "types": fmt.Sprint("x:T", i), "onvif_types": fmt.Sprint("t", i), "several_hosts": "yes",
			"xaddrs_host": fmt.Sprint("192.168.1.64:", 8000+i), "addresses": "192.168.1.64"})
		if ev.Device.IP != "192.168.1.64" {
			t.Errorf("match %d: about %s, want the sender", i, ev.Device.IP)
		}
	}
}

// TestValuesBounded: long values and lists are cut to maxValue and
// maxItems.
func TestValuesBounded(t *testing.T) {
	long := strings.Repeat("a", 3*maxValue)
	var scopes, types []string
	for i := range 3 * maxItems {
		types = append(types, "x:T"+strings.Repeat("z", i))
	}
	for i := range maxScopes {
		scopes = append(scopes, "onvif://www.onvif.org/type/t"+strings.Repeat("y", i%5))
	}
	msg := hdr2005 + `Hello</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body><d:Hello>` +
		`<d:Types>` + strings.Join(types, " ") + `</d:Types>` +
		`<d:Scopes>` + strings.Join(scopes, " ") + ` onvif://www.onvif.org/name/` + long + `</d:Scopes>` +
		`<d:XAddrs>http://` + long + `/</d:XAddrs></d:Hello></SOAP-ENV:Body></SOAP-ENV:Envelope>`
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	inspecttest.NewUDP(e, "192.168.1.20:3702", "239.255.255.250:3702").Client(msg)
	e.Flush()
	if len(col.Events) != 1 {
		t.Fatalf("got %d events, want 1", len(col.Events))
	}
	ev := col.Events[0].Evidence
	for k, v := range ev {
		if len(v) > maxValue {
			t.Errorf("%s: %d bytes, want at most %d", k, len(v), maxValue)
		}
	}
	if n := len(strings.Fields(ev["types"])); n != maxItems {
		t.Errorf("%d types, want %d", n, maxItems)
	}
	if n := len(strings.Split(ev["onvif_types"], ",")); n != maxItems {
		t.Errorf("%d type scopes, want %d", n, maxItems)
	}
	if ev["name"] != "" {
		t.Errorf("name %q: a name past the first %d scopes is not read", ev["name"], maxScopes)
	}
}

func TestRepeatDoesNotAllocate(t *testing.T) {
	col := &inspecttest.Collector{}
	p := &inspecttest.Probe{Protocol: New()}
	e := inspecttest.Engine(t, col, nil, p)
	inspecttest.NewUDP(e, "192.168.1.20:3702", "239.255.255.250:3702").Client(axisHello)
	f, a := p.Last()
	b := []byte(axisHello)
	if n := testing.AllocsPerRun(100, func() { a.Feed(f, inspect.ToServer, b) }); n != 0 {
		t.Errorf("%v allocations per repeated Hello, want 0", n)
	}
	if len(col.Events) != 1 {
		t.Errorf("got %d events, want 1", len(col.Events))
	}
	inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.64:3702").Server(twoProbeMatches)
	f, a = p.Last()
	b = []byte(twoProbeMatches)
	if n := testing.AllocsPerRun(100, func() { a.Feed(f, inspect.ToClient, b) }); n != 0 {
		t.Errorf("%v allocations per repeated ProbeMatches of two matches, want 0", n)
	}
	if len(col.Events) != 3 {
		t.Errorf("got %d events, want 3", len(col.Events))
	}
	var m message
	// Element names longer than a string conversion's stack buffer (32
	// bytes): vendor extensions, or anyone's datagram.
	long := strings.Repeat("x", 40)
	longNames := "<s:Envelope" + long + "/>" + strings.Replace(printerHello, "<d:Hello>",
		"<d:Hello><d:"+long+">a</d:"+long+"><"+long+"/>", 1)
	for _, s := range []string{hikvisionProbeMatches, twoProbeMatches, manyProbeMatches(3 * maxMatches), printerHello, onvifProbe, "<x/>", longNames,
		strings.Replace(longNames, "<s:Envelope"+long+"/>", "", 1)} {
		b := []byte(s)
		if n := testing.AllocsPerRun(100, func() { parse(b, &m) }); n != 0 {
			t.Errorf("%v allocations parsing %.40q, want 0", n, s)
		}
	}
}

func BenchmarkParseProbeMatches(b *testing.B) {
	data := []byte(hikvisionProbeMatches)
	var m message
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if !parse(data, &m) {
			b.Fatal("not parsed")
		}
	}
}

func FuzzDatagram(f *testing.F) {
	for _, s := range []string{hikvisionProbeMatches, twoProbeMatches, axisHello, printerHello, onvifProbe, "<a:Envelope><!--"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		c := inspecttest.NewUDP(e, "192.168.1.20:3702", "239.255.255.250:3702").ClientBytes(b)
		once := len(col.Events)
		c.ClientBytes(b)
		e.Flush()
		if once > maxMatches || len(col.Events) != once {
			t.Fatalf("%d events from one datagram, %d from it sent twice", once, len(col.Events))
		}
		for _, ev := range col.Events {
			for k, v := range ev.Evidence {
				if len(v) > maxValue {
					t.Fatalf("%s: %d bytes", k, len(v))
				}
			}
			if len(strings.Split(ev.Evidence["xaddrs_host"], ",")) > maxItems {
				t.Fatalf("xaddrs_host %q: more than %d", ev.Evidence["xaddrs_host"], maxItems)
			}
		}
	})
}

// FuzzParse: whatever the bytes, parse allocates nothing, names a known
// message when it says it read one, and keeps fields that are an
// element's trimmed text: no markup, no surrounding white space.
func FuzzParse(f *testing.F) {
	for _, s := range []string{hikvisionProbeMatches, axisHello, printerHello, onvifProbe, "<a:Envelope x='>'><![CDATA[<",
		"<s:Envelope><s:Header><a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Hel",
		"<s:Envelope><s:" + strings.Repeat("Header", 8) + "/>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m message
		if n := testing.AllocsPerRun(1, func() { parse(b, &m) }); n != 0 {
			t.Fatalf("%v allocations", n)
		}
		if !parse(b, &m) {
			return
		}
		if m.kind < kindHello || m.kind > kindResolveMatches {
			t.Fatalf("kind %d", m.kind)
		}
		if m.n < 1 || m.n > maxMatches {
			t.Fatalf("%d matches", m.n)
		}
		for _, mt := range m.matches[:m.n] {
			for _, field := range [][]byte{mt.endpoint, mt.types, mt.scopes, mt.xaddrs} {
				if bytes.IndexByte(field, '<') >= 0 || !bytes.Equal(field, bytes.TrimSpace(field)) {
					t.Fatalf("field %q is no element's trimmed text", field)
				}
			}
		}
	})
}
