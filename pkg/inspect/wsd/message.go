package wsd

import "bytes"

type kind uint8

const (
	kindHello kind = iota + 1
	kindBye
	kindProbe
	kindProbeMatches
	kindResolve
	kindResolveMatches
)

// actions are the last segments of the wsa:Action URIs, in kind order.
var actions = [...]string{
	kindHello:          "Hello",
	kindBye:            "Bye",
	kindProbe:          "Probe",
	kindProbeMatches:   "ProbeMatches",
	kindResolve:        "Resolve",
	kindResolveMatches: "ResolveMatches",
}

var kindNames = [...]string{
	kindHello:          "hello",
	kindBye:            "bye",
	kindProbe:          "probe",
	kindProbeMatches:   "probe_matches",
	kindResolve:        "resolve",
	kindResolveMatches: "resolve_matches",
}

func (k kind) String() string { return kindNames[k] }

// The namespaces of the Action URIs: the 2005/04 draft (ONVIF, Windows)
// and OASIS WS-Discovery 1.1.
var namespaces = [...]string{
	"http://schemas.xmlsoap.org/ws/2005/04/discovery/",
	"http://docs.oasis-open.org/ws-dd/ns/discovery/2009/01/",
}

// actionKind is the message an Action URI names, or 0.
func actionKind(action []byte) kind {
	for _, ns := range namespaces {
		rest, ok := bytes.CutPrefix(action, []byte(ns))
		if !ok {
			continue
		}
		for k := kindHello; k <= kindResolveMatches; k++ {
			if string(rest) == actions[k] {
				return k
			}
		}
	}
	return 0
}

// message is a parsed WS-Discovery datagram; its slices point into the
// datagram, raw: entities not decoded, white space not folded. A
// ProbeMatches or ResolveMatches has a match for each ProbeMatch or
// ResolveMatch, up to maxMatches; any other message has one, its Body.
type message struct {
	kind    kind
	matches [maxMatches]match
	n       int // matches read
}

// match is what a message says of one endpoint.
type match struct {
	endpoint []byte // wsa:EndpointReference/wsa:Address
	types    []byte // QNames, white space separated
	scopes   []byte // URIs, white space separated
	xaddrs   []byte // URLs, white space separated
}

// maxMatches bounds the matches read of a ProbeMatches or
// ResolveMatches: a host answers with one for each service it hosts
// that the Probe asked for.
const maxMatches = 8

// maxTags bounds the tags read from one datagram: a Hello has about
// thirty, a ProbeMatches about fifteen more for each match after the
// first.
const maxTags = 256

// parse reads a WS-Discovery SOAP envelope into m without allocating. It
// reports false for anything else: the first element must be an
// Envelope, and a header Action must name a WS-Discovery message.
// Elements are matched by local name, whatever their prefix; the first
// of each in a match wins. It reads no further than the end of the Body,
// the match after maxMatches, or maxTags tags.
func parse(b []byte, m *message) bool {
	*m = message{}
	s := scanner{b: b}
	inBody, matches := false, 0
	for i := range maxTags {
		t, ok := s.next()
		if !ok {
			break
		}
		if i == 0 {
			if t.end || !t.is("Envelope") {
				return false
			}
			continue
		}
		if t.end {
			if t.is("Body") {
				break
			}
			continue
		}
		var dst *[]byte
		// What comes before the first match counts as the first's.
		cur := &m.matches[max(matches, 1)-1]
		switch {
		case !inBody && t.is("Action"):
			if m.kind == 0 {
				m.kind = actionKind(s.text(t))
			}
		case t.is("Body"):
			inBody = true
		case !inBody:
		case t.is("ProbeMatch") || t.is("ResolveMatch"):
			matches++
		case t.is("Address"):
			dst = &cur.endpoint
		case t.is("Types"):
			dst = &cur.types
		case t.is("Scopes"):
			dst = &cur.scopes
		case t.is("XAddrs"):
			dst = &cur.xaddrs
		}
		if matches > maxMatches {
			break
		}
		if dst != nil && *dst == nil {
			*dst = s.text(t)
		}
	}
	m.n = min(max(matches, 1), maxMatches)
	return m.kind != 0
}

// scanner walks the tags of an XML document. It knows what WS-Discovery
// needs: start and end tags, attributes skipped (quoted values may hold
// '>'), comments, CDATA sections, processing instructions and
// declarations stepped over.
type scanner struct {
	b   []byte
	pos int
}

type tag struct {
	local       []byte // the name after its prefix
	end         bool   // </x>
	selfClosing bool   // <x/>
}

// is reports whether t's local name is name. The conversion is only
// compared, so it never allocates, whatever the name's length; a string
// kept in a variable would for a name longer than 32 bytes.
func (t tag) is(name string) bool { return string(t.local) == name }

func (s *scanner) next() (tag, bool) {
	for {
		i := bytes.IndexByte(s.b[s.pos:], '<')
		if i < 0 {
			return tag{}, false
		}
		s.pos += i + 1
		rest := s.b[s.pos:]
		if skip, ok := markup(rest); ok {
			if skip < 0 {
				return tag{}, false
			}
			s.pos += skip
			continue
		}
		var t tag
		if len(rest) > 0 && rest[0] == '/' {
			t.end = true
			rest = rest[1:]
		}
		n := bytes.IndexAny(rest, " \t\r\n/>")
		if n <= 0 {
			return tag{}, false
		}
		t.local = rest[:n]
		if c := bytes.LastIndexByte(t.local, ':'); c >= 0 {
			t.local = t.local[c+1:]
		}
		closing := tagEnd(rest[n:])
		if closing < 0 {
			return tag{}, false
		}
		closing += n
		t.selfClosing = !t.end && rest[closing-1] == '/'
		s.pos += len(s.b[s.pos:]) - len(rest) + closing + 1
		return t, true
	}
}

// markup reports whether b, just after a '<', opens a comment, a CDATA
// section, a processing instruction or a declaration, and how many bytes
// it spans with its end; -1 when it does not end.
func markup(b []byte) (int, bool) {
	var end string
	switch {
	case bytes.HasPrefix(b, []byte("!--")):
		end = "-->"
	case bytes.HasPrefix(b, []byte("![CDATA[")):
		end = "]]>"
	case bytes.HasPrefix(b, []byte("?")):
		end = "?>"
	case bytes.HasPrefix(b, []byte("!")):
		end = ">"
	default:
		return 0, false
	}
	i := bytes.Index(b[1:], []byte(end))
	if i < 0 {
		return -1, true
	}
	return 1 + i + len(end), true
}

// tagEnd is the index of the '>' that ends a tag whose name was read, or
// -1: a '>' inside a quoted attribute value does not end it.
func tagEnd(b []byte) int {
	var quote byte
	for i, c := range b {
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		}
	}
	return -1
}

// text is the character data right after start tag t, up to the next
// markup, trimmed; nil for an empty element. Where the datagram ends
// first (a capture's snaplen cut it), only the items before the last
// white space: the last one may be cut short.
func (s *scanner) text(t tag) []byte {
	if t.selfClosing {
		return nil
	}
	rest := s.b[s.pos:]
	end := bytes.IndexByte(rest, '<')
	if end < 0 {
		end = max(bytes.LastIndexAny(rest, " \t\r\n"), 0)
	}
	return bytes.TrimSpace(rest[:end])
}
