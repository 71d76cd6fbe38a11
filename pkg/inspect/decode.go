package inspect

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/iotgw/iotgw/pkg/capture"
	"github.com/iotgw/iotgw/pkg/hwaddr"
)

// IPProtocol is an IP protocol number (IANA "Assigned Internet Protocol
// Numbers"): IPv4's protocol field or IPv6's last next-header.
type IPProtocol uint8

// The IP protocol numbers the decoder acts on.
const (
	IPProtocolHopByHop IPProtocol = 0
	IPProtocolIPIP     IPProtocol = 4 // IPv4 in IP
	IPProtocolTCP      IPProtocol = 6
	IPProtocolUDP      IPProtocol = 17
	IPProtocolIPv6     IPProtocol = 41 // IPv6 in IP (6in4)
	IPProtocolRouting  IPProtocol = 43
	IPProtocolFragment IPProtocol = 44
	IPProtocolICMPv6   IPProtocol = 58
	IPProtocolDestOpts IPProtocol = 60
)

// EtherTypes (IEEE "EtherType" registry) the decoder follows.
const (
	etherTypeIPv4  = 0x0800
	etherTypeARP   = 0x0806
	etherTypeVLAN  = 0x8100
	etherTypeQinQ  = 0x88a8
	etherTypeIPv6  = 0x86dd
	etherTypePPPoE = 0x8864 // PPPoE session stage; discovery (0x8863) carries no IP
)

// PPP protocol numbers (RFC 1661, RFC 1334).
const (
	pppProtocolIPv4 = 0x0021
	pppProtocolIPv6 = 0x0057
	pppProtocolPAP  = 0xc023
)

// Packet is one decoded frame. The caller owns it and reuses it; Payload
// and TCPOptions point into the frame passed to Decode (borrowed bytes, valid
// until the frame's buffer is reused), or, in a datagram reassembled from
// IP fragments (Reassembled), into the Decoder's reassembly buffer, valid
// until the next call of Decode or Flush.
type Packet struct {
	Timestamp time.Time
	Length    int // bytes on the wire

	HasMAC         bool
	SrcMAC, DstMAC hwaddr.MAC
	VLAN           uint16 // innermost 802.1Q VLAN id; 0 when untagged

	// ARP holds the sender of an ARP packet (Kind == KindARP).
	ARPSenderMAC hwaddr.MAC
	ARPSenderIP  netip.Addr

	Src, Dst netip.Addr
	IPProto  IPProtocol
	TTL      uint8 // IPv4 TTL or IPv6 hop limit
	// Fragment: an IP fragment that did not complete a datagram (it is
	// held for reassembly, or its datagram was dropped); not decoded
	// further. Reassembled: this frame's fragment completed a datagram,
	// which the rest of the Packet describes as if it had come whole.
	Fragment    bool
	Reassembled bool

	SrcPort, DstPort uint16
	TCPFlags         uint8 // see TCPFlag*
	Seq, Ack         uint32
	Window           uint16
	TCPOptions       []byte // raw option bytes of a TCP header (for SYN fingerprints)

	Payload []byte // transport payload, the ICMPv6 message, or the PPP PAP payload for KindPAP

	Kind      Kind
	Truncated bool // the capture cut a header short
	// CutDatagram: the capture cut a UDP datagram short of its length, so
	// Payload is not all of it. Its last field may be read as whole and
	// wrong ("busybox/1.1" of "busybox/1.19.3"): it is not inspected.
	CutDatagram bool
	// frameCut: the capture kept less of the frame than was on the wire.
	// A UDP length of 0 (a jumbogram) does not say where the datagram
	// ends; this does.
	frameCut bool
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

	tcpFlagsRead = TCPFlagFIN | TCPFlagSYN | TCPFlagRST | TCPFlagPSH | TCPFlagACK
)

// DecodeStats counts what the decoder saw. Fields only grow.
type DecodeStats struct {
	Frames      uint64
	Undecoded   uint64 // link or network layer not readable
	Truncated   uint64 // a header was cut by the snap length
	Fragments   uint64 // IPv4 fragments and IPv6 fragment headers seen
	UnknownLink uint64 // frames of a link type the decoder does not know
	// Defrag says what became of the fragments' datagrams.
	Defrag DefragStats
}

// Decoder reads the link, network and transport headers of frames in
// place: it copies addresses and ports into a Packet and points Payload
// into the frame. It reads only the headers iotgw needs, so it is a few
// branches per header and links no table of every protocol there is.
//
// Where a header is malformed the decoder does what a receiving stack
// would: a short or inconsistent IP header ends decoding at the link
// layer, an IP or UDP length longer than the bytes captured marks the
// packet truncated and uses what is there, and bytes past the IP length
// (Ethernet padding) are not payload.
//
// IP fragments of TCP and UDP are put together again (see DefragDatagrams):
// the fragment that completes a datagram decodes as the whole datagram,
// the others as fragments (Packet.Fragment). A Decoder holds the
// reassembly buffers, allocated on the first fragment it sees; call Flush
// at the end of a capture to count datagrams left incomplete.
//
// A Decoder is not safe for concurrent use; use one per goroutine.
type Decoder struct {
	Stats  DecodeStats
	defrag *defragger // nil until the first fragment
}

// NewDecoder returns a Decoder ready for every supported link type.
func NewDecoder() *Decoder { return &Decoder{} }

// Decode fills p from one frame of link type info.LinkType. It never fails: whatever
// could not be read is reported through p.Kind, p.Truncated and Stats.
func (d *Decoder) Decode(data []byte, info capture.Info, p *Packet) {
	*p = Packet{Timestamp: info.Timestamp, Length: info.Length, frameCut: info.Length > len(data)}
	d.Stats.Frames++
	if d.defrag != nil && d.defrag.delivered >= 0 {
		d.defrag.release() // the last datagram's bytes, wiped
	}
	switch info.LinkType {
	case capture.LinkTypeEthernet:
		d.decodeEthernet(data, p)
	case capture.LinkTypeLinuxSLL:
		d.decodeLinuxSLL(data, p)
	case capture.LinkTypeLinuxSLL2:
		d.decodeLinuxSLL2(data, p)
	case capture.LinkTypeNull, capture.LinkTypeLoop:
		d.decodeLoopback(data, p)
	case capture.LinkTypeIPv4:
		d.decodeIP(data, 4, p)
	case capture.LinkTypeIPv6:
		d.decodeIP(data, 6, p)
	case capture.LinkTypeRaw, capture.LinkTypeRawDLT12, capture.LinkTypeRawDLT14:
		d.decodeRawIP(data, p)
	case capture.LinkTypeNFLOG:
		d.decodeRawIP(nflogPayload(data), p)
	default:
		d.Stats.UnknownLink++
		return
	}
	if p.Truncated {
		d.Stats.Truncated++
	}
	if p.Kind == KindUnknown {
		d.Stats.Undecoded++
	}
}

// Flush gives up the datagrams whose fragments are still incomplete, as
// at the end of a capture, counting them (DefragStats.Incomplete), and
// wipes the reassembly buffers.
func (d *Decoder) Flush() {
	if d.defrag != nil {
		d.defrag.flush(&d.Stats.Defrag)
	}
}

func (d *Decoder) decodeEthernet(b []byte, p *Packet) {
	if len(b) < 14 {
		p.Truncated = true
		return
	}
	p.HasMAC = true
	p.DstMAC = hwaddr.FromBytes(b[0:6])
	p.SrcMAC = hwaddr.FromBytes(b[6:12])
	d.decodeEtherPayload(binary.BigEndian.Uint16(b[12:14]), b[14:], p)
}

// decodeLinuxSLL reads the 16-byte header of Linux cooked captures (v1):
// packet type, ARPHRD type, address length, 8 address bytes, protocol.
func (d *Decoder) decodeLinuxSLL(b []byte, p *Packet) {
	if len(b) < 16 {
		p.Truncated = true
		return
	}
	if binary.BigEndian.Uint16(b[4:6]) == 6 {
		p.HasMAC = true
		p.SrcMAC = hwaddr.FromBytes(b[6:12])
	}
	if cookedCarriesEtherType(binary.BigEndian.Uint16(b[2:4])) {
		d.decodeEtherPayload(binary.BigEndian.Uint16(b[14:16]), b[16:], p)
	}
}

// decodeLinuxSLL2 reads the 20-byte v2 header: protocol, reserved,
// interface index, ARPHRD type, packet type, address length, 8 address
// bytes.
func (d *Decoder) decodeLinuxSLL2(b []byte, p *Packet) {
	if len(b) < 20 {
		p.Truncated = true
		return
	}
	if b[11] == 6 {
		p.HasMAC = true
		p.SrcMAC = hwaddr.FromBytes(b[12:18])
	}
	if cookedCarriesEtherType(binary.BigEndian.Uint16(b[8:10])) {
		d.decodeEtherPayload(binary.BigEndian.Uint16(b[0:2]), b[20:], p)
	}
}

// cookedCarriesEtherType reports whether a cooked header's protocol field
// names the payload by EtherType: for Frame Relay (ARPHRD_FRAD) and
// 802.11 radiotap interfaces it is ignored, for netlink monitors it is a
// netlink family (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html).
func cookedCarriesEtherType(arphrd uint16) bool {
	switch arphrd {
	case 770, 803, 824: // ARPHRD_FRAD, ARPHRD_IEEE80211_RADIOTAP, ARPHRD_NETLINK
		return false
	}
	return true
}

// decodeLoopback reads BSD loopback's 4-byte address family, stored in the
// byte order of the host that wrote it (DLT_NULL) or big-endian
// (DLT_LOOP); families are below 256, so the zero bytes tell the order.
func (d *Decoder) decodeLoopback(b []byte, p *Packet) {
	if len(b) < 4 {
		p.Truncated = true
		return
	}
	family := binary.LittleEndian.Uint32(b[:4])
	if b[0] == 0 && b[1] == 0 {
		family = binary.BigEndian.Uint32(b[:4])
	}
	switch family {
	case 2: // AF_INET everywhere
		d.decodeIP(b[4:], 4, p)
	case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, macOS
		d.decodeIP(b[4:], 6, p)
	}
}

func (d *Decoder) decodeRawIP(b []byte, p *Packet) {
	if len(b) == 0 {
		return
	}
	switch v := b[0] >> 4; v {
	case 4, 6:
		d.decodeIP(b, v, p)
	}
}

// decodeEtherPayload follows VLAN tags (802.1Q, and 802.1ad outer tags)
// to the protocol they carry.
func (d *Decoder) decodeEtherPayload(etherType uint16, b []byte, p *Packet) {
	for len(b) > 0 {
		switch etherType {
		case etherTypeVLAN, etherTypeQinQ:
			if len(b) < 4 {
				p.Truncated = true
				return
			}
			p.VLAN = binary.BigEndian.Uint16(b[0:2]) & 0x0fff
			etherType, b = binary.BigEndian.Uint16(b[2:4]), b[4:]
			continue
		case etherTypeIPv4:
			d.decodeIP(b, 4, p)
		case etherTypeIPv6:
			d.decodeIP(b, 6, p)
		case etherTypeARP:
			decodeARP(b, p)
		case etherTypePPPoE:
			d.decodePPPoE(b, p)
		}
		return
	}
}

// decodeARP takes the sender of an Ethernet ARP packet: after the 8-byte
// fixed part come sender hardware and protocol addresses, then target's.
func decodeARP(b []byte, p *Packet) {
	if len(b) < 8 {
		p.Truncated = true
		return
	}
	hw, proto := int(b[4]), int(b[5])
	if len(b) < 8+2*hw+2*proto {
		p.Truncated = true
		return
	}
	if hw != 6 {
		return
	}
	p.Kind = KindARP
	p.ARPSenderMAC = hwaddr.FromBytes(b[8:14])
	if a, ok := netip.AddrFromSlice(b[14 : 14+proto]); ok {
		p.ARPSenderIP = a.Unmap()
	}
}

// decodePPPoE reads a PPPoE session header (RFC 2516) and the PPP protocol
// field after it, on the way to IP or to a PAP login.
func (d *Decoder) decodePPPoE(b []byte, p *Packet) {
	if len(b) < 6 {
		p.Truncated = true
		return
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	b = b[6:]
	if n < len(b) {
		b = b[:n]
	} else if n > len(b) {
		p.Truncated = true
	}
	if len(b) == 0 {
		return
	}
	if len(b) < 2 {
		p.Truncated = true
		return
	}
	// Protocol field compression (RFC 1661 6.5): an odd first byte is a
	// one-byte protocol number.
	proto, payload := binary.BigEndian.Uint16(b[:2]), b[2:]
	if b[0]&1 == 1 {
		proto, payload = uint16(b[0]), b[1:]
	}
	switch proto {
	case pppProtocolIPv4:
		d.decodeIP(payload, 4, p)
	case pppProtocolIPv6:
		d.decodeIP(payload, 6, p)
	case pppProtocolPAP:
		p.Kind = KindPAP
		p.Payload = payload
	}
}

// decodeIP reads an IP header of the given version and what it carries,
// following IP-in-IP and 6in4 tunnels to the innermost packet, whose
// addresses then describe the flow. A fragment goes to reassembly; the
// one that completes its datagram goes on with the datagram's bytes.
func (d *Decoder) decodeIP(b []byte, version uint8, p *Packet) {
	for len(b) > 0 {
		var next []byte
		var ok bool
		if version == 4 {
			next, ok = decodeIPv4(b, p)
		} else {
			next, ok = decodeIPv6(b, p)
		}
		if ok && p.Fragment {
			next, ok = d.reassemble(b, next, version, p)
		}
		if !ok || len(next) == 0 {
			return
		}
		switch p.IPProto {
		case IPProtocolTCP:
			decodeTCP(next, p)
		case IPProtocolUDP:
			decodeUDP(next, p)
		case IPProtocolICMPv6:
			p.Payload = next // for router advertisements
		case IPProtocolIPIP:
			version, b = 4, next
			continue
		case IPProtocolIPv6:
			version, b = 6, next
			continue
		}
		return
	}
}

// decodeIPv4 fills the IP fields and returns the IP payload, cut to the
// header's total length. p is left alone when the header is unusable.
func decodeIPv4(b []byte, p *Packet) (payload []byte, ok bool) {
	if len(b) < 20 {
		p.Truncated = true
		return nil, false
	}
	headerLen := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total == 0 {
		// Segmentation offload: the capturing host saw a large segment
		// before the NIC cut it, with the length left for the NIC to fill.
		total = len(b)
	}
	if b[0]>>4 != 4 || headerLen < 20 || total < headerLen {
		return nil, false
	}
	switch {
	case total < len(b):
		b = b[:total]
	case total > len(b):
		p.Truncated = true
		if headerLen > len(b) {
			return nil, false
		}
	}
	if !validIPv4Options(b[20:headerLen], p) {
		return nil, false
	}
	p.Kind = KindIP
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.IPProto = IPProtocol(b[9])
	p.TTL = b[8]
	flagsFragment := binary.BigEndian.Uint16(b[6:8])
	p.Fragment = flagsFragment&0x3fff != 0 // more-fragments bit or an offset
	return b[headerLen:], true
}

// validIPv4Options walks the option list; a length that overruns the
// header, or is too small for the option's own two bytes, makes the
// header unusable. An option of just those two bytes is valid: Linux
// delivers such a packet (ip_options_compile), and a login carrying one
// must not pass unseen.
func validIPv4Options(b []byte, p *Packet) bool {
	for len(b) > 0 {
		switch b[0] {
		case 0: // end of list
			return true
		case 1: // no-op padding
			b = b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) > len(b) {
			p.Truncated = true
			return false
		}
		if b[1] < 2 {
			return false
		}
		b = b[b[1]:]
	}
	return true
}

// decodeIPv6 fills the IP fields, skips extension headers (hop-by-hop,
// routing, destination options) and returns the payload after them, cut
// to the header's payload length. After a fragment header (p.Fragment)
// the payload starts with it.
func decodeIPv6(b []byte, p *Packet) (payload []byte, ok bool) {
	if len(b) < 40 {
		p.Truncated = true
		return nil, false
	}
	if b[0]>>4 != 6 {
		return nil, false
	}
	payload = b[40:]
	// A length of 0 is a jumbogram or an offloaded segment: take all.
	if n := int(binary.BigEndian.Uint16(b[4:6])); n > len(payload) {
		p.Truncated = true
	} else if n > 0 {
		payload = payload[:n]
	}
	p.Kind = KindIP
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	p.TTL = b[7]
	p.IPProto, payload = skipIPv6Ext(IPProtocol(b[6]), payload, p)
	p.Fragment = p.IPProto == IPProtocolFragment
	return payload, true
}

// skipIPv6Ext skips the extension headers the decoder passes over
// (hop-by-hop, routing, destination options) from b, whose first header
// is of type next. It returns the type of the header after them and the
// bytes from it, or nil where an extension header is cut short.
func skipIPv6Ext(next IPProtocol, b []byte, p *Packet) (IPProtocol, []byte) {
	for next == IPProtocolHopByHop || next == IPProtocolRouting || next == IPProtocolDestOpts {
		if len(b) < 2 {
			p.Truncated = p.Truncated || len(b) == 1
			return next, nil
		}
		n := (int(b[1]) + 1) * 8
		if n > len(b) {
			p.Truncated = true
			return next, nil
		}
		next, b = IPProtocol(b[0]), b[n:]
	}
	return next, b
}

func decodeTCP(b []byte, p *Packet) {
	if len(b) < 20 {
		p.Truncated = true
		return
	}
	headerLen := int(b[12]>>4) * 4
	if headerLen < 20 {
		return
	}
	if headerLen > len(b) {
		p.Truncated = true
		return
	}
	p.Kind = KindTCP
	p.SrcPort = binary.BigEndian.Uint16(b[0:2])
	p.DstPort = binary.BigEndian.Uint16(b[2:4])
	p.Seq = binary.BigEndian.Uint32(b[4:8])
	p.Ack = binary.BigEndian.Uint32(b[8:12])
	p.TCPFlags = b[13] & tcpFlagsRead
	p.Window = binary.BigEndian.Uint16(b[14:16])
	if headerLen > 20 {
		p.TCPOptions = b[20:headerLen]
	}
	p.Payload = b[headerLen:]
}

// decodeUDP cuts the payload to the UDP length; a length of 0 (jumbograms)
// takes the rest, cut if the frame was, and one shorter than the header
// is malformed.
func decodeUDP(b []byte, p *Packet) {
	if len(b) < 8 {
		p.Truncated = true
		return
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	switch {
	case n == 0:
		n = len(b)
		p.Truncated = p.Truncated || p.frameCut
		p.CutDatagram = p.frameCut
	case n < 8:
		return
	case n > len(b):
		p.Truncated, p.CutDatagram = true, true
		n = len(b)
	}
	p.Kind = KindUDP
	p.SrcPort = binary.BigEndian.Uint16(b[0:2])
	p.DstPort = binary.BigEndian.Uint16(b[2:4])
	p.Payload = b[8:n]
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
