package inspect_test

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/protocols"
)

// TestFloodDoesNotHideLogins: LAN hosts (a compromised camera, a
// misbehaving app) open thousands of connections that send a few bytes
// and go quiet: partial command lines, ClientHellos cut short, a byte of
// telnet. A factory-default login another device sends afterwards, over
// telnet, FTP or HTTP, is still found: a few seconds later when one host
// floods, since it holds only its share of the inspections and of the
// buffers; a minute later when sixteen do, since the flood's idle flows
// then give their inspections up.
func TestFloodDoesNotHideLogins(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	// A TLS record announcing 512 bytes of handshake, of which the
	// ClientHello's first few come.
	cutHello := "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + string(make([]byte, 40))
	floods := []struct {
		name, port, data string
		hosts            int
		loginAfter       time.Duration
	}{
		{"partial_ftp_lines", "21", "USER a\r\nPA", 1, 5 * time.Second},
		{"cut_client_hellos", "443", cutHello, 1, 5 * time.Second},
		{"idle_telnet", "23", "\xff\xfb\x1f", 1, 5 * time.Second},
		{"partial_ftp_lines_from_16_hosts", "21", "USER a\r\nPA", 16, 65 * time.Second},
		{"cut_client_hellos_from_16_hosts", "443", cutHello, 16, 65 * time.Second},
	}
	logins := []struct {
		proto, server string
		script        func(c *inspecttest.Conv)
	}{
		{"telnet", "192.168.1.50:23", func(c *inspecttest.Conv) {
			c.Server("login: ").ClientChars("root\r\n").Server("Password: ").ClientChars("xc3511\r\n").Server("\r\n# ")
		}},
		{"ftp", "192.168.1.50:21", func(c *inspecttest.Conv) {
			c.Server("220 NAS FTP\r\n").Client("USER admin\r\n").Server("331 Password required\r\n").
				Client("PASS admin\r\n").Server("230 Logged in\r\n")
		}},
		{"http", "192.168.1.50:80", func(c *inspecttest.Conv) {
			c.Client("GET / HTTP/1.1\r\nHost: nas\r\nAuthorization: Basic " + base64.StdEncoding.EncodeToString([]byte("admin:admin")) + "\r\n\r\n").
				Server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}},
	}
	for _, fl := range floods {
		for _, lg := range logins {
			t.Run(fl.name+"/"+lg.proto, func(t *testing.T) {
				var col inspecttest.Collector
				e := routerEngine(t, &col, cl)
				var flood []netip.Addr
				for h := range fl.hosts {
					flood = append(flood, netip.AddrFrom4([4]byte{192, 168, 1, byte(100 + h)}))
				}
				for i := range 3000 {
					c := inspecttest.NewTCPAt(e, netip.AddrPortFrom(flood[i%len(flood)], uint16(10000+i)).String(),
						fmt.Sprintf("198.51.100.%d:%s", 1+i%200, fl.port), time.Duration(i)*time.Millisecond)
					c.Client(fl.data)
				}
				if e.Stats.HostLimit+e.Stats.InspectLimit == 0 {
					t.Fatalf("the flood took no more inspections than it was given: %+v", e.Stats)
				}
				c := inspecttest.NewTCPAt(e, victim(t, e, flood)+":50000", lg.server, fl.loginAfter)
				lg.script(c)
				c.Close()
				var found bool
				for _, ev := range col.Kind(event.KindDefaultCredentials) {
					found = found || ev.Evidence["protocol"] == lg.proto && ev.Device.IP == "192.168.1.50"
				}
				if !found {
					t.Errorf("the default %s login was missed after the flood (%d inspections refused for the cap, %d for the share)",
						lg.proto, e.Stats.InspectLimit, e.Stats.HostLimit)
				}
				if fl.hosts > 1 && (e.Stats.InspectLimit == 0 || e.Stats.Reclaimed == 0) {
					t.Errorf("%d flows refused for the cap, %d idle inspections reclaimed: the flood did not fill the pool, or the login took no idle inspection",
						e.Stats.InspectLimit, e.Stats.Reclaimed)
				}
			})
		}
	}
}

// routerEngine is an engine with a router's configuration (the
// defaults) and every protocol, emitting into col.
func routerEngine(t *testing.T, col *inspecttest.Collector, cl inspect.Classifier) *inspect.Engine {
	t.Helper()
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: protocols.All(), Classifier: cl, Sink: col})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// victim is a LAN client whose fair-share counter is none of the flood's
// hosts', which a collision of the keyed hash (a chance in hundreds for
// sixteen hosts) would make it.
func victim(t *testing.T, e *inspect.Engine, flood []netip.Addr) string {
	t.Helper()
	taken := map[uint32]bool{}
	for _, a := range flood {
		taken[inspect.HostBucket(e, a)] = true
	}
	for i := 20; i < 60; i++ {
		a := netip.AddrFrom4([4]byte{192, 168, 1, byte(i)})
		if !taken[inspect.HostBucket(e, a)] {
			return a.String()
		}
	}
	t.Fatal("no client address outside the flood's buckets")
	return ""
}

// TestReclaimReportsPendingLogin: an FTP login whose verdict never came
// waits in its flow's queue; when the flow has been idle for a minute
// and a new flow needs its inspection, the login is reported (outcome
// unknown), not dropped with the inspection, and the new flow's login is
// found too.
func TestReclaimReportsPendingLogin(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	var col inspecttest.Collector
	cfg := inspect.DefaultConfig()
	cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
	cfg.MaxInspected = 1
	e, err := inspect.NewEngine(cfg, inspect.Options{Protocols: protocols.All(), Classifier: cl, Sink: &col})
	if err != nil {
		t.Fatal(err)
	}
	waiting := inspecttest.NewTCP(e, "192.168.1.20:40000", "192.168.1.50:21")
	waiting.Server("220 NAS FTP\r\n").Client("USER admin\r\n").Server("331 Password required\r\n").Client("PASS admin\r\n")
	if n := len(col.Findings()); n != 0 {
		t.Fatalf("%d findings before the verdict or the flow's end", n)
	}
	c := inspecttest.NewTCPAt(e, "192.168.1.21:40000", "192.168.1.51:21", 2*time.Minute)
	c.Server("220 camera FTP\r\n").Client("USER root\r\n").Server("331 Password required\r\n").
		Client("PASS toor\r\n").Server("230 Logged in\r\n")
	got := map[string]string{}
	for _, ev := range col.Kind(event.KindDefaultCredentials) {
		got[ev.Device.IP] = ev.Evidence["accepted"]
	}
	if got["192.168.1.50"] != "unknown" || got["192.168.1.51"] != "yes" || e.Stats.Reclaimed != 1 {
		t.Errorf("default logins found (device: accepted) %v, %d inspections reclaimed; want the idle flow's, unknown, and the new one's, yes, 1",
			got, e.Stats.Reclaimed)
	}
}
