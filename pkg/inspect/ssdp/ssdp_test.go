package ssdp

import (
	"strconv"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

func TestCorpus(t *testing.T) {
	tests := []struct {
		file string
		want []map[string]string
	}{
		{"sv-sip-ssdp-pm-ssdp.pcap", []map[string]string{{
			"message":       "notify",
			"server":        "UPnP/Tomato 1.28.7500 MIPSR2Toastman-RT K26 USB Ext UPnP/1.0 MiniUPnPd/1.6",
			"location":      "http://192.168.1.1:7406/rootDesc.xml",
			"location_host": "192.168.1.1:7406",
			"nt":            "upnp:rootdevice",
			"nts":           "ssdp:alive",
			"usn":           "uuid:04645c3d-e6b4-4eea-bd35-5c320c12969f::upnp:rootdevice",
		}}},
		// Not SSDP: DNS, mDNS and DHCP captures.
		{"zeek-dns-mdns.pcap", nil},
		{"zeek-pcapng-multi-interface.pcapng", nil},
		{"arkime-wireshark-dhcp.pcap", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			evs := c.Kind(event.KindSSDP)
			checkEvents(t, evs, tt.want)
			for _, e := range evs {
				if e.Device.IP != "192.168.1.1" || e.Flow.App != "ssdp" {
					t.Errorf("device %v app %q, want the router announcing, app ssdp", e.Device, e.Flow.App)
				}
			}
		})
	}
}

func checkEvents(t *testing.T, got []*event.Event, want []map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		var ev []event.Evidence
		for _, e := range got {
			ev = append(ev, e.Evidence)
		}
		t.Fatalf("got %d events, want %d: %v", len(got), len(want), ev)
	}
	for i, w := range want {
		e := got[i]
		if e.Kind != event.KindSSDP || e.Type != event.TypeObservation || e.Severity != event.SeverityInfo {
			t.Errorf("event %d: %s %s %s, want an SSDP observation", i, e.Type, e.Kind, e.Severity)
		}
		inspecttest.CheckEvidence(t, "event "+strconv.Itoa(i), e.Evidence, w)
	}
}

const (
	notifyRoot = "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n" +
		"LOCATION: http://192.168.1.50:49152/description.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n" +
		"SERVER: Linux/3.10 UPnP/1.0 IpBridge/1.50.0\r\nUSN: uuid:2f402f80-da50-11e1-9b23-001788112233::upnp:rootdevice\r\n\r\n"
	notifyUUID = "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n" +
		"LOCATION: http://192.168.1.50:49152/description.xml\r\nNT: uuid:2f402f80-da50-11e1-9b23-001788112233\r\nNTS: ssdp:alive\r\n" +
		"SERVER: Linux/3.10 UPnP/1.0 IpBridge/1.50.0\r\nUSN: uuid:2f402f80-da50-11e1-9b23-001788112233\r\n\r\n"
	msearch = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\n" +
		"ST: urn:dial-multiscreen-org:service:dial:1\r\nUSER-AGENT: Google Chrome/120.0.6099.109 Linux\r\n\r\n"
	response = "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nEXT:\r\n" +
		"LOCATION: http://192.168.1.60:8008/ssdp/device-desc.xml\r\nSERVER: Linux/3.8.13+, UPnP/1.0, Portable SDK for UPnP devices/1.6.18\r\n" +
		"ST: urn:dial-multiscreen-org:service:dial:1\r\nUSN: uuid:3e1cc7c8-f6d1-4c59-9b7a-000000000001::urn:dial-multiscreen-org:service:dial:1\r\n\r\n"
)

func TestSynthetic(t *testing.T) {
	tests := []struct {
		name     string
		client   string // sender of the datagrams
		server   string
		packets  []string
		fromPeer []string // datagrams the other side sends
		want     []map[string]string
	}{
		{"notify_burst_deduplicated", "192.168.1.50:1900", "239.255.255.250:1900",
			[]string{notifyRoot, notifyUUID, notifyRoot, notifyUUID}, nil,
			[]map[string]string{
				{"message": "notify", "nt": "upnp:rootdevice", "server": "Linux/3.10 UPnP/1.0 IpBridge/1.50.0", "location_host": "192.168.1.50:49152"},
				{"message": "notify", "nt": "uuid:2f402f80-da50-11e1-9b23-001788112233"},
			}},
		{"msearch_from_ephemeral_port", "192.168.1.10:53412", "239.255.255.250:1900", []string{msearch}, nil,
			[]map[string]string{{"message": "msearch", "st": "urn:dial-multiscreen-org:service:dial:1",
				"user_agent": "Google Chrome/120.0.6099.109 Linux", "-server": "", "-location": ""}}},
		{"unicast_response_between_ephemeral_ports", "192.168.1.10:53412", "192.168.1.60:32768", nil, []string{response},
			[]map[string]string{{"message": "response", "location": "http://192.168.1.60:8008/ssdp/device-desc.xml",
				"location_host": "192.168.1.60:8008", "st": "urn:dial-multiscreen-org:service:dial:1"}}},
		{"byebye_without_location", "192.168.1.50:1900", "239.255.255.250:1900",
			[]string{"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:byebye\r\nUSN: uuid:x::upnp:rootdevice\r\n\r\n"}, nil,
			[]map[string]string{{"nts": "ssdp:byebye", "-location": "", "-location_host": ""}}},
		{"header_case_and_spacing", "192.168.1.50:1900", "239.255.255.250:1900",
			[]string{"notify * http/1.1\nlocation:http://[fe80::1]:80/d.xml\nSt : ignored-on-notify\nnt:   a  \n\n"}, nil,
			[]map[string]string{{"location": "http://[fe80::1]:80/d.xml", "location_host": "[fe80::1]:80", "nt": "a"}}},
		{"no_final_line_end", "192.168.1.50:1900", "239.255.255.250:1900",
			[]string{"NOTIFY * HTTP/1.1\r\nNT: b\r\nUSN: uuid:y"}, nil,
			[]map[string]string{{"nt": "b", "usn": "uuid:y"}}},
		{"first_header_wins", "192.168.1.50:1900", "239.255.255.250:1900",
			[]string{"NOTIFY * HTTP/1.1\r\nSERVER: real\r\nSERVER: spoof\r\n\r\n"}, nil,
			[]map[string]string{{"server": "real"}}},
		{"location_query_kept_for_the_fetch", "192.168.1.50:1900", "239.255.255.250:1900",
			[]string{"NOTIFY * HTTP/1.1\r\nLOCATION: http://192.168.1.50:80/d.xml?key=1\r\nSERVER: x token=abc\r\n\r\n"}, nil,
			[]map[string]string{{"location": "http://192.168.1.50:80/d.xml?key=1", "server": "x token=***"}}},
		{"userinfo_dropped_from_location", "192.168.1.50:1900", "239.255.255.250:1900",
			[]string{"NOTIFY * HTTP/1.1\r\nLOCATION: http://admin:hunter2@192.168.1.50:80/d.xml\r\n\r\n"}, nil,
			[]map[string]string{{"location": "http://192.168.1.50:80/d.xml", "location_host": "192.168.1.50:80"}}},
		{"control_chars_made_printable", "192.168.1.50:1900", "239.255.255.250:1900",
			[]string{"NOTIFY * HTTP/1.1\r\nSERVER: a\x1b[2Jb\r\n\r\n"}, nil,
			[]map[string]string{{"server": "a.[2Jb"}}},
		{"http_200_without_st_or_usn_is_not_ssdp", "192.168.1.10:40000", "192.168.1.60:40001", nil,
			[]string{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}, nil},
		{"sip_notify_is_not_ssdp", "192.168.1.10:5060", "192.168.1.20:5060",
			[]string{"NOTIFY sip:alice@example.com SIP/2.0\r\nEvent: presence\r\n\r\n"}, nil, nil},
		{"sip_response_is_not_ssdp", "192.168.1.10:5060", "192.168.1.20:5060", nil,
			[]string{"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP x\r\n\r\n"}, nil},
		{"garbage_on_ssdp_port", "192.168.1.50:1900", "239.255.255.250:1900", []string{"\x00\x01\x02"}, nil, nil},
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
			checkEvents(t, col.Events, tt.want)
			if inspecttest.Leaks(t, col.Events, "hunter2") {
				t.Error("a password in LOCATION reached an event")
			}
			for _, ev := range col.Events {
				sender := tt.client
				if len(tt.packets) == 0 {
					sender = tt.server
				}
				if !strings.HasPrefix(sender, ev.Device.IP+":") {
					t.Errorf("device %v, want the sender %s", ev.Device, sender)
				}
			}
		})
	}
}

func TestReportsBounded(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewUDP(e, "192.168.1.50:1900", "239.255.255.250:1900")
	for i := range 3 * maxReports {
		c.Client("NOTIFY * HTTP/1.1\r\nNT: t\r\nUSN: uuid:" + strings.Repeat("x", i) + "\r\n\r\n")
	}
	e.Flush()
	if len(col.Events) != maxReports {
		t.Errorf("got %d events, want the bound %d", len(col.Events), maxReports)
	}
}

func TestRepeatDoesNotAllocate(t *testing.T) {
	col := &inspecttest.Collector{}
	p := &inspecttest.Probe{Protocol: New()}
	e := inspecttest.Engine(t, col, nil, p)
	inspecttest.NewUDP(e, "192.168.1.50:1900", "239.255.255.250:1900").Client(notifyRoot)
	f, a := p.Last()
	b := []byte(notifyRoot)
	if n := testing.AllocsPerRun(100, func() { a.Feed(f, inspect.ToServer, b) }); n != 0 {
		t.Errorf("%v allocations per repeated NOTIFY, want 0", n)
	}
	if len(col.Events) != 1 {
		t.Errorf("got %d events, want 1", len(col.Events))
	}
}

func BenchmarkParseNotify(b *testing.B) {
	data := []byte(notifyRoot)
	var m message
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if !parse(data, &m) {
			b.Fatal("not parsed")
		}
	}
}

func BenchmarkFeedRepeatedNotify(b *testing.B) {
	p := &inspecttest.Probe{Protocol: New()}
	e := inspecttest.Engine(b, &inspecttest.Collector{}, nil, p)
	inspecttest.NewUDP(e, "192.168.1.50:1900", "239.255.255.250:1900").Client(notifyRoot)
	f, a := p.Last()
	data := []byte(notifyRoot)
	b.ReportAllocs()
	for b.Loop() {
		a.Feed(f, inspect.ToServer, data)
	}
}

func FuzzDatagram(f *testing.F) {
	for _, s := range []string{notifyRoot, msearch, response, "NOTIFY * HTTP/1.1\r\nLOCATION: http://a:b@c/\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		inspecttest.NewUDP(e, "192.168.1.50:1900", "239.255.255.250:1900").ClientBytes(b).ClientBytes(b)
		e.Flush()
		if len(col.Events) > 1 {
			t.Fatalf("%d events from one datagram sent twice", len(col.Events))
		}
		for _, ev := range col.Events {
			for k, v := range ev.Evidence {
				if len(v) > maxValue {
					t.Fatalf("%s: %d bytes", k, len(v))
				}
			}
		}
	})
}
