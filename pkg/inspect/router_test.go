package inspect_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

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
// same traffic from a device is both, and a login routed in from the
// internet, whose frames carry the router's MAC on the LAN, is still
// inspected.
func TestRouterConnectionsNotInspected(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	// inspecttest's conversations come from this client MAC.
	client := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x01}
	routerAddr := netip.MustParseAddr("192.168.1.1")
	for _, tc := range []struct {
		name         string
		routerMAC    hwaddr.MAC
		from         string
		logins, scan bool // findings expected
	}{
		{"from_a_device", hwaddr.MAC{0x02, 0, 0, 0, 0, 0x99}, "192.168.1.1", true, true},
		{"from_the_router", client, "192.168.1.1", false, false},
		{"from_the_internet_through_the_router", client, "203.0.113.9", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var col inspecttest.Collector
			cfg := inspect.DefaultConfig()
			cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
			e, err := inspect.NewEngine(cfg, inspect.Options{
				Protocols:  []inspect.Protocol{ftp.New(), plaintext.New(nil)},
				Classifier: cl,
				Sink:       &col,
				Router:     func(m hwaddr.MAC, a netip.Addr) bool { return m == tc.routerMAC && a == routerAddr },
			})
			if err != nil {
				t.Fatal(err)
			}
			// A default FTP login the camera refuses, then a sweep of
			// telnet ports across the internet.
			c := inspecttest.NewTCP(e, tc.from+":40000", "192.168.1.10:21")
			c.Server("220 camera FTP\r\n").Client("USER admin\r\n").Server("331 password\r\n").
				Client("PASS admin\r\n").Server("530 Login incorrect\r\n")
			c.Close()
			for i := range 30 {
				inspecttest.NewTCP(e, tc.from+":40001", fmt.Sprintf("198.51.100.%d:23", 20+i))
			}
			e.Flush()
			// The login, refused, is a plaintext one (see
			// TestRefusedDefaultLogin).
			logins := len(col.Kind(event.KindPlaintextCredentials)) > 0
			scans := len(col.Kind(event.KindScanning)) > 0
			if logins != tc.logins || scans != tc.scan {
				t.Errorf("login findings %v, scanning findings %v; want %v, %v", logins, scans, tc.logins, tc.scan)
			}
			if !tc.logins && !tc.scan && len(col.Events) != 0 {
				t.Errorf("the router's connections gave events: %v", col.Events)
			}
		})
	}
}

// A factory-default password a LAN server refuses is no default_credentials
// finding about that server (it does not have the password): it is a login
// sent in clear. Accepted, unknown, or about the client, it stays one.
func TestRefusedDefaultLogin(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, server, reply string
		kind                event.Kind
		device, accepted    string
	}{
		{"lan_server_refuses", "192.168.1.10:21", "530 Login incorrect\r\n", event.KindPlaintextCredentials, "192.168.1.10", "no"},
		{"lan_server_accepts", "192.168.1.10:21", "230 Logged in\r\n", event.KindDefaultCredentials, "192.168.1.10", "yes"},
		{"lan_server_silent", "192.168.1.10:21", "", event.KindDefaultCredentials, "192.168.1.10", "unknown"},
		{"cloud_refuses_the_device", "203.0.113.5:21", "530 Login incorrect\r\n", event.KindDefaultCredentials, "192.168.1.20", "no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var col inspecttest.Collector
			e := inspecttest.Engine(t, &col, cl, ftp.New())
			c := inspecttest.NewTCP(e, "192.168.1.20:40000", tc.server)
			c.Server("220 FTP\r\n").Client("USER admin\r\n").Server("331 password\r\n").Client("PASS admin\r\n")
			if tc.reply != "" {
				c.Server(tc.reply)
			}
			c.Close()
			e.Flush()
			got := col.Findings()
			if len(got) != 1 {
				t.Fatalf("%d findings, want 1: %v", len(got), got)
			}
			f := got[0]
			if f.Kind != tc.kind || f.Device.IP != tc.device || f.Evidence["accepted"] != tc.accepted || f.Evidence["password_class"] != "default" {
				t.Errorf("%s about %s (accepted %s, class %s), want %s about %s (accepted %s, class default)",
					f.Kind, f.Device.IP, f.Evidence["accepted"], f.Evidence["password_class"], tc.kind, tc.device, tc.accepted)
			}
		})
	}
}

// With two capture interfaces (br-lan and br-iot) a packet the router
// routes between them may be read twice: received from its sender, and
// sent on by the router with the router's MAC, in either order. The
// endpoints' MACs come from the senders' copies only, so that a camera
// that accepts a default password is the finding's device, not the
// router (which is never quarantined). The router's own frames still
// give its MAC.
func TestRoutedCopyKeepsDeviceMAC(t *testing.T) {
	cl, err := creds.New()
	if err != nil {
		t.Fatal(err)
	}
	routerMAC := hwaddr.MAC{0x02, 0, 0, 0, 0, 0xfe}
	routerAddrs := []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("192.168.2.1")}
	client := netip.MustParseAddrPort("192.168.1.20:40000")
	clientMAC := hwaddr.MAC{0x02, 0, 0, 0, 0, 0x20}
	for _, tc := range []struct {
		name        string
		routerFirst bool
		server      netip.AddrPort
		serverMAC   hwaddr.MAC
	}{
		{"device_copy_first", false, netip.MustParseAddrPort("192.168.2.10:21"), hwaddr.MAC{0x02, 0, 0, 0, 0, 0x10}},
		{"router_copy_first", true, netip.MustParseAddrPort("192.168.2.10:21"), hwaddr.MAC{0x02, 0, 0, 0, 0, 0x10}},
		{"router_is_the_server", false, netip.MustParseAddrPort("192.168.2.1:21"), routerMAC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var col inspecttest.Collector
			cfg := inspect.DefaultConfig()
			cfg.HashKey = []byte("inspecttest fixed key, 32 bytes!")
			e, err := inspect.NewEngine(cfg, inspect.Options{
				Protocols:  []inspect.Protocol{ftp.New()},
				Classifier: cl,
				Sink:       &col,
				Router: func(m hwaddr.MAC, a netip.Addr) bool {
					return m == routerMAC && slices.Contains(routerAddrs, a)
				},
				RouterMAC: func(m hwaddr.MAC) bool { return m == routerMAC },
			})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			seq := map[bool]uint32{true: 1000, false: 5000} // by toServer
			// send feeds one segment as the capture reads it: from its
			// sender, and, routed, once more with the router's MAC.
			send := func(toServer bool, flags uint8, data string) {
				src, dst, srcMAC, dstMAC := client, tc.server, clientMAC, tc.serverMAC
				if !toServer {
					src, dst, srcMAC, dstMAC = dst, src, dstMAC, srcMAC
				}
				copies := []hwaddr.MAC{srcMAC, routerMAC}
				if srcMAC == routerMAC || dstMAC == routerMAC {
					copies = copies[:1] // to or from the router itself: not routed
				} else if tc.routerFirst {
					copies[0], copies[1] = copies[1], copies[0]
				}
				for _, mac := range copies {
					now = now.Add(time.Millisecond)
					p := &inspect.Packet{Timestamp: now, HasMAC: true, Kind: inspect.KindTCP, IPProto: 6, TTL: 64,
						Src: src.Addr(), Dst: dst.Addr(), SrcPort: src.Port(), DstPort: dst.Port(),
						SrcMAC: mac, DstMAC: dstMAC, TCPFlags: flags, Seq: seq[toServer], Ack: seq[!toServer],
						Payload: []byte(data), Length: 54 + len(data)}
					if mac == routerMAC && srcMAC != routerMAC {
						p.TTL = 63
					}
					e.HandlePacket(p)
				}
				seq[toServer] += uint32(len(data))
				if flags&(inspect.TCPFlagSYN|inspect.TCPFlagFIN) != 0 {
					seq[toServer]++
				}
			}
			send(true, inspect.TCPFlagSYN, "")
			send(false, inspect.TCPFlagSYN|inspect.TCPFlagACK, "")
			send(true, inspect.TCPFlagACK, "")
			for _, s := range []struct {
				toServer bool
				line     string
			}{{false, "220 camera FTP\r\n"}, {true, "USER admin\r\n"}, {false, "331 password\r\n"}, {true, "PASS admin\r\n"}, {false, "230 Logged in\r\n"}} {
				send(s.toServer, inspect.TCPFlagACK|inspect.TCPFlagPSH, s.line)
			}
			send(true, inspect.TCPFlagFIN|inspect.TCPFlagACK, "")
			send(false, inspect.TCPFlagFIN|inspect.TCPFlagACK, "")
			e.Flush()
			got := col.Kind(event.KindDefaultCredentials)
			if len(got) != 1 {
				t.Fatalf("%d default-credentials findings, want 1: %v", len(got), col.Events)
			}
			want := tc.serverMAC.String()
			if f := got[0]; f.Flow.Server.MAC != want || f.Flow.Client.MAC != clientMAC.String() || f.Device.MAC != want {
				t.Errorf("finding about %s, flow %s → %s; want about %s, flow %s → %s",
					f.Device.MAC, f.Flow.Client.MAC, f.Flow.Server.MAC, want, clientMAC, want)
			}
		})
	}
}
