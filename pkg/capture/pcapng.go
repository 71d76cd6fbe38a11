package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"
)

// pcapng (draft-ietf-opsawg-pcapng) is a sequence of blocks: type, total
// length, body, and the total length again. A Section Header Block starts
// each section and sets its byte order; the section's Interface
// Description Blocks number its interfaces, to which packet blocks refer.
const (
	blockSHB = magicPcapNG // Section Header Block: its type is the file magic, a palindrome
	blockIDB = 1           // Interface Description Block
	blockPB  = 2           // Packet Block, obsolete
	blockSPB = 3           // Simple Packet Block
	blockEPB = 6           // Enhanced Packet Block

	byteOrderMagic = 0x1a2b3c4d

	optEndOfOpt = 0
	optTSResol  = 9  // if_tsresol
	optTSOffset = 14 // if_tsoffset

	// Smallest blocks with their fixed fields, both lengths included.
	minSHB = 28
	minIDB = 20
	minSPB = 16
	minEPB = 32 // and the obsolete Packet Block

	// maxInterfaces bounds the interface list of a section, as maxRecord
	// bounds a block.
	maxInterfaces = 1 << 16
)

// ngInterface is what an Interface Description Block says of its packets.
type ngInterface struct {
	link    LinkType
	snaplen uint32 // 0: no limit
	unit    uint64 // timestamp units per second
	nsPer   uint64 // nanoseconds per unit if a whole number, else 0
	offset  int64  // seconds added to every timestamp
}

// pcapngReader reads a pcapng file.
type pcapngReader struct {
	s      *stream
	order  byteOrder     // of the current section
	ifaces []ngInterface // of the current section
	start  int64
}

func newPcapNGReader(s *stream) (*pcapngReader, error) {
	r := &pcapngReader{s: s, order: littleEndian}
	b, err := r.block()
	if err == io.EOF {
		err = readErr("pcapng", "section header block", err)
	}
	if err != nil {
		return nil, err
	}
	if typ := r.order.Uint32(b); typ != blockSHB {
		return nil, fmt.Errorf("pcapng: file starts with a block of type %#x, not a section header", typ)
	}
	if err := r.section(b); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *pcapngReader) at() int64 { return r.start }

func (r *pcapngReader) next(info *Info) ([]byte, error) {
	for {
		b, err := r.block()
		if err != nil {
			return nil, err
		}
		switch r.order.Uint32(b) {
		case blockSHB:
			err = r.section(b)
		case blockIDB:
			err = r.addInterface(b)
		case blockEPB:
			return r.packet(b, true, info)
		case blockPB:
			return r.packet(b, false, info)
		case blockSPB:
			return r.simplePacket(b, info)
		}
		// Other blocks (name resolution, interface statistics, decryption
		// secrets, custom) hold nothing a frame's decoder needs.
		if err != nil {
			return nil, err
		}
	}
}

// block consumes the next block, checks its lengths and returns it whole,
// borrowed until the next call.
func (r *pcapngReader) block() ([]byte, error) {
	r.start = r.s.pos
	// Type, length and, in a section header, the byte-order magic.
	h, err := r.s.peek(12)
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, readErr("pcapng", "block", err)
	}
	if binary.LittleEndian.Uint32(h) == blockSHB {
		switch bom := binary.LittleEndian.Uint32(h[8:]); bom {
		case byteOrderMagic:
			r.order = littleEndian
		case bits.ReverseBytes32(byteOrderMagic):
			r.order = bigEndian
		default:
			return nil, fmt.Errorf("pcapng: section header with a bad byte-order magic %08x", bom)
		}
	}
	n := r.order.Uint32(h[4:])
	if n < 12 || n%4 != 0 {
		return nil, fmt.Errorf("pcapng: bad block length %d (not a multiple of 4 of at least 12)", n)
	}
	if n > maxRecord {
		return nil, fmt.Errorf("pcapng: block length %d exceeds the limit of %d bytes", n, maxRecord)
	}
	b, err := r.s.next(int(n))
	if err != nil {
		return nil, readErr("pcapng", "block", err)
	}
	if trail := r.order.Uint32(b[n-4:]); trail != n {
		return nil, fmt.Errorf("pcapng: block length %d at the end differs from %d at the start", trail, n)
	}
	return b, nil
}

func (r *pcapngReader) section(b []byte) error {
	if len(b) < minSHB {
		return fmt.Errorf("pcapng: section header block too short (%d bytes)", len(b))
	}
	major, minor := r.order.Uint16(b[12:]), r.order.Uint16(b[14:])
	// The draft has readers take 1.2, which some writers used, as 1.0.
	if major != 1 || (minor != 0 && minor != 2) {
		return fmt.Errorf("pcapng: unsupported version %d.%d", major, minor)
	}
	r.ifaces = r.ifaces[:0] // interface numbers start again in each section
	return nil
}

func (r *pcapngReader) addInterface(b []byte) error {
	id := len(r.ifaces)
	if len(b) < minIDB {
		return fmt.Errorf("pcapng: interface description block too short (%d bytes)", len(b))
	}
	if id >= maxInterfaces {
		return fmt.Errorf("pcapng: more than %d interfaces in a section", maxInterfaces)
	}
	ifc := ngInterface{
		link:    LinkType(r.order.Uint16(b[8:])),
		snaplen: r.order.Uint32(b[12:]),
		unit:    1e6, // microseconds unless if_tsresol says otherwise
		nsPer:   1e3,
	}
	// Options: code, length, value padded to 4 bytes. The block's length
	// is a multiple of 4, so a value that fits fits with its padding.
	opts := b[16 : len(b)-4]
	for len(opts) >= 4 {
		code, n := r.order.Uint16(opts), int(r.order.Uint16(opts[2:]))
		opts = opts[4:]
		if code == optEndOfOpt {
			break
		}
		if n > len(opts) {
			return fmt.Errorf("pcapng: interface %d: option %d of %d bytes overruns its block", id, code, n)
		}
		val := opts[:n]
		opts = opts[(n+3)&^3:]
		switch {
		case code == optTSResol && n >= 1:
			unit, ok := tsUnit(val[0])
			if !ok {
				return fmt.Errorf("pcapng: interface %d: timestamp resolution %#02x out of range", id, val[0])
			}
			ifc.unit, ifc.nsPer = unit, 0
			if 1e9%unit == 0 {
				ifc.nsPer = 1e9 / unit
			}
		case code == optTSOffset && n >= 8:
			ifc.offset = int64(r.order.Uint64(val))
		}
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// tsUnit returns the timestamp units per second of an if_tsresol value: a
// negative power of 10, or of 2 when the top bit is set. Units finer than
// a uint64 can count are refused.
func tsUnit(v byte) (uint64, bool) {
	exp := v & 0x7f
	if v&0x80 != 0 {
		return 1 << exp, exp < 64
	}
	if exp > 19 {
		return 0, false
	}
	unit := uint64(1)
	for range exp {
		unit *= 10
	}
	return unit, true
}

// A packet's time must be one an event can carry: RFC 3339, as JSON
// writes times, has four-digit years.
const (
	minYear = 0
	maxYear = 9999
)

// time converts a timestamp in the interface's units.
func (ifc *ngInterface) time(ts uint64) time.Time {
	sec, frac := ts/ifc.unit, ts%ifc.unit
	ns := frac * ifc.nsPer
	if ifc.nsPer == 0 {
		// frac < unit, so the quotient fits in 64 bits.
		hi, lo := bits.Mul64(frac, 1e9)
		ns, _ = bits.Div64(hi, lo, ifc.unit)
	}
	return time.Unix(int64(sec)+ifc.offset, int64(ns)).UTC()
}

// packet reads an Enhanced Packet Block or, laid out alike but for a
// 16-bit interface number, an obsolete Packet Block.
func (r *pcapngReader) packet(b []byte, enhanced bool, info *Info) ([]byte, error) {
	kind := "packet block"
	if enhanced {
		kind = "enhanced packet block"
	}
	if len(b) < minEPB {
		return nil, fmt.Errorf("pcapng: %s too short (%d bytes)", kind, len(b))
	}
	id := r.order.Uint32(b[8:])
	if !enhanced {
		id = uint32(r.order.Uint16(b[8:])) // then a 16-bit drop count
	}
	if id >= uint32(len(r.ifaces)) {
		return nil, fmt.Errorf("pcapng: %s for interface %d, but the section has %d", kind, id, len(r.ifaces))
	}
	ts := uint64(r.order.Uint32(b[12:]))<<32 | uint64(r.order.Uint32(b[16:]))
	caplen, length := r.order.Uint32(b[20:]), r.order.Uint32(b[24:])
	if caplen > uint32(len(b)-minEPB) {
		return nil, fmt.Errorf("pcapng: %s: captured length %d overruns its block of %d bytes", kind, caplen, len(b))
	}
	ifc := &r.ifaces[id]
	at := ifc.time(ts)
	if y := at.Year(); y < minYear || y > maxYear {
		return nil, fmt.Errorf("pcapng: %s: timestamp %#x of interface %d is in the year %d", kind, ts, id, y)
	}
	*info = Info{
		Timestamp:     at,
		CaptureLength: int(caplen),
		Length:        wireLength(length),
		LinkType:      ifc.link,
		Interface:     int(id),
	}
	return b[28 : 28+caplen : 28+caplen], nil
}

// simplePacket reads a Simple Packet Block: a packet of interface 0, with
// no timestamp and only its original length.
func (r *pcapngReader) simplePacket(b []byte, info *Info) ([]byte, error) {
	if len(b) < minSPB {
		return nil, fmt.Errorf("pcapng: simple packet block too short (%d bytes)", len(b))
	}
	if len(r.ifaces) == 0 {
		return nil, errors.New("pcapng: simple packet block, but the section has no interface")
	}
	ifc := &r.ifaces[0]
	length := r.order.Uint32(b[8:])
	// What was captured is the packet cut to the snaplen; the block holds
	// it padded, so its room bounds it too.
	caplen := min(length, uint32(len(b)-minSPB))
	if ifc.snaplen != 0 {
		caplen = min(caplen, ifc.snaplen)
	}
	*info = Info{CaptureLength: int(caplen), Length: wireLength(length), LinkType: ifc.link}
	return b[12 : 12+caplen : 12+caplen], nil
}
