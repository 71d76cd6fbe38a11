// Package capture owns the sources of raw frames: capture files (pcap and
// pcapng), and on the router the AF_PACKET ring and NFLOG. Every source
// hands out borrowed bytes plus the link type needed to decode them; no
// source decodes protocols.
package capture

import (
	"errors"
	"fmt"
	"time"
)

// Info describes one frame.
type Info struct {
	Timestamp     time.Time
	CaptureLength int      // bytes present in data
	Length        int      // bytes on the wire
	LinkType      LinkType // how to decode data
	Interface     int      // pcapng interface index, the kernel's ifindex for live sources, or 0
	// Outgoing: the host sent the frame (AF_PACKET's PACKET_OUTGOING), its
	// own or one it routed; false for received frames and for sources
	// that cannot tell.
	Outgoing bool
}

// Source yields frames one at a time. The data returned by ReadPacket is
// borrowed: it is only valid until the next call. At the end of the input
// ReadPacket returns io.EOF.
type Source interface {
	ReadPacket() (data []byte, info Info, err error)
	Close() error
}

// LossReporter is a live source that counts the packets the kernel had
// for it but could not hand over: a full ring or socket buffer. What was
// lost was never inspected.
type LossReporter interface {
	Lost() uint64
}

// MissingReporter is a live source that left out interfaces that were
// missing or down when it was opened.
type MissingReporter interface {
	Missing() []string
}

// ErrInterfacesChanged ends a source whose interfaces changed: one it left
// out is up, or one it read went down or away. Open it again.
var ErrInterfacesChanged = errors.New("capture interfaces changed")

// ErrUnsupportedLinkType is wrapped by errors for captures whose link type
// the decoder cannot read.
var ErrUnsupportedLinkType = errors.New("unsupported link type")

// SupportedLinkType reports whether frames of type lt can be decoded.
func SupportedLinkType(lt LinkType) bool {
	switch lt {
	case LinkTypeNull,
		LinkTypeEthernet,
		LinkTypeRaw,
		LinkTypeLoop,
		LinkTypeLinuxSLL,
		LinkTypeIPv4,
		LinkTypeIPv6,
		LinkTypeLinuxSLL2,
		LinkTypeRawDLT12,
		LinkTypeRawDLT14,
		LinkTypeNFLOG:
		return true
	}
	return false
}

// LinkType is a capture's link-layer header type, numbered as libpcap's
// LINKTYPE_ values (https://www.tcpdump.org/linktypes.html), which pcap and
// pcapng files store.
type LinkType uint16

// The link types iotgw decodes.
const (
	LinkTypeNull      LinkType = 0   // BSD loopback: a 4-byte address family in the writer's byte order
	LinkTypeEthernet  LinkType = 1   // IEEE 802.3 Ethernet
	LinkTypeRaw       LinkType = 101 // raw IPv4 or IPv6, told apart by the version nibble
	LinkTypeLoop      LinkType = 108 // OpenBSD loopback: the address family big-endian
	LinkTypeLinuxSLL  LinkType = 113 // Linux "cooked" capture v1 (tcpdump -i any)
	LinkTypeNFLOG     LinkType = 239 // Linux netfilter NFLOG records
	LinkTypeIPv4      LinkType = 228
	LinkTypeIPv6      LinkType = 229
	LinkTypeLinuxSLL2 LinkType = 276 // Linux "cooked" capture v2

	// LinkTypeRawDLT12 and LinkTypeRawDLT14 are DLT_RAW as most systems and
	// OpenBSD number it; files should say LINKTYPE_RAW (101), but some
	// writers store the DLT.
	LinkTypeRawDLT12 LinkType = 12
	LinkTypeRawDLT14 LinkType = 14
)

func (lt LinkType) String() string {
	switch lt {
	case LinkTypeNull:
		return "null"
	case LinkTypeEthernet:
		return "ethernet"
	case LinkTypeRaw, LinkTypeRawDLT12, LinkTypeRawDLT14:
		return "raw"
	case LinkTypeLoop:
		return "loop"
	case LinkTypeLinuxSLL:
		return "linux-sll"
	case LinkTypeNFLOG:
		return "nflog"
	case LinkTypeIPv4:
		return "ipv4"
	case LinkTypeIPv6:
		return "ipv6"
	case LinkTypeLinuxSLL2:
		return "linux-sll2"
	}
	return fmt.Sprintf("linktype-%d", uint16(lt))
}
