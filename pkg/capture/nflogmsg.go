package capture

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"
)

// Netlink and nfnetlink_log wire constants (linux/netlink.h,
// linux/netfilter/nfnetlink.h, linux/netfilter/nfnetlink_log.h).
const (
	nlmsgHeaderLen  = 16
	nlattrHeaderLen = 4
	nfgenHeaderLen  = 4

	nlmsgNoop    = 1
	nlmsgError   = 2
	nlmsgDone    = 3
	nlmsgOverrun = 4

	nfnlSubsysULOG   = 4
	nfulnlMsgPacket  = nfnlSubsysULOG << 8 // | NFULNL_MSG_PACKET (0)
	nfulnlMsgConfig  = nfnlSubsysULOG<<8 | 1
	nlaTypeMask      = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
	nfulaPacketHdr   = 1
	nfulaTimestamp   = 3
	nfulaIfindexIn   = 4
	nfulaIfindexOut  = 5
	nfulaHWAddr      = 8
	nfulaPayload     = 9
	nfulaSeq         = 12
	nfulaHWType      = 15
	nfulaHWHeader    = 16
	arphrdEther      = 1
	etherAddrLen     = 6
	maxNFLOGSnaplen  = 0xffff
	nfulaHWAddrValue = 12 // struct nfulnl_msg_packet_hw: be16 len, pad, 8 bytes
)

// errShortMessage is wrapped by errors for netlink messages or attributes
// that claim more bytes than they have.
var errShortMessage = errors.New("truncated netlink message")

// nlMessage is one netlink message: header fields and the body after the
// 16-byte header. Body is borrowed from the datagram.
type nlMessage struct {
	typ, flags uint16
	seq        uint32
	body       []byte
}

// nextMessage splits the first netlink message off b. Netlink headers are
// in the host's byte order, order. A damaged header ends the datagram.
func nextMessage(order binary.ByteOrder, b []byte) (m nlMessage, rest []byte, err error) {
	if len(b) < nlmsgHeaderLen {
		return m, nil, errShortMessage
	}
	n := int(order.Uint32(b[0:4]))
	if n < nlmsgHeaderLen || n > len(b) {
		return m, nil, errShortMessage
	}
	m = nlMessage{typ: order.Uint16(b[4:6]), flags: order.Uint16(b[6:8]), seq: order.Uint32(b[8:12]), body: b[nlmsgHeaderLen:n]}
	next := align4(n)
	if next >= len(b) {
		return m, nil, nil
	}
	return m, b[next:], nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// nflogPacket is what one NFULNL_MSG_PACKET says. Offsets index the
// message body; attribute values are big-endian (network order).
type nflogPacket struct {
	family     uint8
	group      uint16
	hwProtocol uint16 // EtherType of the payload
	hook       uint8
	hasTime    bool
	sec, usec  uint64
	inDev      uint32
	outDev     uint32
	hasSeq     bool
	seq        uint32 // per-group sequence (with the sequence flag set)
	srcMAC     [etherAddrLen]byte
	hasSrcMAC  bool
	dstMAC     [etherAddrLen]byte
	hasDstMAC  bool
	payloadOff int // into the body; 0 when there is no payload
	payloadLen int
}

// parsePacket reads the attributes of an NFULNL_MSG_PACKET body.
// Attribute headers are in the host's byte order, order; values in
// network order. Unknown attributes are skipped.
func parsePacket(order binary.ByteOrder, body []byte, p *nflogPacket) error {
	*p = nflogPacket{}
	if len(body) < nfgenHeaderLen {
		return errShortMessage
	}
	p.family = body[0]
	p.group = binary.BigEndian.Uint16(body[2:4])
	var hwType uint16
	var hwHeader []byte
	for off := nfgenHeaderLen; off+nlattrHeaderLen <= len(body); {
		n := int(order.Uint16(body[off : off+2]))
		if n < nlattrHeaderLen || off+n > len(body) {
			return errShortMessage
		}
		v := body[off+nlattrHeaderLen : off+n]
		switch order.Uint16(body[off+2:off+4]) & nlaTypeMask {
		case nfulaPacketHdr:
			if len(v) >= 3 {
				p.hwProtocol = binary.BigEndian.Uint16(v[0:2])
				p.hook = v[2]
			}
		case nfulaTimestamp:
			if len(v) >= 16 {
				p.hasTime = true
				p.sec = binary.BigEndian.Uint64(v[0:8])
				p.usec = binary.BigEndian.Uint64(v[8:16])
			}
		case nfulaIfindexIn:
			if len(v) >= 4 {
				p.inDev = binary.BigEndian.Uint32(v)
			}
		case nfulaIfindexOut:
			if len(v) >= 4 {
				p.outDev = binary.BigEndian.Uint32(v)
			}
		case nfulaHWAddr:
			if len(v) >= nfulaHWAddrValue && binary.BigEndian.Uint16(v[0:2]) == etherAddrLen {
				p.hasSrcMAC = true
				copy(p.srcMAC[:], v[4:4+etherAddrLen])
			}
		case nfulaSeq:
			if len(v) >= 4 {
				p.hasSeq = true
				p.seq = binary.BigEndian.Uint32(v)
			}
		case nfulaHWType:
			if len(v) >= 2 {
				hwType = binary.BigEndian.Uint16(v)
			}
		case nfulaHWHeader:
			hwHeader = v
		case nfulaPayload:
			p.payloadOff = off + nlattrHeaderLen
			p.payloadLen = len(v)
		}
		off += align4(n)
	}
	// The link header of an Ethernet frame starts with the destination.
	if hwType == arphrdEther && len(hwHeader) >= 2*etherAddrLen {
		p.hasDstMAC = true
		copy(p.dstMAC[:], hwHeader[:etherAddrLen])
	}
	return nil
}

// timestamp is the packet's kernel timestamp, or now when it has none
// (the kernel stamps only packets some socket asked timestamps for).
func (p *nflogPacket) timestamp(now time.Time) time.Time {
	if !p.hasTime || p.sec > 1<<40 || p.usec >= 1e6 {
		return now
	}
	return time.Unix(int64(p.sec), int64(p.usec)*1000)
}

// nflogBatch yields the packets of one received datagram as Ethernet
// frames. The kernel sends raw IP; an Ethernet header is written in place
// over the 14 bytes in front of the payload, which belong to attributes
// already read, so no packet is copied. Source MAC from NFULA_HWADDR,
// destination MAC from NFULA_HWHEADER, each zero when absent (the reply
// direction, or a PPP link); EtherType from the packet header.
type nflogBatch struct {
	order binary.ByteOrder
	rest  []byte
	now   time.Time
	pkt   nflogPacket
	stats *nflogCounters
	// seqValid and nextSeq track the kernel's sequence numbers to count
	// packets lost on the way.
	seqValid bool
	nextSeq  uint32
	// group is the bound group; other groups' messages are skipped.
	group uint16
	// ack reports the seq and errno of an NLMSG_ERROR (an acknowledgement
	// when errno is 0) instead of skipping it; set while configuring.
	ack func(seq uint32, errno int32)
}

func (r *nflogBatch) reset(datagram []byte, now time.Time) {
	r.rest, r.now = datagram, now
}

// next returns the next packet of the datagram as an Ethernet frame
// (borrowed from the datagram), or ok false at its end.
func (r *nflogBatch) next() (data []byte, info Info, ok bool) {
	for len(r.rest) > 0 {
		m, rest, err := nextMessage(r.order, r.rest)
		if err != nil {
			r.stats.malformed.Add(1)
			r.rest = nil
			return nil, Info{}, false
		}
		msg := r.rest[:nlmsgHeaderLen+len(m.body)]
		r.rest = rest
		switch m.typ {
		case nfulnlMsgPacket:
		case nlmsgError:
			if r.ack != nil && len(m.body) >= 4 {
				r.ack(m.seq, int32(r.order.Uint32(m.body[0:4])))
			}
			continue
		case nlmsgOverrun:
			r.stats.overruns.Add(1)
			continue
		default: // NLMSG_DONE ends a multipart batch; NOOP and others carry nothing
			continue
		}
		if err := parsePacket(r.order, m.body, &r.pkt); err != nil {
			r.stats.malformed.Add(1)
			continue
		}
		p := &r.pkt
		if p.group != r.group {
			continue
		}
		if p.hasSeq {
			if r.seqValid && p.seq != r.nextSeq {
				r.stats.drops.Add(uint64(p.seq - r.nextSeq))
			}
			r.seqValid, r.nextSeq = true, p.seq+1
		}
		if p.payloadLen == 0 {
			r.stats.empty.Add(1)
			continue
		}
		// payloadOff ≥ nfgen header + attribute header, so with the
		// netlink header at least 24 bytes of this message precede it.
		start := nlmsgHeaderLen + p.payloadOff - etherHeaderLen
		// Capped at the payload: the rest of the datagram (the next
		// messages) is not the caller's to append to.
		end := nlmsgHeaderLen + p.payloadOff + p.payloadLen
		frame := msg[start:end:end]
		copy(frame[0:6], p.dstMAC[:])
		copy(frame[6:12], p.srcMAC[:])
		binary.BigEndian.PutUint16(frame[12:14], p.hwProtocol)
		r.stats.packets.Add(1)
		r.stats.bytes.Add(uint64(p.payloadLen))
		ifindex := p.inDev
		if ifindex == 0 {
			ifindex = p.outDev
		}
		return frame, Info{
			Timestamp:     p.timestamp(r.now),
			CaptureLength: len(frame),
			Length:        etherHeaderLen + max(p.payloadLen, ipLength(frame[etherHeaderLen:], p.hwProtocol)),
			LinkType:      LinkTypeEthernet,
			Interface:     int(ifindex),
		}, true
	}
	return nil, Info{}, false
}

// ipLength is the length of the IP packet as its header states, which
// NFLOG does not otherwise report when it cuts a packet; 0 when unknown.
func ipLength(b []byte, etherType uint16) int {
	switch {
	case etherType == etherTypeIPv4 && len(b) >= 4 && b[0]>>4 == 4:
		return int(binary.BigEndian.Uint16(b[2:4]))
	case etherType == etherTypeIPv6 && len(b) >= 6 && b[0]>>4 == 6:
		return ipv6HeaderLen + int(binary.BigEndian.Uint16(b[4:6]))
	}
	return 0
}

// NFLOGStats counts what an NFLOG source received. Fields only grow.
type NFLOGStats struct {
	Packets   uint64 // packets returned
	Bytes     uint64 // payload bytes returned (without the Ethernet header)
	Drops     uint64 // packets the kernel logged but never delivered (sequence gaps)
	Overruns  uint64 // times the socket buffer overflowed (ENOBUFS): the kernel dropped messages
	Malformed uint64 // messages that could not be parsed
	Empty     uint64 // packet messages without payload
	Truncated uint64 // datagrams longer than the receive buffer: the messages past its end are lost
}

// nflogCounters are NFLOGStats as the reading goroutine updates them while
// another reads them.
type nflogCounters struct {
	packets, bytes, drops, overruns, malformed, empty, truncated atomic.Uint64
}

func (c *nflogCounters) snapshot() NFLOGStats {
	return NFLOGStats{
		Packets:   c.packets.Load(),
		Bytes:     c.bytes.Load(),
		Drops:     c.drops.Load(),
		Overruns:  c.overruns.Load(),
		Malformed: c.malformed.Load(),
		Empty:     c.empty.Load(),
		Truncated: c.truncated.Load(),
	}
}
