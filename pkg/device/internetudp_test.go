package device

import (
	"net/netip"
	"testing"

	"github.com/iotgw/iotgw/pkg/event"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
)

// TestInternetUDPCounted: which datagrams count as UDP to the internet
// that nothing judged, with a link layer and without one (NFLOG, the
// device known by its address): unicast to a non-LAN address on a port
// not exempt, by its destination port or its source port.
func TestInternetUDPCounted(t *testing.T) {
	const ip = "192.168.1.5"
	m := mustMAC("00:11:22:33:44:55")
	bcastMAC := mustMAC("ff:ff:ff:ff:ff:ff")
	tests := []struct {
		name         string
		dst          string
		sport, dport uint16
		dstMAC       hwaddr.MAC // zero: the router's
		tcp          bool
		linkOnly     bool // judged by the frame's MAC, which NFLOG lacks
		want         bool
	}{
		{"coap", "198.51.100.7", 40000, 5683, hwaddr.MAC{}, false, false, true},
		{"syslog", "198.51.100.7", 514, 514, hwaddr.MAC{}, false, false, true},
		{"snmp_trap", "198.51.100.7", 40000, 162, hwaddr.MAC{}, false, false, true},
		{"tftp", "198.51.100.7", 40000, 69, hwaddr.MAC{}, false, false, true},
		{"mqtt_sn", "198.51.100.7", 40000, 1883, hwaddr.MAC{}, false, false, true},
		{"vendor_high_port", "198.51.100.7", 40000, 32100, hwaddr.MAC{}, false, false, true},
		{"port_zero", "198.51.100.7", 40000, 0, hwaddr.MAC{}, false, false, true},
		{"private_beyond_lan", "10.20.0.5", 40000, 5683, hwaddr.MAC{}, false, false, true},
		{"ipv6_global", "2001:db8::7", 40000, 5683, hwaddr.MAC{}, false, false, true},
		{"ipv4_mapped", "::ffff:198.51.100.7", 40000, 5683, hwaddr.MAC{}, false, false, true},
		{"stun_range_end", "198.51.100.7", 40000, 19310, hwaddr.MAC{}, false, false, true},
		// A LAN VPN or STUN server answering a roaming client's
		// ephemeral port.
		{"wireguard_server_answers", "198.51.100.7", 51820, 38211, hwaddr.MAC{}, false, false, false},
		{"openvpn_server_answers", "198.51.100.7", 1194, 38211, hwaddr.MAC{}, false, false, false},
		{"stun_server_answers", "198.51.100.7", 3478, 38211, hwaddr.MAC{}, false, false, false},
		// A client's ephemeral port that happens to be one of those,
		// sending to a clear service.
		{"ephemeral_51820_to_coap", "198.51.100.7", 51820, 5683, hwaddr.MAC{}, false, false, true},
		{"ephemeral_4500_to_syslog", "198.51.100.7", 4500, 514, hwaddr.MAC{}, false, false, true},
		{"dns", "198.51.100.53", 40000, 53, hwaddr.MAC{}, false, false, false},
		{"dhcp_relayed", "198.51.100.67", 68, 67, hwaddr.MAC{}, false, false, false},
		{"dhcp_client_port", "198.51.100.67", 67, 68, hwaddr.MAC{}, false, false, false},
		{"ntp", "198.51.100.7", 123, 123, hwaddr.MAC{}, false, false, false},
		{"quic", "198.51.100.7", 40000, 443, hwaddr.MAC{}, false, false, false},
		{"doq", "198.51.100.7", 40000, 853, hwaddr.MAC{}, false, false, false},
		{"ike", "198.51.100.7", 500, 500, hwaddr.MAC{}, false, false, false},
		{"ipsec_nat_t", "198.51.100.7", 4500, 4500, hwaddr.MAC{}, false, false, false},
		{"openvpn", "198.51.100.7", 40000, 1194, hwaddr.MAC{}, false, false, false},
		{"stun", "198.51.100.7", 40000, 3478, hwaddr.MAC{}, false, false, false},
		{"stuns", "198.51.100.7", 40000, 5349, hwaddr.MAC{}, false, false, false},
		{"coaps", "198.51.100.7", 40000, 5684, hwaddr.MAC{}, false, false, false},
		{"wireguard", "198.51.100.7", 40000, 51820, hwaddr.MAC{}, false, false, false},
		{"google_stun", "198.51.100.7", 40000, 19302, hwaddr.MAC{}, false, false, false},
		{"google_stun_last", "198.51.100.7", 40000, 19309, hwaddr.MAC{}, false, false, false},
		// A service's answer from its privileged port to a client's
		// ephemeral one.
		{"ntp_answer", "198.51.100.7", 123, 40000, hwaddr.MAC{}, false, false, false},
		{"dns_answer", "198.51.100.7", 53, 40000, hwaddr.MAC{}, false, false, false},
		{"tcp", "198.51.100.7", 40000, 5683, hwaddr.MAC{}, true, false, false},
		{"lan", "192.168.1.9", 40000, 5683, hwaddr.MAC{}, false, false, false},
		{"ssdp", "239.255.255.250", 40000, 1900, hwaddr.MAC{}, false, false, false},
		{"mdns", "224.0.0.251", 5353, 5353, hwaddr.MAC{}, false, false, false},
		{"mdns_v6", "ff02::fb", 5353, 5353, hwaddr.MAC{}, false, false, false},
		{"limited_broadcast", "255.255.255.255", 40000, 5683, hwaddr.MAC{}, false, false, false},
		{"link_local", "169.254.10.1", 40000, 5683, hwaddr.MAC{}, false, false, false},
		{"link_local_v6", "fe80::1", 40000, 5683, hwaddr.MAC{}, false, false, false},
		{"unspecified", "0.0.0.0", 40000, 5683, hwaddr.MAC{}, false, false, false},
		{"loopback", "127.0.0.1", 40000, 5683, hwaddr.MAC{}, false, false, false},
		// Another subnet's broadcast address reads as a host's; the
		// frame's group MAC says it is none.
		{"directed_broadcast", "198.51.100.255", 40000, 5683, bcastMAC, false, true, false},
	}
	for _, tt := range tests {
		for _, noLink := range []bool{false, true} {
			if noLink && tt.linkOnly {
				continue
			}
			name := tt.name
			if noLink {
				name += "/no_link_layer"
			}
			t.Run(name, func(t *testing.T) {
				inv := newInv()
				var d *Device
				src := m
				if noLink {
					src = hwaddr.MAC{}
					d = inv.File(obs("", ip, event.KindDNSQuery, event.Evidence{"name": "api.example.com"}))
				} else {
					inv.ObservePacket(udpPacket(m, ip, "192.168.1.1", 40000, 53))
					d = device(t, inv, m.String())
				}
				p := udpPacket(src, ip, tt.dst, tt.sport, tt.dport)
				if !tt.dstMAC.IsZero() {
					p.DstMAC = tt.dstMAC
				}
				if tt.tcp {
					p.Kind, p.TCPFlags = inspect.KindTCP, inspect.TCPFlagACK
				}
				inv.ObservePacket(p)
				inv.ObservePacket(p)
				want := internetUDP{}
				if tt.want {
					want.n = 2
					want.ports[0] = tt.dport
				}
				if d.traffic.udp != want {
					t.Errorf("counted %+v, want %+v", d.traffic.udp, want)
				}
			})
		}
	}
}

// TestInternetUDPBounded: the device keeps a count and its first few
// ports, whatever it sends: the count saturates, the ports stay
// distinct, and a merge of an address's device into its MAC's adds
// both up.
func TestInternetUDPBounded(t *testing.T) {
	var u internetUDP
	for port := uint16(1000); port < 1100; port++ {
		u.add(port)
		u.add(port)
	}
	if u.n != 200 || u.ports != [maxInternetUDPPorts]uint16{1000, 1001, 1002, 1003} || !u.more {
		t.Errorf("after 100 ports: %+v", u)
	}
	u.n = ^uint32(0) - 1
	u.add(5683)
	u.add(5683)
	if u.n != ^uint32(0) {
		t.Errorf("count %d, want it saturated", u.n)
	}
	u.merge(internetUDP{n: 10, ports: [maxInternetUDPPorts]uint16{5683}})
	if u.n != ^uint32(0) {
		t.Errorf("count %d after a merge, want it saturated", u.n)
	}

	var a internetUDP
	a.add(5683)
	a.merge(internetUDP{n: 3, ports: [maxInternetUDPPorts]uint16{514, 5683, 69}})
	if a.n != 4 || a.ports != [maxInternetUDPPorts]uint16{5683, 514, 69} || a.more {
		t.Errorf("merged %+v", a)
	}

	// The address's device, seen through NFLOG, merges into its MAC's.
	inv := newInv()
	const ip = "192.168.1.77"
	inv.File(obs("", ip, event.KindDNSQuery, event.Evidence{"name": "a.example"}))
	inv.ObservePacket(udpPacket(hwaddr.MAC{}, ip, "198.51.100.7", 40000, 5683))
	m := mustMAC("50:c7:bf:0a:1b:2c")
	inv.ObservePacket(udpPacket(m, ip, "198.51.100.7", 40000, 514))
	d := device(t, inv, m.String())
	if d.traffic.udp.n != 2 || d.traffic.udp.ports != [maxInternetUDPPorts]uint16{5683, 514} {
		t.Errorf("merged device counts %+v, want 2 datagrams, to 5683 then 514", d.traffic.udp)
	}
}

// TestInternetUDPAllocatesNothing: counting a datagram of a known device
// allocates nothing, on either path, ports new or known.
func TestInternetUDPAllocatesNothing(t *testing.T) {
	const ip = "192.168.1.5"
	m := mustMAC("00:11:22:33:44:55")
	for _, noLink := range []bool{false, true} {
		inv := newInv()
		src := m
		if noLink {
			src = hwaddr.MAC{}
			inv.File(obs("", ip, event.KindDNSQuery, event.Evidence{"name": "api.example.com"}))
		}
		p := udpPacket(src, ip, "198.51.100.7", 40000, 5683)
		inv.ObservePacket(p)
		if n := testing.AllocsPerRun(1000, func() {
			p.DstPort++
			inv.ObservePacket(p)
		}); n != 0 {
			t.Errorf("no link layer %v: ObservePacket allocates %v times for UDP to the internet", noLink, n)
		}
		d := inv.devices[inv.byIP[netip.MustParseAddr(ip)]]
		if d == nil || d.traffic.udp.n < 1000 || !d.traffic.udp.more {
			t.Errorf("no link layer %v: device %v did not count the datagrams", noLink, d)
		}
	}
}

// BenchmarkObservePacketInternetUDP: a known device's datagram to an
// internet port that counts (CoAP), and to one exempt (QUIC), which is
// ruled out by its port before the address is looked at. The tests'
// isLocal parses its prefix on each call: most of the counted case's
// cost over the exempt one's.
func BenchmarkObservePacketInternetUDP(b *testing.B) {
	for _, bb := range []struct {
		name string
		port uint16
	}{{"coap", 5683}, {"quic", 443}} {
		b.Run(bb.name, func(b *testing.B) {
			inv := newInv()
			m := mustMAC("00:11:22:33:44:89")
			p := udpPacket(m, "192.168.1.53", "198.51.100.7", 40000, bb.port)
			inv.ObservePacket(p)
			b.ReportAllocs()
			for b.Loop() {
				inv.ObservePacket(p)
			}
		})
	}
}
