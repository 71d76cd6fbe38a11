package dns

import (
	"encoding/binary"
	"strconv"
)

// A small reader of the DNS wire format (RFC 1035 4.1): the header, the
// questions and the resource records, in place, without allocating.

const headerLen = 12

// header is the fixed DNS header and the first question.
type header struct {
	id             uint16 // pairs a response with its query
	response       bool
	rd             bool // recursion desired (RFC 1035 4.1.1); a response copies it
	opcode         uint8
	rcode          uint8
	qd, an, ns, ar uint16
	qtype          uint16 // of the first question
	nameLen        int    // bytes of the first question's name in the caller's buffer
}

const (
	maxName        = 255 // presentation form, without the trailing dot
	maxPointerHops = 16
)

// Record types read here.
const (
	typeA    = 1
	typePTR  = 12
	typeTXT  = 16
	typeAAAA = 28
	typeSRV  = 33
)

// parseHeader reads the header and, when there is one, the first question
// into h; the question's name goes to name (see readName). It reports
// false for bytes that are not a DNS message.
func parseHeader(b []byte, h *header, name *[maxName]byte) bool {
	*h = header{}
	if len(b) < headerLen {
		return false
	}
	h.id = binary.BigEndian.Uint16(b)
	flags := binary.BigEndian.Uint16(b[2:])
	h.response = flags&0x8000 != 0
	h.rd = flags&0x0100 != 0
	h.opcode = uint8(flags>>11) & 0xf
	h.rcode = uint8(flags & 0xf)
	h.qd = binary.BigEndian.Uint16(b[4:])
	h.an = binary.BigEndian.Uint16(b[6:])
	h.ns = binary.BigEndian.Uint16(b[8:])
	h.ar = binary.BigEndian.Uint16(b[10:])
	if h.qd == 0 {
		return true
	}
	n, _, end, ok := readName(b, headerLen, name)
	if !ok || end+4 > len(b) {
		return false
	}
	h.nameLen = n
	h.qtype = binary.BigEndian.Uint16(b[end:])
	return true
}

// readName decodes the name at off into out as dotted text without the
// trailing dot, label bytes as they are (a label may itself hold a dot:
// DNS-SD instance names do). It follows compression pointers (RFC 1035
// 4.1.4) backwards only, at most maxPointerHops times. It returns the
// length written, the length of the first label, and the offset after
// the name in the message.
func readName(b []byte, off int, out *[maxName]byte) (n, first, end int, ok bool) {
	end = -1
	hops := 0
	for {
		if off >= len(b) {
			return 0, 0, 0, false
		}
		c := int(b[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if end < 0 {
					end = off + 1
				}
				return n, first, end, true
			}
			if off+1+c > len(b) {
				return 0, 0, 0, false
			}
			if n > 0 {
				if n == len(out) {
					return 0, 0, 0, false
				}
				out[n] = '.'
				n++
			} else {
				first = c
			}
			if n+c > len(out) {
				return 0, 0, 0, false
			}
			n += copy(out[n:], b[off+1:off+1+c])
			off += 1 + c
		case 0xc0:
			if off+2 > len(b) {
				return 0, 0, 0, false
			}
			ptr := int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
			if end < 0 {
				end = off + 2
			}
			hops++
			if ptr >= off || hops > maxPointerHops {
				return 0, 0, 0, false
			}
			off = ptr
		default: // 0x40 and 0x80 label types are obsolete
			return 0, 0, 0, false
		}
	}
}

// printableName replaces bytes outside printable ASCII with '?' in
// place, for names reported as text. The case stays: the identifier
// rule reads it (reportQuery), and the query's key folds it.
func printableName(b []byte) {
	for i, c := range b {
		if c <= ' ' || c >= 0x7f {
			b[i] = '?'
		}
	}
}

// record is one resource record. owner is in the reader's buffer and rdata
// in the message; both are valid until the next call of next.
type record struct {
	section    int // 0 answer, 1 authority, 2 additional
	owner      []byte
	ownerFirst int // length of the owner's first label
	typ        uint16
	rdata      []byte
	rdOff      int // offset of rdata in the message, to read names in it
}

// recordReader walks the answer, authority and additional sections.
type recordReader struct {
	msg     []byte
	off     int
	left    [3]int
	section int
	owner   [maxName]byte
}

// init skips the questions of msg; false when they are malformed.
func (r *recordReader) init(msg []byte, h *header) bool {
	r.msg, r.section = msg, 0
	r.left = [3]int{int(h.an), int(h.ns), int(h.ar)}
	off := headerLen
	for range h.qd {
		_, _, end, ok := readName(msg, off, &r.owner)
		if !ok || end+4 > len(msg) {
			return false
		}
		off = end + 4
	}
	r.off = off
	return true
}

// next reads the next record into rec; false at the end of the message or
// at the first malformed record.
func (r *recordReader) next(rec *record) bool {
	for r.section < len(r.left) && r.left[r.section] == 0 {
		r.section++
	}
	if r.section == len(r.left) {
		return false
	}
	r.left[r.section]--
	n, first, end, ok := readName(r.msg, r.off, &r.owner)
	if !ok || end+10 > len(r.msg) {
		r.section = len(r.left)
		return false
	}
	rdlen := int(binary.BigEndian.Uint16(r.msg[end+8:]))
	start := end + 10
	if start+rdlen > len(r.msg) {
		r.section = len(r.left)
		return false
	}
	*rec = record{
		section:    r.section,
		owner:      r.owner[:n],
		ownerFirst: first,
		typ:        binary.BigEndian.Uint16(r.msg[end:]),
		rdata:      r.msg[start : start+rdlen],
		rdOff:      start,
	}
	r.off = start + rdlen
	return true
}

func typeName(t uint16) string {
	switch t {
	case 1:
		return "A"
	case 2:
		return "NS"
	case 5:
		return "CNAME"
	case 6:
		return "SOA"
	case 12:
		return "PTR"
	case 15:
		return "MX"
	case 16:
		return "TXT"
	case 28:
		return "AAAA"
	case 33:
		return "SRV"
	case 35:
		return "NAPTR"
	case 64:
		return "SVCB"
	case 65:
		return "HTTPS"
	case 255:
		return "ANY"
	case 257:
		return "CAA"
	}
	return "TYPE" + strconv.Itoa(int(t))
}

func rcodeName(r uint8) string {
	switch r {
	case 1:
		return "FORMERR"
	case 2:
		return "SERVFAIL"
	case 3:
		return "NXDOMAIN"
	case 4:
		return "NOTIMP"
	case 5:
		return "REFUSED"
	}
	return "RCODE" + strconv.Itoa(int(r))
}
