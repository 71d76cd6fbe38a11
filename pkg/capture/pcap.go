package capture

import (
	"fmt"
	"io"
	"math"
	"time"
)

// Classic pcap (https://www.tcpdump.org/manpages/pcap-savefile.5.txt): a
// 24-byte file header, then per packet a 16-byte record header and the
// captured bytes, all in the byte order of the writer.
const (
	pcapFileHeaderLen   = 24
	pcapRecordHeaderLen = 16

	// pcapMinLimit is the longest record accepted even when the header
	// declares a smaller snaplen: libpcap's own maximum, because some
	// writers (dpkt) do not cut packets to the snaplen they declare.
	pcapMinLimit = 256 << 10
)

// pcapReader reads a classic pcap file.
type pcapReader struct {
	s       *stream
	order   byteOrder
	nano    bool // the timestamp fraction is in nanoseconds, not microseconds
	snaplen uint32
	// limit is the longest record accepted: the larger of snaplen and
	// pcapMinLimit, at most maxRecord.
	limit uint32
	link  LinkType
	start int64
	// minor is the format's minor version: files before 2.3 hold a
	// record's two lengths the other way round, 2.3 files may (libpcap
	// swaps them back).
	minor uint16
}

// newPcapReader reads the file header of a file whose first four bytes,
// read little-endian, are magic.
func newPcapReader(s *stream, magic uint32) (*pcapReader, error) {
	r := &pcapReader{s: s}
	switch magic {
	case magicPcapMicro:
		r.order = littleEndian
	case magicPcapNano:
		r.order, r.nano = littleEndian, true
	case magicPcapMicroBE:
		r.order = bigEndian
	case magicPcapNanoBE:
		r.order, r.nano = bigEndian, true
	default:
		return nil, fmt.Errorf("not a pcap or pcapng file (magic %08x)", magic)
	}
	h, err := r.s.next(pcapFileHeaderLen)
	if err != nil {
		return nil, readErr("pcap", "file header", err)
	}
	// Minor versions differ only in details of old files; libpcap reads
	// them all, as do we.
	if major := r.order.Uint16(h[4:]); major != 2 {
		return nil, fmt.Errorf("pcap: unsupported format version %d.%d", major, r.order.Uint16(h[6:]))
	}
	r.minor = r.order.Uint16(h[6:])
	r.snaplen = r.order.Uint32(h[16:])
	r.limit = min(max(r.snaplen, pcapMinLimit), maxRecord)
	// The upper 16 bits of the field say whether frames end in an FCS.
	r.link = LinkType(r.order.Uint32(h[20:]) & 0xffff)
	return r, nil
}

func (r *pcapReader) at() int64 { return r.start }

func (r *pcapReader) next(info *Info) ([]byte, error) {
	r.start = r.s.pos
	h, err := r.s.peek(pcapRecordHeaderLen)
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, readErr("pcap", "record", err)
	}
	sec, frac := r.order.Uint32(h), r.order.Uint32(h[4:])
	caplen, length := r.order.Uint32(h[8:]), r.order.Uint32(h[12:])
	if r.minor < 3 || (r.minor == 3 && caplen > length) {
		caplen, length = length, caplen // as libpcap reads 2.2 and older, and 2.3 files
	}
	if caplen > r.limit {
		return nil, fmt.Errorf("pcap: capture length %d exceeds the limit of %d bytes (snaplen %d)", caplen, r.limit, r.snaplen)
	}
	// A writer that got the original length wrong (shorter than what it
	// stored) loses the file nothing: the frame was at least as long.
	length = max(length, caplen)
	rec, err := r.s.next(pcapRecordHeaderLen + int(caplen))
	if err != nil {
		return nil, readErr("pcap", "record", err)
	}
	ns := int64(frac)
	if !r.nano {
		ns *= 1000
	}
	// Field by field: a composite literal would be built in a temporary
	// and copied, a store-forwarding stall on every packet.
	info.Timestamp = time.Unix(int64(sec), ns).UTC()
	info.CaptureLength = int(caplen)
	info.Length = wireLength(length)
	info.LinkType = r.link
	info.Interface = 0
	return rec[pcapRecordHeaderLen:len(rec):len(rec)], nil
}

// wireLength converts a file's 32-bit original length to an int that
// stays positive on 32-bit routers, whatever a damaged file says.
func wireLength(n uint32) int { return int(min(n, math.MaxInt32)) }
