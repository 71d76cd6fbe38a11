package labtest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/protocols"
)

// analyze runs every analyzer and the real classifier over a capture, as
// `iotgw analyze` does.
func analyze(t *testing.T, path string) *inspecttest.Collector {
	t.Helper()
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := inspecttest.RunFile(t, path, cl, protocols.All()...)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

// login is a credential finding reduced to what the READMEs specify.
type login struct {
	Kind      event.Kind
	Protocol  string
	Mechanism string
	User      string // redacted
	Password  string // redacted; "" for a hashed login
	Class     string
	Accepted  string
	Device    string // MAC of the device the finding is about
	Server    string // ip:port
}

func (l login) String() string {
	return fmt.Sprintf("%s %s/%s user=%s password=%s class=%s accepted=%s device=%s server=%s",
		l.Kind, l.Protocol, l.Mechanism, l.User, l.Password, l.Class, l.Accepted, l.Device, l.Server)
}

func logins(c *inspecttest.Collector) []login {
	var out []login
	for _, e := range c.Events {
		switch e.Kind {
		case event.KindDefaultCredentials, event.KindWeakCredentials, event.KindPlaintextCredentials:
		default:
			continue
		}
		l := login{
			Kind: e.Kind, Protocol: e.Evidence["protocol"], Mechanism: e.Evidence["mechanism"],
			User: e.Evidence["user"], Password: e.Evidence["password"], Class: e.Evidence["password_class"],
			Accepted: e.Evidence["accepted"], Device: e.Device.MAC,
		}
		if e.Flow != nil {
			l.Server = fmt.Sprintf("%s:%d", e.Flow.Server.IP, e.Flow.Server.Port)
		}
		out = append(out, l)
	}
	return out
}

// distinct drops repeats, keeping the first of each.
func distinct(ls []login) []login {
	var out []login
	for _, l := range ls {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

func diffLogins(t *testing.T, got, want []login) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("credential findings differ")
	for _, l := range got {
		t.Logf("got  %v", l)
	}
	for _, l := range want {
		t.Logf("want %v", l)
	}
}

// noLeaks fails when any event, as JSON, contains one of the secrets.
func noLeaks(t *testing.T, c *inspecttest.Collector, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if inspecttest.Leaks(t, c.Events, s) {
			t.Errorf("an event contains the secret %q", s)
		}
	}
}

// The devices of testdata/demo.pcap (scripts/lab/README.md, topology).
const (
	camera = "c0:56:e3:1a:2b:3c"
	plug   = "50:c7:bf:0a:1b:2c"
	tv     = "8c:79:f5:3d:4e:5f"
	laptop = "3c:a9:f4:6a:7b:8c"
)

func TestDemoCredentials(t *testing.T) {
	c := analyze(t, inspecttest.RepoFile(t, "testdata/demo.pcap"))
	// scripts/lab/README.md, "Credentials": five logins, in capture order.
	want := []login{
		// Basic sent without a 401 first: the 200 does not show that
		// the cloud needed it.
		{event.KindDefaultCredentials, "http", "Basic", "a***", "a***", "default", "unknown", camera, "203.0.113.10:80"},
		{event.KindDefaultCredentials, "ftp", "USER/PASS", "a***", "a***", "default", "yes", camera, "203.0.113.10:21"},
		{event.KindDefaultCredentials, "ftp", "USER/PASS", "a***", "a***", "default", "yes", camera, "203.0.113.10:21"},
		{event.KindPlaintextCredentials, "mqtt", "CONNECT", "pl***", "S3***", "unique", "yes", plug, "203.0.113.10:1883"},
		// The camera accepts the Mirai default on its own telnet: the
		// finding is about the camera, not the laptop that logs in.
		{event.KindDefaultCredentials, "telnet", "login prompt", "r***", "xc***", "default", "yes", camera, "192.168.50.101:23"},
	}
	diffLogins(t, logins(c), want)
	noLeaks(t, c,
		"admin", "YWRtaW46YWRtaW4=", // HTTP Basic and FTP: admin/admin
		"plug01", "S3cure-Plug-77", // MQTT
		`"root"`, "xc3511", // telnet; "root" alone is in SSDP's upnp:rootdevice
	)
}

func TestDemoPersonalData(t *testing.T) {
	c := analyze(t, inspecttest.RepoFile(t, "testdata/demo.pcap"))
	// The plug's MQTT PUBLISH carries an e-mail address and a location.
	type pd struct{ Kind, Sample, Where, Destination, Direction, Device string }
	var got []pd
	for _, e := range c.Kind(event.KindPersonalData) {
		if e.Device.MAC == camera || e.Device.MAC == tv {
			t.Errorf("personal data reported for a device that sends none: %s %v", e.Device.MAC, e.Evidence)
		}
		got = append(got, pd{e.Evidence["data_kind"], e.Evidence["sample"], e.Evidence["where"],
			e.Evidence["destination"], e.Evidence["direction"], e.Device.MAC})
	}
	for _, w := range []pd{
		{"email", "al***", "mqtt_payload", "203.0.113.10:1883", "lan_to_wan", plug},
		{"location", "52***", "mqtt_payload", "203.0.113.10:1883", "lan_to_wan", plug},
	} {
		if !slices.Contains(got, w) {
			t.Errorf("missing personal data %+v; got %+v", w, got)
		}
	}
	noLeaks(t, c, "alice@example.com", "52.5200", "13.4050")
}

func TestDemoFirmwareOverHTTP(t *testing.T) {
	c := analyze(t, inspecttest.RepoFile(t, "testdata/demo.pcap"))
	fw := c.Kind(event.KindFirmwareOverHTTP)
	if len(fw) != 1 {
		t.Fatalf("got %d firmware_over_http findings, want 1", len(fw))
	}
	e := fw[0]
	if e.Device.MAC != tv || e.Evidence["url"] != "fw.example-tv.com/firmware/update.bin" || e.Evidence["status"] != "200" {
		t.Errorf("firmware finding: device %s evidence %v", e.Device.MAC, e.Evidence)
	}
}

func TestDemoTLS(t *testing.T) {
	c := analyze(t, inspecttest.RepoFile(t, "testdata/demo.pcap"))
	type hello struct{ Device, SNI, ALPN, Max, JA3 string }
	var got []hello
	for _, e := range c.Kind(event.KindTLSClient) {
		got = append(got, hello{e.Device.MAC, e.Evidence["sni"], e.Evidence["alpn"], e.Evidence["tls_version_max"], e.Evidence["ja3"]})
	}
	// JA3 as scripts/lab/README.md gives it for the committed capture.
	want := []hello{
		{tv, "fw.example-tv.com", "", "TLS 1.3", "a3afc2c46ba4a7d7fbe1cfb7a3031c2f"},
		{laptop, "cloud.example-camera.com", "h2,http/1.1", "TLS 1.3", "0149f47eabf9a20d0893e2a44e5a6323"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ClientHellos:\n got  %+v\n want %+v", got, want)
	}
	servers := c.Kind(event.KindTLSServer)
	if len(servers) != 2 {
		t.Fatalf("got %d ServerHellos, want 2", len(servers))
	}
	for _, e := range servers {
		if e.Evidence["tls_version"] != "TLS 1.3" || e.Evidence["cipher_id"] != "0x1302" {
			t.Errorf("ServerHello %v, want TLS 1.3 with 0x1302", e.Evidence)
		}
	}
	if weak := c.Kind(event.KindWeakTLS); len(weak) != 0 {
		t.Errorf("TLS 1.3 with AES-256-GCM reported weak: %v", weak[0].Evidence)
	}
}

func TestDemoDHCP(t *testing.T) {
	c := analyze(t, inspecttest.RepoFile(t, "testdata/demo.pcap"))
	// scripts/lab/README.md, "DHCP": what each client says about itself,
	// and the address the router's ACK gives it.
	tests := []struct {
		mac, hostname, vendorClass, prl, address string
	}{
		{camera, "ipcam", "HIKVISION", "1,3,6,12,15,28,42", "192.168.50.101"},
		{plug, "HS110", "udhcp 1.35.0", "1,3,6,12,15,28,42", "192.168.50.102"},
		{tv, "samsung-tv", "SAMSUNG-TV", "1,28,2,3,15,6,12,42", "192.168.50.103"},
		{laptop, "alice-laptop", "", "1,28,2,3,15,6,119,12,44,47,26,121,42", "192.168.50.104"},
	}
	obs := c.Kind(event.KindDHCP)
	for _, tt := range tests {
		t.Run(tt.hostname, func(t *testing.T) {
			var types []string
			for _, e := range obs {
				if e.Evidence["client_mac"] != tt.mac {
					continue
				}
				typ := e.Evidence["message_type"]
				types = append(types, typ)
				switch typ {
				case "discover", "request":
					if e.Evidence["hostname"] != tt.hostname || e.Evidence["vendor_class"] != tt.vendorClass || e.Evidence["prl"] != tt.prl {
						t.Errorf("%s: hostname %q vendor class %q prl %q, want %q %q %q", typ,
							e.Evidence["hostname"], e.Evidence["vendor_class"], e.Evidence["prl"], tt.hostname, tt.vendorClass, tt.prl)
					}
				case "ack":
					if e.Evidence["assigned_ip"] != tt.address || e.Evidence["router"] != "192.168.50.1" || e.Evidence["domain"] != "lan" {
						t.Errorf("ack: %v, want address %s, router 192.168.50.1, domain lan", e.Evidence, tt.address)
					}
				}
			}
			for _, want := range []string{"discover", "request", "ack"} {
				if !slices.Contains(types, want) {
					t.Errorf("no DHCP %s observed; got %v", want, types)
				}
			}
		})
	}
}

// The camera and the viewer of the RTSP recordings (README.md here).
const (
	rtspCamera = "c0:56:e3:5a:6b:7c"
	rtspServer = "192.168.51.10:8554"
)

func TestRTSP(t *testing.T) {
	tests := []struct {
		file string
		want []login // distinct findings, in order of first appearance
		// Every request after the 401 carries the credentials again, so a
		// session gives one finding per authenticated request.
		minCount map[string]int // accepted → at least this many findings
		secrets  []string
	}{
		{
			file: "testdata/rtsp-digest.pcap",
			want: []login{
				// The password is not on the wire; the Digest response is
				// checked against the default list (admin/12345: Hikvision,
				// Panasonic and Mirai's list).
				{event.KindDefaultCredentials, "rtsp", "Digest", "a***", "", "default", "yes", rtspCamera, rtspServer},
			},
			minCount: map[string]int{"yes": 4}, // DESCRIBE, SETUP, PLAY, TEARDOWN
			secrets:  []string{"admin", "12345"},
		},
		{
			file: "testdata/rtsp-basic.pcap",
			want: []login{
				// First session: a wrong password, refused with 401.
				{event.KindPlaintextCredentials, "rtsp", "Basic", "vi***", "Ha***", "unique", "no", rtspCamera, rtspServer},
				// Second session: the right one.
				{event.KindPlaintextCredentials, "rtsp", "Basic", "vi***", "Tu***", "unique", "yes", rtspCamera, rtspServer},
				// ffmpeg resets the connection right after its TEARDOWN,
				// which is never answered.
				{event.KindPlaintextCredentials, "rtsp", "Basic", "vi***", "Tu***", "unique", "unknown", rtspCamera, rtspServer},
			},
			minCount: map[string]int{"no": 1, "yes": 3},
			secrets: []string{"viewer", "Tulip-Harbor-73", "Harbor-Tulip-37",
				"dmlld2VyOlR1bGlwLUhhcmJvci03Mw==", "dmlld2VyOkhhcmJvci1UdWxpcC0zNw=="}, // the two Basic headers
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c := analyze(t, tt.file)
			all := logins(c)
			diffLogins(t, distinct(all), tt.want)
			counts := map[string]int{}
			for _, l := range all {
				counts[l.Accepted]++
			}
			for acc, n := range tt.minCount {
				if counts[acc] < n {
					t.Errorf("%d findings with accepted=%s, want at least %d", counts[acc], acc, n)
				}
			}
			noLeaks(t, c, tt.secrets...)

			// The camera's RTSP server names itself and its realm.
			var banner bool
			for _, e := range c.Kind(event.KindBanner) {
				if e.Device.MAC == rtspCamera && e.Evidence["protocol"] == "rtsp" &&
					e.Evidence["banner"] == "GStreamer RTSP server" && e.Evidence["realm"] == "IP Camera" {
					banner = true
				}
			}
			if !banner {
				t.Errorf("no RTSP banner with realm from the camera")
			}
		})
	}
}
