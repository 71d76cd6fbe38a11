package snmp

// A strict, minimal BER reader for the SNMP message header (X.690 as
// profiled by RFC 3416 and RFC 3412): single-byte tags, definite lengths
// of at most four length bytes, every length checked against the bytes
// at hand. It walks a fixed sequence of elements without recursion and
// never allocates.

// BER tags used in SNMP messages.
const (
	tagInteger  = 0x02
	tagOctets   = 0x04
	tagOID      = 0x06
	tagSequence = 0x30
)

// element reads one TLV at the start of b: its tag, its contents and what
// follows it. ok is false for a multi-byte tag, an indefinite or overlong
// length, or contents running past b.
func element(b []byte) (tag byte, content, rest []byte, ok bool) {
	if len(b) < 2 {
		return 0, nil, nil, false
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, false
	}
	n, hdr := uint64(b[1]), 2
	if n&0x80 != 0 {
		k := int(n & 0x7f)
		if k == 0 || k > 4 || len(b) < 2+k {
			return 0, nil, nil, false // indefinite, too long, or cut short
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | uint64(c)
		}
		hdr += k
	}
	if n > uint64(len(b)-hdr) {
		return 0, nil, nil, false
	}
	end := hdr + int(n)
	return tag, b[hdr:end], b[end:], true
}

// expect reads one element that must carry tag.
func expect(b []byte, tag byte) (content, rest []byte, ok bool) {
	t, content, rest, ok := element(b)
	if !ok || t != tag {
		return nil, nil, false
	}
	return content, rest, true
}

// integer reads an INTEGER of one to four content bytes, two's complement.
func integer(b []byte) (v int64, rest []byte, ok bool) {
	c, rest, ok := expect(b, tagInteger)
	if !ok || len(c) == 0 || len(c) > 4 {
		return 0, nil, false
	}
	v = int64(int8(c[0]))
	for _, x := range c[1:] {
		v = v<<8 | int64(x)
	}
	return v, rest, true
}
