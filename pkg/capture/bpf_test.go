package capture

import (
	"encoding/binary"
	"errors"
	"net"
	"slices"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// frame serialises layers with lengths and checksums filled in.
func frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	var nl gopacket.NetworkLayer
	for _, l := range ls {
		if n, ok := l.(gopacket.NetworkLayer); ok {
			nl = n
		}
		switch l := l.(type) {
		case *layers.TCP:
			if err := l.SetNetworkLayerForChecksum(nl); err != nil {
				t.Fatal(err)
			}
		case *layers.UDP:
			if err := l.SetNetworkLayerForChecksum(nl); err != nil {
				t.Fatal(err)
			}
		}
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	devMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x10}
	gwMAC  = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
)

func eth(et layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: devMAC, DstMAC: gwMAC, EthernetType: et}
}

func dot1q(et layers.EthernetType) *layers.Dot1Q {
	return &layers.Dot1Q{VLANIdentifier: 42, Type: et}
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto,
		SrcIP: net.IPv4(10, 98, 1, 10), DstIP: net.IPv4(10, 98, 2, 1)}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.ParseIP("fd98::10"), DstIP: net.ParseIP("fd98::1")}
}

func tcp(src, dst uint16, syn, ack bool) *layers.TCP {
	return &layers.TCP{SrcPort: layers.TCPPort(src), DstPort: layers.TCPPort(dst), Seq: 1, SYN: syn, ACK: ack, Window: 512}
}

func udp(src, dst uint16) *layers.UDP {
	return &layers.UDP{SrcPort: layers.UDPPort(src), DstPort: layers.UDPPort(dst)}
}

func arp() *layers.ARP {
	return &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: layers.ARPRequest, SourceHwAddress: devMAC, SourceProtAddress: []byte{10, 98, 1, 10},
		DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 98, 1, 1}}
}

// runFilter runs prog over data in the BPF VM and returns the bytes the
// kernel would keep: the program's verdict, at most the frame's length.
func runFilter(t testing.TB, prog []bpf.RawInstruction, data []byte) int {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	vm, err := bpf.NewVM(ins)
	if err != nil {
		t.Fatalf("filter rejected by the VM: %v", err)
	}
	n, err := vm.Run(data)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return min(n, len(data))
}

func TestFilterFor(t *testing.T) {
	payload := gopacket.Payload("USER admin\r\n")
	// A non-first fragment whose first bytes look like ports 23 → 23.
	fragTail := func() []byte {
		ip := ip4(layers.IPProtocolTCP)
		ip.FragOffset = 185
		return frame(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload("\x00\x17\x00\x17 rest of a segment"))
	}
	firstFrag := func(dport uint16) []byte {
		ip := ip4(layers.IPProtocolTCP)
		ip.Flags = layers.IPv4MoreFragments
		return frame(t, eth(layers.EthernetTypeIPv4), ip, tcp(40000, dport, false, true), payload)
	}
	// A last fragment (offset, no MF) of a protocol.
	lastFrag := func(proto layers.IPProtocol, ls ...gopacket.SerializableLayer) []byte {
		ip := ip4(proto)
		ip.FragOffset = 185
		return frame(t, append(append(ls, ip), gopacket.Payload("rest of a datagram"))...)
	}
	// IPv6 fragment headers: next header, reserved, offset and M,
	// identification; a non-first one of UDP, its bytes looking like
	// ports 53 → 53.
	frag6 := func(next layers.IPProtocol, ls ...gopacket.SerializableLayer) []byte {
		hdr := &layers.IPv6Fragment{NextHeader: next, FragmentOffset: 154, Identification: 1}
		return frame(t, append(ls, ip6(layers.IPProtocolIPv6Fragment), hdr, gopacket.Payload("\x00\x35\x00\x35 rest"))...)
	}
	// A fragment header behind a hop-by-hop header (router alert) and
	// hops-1 destination options headers.
	hopFrag6 := func(hops int) []byte {
		var b []byte
		for i := range hops {
			next := byte(layers.IPProtocolIPv6Destination)
			if i == hops-1 {
				next = byte(layers.IPProtocolIPv6Fragment)
			}
			b = append(b, next, 0, 5, 2, 0, 0, 1, 0)
		}
		b = append(b, byte(layers.IPProtocolUDP), 0, 0x04, 0xd0, 0, 0, 0, 1)
		b = append(b, "rest"...)
		return frame(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6HopByHop), gopacket.Payload(b))
	}
	withOptions := func(dport uint16) []byte {
		ip := ip4(layers.IPProtocolTCP)
		ip.Options = []layers.IPv4Option{{OptionType: 1}, {OptionType: 1}, {OptionType: 1}, {OptionType: 0}} // NOP NOP NOP EOL: IHL 6
		// Port 0x5000 at the offset an IHL-blind filter would read.
		return frame(t, eth(layers.EthernetTypeIPv4), ip, tcp(40000, dport, false, true), payload)
	}
	// PPPoE session frames: version/type, code, session, length, then the
	// PPP protocol and what it carries.
	pppoe := func(vlan bool, pppProto uint16, body string) []byte {
		b := []byte{0x11, 0x00, 0x00, 0x01, 0, byte(2 + len(body)), byte(pppProto >> 8), byte(pppProto)}
		if vlan {
			return frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypePPPoESession), gopacket.Payload(append(b, body...)))
		}
		return frame(t, eth(layers.EthernetTypePPPoESession), gopacket.Payload(append(b, body...)))
	}
	papAdmin := "\x01\x01\x00\x10\x05admin\x05admin" // Authenticate-Request admin/admin
	// IPv6 with extension headers before TCP to port 80: each is next
	// header, length in 8-byte units after the first 8, options (PadN).
	withExt := func(vlan bool, dport uint16, exts ...layers.IPProtocol) []byte {
		first := layers.IPProtocolTCP
		var hdrs []byte
		for i, e := range exts {
			if i == 0 {
				first = e
			}
			next := byte(layers.IPProtocolTCP)
			if i+1 < len(exts) {
				next = byte(exts[i+1])
			}
			if i == 1 {
				// 16 bytes: a length of 1.
				hdrs = append(hdrs, next, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
				continue
			}
			hdrs = append(hdrs, next, 0, 1, 4, 0, 0, 0, 0)
		}
		ls := []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv6)}
		if vlan {
			ls = []gopacket.SerializableLayer{eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv6)}
		}
		b := frame(t, append(ls, ip6(first), gopacket.Payload(hdrs))...)
		// The segment by hand: frame would want a network layer for
		// its checksum, which the filter does not read.
		seg := binary.BigEndian.AppendUint16(nil, 40000)
		seg = binary.BigEndian.AppendUint16(seg, dport)
		seg = append(seg, 0, 0, 0, 1, 0, 0, 0, 0, 5<<4, 0x10, 2, 0, 0, 0, 0, 0)
		seg = append(seg, payload...)
		b = append(b, seg...)
		// The IPv6 payload length as the extension headers and segment.
		l3 := len(b) - len(seg) - len(hdrs) - 40
		binary.BigEndian.PutUint16(b[l3+4:], uint16(len(hdrs)+len(seg)))
		return b
	}
	ports := PortSet{Ports: DefaultPorts()}
	all := PortSet{AllPayload: true}
	tests := []struct {
		name  string
		ports PortSet
		data  []byte
		pass  bool
	}{
		{"arp", ports, frame(t, eth(layers.EthernetTypeARP), arp()), true},
		{"vlan_arp", ports, frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeARP), arp()), true},
		{"ipv4_tcp_to_telnet", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 23, false, true), payload), true},
		{"ipv4_tcp_from_http", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(80, 40000, false, true), payload), true},
		{"ipv4_tcp_last_default_port", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 10554, false, true)), true},
		{"ipv4_udp_dns", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(40000, 53), payload), true},
		{"ipv4_udp_wsd_hello", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(51744, 3702), payload), true},
		{"ipv4_udp_wsd_probe_matches", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(3702, 40000), payload), true},
		{"ipv4_udp_dhcp", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(68, 67), payload), true},
		{"ipv4_tcp_other_ack", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 9999, false, true), payload), false},
		{"ipv4_tcp_syn_any_port", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 9999, true, false)), true},
		{"ipv4_tcp_synack_any_port", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(9999, 40000, true, true)), true},
		{"ipv4_udp_other", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(40000, 9999), payload), false},
		{"ipv4_udp_syn_bit_lookalike", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(40000, 9999), gopacket.Payload("\xff\xff\xff\xff\xff\xff")), false},
		{"ipv4_icmp", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}), false},
		{"ipv4_options_tcp_to_telnet", ports, withOptions(23), true},
		{"ipv4_options_tcp_other", ports, withOptions(9999), false},
		{"ipv4_first_fragment", ports, firstFrag(23), true},
		{"ipv4_first_fragment_other_ports", ports, firstFrag(9999), true},
		{"ipv4_nonfirst_fragment", ports, fragTail(), true},
		{"ipv4_last_fragment_udp", ports, lastFrag(layers.IPProtocolUDP, eth(layers.EthernetTypeIPv4)), true},
		{"ipv4_fragment_icmp", ports, lastFrag(layers.IPProtocolICMPv4, eth(layers.EthernetTypeIPv4)), false},
		{"ipv4_fragment_gre", ports, lastFrag(layers.IPProtocolGRE, eth(layers.EthernetTypeIPv4)), false},
		{"no_ports_fragment", PortSet{}, fragTail(), true},
		{"ipv4_header_cut", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 23, false, true))[:14+12], false},
		{"ipv4_ports_cut", ports, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 23, false, true))[:14+20+1], false},
		{"ipv6_tcp_to_tls", ports, frame(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(40000, 443, false, true), payload), true},
		{"ipv6_udp_mdns", ports, frame(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(5353, 5353), payload), true},
		{"ipv6_udp_other", ports, frame(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(40000, 9999), payload), false},
		{"ipv6_tcp_syn_any_port", ports, frame(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(40000, 9999, true, false)), true},
		{"ipv6_icmp", ports, frame(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolICMPv6), gopacket.Payload("\x80\x00\x00\x00\x00\x17\x00\x17")), false},
		{"ipv6_fragment_header_tcp_first", ports, frame(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6Fragment), gopacket.Payload("\x06\x00\x00\x01\x00\x00\x00\x01\x9c\x40\x27\x0f")), true},
		{"ipv6_fragment_udp", ports, frag6(layers.IPProtocolUDP, eth(layers.EthernetTypeIPv6)), true},
		{"ipv6_fragment_icmp", ports, frag6(layers.IPProtocolICMPv6, eth(layers.EthernetTypeIPv6)), false},
		{"ipv6_fragment_destopts", ports, frag6(layers.IPProtocolIPv6Destination, eth(layers.EthernetTypeIPv6)), true},
		{"ipv6_fragment_no_next", ports, frag6(layers.IPProtocolNoNextHeader, eth(layers.EthernetTypeIPv6)), false},
		{"ipv6_fragment_esp", ports, frag6(layers.IPProtocolESP, eth(layers.EthernetTypeIPv6)), false},
		{"vlan_ipv6_fragment_destopts", ports, frag6(layers.IPProtocolIPv6Destination, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv6)), true},
		{"ipv6_hop_by_hop_fragment_udp", ports, hopFrag6(1), true},
		{"ipv6_two_ext_fragment_udp", ports, hopFrag6(2), true},
		{"ipv6_three_ext_fragment_udp", ports, hopFrag6(3), false},
		{"ipv6_fragment_header_cut", ports, frag6(layers.IPProtocolUDP, eth(layers.EthernetTypeIPv6))[:14+40], false},
		{"vlan_ipv6_fragment_udp", ports, frag6(layers.IPProtocolUDP, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv6)), true},
		{"ipv6_hop_by_hop", ports, frame(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolIPv6HopByHop), gopacket.Payload("\x3a\x00\x05\x02\x00\x00\x01\x00")), false},
		{"vlan_ipv4_tcp_mqtt", ports, frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 1883, false, true), payload), true},
		{"vlan_ipv4_tcp_other", ports, frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 9999, false, true), payload), false},
		{"vlan_ipv4_nonfirst_fragment", ports, func() []byte {
			ip := ip4(layers.IPProtocolUDP)
			ip.FragOffset = 100
			return frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv4), ip, gopacket.Payload("\x00\x35\x00\x35"))
		}(), true},
		{"vlan_ipv4_fragment_icmp", ports, lastFrag(layers.IPProtocolICMPv4, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv4)), false},
		{"vlan_ipv6_udp_ssdp", ports, frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(40000, 1900), payload), true},
		{"vlan_ipv6_tcp_syn", ports, frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(40000, 9999, true, false)), true},
		{"vlan_ipv6_tcp_other", ports, frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(40000, 9999, false, true)), false},
		{"vlan_icmp", ports, frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}), false},
		{"qinq_not_followed", ports, frame(t, eth(layers.EthernetTypeQinQ), dot1q(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 23, false, true)), false},
		{"lldp", ports, frame(t, eth(layers.EthernetTypeLinkLayerDiscovery), gopacket.Payload("\x02\x07\x04")), false},
		{"empty", ports, nil, false},
		{"ethertype_cut", ports, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08}, false},
		{"no_ports_tcp_other", PortSet{}, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 23, false, true)), false},
		{"no_ports_syn", PortSet{}, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 23, true, false)), true},
		{"all_ipv4_tcp_other", all, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 9999, false, true), payload), true},
		{"all_vlan_ipv6_udp_other", all, frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv6), ip6(layers.IPProtocolUDP), udp(40000, 9999), payload), true},
		{"all_icmp", all, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)}), false},
		{"all_nonfirst_fragment", all, fragTail(), true},
		{"all_fragment_icmp", all, lastFrag(layers.IPProtocolICMPv4, eth(layers.EthernetTypeIPv4)), false},
		{"all_arp", all, frame(t, eth(layers.EthernetTypeARP), arp()), true},
		{"ipv6_destopts_tcp_to_http", ports, withExt(false, 80, layers.IPProtocolIPv6Destination), true},
		{"ipv6_hop_by_hop_tcp_to_http", ports, withExt(false, 80, layers.IPProtocolIPv6HopByHop), true},
		{"ipv6_two_ext_tcp_to_http", ports, withExt(false, 80, layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Routing), true},
		{"vlan_ipv6_two_ext_tcp_to_http", ports, withExt(true, 80, layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Destination), true},
		{"ipv6_destopts_tcp_other", ports, withExt(false, 9999, layers.IPProtocolIPv6Destination), false},
		{"ipv6_two_ext_tcp_other", ports, withExt(false, 9999, layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Destination), false},
		{"ipv6_three_ext", ports, withExt(false, 80, layers.IPProtocolIPv6HopByHop, layers.IPProtocolIPv6Destination, layers.IPProtocolIPv6Routing), false},
		{"all_ipv6_destopts_tcp", all, withExt(false, 9999, layers.IPProtocolIPv6Destination), true},
		{"ipv6_ext_cut", ports, withExt(false, 80, layers.IPProtocolIPv6Destination)[:14+40+1], false},
		{"pppoe_pap", ports, pppoe(false, 0xc023, papAdmin), true},
		{"vlan_pppoe_pap", ports, pppoe(true, 0xc023, papAdmin), true},
		{"no_ports_pppoe_pap", PortSet{}, pppoe(false, 0xc023, papAdmin), true},
		{"pppoe_lcp", ports, pppoe(false, 0xc021, "\x01\x01\x00\x04"), false},
		{"pppoe_chap", ports, pppoe(true, 0xc223, "\x01\x01\x00\x04"), false},
		{"pppoe_protocol_cut", ports, pppoe(false, 0xc023, "")[:14+7], false},
		{"pppoe_discovery", ports, frame(t, eth(layers.EthernetTypePPPoEDiscovery), gopacket.Payload("\x11\x09\x00\x00\x00\x00")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := FilterFor(tt.ports)
			if err != nil {
				t.Fatal(err)
			}
			n := runFilter(t, prog, tt.data)
			if got := n > 0; got != tt.pass {
				t.Fatalf("pass = %v, want %v (kept %d of %d bytes)", got, tt.pass, n, len(tt.data))
			}
			if tt.pass && n != len(tt.data) {
				t.Errorf("kept %d bytes, want the whole frame of %d", n, len(tt.data))
			}
		})
	}
}

func TestFilterForPortLimits(t *testing.T) {
	many := func(n int) []uint16 {
		ps := make([]uint16, n)
		for i := range ps {
			ps[i] = uint16(20000 + i)
		}
		return ps
	}
	tests := []struct {
		name    string
		ports   []uint16
		wantErr bool
	}{
		{"max_ports", many(MaxFilterPorts), false},
		{"too_many_ports", many(MaxFilterPorts + 1), true},
		{"duplicates", []uint16{23, 23, 23, 80, 23}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prog, err := FilterFor(PortSet{Ports: tt.ports})
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			// The first and last port pass, tagged and untagged; a port
			// next to them does not.
			last := tt.ports[len(tt.ports)-1]
			for _, p := range []uint16{tt.ports[0], last} {
				for _, vlan := range []bool{false, true} {
					ls := []gopacket.SerializableLayer{eth(layers.EthernetTypeIPv4)}
					if vlan {
						ls = []gopacket.SerializableLayer{eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv4)}
					}
					pass := frame(t, append(ls, ip4(layers.IPProtocolUDP), udp(40000, p))...)
					drop := frame(t, append(ls, ip4(layers.IPProtocolUDP), udp(40000, last+1))...)
					if runFilter(t, prog, pass) == 0 {
						t.Errorf("port %d (vlan %v) dropped", p, vlan)
					}
					if runFilter(t, prog, drop) != 0 {
						t.Errorf("port %d (vlan %v) passed", last+1, vlan)
					}
				}
			}
		})
	}
}

// withMark stands in for the kernel's packet mark, which x/net/bpf's VM
// does not know: it replaces every load of the mark with a load of mark.
func withMark(t testing.TB, prog []bpf.RawInstruction, mark uint32) []bpf.RawInstruction {
	t.Helper()
	ins, ok := bpf.Disassemble(prog)
	if !ok {
		t.Fatal("filter does not disassemble")
	}
	for i, in := range ins {
		if ext, ok := in.(bpf.LoadExtension); ok && ext.Num == bpf.ExtMark {
			ins[i] = bpf.LoadConstant{Dst: bpf.RegA, Val: mark}
		}
	}
	out, err := bpf.Assemble(ins)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFilterForSpentMark(t *testing.T) {
	const bit = 0x20000000
	plain, err := FilterFor(PortSet{Ports: DefaultPorts()})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := FilterFor(PortSet{Ports: DefaultPorts(), SpentMark: bit})
	if err != nil {
		t.Fatal(err)
	}
	// The kernel runs the real program: the mark test comes first and
	// the rest is the filter without it, instruction for instruction
	// (every jump is relative).
	head, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtMark},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: bit, SkipTrue: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) != len(plain)+len(head) {
		t.Fatalf("%d instructions, want %d", len(prog), len(plain)+len(head))
	}
	for i, want := range head {
		if prog[i] != want {
			t.Errorf("instruction %d = %+v, want %+v", i, prog[i], want)
		}
	}
	for i, raw := range plain {
		if prog[i+len(head)] != raw {
			t.Errorf("instruction %d = %+v, want %+v as without the mark", i+len(head), prog[i+len(head)], raw)
		}
	}

	http := frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(80, 40000, false, true), gopacket.Payload(make([]byte, 1000)))
	vlanHTTP := frame(t, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp(443, 40000, false, true), gopacket.Payload(make([]byte, 1000)))
	icmp := frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{})
	tests := []struct {
		name string
		mark uint32
		data []byte
		pass bool
	}{
		{"unmarked", 0, http, true},
		{"unmarked_vlan_ipv6", 0, vlanHTTP, true},
		{"spent", bit, http, false},
		{"spent_vlan_ipv6", bit, vlanHTTP, false},
		{"spent_among_other_bits", bit | 0x3f00 | 0xff, http, false},
		{"other_bits_only", ^uint32(bit), http, true},
		{"other_bits_icmp_still_dropped", 0x3f00, icmp, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runFilter(t, withMark(t, prog, tt.mark), tt.data) != 0; got != tt.pass {
				t.Errorf("passed %v, want %v", got, tt.pass)
			}
		})
	}
}

func TestAssemblerJumpTooFar(t *testing.T) {
	var a assembler
	a.jumpIf(bpf.JumpEqual, 1, "end", "")
	for range 256 {
		a.emit(bpf.LoadConstant{Dst: bpf.RegA, Val: 0})
	}
	a.label("end")
	a.emit(bpf.RetConstant{Val: 0})
	if _, err := a.assemble(); !errors.Is(err, errJumpTooFar) {
		t.Fatalf("err = %v, want %v", err, errJumpTooFar)
	}
}

func TestWithSnaplen(t *testing.T) {
	prog, err := FilterFor(PortSet{Ports: DefaultPorts()})
	if err != nil {
		t.Fatal(err)
	}
	data := frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 23, false, true), gopacket.Payload(make([]byte, 1000)))
	tests := []struct {
		name    string
		snaplen uint32
		want    int
	}{
		{"whole", 0, len(data)},
		{"cut", 96, 96},
		{"larger_than_frame", 4096, len(data)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cut := withSnaplen(prog, tt.snaplen)
			if got := runFilter(t, cut, data); got != tt.want {
				t.Errorf("kept %d bytes, want %d", got, tt.want)
			}
			drop := frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4), &layers.ICMPv4{})
			if got := runFilter(t, cut, drop); got != 0 {
				t.Errorf("ICMP kept %d bytes, want dropped", got)
			}
		})
	}
	if prog[len(prog)-1].K != acceptWhole {
		t.Error("withSnaplen changed the program it was given")
	}
}

func BenchmarkFilterVM(b *testing.B) {
	prog, err := FilterFor(PortSet{Ports: DefaultPorts()})
	if err != nil {
		b.Fatal(err)
	}
	ins, _ := bpf.Disassemble(prog)
	vm, err := bpf.NewVM(ins)
	if err != nil {
		b.Fatal(err)
	}
	// The worst common case: a TCP segment on no listed port, compared
	// with every port twice, then checked for SYN.
	data := frame(b, eth(layers.EthernetTypeDot1Q), dot1q(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp(40000, 9999, false, true), gopacket.Payload(make([]byte, 1400)))
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if n, _ := vm.Run(data); n != 0 {
			b.Fatal("passed")
		}
	}
	b.ReportMetric(float64(len(prog)), "instructions")
}

// ip6Hdr is one header of an IPv6 test packet after the fixed header:
// an extension header, a fragment header, or the transport header.
type ip6Hdr struct {
	proto    uint8
	nonFirst bool   // a fragment header with an offset: next says what it carries, and nothing follows
	next     uint8  // a non-first fragment's next header
	port     uint16 // TCP, UDP: the destination port
	syn      bool
}

// ip6ChainFrame serialises chain behind an IPv6 header on Ethernet,
// tagged with vlan. Extension headers take 8 bytes, or 16 at odd places,
// for the filter's length arithmetic.
func ip6ChainFrame(chain []ip6Hdr, vlan bool) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 0x10}
	if vlan {
		b = append(b, 0x81, 0x00, 0, 42)
	}
	b = append(b, 0x86, 0xdd)
	l3 := len(b)
	b = append(b, 0x60, 0, 0, 0, 0, 0, chain[0].proto, 64)
	b = append(b, net.ParseIP("fd98::10")...)
	b = append(b, net.ParseIP("fd98::1")...)
	for i, h := range chain {
		next := uint8(layers.IPProtocolNoNextHeader)
		if i+1 < len(chain) {
			next = chain[i+1].proto
		}
		switch h.proto {
		case ipProtoHopByHop, ipProtoRouting, ipProtoDestOpts:
			if i%2 == 1 {
				b = append(b, next, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
			} else {
				b = append(b, next, 0, 1, 4, 0, 0, 0, 0)
			}
		case ipProtoFragment:
			if h.nonFirst {
				// Offset 1480, its bytes looking like ports 53 → 53.
				b = append(b, h.next, 0, 0x05, 0xc8, 0, 0, 0, 7)
				b = append(b, 0, 53, 0, 53, 0, 0, 0, 0)
			} else {
				b = append(b, next, 0, 0, 1, 0, 0, 0, 7)
			}
		case ipProtoTCP:
			flags := byte(0x10)
			if h.syn {
				flags |= tcpFlagSYN
			}
			b = binary.BigEndian.AppendUint16(b, 40000)
			b = binary.BigEndian.AppendUint16(b, h.port)
			b = append(b, 0, 0, 0, 1, 0, 0, 0, 0, 5<<4, flags, 2, 0, 0, 0, 0, 0)
		case ipProtoUDP:
			b = binary.BigEndian.AppendUint16(b, 40000)
			b = binary.BigEndian.AppendUint16(b, h.port)
			b = append(b, 0, 12, 0, 0, 'd', 'a', 't', 'a')
		default:
			b = append(b, 0x80, 0, 0, 0, 0, 0, 0, 0)
		}
	}
	binary.BigEndian.PutUint16(b[l3+4:], uint16(len(b)-l3-40))
	return b
}

// ip6FilterModel is the rule FilterFor's IPv6 part implements: at most
// ipv6ExtHeaders extension headers the decoder skips, then TCP or UDP
// (judged by ports and SYN) or a fragment header whose next header is
// TCP, UDP or one of those extension headers.
func ip6FilterModel(chain []ip6Hdr, ports []uint16) bool {
	skipped := func(p uint8) bool { return p == ipProtoHopByHop || p == ipProtoRouting || p == ipProtoDestOpts }
	exts := 0
	for i, h := range chain {
		switch {
		case skipped(h.proto):
			if exts == ipv6ExtHeaders {
				return false
			}
			exts++
		case h.proto == ipProtoFragment:
			next := h.next
			if !h.nonFirst {
				next = uint8(layers.IPProtocolNoNextHeader)
				if i+1 < len(chain) {
					next = chain[i+1].proto
				}
			}
			return next == ipProtoTCP || next == ipProtoUDP || skipped(next)
		case h.proto == ipProtoTCP:
			return slices.Contains(ports, h.port) || h.syn
		case h.proto == ipProtoUDP:
			return slices.Contains(ports, h.port)
		default:
			return false
		}
	}
	return false
}

// TestFilterIPv6Chains runs the filter over every IPv6 header chain of up
// to four extension and fragment headers before a transport header or a
// non-first fragment, untagged and tagged, and holds it to
// ip6FilterModel.
func TestFilterIPv6Chains(t *testing.T) {
	ports := []uint16{53, 80}
	prog, err := FilterFor(PortSet{Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	middles := []ip6Hdr{{proto: ipProtoHopByHop}, {proto: ipProtoRouting}, {proto: ipProtoDestOpts}, {proto: ipProtoFragment}}
	tails := []ip6Hdr{
		{proto: ipProtoTCP, port: 80}, {proto: ipProtoTCP, port: 9999}, {proto: ipProtoTCP, port: 9999, syn: true},
		{proto: ipProtoUDP, port: 53}, {proto: ipProtoUDP, port: 9999},
		{proto: uint8(layers.IPProtocolICMPv6)}, {proto: uint8(layers.IPProtocolNoNextHeader)},
	}
	for _, next := range []uint8{ipProtoTCP, ipProtoUDP, ipProtoDestOpts, ipProtoHopByHop, ipProtoRouting, ipProtoFragment, uint8(layers.IPProtocolICMPv6)} {
		tails = append(tails, ip6Hdr{proto: ipProtoFragment, nonFirst: true, next: next})
	}
	var chains [][]ip6Hdr
	prefixes := [][]ip6Hdr{nil}
	for range 5 {
		var longer [][]ip6Hdr
		for _, pre := range prefixes {
			for _, tail := range tails {
				chains = append(chains, append(slices.Clone(pre), tail))
			}
			for _, m := range middles {
				longer = append(longer, append(slices.Clone(pre), m))
			}
		}
		prefixes = longer
	}
	passed := 0
	for _, c := range chains {
		want := ip6FilterModel(c, ports)
		for _, vlan := range []bool{false, true} {
			data := ip6ChainFrame(c, vlan)
			n := runFilter(t, prog, data)
			if got := n > 0; got != want {
				t.Errorf("%+v (vlan %v): passed %v, want %v", c, vlan, got, want)
			} else if got && n != len(data) {
				t.Errorf("%+v (vlan %v): kept %d of %d bytes", c, vlan, n, len(data))
			}
			if n > 0 {
				passed++
			}
		}
	}
	if passed == 0 || passed == 2*len(chains) {
		t.Fatalf("%d of %d frames passed: the chains test nothing", passed, 2*len(chains))
	}
}
