package dns

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

type want struct {
	kind   event.Kind
	device string            // Device.IP
	ev     map[string]string // subset of the evidence; "-key" must be absent
}

func TestCorpus(t *testing.T) {
	const v6host = "fd52:429e:c03c:8235:883c:d6ff:fee1:4dc4"
	tests := []struct {
		file string
		want []want
	}{
		// A Linux VM browses for printers and announces its name on both
		// address families; the probes (packets 11-18) repeat the
		// announcements in another order and are not reported again.
		{"zeek-dns-mdns.pcap", []want{
			{event.KindMDNS, v6host, map[string]string{"queried_services": "_ipp._tcp,_ipps._tcp", "-services": ""}},
			{event.KindMDNS, "10.0.2.7", map[string]string{"queried_services": "_ipp._tcp,_ipps._tcp"}},
			{event.KindMDNS, v6host, map[string]string{"hostname": "johanna-QEMU-Virtual-Machine",
				"addresses": "fd52:429e:c03c:8235:5968:5bc6:1563:f82f," + v6host}},
			{event.KindMDNS, "10.0.2.7", map[string]string{"hostname": "johanna-QEMU-Virtual-Machine",
				"addresses": "10.0.2.7,fd52:429e:c03c:8235:5968:5bc6:1563:f82f," + v6host}},
		}},
		// Unsolicited responses are reported; the queries before them ask
		// for names only and say nothing about the sender.
		{"zeek-dns-mdns-no-assoc.pcap", []want{
			{event.KindMDNS, "192.168.0.2", map[string]string{"hostname": "unrelated-reply-a", "addresses": "192.168.0.2"}},
			{event.KindMDNS, "192.168.0.2", map[string]string{"hostname": "unrelated-reply-aaaa", "addresses": "fe80::200:deff:fead:beef"}},
			{event.KindMDNS, "fe80::200:deff:fead:beef", map[string]string{"hostname": "v6-unrelated", "addresses": "fe80::1"}},
		}},
		{"zeek-pcapng-multi-interface.pcapng", []want{
			{event.KindDNSQuery, "172.17.0.2", map[string]string{"name": "www.apple.com", "qtype": "A", "answers": "23.194.101.24"}},
			{event.KindDNSQuery, "10.0.0.4", map[string]string{"name": "google.com", "qtype": "A",
				"answers": "142.251.181.138,142.251.181.139,142.251.181.113,142.251.181.100,142.251.181.101,142.251.181.102"}},
			{event.KindDNSQuery, "10.0.0.4", map[string]string{"name": "google.com", "qtype": "AAAA",
				"answers": "2607:f8b0:4023:2007::66,2607:f8b0:4023:2007::8b,2607:f8b0:4023:2007::71,2607:f8b0:4023:2007::8a"}},
		}},
		// SSDP and DHCPv6 are not DNS.
		{"sv-sip-ssdp-pm-ssdp.pcap", nil},
		{"zeek-pppoe.pcap", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			// Only this package's events: the engine reports others (PPP
			// logins in the PPPoE capture).
			var evs []*event.Event
			for _, e := range c.Events {
				if e.Kind == event.KindDNSQuery || e.Kind == event.KindMDNS {
					evs = append(evs, e)
				}
			}
			checkEvents(t, evs, tt.want)
		})
	}
}

func checkEvents(t *testing.T, got []*event.Event, want []want) {
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
		if e.Kind != w.kind || e.Type != event.TypeObservation || e.Severity != event.SeverityInfo {
			t.Errorf("event %d: %s %s %s, want a %s observation", i, e.Type, e.Kind, e.Severity, w.kind)
		}
		if w.device != "" && e.Device.IP != w.device {
			t.Errorf("event %d: device %v, want %s", i, e.Device, w.device)
		}
		inspecttest.CheckEvidence(t, "event "+strconv.Itoa(i), e.Evidence, w.ev)
	}
}

// A DNS message builder for synthetic cases. Names are dotted; "\." is a
// dot inside a label.
type msg struct {
	id, flags  uint16
	qs         []question
	an, ns, ar []rr
}

type question struct {
	name string
	typ  uint16
}

type rr struct {
	name  string
	typ   uint16
	rdata []byte
}

const flagResponse = 0x8400 // QR and AA

func name(s string) []byte {
	var out []byte
	var label []byte
	flush := func() {
		out = append(out, byte(len(label)))
		out = append(out, label...)
		label = label[:0]
	}
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			label = append(label, s[i])
		case s[i] == '.':
			flush()
		default:
			label = append(label, s[i])
		}
	}
	if len(label) > 0 {
		flush()
	}
	return append(out, 0)
}

func (m msg) bytes() []byte {
	b := make([]byte, headerLen)
	binary.BigEndian.PutUint16(b, m.id)
	binary.BigEndian.PutUint16(b[2:], m.flags)
	binary.BigEndian.PutUint16(b[4:], uint16(len(m.qs)))
	binary.BigEndian.PutUint16(b[6:], uint16(len(m.an)))
	binary.BigEndian.PutUint16(b[8:], uint16(len(m.ns)))
	binary.BigEndian.PutUint16(b[10:], uint16(len(m.ar)))
	for _, q := range m.qs {
		b = append(b, name(q.name)...)
		b = binary.BigEndian.AppendUint16(b, q.typ)
		b = binary.BigEndian.AppendUint16(b, 1)
	}
	for _, sec := range [][]rr{m.an, m.ns, m.ar} {
		for _, r := range sec {
			b = append(b, name(r.name)...)
			b = binary.BigEndian.AppendUint16(b, r.typ)
			b = binary.BigEndian.AppendUint16(b, 0x8001)
			b = binary.BigEndian.AppendUint32(b, 120)
			b = binary.BigEndian.AppendUint16(b, uint16(len(r.rdata)))
			b = append(b, r.rdata...)
		}
	}
	return b
}

func a(owner string, ip ...byte) rr { return rr{owner, typeA, ip} }

func ptr(owner, target string) rr { return rr{owner, typePTR, name(target)} }

func srv(owner string, port uint16, target string) rr {
	return rr{owner, typeSRV, append([]byte{0, 0, 0, 0, byte(port >> 8), byte(port)}, name(target)...)}
}

func txt(owner string, strs ...string) rr {
	var b []byte
	for _, s := range strs {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return rr{owner, typeTXT, b}
}

func TestUnicast(t *testing.T) {
	query := func(id uint16, n string, typ uint16) []byte {
		return msg{id: id, flags: 0x0100, qs: []question{{n, typ}}}.bytes()
	}
	answer := func(id uint16, n string, typ uint16, rcode uint16, an ...rr) []byte {
		return msg{id: id, flags: 0x8180 | rcode, qs: []question{{n, typ}}, an: an}.bytes()
	}
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []want
	}{
		{"query_and_answer", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "Tuya.Example.COM.", typeA)).ServerBytes(answer(1, "tuya.example.com", typeA, 0,
				rr{"tuya.example.com", 5, name("edge.example.net")}, a("edge.example.net", 198, 51, 100, 7)))
		}, []want{{event.KindDNSQuery, "192.168.1.10", map[string]string{"name": "tuya.example.com", "qtype": "A", "answers": "198.51.100.7", "-rcode": "", "-iterative": ""}}}},
		{"unanswered_reported_at_close", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "c2.example", typeA))
		}, []want{{event.KindDNSQuery, "192.168.1.10", map[string]string{"name": "c2.example", "-answers": "", "-iterative": ""}}}},
		{"retransmit_reported_once", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "a.example", typeA)).ClientBytes(query(2, "a.example", typeA)).
				ServerBytes(answer(2, "a.example", typeA, 0, a("a.example", 192, 0, 2, 1))).ServerBytes(answer(1, "a.example", typeA, 0))
		}, []want{{event.KindDNSQuery, "", map[string]string{"answers": "192.0.2.1"}}}},
		{"a_and_aaaa_separately", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "x.example", typeA)).ClientBytes(query(2, "x.example", typeAAAA)).
				ServerBytes(answer(2, "x.example", typeAAAA, 0, rr{"x.example", typeAAAA, []byte{0x20, 1, 0xd, 0xb8, 15: 1}})).
				ServerBytes(answer(1, "x.example", typeA, 0))
		}, []want{
			{event.KindDNSQuery, "", map[string]string{"qtype": "AAAA", "answers": "2001:db8::1"}},
			{event.KindDNSQuery, "", map[string]string{"qtype": "A", "-answers": ""}},
		}},
		// A recursive resolver asks an authoritative server without
		// asking for recursion; a stub always asks for it.
		{"iterative_query", func(c *inspecttest.Conv) {
			c.ClientBytes(msg{id: 5, qs: []question{{"avs-alexa-eu.amazon.com", typeA}}}.bytes()).
				ServerBytes(msg{id: 5, flags: 0x8400, qs: []question{{"avs-alexa-eu.amazon.com", typeA}},
					an: []rr{a("avs-alexa-eu.amazon.com", 198, 51, 100, 9)}}.bytes())
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "avs-alexa-eu.amazon.com", "iterative": "yes", "answers": "198.51.100.9"}}}},
		{"iterative_unanswered", func(c *inspecttest.Conv) {
			c.ClientBytes(msg{id: 6, qs: []question{{"amazon.com", 2}}}.bytes())
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "amazon.com", "qtype": "NS", "iterative": "yes"}}}},
		// Negative cases: the RD bit of anything but the client's query
		// is not the client's word. One datagram "from 8.8.8.8:53"
		// without RD, a query or a response, reaches any client port
		// (from the LAN, or through a forwarded port); a server may
		// clear RD answering a stub that set it.
		{"response_without_rd_and_without_query", func(c *inspecttest.Conv) {
			c.ServerBytes(msg{id: 7, flags: 0x8400, qs: []question{{"late.example", typeA}}}.bytes())
		}, nil},
		{"stub_query_answered_without_rd", func(c *inspecttest.Conv) {
			c.ClientBytes(query(8, "stub.example", typeA)).
				ServerBytes(msg{id: 8, flags: 0x8000, qs: []question{{"stub.example", typeA}}}.bytes())
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "stub.example", "-iterative": ""}}}},
		{"query_without_rd_from_the_server_side", func(c *inspecttest.Conv) {
			c.ServerBytes(msg{id: 9, qs: []question{{"forged.example", typeA}}}.bytes())
		}, nil},
		{"nxdomain", func(c *inspecttest.Conv) {
			c.ClientBytes(query(7, "nope.example", typeA)).ServerBytes(answer(7, "nope.example", typeA, 3))
		}, []want{{event.KindDNSQuery, "", map[string]string{"rcode": "NXDOMAIN"}}}},
		// Only the client's query files a lookup; a response completes
		// one seen on the flow by name, type and id. A datagram "from
		// port 53" the client never asked for (from the LAN, or through
		// a forwarded port) would otherwise plant a domain vote; a
		// capture that missed the query loses that lookup.
		{"forged_response_without_query", func(c *inspecttest.Conv) {
			c.ServerBytes(answer(9, "amazon-adsystem.com", typeA, 0, a("amazon-adsystem.com", 203, 0, 113, 66)))
		}, nil},
		{"response_without_query", func(c *inspecttest.Conv) {
			c.ServerBytes(answer(9, "late.example", 65, 0))
		}, nil},
		{"response_to_a_query_with_another_id", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "a.example", typeA)).ServerBytes(answer(2, "a.example", typeA, 0, a("a.example", 203, 0, 113, 66)))
		}, []want{{event.KindDNSQuery, "192.168.1.10", map[string]string{"name": "a.example", "-answers": ""}}}},
		{"response_to_another_name", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "a.example", typeA)).ServerBytes(answer(1, "roku.com", typeA, 0, a("roku.com", 203, 0, 113, 66)))
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "a.example", "-answers": ""}}}},
		{"forged_answer_before_the_real_one", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "a.example", typeA)).
				ServerBytes(answer(2, "a.example", typeA, 0, a("a.example", 203, 0, 113, 66))).
				ServerBytes(answer(1, "a.example", typeA, 0, a("a.example", 198, 51, 100, 7)))
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "a.example", "answers": "198.51.100.7"}}}},
		{"query_and_response_file_once", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "a.example", typeA)).
				ServerBytes(answer(1, "a.example", typeA, 0, a("a.example", 198, 51, 100, 7))).
				ServerBytes(answer(1, "a.example", typeA, 0, a("a.example", 198, 51, 100, 7)))
		}, []want{{event.KindDNSQuery, "192.168.1.10", map[string]string{"name": "a.example", "answers": "198.51.100.7"}}}},
		{"response_from_the_client_side", func(c *inspecttest.Conv) {
			c.ClientBytes(answer(1, "a.example", typeA, 0, a("a.example", 198, 51, 100, 7)))
		}, nil},
		{"more_queries_than_pending_slots", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "one.example", typeA)).ClientBytes(query(2, "two.example", typeA)).ClientBytes(query(3, "three.example", typeA))
		}, []want{
			{event.KindDNSQuery, "", map[string]string{"name": "one.example"}},
			{event.KindDNSQuery, "", map[string]string{"name": "two.example"}},
			{event.KindDNSQuery, "", map[string]string{"name": "three.example"}},
		}},
		{"control_bytes_in_name", func(c *inspecttest.Conv) {
			c.ClientBytes(query(1, "a\x1b[2Jb.example", typeA))
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "a?[2jb.example"}}}},
		{"answer_section_truncated", func(c *inspecttest.Conv) {
			b := answer(1, "t.example", typeA, 0, a("t.example", 192, 0, 2, 1))
			c.ClientBytes(query(1, "t.example", typeA)).ServerBytes(b[:len(b)-2])
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "t.example", "-answers": ""}}}},
		{"update_opcode_ignored", func(c *inspecttest.Conv) {
			c.ClientBytes(msg{id: 1, flags: 5 << 11, qs: []question{{"zone.example", 6}}}.bytes())
		}, nil},
		{"pointer_loop", func(c *inspecttest.Conv) {
			b := msg{id: 1, flags: 0x0100}.bytes()
			binary.BigEndian.PutUint16(b[4:], 1)
			c.ClientBytes(append(b, 0xc0, 12, 0, 1, 0, 1))
		}, nil},
		{"pointer_forward", func(c *inspecttest.Conv) {
			b := msg{id: 1, flags: 0x0100}.bytes()
			binary.BigEndian.PutUint16(b[4:], 1)
			c.ClientBytes(append(b, 0xc0, 20, 0, 1, 0, 1, 1, 'x', 0))
		}, nil},
		{"not_dns", func(c *inspecttest.Conv) { c.ClientBytes([]byte("GET / HTTP/1.1\r\n\r\n")) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			tt.script(inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.1:53"))
			e.Flush()
			checkEvents(t, col.Events, tt.want)
		})
	}
}

// TestQueryNameMasked: a name a device looks up that holds its
// identifier shows the label as "..." in the dns_query observation,
// evidence and summary; a service's own name stays whole.
func TestQueryNameMasked(t *testing.T) {
	tests := []struct{ query, want string }{
		{"a1b2c3d4e5f6.iot.vendor.example", "....iot.vendor.example"},
		{"Cam-A4CF129B3E01.Vendor.Example.", "....vendor.example"},
		{"sn-357938035643809.devices.example", "....devices.example"},
		{"time.windows.com", "time.windows.com"},
		{"3.pool.ntp.org", "3.pool.ntp.org"},
		{"api.tuya-eu.com", "api.tuya-eu.com"},
		// A token mixes cases: judged as the device wrote it, as a
		// TLS server name is, before the name is lower-cased.
		{"Xk3Lm9Qw2Er7.push.example", "....push.example"},
		{"D3RLZBR8YMV9U5.CloudFront.net", "d3rlzbr8ymv9u5.cloudfront.net"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.1:53").
				ClientBytes(msg{id: 1, flags: 0x0100, qs: []question{{tt.query, typeA}}}.bytes()).
				ServerBytes(msg{id: 1, flags: 0x8180, qs: []question{{tt.query, typeA}}, an: []rr{a(tt.query, 198, 51, 100, 7)}}.bytes())
			e.Flush()
			checkEvents(t, col.Events, []want{{event.KindDNSQuery, "192.168.1.10", map[string]string{"name": tt.want, "answers": "198.51.100.7"}}})
			if s := col.Events[0].Summary; s != "DNS query for "+tt.want {
				t.Errorf("summary %q, want it to name %q", s, tt.want)
			}
		})
	}
}

func tcpFrame(m []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...)
}

func TestTCP(t *testing.T) {
	q := tcpFrame(msg{id: 1, flags: 0x0100, qs: []question{{"big.example", typeA}}}.bytes())
	r := tcpFrame(msg{id: 1, flags: 0x8180, qs: []question{{"big.example", typeA}}, an: []rr{a("big.example", 192, 0, 2, 9)}}.bytes())
	q2 := tcpFrame(msg{id: 2, flags: 0x0100, qs: []question{{"second.example", typeA}}}.bytes())
	huge := binary.BigEndian.AppendUint16(nil, 9000)
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   []want
	}{
		{"pipelined", func(c *inspecttest.Conv) {
			c.ClientBytes(append(bytes.Clone(q), q2...)).ServerBytes(r)
		}, []want{
			{event.KindDNSQuery, "", map[string]string{"name": "big.example", "answers": "192.0.2.9"}},
			{event.KindDNSQuery, "", map[string]string{"name": "second.example"}},
		}},
		{"one_byte_per_segment", func(c *inspecttest.Conv) {
			for i := range q {
				c.ClientBytes(q[i : i+1])
			}
			for i := range r {
				c.ServerBytes(r[i : i+1])
			}
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "big.example", "answers": "192.0.2.9"}}}},
		{"response_without_query", func(c *inspecttest.Conv) {
			c.ServerBytes(r)
		}, nil},
		{"response_with_another_id", func(c *inspecttest.Conv) {
			c.ClientBytes(q2).ServerBytes(tcpFrame(msg{id: 7, flags: 0x8180, qs: []question{{"second.example", typeA}},
				an: []rr{a("second.example", 203, 0, 113, 66)}}.bytes()))
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "second.example", "-answers": ""}}}},
		{"oversized_message_skipped", func(c *inspecttest.Conv) {
			c.ClientBytes(q)
			c.ServerBytes(huge)
			for range 9 {
				c.ServerBytes(make([]byte, 1000))
			}
			c.ServerBytes(r)
		}, []want{{event.KindDNSQuery, "", map[string]string{"name": "big.example", "answers": "192.0.2.9"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.1:53")
			tt.script(c)
			c.Close()
			e.Flush()
			checkEvents(t, col.Events, tt.want)
		})
	}
}

func TestMDNS(t *testing.T) {
	announce := func(an ...rr) []byte { return msg{flags: flagResponse, an: an}.bytes() }
	cast := announce(
		ptr("_googlecast._tcp.local", `Living\.Room TV-1a2b._googlecast._tcp.local`),
		srv(`Living\.Room TV-1a2b._googlecast._tcp.local`, 8009, "1a2b-cc.local"),
		txt(`Living\.Room TV-1a2b._googlecast._tcp.local`, "id=1a2b", "md=Chromecast Ultra", "fn=Living Room TV", "ve=05", "rs="),
		a("1a2b-cc.local", 192, 168, 1, 40),
	)
	tests := []struct {
		name    string
		packets [][]byte
		want    []want
	}{
		{"google_cast", [][]byte{cast, cast}, []want{{event.KindMDNS, "192.168.1.40", map[string]string{
			"hostname": "1a2b-cc", "addresses": "192.168.1.40", "services": "_googlecast._tcp",
			"instance": "Living.Room TV-1a2b", "txt_md": "Chromecast Ultra", "txt_fn": "Living Room TV", "txt_ve": "05",
			"-txt_id": "", "-txt_rs": ""}}}},
		{"printer_usb_keys_case_insensitive", [][]byte{announce(
			txt(`Office._ipp._tcp.local`, "txtvers=1", "ty=Brother HL-L2350DW", "usb_MFG=Brother", "usb_MDL=HL-L2350DW", "TY=duplicate"),
			srv(`Office._ipp._tcp.local`, 631, "BRW1234.local"),
		)}, []want{{event.KindMDNS, "", map[string]string{"services": "_ipp._tcp", "instance": "Office",
			"txt_ty": "Brother HL-L2350DW", "txt_usb_mfg": "Brother", "txt_usb_mdl": "HL-L2350DW", "hostname": "BRW1234", "-addresses": ""}}}},
		// A computer sharing its USB printer through CUPS: rp names the
		// queue, which tells the printer's keys from the host's.
		{"cups_shared_queue", [][]byte{announce(
			txt(`HP LaserJet @ pi._ipp._tcp.local`, "txtvers=1", "rp=printers/HP_LaserJet", "ty=HP LaserJet 1020", "usb_MFG=HP"),
			srv(`HP LaserJet @ pi._ipp._tcp.local`, 631, "pi.local"),
		)}, []want{{event.KindMDNS, "", map[string]string{"services": "_ipp._tcp", "hostname": "pi",
			"txt_rp": "printers/HP_LaserJet", "txt_ty": "HP LaserJet 1020", "txt_usb_mfg": "HP"}}}},
		{"homekit_and_airplay", [][]byte{announce(
			ptr("_services._dns-sd._udp.local", "_hap._tcp.local"),
			ptr("_services._dns-sd._udp.local", "_airplay._tcp.local"),
			txt(`Speaker._airplay._tcp.local`, "model=AudioAccessory5,1", "fv=p20.17.4.1", "osxvers=22"),
			ptr("_airplay._sub._companion-link._tcp.local", `Speaker._companion-link._tcp.local`),
		)}, []want{{event.KindMDNS, "", map[string]string{
			"services": "_airplay._tcp,_companion-link._tcp,_hap._tcp", "instance": "Speaker",
			"txt_model": "AudioAccessory5,1", "txt_fv": "p20.17.4.1", "txt_osxvers": "22"}}}},
		// Names are UTF-8 to show the owner: controls, bidirectional
		// overrides and bytes that are not UTF-8 go, letters stay.
		{"odd_bytes_in_names", [][]byte{announce(
			srv("Evil\u202eVT\x1b[2J\xff\xfe._ipp._tcp.local", 631, "k\u00fcche\x07.local"),
			txt("Evil\u202eVT\x1b[2J\xff\xfe._ipp._tcp.local", "ty=Caf\u00e9\r\nPrinter\x00", "usb_MFG=\u200bHP"),
		)}, []want{{event.KindMDNS, "", map[string]string{"hostname": "k\u00fcche", "instance": "EvilVT[2J",
			"txt_ty": "Caf\u00e9 Printer", "txt_usb_mfg": "HP"}}}},
		{"reverse_ptr_names_host", [][]byte{announce(ptr("40.1.168.192.in-addr.arpa", "plug.local"))},
			[]want{{event.KindMDNS, "", map[string]string{"hostname": "plug", "-addresses": ""}}}},
		{"query_known_answers_ignored", [][]byte{msg{qs: []question{{"_hap._tcp.local", typePTR}},
			an: []rr{ptr("_hap._tcp.local", "Other Device._hap._tcp.local"), a("other.local", 192, 168, 1, 99)}}.bytes()},
			[]want{{event.KindMDNS, "", map[string]string{"queried_services": "_hap._tcp", "-instance": "", "-addresses": ""}}}},
		{"query_for_host_only_not_reported", [][]byte{msg{qs: []question{{"printer.local", typeA}}}.bytes()}, nil},
		{"probe_authority_is_sender", [][]byte{msg{qs: []question{{"cam.local", 255}},
			ns: []rr{a("cam.local", 192, 168, 1, 50)}}.bytes()},
			[]want{{event.KindMDNS, "", map[string]string{"hostname": "cam", "addresses": "192.168.1.50"}}}},
		{"goodbye_then_same_content_not_repeated", [][]byte{
			announce(a("tv.local", 192, 168, 1, 7)),
			msg{id: 77, flags: flagResponse, an: []rr{a("tv.local", 192, 168, 1, 7)}}.bytes(),
		}, []want{{event.KindMDNS, "", map[string]string{"hostname": "tv"}}}},
		{"bounded_lists", [][]byte{announce(func() []rr {
			var rrs []rr
			for i := range 20 {
				rrs = append(rrs, a("many.local", 10, 0, 0, byte(i)), ptr("_services._dns-sd._udp.local", "_s"+strings.Repeat("x", i)+"._tcp.local"))
			}
			return rrs
		}()...)}, []want{{event.KindMDNS, "", map[string]string{
			"addresses": "10.0.0.0,10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6,10.0.0.7"}}}},
		{"dns_sd_names_are_not_hosts", [][]byte{announce(a("_x._tcp.local", 1, 2, 3, 4), a("local", 1, 2, 3, 4))}, nil},
		{"truncated_record", [][]byte{announce(a("tv.local", 192, 168, 1, 7))[:30]}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewUDP(e, "192.168.1.40:5353", "224.0.0.251:5353")
			for _, p := range tt.packets {
				c.ClientBytes(p)
			}
			e.Flush()
			checkEvents(t, col.Events, tt.want)
		})
	}
}

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	col := &inspecttest.Collector{}
	p := &inspecttest.Probe{Protocol: New()}
	e := inspecttest.Engine(t, col, nil, p)
	query := msg{id: 1, flags: 0x0100, qs: []question{{"a.example", typeA}}}.bytes()
	inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.1:53").ClientBytes(query)
	ann := msg{flags: flagResponse, an: []rr{a("tv.local", 192, 168, 1, 7), txt("TV._airplay._tcp.local", "model=X")}}.bytes()
	browse := msg{qs: []question{{"_airplay._tcp.local", typePTR}}}.bytes()
	m := inspecttest.NewUDP(e, "192.168.1.7:5353", "224.0.0.251:5353")
	m.ClientBytes(ann).ClientBytes(browse)
	if len(p.Analyzers) != 2 || len(col.Events) != 2 {
		t.Fatalf("%d analyzers, %d events; want 2 and 2", len(p.Analyzers), len(col.Events))
	}
	forged := msg{id: 9, flags: 0x8180, qs: []question{{"b.example", typeA}}, an: []rr{a("b.example", 203, 0, 113, 66)}}.bytes()
	n := testing.AllocsPerRun(100, func() {
		p.Analyzers[0].Feed(p.Flows[0], inspect.ToServer, query)  // a retransmit
		p.Analyzers[0].Feed(p.Flows[0], inspect.ToClient, forged) // a response to nothing asked
		p.Analyzers[1].Feed(p.Flows[1], inspect.ToServer, ann)    // a periodic announcement
		p.Analyzers[1].Feed(p.Flows[1], inspect.ToServer, browse)
	})
	if n != 0 {
		t.Errorf("%v allocations per packet set, want 0", n)
	}
	if len(col.Events) != 2 {
		t.Errorf("got %d events, want 2", len(col.Events))
	}
}

func BenchmarkMDNSRepeat(b *testing.B) {
	p := &inspecttest.Probe{Protocol: New()}
	e := inspecttest.Engine(b, &inspecttest.Collector{}, nil, p)
	ann := msg{flags: flagResponse, an: []rr{a("tv.local", 192, 168, 1, 7), txt("TV._airplay._tcp.local", "model=X", "fv=1.2")}}.bytes()
	inspecttest.NewUDP(e, "192.168.1.7:5353", "224.0.0.251:5353").ClientBytes(ann)
	b.ReportAllocs()
	for b.Loop() {
		p.Analyzers[0].Feed(p.Flows[0], inspect.ToServer, ann)
	}
}

// BenchmarkQueryAnswer is one DNS flow's life: analyzer from the pool, a
// query, its response reported, the analyzer back to the pool.
func BenchmarkQueryAnswer(b *testing.B) {
	q := msg{id: 1, flags: 0x0100, qs: []question{{"device.tuyaus.com", typeA}}}.bytes()
	r := msg{id: 1, flags: 0x8180, qs: []question{{"device.tuyaus.com", typeA}}, an: []rr{a("device.tuyaus.com", 198, 51, 100, 1)}}.bytes()
	p := &inspecttest.Probe{Protocol: New()}
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(b, col, nil, p)
	inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.1:53").ClientBytes(q)
	f := p.Flows[0]
	b.ReportAllocs()
	for b.Loop() {
		an := p.Protocol.NewAnalyzer(f)
		an.Feed(f, inspect.ToServer, q)
		an.Feed(f, inspect.ToClient, r)
		an.Close(f)
		col.Events = col.Events[:0]
	}
}

func FuzzDatagram(f *testing.F) {
	f.Add(msg{flags: flagResponse, an: []rr{a("tv.local", 1, 2, 3, 4), txt("x._ipp._tcp.local", "ty=y"), srv("x._ipp._tcp.local", 1, "tv.local")}}.bytes(), true)
	f.Add(msg{id: 1, flags: 0x8180, qs: []question{{"a.example", typeA}}, an: []rr{a("a.example", 1, 2, 3, 4)}}.bytes(), false)
	f.Add(msg{qs: []question{{"_hap._tcp.local", typePTR}}}.bytes(), true)
	f.Fuzz(func(t *testing.T, b []byte, mdns bool) {
		col := &inspecttest.Collector{}
		e := inspecttest.Engine(t, col, nil, New())
		if mdns {
			inspecttest.NewUDP(e, "192.168.1.40:5353", "224.0.0.251:5353").ClientBytes(b)
		} else {
			inspecttest.NewUDP(e, "192.168.1.10:40000", "192.168.1.1:53").ClientBytes(b).ServerBytes(b)
			inspecttest.NewTCP(e, "192.168.1.10:40001", "192.168.1.1:53").ClientBytes(b).ServerBytes(b)
		}
		e.Flush()
		if len(col.Events) > 4 {
			t.Fatalf("%d events from one datagram", len(col.Events))
		}
		for _, ev := range col.Events {
			if len(ev.Evidence) > 8+maxTXT {
				t.Fatalf("%d evidence entries", len(ev.Evidence))
			}
			for k, v := range ev.Evidence {
				if len(v) > 2*maxName {
					t.Fatalf("%s: %d bytes", k, len(v))
				}
			}
		}
	})
}
