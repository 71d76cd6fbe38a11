package pipeline

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/config"
	"github.com/iotgw/iotgw/pkg/device"
	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// TestGlobalIPv6LAN: on a LAN with the ISP's delegated IPv6 prefix, a
// laptop's connection to an internet server is the laptop's, whether the
// prefix comes from the router's interfaces or from its advertisements
// in a capture: the server's banner (an exploited GoAhead) makes no
// device of the server and no finding, and a thousand servers evict no
// LAN camera.
func TestGlobalIPv6LAN(t *testing.T) {
	delegated := netip.MustParsePrefix("2001:db8:5:1::/64")
	routerMAC := net.HardwareAddr{0x94, 0x83, 0xc4, 0, 0, 1}
	laptopMAC := net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	cameraMAC := net.HardwareAddr{0xc0, 0x56, 0xe3, 0x1a, 0x2b, 0x3c}
	laptop := net.ParseIP("2001:db8:5:1::10")
	ts := time.Unix(1700000000, 0)
	for _, how := range []string{"interfaces", "advertisement"} {
		t.Run(how, func(t *testing.T) {
			cfg := config.Default()
			cfg.Inspect.MaxDevices = 64
			p, err := New(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			switch how {
			case "interfaces":
				p.Engine().SetOnLink([]netip.Prefix{delegated})
			case "advertisement":
				// RFC 4861 4.2: hop limit, flags, lifetime, timers; then a
				// prefix information option (on-link, autonomous).
				ra := make([]byte, 12+32)
				ra[0], ra[2] = 64, 0x07
				opt := ra[12:]
				opt[0], opt[1], opt[2], opt[3] = 3, 4, 64, 0xc0
				binary.BigEndian.PutUint32(opt[4:8], 86400)
				a := delegated.Addr().As16()
				copy(opt[16:], a[:])
				p.HandleFrame(frame(t, routerMAC, net.ParseIP("fe80::1"), net.ParseIP("ff02::1"),
					&layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeRouterAdvertisement, 0)}, string(ra)),
					capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: ts})
			}
			tcpExchange(t, p, peer{laptopMAC, net.IP{192, 168, 1, 10}, 40000}, peer{cameraMAC, net.IP{192, 168, 1, 64}, 80},
				"GET / HTTP/1.1\r\nHost: cam\r\n\r\n", "HTTP/1.1 200 OK\r\nServer: lighttpd\r\nContent-Length: 0\r\n\r\n", ts, true)
			for i := range 200 {
				server := net.IP(netip.AddrFrom16([16]byte{0x2a, 0x00, 0x14, 0x50, 0x40, 0x01, 0x08, 0x0b, 14: byte(i >> 8), 15: byte(i)}).AsSlice())
				banner := "nginx/1.25.3"
				if i == 0 {
					banner = "GoAhead-Webs/2.5.0"
				}
				tcpExchange(t, p, peer{laptopMAC, laptop, uint16(41000 + i)}, peer{routerMAC, server, 80},
					"GET / HTTP/1.1\r\nHost: example.net\r\n\r\n", "HTTP/1.1 200 OK\r\nServer: "+banner+"\r\nContent-Length: 0\r\n\r\n",
					ts.Add(time.Duration(i+1)*time.Second), true)
			}
			for _, d := range p.Inventory().Devices() {
				for _, f := range d.Findings {
					if f.Kind == event.KindOutdatedFirmware {
						t.Errorf("device %s: %s", d.Key, f.Summary)
					}
				}
				for _, a := range d.Addrs {
					if a.IsGlobalUnicast() && !a.IsPrivate() && !delegated.Contains(a) {
						t.Errorf("device %s holds the internet address %v", d.Key, a)
					}
				}
			}
			cam, _ := hwaddr.Parse(cameraMAC.String())
			if _, ok := p.Inventory().Lookup(device.Key{MAC: cam}); !ok {
				t.Errorf("the LAN camera was evicted; %d devices", len(p.Inventory().Devices()))
			}
			lap, _ := hwaddr.Parse(laptopMAC.String())
			d, ok := p.Inventory().Lookup(device.Key{MAC: lap})
			if !ok {
				t.Fatal("no laptop in the inventory")
			}
			found := false
			for _, a := range d.Addrs {
				found = found || a == netip.MustParseAddr(laptop.String())
			}
			if !found {
				t.Errorf("the laptop's addresses %v lack its global IPv6 address", d.Addrs)
			}
		})
	}
}
