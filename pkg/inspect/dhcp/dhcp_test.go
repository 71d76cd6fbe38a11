package dhcp

import (
	"bytes"
	"encoding/binary"
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
		// want lists the reported messages in order, each as the evidence
		// it must carry (a subset); "-key" asserts the key is absent.
		want []map[string]string
	}{
		{"arkime-wireshark-dhcp.pcap", []map[string]string{
			{"message_type": "discover", "client_mac": "00:0b:82:01:fc:42", "prl": "1,3,6,42", "client_id": "01000b8201fc42", "-hostname": "", "-requested_ip": ""},
			{"message_type": "request", "client_mac": "00:0b:82:01:fc:42", "prl": "1,3,6,42", "requested_ip": "192.168.0.10", "server_id": "192.168.0.1"},
			{"message_type": "ack", "client_mac": "00:0b:82:01:fc:42", "assigned_ip": "192.168.0.10", "-relay_ip": ""},
		}},
		{"zeek-dhcp-discover_param_req_and_client_id.pcap", []map[string]string{
			{"message_type": "discover", "client_mac": "00:0b:82:01:fc:42", "hostname": "test0000", "requested_ip": "208.67.222.222", "prl": "1,3,6,42"},
		}},
		{"zeek-dhcp-dhcp.pcap", []map[string]string{
			{"message_type": "discover", "client_mac": "90:b1:1c:99:49:29", "hostname": "btest.is.cool", "xid": "000007c0"},
			{"message_type": "request", "requested_ip": "192.168.211.194"},
			{"message_type": "request", "requested_ip": "128.2.6.189"},
			{"message_type": "ack", "assigned_ip": "128.2.6.189", "domain": "cmu.edu", "-vendor_class": ""},
			{"message_type": "decline"},
			{"message_type": "release"},
			{"message_type": "inform", "hostname": "btest.is.cool"},
		}},
		{"zeek-dhcp-inform.pcap", []map[string]string{
			{"message_type": "inform", "client_mac": "90:b1:1c:99:49:29", "client_ip": "128.2.6.122"},
		}},
		{"sv-dhcp-eve-extended.pcap", []map[string]string{
			{"message_type": "request", "client_mac": "00:11:32:17:49:f0", "hostname": "nas1", "prl": "1,28,2,3,15,6,12"},
			{"message_type": "ack", "assigned_ip": "10.16.1.4"},
		}},
		{"sv-dhcp-eve-extended-option-60.pcap", []map[string]string{
			{"message_type": "request", "client_mac": "28:cf:da:dc:8d:76", "hostname": "NicksMacBook", "fqdn": "NicksMacBook",
				"vendor_class": "MSFT 5.0", "prl": "1,15,3,6,44,46,47,31,33,121,249,43"},
		}},
		// Packets 1-2 and 5-6 are duplicates: one report each. Packet 7's
		// ACK carries router and DNS server in the overloaded sname field;
		// packet 8 is a second ACK with them inline.
		{"sv-dhcp-option-52-overload.pcap", []map[string]string{
			{"message_type": "discover", "client_mac": "92:dd:a4:8d:5f:de", "vendor_class": "udhcp 1.36.1", "max_msg_size": "576"},
			{"message_type": "request", "vendor_class": "udhcp 1.36.1", "requested_ip": "10.100.0.50"},
			{"message_type": "ack", "assigned_ip": "10.100.0.50", "router": "10.100.0.2", "dns_servers": "10.100.0.2", "domain": "evil.corp"},
			{"message_type": "ack", "assigned_ip": "10.100.0.50", "router": "10.100.0.1", "dns_servers": "10.100.0.1", "domain": "legit.local"},
		}},
		{"tcpdump-dhcp-mud.pcap", []map[string]string{
			{"message_type": "request", "client_mac": "b8:27:eb:b8:53:c8", "hostname": "raspberrypi",
				"vendor_class": "dhcpcd-6.11.5:Linux-4.1.18-v7+:armv7l:BCM2709",
				"mud_url":      "https://mudctl.example.com/.well-known/mud/v1/rasbp101",
				"relay_ip":     "62.12.173.121", "max_msg_size": "1472"},
			// Sent to the relay agent, not to the client.
			{"message_type": "ack", "client_mac": "b8:27:eb:b8:53:c8", "assigned_ip": "62.12.173.123", "relay_ip": "62.12.173.121"},
		}},
		{"tcpdump-dhcp-rfc3004.pcap", []map[string]string{
			{"message_type": "discover", "client_mac": "00:0c:29:1f:74:06", "user_class": "subopt1,subopt2-123456789,subopt3-12"},
			{"message_type": "request", "user_class": "subopt1,subopt2-123456789,subopt3-12"},
			{"message_type": "ack", "assigned_ip": "192.168.1.4"},
		}},
		{"tcpdump-bootp_asan.pcap", nil},
		{"tcpdump-bootp_asan-2.pcap", nil},
		// Only xid 0x1000 and 0x3000 have the DHCP cookie; the three bad
		// cookie packets between them must not be reported at all.
		{"zeek-dhcp-bad_cookie_option_retention.pcap", []map[string]string{
			{"xid": "00001000", "message_type": "discover"},
			{"xid": "00003000", "message_type": "discover"},
		}},
		{"zeek-pppoe.pcap", []map[string]string{
			{"protocol": "dhcpv6", "message_type": "solicit", "client_duid": "00030001cc050e880000", "client_mac": "cc:05:0e:88:00:00", "oro": "25,23,24"},
			{"protocol": "dhcpv6", "message_type": "request", "client_mac": "cc:05:0e:88:00:00"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			// Only this package's events: the engine reports others (PPP
			// logins in the PPPoE capture).
			evs := c.Kind(event.KindDHCP)
			if len(evs) != len(tt.want) {
				t.Fatalf("got %d events, want %d: %v", len(evs), len(tt.want), evidenceOf(evs))
			}
			for i, ev := range evs {
				checkObservation(t, ev)
				inspecttest.CheckEvidence(t, "event "+strconv.Itoa(i), ev.Evidence, tt.want[i])
			}
		})
	}
}

func evidenceOf(evs []*event.Event) []event.Evidence {
	var out []event.Evidence
	for _, e := range evs {
		out = append(out, e.Evidence)
	}
	return out
}

func checkObservation(t *testing.T, ev *event.Event) {
	t.Helper()
	if ev.Type != event.TypeObservation || ev.Kind != event.KindDHCP || ev.Severity != event.SeverityInfo {
		t.Errorf("event %s/%s/%s, want a DHCP observation", ev.Type, ev.Kind, ev.Severity)
	}
}

// v4Packet builds a DHCPv4 datagram: a BOOTP header with chaddr
// 02:00:00:00:00:aa and xid 0x01020304, then the cookie and the options
// (already encoded, without the end option, which it appends).
type v4Packet struct {
	op      byte
	cookie  []byte
	sname   []byte
	file    []byte
	options []byte
	noEnd   bool
}

func (p v4Packet) bytes() []byte {
	b := make([]byte, v4OffOptions)
	b[0] = p.op
	if b[0] == 0 {
		b[0] = bootRequest
	}
	b[1], b[2] = 1, 6
	binary.BigEndian.PutUint32(b[4:], 0x01020304)
	copy(b[v4OffChaddr:], []byte{2, 0, 0, 0, 0, 0xaa})
	copy(b[v4OffSname:v4OffSname+v4SnameLen], p.sname)
	copy(b[v4OffFile:v4OffFile+v4FileLen], p.file)
	cookie := p.cookie
	if cookie == nil {
		cookie = binary.BigEndian.AppendUint32(nil, magicCookie)
	}
	copy(b[v4OffCookie:], cookie)
	b = append(b, p.options...)
	if !p.noEnd {
		b = append(b, optEnd)
	}
	return b
}

func opt(code byte, v ...byte) []byte { return append([]byte{code, byte(len(v))}, v...) }

func optS(code byte, s string) []byte { return opt(code, []byte(s)...) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var request = opt(optMessageType, msgRequest)

func TestSyntheticV4(t *testing.T) {
	tests := []struct {
		name string
		pkt  v4Packet
		want map[string]string // nil: no event
	}{
		{"hostname_trailing_nuls", v4Packet{options: cat(request, optS(optHostname, "cam\x00\x00"))},
			map[string]string{"hostname": "cam", "client_mac": "02:00:00:00:00:aa", "xid": "01020304"}},
		{"hostname_control_chars", v4Packet{options: cat(request, optS(optHostname, "a\x1b[31mb"))},
			map[string]string{"hostname": "a.[31mb"}},
		{"bad_cookie", v4Packet{cookie: []byte{1, 2, 3, 4}, options: cat(request, optS(optHostname, "x"))}, nil},
		{"no_message_type_is_bootp", v4Packet{options: optS(optHostname, "x")}, nil},
		{"server_offer_skipped", v4Packet{op: bootReply, options: opt(optMessageType, 2)}, nil},
		{"ack_without_address_skipped", v4Packet{op: bootReply, options: opt(optMessageType, msgAck)}, nil},
		{"unknown_op", v4Packet{op: 3, options: request}, nil},
		{"overload_file", v4Packet{
			options: cat(request, opt(optOverload, 1)),
			file:    cat(optS(optHostname, "in-file"), []byte{optEnd}),
		}, map[string]string{"hostname": "in-file"}},
		{"overload_both_file_first", v4Packet{
			options: cat(request, opt(optOverload, 3)),
			file:    cat(optS(optVendorClass, "from-file"), []byte{optEnd}),
			sname:   cat(optS(optVendorClass, "from-sname"), optS(optHostname, "sname-host"), []byte{optEnd}),
		}, map[string]string{"vendor_class": "from-file", "hostname": "sname-host"}},
		{"overload_not_set_ignores_sname", v4Packet{
			options: request,
			sname:   cat(optS(optHostname, "ghost"), []byte{optEnd}),
		}, map[string]string{"-hostname": ""}},
		{"overload_inside_file_ignored", v4Packet{
			options: cat(request, opt(optOverload, 1)),
			file:    cat(opt(optOverload, 2), []byte{optEnd}),
			sname:   cat(optS(optHostname, "ghost"), []byte{optEnd}),
		}, map[string]string{"-hostname": ""}},
		{"pad_options", v4Packet{options: cat([]byte{0, 0, 0}, request, []byte{0}, optS(optHostname, "pad"))},
			map[string]string{"hostname": "pad"}},
		{"truncated_option_keeps_earlier", v4Packet{options: cat(request, optS(optHostname, "ok"), []byte{optVendorClass, 40, 'x'}), noEnd: true},
			map[string]string{"hostname": "ok", "-vendor_class": ""}},
		{"options_after_end_ignored", v4Packet{options: cat(request, []byte{optEnd}, optS(optHostname, "late"))},
			map[string]string{"-hostname": ""}},
		{"first_message_type_wins", v4Packet{options: cat(opt(optMessageType, msgInform), request)},
			map[string]string{"message_type": "inform"}},
		{"unknown_message_type", v4Packet{options: opt(optMessageType, 200)},
			map[string]string{"message_type": "type_200"}},
		{"user_class_plain_string", v4Packet{options: cat(request, optS(optUserClass, "MSFT 5.0"))},
			map[string]string{"user_class": "MSFT 5.0"}},
		{"fqdn_wire_format", v4Packet{options: cat(request, opt(optClientFQDN, []byte{0x05, 0, 0, 3, 'c', 'a', 'm', 4, 'h', 'o', 'm', 'e', 0}...))},
			map[string]string{"fqdn": "cam.home"}},
		{"fqdn_ascii", v4Packet{options: cat(request, opt(optClientFQDN, append([]byte{0x01, 0, 0}, "tv.lan."...)...))},
			map[string]string{"fqdn": "tv.lan"}},
		{"fqdn_wire_malformed", v4Packet{options: cat(request, opt(optClientFQDN, 0x04, 0, 0, 9, 'a'))},
			map[string]string{"-fqdn": ""}},
		{"vendor_specific_hex", v4Packet{options: cat(request, opt(optVendorSpecific, 1, 2, 0xab, 0xcd))},
			map[string]string{"vendor_specific": "0102abcd"}},
		{"requested_ip_bad_length", v4Packet{options: cat(request, opt(optRequestedIP, 10, 0, 0))},
			map[string]string{"-requested_ip": ""}},
		{"max_msg_size", v4Packet{options: cat(request, opt(optMaxMsgSize, 0x05, 0xc0))},
			map[string]string{"max_msg_size": "1472"}},
		{"client_id_bounded", v4Packet{options: cat(request, opt(optClientID, bytes.Repeat([]byte{0xee}, 200)...))},
			map[string]string{"client_id": strings.Repeat("ee", maxHexBytes)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewUDP(e, "0.0.0.0:68", "255.255.255.255:67")
			c.ClientBytes(tt.pkt.bytes())
			e.Flush()
			if tt.want == nil {
				if len(col.Events) != 0 {
					t.Fatalf("got %v, want no event", evidenceOf(col.Events))
				}
				return
			}
			if len(col.Events) != 1 {
				t.Fatalf("got %d events, want 1", len(col.Events))
			}
			checkObservation(t, col.Events[0])
			inspecttest.CheckEvidence(t, "event", col.Events[0].Evidence, tt.want)
		})
	}
}

func TestRetransmitsReportedOnce(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewUDP(e, "0.0.0.0:68", "255.255.255.255:67")
	pkt := v4Packet{options: cat(request, optS(optHostname, "plug"))}.bytes()
	c.ClientBytes(pkt)
	retry := bytes.Clone(pkt)
	retry[9] = 4 // secs grows on a retransmit
	c.ClientBytes(retry)
	other := v4Packet{options: cat(request, optS(optHostname, "bulb"))}.bytes()
	copy(other[v4OffChaddr:], []byte{2, 0, 0, 0, 0, 0xbb})
	c.ClientBytes(other) // another client on the same broadcast flow
	e.Flush()
	if len(col.Events) != 2 {
		t.Fatalf("got %d events, want 2: %v", len(col.Events), evidenceOf(col.Events))
	}
	if col.Events[1].Evidence["client_mac"] != "02:00:00:00:00:bb" {
		t.Errorf("second event %v, want the second client", col.Events[1].Evidence)
	}
}

func TestSubjectIsClientSide(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	// A unicast renewal and its ACK on one flow.
	c := inspecttest.NewUDP(e, "192.168.1.50:68", "192.168.1.1:67")
	c.ClientBytes(v4Packet{options: request}.bytes())
	ack := v4Packet{op: bootReply, options: opt(optMessageType, msgAck)}.bytes()
	copy(ack[v4OffYiaddr:], []byte{192, 168, 1, 50})
	c.ServerBytes(ack)
	e.Flush()
	if len(col.Events) != 2 {
		t.Fatalf("got %d events, want 2", len(col.Events))
	}
	for _, ev := range col.Events {
		if ev.Device.IP != "192.168.1.50" {
			t.Errorf("%s: device %v, want the DHCP client", ev.Evidence["message_type"], ev.Device)
		}
	}
	if got := col.Events[1].Evidence["assigned_ip"]; got != "192.168.1.50" {
		t.Errorf("assigned_ip = %q", got)
	}
}

// v6Packet builds a DHCPv6 message: type, xid 0xabcdef, options.
func v6Packet(typ byte, options ...[]byte) []byte {
	return cat(append([][]byte{{typ, 0xab, 0xcd, 0xef}}, options...)...)
}

func opt6(code uint16, v ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

var (
	duidLLT = []byte{0, 1, 0, 1, 0x2a, 0x3b, 0x4c, 0x5d, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	duidEN  = []byte{0, 2, 0, 0, 0x01, 0x37, 1, 2, 3, 4}
)

func relayForw(inner []byte) []byte {
	return cat([]byte{v6RelayForw, 0}, make([]byte, 32), opt6(opt6RelayMsg, inner...))
}

func TestSyntheticV6(t *testing.T) {
	tests := []struct {
		name string
		pkt  []byte
		want map[string]string
	}{
		{"solicit_duid_llt", v6Packet(v6Solicit, opt6(opt6ClientID, duidLLT...), opt6(opt6ORO, 0, 23, 0, 24, 0, 39)),
			map[string]string{"message_type": "solicit", "client_mac": "02:11:22:33:44:55", "oro": "23,24,39", "xid": "00abcdef"}},
		{"duid_en_has_no_mac", v6Packet(v6Request, opt6(opt6ClientID, duidEN...)),
			map[string]string{"client_duid": "0002000001370102030" + "4", "-client_mac": ""}},
		{"vendor_class", v6Packet(v6Solicit, opt6(opt6VendorClass, 0, 0, 0x01, 0x37, 0, 4, 'M', 'S', 'F', 'T', 0, 2, 'x', 'y')),
			map[string]string{"vendor_enterprise": "311", "vendor_class": "MSFT,xy"}},
		{"fqdn", v6Packet(v6InfoRequest, opt6(opt6ClientFQDN, 0x01, 3, 'h', 'u', 'b', 3, 'l', 'a', 'n', 0)),
			map[string]string{"message_type": "information_request", "fqdn": "hub.lan"}},
		{"relay_forward_opened", relayForw(v6Packet(v6Solicit, opt6(opt6ClientID, duidLLT...))),
			map[string]string{"message_type": "solicit", "client_mac": "02:11:22:33:44:55", "relay_ip": "::"}},
		{"relay_link_address", cat([]byte{v6RelayForw, 0, 0x20, 0x01, 0x0d, 0xb8}, make([]byte, 11), []byte{1}, make([]byte, 16),
			opt6(opt6RelayMsg, v6Packet(v6Solicit, opt6(opt6ClientID, duidLLT...))...)),
			map[string]string{"client_mac": "02:11:22:33:44:55", "relay_ip": "2001:db8::1"}},
		{"two_relays_innermost_link", relayForw(cat([]byte{v6RelayForw, 0, 0x20, 0x01, 0x0d, 0xb8}, make([]byte, 11), []byte{2}, make([]byte, 16),
			opt6(opt6RelayMsg, v6Packet(v6Solicit)...))),
			map[string]string{"relay_ip": "2001:db8::2"}},
		{"direct_has_no_relay", v6Packet(v6Solicit, opt6(opt6ClientID, duidLLT...)),
			map[string]string{"-relay_ip": ""}},
		{"relay_too_deep", relayForw(relayForw(relayForw(relayForw(relayForw(v6Packet(v6Solicit)))))), nil},
		{"server_reply_skipped", v6Packet(v6Reply, opt6(opt6ClientID, duidLLT...)), nil},
		{"truncated_option", cat(v6Packet(v6Solicit), []byte{0, 1, 0, 20, 1}), nil},
		{"type_zero", v6Packet(0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewUDP(e, "[fe80::11:22ff:fe33:4455]:546", "[ff02::1:2]:547")
			c.ClientBytes(tt.pkt)
			e.Flush()
			if tt.want == nil {
				if len(col.Events) != 0 {
					t.Fatalf("got %v, want no event", evidenceOf(col.Events))
				}
				return
			}
			if len(col.Events) != 1 {
				t.Fatalf("got %d events, want 1", len(col.Events))
			}
			checkObservation(t, col.Events[0])
			inspecttest.CheckEvidence(t, "event", col.Events[0].Evidence, tt.want)
		})
	}
}

func TestNotDHCP(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	inspecttest.NewUDP(e, "192.168.1.5:40000", "192.168.1.1:53").ClientBytes(v4Packet{options: request}.bytes())
	inspecttest.NewTCP(e, "192.168.1.5:40000", "192.168.1.1:67").ClientBytes(v4Packet{options: request}.bytes())
	e.Flush()
	if len(col.Events) != 0 {
		t.Fatalf("DHCP reported off its ports: %v", evidenceOf(col.Events))
	}
}

func TestFeedDoesNotAllocate(t *testing.T) {
	col := &inspecttest.Collector{}
	p := &inspecttest.Probe{Protocol: New()}
	e := inspecttest.Engine(t, col, nil, p)
	pkt := v4Packet{options: cat(request, optS(optHostname, "plug"), opt(optPRL, 1, 3, 6, 15))}.bytes()
	inspecttest.NewUDP(e, "0.0.0.0:68", "255.255.255.255:67").ClientBytes(pkt)
	solicit := v6Packet(v6Solicit, opt6(opt6ClientID, duidLLT...), opt6(opt6ORO, 0, 23))
	inspecttest.NewUDP(e, "[fe80::1]:546", "[ff02::1:2]:547").ClientBytes(solicit)
	if len(p.Analyzers) != 2 || len(col.Events) != 2 {
		t.Fatalf("%d analyzers, %d events; want 2 and 2", len(p.Analyzers), len(col.Events))
	}
	// Retransmits to existing flows are parsed in full but not reported.
	n := testing.AllocsPerRun(100, func() {
		p.Analyzers[0].Feed(p.Flows[0], inspect.ToServer, pkt)
		p.Analyzers[1].Feed(p.Flows[1], inspect.ToServer, solicit)
	})
	if n != 0 {
		t.Errorf("%v allocations per retransmit, want 0", n)
	}
	if len(col.Events) != 2 {
		t.Errorf("got %d events, want 2", len(col.Events))
	}
}

func TestParseV4DoesNotAllocate(t *testing.T) {
	pkt := v4Packet{options: cat(request, optS(optHostname, "plug"), opt(optPRL, 1, 3, 6, 15), opt(optOverload, 3))}.bytes()
	var m v4Message
	if n := testing.AllocsPerRun(100, func() { parseV4(pkt, &m) }); n != 0 {
		t.Errorf("parseV4: %v allocations, want 0", n)
	}
}

func BenchmarkParseV4Request(b *testing.B) {
	pkt := v4Packet{options: cat(request, optS(optHostname, "living-room-plug"), opt(optPRL, 1, 3, 6, 15, 28, 42),
		optS(optVendorClass, "udhcp 1.36.1"), opt(optClientID, 1, 2, 0, 0, 0, 0, 0xaa), opt(optRequestedIP, 192, 168, 1, 50))}.bytes()
	var m v4Message
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if !parseV4(pkt, &m) {
			b.Fatal("not parsed")
		}
	}
}

func BenchmarkFeedRetransmit(b *testing.B) {
	p := &inspecttest.Probe{Protocol: New()}
	e := inspecttest.Engine(b, &inspecttest.Collector{}, nil, p)
	pkt := v4Packet{options: cat(request, optS(optHostname, "plug"), opt(optPRL, 1, 3, 6, 15))}.bytes()
	inspecttest.NewUDP(e, "0.0.0.0:68", "255.255.255.255:67").ClientBytes(pkt)
	b.ReportAllocs()
	for b.Loop() {
		p.Analyzers[0].Feed(p.Flows[0], inspect.ToServer, pkt)
	}
}

func FuzzParseV4(f *testing.F) {
	f.Add(v4Packet{options: cat(request, optS(optHostname, "x"), opt(optOverload, 3))}.bytes())
	f.Add(v4Packet{op: bootReply, options: cat(opt(optMessageType, msgAck), opt(optRouter, 1, 2, 3, 4))}.bytes())
	f.Add(v4Packet{options: cat(request, opt(optClientFQDN, 4, 0, 0, 1, 'a', 0), opt(optUserClass, 1, 'a', 2, 'b'))}.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m v4Message
		if !parseV4(b, &m) {
			return
		}
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		inspecttest.NewUDP(e, "0.0.0.0:68", "255.255.255.255:67").ClientBytes(b)
		e.Flush()
		if len(col.Events) > 1 {
			t.Fatalf("%d events from one datagram", len(col.Events))
		}
		for _, ev := range col.Events {
			for k, v := range ev.Evidence {
				if len(v) > maxURL*2 {
					t.Fatalf("%s: %d bytes of evidence", k, len(v))
				}
			}
		}
	})
}

func FuzzParseV6(f *testing.F) {
	f.Add(v6Packet(v6Solicit, opt6(opt6ClientID, duidLLT...), opt6(opt6ORO, 0, 23)))
	f.Add(relayForw(v6Packet(v6Request, opt6(opt6ClientFQDN, 0, 1, 'a', 0), opt6(opt6VendorClass, 0, 0, 0, 1, 0, 1, 'x'))))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m v6Message
		parseV6(b, &m)
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		inspecttest.NewUDP(e, "[fe80::1]:546", "[ff02::1:2]:547").ClientBytes(b)
		e.Flush()
		if len(col.Events) > 1 {
			t.Fatalf("%d events from one datagram", len(col.Events))
		}
	})
}

// TestCodeListsBounded: an option-code list goes into evidence with at
// most maxListItems codes, however long the option (DHCPv6's ORO may
// name 32,767): a flood of such messages costs little memory.
func TestCodeListsBounded(t *testing.T) {
	tests := []struct {
		name  string
		b     []byte
		width int
		items int
	}{
		{"prl_short", []byte{1, 3, 6, 15}, 1, 4},
		{"prl_255", bytes.Repeat([]byte{7}, 255), 1, maxListItems},
		{"oro_700", bytes.Repeat([]byte{0, 23}, 700), 2, maxListItems},
		{"oro_odd_length", []byte{0, 23, 0, 24, 0}, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Count(decimalList(tt.b, tt.width), ",") + 1; got != tt.items {
				t.Errorf("%d codes listed, want %d", got, tt.items)
			}
		})
	}
}
