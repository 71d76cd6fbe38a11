package tls

import (
	"bytes"
	"maps"
	"net/netip"
	"strings"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// TestCorpus runs real captures and asserts what MANIFEST.tsv says: SNI,
// JA3 (tshark's values), JA4 (the sources' values where they state one;
// the others are the Chrome fingerprints this code computes, kept as
// regression values), the negotiated version and suite, and weak_tls.
func TestCorpus(t *testing.T) {
	tests := []struct {
		file      string
		sni       string   // "" for none
		ja3       []string // one per ClientHello
		ja4       []string // one per ClientHello; "" entries are not checked
		ech       string
		version   string // negotiated, tls_version_id
		cipher    string
		weak      string // severity of the one weak_tls finding, "" for none
		weakWhy   string
		sslv2Only bool
	}{
		{file: "zeek-tls-chrome-34-google.pcap", sni: "google.de",
			ja3: []string{"a607f3a5c94c2ee592af1456f36c8367"}, ja4: []string{""}, ech: "no",
			version: "0x0303", cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
		{file: "zeek-tls-tls1.2.pcap",
			ja3: []string{"bd9c99b3a0f752c3ab8b052a79e9de3e"}, ja4: []string{""}, ech: "no",
			version: "0x0303", cipher: "TLS_RSA_WITH_RC4_128_MD5", weak: "medium", weakWhy: "weak_cipher"},
		{file: "zeek-tls-tls13draft23-chrome67.pcap", sni: "tls13.crypto.mozilla.org",
			ja3: []string{"6cb345f0f89fe97b1dfad775b52d5cf2"}, ja4: []string{""}, ech: "no",
			version: "0x7f17", cipher: "TLS_AES_128_GCM_SHA256"},
		{file: "zeek-tls-tls13-ech.pcap", sni: "cloudflare-ech.com",
			ja3:     []string{"2fcbf8655473005933c5869b2b5d8044", "fa58f5ffd45a2d590a1677134966dc64"},
			ja4:     []string{"t13d1517h2_8daaf6152771_b1ff8ab2d16f", "t13d1517h2_8daaf6152771_b1ff8ab2d16f"},
			ech:     "yes",
			version: "0x0304", cipher: "TLS_AES_128_GCM_SHA256"},
		{file: "zeek-tls-ssl-v2.pcap", ja3: []string{""}, ja4: []string{""}, ech: "no",
			version: "0x0002", weak: "high", weakWhy: "old_version,sslv2_hello,only_weak_offered", sslv2Only: true},
		{file: "arkime-tls13.pcap", sni: "blog.cloudflare.com",
			ja3: []string{"4826a90ec2daf4f7b4b64cc1c8bd343b"}, ja4: []string{"t00d1815h2_a30347de7a75_2a77702ff8e0"}, ech: "no",
			version: "0x7f12", cipher: "TLS_AES_128_GCM_SHA256"},
		{file: "arkime-tls-split-client-hello.pcap", sni: "clients2.google.com",
			ja3: []string{"35708a08e7be9f7aa5bce7f2d5c1cecb"}, ja4: []string{"t13d1516h2_8daaf6152771_02713d6af862"}, ech: "yes",
			version: "0x0304", cipher: "TLS_AES_128_GCM_SHA256"},
		{file: "sv-tls-client-hello-frag-01.pcap", sni: "www.google.com",
			ja3: []string{"a64c29923906f2a1be278be1da0714fa"}, ja4: []string{""}, ech: "no",
			version: "0x0303", cipher: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{file: "sv-ja4-tls.pcap",
			ja3: []string{"308b0bd904abbef5e0034a1ff7a78920"}, ja4: []string{"t12i1810s1_27d4652c4487_06a4338d0495"}, ech: "no",
			version: "0x0303", cipher: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, tt.file), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			clients := c.Kind(event.KindTLSClient)
			if len(clients) != len(tt.ja3) {
				t.Fatalf("%d ClientHellos, want %d: %v", len(clients), len(tt.ja3), c.Events)
			}
			for i, ev := range clients {
				checkEvidence(t, ev, "sni", tt.sni)
				checkEvidence(t, ev, "ja3", tt.ja3[i])
				if tt.ja4[i] != "" || tt.sslv2Only {
					checkEvidence(t, ev, "ja4", tt.ja4[i])
				} else if len(ev.Evidence["ja4"]) != ja4Len {
					t.Errorf("ja4 %q is not a JA4", ev.Evidence["ja4"])
				}
				checkEvidence(t, ev, "ech", tt.ech)
			}
			servers := c.Kind(event.KindTLSServer)
			if len(servers) != len(tt.ja3) {
				t.Fatalf("%d ServerHellos, want %d", len(servers), len(tt.ja3))
			}
			for _, ev := range servers {
				checkEvidence(t, ev, "tls_version_id", tt.version)
				checkEvidence(t, ev, "cipher", tt.cipher)
			}
			weak := c.Kind(event.KindWeakTLS)
			if tt.weak == "" {
				if len(weak) != 0 {
					t.Fatalf("unexpected weak_tls: %v", weak[0])
				}
				return
			}
			if len(weak) != 1 {
				t.Fatalf("%d weak_tls findings, want 1", len(weak))
			}
			w := weak[0]
			if w.Severity.String() != tt.weak || w.Capability != event.CapSecureCommunication || w.Provision != "5.5-1" || w.Type != event.TypeFinding {
				t.Errorf("finding %+v", w)
			}
			checkEvidence(t, w, "reason", tt.weakWhy)
			checkEvidence(t, w, "cipher", tt.cipher)
		})
	}
}

// TestCorpusNegative: plaintext captures, some on ports near TLS ones
// (MQTT 1883, SIP 5060), are never claimed.
func TestCorpusNegative(t *testing.T) {
	for _, file := range []string{
		"zeek-ftp-ipv4.pcap",
		"arkime-http-basicauth.pcap",
		"zeek-pop3-pop3.pcap",
		"arkime-imap-tag.pcap",
		"arkime-smtp-data-250.pcap",
		"zeek-mqtt.pcap",
		"sv-mqtt5-pub-userpass.pcap",
		"zeek-sip-wireshark.pcap",
		"tcpdump-telnet-iac-check-oobr.pcap",
		"zeek-tcp-truncated-header.pcap",
	} {
		t.Run(file, func(t *testing.T) {
			c, err := inspecttest.RunFile(t, inspecttest.CorpusFile(t, file), nil, New())
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Events) != 0 {
				t.Errorf("TLS events from a plaintext capture: %v", c.Events)
			}
		})
	}
}

func checkEvidence(t *testing.T, ev *event.Event, key, want string) {
	t.Helper()
	got, ok := ev.Evidence[key]
	if want == "" {
		if ok {
			t.Errorf("%s: evidence %s=%q, want none", ev.Kind, key, got)
		}
		return
	}
	if got != want {
		t.Errorf("%s: evidence %s=%q, want %q", ev.Kind, key, got, want)
	}
}

// TestSTARTTLSHello: in arkime-smtp-starttls.pcap the ClientHello follows
// plaintext SMTP, so the flow belongs to the SMTP analyzer and this one
// never sees it. The hello and the server's reply, cut from the capture,
// are fed on port 443 instead and must give tshark's JA3, the source's
// JA4 and, for TLS 1.0 with RC4, a weak_tls finding.
func TestSTARTTLSHello(t *testing.T) {
	path := inspecttest.CorpusFile(t, "arkime-smtp-starttls.pcap")

	whole, err := inspecttest.RunFile(t, path, nil, New())
	if err != nil {
		t.Fatal(err)
	}
	if len(whole.Events) != 0 {
		t.Fatalf("the SMTP flow is not TLS's: %v", whole.Events)
	}

	ch := corpusPayload(t, path, startsHello(typeClientHello))
	sh := corpusPayload(t, path, startsHello(typeServerHello))
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewTCP(e, "10.0.0.1:57406", "173.194.68.26:443")
	c.ClientBytes(ch).ServerBytes(sh)
	c.Close()
	e.Flush()

	hellos := col.Kind(event.KindTLSClient)
	if len(hellos) != 1 {
		t.Fatalf("%d ClientHellos: %v", len(hellos), col.Events)
	}
	checkEvidence(t, hellos[0], "ja3", "fab507fe132c544e8a0eb7c394affeae")
	checkEvidence(t, hellos[0], "ja4", "t10i290100_cdba58456bdf_e78b541c01a9")
	checkEvidence(t, hellos[0], "tls_version_max", "TLS 1.0")
	checkEvidence(t, hellos[0], "sni", "")
	weak := col.Kind(event.KindWeakTLS)
	if len(weak) != 1 {
		t.Fatalf("%d weak_tls findings", len(weak))
	}
	checkEvidence(t, weak[0], "tls_version", "TLS 1.0")
	checkEvidence(t, weak[0], "cipher", "TLS_RSA_WITH_RC4_128_SHA")
	checkEvidence(t, weak[0], "reason", "old_version,weak_cipher")
	if weak[0].Device.IP != "10.0.0.1" || weak[0].Severity != event.SeverityMedium {
		t.Errorf("finding about %v, severity %v; want the LAN client, medium", weak[0].Device, weak[0].Severity)
	}
}

// TestReassembly feeds one ClientHello in many shapes: whole, one byte per
// segment, fragmented over several TLS records, record headers split
// across segments. Every shape must give the same observation.
func TestReassembly(t *testing.T) {
	msg := chromeHello("device.example").message()
	whole := records(msg)
	tests := []struct {
		name   string
		stream []byte
		cuts   []int // segment sizes; the rest goes in a last segment
	}{
		{"one_segment", whole, nil},
		{"one_byte_per_segment", whole, repeat(1, len(whole))},
		{"record_header_split", whole, []int{1, 2, 1, 1, 7}},
		{"three_records", records(msg, 100, 700), nil},
		{"many_tiny_records", records(msg, repeat(3, len(msg)/3)...), nil},
		{"records_and_segments_misaligned", records(msg, 1, 2, 3, 500, 4), []int{9, 13, 300, 1, 1, 1, 222}},
		{"handshake_header_split_over_records", records(msg, 2, 1, 1), nil},
	}
	var want event.Evidence
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:443")
			rest := tt.stream
			for _, n := range tt.cuts {
				n = min(n, len(rest))
				c.ClientBytes(rest[:n])
				rest = rest[n:]
			}
			if len(rest) > 0 {
				c.ClientBytes(rest)
			}
			c.ServerBytes(serverHello(versionTLS12, 0x1301, versionTLS13))
			c.Close()
			e.Flush()
			hellos := col.Kind(event.KindTLSClient)
			if len(hellos) != 1 || len(col.Kind(event.KindTLSServer)) != 1 {
				t.Fatalf("events %v", col.Events)
			}
			ev := hellos[0].Evidence
			checkEvidence(t, hellos[0], "sni", "device.example")
			checkEvidence(t, hellos[0], "ech", "yes")
			checkEvidence(t, hellos[0], "alpn", "h2,http/1.1")
			checkEvidence(t, hellos[0], "tls_version_max", "TLS 1.3")
			checkEvidence(t, hellos[0], "weak_offered", "no")
			if want == nil {
				want = ev
			}
			for k, v := range want {
				if ev[k] != v {
					t.Errorf("%s = %q, the whole hello gave %q", k, ev[k], v)
				}
			}
		})
	}
}

func repeat(n, times int) []int {
	out := make([]int, times)
	for i := range out {
		out[i] = n
	}
	return out
}

// TestWeakTLS covers the verdicts: what the server chose, what the client
// offered, and who the finding is about.
func TestWeakTLS(t *testing.T) {
	strongOffer := hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0x0035, 0x000a}}
	tests := []struct {
		name     string
		client   hello
		server   []byte // nil: no ServerHello
		cli, srv string // addresses
		severity string // "" for no finding
		reason   string
		version  string
		cipher   string
		device   string
	}{
		{"strong_choice_from_mixed_offer", strongOffer, serverHello(versionTLS12, 0xc02f, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"", "", "", "", ""},
		{"tls13", chromeHello("a.example"), serverHello(versionTLS12, 0x1302, versionTLS13), "192.168.1.10:40000", "203.0.113.5:443",
			"", "", "", "", ""},
		{"server_chose_3des", strongOffer, serverHello(versionTLS12, 0x000a, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "weak_cipher", "TLS 1.2", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "192.168.1.10"},
		{"server_chose_null", hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0x0002}}, serverHello(versionTLS12, 0x0002, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"high", "weak_cipher", "TLS 1.2", "TLS_RSA_WITH_NULL_SHA", "192.168.1.10"},
		{"server_chose_export", hello{version: versionTLS10, ciphers: []uint16{0x0003}}, serverHello(versionTLS10, 0x0003, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"high", "old_version,weak_cipher,only_weak_offered", "TLS 1.0", "TLS_RSA_EXPORT_WITH_RC4_40_MD5", "192.168.1.10"},
		{"server_chose_anon", hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0x0034}}, serverHello(versionTLS12, 0x0034, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"high", "weak_cipher", "TLS 1.2", "TLS_DH_anon_WITH_AES_128_CBC_SHA", "192.168.1.10"},
		{"tls11_negotiated", strongOffer, serverHello(versionTLS11, 0x0035, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "old_version", "TLS 1.1", "TLS_RSA_WITH_AES_256_CBC_SHA", "192.168.1.10"},
		{"ssl3_negotiated", strongOffer, serverHello(versionSSL3, 0x0035, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"high", "old_version", "SSL 3.0", "TLS_RSA_WITH_AES_256_CBC_SHA", "192.168.1.10"},
		{"lan_server_chose_rc4_for_wan_client", strongOffer, serverHello(versionTLS12, 0x0005, 0), "198.51.100.7:40000", "192.168.1.20:443",
			"medium", "weak_cipher", "TLS 1.2", "TLS_RSA_WITH_RC4_128_SHA", "192.168.1.20"},
		{"client_offers_only_rc4_no_reply", hello{version: versionTLS12, ciphers: []uint16{0x0004, 0x0005, 0x00ff}}, nil, "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "only_weak_offered", "TLS 1.2", "", "192.168.1.10"},
		{"client_max_tls10_no_reply", hello{version: versionTLS10, ciphers: []uint16{0x002f}}, nil, "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "old_version", "TLS 1.0", "", "192.168.1.10"},
		{"server_alert_instead_of_hello", hello{version: versionTLS12, ciphers: []uint16{0x0004}}, record(21, []byte{2, 40}), "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "only_weak_offered", "TLS 1.2", "", "192.168.1.10"},
		// Suites outside the IANA registry that old stacks still speak.
		{"server_chose_nss_fips_3des", hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0xfeff}}, serverHello(versionTLS12, 0xfeff, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "weak_cipher", "TLS 1.2", "SSL_RSA_FIPS_WITH_3DES_EDE_CBC_SHA", "192.168.1.10"},
		{"server_chose_nss_fips_des", hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0xfefe}}, serverHello(versionTLS12, 0xfefe, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "weak_cipher", "TLS 1.2", "SSL_RSA_FIPS_WITH_DES_CBC_SHA", "192.168.1.10"},
		{"server_chose_nss_oldfips_3des", hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0xffe0}}, serverHello(versionTLS12, 0xffe0, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "weak_cipher", "TLS 1.2", "SSL_RSA_OLDFIPS_WITH_3DES_EDE_CBC_SHA", "192.168.1.10"},
		{"server_chose_nss_oldfips_des", hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0xffe1}}, serverHello(versionTLS12, 0xffe1, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "weak_cipher", "TLS 1.2", "SSL_RSA_OLDFIPS_WITH_DES_CBC_SHA", "192.168.1.10"},
		{"server_chose_gost_28147", hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0x0081}}, serverHello(versionTLS12, 0x0081, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "weak_cipher", "TLS 1.2", "TLS_GOSTR341001_WITH_28147_CNT_IMIT", "192.168.1.10"},
		{"server_chose_gost_null", hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0x0083}}, serverHello(versionTLS12, 0x0083, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"high", "weak_cipher", "TLS 1.2", "TLS_GOSTR341001_WITH_NULL_GOSTR3411", "192.168.1.10"},
		{"server_chose_fortezza", hello{version: versionTLS10, ciphers: []uint16{0x001d}}, serverHello(versionTLS10, 0x001d, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"medium", "old_version,weak_cipher,only_weak_offered", "TLS 1.0", "SSL_FORTEZZA_DMS_WITH_FORTEZZA_CBC_SHA", "192.168.1.10"},
		// A suite the table does not know is neither blamed nor credited.
		{"server_chose_unlisted", hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0x1337}}, serverHello(versionTLS12, 0x1337, 0), "192.168.1.10:40000", "203.0.113.5:443",
			"", "", "", "", ""},
		{"client_offers_weak_and_unlisted", hello{version: versionTLS12, ciphers: []uint16{0x000a, 0x1337}}, nil, "192.168.1.10:40000", "203.0.113.5:443",
			"", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, tt.cli, tt.srv)
			c.ClientBytes(records(tt.client.message()))
			if tt.server != nil {
				c.ServerBytes(tt.server)
			}
			c.Close()
			e.Flush()
			weak := col.Kind(event.KindWeakTLS)
			if tt.severity == "" {
				if len(weak) != 0 {
					t.Fatalf("unexpected finding %v", weak[0])
				}
				return
			}
			if len(weak) != 1 {
				t.Fatalf("%d findings, want 1: %v", len(weak), col.Events)
			}
			w := weak[0]
			if w.Severity.String() != tt.severity {
				t.Errorf("severity %v, want %s", w.Severity, tt.severity)
			}
			if w.Device.IP != tt.device {
				t.Errorf("device %v, want %s", w.Device, tt.device)
			}
			checkEvidence(t, w, "reason", tt.reason)
			checkEvidence(t, w, "tls_version", tt.version)
			checkEvidence(t, w, "cipher", tt.cipher)
		})
	}
}

// TestServerNameMasked: a server name built from the device's identifier
// shows the label as "..." in the hello's observation and a weak_tls
// finding, evidence and summary; a service's own name stays whole.
func TestServerNameMasked(t *testing.T) {
	tests := []struct{ sni, want, id string }{
		{"a1b2c3d4e5f6.iot.vendor.example", "....iot.vendor.example", "a1b2c3d4e5f6"},
		{"cam-00112233aabb.example.net", "....example.net", "00112233aabb"},
		{"sn-357938035643809.devices.example", "....devices.example", "357938035643809"},
		{"iot-as-mqtt.cn-shanghai.aliyuncs.com", "iot-as-mqtt.cn-shanghai.aliyuncs.com", ""},
		{"d3rlzbr8ymv9u5.cloudfront.net", "d3rlzbr8ymv9u5.cloudfront.net", ""},
	}
	for _, tt := range tests {
		t.Run(tt.sni, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:443")
			c.ClientBytes(records(hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0x000a}, exts: []ext{sniExt(tt.sni)}}.message()))
			c.ServerBytes(serverHello(versionTLS12, 0x000a, 0))
			c.Close()
			e.Flush()
			hellos, weak := col.Kind(event.KindTLSClient), col.Kind(event.KindWeakTLS)
			if len(hellos) != 1 || len(weak) != 1 {
				t.Fatalf("%d hellos and %d weak_tls findings, want one each: %v", len(hellos), len(weak), col.Events)
			}
			for _, ev := range []*event.Event{hellos[0], weak[0]} {
				checkEvidence(t, ev, "sni", tt.want)
				if !strings.Contains(ev.Summary, tt.want) || tt.id != "" && strings.Contains(ev.Summary, tt.id) {
					t.Errorf("%s: summary %q, want it to name %q only", ev.Kind, ev.Summary, tt.want)
				}
			}
		})
	}
}

// TestServerHelloCipherStrength: the tls_server_hello observation grades
// the chosen suite, so that the scorecard credits a connection as strong
// only for a suite the table knows to be: one it does not know (or a
// signalling value, which is no suite) is "unknown", neither strong nor
// weak.
func TestServerHelloCipherStrength(t *testing.T) {
	tests := []struct {
		suite uint16
		want  string
	}{
		{0xc02f, "strong"},
		{0x1301, "strong"},
		{0x000a, "weak"},
		{0xfeff, "weak"},
		{0x0002, "insecure"},
		{0x1337, "unknown"},
		{0xcc13, "unknown"},
		{0x00ff, "unknown"},
		// Registered AEAD suites with a sound key exchange, common on
		// embedded stacks (mbedTLS, wolfSSL) and national profiles.
		{0xc0a4, "strong"},  // TLS_PSK_WITH_AES_128_CCM
		{0xc0a8, "strong"},  // TLS_PSK_WITH_AES_128_CCM_8
		{0xc0aa, "strong"},  // TLS_PSK_DHE_WITH_AES_128_CCM_8
		{0xd001, "strong"},  // TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256
		{0xd005, "strong"},  // TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256
		{0xc07c, "strong"},  // TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256
		{0xc08a, "strong"},  // TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256
		{0xc05c, "strong"},  // TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256
		{0xc060, "strong"},  // TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256
		{0x00c6, "strong"},  // TLS_SM4_GCM_SM3
		{0xc100, "strong"},  // TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC
		{0xc101, "weak"},    // TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC: 64-bit blocks
		{0xd004, "unknown"}, // unassigned between RFC 8442's suites
	}
	for _, tt := range tests {
		t.Run(hex16(tt.suite), func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:443")
			c.ClientBytes(records(hello{version: versionTLS12, ciphers: []uint16{0xc02f, tt.suite}}.message()))
			c.ServerBytes(serverHello(versionTLS12, tt.suite, 0))
			c.Close()
			e.Flush()
			got := col.Kind(event.KindTLSServer)
			if len(got) != 1 {
				t.Fatalf("%d tls_server_hello observations, want 1", len(got))
			}
			checkEvidence(t, got[0], "cipher_strength", tt.want)
		})
	}
}

// TestWeakTLSBetweenLANDevices: with both ends on the LAN each device is
// blamed for its own part: the server for what it chose, the client for
// what it offered.
func TestWeakTLSBetweenLANDevices(t *testing.T) {
	strongOffer := hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0x0035, 0x0005}}
	weakOffer := hello{version: versionTLS10, ciphers: []uint16{0x0005}}
	tests := []struct {
		name   string
		client hello
		server []byte
		want   map[string]string // device → reasons
	}{
		{"camera_chose_tls10_rc4_for_a_laptop", strongOffer, serverHello(versionTLS10, 0x0005, 0),
			map[string]string{"192.168.1.20": "old_version,weak_cipher"}},
		{"both_weak", weakOffer, serverHello(versionTLS10, 0x0005, 0),
			map[string]string{"192.168.1.10": "old_version,only_weak_offered", "192.168.1.20": "weak_cipher"}},
		{"old_client_alone", hello{version: versionTLS10, ciphers: []uint16{0xc02f}}, serverHello(versionTLS10, 0xc02f, 0),
			map[string]string{"192.168.1.10": "old_version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.20:443")
			c.ClientBytes(records(tt.client.message()))
			c.ServerBytes(tt.server)
			c.Close()
			e.Flush()
			got := map[string]string{}
			for _, w := range col.Kind(event.KindWeakTLS) {
				got[w.Device.IP] = w.Evidence["reason"]
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("findings %v, want %v", got, tt.want)
			}
		})
	}
}

// TestHostile: malformed, oversized or foreign input is dropped without
// events (or with only what can still be trusted) and never panics.
func TestHostile(t *testing.T) {
	ch := records(chromeHello("x.example").message())
	sh := serverHello(versionTLS12, 0xc02f, 0)
	huge := hello{version: versionTLS12, ciphers: []uint16{0xc02f}, exts: []ext{sniExt("big.example"), rawExt(0x0015, maxHello)}}
	truncated := chromeHello("x.example").message()
	truncated = truncated[:len(truncated)-10]
	badExt := hello{version: versionTLS12, ciphers: []uint16{0xc02f}, noExts: true}.body()
	badExt = append(badExt, 0, 9, 0, 0, 0, 7) // extension longer than its block
	goodStart := record(recordHandshake, chromeHello("x.example").message()[:10])
	tests := []struct {
		name           string
		client, server []byte
		clientHellos   int
		serverHellos   int
	}{
		// Not claimed: the first bytes contradict TLS.
		{"appdata_first_midstream", record(23, []byte("ciphertext")), record(23, []byte("more")), 0, 0},
		{"record_length_zero", []byte{22, 3, 1, 0, 0}, sh, 0, 0},
		{"record_version_bogus", []byte{22, 9, 9, 0, 4, 1, 0, 0, 0}, sh, 0, 0},
		{"wrong_message_type", record(recordHandshake, handshake(11, make([]byte, 20))), sh, 0, 0},
		{"sslv2_client_zero_length", []byte{0x80, 0x00, 0x01}, nil, 0, 0},
		// Claimed, then the client's side goes wrong: the server's hello
		// is still read.
		{"hello_too_large", records(huge.message()), sh, 0, 1},
		{"second_record_length_zero", append(goodStart, 22, 3, 1, 0, 0), sh, 0, 1},
		{"second_record_version_bogus", append(goodStart, 22, 9, 9, 0, 4, 1, 0, 0, 0), sh, 0, 1},
		{"second_record_not_handshake", append(goodStart, record(23, []byte("x"))...), sh, 0, 1},
		{"extension_overrun", record(recordHandshake, handshake(typeClientHello, badExt)), sh, 0, 1},
		{"truncated_hello_then_close", records(truncated)[:len(records(truncated))-1], nil, 0, 0},
		{"message_longer_than_records", records(truncated), nil, 0, 0},
		// The server's side goes wrong.
		{"server_sends_client_hello", ch, ch, 1, 0},
		{"server_ccs_before_hello", ch, record(20, []byte{1}), 1, 0},
		{"server_record_length_zero", ch, []byte{22, 3, 3, 0, 0}, 1, 0},
		{"server_record_version_bogus", ch, []byte{22, 7, 3, 0, 4, 2, 0, 0, 0}, 1, 0},
		{"server_hello_too_large", ch, record(recordHandshake, []byte{2, 0, 0x20, 0}), 1, 0},
		{"server_hello_truncated_in_record", ch, record(recordHandshake, serverHelloMsg(versionTLS12, 0xc02f, 0)[:30]), 1, 0},
		{"server_hello_garbage_body", ch, record(recordHandshake, handshake(typeServerHello, []byte{3, 3, 1})), 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:443")
			c.ClientBytes(tt.client)
			if tt.server != nil {
				c.ServerBytes(tt.server)
			}
			c.Close()
			e.Flush()
			if got := len(col.Kind(event.KindTLSClient)); got != tt.clientHellos {
				t.Errorf("%d ClientHello observations, want %d", got, tt.clientHellos)
			}
			if got := len(col.Kind(event.KindTLSServer)); got != tt.serverHellos {
				t.Errorf("%d ServerHello observations, want %d", got, tt.serverHellos)
			}
			if n := len(col.Findings()); n != 0 {
				t.Errorf("unexpected findings: %v", col.Findings())
			}
		})
	}
}

// TestStopsAfterServerHello: once the hellos are read the flow is no
// longer inspected, so a second handshake, or anything else, is ignored,
// and what follows the handshake never reaches an event.
func TestStopsAfterServerHello(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:443")
	ch := records(hello{version: versionTLS12, ciphers: []uint16{0xc02f, 0x0005}, exts: []ext{sniExt("first.example")}}.message())
	c.ClientBytes(ch).ServerBytes(serverHello(versionTLS12, 0xc02f, 0))
	c.ClientBytes(record(23, []byte("PASS s3cret-Pass\r\n")))
	c.ServerBytes(serverHello(versionTLS12, 0x0004, 0))
	c.ClientBytes(records(hello{version: versionTLS12, ciphers: []uint16{0x0004}, exts: []ext{sniExt("second.example")}}.message()))
	c.Close()
	e.Flush()
	if got := len(col.Events); got != 2 {
		t.Fatalf("%d events, want the two hellos: %v", got, col.Events)
	}
	if inspecttest.Leaks(t, col.Events, "s3cret-Pass") || inspecttest.Leaks(t, col.Events, "second.example") {
		t.Error("bytes after the handshake reached an event")
	}
}

// TestServerReadAfterClientBudget: the byte budget is per direction.
// Early data spends the client's; a ServerHello that comes after it is
// still read, and the client's weakness is reported.
func TestServerReadAfterClientBudget(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:443")
	c.ClientBytes(records(hello{version: versionTLS12, ciphers: []uint16{0x0004}}.message()))
	early := record(23, make([]byte, 16000))
	for i := 0; i < 3; i++ {
		c.ClientBytes(early)
	}
	c.ServerBytes(serverHello(versionTLS12, 0x0004, 0))
	c.Close()
	e.Flush()
	if got := len(col.Kind(event.KindTLSServer)); got != 1 {
		t.Errorf("%d ServerHellos read after the client's budget ran out, want 1", got)
	}
	if got := len(col.Kind(event.KindWeakTLS)); got != 1 {
		t.Errorf("%d weak_tls findings, want 1", got)
	}
}

// TestGap: lost bytes in the middle of a hello abandon that direction;
// the other one is still read.
func TestGap(t *testing.T) {
	ch := records(chromeHello("gap.example").message())
	sh := serverHello(versionTLS12, 0x0005, 0)
	tests := []struct {
		name                   string
		lossDir                inspect.Dir
		clients, servers, weak int
	}{
		{"hole_in_client_hello", inspect.ToServer, 0, 1, 1},
		{"hole_in_server_hello", inspect.ToClient, 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			s := newSegments(e, "192.168.1.10:40000", "203.0.113.5:443")
			send := func(dir inspect.Dir, b []byte) {
				if dir != tt.lossDir {
					s.data(dir, b)
					return
				}
				s.data(dir, b[:20])
				s.lose(dir, 20)
				s.data(dir, b[40:])
			}
			send(inspect.ToServer, ch)
			send(inspect.ToClient, sh)
			e.Flush()
			if got := len(col.Kind(event.KindTLSClient)); got != tt.clients {
				t.Errorf("%d ClientHellos, want %d", got, tt.clients)
			}
			if got := len(col.Kind(event.KindTLSServer)); got != tt.servers {
				t.Errorf("%d ServerHellos, want %d", got, tt.servers)
			}
			if got := len(col.Kind(event.KindWeakTLS)); got != tt.weak {
				t.Errorf("%d weak_tls findings, want %d", got, tt.weak)
			}
		})
	}
}

// TestSSLv2Hello: an SSL 2.0 format hello that offers TLS 1.0 is a
// medium finding; one that offers only SSL 2.0 a high one.
func TestSSLv2Hello(t *testing.T) {
	v2 := func(version uint16, specs ...[3]byte) []byte {
		body := []byte{typeClientHello, byte(version >> 8), byte(version), 0, byte(3 * len(specs)), 0, 0, 0, 16}
		for _, s := range specs {
			body = append(body, s[:]...)
		}
		body = append(body, bytes.Repeat([]byte{0xcc}, 16)...)
		return append([]byte{0x80 | byte(len(body)>>8), byte(len(body))}, body...)
	}
	tests := []struct {
		name, severity, version string
		hello                   []byte
	}{
		{"sslv2_only", "high", "SSL 2.0", v2(versionSSL2, [3]byte{1, 0, 0x80}, [3]byte{7, 0, 0xc0})},
		{"compat_hello_tls10", "medium", "TLS 1.0", v2(versionTLS10, [3]byte{0, 0, 0x2f}, [3]byte{0, 0, 0x35}, [3]byte{7, 0, 0xc0})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			col := &inspecttest.Collector{}
			e := inspecttest.Engine(t, col, nil, New())
			c := inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:443")
			c.ClientBytes(tt.hello)
			c.Close()
			e.Flush()
			hellos := col.Kind(event.KindTLSClient)
			if len(hellos) != 1 {
				t.Fatalf("events %v", col.Events)
			}
			checkEvidence(t, hellos[0], "sslv2_format", "yes")
			checkEvidence(t, hellos[0], "ja3", "")
			checkEvidence(t, hellos[0], "tls_version_max", tt.version)
			weak := col.Kind(event.KindWeakTLS)
			if len(weak) != 1 || weak[0].Severity.String() != tt.severity {
				t.Fatalf("findings %v, want one %s", weak, tt.severity)
			}
			if !strings.Contains(weak[0].Evidence["reason"], "sslv2_hello") {
				t.Errorf("reason %q", weak[0].Evidence["reason"])
			}
		})
	}
}

func TestMatch(t *testing.T) {
	ch := records(chromeHello("m.example").message())
	tests := []struct {
		name string
		port uint16
		tcp  bool
		b    []byte
		want inspect.Confidence
	}{
		{"client_hello_any_port", 4433, true, ch, inspect.ContentMatch},
		{"server_hello_first", 12345, true, serverHello(versionTLS12, 0xc02f, 0), inspect.ContentMatch},
		{"sslv2_hello", 4433, true, []byte{0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15}, inspect.ContentMatch},
		{"sslv2_compat_hello", 4433, true, []byte{0x80, 0x2e, 0x01, 0x03, 0x01}, inspect.ContentMatch},
		{"one_byte_on_443", 443, true, []byte{22}, inspect.PortMatch},
		{"header_only_on_8883", 8883, true, []byte{22, 3, 1, 2, 0}, inspect.PortMatch},
		{"one_byte_elsewhere", 4433, true, []byte{22}, inspect.NoMatch},
		{"http_on_443", 443, true, []byte("GET / HTTP/1.1\r\n"), inspect.NoMatch},
		{"appdata_on_443", 443, true, record(23, []byte("x")), inspect.NoMatch},
		{"alert_on_443", 443, true, record(21, []byte{2, 40}), inspect.NoMatch},
		{"record_version_4_0", 443, true, []byte{22, 4, 0, 0, 10, 1}, inspect.NoMatch},
		{"record_too_long", 443, true, []byte{22, 3, 1, 0xff, 0xff, 1}, inspect.NoMatch},
		{"certificate_first", 443, true, record(recordHandshake, handshake(11, nil)), inspect.NoMatch},
		{"sslv2_server_hello_type", 443, true, []byte{0x80, 0x2e, 0x04, 0x00, 0x02}, inspect.NoMatch},
		{"sslv2_bogus_version", 4433, true, []byte{0x80, 0x2e, 0x01, 0x09, 0x09}, inspect.NoMatch},
		{"udp_443", 443, false, ch, inspect.NoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probe := &inspecttest.MatchProbe{Protocol: New()}
			e := inspecttest.Engine(t, &inspecttest.Collector{}, nil, probe)
			client, server := "192.168.1.10:40000", "203.0.113.5:"+itoa(tt.port)
			if tt.tcp {
				inspecttest.NewTCP(e, client, server).ClientBytes(tt.b)
			} else {
				inspecttest.NewUDP(e, client, server).ClientBytes(tt.b)
			}
			if got := probe.Got; got != tt.want {
				t.Errorf("Match = %d, want %d", got, tt.want)
			}
		})
	}
}

func itoa(p uint16) string {
	var b [5]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + p%10)
		p /= 10
		if p == 0 {
			return string(b[i:])
		}
	}
}

// TestFeedNoAlloc: reassembling a hello allocates nothing per segment.
func TestFeedNoAlloc(t *testing.T) {
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(t, col, nil, New())
	s := newSegments(e, "192.168.1.10:40000", "203.0.113.5:443")
	// A hello of about 7 KiB in one record, fed 16 bytes at a time.
	big := records(hello{version: versionTLS12, ciphers: []uint16{0xc02f}, exts: []ext{rawExt(0x0015, 7000)}}.message())
	s.data(inspect.ToServer, big[:16])
	off := 16
	allocs := testing.AllocsPerRun(200, func() {
		s.data(inspect.ToServer, big[off:off+16])
		off += 16
	})
	if allocs != 0 {
		t.Errorf("feeding a hello segment allocates %.1f times", allocs)
	}
	s.data(inspect.ToServer, big[off:])
	if len(col.Kind(event.KindTLSClient)) != 1 {
		t.Errorf("the hello fed in pieces was not reported: %v", col.Events)
	}
}

// BenchmarkFeedHello measures reassembling and reporting a browser hello
// split over three segments, with a new flow each time.
func BenchmarkFeedHello(b *testing.B) {
	ch := records(chromeHello("bench.example").message())
	sh := serverHello(versionTLS12, 0x1301, versionTLS13)
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(b, col, nil, New())
	b.ReportAllocs()
	b.SetBytes(int64(len(ch)))
	for i := 0; b.Loop(); i++ {
		s := newSegments(e, "192.168.1.10:"+itoa(uint16(1024+i%60000)), "203.0.113.5:443")
		s.data(inspect.ToServer, ch[:600])
		s.data(inspect.ToServer, ch[600:1200])
		s.data(inspect.ToServer, ch[1200:])
		s.data(inspect.ToClient, sh)
		s.send(inspect.ToServer, nil, inspect.TCPFlagFIN|inspect.TCPFlagACK)
		s.send(inspect.ToClient, nil, inspect.TCPFlagFIN|inspect.TCPFlagACK)
		col.Events = col.Events[:0]
	}
}

// helloPool is an engine whose one protocol is p, and a ClientHello's
// records for it.
func helloPool(t *testing.T) (p *Protocol, col *inspecttest.Collector, e *inspect.Engine, ch []byte) {
	t.Helper()
	p, col = New(), &inspecttest.Collector{}
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: []inspect.Protocol{p}, Sink: col})
	if err != nil {
		t.Fatal(err)
	}
	ch = records(hello{version: versionTLS12, ciphers: []uint16{0xc02f}, exts: []ext{sniExt("pool.example")}}.message())
	return p, col, e, ch
}

// TestHelloBuffers: reassembly buffers are lent only while a hello is
// incomplete, at most maxHelloBuffers at once; a flow past the cap is
// abandoned, the others are unaffected, and every buffer comes back.
func TestHelloBuffers(t *testing.T) {
	p, col, e, ch := helloPool(t)

	waiting := newSegments(e, "192.168.1.9:40000", "203.0.113.5:443")
	waiting.data(inspect.ToServer, ch)
	if p.bufs.Lent() != 0 {
		t.Fatalf("%d buffers lent to a flow whose ClientHello is complete", p.bufs.Lent())
	}

	var flows []*segments
	for i := 0; i <= maxHelloBuffers; i++ {
		// From 64 hosts, each far within its share of the engine's
		// inspections and of the hello buffers.
		client := "192.168.1." + itoa(uint16(10+i%64)) + ":" + itoa(uint16(20000+i))
		s := newSegments(e, client, "203.0.113.5:443")
		s.data(inspect.ToServer, ch[:20])
		flows = append(flows, s)
	}
	if p.bufs.Lent() != maxHelloBuffers {
		t.Fatalf("%d buffers lent, want the cap %d", p.bufs.Lent(), maxHelloBuffers)
	}
	first, last := flows[0], flows[maxHelloBuffers]
	first.data(inspect.ToServer, ch[20:])
	last.data(inspect.ToServer, ch[20:])
	if got := len(col.Kind(event.KindTLSClient)); got != 2 {
		t.Errorf("%d ClientHellos, want the waiting flow's and the first's, not the one past the cap", got)
	}
	e.Flush()
	if p.bufs.Lent() != 0 {
		t.Errorf("%d buffers still lent after every flow closed", p.bufs.Lent())
	}
}

// TestHelloBuffersPerHost: two devices leaving hellos half-sent on
// hundreds of connections hold an eighth of the hello buffers each, and
// a third device's ClientHello split over two segments is still read;
// the counts return to zero as the flows close.
func TestHelloBuffersPerHost(t *testing.T) {
	p, col, e, ch := helloPool(t)
	// Addresses in distinct buckets, so that each has a share of its own.
	bucket := func(addr string) uint32 { return e.HostBucket(netip.MustParseAddr(addr)) }
	var hosts []string
	used := map[uint32]bool{}
	for i := 10; len(hosts) < 3; i++ {
		addr := "192.168.1." + itoa(uint16(i))
		if b := bucket(addr); !used[b] {
			used[b] = true
			hosts = append(hosts, addr)
		}
	}
	for _, h := range hosts[:2] {
		for i := range maxHelloBuffers / 2 { // between them, every hello buffer there is
			newSegments(e, h+":"+itoa(uint16(20000+i)), "203.0.113.5:443").data(inspect.ToServer, ch[:20])
		}
	}
	if want := 2 * maxHelloBuffers / inspect.HostShareDiv; p.bufs.Lent() != want {
		t.Fatalf("%d buffers lent to two hosts, want %d", p.bufs.Lent(), want)
	}
	third := newSegments(e, hosts[2]+":40000", "203.0.113.5:443")
	third.data(inspect.ToServer, ch[:20])
	third.data(inspect.ToServer, ch[20:])
	if got := len(col.Kind(event.KindTLSClient)); got != 1 {
		t.Errorf("%d ClientHellos read, want the third device's", got)
	}
	e.Flush()
	if p.bufs.Lent() != 0 {
		t.Errorf("%d buffers still lent after every flow closed", p.bufs.Lent())
	}
	for h := range uint32(inspect.HostBuckets) {
		if n := p.bufs.LentTo(h); n != 0 {
			t.Errorf("%d buffers still counted to host bucket %d after every flow closed", n, h)
		}
	}
}

// TestAbandonGivesTheBufferBack: after a panic in the analyzer the engine
// calls Abandon, which gives its hello buffer back: a few panics would
// otherwise keep every buffer lent for good.
func TestAbandonGivesTheBufferBack(t *testing.T) {
	p := New()
	ch := records(hello{version: versionTLS12, ciphers: []uint16{0xc02f}, exts: []ext{sniExt("pool.example")}}.message())
	s := inspecttest.NewSession(t, p, "203.0.113.5:443")
	s.ClientBytes(ch[:20])
	if p.bufs.Lent() != 1 {
		t.Fatalf("%d buffers lent while a ClientHello is read, want 1", p.bufs.Lent())
	}
	f, a := s.Analyzer(t)
	a.(inspect.Abandoner).Abandon(f)
	if p.bufs.Lent() != 0 {
		t.Errorf("%d buffers still lent after Abandon", p.bufs.Lent())
	}
}
