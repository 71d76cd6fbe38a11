package plaintext

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/dns"
	"github.com/iotgw/iotgw/pkg/inspect/http"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/pii"
	"github.com/iotgw/iotgw/pkg/inspect/snmp"
)

// fakeProto stands in for a real analyzer: it claims flows whose first
// payload starts with prefix (ContentMatch), or any flow with the given
// confidence when prefix is empty, so the engine labels them with name.
type fakeProto struct {
	name   string
	prefix string
	conf   inspect.Confidence
}

func (p *fakeProto) Name() string { return p.name }
func (p *fakeProto) Match(_ *inspect.Flow, _ inspect.Dir, b []byte) inspect.Confidence {
	if p.prefix == "" {
		return p.conf
	}
	if bytes.HasPrefix(b, []byte(p.prefix)) {
		return inspect.ContentMatch
	}
	return inspect.NoMatch
}
func (p *fakeProto) NewAnalyzer(*inspect.Flow) inspect.Analyzer { return nopAnalyzer{} }

type nopAnalyzer struct{}

func (nopAnalyzer) Feed(_ *inspect.Flow, _ inspect.Dir, b []byte) int { return len(b) }
func (nopAnalyzer) Gap(*inspect.Flow, inspect.Dir)                    {}
func (nopAnalyzer) Close(*inspect.Flow)                               {}

// recorder is a PayloadScanner that keeps what it was given.
type recorder struct {
	calls [][]byte
	flow  *inspect.Flow
}

func (r *recorder) ScanPayload(f *inspect.Flow, _ inspect.Dir, where string, b []byte, _ inspect.Cut) {
	if where != "payload" {
		panic("where = " + where)
	}
	r.flow = f
	r.calls = append(r.calls, bytes.Clone(b))
}

func (r *recorder) total() int {
	n := 0
	for _, c := range r.calls {
		n += len(c)
	}
	return n
}

const (
	lanDevice = "192.168.1.10:40000"
	wanServer = "203.0.113.5:5000"
)

func TestLooksText(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want bool
	}{
		{"json", []byte(`{"temp":21.5,"email":"a@b.example"}`), true},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), true},
		{"utf8", []byte("Grüße aus Köln, 温度 21 °C\n"), true},
		{"utf8_cut_at_sample_end", append(bytes.Repeat([]byte("a"), 63), 0xc3), true},
		{"tls_client_hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x8f, 0x12, 0xa0, 0xb3, 0x00}, false},
		{"mqtt_connect", []byte{0x10, 0x1a, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c}, false},
		{"random_high_bytes", []byte{0xde, 0xad, 0xbe, 0xef, 0xfe, 0xed, 0xfa, 0xce, 0xca, 0xfe, 0xba, 0xbe}, false},
		{"mostly_text_some_nul", []byte("hello world, this is text\x00\x00"), true},
		{"half_binary", []byte("abcd\x00\x01\x02\x03abcd\x00\x01\x02\x03"), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := looksText(tt.in); got != tt.want {
			t.Errorf("%s: looksText = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestMatchLosesToRealProtocols(t *testing.T) {
	tests := []struct {
		name    string
		protos  func(text *Protocol) []inspect.Protocol
		payload string
		wantApp string
	}{
		{"text_alone", func(p *Protocol) []inspect.Protocol { return []inspect.Protocol{p} }, "hello there\n", "text"},
		{"binary_unclaimed", func(p *Protocol) []inspect.Protocol { return []inspect.Protocol{p} }, strings.Repeat("\x00\x01\x02\x03\x04\xff", 8), ""},
		{"port_match_wins_tie", func(p *Protocol) []inspect.Protocol {
			return []inspect.Protocol{&fakeProto{name: "ftp", conf: inspect.PortMatch}, p}
		}, "hello there\n", "ftp"},
		{"content_match_wins", func(p *Protocol) []inspect.Protocol {
			return []inspect.Protocol{&fakeProto{name: "http", prefix: "GET "}, p}
		}, "GET / HTTP/1.0\r\n\r\n", "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, tt.protos(New(pii.New()))...)
			inspecttest.NewTCP(e, lanDevice, wanServer).Client(tt.payload + `{"email":"alice@example.com"}`)
			e.Flush()
			got := ""
			for _, ev := range c.Events {
				got = ev.Flow.App
			}
			if tt.wantApp == "text" && got != "text" {
				t.Fatalf("want a personal_data finding on a text flow, got %v", c.Events)
			}
			if tt.wantApp != "text" && len(c.Kind(event.KindPersonalData)) != 0 {
				t.Fatalf("text analyzer ran on a flow it should not own: %v", c.Events)
			}
			if unclaimed := e.Stats.Unidentified == 1; unclaimed != (tt.wantApp == "") {
				t.Errorf("unidentified flows: %d", e.Stats.Unidentified)
			}
		})
	}
}

func TestNilScannerClaimsNothing(t *testing.T) {
	if New(nil).Match(nil, inspect.ToServer, []byte("hello")) != inspect.NoMatch {
		t.Fatal("a text protocol without a scanner claimed a flow")
	}
}

func TestAnalyzerFindsPersonalData(t *testing.T) {
	// A position fix as a u-blox module prints it: 71 bytes and CRLF.
	const gga = "$GNGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*68\r\n"
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		kinds  string
	}{
		{"json_one_segment", func(c *inspecttest.Conv) {
			c.Client(`{"email":"alice@example.com","lat":52.520008,"lon":13.404954}` + "\n")
		}, "email,location"},
		{"split_inside_address", func(c *inspecttest.Conv) {
			c.Client(`{"email":"alice@exa`).Client(`mple.com"}`)
		}, "email"},
		{"one_char_per_segment", func(c *inspecttest.Conv) {
			c.ClientChars("mail to alice@example.com\r\n")
		}, "email"},
		{"lat_and_lon_in_two_segments", func(c *inspecttest.Conv) {
			c.Client(`{"lat":52.520008,`).Client(`"lon":13.404954}`)
		}, "location"},
		{"both_directions", func(c *inspecttest.Conv) {
			c.Client("HELO\r\n").Server(`{"card":"4111111111111111"}`)
		}, "card"},
		{"repeated_payloads_once", func(c *inspecttest.Conv) {
			for range 20 {
				c.Client(`{"email":"alice@example.com"}` + "\n")
			}
		}, "email"},
		// An NMEA sentence may be longer than 64 bytes: a serial-to-TCP
		// bridge forwards a GNSS module's output as the UART hands it
		// over, cut anywhere.
		{"nmea_split_late", func(c *inspecttest.Conv) {
			c.Client(gga[:len(gga)-4]).Client(gga[len(gga)-4:])
		}, "nmea"},
		{"nmea_one_char_per_segment", func(c *inspecttest.Conv) {
			c.ClientChars(gga)
		}, "nmea"},
		{"nmea_at_the_end_of_the_stream", func(c *inspecttest.Conv) {
			c.Client("$GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00*74\r\n").Client(strings.TrimSpace(gga))
		}, "nmea"},
		{"binary_after_text_not_reported", func(c *inspecttest.Conv) {
			c.Client("HELLO 1\n").ClientBytes(append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xff, 0xfe, 0, 0, 0, 0, 0, 0, 0}, "alice@example.com"...))
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := runTCP(t, tt.script)
			var kinds []string
			for _, ev := range c.Kind(event.KindPersonalData) {
				kinds = append(kinds, ev.Evidence["data_kind"])
				if ev.Evidence["where"] != "payload" || ev.Flow.App != "text" {
					t.Errorf("where %q app %q", ev.Evidence["where"], ev.Flow.App)
				}
			}
			if got := strings.Join(kinds, ","); got != tt.kinds {
				t.Fatalf("found %q, want %q", got, tt.kinds)
			}
			for _, secret := range []string{"alice@example.com", "52.520008", "4111111111111111"} {
				if inspecttest.Leaks(t, c.Events, secret) {
					t.Errorf("%q leaked", secret)
				}
			}
		})
	}
}

func TestChunksAndSeams(t *testing.T) {
	r := &recorder{}
	c := &inspecttest.Collector{}
	e := inspecttest.Engine(t, c, nil, New(r))
	big := bytes.Repeat([]byte("abcdefghij"), 1000) // 10 000 bytes in one segment
	conv := inspecttest.NewTCP(e, lanDevice, wanServer).ClientBytes(big)
	for _, call := range r.calls {
		if len(call) > chunk {
			t.Fatalf("scanner got %d bytes in one call, cap %d", len(call), chunk)
		}
	}
	if r.total() < len(big) {
		t.Fatalf("scanner saw %d of %d bytes", r.total(), len(big))
	}
	// Chunks overlap so that anything up to carrySize bytes long is whole
	// in one of them.
	for i := 1; i < len(r.calls); i++ {
		prev := r.calls[i-1]
		if !bytes.HasPrefix(r.calls[i], prev[len(prev)-carrySize:]) {
			t.Fatalf("chunk %d does not overlap the previous one", i)
		}
	}
	// The next segment's seam: the carried end joined to its start.
	r.calls = nil
	conv.Client("XYZ")
	if len(r.calls) != 2 || string(r.calls[0]) != string(big[len(big)-carrySize:])+"XYZ" || string(r.calls[1]) != "XYZ" {
		t.Fatalf("seam calls %q", r.calls)
	}
}

func TestCarryKeepsLastBytes(t *testing.T) {
	a := &analyzer{}
	for _, s := range []string{"abc", strings.Repeat("x", carrySize+6), "12345", "", "6"} {
		a.keepEnd(inspect.ToServer, []byte(s))
	}
	want := strings.Repeat("x", carrySize-6) + "123456"
	if got := string(a.carry[inspect.ToServer][:a.nc[inspect.ToServer]]); got != want {
		t.Fatalf("carry %q, want %q", got, want)
	}
	a.Gap(nil, inspect.ToServer)
	if a.nc[inspect.ToServer] != 0 {
		t.Fatal("gap kept the carry")
	}
}

// telemetry is a 1 KiB text payload without personal data.
func telemetry() []byte {
	var b strings.Builder
	for i := 0; b.Len() < 1024; i++ {
		fmt.Fprintf(&b, `{"t":%d,"temp":21.%d,"hum":48.2,"power":12.75,"fw":"2.4.17"}`+"\n", int64(1700000000123)+int64(i)*1000, i%10)
	}
	return []byte(b.String()[:1024])
}

func TestFeedDoesNotAllocate(t *testing.T) {
	r := &recorder{}
	c := &inspecttest.Collector{}
	p := New(pii.New())
	e := inspecttest.Engine(t, c, nil, New(r))
	inspecttest.NewTCP(e, lanDevice, wanServer).Client("hello\n")
	f := r.flow
	a := p.NewAnalyzer(f)
	payload := telemetry()
	a.Feed(f, inspect.ToServer, payload)
	if n := testing.AllocsPerRun(200, func() { a.Feed(f, inspect.ToServer, payload) }); n != 0 {
		t.Fatalf("%v allocations per Feed, want 0", n)
	}
	if len(c.Kind(event.KindPersonalData)) != 0 {
		t.Fatalf("telemetry reported: %v", c.Events)
	}
}

func BenchmarkFeed(b *testing.B) {
	r := &recorder{}
	c := &inspecttest.Collector{}
	p := New(pii.New())
	e := inspecttest.Engine(b, c, nil, New(r))
	inspecttest.NewTCP(e, lanDevice, wanServer).Client("hello\n")
	f := r.flow
	a := p.NewAnalyzer(f)
	payload := telemetry()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		a.Feed(f, inspect.ToServer, payload)
	}
}

// Plaintext protocol use towards the internet.

func httpEngine(t testing.TB) (*inspect.Engine, *inspecttest.Collector, *Protocol) {
	c := &inspecttest.Collector{}
	p := New(pii.New())
	e := inspecttest.Engine(t, c, nil, http.New(nil), &fakeProto{name: "telnet", prefix: "\xff\xfd"}, p)
	return e, c, p
}

// TestPlaintextProtocolOnOpenConnection: a connection that stays open
// (MQTT or telnet to a cloud, for days) is reported once its protocol is
// known, not when it ends; HTTP once its request is read, or, for a
// request that carried nothing, once the answer shows it was not only
// sent on to HTTPS (TestRedirectToHTTPSIsNoCleartextUse).
func TestPlaintextProtocolOnOpenConnection(t *testing.T) {
	e, c, _ := httpEngine(t)
	inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:80").Client("GET / HTTP/1.1\r\nHost: cloud\r\n\r\n").
		Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	inspecttest.NewTCP(e, "192.168.1.10:40001", "203.0.113.7:23").Client("\xff\xfd\x18")
	got := c.Kind(event.KindPlaintextProtocol)
	if len(got) != 2 {
		t.Fatalf("%d findings on open connections, want 2 (http, telnet): %v", len(got), got)
	}
}

// TestHTTPConnectionCountedOnce: an HTTP connection is one flow in the
// plaintext_protocol aggregate whether its opening was seen (counted at
// its first request worth encrypting) or the capture joined it after a
// restart (counted when identified, not again at its first request).
func TestHTTPConnectionCountedOnce(t *testing.T) {
	post := "POST /api/telemetry HTTP/1.1\r\nHost: api.cloud.example\r\nContent-Length: 2\r\n\r\n{}"
	tests := []struct {
		name     string
		conv     func(e *inspect.Engine, client, server string) *inspecttest.Conv
		requests int
	}{
		{"opened", inspecttest.NewTCP, 1},
		{"opened_two_requests", inspecttest.NewTCP, 2},
		{"joined", inspecttest.JoinTCP, 1},
		{"joined_two_requests", inspecttest.JoinTCP, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c, _ := httpEngine(t)
			conv := tt.conv(e, "192.168.1.10:40000", "203.0.113.5:80")
			for range tt.requests {
				conv.Client(post).Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			}
			conv.Close()
			e.Flush()
			got := c.Kind(event.KindPlaintextProtocol)
			flows := 0
			for _, ev := range got {
				flows += ev.Count
			}
			if len(got) != 1 || flows != 1 {
				t.Errorf("one HTTP connection: %d findings counting %d flows, want 1 finding counting 1", len(got), flows)
			}
		})
	}
}

// TestInClearByDesignIsNoFinding: HTTP whose content needs no
// encryption (signed OCSP answers and CRLs, captive-portal checks, a
// CONNECT tunnel) makes no plaintext_protocol finding; the first other
// request on the same connection does.
func TestInClearByDesignIsNoFinding(t *testing.T) {
	e, c, _ := httpEngine(t)
	ocsp := "POST / HTTP/1.1\r\nHost: ocsp.digicert.com\r\nContent-Type: application/ocsp-request\r\nContent-Length: 3\r\n\r\n0\x81\x00"
	for i, req := range []string{
		ocsp,
		"GET /MFEwTzBNMEswSTAJBgUrDgMCGgUABBQ HTTP/1.1\r\nHost: r11.o.lencr.org\r\n\r\n",
		"GET /generate_204 HTTP/1.1\r\nHost: connectivitycheck.gstatic.com\r\n\r\n",
		"GET /hotspot-detect.html HTTP/1.0\r\nHost: captive.apple.com\r\n\r\n",
		"GET /DigiCertGlobalRootCA.crl HTTP/1.1\r\nHost: crl3.digicert.com\r\n\r\n",
		"CONNECT cloud.example:443 HTTP/1.1\r\nHost: cloud.example:443\r\n\r\n",
	} {
		inspecttest.NewTCP(e, fmt.Sprintf("192.168.1.10:%d", 40000+i), fmt.Sprintf("203.0.113.%d:80", 10+i)).Client(req).Close()
	}
	e.Flush()
	if got := c.Kind(event.KindPlaintextProtocol); len(got) != 0 {
		t.Fatalf("%d findings for HTTP in clear by design: %v", len(got), got)
	}
	// A tunnel to a port that is not TLS's, and a connection the
	// capture joined after a restart, are counted.
	inspecttest.NewTCP(e, "192.168.1.10:42000", "203.0.113.40:3128").
		Client("CONNECT api.example:80 HTTP/1.1\r\nHost: api.example:80\r\n\r\n").
		Server("HTTP/1.1 200 Connection established\r\n\r\n").Close()
	inspecttest.JoinTCP(e, "192.168.1.10:42001", "203.0.113.41:80").
		Client("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n")
	for _, dst := range []string{"203.0.113.40", "203.0.113.41"} {
		if !slices.ContainsFunc(c.Kind(event.KindPlaintextProtocol), func(ev *event.Event) bool { return ev.Evidence["destination"] == dst }) {
			t.Errorf("no finding for %s", dst)
		}
	}
	inspecttest.NewTCP(e, "192.168.1.10:41000", "203.0.113.30:80").
		Client("GET /generate_204 HTTP/1.1\r\nHost: cloud.example\r\n\r\n").Server("HTTP/1.1 204 No Content\r\n\r\n").
		Client("POST /api/telemetry HTTP/1.1\r\nHost: cloud.example\r\nContent-Length: 2\r\n\r\n{}")
	if got := c.Kind(event.KindPlaintextProtocol); len(got) != 3 || got[2].Evidence["destination"] != "203.0.113.30" {
		t.Fatalf("findings %v, want one for 203.0.113.30 once the connection carried an API call", got)
	}
}

// TestLANDiscoveryIsNotCleartextUse: UPnP and DIAL description fetches
// and UPnP control (SOAP) between LAN hosts are plain HTTP by design, as
// SSDP and mDNS before them: no plaintext_protocol observation. The
// same requests to the internet, and other LAN requests, still count.
func TestLANDiscoveryIsNotCleartextUse(t *testing.T) {
	get := func(path, host string) string {
		return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: Linux/5.10 UPnP/1.0 Portable SDK for UPnP devices/1.14\r\n\r\n"
	}
	envelope := `<?xml version="1.0"?>` + "\r\n" +
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">` +
		`<s:Body><u:GetExternalIPAddress xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"/></s:Body></s:Envelope>`
	post := func(host string, action bool, contentType, body string) string {
		h := "POST /ctl/IPConn HTTP/1.1\r\nHost: " + host + "\r\n"
		if contentType != "" {
			h += "Content-Type: " + contentType + "\r\n"
		}
		if action {
			h += "SOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress\"\r\n"
		}
		return h + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	}
	soap := func(host string, action bool) string {
		return post(host, action, `text/xml; charset="utf-8"`, envelope)
	}
	tests := []struct {
		name, server, req string
		want              int // plaintext_protocol events
	}{
		{"igd_description_from_router", "192.168.1.1:5000", get("/rootDesc.xml", "192.168.1.1:5000"), 0},
		{"igd_control_to_router", "192.168.1.1:5000", soap("192.168.1.1:5000", true), 0},
		{"soap12_control", "192.168.1.1:5000", post("192.168.1.1:5000", true, "application/soap+xml; charset=utf-8",
			`<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body/></env:Envelope>`), 0},
		{"control_without_declaration", "192.168.1.1:5000", post("192.168.1.1:5000", true, "text/xml",
			"\r\n<SOAP-ENV:Envelope xmlns:SOAP-ENV=\"http://schemas.xmlsoap.org/soap/envelope/\"><SOAP-ENV:Body/></SOAP-ENV:Envelope>"), 0},
		{"dial_description", "192.168.1.30:8008", get("/ssdp/device-desc.xml", "192.168.1.30:8008"), 0},
		{"hue_bridge_description", "192.168.1.31:80", get("/description.xml", "192.168.1.31"), 0},
		{"renderer_description", "192.168.1.32:49152", get("/dd.xml", "192.168.1.32:49152"), 0},
		{"description_case_ignored", "192.168.1.33:1400", get("/xml/Device_Description.XML", "192.168.1.33:1400"), 0},
		// Not discovery: a post without SOAPAction, another page.
		{"lan_post_without_soapaction", "192.168.1.1:5000", soap("192.168.1.1:5000", false), 1},
		// A SOAPAction header on what is no SOAP message.
		{"soapaction_json", "192.168.1.20:8080", post("192.168.1.20:8080", true, "application/json",
			`{"ssid":"home","lat":52.52,"lon":13.40}`), 1},
		{"soapaction_form", "192.168.1.20:8080", post("192.168.1.20:8080", true, "application/x-www-form-urlencoded", "ssid=home&lat=52.52"), 1},
		{"soapaction_no_content_type", "192.168.1.20:8080", post("192.168.1.20:8080", true, "", envelope), 1},
		{"soapaction_no_body", "192.168.1.20:8080", post("192.168.1.20:8080", true, "text/xml", ""), 1},
		{"soapaction_other_xml", "192.168.1.20:8080", post("192.168.1.20:8080", true, "text/xml",
			`<?xml version="1.0"?><config><ssid>home</ssid><lat>52.52</lat></config>`), 1},
		{"lan_admin_page", "192.168.1.1:80", get("/admin/status.xml", "192.168.1.1"), 1},
		// Between LAN hosts only.
		{"description_on_the_internet", "203.0.113.5:80", get("/rootDesc.xml", "203.0.113.5"), 1},
		{"control_on_the_internet", "203.0.113.5:80", soap("203.0.113.5", true), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c, _ := httpEngine(t)
			inspecttest.NewTCP(e, "192.168.1.10:40000", tt.server).Client(tt.req).
				Server("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 2\r\n\r\n<>").Close()
			e.Flush()
			if got := c.Kind(event.KindPlaintextProtocol); len(got) != tt.want {
				t.Errorf("%d plaintext_protocol events %v, want %d", len(got), got, tt.want)
			}
		})
	}
}

// TestUPnPControlJudgedByItsBody: a control action is told from a POST
// with a SOAPAction header by its body, however it arrives; one whose
// body never came counts.
func TestUPnPControlJudgedByItsBody(t *testing.T) {
	head := "POST /ctl/IPConn HTTP/1.1\r\nHost: 192.168.1.1:5000\r\nContent-Type: text/xml\r\n" +
		"SOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress\"\r\n"
	envelope := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`
	sized := head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(envelope))
	tests := []struct {
		name     string
		segments []string
		want     int
	}{
		{"body_in_a_later_segment", []string{sized, envelope[:10], envelope[10:]}, 0},
		{"chunked", []string{head + "Transfer-Encoding: chunked\r\n\r\n", fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(envelope), envelope)}, 0},
		{"closed_before_its_body", []string{sized}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c, _ := httpEngine(t)
			conv := inspecttest.NewTCP(e, "192.168.1.10:40000", "192.168.1.1:5000")
			for _, seg := range tt.segments {
				conv.Client(seg)
			}
			conv.Close()
			e.Flush()
			if got := c.Kind(event.KindPlaintextProtocol); len(got) != tt.want {
				t.Errorf("%d plaintext_protocol events %v, want %d", len(got), got, tt.want)
			}
		})
	}
}

// TestConnectivityChecksAreNoFinding: the connectivity checks of
// NetworkManager as Linux distributions configure it, and of the
// Nintendo Switch and 3DS, are plain HTTP by design; other requests to
// the same hosts are not.
func TestConnectivityChecksAreNoFinding(t *testing.T) {
	tests := []struct {
		host, path string
		want       int
		header     string // more than the check sends
	}{
		{"connectivity-check.ubuntu.com", "/", 0, ""},
		{"connectivity-check.ubuntu.com.", "/", 0, ""}, // Ubuntu's configuration names the FQDN
		{"networkcheck.kde.org", "/", 0, ""},
		{"fedoraproject.org", "/static/hotspot.txt", 0, ""},
		{"ping.archlinux.org", "/nm-check.txt", 0, ""},
		{"network-test.debian.org", "/nm", 0, ""},
		{"conncheck.opensuse.org", "/", 0, ""},
		{"ctest.cdn.nintendo.net", "/", 0, ""},
		{"conntest.nintendowifi.net", "/", 0, ""},
		{"CTEST.cdn.nintendo.net:80", "/", 0, ""},
		{"fedoraproject.org", "/wiki/Main_Page", 1, ""},
		{"connectivity-check.ubuntu.com", "/other", 1, ""},
		{"cloud.example", "/", 1, ""},
		// The checks' own headers.
		{"connectivitycheck.gstatic.com", "/generate_204", 0, "Connection: Keep-Alive\r\nAccept-Encoding: gzip\r\n" +
			"User-Agent: Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP1A.240305.019.A1)"},
		{"captive.apple.com", "/hotspot-detect.html", 0, "Accept: */*\r\nAccept-Language: en-GB,en;q=0.9\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive"},
		// Firefox's query names the address family it tests.
		{"detectportal.firefox.com", "/success.txt?ipv4", 0, "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\nAccept: */*\r\nCache-Control: no-cache\r\nPragma: no-cache"},
		{"detectportal.firefox.com", "/success.txt?ipv6", 0, ""},
		{"detectportal.firefox.com", "/success.txt?ipv4&id=0123456789abcdef", 1, ""},
		// More than a check: a query, a body, a secret or an identifier.
		{"connectivity-check.ubuntu.com", "/?user=admin&token=0123456789abcdef0123456789abcdef", 1, ""},
		{"connectivitycheck.gstatic.com", "/generate_204?token=0123456789abcdef0123456789abcdef", 1, ""},
		{"captive.apple.com", "/hotspot-detect.html;jsessionid=0123456789abcdef", 1, ""},
		{"connectivity-check.ubuntu.com", "/", 1, "Content-Length: 2\r\n\r\n{}"},
		{"connectivity-check.ubuntu.com", "/", 1, "X-Api-Key: 0123456789abcdef01234567"},
		{"connectivitycheck.gstatic.com", "/generate_204", 1, "Authorization: Token 0123456789abcdef0123456789abcdef"},
		{"connectivitycheck.gstatic.com", "/generate_204", 1, "Cookie: sid=0123456789abcdef"},
		{"networkcheck.kde.org", "/", 1, "User-Agent: cam-fw/1.0 (SN 357938035643809)"},
	}
	for i, tt := range tests {
		name := tt.host + tt.path
		if h, _, ok := strings.Cut(tt.header, ":"); ok {
			name += " with " + h
		}
		t.Run(name, func(t *testing.T) {
			e, c, _ := httpEngine(t)
			header := "User-Agent: NetworkManager/1.36"
			if tt.header != "" {
				header = tt.header
			}
			inspecttest.NewTCP(e, "192.168.1.10:40000", fmt.Sprintf("203.0.113.%d:80", 10+i)).
				Client("GET " + tt.path + " HTTP/1.1\r\nHost: " + tt.host + "\r\n" + header + "\r\n\r\n").
				Server("HTTP/1.1 204 No Content\r\n\r\n").Close()
			e.Flush()
			if got := c.Kind(event.KindPlaintextProtocol); len(got) != tt.want {
				t.Errorf("%d plaintext_protocol events %v, want %d", len(got), got, tt.want)
			}
		})
	}
}

// TestRedirectToHTTPSIsNoCleartextUse: a request that carried nothing
// worth hiding (no body, credentials, cookies or query, no identifier
// in its path) and was only sent on to HTTPS is no cleartext use, on the
// internet or the LAN (the owner typing http:// for iotgw's own page).
// Anything more, another answer, or no answer before the connection
// ends, counts as before.
func TestRedirectToHTTPSIsNoCleartextUse(t *testing.T) {
	const internet, lan = "203.0.113.5:80", "192.168.1.1:8443"
	moved := func(code, location string) string {
		return "HTTP/1.1 " + code + " Moved\r\nLocation: " + location + "\r\nContent-Length: 0\r\n\r\n"
	}
	get := "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n"
	// A browser's first visit to a typed name, as Chrome sends it.
	browser := "GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: keep-alive\r\nUpgrade-Insecure-Requests: 1\r\n" +
		"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n" +
		"Sec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-User: ?1\r\nSec-Fetch-Dest: document\r\n" +
		"Sec-CH-UA: \"Not_A Brand\";v=\"8\", \"Chromium\";v=\"120\"\r\nSec-CH-UA-Mobile: ?0\r\nSec-CH-UA-Platform: \"Windows\"\r\n" +
		"Accept-Encoding: gzip, deflate\r\nAccept-Language: de-DE,de;q=0.9,en;q=0.8\r\nDNT: 1\r\n\r\n"
	// A device's API call, with what it adds to a bare request.
	api := func(header string) string {
		return "GET /v1/status HTTP/1.1\r\nHost: api.vendor.example\r\n" + header + "\r\n\r\n"
	}
	tests := []struct {
		name, server, req, resp string
		then                    string // a later request on the connection
		close                   bool
		want                    int
	}{
		{"moved_permanently", internet, get, moved("301", "https://www.example.com/"), "", true, 0},
		{"found", internet, get, moved("302", "https://www.example.com/"), "", true, 0},
		{"see_other", internet, get, moved("303", "https://www.example.com/"), "", true, 0},
		{"temporary", internet, get, moved("307", "https://www.example.com/"), "", true, 0},
		{"permanent", internet, get, moved("308", "HTTPS://www.example.com/"), "", true, 0},
		{"to_another_host", internet, get, moved("301", "https://example.com/"), "", true, 0},
		{"head", internet, "HEAD /index.html HTTP/1.1\r\nHost: www.example.com\r\n\r\n", moved("301", "https://www.example.com/index.html"), "", true, 0},
		{"answered_open", internet, get, moved("301", "https://www.example.com/"), "", false, 0},
		{"lan_own_page", lan, "GET / HTTP/1.1\r\nHost: 192.168.1.1:8443\r\n\r\n", moved("308", "https://192.168.1.1:8443/"), "", true, 0},
		{"browser_first_visit", internet, browser, moved("301", "https://www.example.com/"), "", true, 0},
		{"plain_client", internet, "GET / HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n", moved("301", "https://www.example.com/"), "", true, 0},
		{"revisit", internet, "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nIf-Modified-Since: Tue, 02 Jan 2024 10:00:00 GMT\r\n" +
			"Cache-Control: max-age=0\r\nReferer: http://www.example.com/\r\n\r\n", moved("301", "https://www.example.com/index.html"), "", true, 0},
		// Something sent in clear all the same.
		{"cookie", internet, "GET / HTTP/1.1\r\nHost: www.example.com\r\nCookie: sid=0123456789abcdef\r\n\r\n", moved("301", "https://www.example.com/"), "", true, 1},
		{"query", internet, "GET /?q=flights HTTP/1.1\r\nHost: www.example.com\r\n\r\n", moved("301", "https://www.example.com/?q=flights"), "", true, 1},
		{"basic_auth", internet, "GET / HTTP/1.1\r\nHost: www.example.com\r\nAuthorization: Basic YWRtaW46c2VjcmV0\r\n\r\n", moved("301", "https://www.example.com/"), "", true, 1},
		{"body", internet, "POST /login HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 2\r\n\r\n{}", moved("307", "https://www.example.com/login"), "", true, 1},
		{"identifier_in_path", internet, "GET /device/357938035643809 HTTP/1.1\r\nHost: www.example.com\r\n\r\n", moved("301", "https://www.example.com/device/357938035643809"), "", true, 1},
		{"location_with_query", internet, get, moved("302", "https://www.example.com/cb?code=0123456789"), "", true, 1},
		// A secret or an identifier in a header.
		{"api_key_header", internet, api("X-Api-Key: 0123456789abcdef01234567"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		{"device_token_header", internet, api("X-Device-Token: 0123456789abcdef0123456789abcdef"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		{"token_auth", internet, api("Authorization: Token 0123456789abcdef0123456789abcdef"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		{"bearer_auth", internet, api("Authorization: Bearer 0123456789abcdef0123456789abcdef"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		{"proxy_auth_other_scheme", internet, api("Proxy-Authorization: Negotiate 0123456789abcdef"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		{"short_custom_header", internet, api("X-Region: eu"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		{"imei_in_host", internet, "GET / HTTP/1.1\r\nHost: 357938035643809.devices.vendor.example\r\n\r\n", moved("301", "https://devices.vendor.example/"), "", true, 1},
		{"mac_in_host", internet, "GET / HTTP/1.1\r\nHost: a4cf129b3e01.devices.vendor.example\r\n\r\n", moved("301", "https://devices.vendor.example/"), "", true, 1},
		{"serial_in_user_agent", internet, api("User-Agent: Cam/2.1 (SN 357938035643809)"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		{"mac_in_user_agent", internet, api("User-Agent: Cam/2.1 (MAC A4:CF:12:9B:3E:01)"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		{"referer_with_query", internet, api("Referer: http://www.example.com/?session=0123456789"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		{"token_in_accept", internet, api("Accept: application/json; key=0123456789abcdef0123"), moved("301", "https://api.vendor.example/v1/status"), "", true, 1},
		// Not a redirect to HTTPS.
		{"to_http", internet, get, moved("301", "http://www.example.com/home"), "", true, 1},
		{"relative", internet, get, moved("302", "/home"), "", true, 1},
		{"page", internet, get, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", "", true, 1},
		{"unanswered", internet, get, "", "", true, 1},
		{"lan_unanswered", lan, "GET / HTTP/1.1\r\nHost: 192.168.1.1:8443\r\n\r\n", "", "", true, 1},
		{"then_an_api_call", internet, get, moved("301", "https://www.example.com/"),
			"POST /api/telemetry HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 2\r\n\r\n{}", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c, _ := httpEngine(t)
			conv := inspecttest.NewTCP(e, "192.168.1.10:40000", tt.server).Client(tt.req)
			if tt.resp != "" {
				conv.Server(tt.resp)
			}
			if tt.then != "" {
				conv.Client(tt.then)
			}
			if tt.close {
				conv.Close()
				e.Flush()
			}
			if got := c.Kind(event.KindPlaintextProtocol); len(got) != tt.want {
				t.Errorf("%d plaintext_protocol events %v, want %d", len(got), got, tt.want)
			}
		})
	}
}

// TestCleartextExemptionsWithScanner: the requests exempt from
// cleartext use, and those that are not, are told apart the same with
// the HTTP analyzer's payload scanner on, as the daemon runs it.
func TestCleartextExemptionsWithScanner(t *testing.T) {
	moved := "HTTP/1.1 301 Moved\r\nLocation: https://api.vendor.example/v1/status\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name, server, req, resp string
		want                    int
	}{
		{"redirected_bare_request", "203.0.113.5:80", "GET /v1/status HTTP/1.1\r\nHost: api.vendor.example\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n", moved, 0},
		{"redirected_api_key", "203.0.113.5:80", "GET /v1/status HTTP/1.1\r\nHost: api.vendor.example\r\nX-Api-Key: 0123456789abcdef01234567\r\n\r\n", moved, 1},
		{"redirected_imei_in_host", "203.0.113.5:80", "GET / HTTP/1.1\r\nHost: 357938035643809.devices.vendor.example\r\n\r\n", moved, 1},
		{"upnp_control", "192.168.1.1:5000", "POST /ctl/IPConn HTTP/1.1\r\nHost: 192.168.1.1:5000\r\nContent-Type: text/xml\r\n" +
			"SOAPAction: \"urn:schemas-upnp-org:service:WANIPConnection:1#GetExternalIPAddress\"\r\nContent-Length: 73\r\n\r\n" +
			`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/>`, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0},
		{"soapaction_json", "192.168.1.20:8080", "POST /api/telemetry HTTP/1.1\r\nHost: 192.168.1.20:8080\r\nSOAPAction: x\r\n" +
			"Content-Type: application/json\r\nContent-Length: 22\r\n\r\n{\"temp\":21.5,\"on\":true}", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1},
		{"connectivity_check", "198.51.100.77:80", "GET / HTTP/1.1\r\nHost: connectivity-check.ubuntu.com\r\nUser-Agent: NetworkManager/1.46\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n", 0},
		{"connectivity_host_query_token", "198.51.100.77:80", "GET /?token=0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: connectivity-check.ubuntu.com\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, http.New(pii.New()), New(pii.New()))
			inspecttest.NewTCP(e, "192.168.1.10:40000", tt.server).Client(tt.req).Server(tt.resp).Close()
			e.Flush()
			if got := c.Kind(event.KindPlaintextProtocol); len(got) != tt.want {
				t.Errorf("%d plaintext_protocol events %v, want %d", len(got), got, tt.want)
			}
		})
	}
}

// TestLongHeaderLineCounts: a header line too long to read, dropped as
// it arrives, may have held anything: the request it belongs to counts
// even if only sent on to HTTPS.
func TestLongHeaderLineCounts(t *testing.T) {
	e, c, _ := httpEngine(t)
	inspecttest.NewTCP(e, "192.168.1.10:40000", "203.0.113.5:80").
		Client("GET / HTTP/1.1\r\nHost: www.example.com\r\nX-Blob: " + strings.Repeat("A", 3000)).
		Client(strings.Repeat("A", 100) + "\r\n\r\n").
		Server("HTTP/1.1 301 Moved\r\nLocation: https://www.example.com/\r\nContent-Length: 0\r\n\r\n").Close()
	e.Flush()
	if got := c.Kind(event.KindPlaintextProtocol); len(got) != 1 {
		t.Errorf("%d plaintext_protocol events %v, want 1", len(got), got)
	}
}

func TestPlaintextProtocolUse(t *testing.T) {
	e, c, _ := httpEngine(t)
	get := "GET / HTTP/1.1\r\nHost: cloud\r\n\r\n"
	for i := range 3 { // three flows, one finding
		inspecttest.NewTCP(e, fmt.Sprintf("192.168.1.10:%d", 40000+i), "203.0.113.5:80").Client(get).Close()
	}
	inspecttest.NewTCP(e, "192.168.1.10:41000", "203.0.113.6:8080").Client(get).Close()          // another destination
	inspecttest.NewTCP(e, "192.168.1.10:42000", "192.168.1.20:80").Client(get).Close()           // LAN to LAN
	inspecttest.NewTCP(e, "198.51.100.7:43000", "192.168.1.10:80").Client(get).Close()           // from the internet
	inspecttest.NewTCP(e, "192.168.1.10:44000", "203.0.113.7:23").Client("\xff\xfd\x18").Close() // telnet
	inspecttest.NewTCP(e, "192.168.1.10:45000", "203.0.113.8:5000").Client("hello\n").Close()    // generic text
	e.Flush()
	flows := map[string]int{} // by finding, as the inventory counts them
	var lines []string
	for _, ev := range c.Kind(event.KindPlaintextProtocol) {
		if !ev.IsFinding() {
			continue // LAN to LAN: TestPlaintextProtocolOnTheLAN
		}
		line := fmt.Sprintf("%s %s %s:%s %s %s", ev.Device.IP, ev.Evidence["protocol"], ev.Evidence["destination"],
			ev.Evidence["port"], ev.Severity, ev.Provision)
		if flows[line] == 0 {
			lines = append(lines, line)
		}
		flows[line] += ev.Count
		if ev.Capability != event.CapSecureCommunication {
			t.Errorf("capability %d", ev.Capability)
		}
	}
	want := []string{
		"192.168.1.10 http 203.0.113.5:80 low 5.5-1",
		"192.168.1.10 http 203.0.113.6:8080 low 5.5-1",
		"192.168.1.10 telnet 203.0.113.7:23 medium 5.5-1",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("findings:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if got := flows[want[0]]; got != 2 {
		// Filed at the first and second flow; the third waits for the fourth.
		t.Errorf("flows counted for %s: %d, want 2", want[0], got)
	}
}

// TestPlaintextUseReportedAgain: an aggregate is filed again, with the
// flows since it was last filed as the count, when the count doubles or
// a day has passed, so that the inventory's count is the flows seen and
// the last sighting is at most a day old, at a handful of events.
func TestPlaintextUseReportedAgain(t *testing.T) {
	get := "GET / HTTP/1.1\r\nHost: cloud\r\n\r\n"
	tests := []struct {
		name   string
		starts []time.Duration // of each flow to the same destination
		counts []int           // of the findings filed
	}{
		{"first_flow", []time.Duration{0}, []int{1}},
		{"doubling", make([]time.Duration, 9), []int{1, 1, 2, 4}}, // the ninth waits for the sixteenth
		{"a_day_later", []time.Duration{0, time.Minute, 25 * time.Hour}, []int{1, 1, 1}},
		{"within_the_day", []time.Duration{0, time.Minute, 23 * time.Hour}, []int{1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c, _ := httpEngine(t)
			for i, at := range tt.starts {
				inspecttest.NewTCPAt(e, fmt.Sprintf("192.168.1.10:%d", 40000+i), "203.0.113.5:80", at).Client(get).Close()
			}
			e.Flush()
			var counts []int
			for _, ev := range c.Kind(event.KindPlaintextProtocol) {
				counts = append(counts, ev.Count)
			}
			if !slices.Equal(counts, tt.counts) {
				t.Errorf("counts filed %v, want %v", counts, tt.counts)
			}
		})
	}
}

// Scanning.

var scanEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// syn sends a bare SYN from src to dst at t.
func syn(e *inspect.Engine, src, dst netip.AddrPort, mac hwaddr.MAC, t time.Time) {
	e.HandlePacket(&inspect.Packet{
		Timestamp: t, HasMAC: true, SrcMAC: mac, DstMAC: hwaddr.MAC{0x02, 0, 0, 0, 0, 0xfe},
		Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
		Kind: inspect.KindTCP, IPProto: 6, TCPFlags: inspect.TCPFlagSYN, Seq: 1, TTL: 64, Length: 60,
	})
}

// target returns a pseudo-random internet address, as a worm picks them.
func target(i int) netip.Addr {
	x := uint32(i)*2654435761 + 12345
	return netip.AddrFrom4([4]byte{byte(1 + x>>24%200), byte(x >> 16), byte(x >> 8), byte(x)})
}

func TestScanning(t *testing.T) {
	mac := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x33}
	tests := []struct {
		name     string
		targets  int
		every    time.Duration
		port     func(i int) uint16
		distinct bool
		want     int
	}{
		{"25_telnet_targets", 25, 100 * time.Millisecond, func(int) uint16 { return 23 }, true, 1},
		{"20_is_enough", 20, time.Second, func(int) uint16 { return 23 }, true, 1},
		{"19_is_not", 19, 100 * time.Millisecond, func(int) uint16 { return 23 }, true, 0},
		{"spread_over_more_than_the_window", 25, 4 * time.Second, func(int) uint16 { return 23 }, true, 0},
		{"mixed_ports", 30, 100 * time.Millisecond, func(i int) uint16 { return []uint16{23, 2323, 7547}[i%3] }, true, 1},
		{"same_target_again_and_again", 50, 100 * time.Millisecond, func(int) uint16 { return 23 }, false, 0},
		{"web_browsing_is_not_scanning", 100, 100 * time.Millisecond, func(int) uint16 { return 443 }, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			src := netip.MustParseAddr("192.168.1.66")
			for i := range tt.targets {
				dst := target(i)
				if !tt.distinct {
					dst = target(0)
				}
				syn(e, netip.AddrPortFrom(src, uint16(30000+i)), netip.AddrPortFrom(dst, tt.port(i)), mac,
					scanEpoch.Add(time.Duration(i)*tt.every))
			}
			e.Flush()
			got := c.Kind(event.KindScanning)
			if len(got) != tt.want {
				t.Fatalf("got %d scanning findings, want %d: %v", len(got), tt.want, got)
			}
			if tt.want == 0 {
				return
			}
			ev := got[0]
			if ev.Device.MAC != mac.String() || ev.Severity != event.SeverityHigh || ev.Provision != "5.7-2" ||
				ev.Capability != event.CapSoftwareUpdates || ev.Evidence["distinct_targets"] != "20" || ev.Evidence["window"] != "1m0s" {
				t.Errorf("finding %+v evidence %v", ev, ev.Evidence)
			}
			if tt.name == "mixed_ports" && ev.Evidence["ports"] != "23,2323,7547" {
				t.Errorf("ports %q", ev.Evidence["ports"])
			}
		})
	}
}

func TestScanningNeedsSYNFromLAN(t *testing.T) {
	c := &inspecttest.Collector{}
	e := inspecttest.Engine(t, c, nil, New(pii.New()))
	// An internet host scanning the LAN is the router's firewall's
	// business, not a finding against a device.
	for i := range 30 {
		syn(e, netip.AddrPortFrom(target(i), 30000), netip.AddrPortFrom(netip.MustParseAddr("192.168.1.66"), 23),
			hwaddr.MAC{}, scanEpoch.Add(time.Duration(i)*time.Millisecond))
	}
	e.Flush()
	if n := len(c.Kind(event.KindScanning)); n != 0 {
		t.Fatalf("got %d scanning findings for inbound SYNs", n)
	}
}

// TestScanningOfTheLANIsNotReported: the owner's nmap of the home
// network from a laptop is no compromise; Mirai leaves private ranges out.
func TestScanningOfTheLANIsNotReported(t *testing.T) {
	c := &inspecttest.Collector{}
	e := inspecttest.Engine(t, c, nil, New(pii.New()))
	laptop := netip.MustParseAddr("192.168.1.66")
	for i := range 60 {
		dst := netip.AddrFrom4([4]byte{192, 168, 1, byte(100 + i)})
		syn(e, netip.AddrPortFrom(laptop, uint16(30000+i)), netip.AddrPortFrom(dst, 22), hwaddr.MAC{0x02, 0, 0, 0, 0, 0x34},
			scanEpoch.Add(time.Duration(i)*10*time.Millisecond))
	}
	e.Flush()
	if n := len(c.Kind(event.KindScanning)); n != 0 {
		t.Fatalf("got %d scanning findings for a scan of the LAN", n)
	}
}

func TestTablesBoundedUnderFlood(t *testing.T) {
	e, _, p := httpEngine(t)
	const flows = 100_000
	for i := range flows {
		client := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		dst := target(i)
		// A SYN to a scan port from a new device each time ...
		syn(e, netip.AddrPortFrom(client, 30000), netip.AddrPortFrom(dst, 23), hwaddr.MAC{}, scanEpoch.Add(time.Duration(i)*time.Millisecond))
		// ... and a cleartext flow to a new destination.
		conv := inspecttest.NewTCP(e, netip.AddrPortFrom(client, 40000).String(), netip.AddrPortFrom(dst, 80).String())
		conv.Client("GET / HTTP/1.1\r\n\r\n").Close()
	}
	e.Flush()
	if n := len(p.use.entries); n != maxUse || len(p.use.index) != maxUse {
		t.Errorf("use table: %d entries, %d indexed, cap %d", n, len(p.use.index), maxUse)
	}
	if n := len(p.scan.devices); n != maxScanners || len(p.scan.index) != maxScanners {
		t.Errorf("scan table: %d devices, %d indexed, cap %d", n, len(p.scan.index), maxScanners)
	}
	// Eviction keeps the newest.
	last := flows - 1
	k := useKey{device: deviceKey{mac: hwaddr.MAC{0x02, 0, 0, 0, 0, 0x01}}, dst: target(last), app: "http"}
	if _, ok := p.use.index[k]; !ok {
		t.Error("the newest aggregate was evicted")
	}
}

func FuzzAnalyzer(f *testing.F) {
	f.Add([]byte(`{"email":"alice@exa`), []byte(`mple.com","lat":52.520008,"lon":13.404954}`), []byte("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"))
	f.Add([]byte("HELO x\r\n"), []byte("card 4111 1111 1111 1111\r\n"), []byte{0, 1, 2, 0xff})
	f.Add([]byte("ssid=Home&psk=s3cretpass"), []byte(""), []byte("IMEI: 490154203237518\r\n"))
	col := &inspecttest.Collector{}
	e := inspecttest.Engine(f, col, nil, New(pii.New()))
	port := 0
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		col.Events = col.Events[:0]
		port = (port + 1) % 20000
		conv := inspecttest.NewTCP(e, fmt.Sprintf("192.168.1.10:%d", 40000+port), wanServer)
		conv.ClientBytes(a).ServerBytes(b).ClientBytes(c)
		conv.Close()
		// Samples come from one direction's stream, which the analyzer
		// may have joined across segments.
		fromClient, fromServer := append(append([]byte{}, a...), c...), b
		got := col.Kind(event.KindPersonalData)
		// Per flow, each (kind, field, direction) is reported once, and a
		// flow reports at most 16 of them.
		if len(got) > 16 {
			t.Fatalf("%d findings on one flow", len(got))
		}
		for _, ev := range got {
			sample, ok := strings.CutSuffix(ev.Evidence["sample"], "***")
			if !ok || (len([]rune(sample)) > 2 && !strings.Contains(sample, `\x`)) || len(sample) > 8 {
				t.Fatalf("sample %q not redacted", ev.Evidence["sample"])
			}
			if !strings.Contains(sample, `\x`) && !bytes.Contains(fromClient, []byte(sample)) && !bytes.Contains(fromServer, []byte(sample)) {
				t.Fatalf("sample %q not from the input", sample)
			}
		}
	})
}

// TestSeamAndCarryWiped: the join scratch is shared by every flow of the
// protocol, so a seam (here a Wi-Fi key split across two segments) must
// be gone from it once scanned; a gap or the flow's end wipes the carry.
func TestSeamAndCarryWiped(t *testing.T) {
	r := &recorder{}
	p := New(r)
	e := inspecttest.Engine(t, &inspecttest.Collector{}, nil, p)
	conv := inspecttest.NewTCP(e, lanDevice, wanServer).Client("wpa_psk=hunt").Client("er2-wifi\n")
	if len(r.calls) != 3 || string(r.calls[1]) != "wpa_psk=hunter2-wifi\n" {
		t.Fatalf("scanner calls %q, want the seam joined", r.calls)
	}
	if i := bytes.IndexFunc(p.join[:], func(r rune) bool { return r != 0 }); i >= 0 {
		t.Errorf("join keeps the seam from byte %d: %q", i, bytes.TrimRight(p.join[:], "\x00"))
	}
	conv.Close()

	a := p.NewAnalyzer(r.flow).(*analyzer)
	a.Feed(r.flow, inspect.ToServer, []byte("wpa_psk=hunter2"))
	a.Feed(r.flow, inspect.ToClient, []byte("ok"))
	a.Gap(r.flow, inspect.ToServer)
	if c := a.carry[inspect.ToServer]; c != [carrySize]byte{} {
		t.Errorf("gap left the carry %q", bytes.TrimRight(c[:], "\x00"))
	}
	a.Close(r.flow)
	if a.carry != [2][carrySize]byte{} || a.nc != [2]int{} {
		t.Errorf("close left the carry %q", a.carry)
	}
}

// TestCutNumberIsNotACard: a long number cut by a chunk limit, the start
// of the carried seam, a segment's end or the byte budget must not be
// read as the payment card its front or tail looks like; a card that is
// whole in what the analyzer reads is still found.
func TestCutNumberIsNotACard(t *testing.T) {
	const (
		card = "4111111111111111"
		more = "3947203948572039" // with card, a 32-digit number that is no card
	)
	// text returns n bytes of words ending in a space.
	text := func(n int) string {
		return (strings.Repeat("abcdefgh ", n/9+1))[:n-1] + " "
	}
	budget := inspect.DefaultConfig().ByteBudget
	tests := []struct {
		name   string
		script func(c *inspecttest.Conv)
		want   int // payment card findings
	}{
		{"front_at_chunk_end", func(c *inspecttest.Conv) {
			c.Client(text(chunk-len(card)) + card + more + " end\n")
		}, 0},
		{"tail_at_chunk_start", func(c *inspecttest.Conv) {
			c.Client(text(chunk-carrySize-len(more)) + more + card + " end\n" + text(200))
		}, 0},
		{"tail_at_seam_start", func(c *inspecttest.Conv) {
			c.Client("value " + more + card + " " + text(carrySize-len(card)-1)).Client("next line\n")
		}, 0},
		{"front_at_segment_end", func(c *inspecttest.Conv) {
			c.Client("value " + card).Client(more + " end\n")
		}, 0},
		{"front_at_segment_end_with_group_separator", func(c *inspecttest.Conv) {
			c.Client("value 4111 1111 1111 1111 ").Client("2345 end\n")
		}, 0},
		{"front_at_byte_budget", func(c *inspecttest.Conv) {
			c.Client(text(budget - len(card))).Client(card + more + " end\n")
		}, 0},

		{"whole_in_one_segment", func(c *inspecttest.Conv) {
			c.Client("pay 4111 1111 1111 1111 now\n")
		}, 1},
		{"whole_at_chunk_end", func(c *inspecttest.Conv) {
			c.Client(text(chunk-len(card)-1) + card + "\n" + text(100))
		}, 1},
		{"whole_across_segments", func(c *inspecttest.Conv) {
			c.Client("card 4111 1111").Client(" 1111 1111 ok\n")
		}, 1},
		{"whole_at_flow_end", func(c *inspecttest.Conv) {
			c.Client(text(3000) + "card " + card)
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := runTCP(t, tt.script)
			var cards []*event.Event
			for _, ev := range c.Kind(event.KindPersonalData) {
				if ev.Evidence["data_kind"] == "card" {
					cards = append(cards, ev)
				}
			}
			if len(cards) != tt.want {
				t.Fatalf("%d card findings, want %d: %v", len(cards), tt.want, c.Events)
			}
		})
	}
}

// TestDatagramsAreWhole: a UDP datagram is a message of its own, so a
// card at its end is whole, and two datagrams are never joined into one.
func TestDatagramsAreWhole(t *testing.T) {
	tests := []struct {
		name      string
		datagrams []string
		want      int
	}{
		{"card_at_datagram_end", []string{"card 4111111111111111"}, 1},
		{"not_joined", []string{"id 41111111", "11111111 x"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			conv := inspecttest.NewUDP(e, lanDevice, wanServer)
			for _, d := range tt.datagrams {
				conv.Client(d)
			}
			e.Flush()
			if got := len(c.Kind(event.KindPersonalData)); got != tt.want {
				t.Fatalf("%d findings, want %d: %v", got, tt.want, c.Events)
			}
		})
	}
}

// TestDirectionEnd: what lies at the end of a direction is whole when the
// stream reached the close without a gap, a budget stop or stopped
// inspection, whether the flow ended with FINs, a reset, an idle timeout
// or the end of the capture; and a Wi-Fi key running into a segment end
// is still a key sent in clear. When bytes of the direction were lost
// after the last ones read (a FIN or reset numbered past them, the peer
// acknowledging them), the front of a longer number is no card.
func TestDirectionEnd(t *testing.T) {
	const (
		card = "4111111111111111"
		lost = "3947203948572039 end\n" // with card, the front of a 32-digit number
	)
	client, server := netip.MustParseAddrPort(lanDevice), netip.MustParseAddrPort(wanServer)
	// reset is a RST+ACK from the server acknowledging the client's bytes
	// up to ack (NewTCP's client sequence starts at 1001).
	reset := func(e *inspect.Engine, ack int) {
		e.HandlePacket(&inspect.Packet{Timestamp: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), Kind: inspect.KindTCP, IPProto: 6,
			Src: server.Addr(), Dst: client.Addr(), SrcPort: server.Port(), DstPort: client.Port(),
			Seq: 5001, Ack: uint32(1001 + ack), TCPFlags: inspect.TCPFlagRST | inspect.TCPFlagACK, TTL: 64})
	}
	// idle sends a packet on another flow after the TCP idle timeout.
	idle := func(e *inspect.Engine) {
		e.HandlePacket(&inspect.Packet{Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(inspect.DefaultConfig().TCPIdle + time.Minute),
			Kind: inspect.KindUDP, IPProto: 17, Src: netip.MustParseAddr("192.168.1.99"), Dst: server.Addr(), SrcPort: 40001, DstPort: 9, Payload: []byte("x"), TTL: 64})
	}
	wifiForm := "ssid=HomeNetwork-5G&security=wpa2&psk=correct-horse-battery-staple"
	wifiJSON := `{"method":"set_wifi","params":{"ssid":"HomeNetwork-5G","security":"wpa2-psk","password":"correct-horse-battery-staple","hidden":false}}`
	split := strings.Index(wifiJSON, "battery")
	tests := []struct {
		name   string
		script func(e *inspect.Engine, c *inspecttest.Conv)
		kind   string // data_kind wanted, "" for no finding
	}{
		{"wifi_key_in_last_segment_fin", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client(wifiForm)
			c.Close()
		}, "wifi_credentials"},
		{"wifi_key_split_in_value", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client(wifiJSON[:split]).Client(wifiJSON[split:])
		}, "wifi_credentials"},
		{"wifi_key_in_last_segment_reset", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client(wifiForm)
			reset(e, len(wifiForm))
		}, "wifi_credentials"},

		{"card_at_end_fin", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client("hello\n").Client("card " + card)
			c.Close()
		}, "card"},
		{"card_at_end_reset", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client("hello\n").Client("card " + card)
			reset(e, len("hello\ncard "+card))
		}, "card"},
		{"card_at_end_idle_timeout", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client("hello\n").Client("card " + card)
			idle(e)
		}, "card"},
		{"card_at_end_of_capture", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client("hello\n").Client("card " + card)
		}, "card"},

		{"fin_after_lost_tail", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client("value "+card).Lose(inspect.ToServer, len(lost))
			c.Close()
		}, ""},
		{"reset_acknowledging_lost_tail", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client("value " + card)
			reset(e, len("value "+card+lost))
		}, ""},
		{"reset_after_lost_tail_by_sender", func(e *inspect.Engine, c *inspecttest.Conv) {
			c.Client("value " + card)
			e.HandlePacket(&inspect.Packet{Timestamp: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), Kind: inspect.KindTCP, IPProto: 6,
				Src: client.Addr(), Dst: server.Addr(), SrcPort: client.Port(), DstPort: server.Port(),
				Seq: uint32(1001 + len("value "+card+lost)), TCPFlags: inspect.TCPFlagRST, TTL: 64})
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, New(pii.New()))
			tt.script(e, inspecttest.NewTCP(e, lanDevice, wanServer))
			e.Flush()
			got := c.Kind(event.KindPersonalData)
			want := 0
			if tt.kind != "" {
				want = 1
			}
			if len(got) != want || want == 1 && got[0].Evidence["data_kind"] != tt.kind {
				t.Fatalf("%d findings %v, want %d %s", len(got), c.Events, want, tt.kind)
			}
		})
	}
}

// runTCP plays script as a LAN device's TCP conversation with a WAN server
// through an engine with the plaintext analyzer, to its end, and returns
// what the engine reported.
func runTCP(t *testing.T, script func(*inspecttest.Conv)) *inspecttest.Collector {
	t.Helper()
	c := &inspecttest.Collector{}
	e := inspecttest.Engine(t, c, nil, New(pii.New()))
	conv := inspecttest.NewTCP(e, lanDevice, wanServer)
	script(conv)
	conv.Close()
	e.Flush()
	return c
}

// TestPlaintextProtocolOnTheLAN: a flow in clear between two LAN devices
// is an observation (scope lan), aggregated as internet use is: no 5.5-1
// finding, but what keeps both devices' secure communication from a
// pass. Before, LAN flows were not reported at all.
func TestPlaintextProtocolOnTheLAN(t *testing.T) {
	e, c, _ := httpEngine(t)
	get := "GET /admin HTTP/1.1\r\nHost: tv\r\n\r\n"
	for i := range 3 {
		inspecttest.NewTCP(e, fmt.Sprintf("192.168.1.10:%d", 42000+i), "192.168.1.20:80").Client(get).Close()
	}
	inspecttest.NewTCP(e, "192.168.1.10:44000", "192.168.1.21:23").Client("\xff\xfd\x18").Close() // telnet
	inspecttest.NewTCP(e, "192.168.1.10:44001", "192.168.1.21:53").Client("\x00\x1d").Close()     // not an app in clear
	e.Flush()
	var lines []string
	for _, ev := range c.Kind(event.KindPlaintextProtocol) {
		if ev.IsFinding() || ev.Severity != event.SeverityInfo || ev.Evidence["scope"] != "lan" || ev.Provision != "" {
			t.Errorf("%s %s %q %+v: want an observation of scope lan", ev.Type, ev.Severity, ev.Provision, ev.Evidence)
		}
		if !ev.Flow.Client.Local || !ev.Flow.Server.Local {
			t.Errorf("flow %+v", ev.Flow)
		}
		lines = append(lines, fmt.Sprintf("%s %s %s:%s", ev.Device.IP, ev.Evidence["protocol"], ev.Evidence["destination"], ev.Evidence["port"]))
	}
	want := []string{"192.168.1.10 http 192.168.1.20:80", "192.168.1.10 http 192.168.1.20:80", "192.168.1.10 telnet 192.168.1.21:23"}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("observations:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestGroupDestinationsAreNoCleartextUse: discovery sent to a group (an
// SNMP GetRequest to the broadcast address, as printer discovery does)
// is no conversation with a device: no plaintext_protocol observation
// against the sender, as for SSDP and mDNS. The directed broadcast of a
// LAN interface's prefix counts as a group; the same request to one
// printer is LAN cleartext use.
func TestGroupDestinationsAreNoCleartextUse(t *testing.T) {
	oid := inspecttest.BER(0x30, inspecttest.BER(0x30, inspecttest.BER(0x06, []byte{0x2b, 6, 1, 2, 1, 1, 1, 0}), []byte{0x05, 0}))
	pdu := inspecttest.BER(0xa0, inspecttest.BER(0x02, []byte{42}), inspecttest.BER(0x02, []byte{0}), inspecttest.BER(0x02, []byte{0}), oid)
	get := inspecttest.BER(0x30, inspecttest.BER(0x02, []byte{1}), inspecttest.BER(0x04, []byte("public")), pdu)
	tests := []struct {
		name   string
		onLink []netip.Prefix
		server string
		want   int // plaintext_protocol events
	}{
		{"limited_broadcast", nil, "255.255.255.255:161", 0},
		{"directed_broadcast_of_interface_prefix", []netip.Prefix{netip.MustParsePrefix("192.168.1.1/24")}, "192.168.1.255:161", 0},
		{"directed_broadcast_of_configured_prefix", nil, "192.168.255.255:161", 0},
		{"ipv4_multicast", nil, "224.0.0.1:161", 0},
		{"ipv6_multicast", nil, "[ff02::1]:161", 0},
		{"one_printer", []netip.Prefix{netip.MustParsePrefix("192.168.1.1/24")}, "192.168.1.20:161", 1},
		{"host_in_wider_interface_prefix", []netip.Prefix{netip.MustParsePrefix("192.168.0.1/23")}, "192.168.0.255:161", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, snmp.New(), New(pii.New()))
			e.SetOnLink(tt.onLink)
			client := "192.168.1.10:50000"
			if strings.HasPrefix(tt.server, "[") {
				client = "[fd00::10]:50000"
			}
			inspecttest.NewUDP(e, client, tt.server).ClientBytes(get)
			e.Flush()
			got := c.Kind(event.KindPlaintextProtocol)
			if len(got) != tt.want {
				t.Fatalf("%d plaintext_protocol events, want %d: %v", len(got), tt.want, got)
			}
			for _, ev := range got {
				if ev.IsFinding() || ev.Evidence["scope"] != "lan" {
					t.Errorf("%s %v: want an observation of scope lan", ev.Type, ev.Evidence)
				}
			}
		})
	}
}

// TestGroupRequestAnswersAreNoCleartextUse: a device that sends a
// GetRequest to the broadcast address gets each printer's GetResponse
// unicast from the printer's port 161, a flow of its own with the device
// as its client. Having sent nothing on it, the device has used no
// cleartext protocol with the printer; it has once it sends to the
// printer on that flow (a follow-up query), and that is counted when it
// does, not at the flow's end.
func TestGroupRequestAnswersAreNoCleartextUse(t *testing.T) {
	oid := inspecttest.BER(0x30, inspecttest.BER(0x30, inspecttest.BER(0x06, []byte{0x2b, 6, 1, 2, 1, 1, 1, 0}), []byte{0x05, 0}))
	getPDU := inspecttest.BER(0xa0, inspecttest.BER(0x02, []byte{42}), inspecttest.BER(0x02, []byte{0}), inspecttest.BER(0x02, []byte{0}), oid)
	get := inspecttest.BER(0x30, inspecttest.BER(0x02, []byte{1}), inspecttest.BER(0x04, []byte("public")), getPDU)
	val := inspecttest.BER(0x30, inspecttest.BER(0x30, inspecttest.BER(0x06, []byte{0x2b, 6, 1, 2, 1, 1, 1, 0}), inspecttest.BER(0x04, []byte("HP LaserJet"))))
	respPDU := inspecttest.BER(0xa2, inspecttest.BER(0x02, []byte{42}), inspecttest.BER(0x02, []byte{0}), inspecttest.BER(0x02, []byte{0}), val)
	resp := inspecttest.BER(0x30, inspecttest.BER(0x02, []byte{1}), inspecttest.BER(0x04, []byte("public")), respPDU)
	tests := []struct {
		name     string
		followUp bool // the device then queries the printer on the answer's flow
		want     int  // plaintext_protocol events, before and after the flows end
	}{
		{"answers_only", false, 0},
		{"unicast_follow_up", true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, snmp.New(), New(pii.New()))
			inspecttest.NewUDP(e, "192.168.1.10:50000", "255.255.255.255:161").ClientBytes(get)
			answer := inspecttest.NewUDP(e, "192.168.1.10:50000", "192.168.1.20:161").ServerBytes(resp)
			if tt.followUp {
				answer.ClientBytes(get)
			}
			if got := c.Kind(event.KindPlaintextProtocol); len(got) != tt.want {
				t.Errorf("%d plaintext_protocol events while the flows are open, want %d: %v", len(got), tt.want, got)
			}
			e.Flush()
			got := c.Kind(event.KindPlaintextProtocol)
			if len(got) != tt.want {
				t.Fatalf("%d plaintext_protocol events, want %d: %v", len(got), tt.want, got)
			}
			for _, ev := range got {
				if ev.Evidence["destination"] != "192.168.1.20" || ev.Device.IP != "192.168.1.10" {
					t.Errorf("%s from %v: want .10's use of the printer .20", ev.Summary, ev.Device)
				}
			}
		})
	}
}

// dnsExchange has client ask its resolver for name (type A) and get
// addrs in answer.
func dnsExchange(e *inspect.Engine, client string, id uint16, name string, addrs ...netip.Addr) {
	dnsExchangeFrom(e, hwaddr.MAC{}, client, "192.168.1.1:53", id, name, addrs...)
}

// dnsExchangeFrom is dnsExchange from a client with MAC mac (the
// conversations' default when zero) to server.
func dnsExchangeFrom(e *inspect.Engine, mac hwaddr.MAC, client, server string, id uint16, name string, addrs ...netip.Addr) {
	conv := inspecttest.NewUDP(e, client, server)
	if !mac.IsZero() {
		conv.ClientMAC(mac)
	}
	conv.Lookup(id, name, addrs...)
}

// TestCleartextUseAggregatesPerService: one device polling one service
// whose DNS rotates through a CDN's addresses files what polling one
// address would (a finding at the first flow, then as the count
// doubles), not a finding per address; the evidence names the service
// and one address. Without the name the address is the destination, and
// two services on one device stay two.
func TestCleartextUseAggregatesPerService(t *testing.T) {
	cdn := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{203, 0, 113, byte(10 + i)}) }
	tests := []struct {
		name   string
		flows  int
		named  func(i int) string // the name the device resolved flow i's address by; "" for none
		counts []int              // of the findings filed
		names  []string           // their server_name evidence
	}{
		{"one_service_over_a_cdn", 50, func(int) string { return "api.cloud.example" },
			[]int{1, 1, 2, 4, 8, 16}, []string{"api.cloud.example", "api.cloud.example", "api.cloud.example", "api.cloud.example", "api.cloud.example", "api.cloud.example"}},
		{"no_name_known", 3, func(int) string { return "" },
			[]int{1, 1, 1}, []string{"", "", ""}},
		{"two_services", 4, func(i int) string { return []string{"api.cloud.example", "ota.cloud.example"}[i%2] },
			[]int{1, 1, 1, 1}, []string{"api.cloud.example", "ota.cloud.example", "api.cloud.example", "ota.cloud.example"}},
		// A name built from the device's identifier shows it as "...",
		// and names that differ only there are one service.
		{"identifier_in_the_name", 3, func(int) string { return "a1b2c3d4e5f6.iot.vendor.example" },
			[]int{1, 1}, []string{"....iot.vendor.example", "....iot.vendor.example"}},
		{"names_differing_in_an_identifier", 4, func(i int) string { return fmt.Sprintf("cam-00112233aa%02x.example.net", i) },
			[]int{1, 1, 2}, []string{"....example.net", "....example.net", "....example.net"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, dns.New(), http.New(nil), New(pii.New()))
			for i := range tt.flows {
				if name := tt.named(i); name != "" {
					dnsExchange(e, fmt.Sprintf("192.168.1.10:%d", 30000+i), uint16(i), name, cdn(i))
				}
				inspecttest.NewTCP(e, fmt.Sprintf("192.168.1.10:%d", 40000+i), netip.AddrPortFrom(cdn(i), 80).String()).
					Client("POST /api/telemetry HTTP/1.1\r\nHost: " + tt.named(i) + "\r\nContent-Length: 2\r\n\r\n{}").Close()
			}
			e.Flush()
			var counts []int
			var names []string
			for _, ev := range c.Kind(event.KindPlaintextProtocol) {
				counts = append(counts, ev.Count)
				names = append(names, ev.Evidence["server_name"])
				if n := ev.Evidence["server_name"]; n != "" && !strings.Contains(ev.Summary, " to "+n+" (") {
					t.Errorf("summary %q does not name the service as %q", ev.Summary, n)
				}
				if a, err := netip.ParseAddr(ev.Evidence["destination"]); err != nil || a.As4()[2] != 113 {
					t.Errorf("destination %q, want one of the service's addresses", ev.Evidence["destination"])
				}
			}
			if !slices.Equal(counts, tt.counts) || !slices.Equal(names, tt.names) {
				t.Errorf("findings counting %v for %q, want %v for %q", counts, names, tt.counts, tt.names)
			}
		})
	}
}

// TestServerNameIsTheClientsOwn: a flow is known by the name its own
// client looked the address up by; another LAN host's DNS answer for the
// same address neither names the flow nor merges it into a service of
// the client's.
func TestServerNameIsTheClientsOwn(t *testing.T) {
	type lookup struct {
		client, name, addr string
	}
	type flow struct {
		client, server, host string
	}
	// Each host its own MAC, as on a link; a dual-stack device's two
	// addresses are one MAC.
	macOf := func(client string) hwaddr.MAC {
		a := netip.MustParseAddrPort(client).Addr()
		if a.Is6() {
			a = netip.MustParseAddr("192.168.1.10")
		}
		return hwaddr.MAC{0x02, 0, 0, 0, 0, a.As4()[3]}
	}
	tests := []struct {
		name    string
		lookups []lookup
		flows   []flow
		names   []string // server_name of the findings filed, in order
	}{
		{"another_device_resolved_the_address",
			[]lookup{{"192.168.1.20:30000", "innocuous.example", "203.0.113.50"}},
			[]flow{{"192.168.1.10:40000", "203.0.113.50:80", "exfil.example"}},
			[]string{""}},
		{"own_lookup_names_the_flow",
			[]lookup{{"192.168.1.10:30000", "api.cloud.example", "203.0.113.50"}},
			[]flow{{"192.168.1.10:40000", "203.0.113.50:80", "api.cloud.example"}},
			[]string{"api.cloud.example"}},
		{"each_device_its_own_name",
			[]lookup{
				{"192.168.1.10:30000", "api.cloud.example", "203.0.113.50"},
				{"192.168.1.20:30000", "other.example", "203.0.113.50"},
			},
			[]flow{
				{"192.168.1.10:40000", "203.0.113.50:80", "api.cloud.example"},
				{"192.168.1.20:40000", "203.0.113.50:80", "other.example"},
			},
			[]string{"api.cloud.example", "other.example"}},
		// Device .10 polls its service; another LAN host answering its own
		// query for that name with another address must not fold .10's
		// first flow to that address into the service: it is filed.
		{"another_hosts_answer_merges_nothing",
			[]lookup{
				{"192.168.1.10:30000", "api.cloud.example", "203.0.113.10"},
				{"192.168.1.66:30001", "api.cloud.example", "198.51.100.99"},
			},
			[]flow{
				{"192.168.1.10:40000", "203.0.113.10:80", "api.cloud.example"},
				{"192.168.1.10:40001", "203.0.113.10:80", "api.cloud.example"},
				{"192.168.1.10:40002", "203.0.113.10:80", "api.cloud.example"},
				{"192.168.1.10:41000", "198.51.100.99:80", "collector.other.example"},
			},
			[]string{"api.cloud.example", "api.cloud.example", ""}},
		// A dual-stack device asks over IPv6 and connects over IPv4.
		{"asked_over_ipv6",
			[]lookup{{"[fd00::10]:30000", "api.cloud.example", "203.0.113.50"}},
			[]flow{{"192.168.1.10:40000", "203.0.113.50:80", "api.cloud.example"}},
			[]string{"api.cloud.example"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &inspecttest.Collector{}
			e := inspecttest.Engine(t, c, nil, dns.New(), http.New(nil), New(pii.New()))
			for i, l := range tt.lookups {
				server := "192.168.1.1:53"
				if netip.MustParseAddrPort(l.client).Addr().Is6() {
					server = "[fd00::1]:53"
				}
				dnsExchangeFrom(e, macOf(l.client), l.client, server, uint16(i+1), l.name, netip.MustParseAddr(l.addr))
			}
			for _, f := range tt.flows {
				inspecttest.NewTCP(e, f.client, f.server).ClientMAC(macOf(f.client)).
					Client("POST /upload HTTP/1.1\r\nHost: " + f.host + "\r\nContent-Length: 2\r\n\r\n{}").Close()
			}
			e.Flush()
			var names []string
			for _, ev := range c.Kind(event.KindPlaintextProtocol) {
				names = append(names, ev.Evidence["server_name"])
			}
			if !slices.Equal(names, tt.names) {
				t.Errorf("findings name %q, want %q", names, tt.names)
			}
		})
	}
}
