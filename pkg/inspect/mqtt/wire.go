package mqtt

// Readers for MQTT's wire encodings (MQTT 5.0 section 1.5). All bound
// every length by the bytes at hand and never allocate.

// varint decodes a Variable Byte Integer: at most four bytes, seven bits
// each, least significant first. n is the number of bytes it spans.
func varint(b []byte) (v, n int, ok bool) {
	for n < 4 && n < len(b) {
		c := b[n]
		v |= int(c&0x7f) << (7 * n)
		n++
		if c&0x80 == 0 {
			return v, n, true
		}
	}
	return 0, 0, false
}

// str16 reads a UTF-8 string or binary datum: a big-endian two-byte length
// and that many bytes.
func str16(b []byte) (s []byte, n int, ok bool) {
	if len(b) < 2 {
		return nil, 0, false
	}
	l := int(b[0])<<8 | int(b[1])
	if len(b) < 2+l {
		return nil, 0, false
	}
	return b[2 : 2+l], 2 + l, true
}

// reader walks the fields of a packet body. Once a read runs past the end,
// short is set and every later read returns nothing.
type reader struct {
	b     []byte
	off   int
	short bool
}

func (r *reader) u8() byte {
	if r.short || r.off >= len(r.b) {
		r.short = true
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) skip(n int) {
	if r.short || n > len(r.b)-r.off {
		r.short = true
		return
	}
	r.off += n
}

func (r *reader) str16() []byte {
	if r.short {
		return nil
	}
	s, n, ok := str16(r.b[r.off:])
	if !ok {
		r.short = true
		return nil
	}
	r.off += n
	return s
}

// properties skips an MQTT 5.0 property block: a Variable Byte Integer
// length and that many bytes.
func (r *reader) properties() {
	if r.short {
		return
	}
	l, n, ok := varint(r.b[r.off:])
	if !ok {
		r.short = true
		return
	}
	r.skip(n + l)
}

// rest returns the unread bytes, or nil once a read ran short.
func (r *reader) rest() []byte {
	if r.short {
		return nil
	}
	return r.b[r.off:]
}
