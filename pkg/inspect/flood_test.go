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

// TestFloodDoesNotHideLogins: one LAN host (a compromised camera, a
// misbehaving app) opens thousands of connections that send a few bytes
// and go quiet: partial command lines, ClientHellos cut short, a byte of
// telnet. A factory-default login another device sends a few seconds
// later, over telnet, FTP or HTTP, is still found: the flood's host holds
// only its share of the inspections and of the buffers.
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
	}{
		{"partial_ftp_lines", "21", "USER a\r\nPA"},
		{"cut_client_hellos", "443", cutHello},
		{"idle_telnet", "23", "\xff\xfb\x1f"},
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
	const flood = "192.168.1.66"
	for _, fl := range floods {
		for _, lg := range logins {
			t.Run(fl.name+"/"+lg.proto, func(t *testing.T) {
				var col inspecttest.Collector
				e := inspecttest.Engine(t, &col, cl, protocols.All()...)
				for i := range 3000 {
					c := inspecttest.NewTCPAt(e, fmt.Sprintf("%s:%d", flood, 10000+i),
						fmt.Sprintf("198.51.100.%d:%s", 1+i%200, fl.port), time.Duration(i)*time.Millisecond)
					c.Client(fl.data)
				}
				if e.Stats.HostLimit == 0 {
					t.Errorf("the flood's host was never held to its share: %+v", e.Stats)
				}
				c := inspecttest.NewTCPAt(e, victim(t, e, flood)+":50000", lg.server, 5*time.Second)
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
			})
		}
	}
}

// victim is a LAN client whose fair-share counter is not the flood's,
// which a collision of the keyed hash (one chance in thousands) would
// make it.
func victim(t *testing.T, e *inspect.Engine, flood string) string {
	t.Helper()
	f := inspect.HostBucket(e, netip.MustParseAddr(flood))
	for i := 20; i < 30; i++ {
		a := netip.AddrFrom4([4]byte{192, 168, 1, byte(i)})
		if inspect.HostBucket(e, a) != f {
			return a.String()
		}
	}
	t.Fatal("no client address outside the flood's bucket")
	return ""
}
