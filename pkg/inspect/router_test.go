package inspect_test

import (
	"fmt"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/creds"
	"github.com/iotgw/iotgw/pkg/inspect/ftp"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
	"github.com/iotgw/iotgw/pkg/inspect/plaintext"
)

// The router's own connections to devices (its active audit trying
// default passwords, across many devices) are neither inspected nor
// observed: the audit's refused tries would otherwise be filed as the
// devices' default logins, and its sweep as the router scanning. The
// same traffic from a device is both.
func TestRouterConnectionsNotInspected(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	// inspecttest's conversations come from this client MAC.
	client := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x01}
	for _, tc := range []struct {
		name   string
		router []hwaddr.MAC
		want   bool // findings expected
	}{
		{"from_a_device", []hwaddr.MAC{{0x02, 0, 0, 0, 0, 0x99}}, true},
		{"from_the_router", []hwaddr.MAC{client}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var col inspecttest.Collector
			cfg := inspect.DefaultConfig()
			cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
			e, err := inspect.NewEngine(cfg, inspect.Options{
				Protocols:  []inspect.Protocol{ftp.New(), plaintext.New(nil)},
				Classifier: cl,
				Sink:       &col,
				RouterMACs: tc.router,
			})
			if err != nil {
				t.Fatal(err)
			}
			// A default FTP login the camera refuses, then a sweep of
			// telnet ports across the LAN.
			c := inspecttest.NewTCP(e, "192.168.1.1:40000", "192.168.1.10:21")
			c.Server("220 camera FTP\r\n").Client("USER admin\r\n").Server("331 password\r\n").
				Client("PASS admin\r\n").Server("530 Login incorrect\r\n")
			c.Close()
			for i := range 30 {
				inspecttest.NewTCP(e, "192.168.1.1:40001", fmt.Sprintf("192.168.1.%d:23", 20+i))
			}
			e.Flush()
			logins := col.Kind(event.KindDefaultCredentials)
			scans := col.Kind(event.KindScanning)
			if got := len(logins) > 0 && len(scans) > 0; got != tc.want {
				t.Errorf("default-login findings %d, scanning findings %d; want both: %v", len(logins), len(scans), tc.want)
			}
			if !tc.want && len(col.Events) != 0 {
				t.Errorf("the router's connections gave events: %v", col.Events)
			}
		})
	}
}
