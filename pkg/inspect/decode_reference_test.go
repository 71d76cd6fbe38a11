package inspect_test

import (
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/hwaddr"
	"github.com/iotgw/iotgw/pkg/inspect"
	"github.com/iotgw/iotgw/pkg/inspect/inspecttest"
)

// reference decodes frames with gopacket's layers, an implementation
// written by other people, so that the hand-written decoder is checked
// against something it does not share code or mistakes with.
type reference struct {
	eth   layers.Ethernet
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	dot1q layers.Dot1Q
	arp   layers.ARP
	ip4   layers.IPv4
	ip6   layers.IPv6
	ip6x  layers.IPv6ExtensionSkipper
	tcp   layers.TCP
	udp   layers.UDP
}

// decode returns what gopacket reads from a frame, and false where it
// reports an error or where the frame is not a plain link / one IP header /
// TCP, UDP or ARP stack, which is all this comparison is about.
func (r *reference) decode(data []byte, lt capture.LinkType) (want inspect.Packet, ok bool) {
	first := map[capture.LinkType]gopacket.LayerType{
		capture.LinkTypeEthernet:  layers.LayerTypeEthernet,
		capture.LinkTypeLinuxSLL:  layers.LayerTypeLinuxSLL,
		capture.LinkTypeLinuxSLL2: layers.LayerTypeLinuxSLL2,
		capture.LinkTypeNull:      layers.LayerTypeLoopback,
		capture.LinkTypeLoop:      layers.LayerTypeLoopback,
		capture.LinkTypeIPv4:      layers.LayerTypeIPv4,
		capture.LinkTypeIPv6:      layers.LayerTypeIPv6,
	}[lt]
	if first == gopacket.LayerTypeZero {
		return want, false
	}
	*r = reference{}
	p := gopacket.NewDecodingLayerParser(first, &r.eth, &r.sll, &r.sll2, &r.loop, &r.dot1q, &r.arp, &r.ip4, &r.ip6, &r.ip6x, &r.tcp, &r.udp)
	p.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	if err := p.DecodeLayers(data, &decoded); err != nil {
		return want, false
	}
	// gopacket's PPP layers cannot decode in place (PPPoE has its own
	// test), and it reads IPv4 after EtherType 0xffff, which IEEE reserves.
	for _, et := range []layers.EthernetType{r.eth.EthernetType, r.sll.EthernetType, r.sll2.ProtocolType, r.dot1q.Type} {
		if et == layers.EthernetTypePPPoESession || et == layers.EthernetTypeRaw {
			return want, false
		}
	}
	// Cooked headers of netlink, Frame Relay, radiotap and GRE interfaces
	// carry no EtherType; gopacket reads some of them as if they did, or
	// GRE's as an Ethernet frame.
	for _, hw := range []uint16{r.sll.AddrType, uint16(r.sll2.ARPHardwareType)} {
		switch hw {
		case 770, 778, 803, 824:
			return want, false
		}
	}
	ipLayers := 0
	var ipPayload []byte // of the last IP header, for ICMPv6
	for _, l := range decoded {
		switch l {
		case layers.LayerTypeEthernet:
			want.HasMAC = true
			want.SrcMAC, want.DstMAC = hwaddr.FromBytes(r.eth.SrcMAC), hwaddr.FromBytes(r.eth.DstMAC)
		case layers.LayerTypeLinuxSLL:
			if r.sll.AddrLen == 6 {
				want.HasMAC, want.SrcMAC = true, hwaddr.FromBytes(r.sll.Addr)
			}
		case layers.LayerTypeLinuxSLL2:
			if r.sll2.AddrLength == 6 {
				want.HasMAC, want.SrcMAC = true, hwaddr.FromBytes(r.sll2.Addr)
			}
		case layers.LayerTypeDot1Q:
			want.VLAN = r.dot1q.VLANIdentifier
		case layers.LayerTypeARP:
			if len(r.arp.SourceHwAddress) != 6 {
				return want, false
			}
			want.Kind = inspect.KindARP
			want.ARPSenderMAC = hwaddr.FromBytes(r.arp.SourceHwAddress)
			if a, ok := netip.AddrFromSlice(r.arp.SourceProtAddress); ok {
				want.ARPSenderIP = a.Unmap()
			}
		case layers.LayerTypeIPv4:
			// gopacket does not check the version nibble; receivers do.
			if r.ip4.Version != 4 {
				return want, false
			}
			ipLayers++
			want.Kind = inspect.KindIP
			want.Src, want.Dst = netip.AddrFrom4([4]byte(r.ip4.SrcIP)), netip.AddrFrom4([4]byte(r.ip4.DstIP))
			want.IPProto, want.TTL = inspect.IPProtocol(r.ip4.Protocol), r.ip4.TTL
			want.Fragment = r.ip4.Flags&layers.IPv4MoreFragments != 0 || r.ip4.FragOffset != 0
			ipPayload = r.ip4.Payload
		case layers.LayerTypeIPv6:
			if r.ip6.Version != 6 {
				return want, false
			}
			ipLayers++
			want.Kind = inspect.KindIP
			want.Src, want.Dst = netip.AddrFrom16([16]byte(r.ip6.SrcIP)), netip.AddrFrom16([16]byte(r.ip6.DstIP))
			want.IPProto, want.TTL = inspect.IPProtocol(r.ip6.NextHeader), r.ip6.HopLimit
			if r.ip6.HopByHop != nil {
				want.IPProto = inspect.IPProtocol(r.ip6.HopByHop.NextHeader)
			}
			want.Fragment = want.IPProto == inspect.IPProtocolFragment
			ipPayload = r.ip6.Payload
		case layers.LayerTypeIPv6Routing, layers.LayerTypeIPv6Destination:
			want.IPProto = inspect.IPProtocol(r.ip6x.NextHeader)
			want.Fragment = want.IPProto == inspect.IPProtocolFragment
			ipPayload = r.ip6x.Payload
		case layers.LayerTypeTCP:
			if want.Fragment {
				return want, ipLayers == 1
			}
			want.Kind = inspect.KindTCP
			want.SrcPort, want.DstPort = uint16(r.tcp.SrcPort), uint16(r.tcp.DstPort)
			want.Seq, want.Ack, want.Window = r.tcp.Seq, r.tcp.Ack, r.tcp.Window
			want.TCPFlags = tcpFlags(&r.tcp)
			if hl := int(r.tcp.DataOffset) * 4; hl > 20 {
				want.TCPOptions = r.tcp.Contents[20:hl]
			}
			want.Payload = r.tcp.Payload
		case layers.LayerTypeUDP:
			if want.Fragment {
				return want, ipLayers == 1
			}
			want.Kind = inspect.KindUDP
			want.SrcPort, want.DstPort = uint16(r.udp.SrcPort), uint16(r.udp.DstPort)
			want.Payload = r.udp.Payload
		default:
			// IPv4 carrying IPv6 extension headers, and other stacks no
			// receiver would accept.
			return want, false
		}
	}
	if want.Kind == inspect.KindIP && want.IPProto == inspect.IPProtocolICMPv6 && !want.Fragment && len(ipPayload) > 0 {
		want.Payload = ipPayload
	}
	return want, ipLayers <= 1
}

func tcpFlags(t *layers.TCP) uint8 {
	var f uint8
	for _, b := range []struct {
		set  bool
		flag uint8
	}{{t.FIN, inspect.TCPFlagFIN}, {t.SYN, inspect.TCPFlagSYN}, {t.RST, inspect.TCPFlagRST}, {t.PSH, inspect.TCPFlagPSH}, {t.ACK, inspect.TCPFlagACK}} {
		if b.set {
			f |= b.flag
		}
	}
	return f
}

// sameDecode compares the fields both decoders fill.
func sameDecode(t testing.TB, where string, got, want inspect.Packet) {
	t.Helper()
	type fields struct {
		Kind                  inspect.Kind
		HasMAC                bool
		SrcMAC, DstMAC        hwaddr.MAC
		VLAN                  uint16
		ARPSenderMAC          hwaddr.MAC
		ARPSenderIP, Src, Dst netip.Addr
		IPProto               inspect.IPProtocol
		TTL                   uint8
		Fragment              bool
		SrcPort, DstPort      uint16
		TCPFlags              uint8
		Seq, Ack              uint32
		Window                uint16
		TCPOptions, Payload   string
	}
	pick := func(p inspect.Packet) fields {
		return fields{p.Kind, p.HasMAC, p.SrcMAC, p.DstMAC, p.VLAN, p.ARPSenderMAC, p.ARPSenderIP, p.Src, p.Dst,
			p.IPProto, p.TTL, p.Fragment, p.SrcPort, p.DstPort, p.TCPFlags, p.Seq, p.Ack, p.Window,
			string(p.TCPOptions), string(p.Payload)}
	}
	if g, w := pick(got), pick(want); g != w {
		t.Fatalf("%s: decoder and gopacket differ\n got  %+v\n want %+v", where, g, w)
	}
}

// TestDecodeMatchesGopacket decodes every frame of the shared corpus and
// of the bundled capture with both decoders: wherever gopacket reads a
// plain stack without error, the hand-written decoder must read the same.
func TestDecodeMatchesGopacket(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(filepath.Dir(inspecttest.CorpusFile(t, "zeek-empty.pcap")), "*.pcap*"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, inspecttest.RepoFile(t, "testdata/demo.pcap"))
	var ref reference
	d := inspect.NewDecoder()
	compared, frames := 0, 0
	for _, name := range files {
		f, err := capture.OpenFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for {
			data, info, err := f.ReadPacket()
			if err != nil {
				// Some corpus files are cut short on purpose; the frames
				// before the damage count, the capture tests cover it.
				if !errors.Is(err, io.EOF) {
					t.Logf("%s: %v", filepath.Base(name), err)
				}
				break
			}
			frames++
			var got inspect.Packet
			d.Decode(data, info, &got)
			if want, ok := ref.decode(data, info.LinkType); ok {
				sameDecode(t, filepath.Base(name), got, want)
				compared++
			}
		}
		f.Close()
	}
	// Nearly all of the corpus is ordinary Ethernet or cooked IP; a
	// reference that skipped most of it would prove little.
	if frames == 0 || compared < frames*9/10 {
		t.Fatalf("compared only %d of %d frames", compared, frames)
	}
	t.Logf("%d of %d frames decoded alike", compared, frames)
}

// FuzzDecodeMatchesGopacket runs the same comparison on arbitrary bytes.
func FuzzDecodeMatchesGopacket(f *testing.F) {
	for _, name := range []string{"zeek-http-vlan-0.pcap", "zeek-ftp-ipv6.pcap", "zeek-linux_dlt_sll2.pcap"} {
		src, err := capture.OpenFile(inspecttest.CorpusFile(f, name))
		if err != nil {
			f.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			data, info, err := src.ReadPacket()
			if err != nil {
				break
			}
			f.Add(uint16(info.LinkType), append([]byte(nil), data...))
		}
		src.Close()
	}
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		var ref reference
		want, ok := ref.decode(data, capture.LinkType(link))
		var got inspect.Packet
		inspect.NewDecoder().Decode(data, capture.Info{LinkType: capture.LinkType(link)}, &got)
		if ok {
			sameDecode(t, "fuzz", got, want)
		}
	})
}
