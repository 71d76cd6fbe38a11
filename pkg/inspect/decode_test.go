package inspect

import (
	"encoding/binary"
	"encoding/hex"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/capture"
)

var (
	macA = net.HardwareAddr{0xc0, 0x56, 0xe3, 0x01, 0x02, 0x03}
	macB = net.HardwareAddr{0x50, 0xc7, 0xbf, 0x0a, 0x0b, 0x0c}
)

// frame serialises layers with lengths and checksums filled in.
func frame(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	for _, l := range ls {
		if n, ok := l.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			for _, nl := range ls {
				if ip, ok := nl.(gopacket.NetworkLayer); ok {
					_ = n.SetNetworkLayerForChecksum(ip)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
}

func ip4(proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto,
		SrcIP: net.IP{192, 168, 1, 10}, DstIP: net.IP{203, 0, 113, 5}}
}

func ip6(next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: next,
		SrcIP: net.ParseIP("fd00::10"), DstIP: net.ParseIP("2001:db8::5")}
}

func tcp(flags string) *layers.TCP {
	t := &layers.TCP{SrcPort: 40000, DstPort: 21, Seq: 1000, Ack: 2000, Window: 64240, DataOffset: 5}
	t.SYN = strings.Contains(flags, "S")
	t.ACK = strings.Contains(flags, "A")
	t.FIN = strings.Contains(flags, "F")
	t.RST = strings.Contains(flags, "R")
	t.PSH = strings.Contains(flags, "P")
	return t
}

func udp() *layers.UDP { return &layers.UDP{SrcPort: 68, DstPort: 67} }

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// setBytes returns b with the bytes from off on replaced by v.
func setBytes(b []byte, off int, v ...byte) []byte {
	b = append([]byte(nil), b...)
	copy(b[off:], v)
	return b
}

// ipv6Ext is an IPv6 TCP segment behind a hop-by-hop header (router alert)
// and an empty destination options header.
func ipv6Ext(t testing.TB, payload gopacket.Payload) []byte {
	seg := frame(t, ip6(layers.IPProtocolTCP), tcp("PA"), payload)[40:]
	hdr := frame(t, ip6(layers.IPProtocolIPv6HopByHop))
	ext := mustHex("3c00 05020000 0100" + "0600 0104 00000000")
	b := append(append(hdr, ext...), seg...)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(ext)+len(seg)))
	return b
}

// withIPv4Options is an IPv4 TCP segment whose header carries opts.
func withIPv4Options(t testing.TB, opts []byte, payload gopacket.Payload) []byte {
	ip := ip4(layers.IPProtocolTCP)
	ip.IHL = uint8(5 + len(opts)/4)
	ip.Options = []layers.IPv4Option{{OptionType: opts[0], OptionLength: 4, OptionData: opts[2:4]}}
	b := frame(t, ip, tcp("PA"), payload)
	copy(b[20:24], opts) // as given, even where gopacket would not write it
	return b
}

func TestDecode(t *testing.T) {
	payload := gopacket.Payload("USER admin\r\n")
	vlan := &layers.Dot1Q{VLANIdentifier: 42, Type: layers.EthernetTypeIPv4}
	outer := &layers.Dot1Q{VLANIdentifier: 7, Type: layers.EthernetTypeDot1Q}
	// Linux cooked header: packet type, ARPHRD_ETHER, address length,
	// address padded to 8 bytes, protocol.
	sll := mustHex("0000 0001 0006 c056e3010203 0000 0800")

	fragment := ip4(layers.IPProtocolTCP)
	fragment.Flags = layers.IPv4MoreFragments

	tests := []struct {
		name      string
		link      capture.LinkType
		data      []byte
		kind      Kind
		src       string
		payload   string
		vlan      uint16
		hasMAC    bool
		fragment  bool
		truncated bool
	}{
		{"ether_ipv4_tcp", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp("PA"), payload), KindTCP, "192.168.1.10", "USER admin\r\n", 0, true, false, false},
		{"ether_ipv6_tcp", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeIPv6), ip6(layers.IPProtocolTCP), tcp("PA"), payload), KindTCP, "fd00::10", "USER admin\r\n", 0, true, false, false},
		{"ether_ipv4_udp", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), gopacket.Payload("x")), KindUDP, "192.168.1.10", "x", 0, true, false, false},
		{"vlan", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeDot1Q), vlan, ip4(layers.IPProtocolTCP), tcp("PA"), payload), KindTCP, "192.168.1.10", "USER admin\r\n", 42, true, false, false},
		{"qinq", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeQinQ), outer, vlan, ip4(layers.IPProtocolTCP), tcp("PA"), payload), KindTCP, "192.168.1.10", "USER admin\r\n", 42, true, false, false},
		{"linux_sll", capture.LinkTypeLinuxSLL, append(sll, frame(t, ip4(layers.IPProtocolTCP), tcp("PA"), payload)...), KindTCP, "192.168.1.10", "USER admin\r\n", 0, true, false, false},
		{"raw_ipv4", capture.LinkTypeRaw, frame(t, ip4(layers.IPProtocolTCP), tcp("PA"), payload), KindTCP, "192.168.1.10", "USER admin\r\n", 0, false, false, false},
		{"raw_ipv6_linktype229", capture.LinkTypeIPv6, frame(t, ip6(layers.IPProtocolTCP), tcp("PA"), payload), KindTCP, "fd00::10", "USER admin\r\n", 0, false, false, false},
		{"ipv4_fragment", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeIPv4), fragment, tcp("PA"), payload), KindIP, "192.168.1.10", "", 0, true, true, false},
		{"arp", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: 1, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: macA, SourceProtAddress: net.IP{192, 168, 1, 10}, DstHwAddress: make([]byte, 6), DstProtAddress: net.IP{192, 168, 1, 1}}), KindARP, "", "", 0, true, false, false},
		{"ether_too_short", capture.LinkTypeEthernet, mustHex("c056e3010203 50c7"), KindUnknown, "", "", 0, false, false, true},
		{"ipv4_header_cut", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp("PA"), payload)[:14+12], KindUnknown, "", "", 0, true, false, true},
		{"tcp_header_cut", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp("PA"), payload)[:14+20+10], KindIP, "192.168.1.10", "", 0, true, false, true},
		{"raw_bogus_version", capture.LinkTypeRaw, mustHex("75000014"), KindUnknown, "", "", 0, false, false, false},
		{"bogus_ethertype", capture.LinkTypeEthernet, mustHex("c056e301020350c7bf0a0b0c3030 3030303030"), KindUnknown, "", "", 0, true, false, false},
		{"empty", capture.LinkTypeEthernet, nil, KindUnknown, "", "", 0, false, false, true},
		{"unknown_link", capture.LinkType(147), mustHex("00"), KindUnknown, "", "", 0, false, false, false},
		{"null_le_ipv4", capture.LinkTypeNull, append(mustHex("02000000"), frame(t, ip4(layers.IPProtocolTCP), tcp("PA"), payload)...), KindTCP, "192.168.1.10", "USER admin\r\n", 0, false, false, false},
		{"loop_be_ipv6_darwin", capture.LinkTypeLoop, append(mustHex("0000001e"), frame(t, ip6(layers.IPProtocolTCP), tcp("PA"), payload)...), KindTCP, "fd00::10", "USER admin\r\n", 0, false, false, false},
		{"null_unknown_family", capture.LinkTypeNull, mustHex("07000000 4500"), KindUnknown, "", "", 0, false, false, false},
		{"linux_sll2", capture.LinkTypeLinuxSLL2, append(mustHex("0800 0000 00000002 0001 00 06 c056e3010203 0000"), frame(t, ip4(layers.IPProtocolTCP), tcp("PA"), payload)...), KindTCP, "192.168.1.10", "USER admin\r\n", 0, true, false, false},
		{"ipv6_in_ipv4", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolIPv6), ip6(layers.IPProtocolTCP), tcp("PA"), payload), KindTCP, "fd00::10", "USER admin\r\n", 0, true, false, false},
		{"ipv6_hop_by_hop_and_dest_opts", capture.LinkTypeRaw, ipv6Ext(t, payload), KindTCP, "fd00::10", "USER admin\r\n", 0, false, false, false},
		{"ipv6_fragment", capture.LinkTypeRaw, frame(t, ip6(layers.IPProtocolIPv6Fragment), gopacket.Payload("\x06\x00\x00\x01\x00\x00\x00\x01")), KindIP, "fd00::10", "", 0, false, true, false},
		{"udp_length_below_header", capture.LinkTypeRaw, setBytes(frame(t, ip4(layers.IPProtocolUDP), udp(), gopacket.Payload("abc")), 20+4, 0, 7), KindIP, "192.168.1.10", "", 0, false, false, false},
		{"udp_cut_by_snap_length", capture.LinkTypeEthernet, frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), gopacket.Payload("abcdef"))[:14+20+8+3], KindUDP, "192.168.1.10", "abc", 0, true, false, true},
		{"udp_length_past_capture", capture.LinkTypeRaw, setBytes(frame(t, ip4(layers.IPProtocolUDP), udp(), gopacket.Payload("abc")), 20+4, 0, 200), KindUDP, "192.168.1.10", "abc", 0, false, false, true},
		{"ipv4_total_length_zero_offload", capture.LinkTypeRaw, setBytes(frame(t, ip4(layers.IPProtocolTCP), tcp("PA"), payload), 2, 0, 0), KindTCP, "192.168.1.10", "USER admin\r\n", 0, false, false, false},
		{"ethernet_padding_not_payload", capture.LinkTypeEthernet, append(frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolUDP), udp(), gopacket.Payload("x")), 0, 0, 0, 0), KindUDP, "192.168.1.10", "x", 0, true, false, false},
		{"ipv4_router_alert_option", capture.LinkTypeRaw, withIPv4Options(t, mustHex("94040000"), payload), KindTCP, "192.168.1.10", "USER admin\r\n", 0, false, false, false},
		{"ipv4_option_overruns_header", capture.LinkTypeRaw, withIPv4Options(t, mustHex("94080000"), payload), KindUnknown, "", "", 0, false, false, true},
		{"ipv4_option_without_data", capture.LinkTypeRaw, withIPv4Options(t, mustHex("9e020101"), payload), KindTCP, "192.168.1.10", "USER admin\r\n", 0, false, false, false},
		{"ipv4_option_length_1", capture.LinkTypeRaw, withIPv4Options(t, mustHex("9e010101"), payload), KindUnknown, "", "", 0, false, false, false},
		{"ipv4_version_6_in_ipv4_ethertype", capture.LinkTypeEthernet, setBytes(frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp("PA"), payload), 14, 0x65), KindUnknown, "", "", 0, true, false, false},
		{"tcp_data_offset_below_5", capture.LinkTypeRaw, setBytes(frame(t, ip4(layers.IPProtocolTCP), tcp("PA"), payload), 20+12, 0x40), KindIP, "192.168.1.10", "", 0, false, false, false},
	}
	d := NewDecoder()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			d.Decode(tt.data, capture.Info{LinkType: tt.link, Length: len(tt.data)}, &p)
			if p.Kind != tt.kind {
				t.Errorf("kind = %d, want %d", p.Kind, tt.kind)
			}
			if tt.src != "" && p.Src != netip.MustParseAddr(tt.src) {
				t.Errorf("src = %v, want %s", p.Src, tt.src)
			}
			if string(p.Payload) != tt.payload {
				t.Errorf("payload = %q, want %q", p.Payload, tt.payload)
			}
			if p.VLAN != tt.vlan || p.HasMAC != tt.hasMAC || p.Fragment != tt.fragment || p.Truncated != tt.truncated {
				t.Errorf("vlan %d mac %v fragment %v truncated %v; want %d %v %v %v",
					p.VLAN, p.HasMAC, p.Fragment, p.Truncated, tt.vlan, tt.hasMAC, tt.fragment, tt.truncated)
			}
			if cut := tt.kind == KindUDP && tt.truncated; p.CutDatagram != cut {
				t.Errorf("CutDatagram %v, want %v", p.CutDatagram, cut)
			}
			if tt.kind == KindTCP && (p.SrcPort != 40000 || p.DstPort != 21 || p.TCPFlags != TCPFlagPSH|TCPFlagACK || p.Seq != 1000 || p.Ack != 2000 || p.Window != 64240) {
				t.Errorf("tcp fields: %+v", p)
			}
			if tt.kind == KindARP && p.ARPSenderIP != netip.MustParseAddr("192.168.1.10") {
				t.Errorf("arp sender %v", p.ARPSenderIP)
			}
		})
	}
}

func TestDecodePPPoE(t *testing.T) {
	inner := frame(t, ip4(layers.IPProtocolTCP), tcp("PA"), gopacket.Payload("hi"))
	session := make([]byte, 6+2)
	session[0] = 0x11                                              // version 1, type 1
	binary.BigEndian.PutUint16(session[4:6], uint16(2+len(inner))) // payload length
	binary.BigEndian.PutUint16(session[6:8], pppProtocolIPv4)
	// Ethernet serialisation pads to 60 bytes, so write the header by hand.
	ethHdr := mustHex("50c7bf0a0b0c c056e3010203 8864")
	data := append(append(append([]byte{}, ethHdr...), session...), inner...)

	pap := append([]byte{}, session...)
	binary.BigEndian.PutUint16(pap[6:8], pppProtocolPAP)
	papBody := []byte{1, 1, 0, 14, 5, 'c', 'i', 's', 'c', 'o', 5, 'c', 'i', 's', 'c', 'o'}
	binary.BigEndian.PutUint16(pap[4:6], uint16(2+len(papBody)))
	papFrame := append(append(append([]byte{}, ethHdr...), pap...), papBody...)

	d := NewDecoder()
	var p Packet
	d.Decode(data, capture.Info{LinkType: capture.LinkTypeEthernet}, &p)
	if p.Kind != KindTCP || string(p.Payload) != "hi" {
		t.Errorf("pppoe ipv4: kind %d payload %q", p.Kind, p.Payload)
	}
	d.Decode(papFrame, capture.Info{LinkType: capture.LinkTypeEthernet}, &p)
	if p.Kind != KindPAP || len(p.Payload) != len(papBody) {
		t.Errorf("pppoe pap: kind %d payload %x", p.Kind, p.Payload)
	}
}

func TestNFLOGPayload(t *testing.T) {
	inner := frame(t, ip4(layers.IPProtocolUDP), udp(), gopacket.Payload("abc"))
	tlv := func(order binary.ByteOrder, typ uint16, v []byte) []byte {
		b := make([]byte, 4, 4+len(v)+3)
		order.PutUint16(b[0:2], uint16(4+len(v)))
		order.PutUint16(b[2:4], typ)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		rec := []byte{2, 0, 0, 1} // AF_INET, version 0, resource id 1
		rec = append(rec, tlv(order, 1, []byte{0x08, 0x00, 0x03, 0x00})...)
		rec = append(rec, tlv(order, nfulaPayload, inner)...)
		d := NewDecoder()
		var p Packet
		d.Decode(rec, capture.Info{LinkType: capture.LinkTypeNFLOG}, &p)
		if p.Kind != KindUDP || string(p.Payload) != "abc" {
			t.Errorf("%v: kind %d payload %q", order, p.Kind, p.Payload)
		}
	}
	if got := nflogPayload([]byte{2, 0, 0, 1, 0xff, 0xff}); got != nil {
		t.Errorf("garbage record gave payload %x", got)
	}
}

// TestDecodeNoAlloc proves the package's promise: decoding a frame and
// running it through an existing flow allocates nothing.
func TestDecodeNoAlloc(t *testing.T) {
	data := frame(t, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp("PA"), gopacket.Payload("USER admin\r\n"))
	d := NewDecoder()
	var p Packet
	info := capture.Info{LinkType: capture.LinkTypeEthernet, Timestamp: time.Unix(1, 0)}
	allocs := testing.AllocsPerRun(1000, func() { d.Decode(data, info, &p) })
	if allocs != 0 {
		t.Errorf("Decode allocates %.1f times per frame", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(uint16(capture.LinkTypeEthernet), frame(f, eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), tcp("PA"), gopacket.Payload("USER a\r\n")))
	f.Add(uint16(capture.LinkTypeRaw), frame(f, ip6(layers.IPProtocolUDP), udp(), gopacket.Payload("x")))
	f.Add(uint16(capture.LinkTypeNFLOG), []byte{2, 0, 0, 1, 8, 0, 9, 0, 0x45, 0, 0, 0})
	f.Add(uint16(capture.LinkTypeLinuxSLL2), make([]byte, 20))
	f.Add(uint16(capture.LinkTypeNull), []byte{2, 0, 0, 0, 0x45})
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		d := NewDecoder()
		var p Packet
		d.Decode(data, capture.Info{LinkType: capture.LinkType(link), Length: len(data)}, &p)
		if len(p.Payload) > len(data) {
			t.Fatalf("payload longer than frame")
		}
		if (p.Kind == KindTCP || p.Kind == KindUDP) && !p.Src.IsValid() {
			t.Fatalf("transport decoded without addresses")
		}
	})
}

// TestJumbogramCutBySnapLength: a UDP length of 0 (an IPv6 jumbogram,
// RFC 2675) says nothing of where the datagram ends, so the frame's own
// length tells whether the snap length cut it: cut, it is a cut
// datagram like one whose UDP length runs past the captured bytes.
func TestJumbogramCutBySnapLength(t *testing.T) {
	whole := setBytes(setBytes(frame(t, ip6(layers.IPProtocolUDP), udp(), gopacket.Payload("abcdef")), 4, 0, 0), 40+4, 0, 0)
	tests := []struct {
		name string
		keep int
		cut  bool
	}{
		{"whole", len(whole), false},
		{"cut", 40 + 8 + 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			var p Packet
			d.Decode(whole[:tt.keep], capture.Info{LinkType: capture.LinkTypeRaw, CaptureLength: tt.keep, Length: len(whole)}, &p)
			if p.Kind != KindUDP || p.CutDatagram != tt.cut || p.Truncated != tt.cut {
				t.Errorf("kind %v, cut datagram %v, truncated %v; want UDP, %v, %v", p.Kind, p.CutDatagram, p.Truncated, tt.cut, tt.cut)
			}
		})
	}
}
