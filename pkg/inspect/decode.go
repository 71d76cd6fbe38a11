package inspect

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// Packet is one decoded frame. The caller owns it and reuses it; Payload
// and Options point into the frame passed to Decode (borrowed bytes, valid
// until the frame's buffer is reused).
type Packet struct {
	Timestamp time.Time
	Length    int // bytes on the wire

	HasMAC         bool
	SrcMAC, DstMAC hwaddr.MAC
	VLAN           uint16 // innermost 802.1Q VLAN id; 0 when untagged
	EtherType      layers.EthernetType

	// ARP holds the sender of an ARP packet (Kind == KindARP).
	ARPSenderMAC hwaddr.MAC
	ARPSenderIP  netip.Addr

	Src, Dst netip.Addr
	IPProto  layers.IPProtocol
	TTL      uint8 // IPv4 TTL or IPv6 hop limit
	Fragment bool  // an IP fragment; not decoded further

	SrcPort, DstPort uint16
	TCPFlags         uint8 // see TCPFlag*
	Seq, Ack         uint32
	Window           uint16
	TCPOptions       []byte // raw option bytes of a TCP header (for SYN fingerprints)

	Payload []byte // transport payload, or the PPP PAP payload for KindPAP

	Kind      Kind
	Truncated bool // the capture cut a header short
}

// Kind says how far a frame decoded.
type Kind uint8

const (
	KindUnknown Kind = iota // link layer only, or undecodable
	KindARP
	KindIP  // IP without a TCP/UDP header we read (ICMP, fragments, …)
	KindTCP // TCP header decoded
	KindUDP // UDP header decoded
	KindPAP // PPP Password Authentication Protocol frame (PPPoE)
)

// TCP flag bits, as in the TCP header.
const (
	TCPFlagFIN = 0x01
	TCPFlagSYN = 0x02
	TCPFlagRST = 0x04
	TCPFlagPSH = 0x08
	TCPFlagACK = 0x10
)

// DecodeStats counts what the decoder saw. Fields only grow.
type DecodeStats struct {
	Frames      uint64
	Undecoded   uint64 // link or network layer not readable
	Truncated   uint64 // a header was cut by the snap length
	Fragments   uint64 // IPv4/IPv6 fragments (counted, not reassembled)
	UnknownLink uint64 // frames of a link type the decoder does not know
}

// Decoder turns frames into Packets with gopacket's DecodingLayerParser,
// one parser per first layer, all sharing one set of preallocated layers.
// A Decoder is not safe for concurrent use; use one per goroutine.
type Decoder struct {
	eth   layers.Ethernet
	sll   layers.LinuxSLL
	sll2  layers.LinuxSLL2
	loop  layers.Loopback
	dot1q layers.Dot1Q
	pppoe pppoeSession
	ppp   pppFrame
	arp   layers.ARP
	ip4   layers.IPv4
	ip6   layers.IPv6
	ip6x  layers.IPv6ExtensionSkipper
	tcp   layers.TCP
	udp   layers.UDP

	ethParser, sllParser, sll2Parser, loopParser, ip4Parser, ip6Parser *gopacket.DecodingLayerParser

	decoded []gopacket.LayerType
	Stats   DecodeStats
}

// NewDecoder returns a Decoder ready for every supported link type.
func NewDecoder() *Decoder {
	d := &Decoder{decoded: make([]gopacket.LayerType, 0, 16)}
	common := []gopacket.DecodingLayer{&d.dot1q, &d.pppoe, &d.ppp, &d.arp, &d.ip4, &d.ip6, &d.ip6x, &d.tcp, &d.udp}
	mk := func(first gopacket.LayerType, firstLayer gopacket.DecodingLayer) *gopacket.DecodingLayerParser {
		all := append([]gopacket.DecodingLayer{firstLayer}, common...)
		if firstLayer == &d.ip4 || firstLayer == &d.ip6 {
			all = common
		}
		p := gopacket.NewDecodingLayerParser(first)
		// A slice indexed by layer type finds the next decoder faster than
		// the default map.
		dlc := gopacket.DecodingLayerContainer(gopacket.DecodingLayerSparse(nil))
		for _, l := range all {
			dlc = dlc.Put(l)
		}
		p.SetDecodingLayerContainer(dlc)
		p.IgnoreUnsupported = true
		return p
	}
	d.ethParser = mk(layers.LayerTypeEthernet, &d.eth)
	d.sllParser = mk(layers.LayerTypeLinuxSLL, &d.sll)
	d.sll2Parser = mk(layers.LayerTypeLinuxSLL2, &d.sll2)
	d.loopParser = mk(layers.LayerTypeLoopback, &d.loop)
	d.ip4Parser = mk(layers.LayerTypeIPv4, &d.ip4)
	d.ip6Parser = mk(layers.LayerTypeIPv6, &d.ip6)
	// Payload follows TCP and UDP; we read it from those layers directly.
	return d
}

// Decode fills p from one frame of link type lt. It never fails: whatever
// could not be read is reported through p.Kind, p.Truncated and Stats.
func (d *Decoder) Decode(data []byte, info capture.Info, p *Packet) {
	*p = Packet{Timestamp: info.Timestamp, Length: info.Length}
	d.Stats.Frames++
	var parser *gopacket.DecodingLayerParser
	switch info.LinkType {
	case capture.LinkTypeEthernet:
		parser = d.ethParser
	case capture.LinkTypeLinuxSLL:
		parser = d.sllParser
	case capture.LinkTypeLinuxSLL2:
		parser = d.sll2Parser
	case capture.LinkTypeNull, capture.LinkTypeLoop:
		parser = d.loopParser
	case capture.LinkTypeIPv4:
		parser = d.ip4Parser
	case capture.LinkTypeIPv6:
		parser = d.ip6Parser
	case capture.LinkTypeRaw, capture.LinkTypeRawDLT12, capture.LinkTypeRawDLT14:
		parser = d.rawIPParser(data)
	case capture.LinkTypeNFLOG:
		data = nflogPayload(data)
		parser = d.rawIPParser(data)
	default:
		d.Stats.UnknownLink++
		return
	}
	if parser == nil {
		d.Stats.Undecoded++
		return
	}
	// A decode error leaves the layers decoded so far in d.decoded, and
	// what they hold is still good.
	err := parser.DecodeLayers(data, &d.decoded)
	d.fill(p)
	// gopacket flags most short headers as truncated; a link header too
	// short to read at all only shows as an error with nothing decoded.
	if parser.Truncated || (err != nil && len(d.decoded) == 0) {
		p.Truncated = true
		d.Stats.Truncated++
	}
	if p.Kind == KindUnknown {
		d.Stats.Undecoded++
	}
	if p.Fragment {
		d.Stats.Fragments++
	}
}

func (d *Decoder) rawIPParser(data []byte) *gopacket.DecodingLayerParser {
	if len(data) == 0 {
		return nil
	}
	switch data[0] >> 4 {
	case 4:
		return d.ip4Parser
	case 6:
		return d.ip6Parser
	}
	return nil
}

// fill copies what the layers decoded into p.
func (d *Decoder) fill(p *Packet) {
	for _, lt := range d.decoded {
		switch lt {
		case layers.LayerTypeEthernet:
			p.HasMAC = true
			p.SrcMAC = hwaddr.FromBytes(d.eth.SrcMAC)
			p.DstMAC = hwaddr.FromBytes(d.eth.DstMAC)
			p.EtherType = d.eth.EthernetType
		case layers.LayerTypeLinuxSLL:
			if d.sll.AddrLen == 6 {
				p.HasMAC = true
				p.SrcMAC = hwaddr.FromBytes(d.sll.Addr)
			}
		case layers.LayerTypeLinuxSLL2:
			if d.sll2.AddrLength == 6 {
				p.HasMAC = true
				p.SrcMAC = hwaddr.FromBytes(d.sll2.Addr)
			}
		case layers.LayerTypeDot1Q:
			p.VLAN = d.dot1q.VLANIdentifier
		case layers.LayerTypePPP:
			if d.ppp.protocol == pppProtocolPAP {
				p.Kind = KindPAP
				p.Payload = d.ppp.Payload
			}
		case layers.LayerTypeARP:
			if len(d.arp.SourceHwAddress) == 6 {
				p.Kind = KindARP
				p.ARPSenderMAC = hwaddr.FromBytes(d.arp.SourceHwAddress)
				if a, ok := netip.AddrFromSlice(d.arp.SourceProtAddress); ok {
					p.ARPSenderIP = a.Unmap()
				}
			}
		case layers.LayerTypeIPv4:
			p.Kind = KindIP
			p.Src = addr4(d.ip4.SrcIP)
			p.Dst = addr4(d.ip4.DstIP)
			p.IPProto = d.ip4.Protocol
			p.TTL = d.ip4.TTL
			p.Fragment = d.ip4.Flags&layers.IPv4MoreFragments != 0 || d.ip4.FragOffset != 0
		case layers.LayerTypeIPv6:
			p.Kind = KindIP
			p.Src = addr16(d.ip6.SrcIP)
			p.Dst = addr16(d.ip6.DstIP)
			p.IPProto = d.ip6.NextHeader
			p.TTL = d.ip6.HopLimit
			if d.ip6.HopByHop != nil {
				p.IPProto = d.ip6.HopByHop.NextHeader
			}
			p.Fragment = p.IPProto == layers.IPProtocolIPv6Fragment
		case layers.LayerTypeIPv6Destination, layers.LayerTypeIPv6Routing:
			p.IPProto = d.ip6x.NextHeader
			p.Fragment = p.IPProto == layers.IPProtocolIPv6Fragment
		case layers.LayerTypeTCP:
			if p.Fragment {
				continue
			}
			p.Kind = KindTCP
			p.SrcPort, p.DstPort = uint16(d.tcp.SrcPort), uint16(d.tcp.DstPort)
			p.Seq, p.Ack, p.Window = d.tcp.Seq, d.tcp.Ack, d.tcp.Window
			p.TCPFlags = tcpFlags(&d.tcp)
			if hl := int(d.tcp.DataOffset) * 4; hl > 20 && hl <= len(d.tcp.Contents) {
				p.TCPOptions = d.tcp.Contents[20:hl]
			}
			p.Payload = d.tcp.Payload
		case layers.LayerTypeUDP:
			if p.Fragment {
				continue
			}
			p.Kind = KindUDP
			p.SrcPort, p.DstPort = uint16(d.udp.SrcPort), uint16(d.udp.DstPort)
			p.Payload = d.udp.Payload
		}
	}
}

func tcpFlags(t *layers.TCP) uint8 {
	var f uint8
	if t.FIN {
		f |= TCPFlagFIN
	}
	if t.SYN {
		f |= TCPFlagSYN
	}
	if t.RST {
		f |= TCPFlagRST
	}
	if t.PSH {
		f |= TCPFlagPSH
	}
	if t.ACK {
		f |= TCPFlagACK
	}
	return f
}

func addr4(b []byte) netip.Addr {
	if len(b) < 4 {
		return netip.Addr{}
	}
	return netip.AddrFrom4([4]byte(b[:4]))
}

func addr16(b []byte) netip.Addr {
	if len(b) < 16 {
		return netip.Addr{}
	}
	return netip.AddrFrom16([16]byte(b[:16]))
}

// nflogPayload returns the packet carried in an NFLOG record (the
// NFULA_PAYLOAD attribute), or nil. The record's TLV lengths and types are
// in the byte order of the host that captured it, so both orders are tried
// and the one whose attribute chain is consistent wins.
func nflogPayload(b []byte) []byte {
	const hdr = 4 // family, version, resource id
	if len(b) < hdr {
		return nil
	}
	if p, ok := nflogWalk(b[hdr:], binary.LittleEndian); ok {
		return p
	}
	p, _ := nflogWalk(b[hdr:], binary.BigEndian)
	return p
}

const nfulaPayload = 9

func nflogWalk(b []byte, order binary.ByteOrder) (payload []byte, consistent bool) {
	for len(b) >= 4 {
		length := int(order.Uint16(b[0:2]))
		typ := order.Uint16(b[2:4]) & 0x7fff // top bit: nested flag
		if length < 4 || length > len(b) {
			return nil, false
		}
		if typ == nfulaPayload {
			payload = b[4:length]
		}
		padded := (length + 3) &^ 3
		if padded > len(b) {
			padded = len(b)
		}
		b = b[padded:]
	}
	return payload, payload != nil
}
