package http

import (
	"bytes"
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// The form reader reads a request body for its login fields as the body
// arrives, over as many segments as it takes: URL-encoded, multipart and
// JSON forms. It keeps only the field name and value being read, in the
// fixed arrays of formScratch, and skips whatever does not fit there, so
// a login field after several kilobytes of other fields (an ASP.NET
// page's __VIEWSTATE) is found without the body being held. The byte
// budget bounds how far it reads.

// How a form is read (formScratch.mode).
const (
	formNone      = iota
	formSniff     // no Content-Type, a textual or a form one: JSON if it starts with '{'
	formURL       // name=value pairs separated by '&'
	formJSON      // "key": value pairs at any depth
	formMultipart // parts between "--boundary" lines (RFC 7578)
)

// Where the reader stands within a form (formScratch.state); each
// mode's first state is zero, where reset leaves it.
const (
	urlName  = iota // a field name
	urlValue        // its value
	urlSkip         // a name too long for a login field: skip to '&'
)

const (
	jsonOut      = iota // between tokens
	jsonKey             // a string that may be a key
	jsonAfterKey        // after a string: a ':' makes it a key
	jsonBefore          // after a key's ':'
	jsonString          // a string value
	jsonNumber          // a number value
)

const (
	partPreamble = iota // before the first delimiter
	partDelim           // after a delimiter's boundary: "--" closes the body
	partLine            // the rest of the delimiter line
	partHead            // the part's header lines
	partValue           // the part's content, up to the next delimiter
	partDone            // closed, or malformed: nothing more is read
)

// JSON string escapes (formScratch.esc).
const (
	escNone    = iota
	escStarted // after a backslash
	escUnicode // within \uXXXX: hex holds the digits read
)

// start begins reading a request body of kind k; a kind that holds no
// form is not read.
func (s *formScratch) start(k bodyKind) {
	s.reset()
	switch k {
	case bodyJSON:
		s.mode = formJSON
	case bodyMultipart:
		s.mode, s.match = formMultipart, 1 // the body's start is a line's
	case bodyForm, bodyUnknown, bodyText:
		// A form's body is sniffed too: jQuery's $.post keeps the form
		// type for a JSON body, and browsers escape a form's '{'.
		s.mode = formSniff
	}
}

// isJSON says the body was read as JSON, which names the login's
// mechanism.
func (s *formScratch) isJSON() bool { return s.mode == formJSON }

// feed reads the next bytes of the body; boundary is a multipart body's.
func (s *formScratch) feed(b, boundary []byte) {
	switch s.mode {
	case formSniff:
		b = s.sniff(b)
		if s.mode == formJSON {
			s.jsonFeed(b)
		} else if s.mode == formURL {
			s.urlFeed(b)
		}
	case formURL:
		s.urlFeed(b)
	case formJSON:
		s.jsonFeed(b)
	case formMultipart:
		s.partFeed(b, boundary)
	}
}

// finish ends the body. When cut, the body ended before its framing did
// (the byte budget, the end of the capture), and a last field without
// its end may be the front of a longer value ("password=admin" of
// "admin2024!"): it is not read.
func (s *formScratch) finish(cut bool) {
	if cut {
		return
	}
	switch {
	case s.mode == formURL && s.state == urlValue:
		s.valueLen = s.urlFlush(s.value[:], s.valueLen)
		s.field(s.name[:s.nameLen])
	case s.mode == formJSON && s.state == jsonNumber && s.nameLen < len(s.name):
		s.field(s.name[:s.nameLen])
	}
}

// sniff decides between JSON and a URL-encoded form by the first byte
// that is not white space and returns the rest of b for the chosen
// reader. The white space before a form is the front of its first name,
// as a form reader reads it. A body that starts with markup (a SOAP
// message, whose UsernameToken soapLogin reads) is no form, as
// looksLikeForm has it: it is not read.
func (s *formScratch) sniff(b []byte) []byte {
	for i, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			s.nameLen = put(s.name[:], s.nameLen, c)
		case '<':
			s.reset()
			return nil
		case '{':
			s.nameLen = 0
			s.mode = formJSON
			return b[i:]
		default:
			s.mode = formURL
			return b[i:]
		}
	}
	return nil
}

// put appends c to dst[:n] if there is room and returns the new length:
// a value longer than dst keeps its front, and n == len(dst) says it may
// have been longer.
func put(dst []byte, n int, c byte) int {
	if n < len(dst) {
		dst[n] = c
		n++
	}
	return n
}

// urlFeed reads URL-encoded name=value pairs. Names and values are
// percent-decoded as they come; an escape may be split across calls.
func (s *formScratch) urlFeed(b []byte) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch s.state {
		case urlName:
			switch c {
			case '&': // a pair without '=' is no field
				s.urlNext()
			case '=':
				s.nameLen = s.urlFlush(s.name[:], s.nameLen)
				if s.nameLen == len(s.name) { // too long (or exactly full) to be a login field
					s.state = urlSkip
				} else {
					s.state = urlValue
				}
			default:
				s.nameLen = s.urlByte(s.name[:], s.nameLen, c)
			}
		case urlValue:
			if c == '&' {
				s.valueLen = s.urlFlush(s.value[:], s.valueLen)
				s.field(s.name[:s.nameLen])
				s.urlNext()
				continue
			}
			if s.valueLen == len(s.value) && s.pct == 0 {
				// Full: the rest of the value is not kept.
				i = skipTo(b, i, '&') - 1
				continue
			}
			s.valueLen = s.urlByte(s.value[:], s.valueLen, c)
		case urlSkip:
			if c == '&' {
				s.urlNext()
			} else {
				i = skipTo(b, i, '&') - 1
			}
		}
	}
}

// skipTo returns the index of the first c in b at or after i, or len(b).
func skipTo(b []byte, i int, c byte) int {
	if j := bytes.IndexByte(b[i:], c); j >= 0 {
		return i + j
	}
	return len(b)
}

// urlNext starts the next pair.
func (s *formScratch) urlNext() {
	s.state, s.nameLen, s.valueLen, s.pct = urlName, 0, 0, 0
}

// urlByte decodes one byte of a name or value into dst[:n], as
// percentDecode does with inspect.PlusIsSpace: a bad escape stays as it is.
func (s *formScratch) urlByte(dst []byte, n int, c byte) int {
	switch s.pct {
	case 1:
		if inspect.IsHex(c) {
			s.pctHi, s.pct = c, 2
			return n
		}
		s.pct = 0
		return s.urlByte(dst, put(dst, n, '%'), c)
	case 2:
		s.pct = 0
		if inspect.IsHex(c) {
			return put(dst, n, inspect.Unhex(s.pctHi)<<4|inspect.Unhex(c))
		}
		return s.urlByte(dst, put(dst, put(dst, n, '%'), s.pctHi), c)
	}
	switch c {
	case '%':
		s.pct = 1
		return n
	case '+':
		c = ' '
	}
	return put(dst, n, c)
}

// urlFlush ends a name or value: an escape left open is kept as sent.
func (s *formScratch) urlFlush(dst []byte, n int) int {
	switch s.pct {
	case 1:
		n = put(dst, n, '%')
	case 2:
		n = put(dst, put(dst, n, '%'), s.pctHi)
	}
	s.pct = 0
	return n
}

// jsonFeed reads "key": value pairs at any depth of a JSON document. It is
// a scanner, not a validator: a malformed body yields the pairs before
// the damage. A string value or a number is a field's value if a key
// comes before it; objects, arrays and literals have none of their own.
// Every string is decoded into name first: it is a key if ':' follows.
func (s *formScratch) jsonFeed(b []byte) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch s.state {
		case jsonOut:
			if c == '"' {
				s.state, s.nameLen = jsonKey, 0
			} else {
				i = skipTo(b, i, '"') - 1
			}
		case jsonKey:
			var closed bool
			if s.nameLen, closed = s.jsonByte(s.name[:], s.nameLen, c); closed {
				s.state = jsonAfterKey
			}
		case jsonAfterKey:
			switch {
			case isJSONSpace(c):
			case c == ':':
				s.state = jsonBefore
			default: // a string value, not a key
				s.state = jsonOut
				i--
			}
		case jsonBefore:
			switch {
			case isJSONSpace(c):
			case c == '"':
				s.state, s.valueLen = jsonString, 0
			case c == '-' || c >= '0' && c <= '9':
				s.state, s.valueLen = jsonNumber, put(s.value[:], 0, c)
			default: // an object, array, or literal
				s.state = jsonOut
				i--
			}
		case jsonString:
			var closed bool
			if s.valueLen, closed = s.jsonByte(s.value[:], s.valueLen, c); closed {
				if s.nameLen < len(s.name) {
					s.field(s.name[:s.nameLen])
				}
				s.state = jsonOut
			}
		case jsonNumber:
			if c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c >= '0' && c <= '9' {
				s.valueLen = put(s.value[:], s.valueLen, c)
				continue
			}
			if s.nameLen < len(s.name) {
				s.field(s.name[:s.nameLen])
			}
			s.state = jsonOut
			i--
		}
	}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// jsonByte decodes one byte of a JSON string into dst[:n]; closed says it
// was the closing quote. An escape may be split across calls. A bad \u
// escape is kept as a backslash and what follows the "u".
func (s *formScratch) jsonByte(dst []byte, n int, c byte) (int, bool) {
	switch s.esc {
	case escStarted:
		s.esc = escNone
		switch c {
		case 'n':
			c = '\n'
		case 't':
			c = '\t'
		case 'r':
			c = '\r'
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'u':
			s.esc, s.hexLen = escUnicode, 0
			return n, false
		}
		return put(dst, n, c), false // \" \\ \/ and anything else: the character itself
	case escUnicode:
		if inspect.IsHex(c) && s.hexLen < len(s.hex) {
			s.hex[s.hexLen] = c
			s.hexLen++
			if s.hexLen < len(s.hex) {
				return n, false
			}
			s.esc = escNone
			var r rune
			for _, h := range s.hex {
				r = r<<4 | rune(inspect.Unhex(h))
			}
			var enc [utf8.UTFMax]byte
			for _, e := range enc[:utf8.EncodeRune(enc[:], r)] {
				n = put(dst, n, e)
			}
			return n, false
		}
		s.esc = escNone
		n = put(dst, n, '\\')
		for _, h := range s.hex[:s.hexLen] {
			n = put(dst, n, h)
		}
		return s.jsonByte(dst, n, c)
	}
	switch c {
	case '"':
		return n, true
	case '\\':
		s.esc = escStarted
		return n, false
	}
	return put(dst, n, c), false
}

// partFeed reads the fields of a multipart/form-data body: parts between
// "--boundary" lines, each named by its Content-Disposition. A file's
// part (one with a filename) is no login field. A part's content is
// kept up to the value array, and the delimiter after it is matched a
// byte at a time (match counts the bytes of "\n--boundary" matched), so
// a part of any length costs no memory. A part without its closing
// delimiter is not read: its value may be the front of a longer one.
func (s *formScratch) partFeed(b, boundary []byte) {
	for i := 0; i < len(b) && s.state != partDone; i++ {
		if s.match == 0 && (s.state == partPreamble || s.state == partValue && s.partOver) {
			// Bytes that are not kept: on to the next line feed.
			if i = skipTo(b, i, '\n'); i == len(b) {
				return
			}
		}
		c := b[i]
		switch s.state {
		case partPreamble:
			if s.delimiter(c, boundary) {
				s.state, s.dashes = partDelim, 0
			}
		case partDelim:
			switch {
			case c == '-' && s.dashes == 0:
				s.dashes = 1
			case c == '-':
				s.state = partDone // the close delimiter
			case c == '\n':
				s.partStart()
			default:
				s.state = partLine // transport padding
			}
		case partLine:
			if c == '\n' {
				s.partStart()
			}
		case partHead:
			s.partHeadByte(c)
		case partValue:
			if s.delimiter(c, boundary) {
				s.partEnd()
			}
		}
	}
}

// partStart begins a part's header lines, kept in value while they are
// read.
func (s *formScratch) partStart() {
	s.state, s.valueLen, s.partOver, s.tail = partHead, 0, false, 0
}

// partHeadByte reads a byte of a part's header lines, which end at the
// first blank line ("\r\n\r\n" or "\n\n").
func (s *formScratch) partHeadByte(c byte) {
	if s.valueLen == len(s.value) {
		s.partOver = true
	}
	s.valueLen = put(s.value[:], s.valueLen, c)
	s.tail = s.tail<<8 | uint32(c)
	end := 0
	switch {
	case s.tail&0xffff == '\n'<<8|'\n':
		end = 2
	case s.tail == '\r'<<24|'\n'<<16|'\r'<<8|'\n':
		end = 4
	default:
		return
	}
	head := s.value[:max(s.valueLen-end, 0)]
	if len(head) > 0 && !containsByte(head, ':') {
		s.state = partDone // not a part's head: the body is malformed
		return
	}
	n, ok := s.partName(head)
	s.named = ok && !s.partOver
	s.nameLen = n
	clear(s.value[:s.valueLen])
	s.state, s.valueLen, s.partOver = partValue, 0, false
	s.match, s.virtualLF = 1, true // the blank line's end starts a line
}

// partEnd ends a part's content at its delimiter: the line break before
// the delimiter is the delimiter's, not the value's.
func (s *formScratch) partEnd() {
	if !s.partOver && s.valueLen > 0 && s.value[s.valueLen-1] == '\r' {
		s.valueLen--
	}
	if s.named {
		s.field(s.name[:s.nameLen])
	}
	clear(s.value[:])
	s.state, s.dashes, s.named, s.valueLen, s.partOver = partDelim, 0, false, 0, false
}

// delimiter matches c against "\n--boundary" and reports whether it
// completes it. In a part's content, the bytes that turn out not to be a
// delimiter are the value's. Only the pattern's first byte is a line
// feed (a boundary holds none), so a mismatch starts over at c.
func (s *formScratch) delimiter(c byte, boundary []byte) bool {
	if s.match > 0 && c == delimiterByte(boundary, s.match) {
		s.match++
		if s.match == 3+len(boundary) {
			s.match, s.virtualLF = 0, false
			return true
		}
		return false
	}
	if s.state == partValue && s.match > 0 {
		from := 0
		if s.virtualLF {
			from = 1 // the line feed was the head's, or the body's start
		}
		for k := from; k < s.match; k++ {
			s.partValueByte(delimiterByte(boundary, k))
		}
	}
	s.virtualLF = false
	if c == '\n' {
		s.match = 1
		return false
	}
	s.match = 0
	if s.state == partValue {
		s.partValueByte(c)
	}
	return false
}

// delimiterByte is byte k of "\n--boundary".
func delimiterByte(boundary []byte, k int) byte {
	switch k {
	case 0:
		return '\n'
	case 1, 2:
		return '-'
	}
	return boundary[k-3]
}

func (s *formScratch) partValueByte(c byte) {
	if s.valueLen == len(s.value) {
		s.partOver = true
		return
	}
	s.value[s.valueLen] = c
	s.valueLen++
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}
