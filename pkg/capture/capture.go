// Package capture owns the sources of raw frames: capture files (pcap and
// pcapng), and on the router the AF_PACKET ring and NFLOG. Every source
// hands out borrowed bytes plus the link type needed to decode them; no
// source decodes protocols.
package capture

import (
	"errors"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Info describes one frame.
type Info struct {
	Timestamp     time.Time
	CaptureLength int             // bytes present in data
	Length        int             // bytes on the wire
	LinkType      layers.LinkType // how to decode data
	Interface     int             // pcapng interface index, the kernel's ifindex for live sources, or 0
}

// Source yields frames one at a time. The data returned by ReadPacket is
// borrowed: it is only valid until the next call. At the end of the input
// ReadPacket returns io.EOF.
type Source interface {
	ReadPacket() (data []byte, info Info, err error)
	Close() error
}

// ErrUnsupportedLinkType is wrapped by errors for captures whose link type
// the decoder cannot read.
var ErrUnsupportedLinkType = errors.New("unsupported link type")

// SupportedLinkType reports whether frames of type lt can be decoded.
func SupportedLinkType(lt layers.LinkType) bool {
	switch lt {
	case layers.LinkTypeEthernet,
		layers.LinkTypeLinuxSLL,
		layers.LinkTypeLinuxSLL2,
		layers.LinkTypeRaw,
		layers.LinkTypeIPv4,
		layers.LinkTypeIPv6,
		layers.LinkTypeNull,
		layers.LinkTypeLoop,
		LinkTypeRawDLT12,
		LinkTypeRawDLT14,
		LinkTypeNFLOG:
		return true
	}
	return false
}

// Link types gopacket has no name for.
const (
	// LinkTypeRawDLT12 and LinkTypeRawDLT14 are DLT_RAW as most systems and
	// OpenBSD number it; files should say LINKTYPE_RAW (101), but some
	// writers store the DLT.
	LinkTypeRawDLT12 layers.LinkType = 12
	LinkTypeRawDLT14 layers.LinkType = 14
	// LinkTypeNFLOG is Linux netfilter NFLOG (libpcap LINKTYPE_NFLOG).
	LinkTypeNFLOG layers.LinkType = 239
)
