package http

import (
	"unicode/utf8"

	"github.com/iotgw/iotgw/pkg/inspect"
)

// The XML reader reads the element structure of a SOAP message as it
// arrives, a byte at a time, over as many segments as it takes: it keeps
// the codes of the outermost open elements, the local name being read
// (prefixes vary: "wsse:", "o:", none) and the end of an attribute's
// value, and hands its owner, an xmlHandler, the character data of the
// elements the owner asks for, with character references and the five
// predefined entities decoded. It is a scanner, not a validator: it
// trusts an end tag to close the innermost element and stops at what a
// SOAP message may not hold (a document type declaration), at a
// malformed tag, and at character data outside the root element, so that
// a body of text without markup gives its reader back at its first
// bytes, not at its end. A SOAP envelope's structure is all it needs.

// Bounds of the reader; none grows with the input.
const (
	// maxXMLDepth is how many open elements have their codes kept: the
	// paths read are at most seven deep (a SOAP 1.2 fault's
	// Envelope/Body/Fault/Code/Subcode/Subcode/Value).
	maxXMLDepth = 8
	// maxXMLName is the longest local name read; longer ones match
	// none ("GetDeviceInformationResponse" is 28).
	maxXMLName = 40
	// maxAttrTail is the longest last segment of an attribute value
	// kept: "PasswordDigest" of "…-1.0#PasswordDigest".
	maxAttrTail = 24
	// maxEntity is the longest entity or character reference decoded,
	// "&" to ";" ("&#x10FFFF;").
	maxEntity = 10
)

// Element codes: the elements whose place in the envelope the readers
// check.
const (
	elOther uint8 = iota
	elEnvelope
	elHeader
	elBody
	elSecurity
	elUsernameToken
	elFault
	elDeviceInformation // tds:GetDeviceInformationResponse
)

func elementCode(local []byte) uint8 {
	switch string(local) {
	case "Envelope":
		return elEnvelope
	case "Header":
		return elHeader
	case "Body":
		return elBody
	case "Security":
		return elSecurity
	case "UsernameToken":
		return elUsernameToken
	case "Fault":
		return elFault
	case "GetDeviceInformationResponse":
		return elDeviceInformation
	}
	return elOther
}

// Where the reader stands (xmlReader.state).
const (
	xStart     = iota // before anything: a byte order mark may come
	xText             // character data
	xOpen             // after '<'
	xStartName        // a start tag's name
	xEndName          // an end tag, up to its '>'
	xAttrs            // between a start tag's attributes
	xAttrName         // an attribute's name
	xAttrEq           // after an attribute's name, before '='
	xAttrQuote        // after '=', before the quote
	xAttrValue        // an attribute's value
	xEmpty            // after a '/' in a start tag: '>' ends an empty element
	xPI               // a processing instruction ("<?xml …?>")
	xBang             // after "<!": a comment or a CDATA section
	xBangDash         // after "<!-"
	xComment          // a comment, up to "-->"
	xCDATA            // a CDATA section, up to "]]>"
	xStop             // done, or lost: nothing more is read
)

// cdataOpen follows "<!" to open a CDATA section.
const cdataOpen = "[CDATA["

// utf8BOM may begin a document (XML 1.0 section 4.3.3).
const utf8BOM = "\xef\xbb\xbf"

// xmlHandler is told what the reader reads. open and close see the
// element in r.depth and r.code; open may set r.capture to be handed
// the element's character data through text, up to its next child or
// its end.
type xmlHandler interface {
	open(r *xmlReader, local []byte)
	attribute(r *xmlReader, local, tail []byte)
	text(c byte)
	close(r *xmlReader)
}

type xmlReader struct {
	state uint8
	depth int // open elements
	path  [maxXMLDepth]uint8
	// The local name of the element or attribute being read; nameOver:
	// it did not fit.
	name     [maxXMLName]byte
	nameLen  int
	nameOver bool
	// The last segment (after '#', '/' or ':') of the attribute value
	// being read.
	tail     [maxAttrTail]byte
	tailLen  int
	tailOver bool
	quote    byte
	match    int  // bytes matched of what ends a comment, PI or CDATA, or of cdataOpen
	capture  bool // the handler takes the character data
	// A reference being read in captured data, from its '&'.
	ent    [maxEntity]byte
	entLen int
}

// stop ends the reading of the document.
func (r *xmlReader) stop() { r.state, r.capture = xStop, false }

// stopped reports whether the reader reads no more of the document.
func (r *xmlReader) stopped() bool { return r.state == xStop }

// code is the code of the element open at depth d (1 is the root);
// elOther beyond the codes kept.
func (r *xmlReader) code(d int) uint8 {
	if d < 1 || d > maxXMLDepth {
		return elOther
	}
	return r.path[d-1]
}

// under reports whether the open elements from the root are codes, in
// order.
func (r *xmlReader) under(codes ...uint8) bool {
	if r.depth < len(codes) {
		return false
	}
	for i, c := range codes {
		if r.code(i+1) != c {
			return false
		}
	}
	return true
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// feed reads the next bytes of the document.
func (r *xmlReader) feed(b []byte, h xmlHandler) {
	for i := 0; i < len(b) && r.state != xStop; i++ {
		c := b[i]
		switch r.state {
		case xStart:
			switch {
			case c == utf8BOM[r.match]:
				if r.match++; r.match == len(utf8BOM) {
					r.state, r.match = xText, 0
				}
			case r.match > 0:
				r.stop() // a byte order mark cut short
			default:
				r.state = xText
				i--
			}
		case xText:
			switch {
			case c == '<':
				r.flushEntity(h)
				r.state = xOpen
			case r.depth == 0:
				if !isXMLSpace(c) {
					r.stop() // character data outside the root: no XML document
				}
			case !r.capture:
				i = skipTo(b, i, '<') - 1
			default:
				r.textByte(c, h)
			}
		case xOpen:
			switch c {
			case '/':
				r.state = xEndName
			case '?':
				r.state, r.match = xPI, 0
			case '!':
				r.state, r.match = xBang, 0
			default:
				r.state, r.nameLen, r.nameOver = xStartName, 0, false
				i--
			}
		case xStartName:
			if isXMLSpace(c) || c == '/' || c == '>' {
				r.startElement(h)
				if r.state != xStop { // the handler may stop at the element
					r.state = xAttrs
					i--
				}
				continue
			}
			r.nameByte(c)
		case xEndName:
			if c == '>' {
				r.endElement(h)
				if r.state != xStop {
					r.state = xText
				}
			}
		case xAttrs:
			switch {
			case isXMLSpace(c):
			case c == '/':
				r.state = xEmpty
			case c == '>':
				r.state = xText
			default:
				r.state, r.nameLen, r.nameOver = xAttrName, 0, false
				i--
			}
		case xAttrName:
			switch {
			case c == '=':
				r.state = xAttrQuote
			case isXMLSpace(c):
				r.state = xAttrEq
			case c == '>' || c == '/':
				r.stop() // an attribute without a value
			default:
				r.nameByte(c)
			}
		case xAttrEq:
			switch {
			case isXMLSpace(c):
			case c == '=':
				r.state = xAttrQuote
			default:
				r.stop()
			}
		case xAttrQuote:
			switch {
			case isXMLSpace(c):
			case c == '"' || c == '\'':
				r.state, r.quote, r.tailLen, r.tailOver = xAttrValue, c, 0, false
			default:
				r.stop()
			}
		case xAttrValue:
			if c == r.quote {
				if !r.nameOver && !r.tailOver {
					h.attribute(r, r.name[:r.nameLen], r.tail[:r.tailLen])
				}
				r.state = xAttrs
				continue
			}
			r.tailByte(c)
		case xEmpty:
			if c != '>' {
				r.stop()
				continue
			}
			r.endElement(h)
			if r.state != xStop {
				r.state = xText
			}
		case xPI:
			if c == '>' && r.match == 1 {
				r.state = xText
				continue
			}
			r.match = 0
			if c == '?' {
				r.match = 1
			}
		case xBang:
			switch {
			case r.match == 0 && c == '-':
				r.state = xBangDash
			case c == cdataOpen[r.match]:
				r.match++
				if r.match == len(cdataOpen) {
					r.state, r.match = xCDATA, 0
				}
			default:
				r.stop() // a document type declaration, which SOAP forbids
			}
		case xBangDash:
			if c != '-' {
				r.stop()
				continue
			}
			r.state, r.match = xComment, 0
		case xComment:
			switch {
			case c == '-':
				r.match = min(r.match+1, 2)
			case c == '>' && r.match == 2:
				r.state = xText
			default:
				r.match = 0
			}
		case xCDATA:
			r.cdataByte(c, h)
		}
	}
}

// nameByte adds a byte of a name; a prefix ("wsse:") is dropped at its
// colon.
func (r *xmlReader) nameByte(c byte) {
	switch {
	case c == ':':
		r.nameLen, r.nameOver = 0, false
	case r.nameLen < len(r.name):
		r.name[r.nameLen] = c
		r.nameLen++
	default:
		r.nameOver = true
	}
}

// tailByte adds a byte of an attribute value, keeping its last segment.
func (r *xmlReader) tailByte(c byte) {
	switch {
	case c == '#' || c == '/' || c == ':':
		r.tailLen, r.tailOver = 0, false
	case r.tailLen < len(r.tail):
		r.tail[r.tailLen] = c
		r.tailLen++
	default:
		r.tailOver = true
	}
}

func (r *xmlReader) startElement(h xmlHandler) {
	r.capture = false
	r.depth++
	local := r.name[:r.nameLen]
	if r.nameOver {
		local = nil
	}
	if r.depth <= maxXMLDepth {
		r.path[r.depth-1] = elementCode(local)
	}
	h.open(r, local)
}

func (r *xmlReader) endElement(h xmlHandler) {
	if r.depth == 0 {
		r.stop() // more end tags than start tags
		return
	}
	h.close(r)
	r.capture = false
	r.depth--
}

// textByte hands a byte of captured character data on, decoding
// references.
func (r *xmlReader) textByte(c byte, h xmlHandler) {
	if r.entLen > 0 {
		switch {
		case c == ';':
			r.decodeEntity(h)
			return
		case c != '&' && !isXMLSpace(c) && r.entLen < len(r.ent):
			r.ent[r.entLen] = c
			r.entLen++
			return
		}
		r.flushEntity(h) // no reference: its bytes as they came
	}
	if c == '&' {
		r.ent[0], r.entLen = c, 1
		return
	}
	h.text(c)
}

// flushEntity hands on the bytes of an unfinished reference as they
// came.
func (r *xmlReader) flushEntity(h xmlHandler) {
	for _, c := range r.ent[:r.entLen] {
		h.text(c)
	}
	clear(r.ent[:r.entLen])
	r.entLen = 0
}

// decodeEntity hands on what the reference in ent, ended by ';', stands
// for; an unknown one as it came.
func (r *xmlReader) decodeEntity(h xmlHandler) {
	ru, ok := inspect.XMLReference(r.ent[1:r.entLen])
	if !ok {
		r.flushEntity(h)
		h.text(';')
		return
	}
	clear(r.ent[:r.entLen])
	r.entLen = 0
	var enc [utf8.UTFMax]byte
	for _, c := range enc[:utf8.EncodeRune(enc[:], ru)] {
		h.text(c)
	}
}

// cdataByte reads a byte of a CDATA section: its content is character
// data as it stands, up to "]]>".
func (r *xmlReader) cdataByte(c byte, h xmlHandler) {
	switch {
	case c == ']' && r.match < 2:
		r.match++
		return
	case c == ']':
		// "]]]": the first is content.
		if r.capture {
			h.text(']')
		}
		return
	case c == '>' && r.match == 2:
		r.state, r.match = xText, 0
		return
	}
	if r.capture {
		for range r.match {
			h.text(']')
		}
		h.text(c)
	}
	r.match = 0
}
