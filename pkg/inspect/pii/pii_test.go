package pii

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/alert"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// scanProto claims every flow and hands each payload whole to the
// scanner, as the HTTP and MQTT analyzers hand it bodies. It keeps the
// last flow it saw so tests can call the scanner on a live flow.
type scanProto struct {
	s    *Scanner
	flow *inspect.Flow
}

func (p *scanProto) Name() string { return "test" }
func (p *scanProto) Match(*inspect.Flow, inspect.Dir, []byte) inspect.Confidence {
	return inspect.ContentMatch
}
func (p *scanProto) NewAnalyzer(*inspect.Flow) inspect.Analyzer { return p }
func (p *scanProto) Feed(f *inspect.Flow, dir inspect.Dir, data []byte) int {
	p.flow = f
	p.s.ScanPayload(f, dir, "body", data, 0)
	return len(data)
}
func (p *scanProto) Gap(*inspect.Flow, inspect.Dir) {}
func (p *scanProto) Close(*inspect.Flow)            {}

func newTestEngine(t testing.TB) (*inspect.Engine, *inspecttest.Collector, *scanProto) {
	c := &inspecttest.Collector{}
	p := &scanProto{s: New()}
	return inspecttest.Engine(t, c, nil, p), c, p
}

const (
	lanDevice = "192.168.1.10:40000"
	lanServer = "192.168.1.20:80"
	wanServer = "203.0.113.5:80"
	wanClient = "198.51.100.7:40000"
)

func TestFindingEvents(t *testing.T) {
	tests := []struct {
		name              string
		client, server    string
		fromServer        bool
		payload           string
		kind              string
		severity          event.Severity
		direction, device string
		destination       string
		secret            string
	}{
		{"email_lan_to_wan", lanDevice, wanServer, false, `{"email":"alice.smith@example.com"}`,
			"email", event.SeverityMedium, "lan_to_wan", "192.168.1.10", "203.0.113.5:80", "alice.smith@example.com"},
		{"email_lan_to_lan", lanDevice, lanServer, false, `{"email":"alice.smith@example.com"}`,
			"email", event.SeverityLow, "lan_to_lan", "192.168.1.10", "192.168.1.20:80", "alice.smith@example.com"},
		{"card_to_wan_high", lanDevice, wanServer, false, `card=4111111111111111`,
			"card", event.SeverityHigh, "lan_to_wan", "192.168.1.10", "203.0.113.5:80", "4111111111111111"},
		{"wifi_to_wan_high", lanDevice, wanServer, false, `{"ssid":"HomeNet","psk":"correct horse battery"}`,
			"wifi_credentials", event.SeverityHigh, "lan_to_wan", "192.168.1.10", "203.0.113.5:80", "correct horse"},
		{"card_lan_to_lan_low", lanDevice, lanServer, false, `card=4111111111111111`,
			"card", event.SeverityLow, "lan_to_lan", "192.168.1.10", "192.168.1.20:80", "4111111111111111"},
		{"lan_server_answers_wan_client", wanClient, lanServer, true, `{"phone":"+4930123456789"}`,
			"phone", event.SeverityMedium, "lan_to_wan", "192.168.1.20", "198.51.100.7", "4930123456789"},
		{"cloud_sends_to_device", lanDevice, wanServer, true, `{"email":"alice.smith@mail.example"}`,
			"email", event.SeverityMedium, "wan_to_lan", "192.168.1.10", "192.168.1.10", "alice.smith@mail.example"},
		{"serial_to_wan", lanDevice, wanServer, false, `{"serialNumber":"SN12345678X"}`,
			"serial", event.SeverityMedium, "lan_to_wan", "192.168.1.10", "203.0.113.5:80", "SN12345678X"},
		{"mac_to_wan", lanDevice, wanServer, false, `{"mac":"a4:cf:12:9b:3e:01"}`,
			"mac", event.SeverityMedium, "lan_to_wan", "192.168.1.10", "203.0.113.5:80", "a4:cf:12:9b:3e:01"},
		// The MACs of a Wi-Fi scan do not count on the LAN, and take no
		// room from the position beside them.
		{"position_beside_access_points_on_the_lan", lanDevice, lanServer, false,
			`{"aps":[` + strings.Repeat(`{"bssid":"a4:cf:12:9b:3e:01","mac":"a4:cf:12:9b:3e:02","hwaddr":"a4:cf:12:9b:3e:03"},`, 16) +
				`{}],"lat":52.520008,"lon":13.404954}`,
			"location", event.SeverityLow, "lan_to_lan", "192.168.1.10", "192.168.1.20:80", "52.520008"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := scanOne(t, tt.client, tt.server, tt.fromServer, tt.payload)
			got := c.Kind(event.KindPersonalData)
			if len(got) != 1 {
				t.Fatalf("got %d findings, want 1: %v", len(got), got)
			}
			ev := got[0]
			if ev.Evidence["data_kind"] != tt.kind || ev.Severity != tt.severity || ev.Evidence["direction"] != tt.direction ||
				ev.Evidence["destination"] != tt.destination || ev.Evidence["where"] != "body" {
				t.Errorf("evidence %v severity %v", ev.Evidence, ev.Severity)
			}
			if ev.Device.IP != tt.device {
				t.Errorf("device %v, want %s", ev.Device, tt.device)
			}
			if ev.Capability != event.CapPersonalData || ev.Provision != "5.8-1" || ev.Type != event.TypeFinding {
				t.Errorf("capability %d provision %q type %q", ev.Capability, ev.Provision, ev.Type)
			}
			if inspecttest.Leaks(t, c.Events, tt.secret) {
				t.Errorf("%q leaked into an event", tt.secret)
			}
		})
	}
}

// TestPrecisionGuards: what looks like personal data and is not, each
// from a real kind of traffic.
func TestPrecisionGuards(t *testing.T) {
	for _, tt := range []struct {
		name           string
		client, server string
		fromServer     bool
		payload        string
	}{
		// ip-api.com's answer to an ESP clock: its guess of the city
		// centre for the device's address, not the home's position.
		{"geo_ip_answer", lanDevice, wanServer, true, `{"status":"success","lat":52.5196,"lon":13.4069}`},
		// A float32 city-level position printed as a float64.
		{"float32_artefacts", lanDevice, wanServer, false, `{"lat":52.52000045776367,"lon":13.399999618530273}`},
		// A camera's pan and tilt, a vacuum's map position.
		{"ptz_position", lanDevice, wanServer, false, `{"ptz":{"position":[0.123456,-0.654321]}}`},
		// A nanosecond uptime of 46 days: 16 digits, Visa's prefix, Luhn.
		{"uptime_ns", lanDevice, wanServer, false, `{"uptime_ns":4000000000000002}`},
		// An IMEI without its label has Diners' prefix and passes Luhn.
		{"unlabelled_imei", lanDevice, wanServer, false, "modem 300234010753376 ready"},
		// Role mailboxes name no person.
		{"role_mailbox", lanDevice, wanServer, false, `{"msg":"contact support@tp-link.com"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := scanOne(t, tt.client, tt.server, tt.fromServer, tt.payload)
			if got := c.Kind(event.KindPersonalData); len(got) != 0 {
				t.Errorf("findings %v", evidenceOf(got))
			}
		})
	}
	// A GeoJSON position with its altitude is found.
	e, c, _ := newTestEngine(t)
	inspecttest.NewTCP(e, lanDevice, wanServer).Client(`{"geometry":{"type":"Point","coordinates":[13.404954,52.520008,34.5]}}`).Close()
	e.Flush()
	if got := c.Kind(event.KindPersonalData); len(got) != 1 || got[0].Evidence["data_kind"] != "location" {
		t.Errorf("GeoJSON point with altitude: %v", evidenceOf(got))
	}
}

// scanOne sends payload on a new connection from client to server (from
// the server's side with fromServer) and returns what was filed.
func scanOne(t *testing.T, client, server string, fromServer bool, payload string) *inspecttest.Collector {
	e, c, _ := newTestEngine(t)
	conv := inspecttest.NewTCP(e, client, server)
	if fromServer {
		conv.Server(payload)
	} else {
		conv.Client(payload)
	}
	conv.Close()
	e.Flush()
	return c
}

func evidenceOf(evs []*event.Event) []event.Evidence {
	var out []event.Evidence
	for _, ev := range evs {
		out = append(out, ev.Evidence)
	}
	return out
}

// TestDeviceIdentifiersStayOnLAN: a MAC, a serial number and an IMEI
// identify a device to third parties; on a LAN-only flow they reach none,
// towards the internet all three count.
func TestDeviceIdentifiersStayOnLAN(t *testing.T) {
	const ids = `{"mac":"a4:cf:12:9b:3e:01","serialNumber":"SN12345678X","imei":"490154203237518"}`
	e, c, _ := newTestEngine(t)
	inspecttest.NewTCP(e, lanDevice, lanServer).Client(ids).Close()
	e.Flush()
	if got := c.Kind(event.KindPersonalData); len(got) != 0 {
		t.Fatalf("device identifiers reported on a LAN-only flow: %v", evidenceOf(got))
	}
	inspecttest.NewTCP(e, lanDevice, wanServer).Client(ids).Close()
	e.Flush()
	var kinds []string
	for _, ev := range c.Kind(event.KindPersonalData) {
		kinds = append(kinds, ev.Evidence["data_kind"])
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []string{"imei", "mac", "serial"}) {
		t.Fatalf("towards the internet: %v, want imei, mac and serial", kinds)
	}
}

func TestTransitIgnored(t *testing.T) {
	e, c, _ := newTestEngine(t)
	inspecttest.NewTCP(e, wanClient, wanServer).Client(`{"email":"alice@example.com"}`).Close()
	e.Flush()
	if n := len(c.Events); n != 0 {
		t.Fatalf("WAN-to-WAN transit reported: %v", c.Events)
	}
}

func TestDedupPerFlow(t *testing.T) {
	e, c, _ := newTestEngine(t)
	conv := inspecttest.NewTCP(e, lanDevice, wanServer)
	for range 10 {
		conv.Client(`{"email":"alice@example.com","phone":"0301234567"}` + "\n")
	}
	conv.Server(`{"email":"alice@example.com"}`)
	conv.Close()
	// A new connection is a new flow: reported again.
	inspecttest.NewTCP(e, "192.168.1.10:40001", wanServer).Client(`{"email":"alice@example.com"}`).Close()
	e.Flush()
	got := c.Kind(event.KindPersonalData)
	kinds := map[string]int{}
	for _, ev := range got {
		kinds[ev.Evidence["data_kind"]+"/"+ev.Evidence["direction"]]++
	}
	want := map[string]int{"email/lan_to_wan": 2, "phone/lan_to_wan": 1, "email/wan_to_lan": 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Fatalf("findings %v, want %v", kinds, want)
	}
}

func TestPerFlowCap(t *testing.T) {
	e, c, _ := newTestEngine(t)
	conv := inspecttest.NewTCP(e, lanDevice, wanServer)
	// More distinct (kind, field) pairs than a flow may report.
	keys := []string{"email", "mail", "username", "e_mail", "email_address", "user", "login", "account", "contact"}
	for _, k := range keys {
		for _, dir := range []bool{false, true} {
			p := fmt.Sprintf(`{%q:"alice@example.com"}`, k)
			if dir {
				conv.Server(p)
			} else {
				conv.Client(p)
			}
		}
	}
	conv.Close()
	e.Flush()
	if n := len(c.Kind(event.KindPersonalData)); n != seenPerFlow {
		t.Fatalf("got %d findings, want the cap %d", n, seenPerFlow)
	}
}

func TestSeenTableBounded(t *testing.T) {
	e, c, _ := newTestEngine(t)
	for i := range 2 * seenFlows {
		inspecttest.NewTCP(e, fmt.Sprintf("192.168.1.%d:%d", 2+i%200, 40000+i), wanServer).
			Client(`{"email":"alice@example.com"}`).Close()
	}
	e.Flush()
	if n := len(c.Kind(event.KindPersonalData)); n != 2*seenFlows {
		t.Fatalf("got %d findings from %d flows", n, 2*seenFlows)
	}
}

// checkSample asserts the redaction rule: the sample is at most two
// leading characters of the match (or none) followed by "***".
func checkSample(t testing.TB, sample string, input []byte) {
	t.Helper()
	prefix, ok := strings.CutSuffix(sample, "***")
	if !ok {
		t.Fatalf("sample %q does not end in ***", sample)
	}
	if strings.Contains(prefix, `\x`) {
		if len(prefix) > 8 {
			t.Fatalf("sample %q keeps more than two characters", sample)
		}
		return
	}
	if utf8.RuneCountInString(prefix) > 2 {
		t.Fatalf("sample %q keeps more than two characters", sample)
	}
	if !strings.Contains(string(input), prefix) {
		t.Fatalf("sample %q is not from the input", sample)
	}
}

func TestSamplesRedacted(t *testing.T) {
	e, c, _ := newTestEngine(t)
	in := `{"first_name":"Alice","last_name":"Smith","email":"alice@example.com","phone":"+4930123456",` +
		`"street":"Hauptstraße 5","lat":52.520008,"lon":13.404954,"card":"4111 1111 1111 1111","imei":"490154203237518",` +
		`"mac":"a4:cf:12:9b:3e:01","sn":"FX0023A7781","ssid":"HomeNet","psk":"correct horse battery"}` +
		"\n$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\n"
	inspecttest.NewTCP(e, lanDevice, wanServer).Client(in).Close()
	e.Flush()
	got := c.Kind(event.KindPersonalData)
	kinds := map[string]bool{}
	for _, ev := range got {
		kinds[ev.Evidence["data_kind"]] = true
		checkSample(t, ev.Evidence["sample"], []byte(in))
		if strings.Contains(ev.Summary, "example.com") || strings.Contains(ev.Summary, "1111") {
			t.Errorf("summary leaks: %s", ev.Summary)
		}
	}
	for _, k := range []string{"name", "email", "phone", "address", "location", "card", "imei", "mac", "serial", "wifi_credentials", "nmea"} {
		if !kinds[k] {
			t.Errorf("no %s finding in %v", k, kinds)
		}
	}
	for _, secret := range []string{"alice@example.com", "Smith", "4930123456", "Hauptstra", "52.520008", "1111 1111",
		"490154203237518", "a4:cf:12", "FX0023A7781", "HomeNet", "correct horse", "4807.038"} {
		if inspecttest.Leaks(t, c.Events, secret) {
			t.Errorf("%q leaked into an event", secret)
		}
	}
}

// telemetry is a typical 1 KiB JSON status message of an IoT device:
// readings, ids, a firmware version, timestamps, no personal data.
func telemetry() []byte {
	var b strings.Builder
	b.WriteString(`{"device":"plug-7f3a","fw":"2.4.17","build":"20240117-1205","ts":1700000000123,"uptime":864213,`)
	b.WriteString(`"id":"123e4567-e89b-12d3-a456-426614174000","rssi":-61,"channel":6,"heap":41236,"readings":[`)
	for i := 0; b.Len() < 1000; i++ {
		fmt.Fprintf(&b, `{"t":%d,"temp":21.%d,"hum":48.2,"power":12.75,"voltage":229.8,"on":true},`, int64(1700000000123)+int64(i)*1000, i%10)
	}
	s := b.String()
	return []byte(s[:1000] + `]}` + strings.Repeat(" ", 22))
}

func telemetryWithPII() []byte {
	b := telemetry()
	return append(b[:900:900], []byte(`"email":"alice@example.com","lat":52.520008,"lon":13.404954}`+strings.Repeat(" ", 64))...)[:1024]
}

func TestNoAllocations(t *testing.T) {
	e, c, p := newTestEngine(t)
	conv := inspecttest.NewTCP(e, lanDevice, wanServer).Client("hello\n")
	f := p.flow
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"no_pii", telemetry()},
		{"pii_already_reported", telemetryWithPII()},
		// A position of the flow's kind again: found, not reported.
		{"zeros_dropped_position", []byte(`{"lat":52.5162745,"lon":13.377}`)},
	} {
		p.s.ScanPayload(f, inspect.ToServer, "body", tc.b, 0) // report once
		if n := testing.AllocsPerRun(100, func() { p.s.ScanPayload(f, inspect.ToServer, "body", tc.b, 0) }); n != 0 {
			t.Errorf("%s: %v allocations per scan, want 0", tc.name, n)
		}
	}
	if len(c.Kind(event.KindPersonalData)) != 2 {
		t.Errorf("want the e-mail and the location reported once: %v", c.Events)
	}
	conv.Close()
}

func BenchmarkScanPayload(b *testing.B) {
	for _, tc := range []struct {
		name string
		data []byte
	}{{"no_pii", telemetry()}, {"with_pii", telemetryWithPII()}} {
		b.Run(tc.name, func(b *testing.B) {
			e, _, p := newTestEngine(b)
			inspecttest.NewTCP(e, lanDevice, wanServer).Client("hello\n")
			f := p.flow
			b.SetBytes(int64(len(tc.data)))
			b.ReportAllocs()
			for b.Loop() {
				p.s.ScanPayload(f, inspect.ToServer, "body", tc.data, 0)
			}
		})
	}
}

func FuzzScanPayload(f *testing.F) {
	f.Add([]byte(`{"email":"alice@example.com","lat":52.520008,"lon":13.404954}`), uint8(0))
	f.Add([]byte(`card=4111 1111 1111 1111&phone=%2B4930123456`), uint8(inspect.CutEnd))
	f.Add([]byte(`first_name=Anna Maria&phone= 0171 555 1234 &lat=52.5200`), uint8(0x10))
	f.Add([]byte("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"), uint8(inspect.CutStart))
	f.Add([]byte(`<ssid>Home</ssid><psk>s3cretpass</psk><imei>490154203237518</imei>`), uint8(0))
	f.Add([]byte("IMEI: 35-209900-176148-1\r\nName: x\r\n"), uint8(inspect.CutStart|inspect.CutEnd))
	f.Add([]byte(`{"first_name":"Alice","name":"Alice Smith","street":"Hauptstraße 5","zip":"10115"}`), uint8(0))
	e, c, p := newTestEngine(f)
	inspecttest.NewTCP(e, lanDevice, wanServer).ClientBytes([]byte{'x'})
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		c.Events = c.Events[:0]
		p.s = New() // nothing reported yet on the flow
		// The fifth bit picks the way a decoded form is read.
		where := "body"
		if cut&0x10 != 0 {
			where = inspect.WhereForm
		}
		p.s.ScanPayload(p.flow, inspect.ToServer, where, b, inspect.Cut(cut)&(inspect.CutStart|inspect.CutEnd))
		got := c.Kind(event.KindPersonalData)
		if len(got) > maxMatches {
			t.Fatalf("%d findings from one payload", len(got))
		}
		for _, ev := range got {
			checkSample(t, ev.Evidence["sample"], b)
		}
	})
}

// Data a cloud sends to a device on every poll names the device without
// its port, which changes per connection: the polls are one finding, and
// one alert, not one each.
func TestPersonalDataToClientNamedWithoutPort(t *testing.T) {
	e, c, _ := newTestEngine(t)
	for _, client := range []string{"192.168.1.10:40000", "192.168.1.10:40001"} {
		conv := inspecttest.NewTCP(e, client, wanServer)
		conv.Server(`{"email":"alice.smith@example.com"}`)
		conv.Close()
	}
	e.Flush()
	got := c.Kind(event.KindPersonalData)
	if len(got) != 2 {
		t.Fatalf("got %d findings, want one per poll: %v", len(got), got)
	}
	if d0, d1 := got[0].Evidence["destination"], got[1].Evidence["destination"]; d0 != "192.168.1.10" || d1 != d0 {
		t.Errorf("destinations %q and %q, want the device's address alone", d0, d1)
	}
	a0, ok0 := alert.FromEvent(got[0], alert.Device{MAC: got[0].Device.MAC})
	a1, ok1 := alert.FromEvent(got[1], alert.Device{MAC: got[1].Device.MAC})
	if !ok0 || !ok1 || a0.DedupKey != a1.DedupKey {
		t.Errorf("two polls are two alerts: %q and %q", a0.DedupKey, a1.DedupKey)
	}
}

// TestGeoIPAnswerEchoed: a position a device received from the internet
// (a geo-IP service's guess of its city) and passes on is not reported;
// its own position, or the same sent by another device, is.
func TestGeoIPAnswerEchoed(t *testing.T) {
	const answer = `{"status":"success","city":"Berlin","lat":52.519634,"lon":13.406911}`
	other := "192.168.1.11:40000"
	tests := []struct {
		name     string
		received string // the answer, from the internet or from the LAN
		from     string
		sender   string // the device that sends sent
		sent     string
		want     int
	}{
		{"same_digits", answer, wanServer, lanDevice, `{"lat":52.519634,"lon":13.406911}`, 0},
		{"rounded", answer, wanServer, lanDevice, `GET /weather?lat=52.5196&lon=13.4069`, 0},
		{"cut", answer, wanServer, lanDevice, `{"lat":52.51963,"lon":13.40691}`, 0},
		{"rounded_up", `{"lat":52.519666,"lon":13.406977}`, wanServer, lanDevice, `{"lat":52.5197,"lon":13.4070}`, 0},
		{"cut_not_rounded", `{"lat":52.519666,"lon":13.406977}`, wanServer, lanDevice, `{"lat":52.5196,"lon":13.4069}`, 0},
		{"neither_rounded_nor_cut", `{"lat":52.519666,"lon":13.406977}`, wanServer, lanDevice, `{"lat":52.5195,"lon":13.4069}`, 1},
		{"in_one_value", answer, wanServer, lanDevice, `{"loc":"52.5196,13.4069"}`, 0},
		{"geojson_order", answer, wanServer, lanDevice, `{"coordinates":[13.406911,52.519634]}`, 0},
		{"printed_with_more_zeros", `{"lat":52.5196,"lon":13.4069}`, wanServer, lanDevice, `{"lat":52.519600,"lon":13.406900}`, 0},

		{"more_digits_than_received", `{"lat":52.5196,"lon":13.4069}`, wanServer, lanDevice, `{"lat":52.519612,"lon":13.406911}`, 1},
		{"own_position", answer, wanServer, lanDevice, `{"lat":48.137154,"lon":11.576124}`, 1},
		{"one_number_the_same", answer, wanServer, lanDevice, `{"lat":52.519634,"lon":13.412345}`, 1},
		{"another_device", answer, wanServer, other, `{"lat":52.519634,"lon":13.406911}`, 1},
		// A hub on the LAN that tells a device the home's position
		// discloses nothing; the device that sends it out does.
		{"received_from_the_lan", answer, lanServer, lanDevice, `{"lat":52.519634,"lon":13.406911}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c, _ := newTestEngine(t)
			inspecttest.NewTCP(e, lanDevice, tt.from).Server(tt.received).Close()
			inspecttest.NewTCP(e, strings.Replace(tt.sender, ":40000", ":40001", 1), wanServer).Client(tt.sent).Close()
			e.Flush()
			var got []event.Evidence
			for _, ev := range c.Kind(event.KindPersonalData) {
				if ev.Evidence["direction"] == "lan_to_wan" {
					got = append(got, ev.Evidence)
				}
			}
			if len(got) != tt.want {
				t.Errorf("findings %v, want %d", got, tt.want)
			}
		})
	}
}

// TestGeoIPMemoryBounded: the positions devices received are kept for
// geoDevices devices; the device that received one longest ago is
// forgotten first, and its echo is reported again.
func TestGeoIPMemoryBounded(t *testing.T) {
	const answer = `{"lat":52.519634,"lon":13.406911}`
	e, c, _ := newTestEngine(t)
	for i := range geoDevices + 1 {
		inspecttest.NewTCP(e, fmt.Sprintf("192.168.2.%d:40000", i+1), wanServer).Server(answer).Close()
	}
	for _, dev := range []string{"192.168.2.1:40001", "192.168.2.2:40001"} {
		inspecttest.NewTCP(e, dev, wanServer).Client(answer).Close()
	}
	e.Flush()
	got := c.Kind(event.KindPersonalData)
	if len(got) != 1 || got[0].Device.IP != "192.168.2.1" {
		t.Errorf("findings %v, want the first device's, forgotten", evidenceOf(got))
	}
}
